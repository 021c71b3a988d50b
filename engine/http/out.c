/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A download's output file. Written through the page cache, a file costs
 * the client a kernel copy plus page allocation and zeroing per byte: more
 * CPU than the whole QUIC receive path (doc/performance.md, "Goodput per
 * core"). Where the filesystem takes O_DIRECT, the body is gathered in a
 * few aligned buffers instead and each full buffer goes to the disk by
 * Linux native AIO (io_submit, raw syscalls: no library), so the worker
 * neither copies in the kernel nor blocks on the disk; it waits only when
 * every buffer is still in flight (the disk is slower than the network),
 * and at the end for the tail. The tail is written padded to the block
 * size and the file truncated to its true length. Where O_DIRECT or an
 * AIO context cannot be had, write(2) as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

/* Buffers per file and their size: 8 x 256 KiB keeps a disk of ~1.5 GB/s
 * (what O_DIRECT reaches here) busy while the network fills the next, and
 * small enough to stay warm in cache between uses. */
#define OUT_NBUF  8
#define OUT_BUF   (256u << 10)
/* O_DIRECT alignment of offsets, lengths and memory (a page: safe for any
 * logical block size up to it). */
#define OUT_ALIGN 4096u

struct qb_http_out {
	int fd;
	bool direct;
	aio_context_t ctx;
	uint64_t size;  /* bytes written so far (file offset of the next) */
	uint64_t based; /* file offset of bufs[cur][0] */
	size_t fill;    /* bytes in bufs[cur] */
	unsigned int cur;
	bool busy[OUT_NBUF];
	struct iocb cb[OUT_NBUF];
	uint8_t *bufs[OUT_NBUF]; /* allocated on first use */
	int err;                 /* first asynchronous write error (positive errno) */
};

static long
aio_setup(unsigned int n, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, n, ctx);
}

static long
aio_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long
aio_submit(aio_context_t ctx, long n, struct iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, n, cbs);
}

static long
aio_getevents(aio_context_t ctx, long min, long max, struct io_event *ev, struct timespec *t)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, t);
}

struct qb_http_out *
qb_http_out_open(const char *name, int *err)
{
	struct qb_http_out *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	o->fd = -1;
	if (aio_setup(OUT_NBUF, &o->ctx) == 0) {
		o->fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
		o->direct = o->fd >= 0;
		if (!o->direct) {
			aio_destroy(o->ctx);
			o->ctx = 0;
		}
	}
	if (o->fd < 0)
		o->fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		*err = errno;
		free(o);
		return NULL;
	}
	return o;
}

/* Takes completions: at least min of them (blocking), and any others done. */
static void
out_reap(struct qb_http_out *o, long min)
{
	struct io_event ev[OUT_NBUF];
	struct timespec zero = {0, 0};
	long n;

	do
		n = aio_getevents(o->ctx, min, OUT_NBUF, ev, min > 0 ? NULL : &zero);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (o->err == 0)
			o->err = errno;
		/* Nothing can be known of them: do not wait for them again. */
		memset(o->busy, 0, sizeof(o->busy));
		return;
	}
	for (long i = 0; i < n; i++) {
		unsigned int k = (unsigned int)ev[i].data;

		if (k >= OUT_NBUF)
			continue;
		o->busy[k] = false;
		if ((int64_t)ev[i].res != (int64_t)o->cb[k].aio_nbytes && o->err == 0)
			o->err = (int64_t)ev[i].res < 0 ? (int)-(int64_t)ev[i].res : EIO;
	}
}

static bool
out_any_busy(const struct qb_http_out *o)
{
	for (unsigned int k = 0; k < OUT_NBUF; k++)
		if (o->busy[k])
			return true;
	return false;
}

/*
 * The filesystem opened the file with O_DIRECT but refuses the first
 * direct write (its alignment is not ours): go on with write(2), starting
 * with what the buffer holds.
 */
