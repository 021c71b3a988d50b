/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The qlog writer: a bounded buffer of JSON-SEQ records (RFC 7464 §2: 0x1E,
 * a JSON text, 0x0A) handed to the caller's sink when it fills, on flush and
 * at the end. JSON (RFC 8259) is written directly: commas placed from a
 * per-depth bit, strings escaped (§7) and kept valid UTF-8, integers as
 * integers; times in ms with a microsecond fraction.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qburst/error.h"
#include "qlog/qlog_internal.h"

/* The event schema of the draft in /work/shared/reference (draft 13 of
 * quic-events: a draft implementation appends "-13", its §2.1). */
#define QLOG_EVENT_SCHEMA "urn:ietf:params:qlog:events:quic-13"

static void
copy_name(char *dst, const char *src)
{
	dst[0] = 0;
	if (src != NULL) {
		strncpy(dst, src, QLOG_NAME_MAX - 1);
		dst[QLOG_NAME_MAX - 1] = 0;
	}
}

struct qb_qlog *
qb_qlog_new(const struct qb_qlog_config *cfg)
{
	if (cfg == NULL || cfg->sink.write == NULL)
		return NULL;
	struct qb_qlog *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->cap = cfg->buf_size == 0 ? QB_QLOG_BUF_DEFAULT : cfg->buf_size;
	if (q->cap < QB_QLOG_BUF_MIN)
		q->cap = QB_QLOG_BUF_MIN;
	q->buf = malloc(q->cap);
	if (q->buf == NULL) {
		free(q);
		return NULL;
	}
	q->sink = cfg->sink;
	q->wall_ns = cfg->wall_clock_ns;
	copy_name(q->title, cfg->title);
	copy_name(q->vname, cfg->vantage_name);
	return q;
}

void
qb_qlog_free(struct qb_qlog *q)
{
	if (q == NULL)
		return;
	qb_qlog_flush(q);
	free(q->buf);
	free(q);
}

int
qb_qlog_flush(struct qb_qlog *q)
{
	if (q->len == 0)
		return 0;
	size_t n = q->sink.write(q->sink.arg, q->buf, q->len);
	q->st.flushes++;
	q->st.bytes += n < q->len ? n : q->len;
	int rc = 0;
	if (n < q->len) {
		q->st.bytes_lost += q->len - n;
		rc = QB_ERR_NOBUF;
	}
	q->len = 0;
	q->rec_start = 0;
	return rc;
}

void
qb_qlog_request_flush(struct qb_qlog *q)
{
	atomic_store_explicit(&q->flush_req, true, memory_order_release);
}

const char *
qb_qlog_odcid_hex(const struct qb_qlog *q)
{
	return q->odcid_hex;
}

void
qb_qlog_stats(const struct qb_qlog *q, struct qb_qlog_stats *out)
{
	*out = q->st;
}

/* ---- Raw output ------------------------------------------------------------ */

static void
put(struct qb_qlog *q, const void *s, size_t n)
{
	if (q->overflow || n > q->cap - q->len) {
		q->overflow = true;
		return;
	}
	memcpy(q->buf + q->len, s, n);
	q->len += n;
}

static void
puts_(struct qb_qlog *q, const char *s)
{
	put(q, s, strlen(s));
}

static void
put_u64(struct qb_qlog *q, uint64_t v)
{
	char t[20];
	size_t i = sizeof(t);
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(q, t + i, sizeof(t) - i);
}

/* ns as milliseconds: "12", "12.5", "0.001" (microsecond resolution). */
static void
put_ms(struct qb_qlog *q, uint64_t ns)
{
	uint64_t us = ns / 1000;
	put_u64(q, us / 1000);
	unsigned frac = (unsigned)(us % 1000);
	if (frac == 0)
		return;
	char t[4] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
	             (char)('0' + frac % 10)};
	size_t n = 4;
	while (t[n - 1] == '0')
		n--;
	put(q, t, n);
}

