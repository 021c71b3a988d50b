/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * qlog: the writer's bytes for a header and a few events (exact), JSON string
 * escaping, times, buffer overflow and flushing; then a handshake and a small
 * transfer between two connections with qlog on both, whose files are
 * checked here (records, structure, counts) and by check_qlog.py (every
 * record through json.loads, fields, packet numbers). And qlog off: nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../conn/harness.h"
#include "qburst/crypto.h"
#include "qburst/qlog.h"

/* ---- A memory sink ----------------------------------------------------------- */

struct msink {
	char buf[1 << 20];
	size_t len;
	unsigned calls;
	size_t refuse_after; /* 0: take everything */
};

static size_t
msink_write(void *arg, const void *b, size_t len)
{
	struct msink *m = arg;
	m->calls++;
	size_t n = len;
	if (m->refuse_after && m->len + n > m->refuse_after)
		n = m->refuse_after > m->len ? m->refuse_after - m->len : 0;
	cr_assert_leq(m->len + n, sizeof(m->buf));
	memcpy(m->buf + m->len, b, n);
	m->len += n;
	return n;
}

static struct qb_qlog *
mq(struct msink *m, uint64_t wall)
{
	memset(m, 0, sizeof(*m));
	struct qb_qlog_config k = {
	        .sink = {msink_write, m},
	        .wall_clock_ns = wall,
	};
	struct qb_qlog *q = qb_qlog_new(&k);
	cr_assert_not_null(q);
	return q;
}

static void
expect_bytes(const struct msink *m, const char *want)
{
	size_t wl = strlen(want);
	cr_assert_eq(m->len, wl, "length %zu, want %zu:\n%.*s", m->len, wl, (int)m->len, m->buf);
	cr_assert(memcmp(m->buf, want, wl) == 0, "got:\n%.*s\nwant:\n%s", (int)m->len, m->buf,
	          want);
}

