/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_STREAM_H
#define QBURST_STREAM_H

/*
 * QUIC streams, sans-IO (RFC 9000 §2-4): send and receive buffers in pooled
 * chunks, the stream state machines, stream and connection flow control with
 * window auto-tuning, stream ID rules and limits, and the per-epoch crypto
 * streams. This layer works on offsets, lengths and data; the connection core
 * decodes frames, calls the qb_streams_on_*() functions, and builds frames
 * from qb_streams_send_peek() and qb_streams_ctrl_peek().
 *
 * Errors: functions return 0 (or a non-negative count) on success, or a
 * negative enum qb_err. A peer violation returns QB_ERR_PROTO and writes the
 * RFC 9000 §20.1 transport error code (FLOW_CONTROL_ERROR 0x3,
 * STREAM_LIMIT_ERROR 0x4, STREAM_STATE_ERROR 0x5, FINAL_SIZE_ERROR 0x6,
 * FRAME_ENCODING_ERROR 0x7, TRANSPORT_PARAMETER_ERROR 0x8,
 * CRYPTO_BUFFER_EXCEEDED 0xd) into *terr; the connection must then close.
 * QB_ERR_NOMEM means the chunk or stream pool is exhausted: nothing is
 * corrupted, the frame was not (fully) taken, and the packet that carried it
 * must not be acknowledged so the peer sends it again.
 *
 * Memory: nothing is allocated after start-up except qb_streams_create()
 * (once per connection). Data lives in fixed-size chunks from a pool; a chunk
 * holds chunk_size bytes of one stream at a chunk-aligned stream offset plus
 * two bitmaps of chunk_size bits (received bytes; acknowledged and lost
 * bytes), an overhead of 25% that keeps reassembly and loss bookkeeping exact
 * and bounded whatever the peer's pattern (a bitmap is zeroed on its first
 * use only, so in-order traffic never touches it). An idle stream holds no
 * chunk: 280 bytes of stream object plus its table slot. A connection has
 * no stream table until its first stream; then 16 slots of 8 bytes, doubled
 * when a stream opens that would make it more than half full, up to the
 * power of two >= 2 x (local max_streams_bidi + max_streams_uni +
 * max_local_streams): it allocates when a connection opens more streams at
 * once than it ever had, never per packet. qb_streams_trim() gives the room
 * back when idle.
 *
 * Not thread-safe: a connection and its pools belong to one lcore.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qburst/pool.h"

/* The largest value of a variable-length integer (RFC 9000 §16). */
#define QB_STREAM_MAX_OFFSET ((UINT64_C(1) << 62) - 1)

/* --- Pools shared by the connections of one lcore ------------------------ */

struct qb_stream_pools {
	struct qb_pool chunks;  /* data chunks (send and receive) */
	struct qb_pool streams; /* stream objects */
	uint32_t chunk_size;    /* data bytes per chunk: a power of two >= 64 */
};

/*
 * Create the pools: max_chunks chunks of chunk_size bytes (power of two,
 * 64..65536; 2048 or 4096 suit 1200-1500-byte packets) and max_streams stream
 * objects. Returns 0, QB_ERR_ARG, or QB_ERR_NOMEM.
 */
int qb_stream_pools_init(struct qb_stream_pools *p, uint32_t chunk_size, uint32_t max_chunks,
                         uint32_t max_streams);
void qb_stream_pools_fini(struct qb_stream_pools *p);

/* --- Buffers (embedded in streams and crypto streams; fields private) ---- */

struct qb_chunk;

/* Receive reassembly buffer: bytes [read, contig) are ready to read. */
struct qb_rbuf {
	struct qb_chunk *head; /* chunks sorted by offset, with gaps */
	struct qb_chunk *hint; /* last chunk touched: in-order arrivals are O(1) */
	uint64_t read;         /* bytes consumed by the reader */
	uint64_t contig;       /* every byte below has arrived */
	uint64_t hi;           /* one past the highest byte buffered */
};

/* Send buffer: [acked, sent) in flight or lost, [sent, end) not yet sent. */
struct qb_sbuf {
	struct qb_chunk *head, *tail; /* contiguous chunks covering [acked, end) */
	struct qb_chunk *hint;        /* last chunk touched by ack/loss lookups */
	/* The chunk holding offset `sent`, or one before it whose referenced
	 * memory runs on past `sent` to the tail's end (qb_sbuf_peek_new), or NULL. */
	struct qb_chunk *cur;
	uint64_t acked;   /* every byte below is acknowledged and freed */
	uint64_t sent;    /* one past the highest byte ever sent */
	uint64_t end;     /* bytes written by the application */
	uint64_t lost_lo; /* no byte below is marked lost (if lost > 0) */
	uint64_t lost;    /* bytes marked lost, not yet resent or acked */
};