/* Bytes of a well-formed UTF-8 sequence at s (RFC 3629 §4), 0 if none. */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* A JSON string (RFC 8259 §7); bytes that are not UTF-8 become \u00XX. */
static void
put_jstr(struct qb_qlog *q, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)s;

	put(q, "\"", 1);
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t run = i;
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		if (run > i) {
			put(q, p + i, run - i);
			i = run;
			continue;
		}
		if (c >= 0x80) {
			size_t u = utf8_len(p + i, n - i);
			if (u != 0) {
				put(q, p + i, u);
				i += u;
				continue;
			}
		}
		char e[6] = {'\\', 0, 0, 0, 0, 0};
		size_t el = 2;
		switch (c) {
		case '"':
			e[1] = '"';
			break;
		case '\\':
			e[1] = '\\';
			break;
		case '\n':
			e[1] = 'n';
			break;
		case '\r':
			e[1] = 'r';
			break;
		case '\t':
			e[1] = 't';
			break;
		case '\b':
			e[1] = 'b';
			break;
		case '\f':
			e[1] = 'f';
			break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			el = 6;
		}
		put(q, e, el);
		i++;
	}
	put(q, "\"", 1);
}

static void
put_hexbytes(struct qb_qlog *q, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(q, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		char t[2] = {hex[b[i] >> 4], hex[b[i] & 15]};
		put(q, t, 2);
	}
	put(q, "\"", 1);
}

/* The comma before a member or element, and its key. */
static void
member(struct qb_qlog *q, const char *key)
{
	uint64_t bit = 1ull << q->depth;
	if (q->nonempty & bit)
		put(q, ",", 1);
	q->nonempty |= bit;
	if (key != NULL) {
		put(q, "\"", 1);
		puts_(q, key);
		put(q, "\":", 2);
	}
}

static void
open_(struct qb_qlog *q, const char *key, char ch)
{
	member(q, key);
	put(q, &ch, 1);
	if (q->depth + 1 >= QLOG_MAX_DEPTH) {
		q->overflow = true;
		return;
	}
	q->depth++;
	q->nonempty &= ~(1ull << q->depth);
}

static void
close_(struct qb_qlog *q, char ch)
{
	put(q, &ch, 1);
	if (q->depth > 0)
		q->depth--;
}

void
qb_qlog_obj_open(struct qb_qlog *q, const char *key)
{
	open_(q, key, '{');
}

void
qb_qlog_obj_close(struct qb_qlog *q)
{
	close_(q, '}');
}

void
qb_qlog_arr_open(struct qb_qlog *q, const char *key)
{
	open_(q, key, '[');
}

void
qb_qlog_arr_close(struct qb_qlog *q)
{
	close_(q, ']');
}

void
qb_qlog_arr_u64(struct qb_qlog *q, uint64_t v)
{
	member(q, NULL);
	put_u64(q, v);
}

void
qb_qlog_u64(struct qb_qlog *q, const char *key, uint64_t v)
{
	member(q, key);
	put_u64(q, v);
}

void
qb_qlog_bool(struct qb_qlog *q, const char *key, bool v)
{
	member(q, key);
	puts_(q, v ? "true" : "false");
}

void
qb_qlog_strn(struct qb_qlog *q, const char *key, const char *s, size_t len)
{
	member(q, key);
	put_jstr(q, s, len);
}

void
qb_qlog_str(struct qb_qlog *q, const char *key, const char *s)
{
	qb_qlog_strn(q, key, s, strlen(s));
}

void
qb_qlog_hex(struct qb_qlog *q, const char *key, const uint8_t *b, size_t len)
{
	member(q, key);
	put_hexbytes(q, b, len);
}

void
qb_qlog_ms(struct qb_qlog *q, const char *key, uint64_t ns)
{
	member(q, key);
	put_ms(q, ns);
}

/* ---- Records --------------------------------------------------------------- */

static void
record_begin(struct qb_qlog *q)
{
	if (q->cap - q->len < QLOG_RESERVE)
		qb_qlog_flush(q);
	q->rec_start = q->len;
	q->overflow = false;
	q->depth = 0;
	q->nonempty = 0;
	put(q, "\x1e", 1);
}

