/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_QLOG_H
#define QBURST_QLOG_H

/*
 * qlog (draft-ietf-quic-qlog-main-schema, draft-ietf-quic-qlog-quic-events,
 * both in /work/shared/reference): one trace per connection, serialized as
 * JSON Text Sequences (RFC 7464: 0x1E, a JSON text, 0x0A per record), file
 * schema urn:ietf:params:qlog:file:sequential, media type
 * application/qlog+json-seq, events of the "quic" namespace.
 *
 * Cost model: a connection logs only when its qb_conn_config.qlog is set
 * (NULL: one predictable branch per event site, nothing else). Events are
 * formatted into the qlog's bounded buffer (allocated once by qb_qlog_new):
 * no allocation and no syscall per event. The buffer goes to the caller's
 * sink when it fills, when the connection enters closing/draining and when
 * it is closed, in qb_conn_free(), on qb_qlog_flush() (from the connection's
 * thread), at the next connection call after qb_qlog_request_flush() (from
 * any thread: the application's control lcore) and in qb_qlog_free(). The
 * engine itself does no I/O: the sink does, on the connection's thread.
 *
 * Times: "time" is in milliseconds (with a fraction to the microsecond) since
 * the connection's creation, from the `now` (ns) its calls are given; the
 * trace's reference_time is {clock_type "monotonic", epoch "unknown"} with
 * the wall clock time of that instant when the caller gives one.
 *
 * No secrets are logged (keys and TLS secrets never are; key events carry
 * only the key type and phase), nor stateless reset tokens.
 *
 * Not thread-safe (but for qb_qlog_request_flush): a qlog belongs to one
 * connection, hence to one thread. Memory: buf_size bytes per connection.
 *
 * Deviation from the draft kept on purpose: common_fields carries "ODCID"
 * (upper case, as the main schema's trace example and BRIEF §10 name it)
 * next to the draft's "group_id" with the same value.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qb_qlog;

/*
 * Where the bytes go. write() takes len bytes and returns how many it
 * wrote; fewer than len counts as an error (the rest is dropped and
 * counted in qb_qlog_stats.bytes_lost). arg is the caller's.
 */
struct qb_qlog_sink {
	size_t (*write)(void *arg, const void *buf, size_t len);
	void *arg;
};

/* Buffer sizes (bytes): default, and the smallest taken. */
#define QB_QLOG_BUF_DEFAULT (64 * 1024)
#define QB_QLOG_BUF_MIN     (32 * 1024)

struct qb_qlog_config {
	struct qb_qlog_sink sink;
	size_t buf_size;          /* 0: QB_QLOG_BUF_DEFAULT; less than QB_QLOG_BUF_MIN: MIN */
	uint64_t wall_clock_ns;   /* Unix time (ns) at the connection's creation; 0: unknown */
	const char *title;        /* trace title (copied, <= 63 bytes kept); NULL: none */
	const char *vantage_name; /* vantage_point.name (copied, <= 63 bytes); NULL: none */
};

/* A qlog for one connection. NULL on allocation failure or sink.write NULL. */
struct qb_qlog *qb_qlog_new(const struct qb_qlog_config *cfg);

/* Flushes what is buffered, then frees. The sink is the caller's. NULL ok. */
void qb_qlog_free(struct qb_qlog *q);

/* Hands what is buffered to the sink. Returns 0, or QB_ERR_NOBUF if the
 * sink took fewer bytes than given (those are dropped and counted). */
int qb_qlog_flush(struct qb_qlog *q);

/*
 * From another thread (the application's control lcore): asks the
 * connection's own thread to flush at its next qb_conn_recv/send/on_timeout
 * call (C11 atomic flag; the write then happens on that thread). Unlike
 * qb_qlog_flush(), safe while the connection runs.
 */
void qb_qlog_request_flush(struct qb_qlog *q);