/* A piece of data to put in a STREAM or CRYPTO frame. */
struct qb_send_span {
	uint64_t stream_id;  /* the stream (unused for crypto streams) */
	uint64_t offset;     /* stream offset of data[0] */
	const uint8_t *data; /* valid until the next call on this stream */
	size_t len;          /* bytes; 0 only for a FIN-only frame */
	bool fin;            /* this frame carries the FIN bit */
	bool retransmit;     /* data from lost ranges (sent before) */
	/* Bytes just before data (<= QB_SEND_GAP) the sender may borrow until
	 * its next call on the stream, restoring them (qb_crypto_protect_gap):
	 * the chunk's own memory, or referenced memory the application lent
	 * (qb_streams_write_ref_gap); 0 for other referenced memory. When not
	 * 0, the same holds before every byte of the span (a sender cutting
	 * it into packets borrows inside it). */
	uint8_t gap;
};

/* The most a send span's gap is (bytes; the most qb_crypto_protect_gap borrows). */
#define QB_SEND_GAP 64

/* --- Crypto streams (RFC 9000 §7.5, §19.6): one per epoch ----------------- */

struct qb_crypto_stream {
	struct qb_rbuf rx;
	struct qb_sbuf tx;
};

/* Zero the crypto stream (it holds no chunk until data arrives or is written). */
void qb_crypto_stream_init(struct qb_crypto_stream *cs);

/* Return every chunk the crypto stream holds (when its keys are discarded). */
void qb_crypto_stream_free(struct qb_crypto_stream *cs, struct qb_stream_pools *p);

/*
 * A CRYPTO frame (offset, data, len) arrived. Data beyond read + max_buffer
 * (the bound on out-of-order data, at least 4096 per RFC 9000 §7.5) is an
 * error: QB_ERR_PROTO with *terr = CRYPTO_BUFFER_EXCEEDED (0xd). Returns 0 or
 * QB_ERR_NOMEM too.
 */
int qb_crypto_stream_on_frame(struct qb_crypto_stream *cs, struct qb_stream_pools *p,
                              uint64_t offset, const uint8_t *data, size_t len, uint64_t max_buffer,
                              uint64_t *terr);

/* The contiguous in-order bytes at the read position (zero-copy): length, *data. */
size_t qb_crypto_stream_peek(const struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                             const uint8_t **data);
/* Consume n bytes (n <= the length qb_crypto_stream_peek returned). */
void qb_crypto_stream_consume(struct qb_crypto_stream *cs, struct qb_stream_pools *p, size_t n);

/* Copy len bytes of handshake data in. Returns len, or QB_ERR_NOMEM (nothing taken). */
int qb_crypto_stream_write(struct qb_crypto_stream *cs, struct qb_stream_pools *p,
                           const uint8_t *data, size_t len);
/* The next span to send, lost data first (no flow control): false if none. */
bool qb_crypto_stream_send_peek(struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                                size_t max_len, struct qb_send_span *out);
/* The frame (offset, len) built from the last peek (len may be shorter) was sent. */
void qb_crypto_stream_send_commit(struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                                  uint64_t offset, size_t len);
/* A packet carrying CRYPTO data (offset, len) was acknowledged / declared lost. */
void qb_crypto_stream_on_acked(struct qb_crypto_stream *cs, struct qb_stream_pools *p,
                               uint64_t offset, uint64_t len);
void qb_crypto_stream_on_lost(struct qb_crypto_stream *cs, const struct qb_stream_pools *p,
                              uint64_t offset, uint64_t len);
/* Crypto data to send: not sent yet, or lost (what send_peek would offer). */
static inline bool
qb_crypto_stream_to_send(const struct qb_crypto_stream *cs)
{
	return cs->tx.lost != 0 || cs->tx.sent < cs->tx.end;
}
/* Unacknowledged crypto data is outstanding (sent or not). */
bool qb_crypto_stream_pending(const struct qb_crypto_stream *cs);

/* --- The streams of a connection ----------------------------------------- */

/* Stream ID bits (RFC 9000 §2.1). */
#define QB_STREAM_SERVER_INITIATED 0x1
#define QB_STREAM_UNIDIRECTIONAL   0x2