static int
out_fallback(struct qb_http_out *o)
{
	int fl = fcntl(o->fd, F_GETFL);
	const uint8_t *d = o->bufs[o->cur];
	size_t len = (size_t)(o->size - o->based);

	if (fl < 0 || fcntl(o->fd, F_SETFL, fl & ~O_DIRECT) != 0)
		return errno;
	aio_destroy(o->ctx);
	o->ctx = 0;
	o->direct = false;
	o->fill = 0;
	while (len > 0) {
		ssize_t w = write(o->fd, d, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno : EIO;
		d += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Sends bufs[cur] (len bytes, a multiple of OUT_ALIGN) and moves to the next buffer. */
static int
out_submit(struct qb_http_out *o, size_t len)
{
	unsigned int k = o->cur;
	struct iocb *p = &o->cb[k];

	memset(p, 0, sizeof(*p));
	p->aio_data = k;
	p->aio_lio_opcode = IOCB_CMD_PWRITE;
	p->aio_fildes = (uint32_t)o->fd;
	p->aio_buf = (uint64_t)(uintptr_t)o->bufs[k];
	p->aio_nbytes = len;
	p->aio_offset = (int64_t)o->based;
	long n;
	do
		n = aio_submit(o->ctx, 1, &p);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EINVAL && o->based == 0 && !out_any_busy(o))
		return out_fallback(o);
	if (n != 1)
		return n < 0 ? errno : EIO;
	o->busy[k] = true;
	o->based += len;
	o->fill = 0;
	o->cur = (k + 1) % OUT_NBUF;
	return 0;
}

/* Makes bufs[cur] free and allocated. */
static int
out_ready(struct qb_http_out *o)
{
	if (o->busy[o->cur])
		out_reap(o, 0);
	while (o->busy[o->cur] && o->err == 0)
		out_reap(o, 1);
	if (o->err != 0)
		return o->err;
	if (o->bufs[o->cur] == NULL) {
		void *p = NULL;
		if (posix_memalign(&p, OUT_ALIGN, OUT_BUF) != 0)
			return ENOMEM;
		o->bufs[o->cur] = p;
	}
	return 0;
}

int
qb_http_out_write(struct qb_http_out *o, const uint8_t *data, size_t len)
{
	if (!o->direct) {
		while (len > 0) {
			ssize_t w = write(o->fd, data, len);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? errno : EIO;
			data += w;
			len -= (size_t)w;
			o->size += (uint64_t)w;
		}
		return 0;
	}
	while (len > 0) {
		int rc = out_ready(o);
		if (rc != 0)
			return rc;
		size_t n = OUT_BUF - o->fill;
		if (n > len)
			n = len;
		memcpy(o->bufs[o->cur] + o->fill, data, n);
		o->fill += n;
		o->size += n;
		data += n;
		len -= n;
		if (o->fill == OUT_BUF && (rc = out_submit(o, OUT_BUF)) != 0)
			return rc;
	}
	return o->err;
}

int
qb_http_out_close(struct qb_http_out *o, bool keep)
{
	int rc = 0;

	if (o == NULL)
		return 0;
	if (o->direct) {
		if (keep && o->fill > 0 && (rc = out_ready(o)) == 0) {
			/* The tail, padded to the block size; the file is cut back below. */
			size_t len = (o->fill + OUT_ALIGN - 1) & ~(size_t)(OUT_ALIGN - 1);
			memset(o->bufs[o->cur] + o->fill, 0, len - o->fill);
			rc = out_submit(o, len);
		}
		while (out_any_busy(o))
			out_reap(o, 1);
		if (rc == 0)
			rc = o->err;
		if (keep && rc == 0 && ftruncate(o->fd, (off_t)o->size) != 0)
			rc = errno;
		aio_destroy(o->ctx);
	}
	if (close(o->fd) != 0 && rc == 0 && keep)
		rc = errno;
	for (unsigned int k = 0; k < OUT_NBUF; k++)
		free(o->bufs[k]);
	free(o);
	return rc;
}