/* The connection's original DCID as lowercase hex ("" until the trace has
 * begun): the <ODCID> of the file name <ODCID>.sqlog (BRIEF §10). */
const char *qb_qlog_odcid_hex(const struct qb_qlog *q);

struct qb_qlog_stats {
	uint64_t events;         /* events written to the buffer */
	uint64_t events_dropped; /* events too large for the buffer */
	uint64_t bytes;          /* bytes given to the sink */
	uint64_t bytes_lost;     /* bytes the sink refused */
	uint64_t flushes;        /* sink calls */
};
void qb_qlog_stats(const struct qb_qlog *q, struct qb_qlog_stats *out);

/* ---- The writer, for the connection glue and for tests ------------------
 *
 * qb_qlog_trace_begin() writes the header record; each event is begun with
 * qb_qlog_event_begin() (time, name), its "data" members added with the
 * field helpers, and closed with qb_qlog_event_end(). Objects and arrays
 * nest with the open/close helpers; the writer places the commas. An event
 * that does not fit the free buffer space after a flush is dropped whole.
 */

/* Header record: file_schema, serialization_format, trace with
 * common_fields (ODCID, time_format, reference_time), vantage_point and
 * event_schemas. now (ns) becomes the reference time. */
void qb_qlog_trace_begin(struct qb_qlog *q, bool is_server, const uint8_t *odcid, size_t odcid_len,
                         uint64_t now);

/* Begins an event: {"time":T,"name":"quic:NAME","data":{ */
void qb_qlog_event_begin(struct qb_qlog *q, uint64_t now, const char *name);
/* Ends it: }}\n (flushes first if the buffer is nearly full afterward). */
void qb_qlog_event_end(struct qb_qlog *q);

/* Members of the current object (key: a literal without characters to escape). */
void qb_qlog_u64(struct qb_qlog *q, const char *key, uint64_t v);
void qb_qlog_bool(struct qb_qlog *q, const char *key, bool v);
void qb_qlog_str(struct qb_qlog *q, const char *key, const char *s); /* escaped */
void qb_qlog_strn(struct qb_qlog *q, const char *key, const char *s, size_t len);
void qb_qlog_hex(struct qb_qlog *q, const char *key, const uint8_t *b, size_t len);
void qb_qlog_ms(struct qb_qlog *q, const char *key, uint64_t ns); /* ns as ms.uuu */
void qb_qlog_obj_open(struct qb_qlog *q, const char *key);        /* key NULL: in an array */
void qb_qlog_obj_close(struct qb_qlog *q);
void qb_qlog_arr_open(struct qb_qlog *q, const char *key);
void qb_qlog_arr_close(struct qb_qlog *q);
void qb_qlog_arr_u64(struct qb_qlog *q, uint64_t v); /* an array element */

/* ---- The default file sink (engine/qlog/qlog_file.c, stdio) ---------------
 *
 * For --qlog-dir=DIR: per connection,
 *   struct qb_qlog_file *f = qb_qlog_file_open(dir, &qcfg);  (qcfg.sink ignored)
 *   conn_cfg.qlog = qb_qlog_file_qlog(f);
 *   ... qb_conn_client_new / qb_conn_server_new ...
 *   qb_conn_free(c); qb_qlog_file_close(f);
 * The file DIR/<ODCID>.sqlog is created at the first flush (never before the
 * connection has begun its trace). The control lcore may call
 * qb_qlog_flush(qb_qlog_file_qlog(f)) under the rules above.
 */
struct qb_qlog_file;

/* NULL on allocation failure (the file is not opened yet). */
struct qb_qlog_file *qb_qlog_file_open(const char *dir, const struct qb_qlog_config *cfg);
struct qb_qlog *qb_qlog_file_qlog(struct qb_qlog_file *f);
/* Flushes, frees the qlog, closes the file. 0, or -1 if the file could not
 * be created or written (see errno). NULL ok. */
int qb_qlog_file_close(struct qb_qlog_file *f);

#endif