static const uint8_t odcid[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

#define HDR_CLIENT                                                                                \
	"\x1e{\"file_schema\":\"urn:ietf:params:qlog:file:sequential\","                          \
	"\"serialization_format\":\"application/qlog+json-seq\",\"trace\":{\"common_fields\":{"   \
	"\"ODCID\":\"8394c8f03e515708\",\"group_id\":\"8394c8f03e515708\","                       \
	"\"time_format\":\"relative_to_epoch\",\"reference_time\":{\"clock_type\":\"monotonic\"," \
	"\"epoch\":\"unknown\"}},\"vantage_point\":{\"type\":\"client\"},"                        \
	"\"event_schemas\":[\"urn:ietf:params:qlog:events:quic-13\"]}}\n"

Test(qlog, header_exact)
{
	struct msink m;
	struct qb_qlog *q = mq(&m, 0);

	qb_qlog_trace_begin(q, false, odcid, sizeof(odcid), 5000);
	cr_assert_eq(m.calls, 0, "buffered, not written");
	cr_assert_str_eq(qb_qlog_odcid_hex(q), "8394c8f03e515708");
	cr_assert_eq(qb_qlog_flush(q), 0);
	expect_bytes(&m, HDR_CLIENT);
	qb_qlog_free(q);
}

Test(qlog, header_server_wall_clock)
{
	struct msink m;
	struct qb_qlog *q = mq(&m, 1764082200123456789ull); /* 2025-11-25T14:50:00.123Z */

	qb_qlog_trace_begin(q, true, odcid, 4, 0);
	qb_qlog_free(q); /* flushes */
	m.buf[m.len] = 0;
	cr_assert_not_null(strstr(m.buf, "\"ODCID\":\"8394c8f0\""));
	cr_assert_not_null(strstr(m.buf, "\"wall_clock_time\":\"2025-11-25T14:50:00.123Z\"}"));
	cr_assert_not_null(strstr(m.buf, "\"vantage_point\":{\"type\":\"server\"}"));
}

Test(qlog, events_exact)
{
	struct msink m;
	struct qb_qlog *q = mq(&m, 0);
	const uint64_t ref = 7000000000ull;

	qb_qlog_trace_begin(q, false, odcid, sizeof(odcid), ref);
	qb_qlog_flush(q);
	m.len = 0;

	/* A packet_sent as the connection writes one (ACK + STREAM + PADDING). */
	qb_qlog_event_begin(q, ref + 12345678, "packet_sent");
	qb_qlog_obj_open(q, "header");
	qb_qlog_str(q, "packet_type", "1RTT");
	qb_qlog_u64(q, "packet_number", 18446744073709551615ull);
	qb_qlog_hex(q, "dcid", odcid, 2);
	qb_qlog_obj_close(q);
	qb_qlog_arr_open(q, "frames");
	qb_qlog_obj_open(q, NULL);
	qb_qlog_str(q, "frame_type", "ack");
	qb_qlog_ms(q, "ack_delay", 0);
	qb_qlog_arr_open(q, "acked_ranges");
	qb_qlog_arr_open(q, NULL);
	qb_qlog_arr_u64(q, 0);
	qb_qlog_arr_u64(q, 4);
	qb_qlog_arr_close(q);
	qb_qlog_arr_open(q, NULL);
	qb_qlog_arr_u64(q, 7);
	qb_qlog_arr_close(q);
	qb_qlog_arr_close(q);
	qb_qlog_obj_close(q);
	qb_qlog_obj_open(q, NULL);
	qb_qlog_str(q, "frame_type", "stream");
	qb_qlog_bool(q, "fin", true);
	qb_qlog_obj_close(q);
	qb_qlog_arr_close(q);
	qb_qlog_event_end(q);
	/* Times: whole ms, a fraction trimmed, a microsecond, before the reference. */
	qb_qlog_event_begin(q, ref, "a");
	qb_qlog_ms(q, "x", 2500000);
	qb_qlog_ms(q, "y", 1000);
	qb_qlog_ms(q, "z", 999);
	qb_qlog_event_end(q);
	qb_qlog_event_begin(q, ref - 1, "b");
	qb_qlog_event_end(q);
	qb_qlog_flush(q);
	expect_bytes(&m,
	             "\x1e{\"time\":12.345,\"name\":\"quic:packet_sent\",\"data\":{\"header\":{"
	             "\"packet_type\":\"1RTT\",\"packet_number\":18446744073709551615,"
	             "\"dcid\":\"8394\"},\"frames\":[{\"frame_type\":\"ack\",\"ack_delay\":0,"
	             "\"acked_ranges\":[[0,4],[7]]},{\"frame_type\":\"stream\",\"fin\":true}]}}\n"
	             "\x1e{\"time\":0,\"name\":\"quic:a\",\"data\":{\"x\":2.5,\"y\":0.001,"
	             "\"z\":0}}\n"
	             "\x1e{\"time\":0,\"name\":\"quic:b\",\"data\":{}}\n");
	struct qb_qlog_stats st;
	qb_qlog_stats(q, &st);
	cr_assert_eq(st.events, 4); /* the header counts */
	cr_assert_eq(st.events_dropped, 0);
	qb_qlog_free(q);
}

Test(qlog, string_escaping)
{
	struct msink m;
	struct qb_qlog *q = mq(&m, 0);
	/* quote, backslash, controls, DEL, valid UTF-8 (é, €, U+1F600), then
	 * bytes that are not UTF-8: a lone continuation, an overlong, a surrogate,
	 * a truncated sequence. */
	static const char s[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f"
	                        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	                        "\x80\xc0\xaf\xed\xa0\x80\xe2\x82";

	qb_qlog_trace_begin(q, false, odcid, 0, 0);
	qb_qlog_flush(q);
	m.len = 0;
	qb_qlog_event_begin(q, 0, "e");
	qb_qlog_strn(q, "s", s, sizeof(s) - 1);
	qb_qlog_str(q, "empty", "");
	qb_qlog_event_end(q);
	qb_qlog_flush(q);
	expect_bytes(&m, "\x1e{\"time\":0,\"name\":\"quic:e\",\"data\":{\"s\":"
	                 "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f"
	                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	                 "\\u0080\\u00c0\\u00af\\u00ed\\u00a0\\u0080\\u00e2\\u0082\","
	                 "\"empty\":\"\"}}\n");
	cr_assert_str_eq(qb_qlog_odcid_hex(q), "");
	qb_qlog_free(q);
}

Test(qlog, overflow_and_flushes)
{
	struct msink m;
	struct qb_qlog *q = mq(&m, 0);
	static char big[QB_QLOG_BUF_DEFAULT + 10];
	memset(big, 'x', sizeof(big) - 1);

	qb_qlog_trace_begin(q, false, odcid, 8, 0);
	/* Too large for the buffer: dropped whole, what precedes is kept. */
	qb_qlog_event_begin(q, 0, "big");
	qb_qlog_str(q, "s", big);
	qb_qlog_event_end(q);
	struct qb_qlog_stats st;
	qb_qlog_stats(q, &st);
	cr_assert_eq(st.events_dropped, 1);
	/* Many events: the buffer goes to the sink each time it fills. */
	for (int i = 0; i < 5000; i++) {
		qb_qlog_event_begin(q, (uint64_t)i * 1000, "packet_sent");
		qb_qlog_u64(q, "i", (uint64_t)i);
		qb_qlog_str(q, "pad", "0123456789012345678901234567890123456789");
		qb_qlog_event_end(q);
	}
	qb_qlog_stats(q, &st);
	cr_assert_gt(m.calls, 3, "flushed as it filled: %u", m.calls);
	cr_assert_eq(st.events, 5001);
	qb_qlog_flush(q);
	qb_qlog_stats(q, &st);
	cr_assert_eq(st.bytes, m.len);
	/* Every record complete and in order. */
	size_t recs = 0;
	for (size_t i = 0; i < m.len; i++)
		if (m.buf[i] == 0x1e) {
			cr_assert(i == 0 || m.buf[i - 1] == '\n');
			recs++;
		}
	cr_assert_eq(recs, 5001);
	cr_assert_eq(m.buf[m.len - 1], '\n');
	/* A sink that refuses: counted, reported, the buffer is reset. */
	m.refuse_after = m.len + 10;
	qb_qlog_event_begin(q, 0, "x");
	qb_qlog_event_end(q);
	cr_assert_eq(qb_qlog_flush(q), QB_ERR_NOBUF);
	qb_qlog_stats(q, &st);
	cr_assert_gt(st.bytes_lost, 0);
	cr_assert_eq(qb_qlog_flush(q), 0, "nothing left");
	qb_qlog_free(q);
}

/* ---- Minimal JSON structure check (the Python check parses for real) -------- */

/* Skips a JSON value at s[*i]; false when malformed. */
static bool
json_value(const char *s, size_t n, size_t *i, int depth)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\n'))
		(*i)++;
	if (*i >= n || depth > 64)
		return false;
	char c = s[*i];
	if (c == '"') {
		for ((*i)++; *i < n && s[*i] != '"'; (*i)++) {
			if ((unsigned char)s[*i] < 0x20)
				return false;
			if (s[*i] == '\\')
				(*i)++;
		}
		if (*i >= n)
			return false;
		(*i)++;
		return true;
	}
	if (c == '{' || c == '[') {
		char end = c == '{' ? '}' : ']';
		(*i)++;
		if (*i < n && s[*i] == end) {
			(*i)++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				if (*i >= n || s[*i] != '"' || !json_value(s, n, i, depth + 1))
					return false;
				if (*i >= n || s[(*i)++] != ':')
					return false;
			}
			if (!json_value(s, n, i, depth + 1) || *i >= n)
				return false;
			if (s[*i] == ',') {
				(*i)++;
				continue;
			}
			if (s[*i] != end)
				return false;
			(*i)++;
			return true;
		}
	}
	size_t st = *i;
	while (*i < n && strchr("0123456789.-+eEtruefalsn", s[*i]) != NULL)
		(*i)++;
	return *i > st;
}