static void
record_end(struct qb_qlog *q)
{
	put(q, "\n", 1);
	if (q->overflow) {
		/* Too large even for a fresh buffer: dropped whole, the file stays valid. */
		q->len = q->rec_start;
		q->overflow = false;
		q->st.events_dropped++;
		return;
	}
	q->st.events++;
	if (q->cap - q->len < QLOG_RESERVE)
		qb_qlog_flush(q);
}

/* RFC 3339 UTC from Unix ns: 2026-11-25T14:50:00.123Z. */
static void
put_rfc3339(struct qb_qlog *q, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char b[40];
	if (gmtime_r(&t, &tm) == NULL || strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		puts_(q, "\"unknown\"");
		return;
	}
	unsigned ms = (unsigned)(ns / 1000000ull % 1000);
	size_t n = strlen(b);
	b[n++] = '.';
	b[n++] = (char)('0' + ms / 100);
	b[n++] = (char)('0' + ms / 10 % 10);
	b[n++] = (char)('0' + ms % 10);
	b[n++] = 'Z';
	put_jstr(q, b, n);
}

void
qb_qlog_trace_begin(struct qb_qlog *q, bool is_server, const uint8_t *odcid, size_t odcid_len,
                    uint64_t now)
{
	static const char hex[] = "0123456789abcdef";

	if (odcid_len > 20)
		odcid_len = 20;
	for (size_t i = 0; i < odcid_len; i++) {
		q->odcid_hex[2 * i] = hex[odcid[i] >> 4];
		q->odcid_hex[2 * i + 1] = hex[odcid[i] & 15];
	}
	q->odcid_hex[2 * odcid_len] = 0;
	q->ref = now;
	q->now = now;
	q->started = true;

	/* Main schema §5 (QlogFileSeq), §5.1 (TraceSeq), §6, §7.1. */
	record_begin(q);
	qb_qlog_obj_open(q, NULL);
	qb_qlog_str(q, "file_schema", "urn:ietf:params:qlog:file:sequential");
	qb_qlog_str(q, "serialization_format", "application/qlog+json-seq");
	if (q->title[0])
		qb_qlog_str(q, "title", q->title);
	qb_qlog_obj_open(q, "trace");
	qb_qlog_obj_open(q, "common_fields");
	/* The ODCID per the main schema's trace example; group_id (§7.3) too. */
	qb_qlog_str(q, "ODCID", q->odcid_hex);
	qb_qlog_str(q, "group_id", q->odcid_hex);
	qb_qlog_str(q, "time_format", "relative_to_epoch");
	qb_qlog_obj_open(q, "reference_time");
	qb_qlog_str(q, "clock_type", "monotonic");
	qb_qlog_str(q, "epoch", "unknown");
	if (q->wall_ns != 0) {
		member(q, "wall_clock_time");
		put_rfc3339(q, q->wall_ns);
	}
	qb_qlog_obj_close(q);
	qb_qlog_obj_close(q);
	qb_qlog_obj_open(q, "vantage_point");
	if (q->vname[0])
		qb_qlog_str(q, "name", q->vname);
	qb_qlog_str(q, "type", is_server ? "server" : "client");
	qb_qlog_obj_close(q);
	qb_qlog_arr_open(q, "event_schemas");
	member(q, NULL);
	put_jstr(q, QLOG_EVENT_SCHEMA, strlen(QLOG_EVENT_SCHEMA));
	qb_qlog_arr_close(q);
	qb_qlog_obj_close(q);
	qb_qlog_obj_close(q);
	record_end(q);
}

void
qb_qlog_event_begin(struct qb_qlog *q, uint64_t now, const char *name)
{
	q->now = now;
	record_begin(q);
	qb_qlog_obj_open(q, NULL);
	qb_qlog_ms(q, "time", now > q->ref ? now - q->ref : 0);
	member(q, "name");
	put(q, "\"quic:", 6);
	puts_(q, name);
	put(q, "\"", 1);
	qb_qlog_obj_open(q, "data");
}

void
qb_qlog_event_end(struct qb_qlog *q)
{
	qb_qlog_obj_close(q);
	qb_qlog_obj_close(q);
	record_end(q);
}
