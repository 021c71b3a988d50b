/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A download's output file (engine/http/out.c): the same bytes on a disk
 * filesystem (/tmp here: O_DIRECT with native AIO) and on tmpfs (/dev/shm:
 * direct where the kernel offers it there, else write(2)); written in pieces of odd sizes that
 * cross buffer boundaries, with a tail that is not a multiple of the block
 * size, and an abandoned file left without its tail.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../engine/http/http_internal.h"

static uint8_t *
pattern(size_t n, uint32_t seed)
{
	uint8_t *b = malloc(n);

	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
	return b;
}

static void
write_pieces(struct qb_http_out *o, const uint8_t *d, size_t n)
{
	static const size_t sizes[] = {1, 1350, 4095, 65536, 7, 262144, 300001, 12};
	size_t off = 0;

	for (unsigned int k = 0; off < n; k++) {
		size_t len = sizes[k % 8];
		if (len > n - off)
			len = n - off;
		cr_assert_eq(qb_http_out_write(o, d + off, len), 0);
		off += len;
	}
}

static void
check_file(const char *name, const uint8_t *d, size_t n)
{
	struct stat st;
	int fd = open(name, O_RDONLY);

	cr_assert_geq(fd, 0, "%s", name);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq((size_t)st.st_size, n, "%s: %ld bytes of %zu", name, (long)st.st_size, n);
	uint8_t *got = malloc(n + 1);
	cr_assert_not_null(got);
	size_t have = 0;
	while (have < n) {
		ssize_t r = read(fd, got + have, n - have);
		cr_assert_gt(r, 0);
		have += (size_t)r;
	}
	cr_assert_eq(memcmp(got, d, n), 0, "%s: contents differ", name);
	free(got);
	close(fd);
}

static void
round_trip(const char *dir, size_t n)
{
	char tmpl[128], name[160];
	int err = 0;

	snprintf(tmpl, sizeof(tmpl), "%s/qb_out_XXXXXX", dir);
	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp in %s", dir);
	snprintf(name, sizeof(name), "%s/f", tmpl);
	uint8_t *d = pattern(n, (uint32_t)n);
	struct qb_http_out *o = qb_http_out_open(name, &err);
	cr_assert_not_null(o, "open %s: %d", name, err);
	write_pieces(o, d, n);
	cr_assert_eq(qb_http_out_close(o, true), 0);
	check_file(name, d, n);
	unlink(name);
	rmdir(tmpl);
	free(d);
}

Test(http_out, disk_direct_and_aio)
{
	round_trip("/tmp", 5u * 1000 * 1000 + 3);
	round_trip("/tmp", 4096);
	round_trip("/tmp", 1);
	round_trip("/tmp", 0);
}

Test(http_out, tmpfs_write)
{
	struct stat st;

	cr_assert_eq(stat("/dev/shm", &st), 0, "this test needs /dev/shm (tmpfs)");
	round_trip("/dev/shm", 3u * 1000 * 1000 + 17);
	round_trip("/dev/shm", 0);
}

/* Abandoned (keep = false): whatever went out, never more than was written. */
Test(http_out, abandon)
{
	char tmpl[] = "/tmp/qb_out_XXXXXX", name[64];
	struct stat st;
	int err = 0;

	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(name, sizeof(name), "%s/f", tmpl);
	uint8_t *d = pattern(1000000, 7);
	struct qb_http_out *o = qb_http_out_open(name, &err);
	cr_assert_not_null(o);
	write_pieces(o, d, 1000000);
	cr_assert_eq(qb_http_out_close(o, false), 0);
	cr_assert_eq(stat(name, &st), 0);
	cr_assert_leq(st.st_size, 1000000);
	unlink(name);
	rmdir(tmpl);
	free(d);
}

Test(http_out, open_fails_with_errno)
{
	int err = 0;

	cr_assert_null(qb_http_out_open("/nonexistent-dir/x/f", &err));
	cr_assert_eq(err, ENOENT);
}