/* Send and receive states (RFC 9000 §3.1, §3.2); NONE: that half does not exist. */
enum qb_send_state {
	QB_SEND_NONE,
	QB_SEND_READY,
	QB_SEND_SEND,
	QB_SEND_DATA_SENT,
	QB_SEND_DATA_RECVD,
	QB_SEND_RESET_SENT,
	QB_SEND_RESET_RECVD,
};
enum qb_recv_state {
	QB_RECV_NONE,
	QB_RECV_RECV,
	QB_RECV_SIZE_KNOWN,
	QB_RECV_DATA_RECVD,
	QB_RECV_DATA_READ,
	QB_RECV_RESET_RECVD,
	QB_RECV_RESET_READ,
};

/* The stream-related transport parameters of one side (RFC 9000 §18.2). */
struct qb_stream_params {
	uint64_t max_data;                    /* initial_max_data */
	uint64_t max_stream_data_bidi_local;  /* initial_max_stream_data_bidi_local */
	uint64_t max_stream_data_bidi_remote; /* initial_max_stream_data_bidi_remote */
	uint64_t max_stream_data_uni;         /* initial_max_stream_data_uni */
	uint64_t max_streams_bidi;            /* initial_max_streams_bidi */
	uint64_t max_streams_uni;             /* initial_max_streams_uni */
};

struct qb_streams_config {
	bool is_server;
	/* Our transport parameters: the initial receive windows and the number of
	 * streams of each type the peer may have open at once. */
	struct qb_stream_params local;
	/* Auto-tuning caps of the receive windows, bytes (raised to the initial
	 * windows if smaller). */
	uint64_t max_stream_window;
	uint64_t max_conn_window;
	/* Bytes the application may have buffered per stream (unsent plus
	 * unacknowledged); 0 means no limit but the pool. */
	uint64_t send_buffer_max;
	/* Locally opened streams that may exist at once (bounds the table). */
	uint32_t max_local_streams;
};

/* A control frame to send or that was sent (the connection keeps it in its
 * sent-packet record and hands it back on ack or loss). */
struct qb_ctrl_frame {
	uint8_t type;        /* RFC 9000 §19 frame type: 0x04 RESET_STREAM, 0x05
	                        STOP_SENDING, 0x10 MAX_DATA, 0x11 MAX_STREAM_DATA,
	                        0x12/0x13 MAX_STREAMS bidi/uni, 0x14 DATA_BLOCKED,
	                        0x15 STREAM_DATA_BLOCKED, 0x16/0x17 STREAMS_BLOCKED */
	uint64_t stream_id;  /* for 0x04, 0x05, 0x11, 0x15 */
	uint64_t value;      /* final size (0x04), maximum or limit (others) */
	uint64_t error_code; /* application error code (0x04, 0x05) */
};

/* What the reader gets (qb_streams_read_peek). */
struct qb_read_span {
	const uint8_t *data; /* contiguous bytes, valid until the next call */
	size_t len;
	bool fin;            /* the span ends the stream (consume it to finish) */
	bool reset;          /* the peer reset the stream: no more data */
	uint64_t error_code; /* the peer's application error code when reset */
};

struct qb_streams;

/*
 * Create the stream state of one connection (allocates the manager and its
 * stream table once; capacity: the peer's concurrent streams from cfg->local
 * plus cfg->max_local_streams). NULL on a bad config (local max_streams above
 * 2^60) or allocation failure. Before qb_streams_set_peer_params(), the
 * peer's limits are zero (nothing can be sent).
 */
struct qb_streams *qb_streams_create(struct qb_stream_pools *p,
                                     const struct qb_streams_config *cfg);
/* Free every stream and chunk, then the manager. NULL is ignored. */
void qb_streams_destroy(struct qb_streams *m);
/*
 * Shrink the stream table to what the streams open now need (none when no
 * stream is open, else at least 16 slots and at most a quarter full), after
 * a burst of concurrent streams grew it. Not for the per-packet path: it rehashes the open streams
 * (the connection calls it from qb_conn_trim()). Returns the bytes released (0: nothing to shrink,
 * or the allocation failed and the table stays as it was).
 */
size_t qb_streams_trim(struct qb_streams *m);

/* The peer's transport parameters arrived: send-side limits rise (never fall).
 * max_streams above 2^60: QB_ERR_PROTO, TRANSPORT_PARAMETER_ERROR. */
int qb_streams_set_peer_params(struct qb_streams *m, const struct qb_stream_params *peer,
                               uint64_t *terr);
/* The smoothed RTT (ns) used by window auto-tuning; 0 disables growth. */
void qb_streams_set_rtt(struct qb_streams *m, uint64_t srtt_ns);

/* Open a local stream. 0 and *id; QB_ERR_STATE when the peer's MAX_STREAMS
 * is reached (a STREAMS_BLOCKED is queued once per limit); QB_ERR_NOMEM when
 * the stream pool or cfg->max_local_streams is exhausted. */