struct qfile {
	char *data;
	size_t len;
	unsigned records;
	unsigned n_sent, n_recv, n_lost, n_metrics, n_keyupd, n_closed, n_dropped;
};

static unsigned
count(const char *s, const char *needle)
{
	unsigned k = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		k++;
	return k;
}

static void
load_check(const char *path, struct qfile *f)
{
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp, "%s", path);
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	cr_assert_gt(sz, 0);
	f->data = malloc((size_t)sz + 1);
	cr_assert_eq(fread(f->data, 1, (size_t)sz, fp), (size_t)sz);
	fclose(fp);
	f->len = (size_t)sz;
	f->data[f->len] = 0;
	cr_assert_eq(f->data[0], 0x1e);
	/* RFC 7464 §2.2: RS, one JSON text, LF. */
	size_t i = 0;
	while (i < f->len) {
		cr_assert_eq(f->data[i], 0x1e, "record %u at %zu", f->records, i);
		size_t end = i + 1;
		while (end < f->len && f->data[end] != 0x1e)
			end++;
		cr_assert_eq(f->data[end - 1], '\n', "record %u not LF-terminated", f->records);
		size_t j = i + 1;
		cr_assert(json_value(f->data, end, &j, 0) && j == end - 1,
		          "record %u malformed: %.*s", f->records, (int)(end - i - 1),
		          f->data + i + 1);
		f->records++;
		i = end;
	}
	f->n_sent = count(f->data, "\"name\":\"quic:packet_sent\"");
	f->n_recv = count(f->data, "\"name\":\"quic:packet_received\"");
	f->n_lost = count(f->data, "\"name\":\"quic:packet_lost\"");
	f->n_metrics = count(f->data, "\"name\":\"quic:recovery_metrics_updated\"");
	f->n_keyupd = count(f->data, "\"name\":\"quic:key_updated\"");
	f->n_closed = count(f->data, "\"name\":\"quic:connection_closed\"");
	f->n_dropped = count(f->data, "\"name\":\"quic:packet_dropped\"");
}