int qb_streams_open(struct qb_streams *m, bool bidi, uint64_t *id);

/* Streams that exist now (opened and not yet closed and freed). */
uint32_t qb_streams_count(const struct qb_streams *m);
/* States of a stream; QB_SEND_NONE / QB_RECV_NONE if it does not exist. */
enum qb_send_state qb_streams_send_state(const struct qb_streams *m, uint64_t id);
enum qb_recv_state qb_streams_recv_state(const struct qb_streams *m, uint64_t id);

/*
 * Frames from the peer (RFC 9000 §19.4-19.5, §19.8-19.14), already decoded.
 * A frame for a stream that was closed is ignored (0). `now` is ns.
 */
int qb_streams_on_stream(struct qb_streams *m, uint64_t id, uint64_t offset, const uint8_t *data,
                         size_t len, bool fin, uint64_t *terr);
int qb_streams_on_reset_stream(struct qb_streams *m, uint64_t id, uint64_t error_code,
                               uint64_t final_size, uint64_t *terr);
int qb_streams_on_stop_sending(struct qb_streams *m, uint64_t id, uint64_t error_code,
                               uint64_t *terr);
int qb_streams_on_max_data(struct qb_streams *m, uint64_t max);
int qb_streams_on_max_stream_data(struct qb_streams *m, uint64_t id, uint64_t max, uint64_t *terr);
int qb_streams_on_max_streams(struct qb_streams *m, bool bidi, uint64_t max, uint64_t *terr);
int qb_streams_on_data_blocked(struct qb_streams *m, uint64_t limit);
int qb_streams_on_stream_data_blocked(struct qb_streams *m, uint64_t id, uint64_t limit,
                                      uint64_t *terr);
int qb_streams_on_streams_blocked(struct qb_streams *m, bool bidi, uint64_t limit, uint64_t *terr);

/*
 * Application receive side. read_peek gives the contiguous bytes at the read
 * position (zero-copy), or fin with len 0 at the end, or reset (which moves
 * the stream to Reset Read). QB_ERR_STATE if the stream has no receive side
 * or does not exist. read_consume(n) takes n <= len bytes and may queue
 * MAX_STREAM_DATA / MAX_DATA (auto-tuned with `now`, ns); consuming the fin
 * span (even with n == 0) finishes the receive side. A stream whose both
 * halves are finished is freed: hold stream IDs, not data pointers, across
 * calls.
 */
int qb_streams_read_peek(struct qb_streams *m, uint64_t id, struct qb_read_span *out);
int qb_streams_read_consume(struct qb_streams *m, uint64_t id, size_t n, uint64_t now);

/*
 * Application send side. write copies data into chunks (the caller's buffer
 * is free on return) and returns the bytes taken: fewer than len (0 too)
 * when cfg->send_buffer_max is reached (a WRITABLE event follows when acks
 * make room) or the chunk pool runs short; QB_ERR_NOMEM if the pool gave
 * nothing; QB_ERR_STATE if the stream cannot send (no send side, FIN already
 * written, reset). fin ends the stream after these bytes, and only if every
 * byte was taken. len 0 with fin is a bare FIN.
 */
int64_t qb_streams_write(struct qb_streams *m, uint64_t id, const uint8_t *data, size_t len,
                         bool fin);
/*
 * As qb_streams_write, but data is referenced, not copied (only the bytes
 * up to the stream's next chunk boundary are, unless they continue the
 * memory of the previous referenced write: a buffer written in pieces is
 * never copied): for data that outlives the stream's need of it, such as a
 * mapped file. The caller keeps data valid and unchanged until the
 * stream's send side no longer needs it: its state is Data Recvd or a reset
 * state (qb_streams_send_state), or the stream or qb_streams is gone. Same
 * returns as qb_streams_write.
 */
int64_t qb_streams_write_ref(struct qb_streams *m, uint64_t id, const uint8_t *data, size_t len,
                             bool fin);
/*
 * As qb_streams_write_ref, for writable memory the engine may also borrow
 * from: the QB_SEND_GAP bytes before data, and the data itself, are the
 * caller's writable memory, and while the stream sends the engine may
 * overwrite up to QB_SEND_GAP bytes just before the bytes of a packet and
 * put them back before the send call returns (so a packet is sealed from
 * the buffer in one pass: qb_crypto_protect_gap). Nothing else (another
 * lcore) may read or write the buffer meanwhile. Same returns.
 */
int64_t qb_streams_write_ref_gap(struct qb_streams *m, uint64_t id, uint8_t *data, size_t len,
                                 bool fin);
/* Abandon sending: RESET_STREAM with error_code (RFC 9000 §3.1, §19.4). */
int qb_streams_reset(struct qb_streams *m, uint64_t id, uint64_t error_code);
/* Stop reading: incoming data is discarded from now on (its credit returned
 * at once) and, while data may still come, STOP_SENDING with error_code is
 * sent (RFC 9000 §3.5, §19.5). The receive side finishes by itself once the
 * final size is known (FIN or RESET_STREAM, neither reported). */
int qb_streams_stop_sending(struct qb_streams *m, uint64_t id, uint64_t error_code);
/* The peer sent STOP_SENDING on this stream (its code in *error_code). */
bool qb_streams_stop_requested(const struct qb_streams *m, uint64_t id, uint64_t *error_code);

/*
 * Application events, edge-triggered: a stream is queued once when something
 * new happens to it and leaves the queue when next_event returns it.
 * READABLE: new contiguous data, the FIN, or a reset from the peer (read it
 * with read_peek). WRITABLE: a write came up short and room is back.
 * STOPPED: the peer sent STOP_SENDING (the stream's send side was reset).
 * Returns false when no stream has pending events.
 */
#define QB_STREAM_EV_READABLE 0x1
#define QB_STREAM_EV_WRITABLE 0x2
#define QB_STREAM_EV_STOPPED  0x4
bool qb_streams_next_event(struct qb_streams *m, uint64_t *id, unsigned *events);

/*
 * Transmission. send_peek picks the next stream round-robin and gives the
 * next span: lost data first, then new data limited by the stream's and the
 * connection's flow control and by max_len. false if nothing can be sent.
 * After writing a frame for it, call send_commit with the span, whose len may
 * be reduced to fit the packet (then clear fin too: the FIN goes with the
 * last byte; commit ignores a fin that does not end the stream); the caller
 * records (stream_id, offset, len, fin) in its
 * sent-packet record and reports it back with on_data_acked / on_data_lost.
 */
/* What the streams have for the next packet (QB_STREAMS_TX_* bits): stream
 * data ready (DATA), control frames due (CTRL), and stream data held back
 * only by the connection's flow control (BLOCKED: MAX_DATA will free it). */
#define QB_STREAMS_TX_DATA    0x1
#define QB_STREAMS_TX_CTRL    0x2
#define QB_STREAMS_TX_BLOCKED 0x4
unsigned qb_streams_tx_status(const struct qb_streams *m);

bool qb_streams_send_peek(struct qb_streams *m, size_t max_len, struct qb_send_span *out);
void qb_streams_send_commit(struct qb_streams *m, const struct qb_send_span *sent);
void qb_streams_on_data_acked(struct qb_streams *m, uint64_t id, uint64_t offset, uint64_t len,
                              bool fin);
void qb_streams_on_data_lost(struct qb_streams *m, uint64_t id, uint64_t offset, uint64_t len,
                             bool fin);

/*
 * Control frames: ctrl_peek gives the next frame due (connection-level first)
 * with the newest values; ctrl_sent removes it from the queue once written.
 * ctrl_lost queues it again if it still matters (a newer MAX_DATA supersedes
 * an older one, RFC 9000 §13.3); ctrl_acked completes a RESET_STREAM.
 */
bool qb_streams_ctrl_peek(struct qb_streams *m, struct qb_ctrl_frame *f);
void qb_streams_ctrl_sent(struct qb_streams *m, const struct qb_ctrl_frame *f);
void qb_streams_ctrl_lost(struct qb_streams *m, const struct qb_ctrl_frame *f);
void qb_streams_ctrl_acked(struct qb_streams *m, const struct qb_ctrl_frame *f);

/* Connection flow-control figures (bytes), for statistics and tests. */
struct qb_streams_fc {
	uint64_t rx_max;      /* MAX_DATA we advertised */
	uint64_t rx_window;   /* current connection receive window */
	uint64_t rx_highest;  /* sum of the highest offsets received (credit used) */
	uint64_t rx_consumed; /* bytes read (or released by resets) */
	uint64_t tx_max;      /* the peer's MAX_DATA */
	uint64_t tx_used;     /* new bytes we sent */
};
void qb_streams_get_fc(const struct qb_streams *m, struct qb_streams_fc *fc);
/* A stream's receive window and limit (0 if absent), for statistics and tests. */
uint64_t qb_streams_rx_window(const struct qb_streams *m, uint64_t id);
uint64_t qb_streams_rx_max(const struct qb_streams *m, uint64_t id);

#endif