/* ---- Two connections with qlog ------------------------------------------------ */

struct xfer {
	uint64_t got;
	bool fin;
};

static bool
server_got_all(struct h_pair *p, void *arg)
{
	struct xfer *x = arg;
	uint64_t id;
	unsigned ev;
	uint8_t b[4096];

	if (p->s == NULL)
		return false;
	while (qb_conn_stream_next_event(p->s, &id, &ev)) {
		bool fin = false;
		int64_t n;
		/* The read that returns the last bytes says fin; the next one fails. */
		while (!fin &&
		       (n = qb_conn_stream_read(p->s, id, b, sizeof(b), &fin, NULL, p->now)) > 0)
			x->got += (uint64_t)n;
		x->fin |= fin;
	}
	return x->fin;
}

static bool
both_closed(struct h_pair *p, void *arg)
{
	(void)arg;
	return qb_conn_state(p->c) == QB_CONN_CLOSED && qb_conn_state(p->s) == QB_CONN_CLOSED;
}

Test(qlog, handshake_transfer_files)
{
	struct h_pair p;
	/* Client and server name their files alike (the same ODCID): two dirs. */
	char dirc[] = "/tmp/qb_qlog_XXXXXX", dirs[] = "/tmp/qb_qlog_XXXXXX";
	cr_assert_not_null(mkdtemp(dirc));
	cr_assert_not_null(mkdtemp(dirs));

	h_init(&p, 42);
	struct qb_qlog_config qc = {.wall_clock_ns = 1764082200000000000ull};
	struct qb_qlog_file *fc = qb_qlog_file_open(dirc, &qc);
	struct qb_qlog_file *fs = qb_qlog_file_open(dirs, &qc);
	cr_assert(fc != NULL && fs != NULL);
	p.cfg_c.qlog = qb_qlog_file_qlog(fc);
	p.cfg_s.qlog = qb_qlog_file_qlog(fs);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	/* A flush asked for from another thread happens at the next call. */
	struct qb_qlog_stats q0, q1;
	qb_qlog_stats(p.cfg_c.qlog, &q0);
	qb_qlog_request_flush(p.cfg_c.qlog);
	qb_qlog_stats(p.cfg_c.qlog, &q1);
	cr_assert_eq(q1.flushes, q0.flushes, "not by the request itself");
	qb_conn_on_timeout(p.c, p.now);
	qb_qlog_stats(p.cfg_c.qlog, &q1);
	cr_assert_eq(q1.flushes, q0.flushes + 1);

	/* 200 KB up with some loss and duplication: packet_lost, packet_dropped. */
	p.to_s.loss = 0.03;
	p.to_s.dup = 0.02;
	uint64_t id;
	cr_assert_eq(qb_conn_stream_open(p.c, true, &id), 0);
	static uint8_t data[200000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	size_t off = 0;
	struct xfer x = {0};
	for (int k = 0; k < 100000 && !x.fin; k++) {
		if (off < sizeof(data)) {
			int64_t n =
			        qb_conn_stream_write(p.c, id, data + off, sizeof(data) - off, true);
			cr_assert_geq(n, 0);
			off += (size_t)n;
		}
		if (server_got_all(&p, &x) || !h_step(&p))
			break;
	}
	cr_assert(x.fin);
	cr_assert_eq(x.got, sizeof(data));
	p.to_s.loss = 0;
	p.to_s.dup = 0;
	/* A key update (RFC 9001 §6): ours, then the server's answer. */
	cr_assert_eq(qb_conn_key_update(p.c), 0);
	uint64_t id2;
	cr_assert_eq(qb_conn_stream_open(p.c, false, &id2), 0);
	cr_assert_eq(qb_conn_stream_write(p.c, id2, data, 10, true), 10);
	struct xfer x2 = {0};
	bool ok2 = h_run(&p, 1000 * H_MS, server_got_all, &x2);
	cr_assert(ok2, "got %lu fin %d state %d %d", (unsigned long)x2.got, x2.fin,
	          qb_conn_state(p.c), qb_conn_state(p.s));
	cr_assert_eq(x2.got, 10);
	cr_assert_eq(qb_conn_close(p.c, 0, "done \"ok\"", p.now), 0);
	cr_assert(h_run(&p, 10000 * H_MS, both_closed, NULL));

	struct qb_conn_stats cst, sst;
	qb_conn_stats(p.c, &cst);
	qb_conn_stats(p.s, &sst);
	char pc[256], ps[256];
	cr_assert_str_eq(qb_qlog_odcid_hex(p.cfg_c.qlog), qb_qlog_odcid_hex(p.cfg_s.qlog),
	                 "both name the client's first DCID");
	snprintf(pc, sizeof(pc), "%s/%s.sqlog", dirc, qb_qlog_odcid_hex(p.cfg_c.qlog));
	snprintf(ps, sizeof(ps), "%s/%s.sqlog", dirs, qb_qlog_odcid_hex(p.cfg_s.qlog));
	h_fini(&p);
	cr_assert_eq(qb_qlog_file_close(fc), 0);
	cr_assert_eq(qb_qlog_file_close(fs), 0);

	struct qfile c = {0}, s = {0};
	load_check(pc, &c);
	load_check(ps, &s);
	/* Every packet, and every loss, appears once. */
	cr_assert_eq(c.n_sent, cst.pkts_sent, "client sent %u vs %lu", c.n_sent,
	             (unsigned long)cst.pkts_sent);
	cr_assert_eq(s.n_sent, sst.pkts_sent);
	/* A packet that discards its own space (the server's Handshake keys go on
	 * the client's Finished, RFC 9001 §4.9.2) is logged but not counted. */
	cr_assert(c.n_recv >= cst.pkts_recv && c.n_recv <= cst.pkts_recv + 2,
	          "client recv %u vs %lu", c.n_recv, (unsigned long)cst.pkts_recv);
	cr_assert(s.n_recv >= sst.pkts_recv && s.n_recv <= sst.pkts_recv + 2,
	          "server recv %u vs %lu", s.n_recv, (unsigned long)sst.pkts_recv);
	cr_assert_eq(c.n_lost, cst.pkts_lost);
	cr_assert_gt(c.n_lost, 0, "3%% loss lost nothing?");
	cr_assert_gt(c.n_metrics, 2);
	cr_assert_geq(c.n_keyupd, 4, "Initial, Handshake, 1-RTT keys");
	cr_assert_eq(c.n_closed, 1);
	cr_assert_eq(c.n_dropped, cst.pkts_dropped);
	cr_assert_eq(s.n_dropped, sst.pkts_dropped);
	cr_assert_gt(s.n_dropped, 0, "2%% duplication dropped nothing?");
	cr_assert_not_null(strstr(s.data, "\"trigger\":\"duplicate\""));
	cr_assert_not_null(strstr(c.data, "{\"key_type\":\"client_1rtt_secret\",\"key_phase\":1,"
	                                  "\"trigger\":\"local_update\"}"));
	cr_assert_not_null(strstr(s.data, "{\"key_type\":\"client_1rtt_secret\",\"key_phase\":1,"
	                                  "\"trigger\":\"remote_update\"}"));
	cr_assert_not_null(strstr(s.data, "{\"key_type\":\"server_1rtt_secret\",\"key_phase\":1,"
	                                  "\"trigger\":\"remote_update\"}"));
	cr_assert_eq(s.n_closed, 1);
	cr_assert_not_null(strstr(c.data, "\"type\":\"client\""));
	cr_assert_not_null(strstr(s.data, "\"type\":\"server\""));
	cr_assert_not_null(strstr(c.data, "\"reason\":\"done \\\"ok\\\"\""));
	cr_assert_not_null(strstr(s.data, "\"initiator\":\"remote\",\"application_error\":"
	                                  "\"unknown\",\"error_code\":0"));
	cr_assert_not_null(strstr(c.data, "\"new\":\"handshake_confirmed\""));
	cr_assert_not_null(strstr(s.data, "\"frame_type\":\"stream\",\"stream_id\":0"));

	const char *py = getenv("QLOG_CHECK_PY");
	if (py != NULL && access("/usr/bin/python3", X_OK) == 0) {
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s %s", py, pc, ps);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
	}
	unlink(pc);
	unlink(ps);
	rmdir(dirc);
	rmdir(dirs);
	free(c.data);
	free(s.data);
}

/* qlog off: nothing is logged and nothing changes (the off path is a branch). */
Test(qlog, off_no_output)
{
	struct h_pair p;
	struct msink m;
	struct qb_qlog *unused = mq(&m, 0);

	h_init(&p, 7);
	cr_assert_null(p.cfg_c.qlog);
	h_start(&p);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	cr_assert_eq(qb_conn_close(p.c, 0, NULL, p.now), 0);
	cr_assert(h_run(&p, 10000 * H_MS, both_closed, NULL));
	h_fini(&p);
	struct qb_qlog_stats st;
	qb_qlog_stats(unused, &st);
	cr_assert_eq(st.events, 0);
	qb_qlog_free(unused);
	cr_assert_eq(m.calls, 0);
	cr_assert_eq(m.len, 0);
}

/* A Retry (RFC 9000 §17.2.5) built as a server would, for the client. */
static size_t
retry_for(uint8_t *buf, const struct qb_pkt_hdr *first, const uint8_t *new_scid, bool bad_tag)
{
	static const uint8_t token[12] = "qlog-token!";
	int n = qb_pkt_enc_retry(buf, 256, QB_VERSION_1, 0, first->scid, first->scid_len, new_scid,
	                         8, token, sizeof(token));
	cr_assert_gt(n, 16);
	cr_assert_eq(qb_crypto_retry_tag(QB_VERSION_1, first->dcid, first->dcid_len, buf,
	                                 (size_t)n - 16, buf + n - 16),
	             0);
	buf[n - 1] ^= bad_tag;
	return (size_t)n;
}

static struct msink mc, ms;

/* Retry: logged as received with its token, bad and repeated ones dropped;
 * both traces keep the client's first DCID as ODCID. */
Test(qlog, retry)
{
	struct h_pair p;
	uint8_t d[H_MTU], retry[256];
	const uint8_t rscid[8] = {0xee, 1, 2, 3, 4, 5, 6, 7};
	struct qb_pkt_hdr h;
	uint32_t why;

	h_init(&p, 9);
	struct qb_qlog *qcl = mq(&mc, 0), *qsv = mq(&ms, 0);
	p.cfg_c.qlog = qcl;
	p.cfg_s.qlog = qsv;
	h_start(&p);
	int n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200);
	cr_assert_eq(qb_pkt_parse(d, (size_t)n, 0, 8, 0, &h), 0);
	uint8_t odcid[20];
	size_t odcid_len = h.dcid_len;
	memcpy(odcid, h.dcid, odcid_len);

	size_t rn = retry_for(retry, &h, rscid, true);
	cr_assert_eq(qb_conn_recv(p.c, 0, retry, rn, p.now), 0);
	rn = retry_for(retry, &h, rscid, false);
	cr_assert_eq(qb_conn_recv(p.c, 0, retry, rn, p.now), 0);
	n = qb_conn_send(p.c, 0, d, sizeof(d), p.now, &why);
	cr_assert_geq(n, 1200);
	rn = retry_for(retry, &h, rscid, false);
	cr_assert_eq(qb_conn_recv(p.c, 0, retry, rn, p.now), 0);
	p.cfg_s.retry_odcid = odcid;
	p.cfg_s.retry_odcid_len = (uint8_t)odcid_len;
	p.s = qb_conn_server_new(&p.cfg_s, d, (size_t)n, p.now);
	cr_assert_not_null(p.s);
	cr_assert_eq(qb_conn_recv(p.s, 0, d, (size_t)n, p.now), 0);
	cr_assert(h_run(&p, 5000 * H_MS, h_confirmed, NULL));
	cr_assert_str_eq(qb_qlog_odcid_hex(qcl), qb_qlog_odcid_hex(qsv));
	h_fini(&p);
	qb_qlog_free(qcl);
	qb_qlog_free(qsv);

	mc.buf[mc.len] = 0;
	ms.buf[ms.len] = 0;
	cr_assert_not_null(strstr(mc.buf, "\"name\":\"quic:packet_received\",\"data\":{\"header\":{"
	                                  "\"packet_type\":\"retry\",\"version\":\"00000001\","
	                                  "\"token\":{\"type\":\"retry\",\"raw\":{\"length\":12}},"
	                                  "\"scil\":8,\"scid\":\"ee01020304050607\""));
	cr_assert_eq(count(mc.buf, "\"packet_type\":\"retry\"},\"raw\":{\"length\":"), 2,
	             "the bad tag and the second Retry dropped");
	cr_assert_not_null(strstr(mc.buf, "\"token\":{\"type\":\"retry\",\"raw\":{\"length\":12}},"
	                                  "\"dcil\":8,\"dcid\":\"ee01020304050607\"},"
	                                  "\"raw\":{\"length\":1200"),
	                   "the Initial sent again carries the token");
	cr_assert_not_null(strstr(ms.buf, "\"retry_source_connection_id\":\"ee01020304050607\""));
	char want[64] = "\"ODCID\":\"";
	for (size_t i = 0; i < odcid_len; i++)
		snprintf(want + strlen(want), 3, "%02x", odcid[i]);
	cr_assert_not_null(strstr(mc.buf, want));
	cr_assert_not_null(strstr(ms.buf, want));
}
