/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QB_STREAM_INTERNAL_H
#define QB_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "qburst/frame.h"
#include "qburst/stream.h"
#include "qburst/wire.h"

/* Transport error codes (RFC 9000 §20.1) come from enum qb_transport_error. */

/* Frame types (enum qb_frame_type) and QB_MAX_STREAMS_LIMIT: qburst/frame.h. */

/*
 * A chunk: chunk_size bytes of one stream at a chunk-aligned offset `base`.
 * map[0..w) and map[w..2w) (w = chunk_size / 64) are two bitmaps with one bit
 * per byte: received bytes (receive side; only meaningful at or above the
 * contiguous point), or acknowledged and lost bytes (send side). Data follows.
 * A map is zeroed on its first write only: in-order traffic never pays for it.
 */
struct qb_chunk {
	struct qb_chunk *next;
	/* Send side: the chunk's bytes live at ext, in the application's memory
	 * (qb_sbuf_append_ref), not in the data area; NULL otherwise. */
	const uint8_t *ext;
	uint64_t base;
	uint32_t valid; /* bit k: map k was zeroed (a map never written reads as 0) */
	uint32_t flags; /* QB_CHUNK_* */
	/* Send side, referenced: how many chunks before this one continue
	 * into it (each one's ext + chunk size is the next one's ext, same
	 * flags), so that a span finds its end without walking the list
	 * (qb_sbuf_peek_new); saturates. 0 for a pool chunk. */
	uint32_t chain;
	uint64_t map[];
};

/* ext points into memory the application lets the sender borrow from
 * (qb_streams_write_ref_gap): the QB_SEND_GAP bytes before any of its bytes
 * are writable. */
#define QB_CHUNK_EXT_RW 0x1u

static inline uint32_t
qb_chunk_words(uint32_t cs)
{
	return cs / 64;
}

static inline uint8_t *
qb_chunk_data(struct qb_chunk *c, uint32_t cs)
{
	return (uint8_t *)(c->map + 2 * qb_chunk_words(cs));
}

/* Receive buffer (buf.c). */
int qb_rbuf_write(struct qb_rbuf *rb, struct qb_stream_pools *p, uint64_t off, const uint8_t *data,
                  size_t len);
size_t qb_rbuf_peek(const struct qb_rbuf *rb, uint32_t cs, const uint8_t **data);
void qb_rbuf_consume(struct qb_rbuf *rb, struct qb_stream_pools *p, size_t n);
void qb_rbuf_free(struct qb_rbuf *rb, struct qb_stream_pools *p);

/* Send buffer (buf.c). */
size_t qb_sbuf_append(struct qb_sbuf *sb, struct qb_stream_pools *p, const uint8_t *data,
                      size_t len);
size_t qb_sbuf_append_ref(struct qb_sbuf *sb, struct qb_stream_pools *p, const uint8_t *data,
                          size_t len, bool writable);
/* The next lost / new span: *data, its length, and in *gap the bytes just
 * before *data the sender may borrow (struct qb_send_span). */
bool qb_sbuf_peek_lost(struct qb_sbuf *sb, uint32_t cs, size_t max, uint64_t *off,
                       const uint8_t **data, size_t *len, uint8_t *gap);
size_t qb_sbuf_peek_new(struct qb_sbuf *sb, uint32_t cs, uint64_t limit, size_t max,
                        const uint8_t **data, uint8_t *gap);
void qb_sbuf_commit(struct qb_sbuf *sb, uint32_t cs, uint64_t off, size_t len);
void qb_sbuf_on_acked(struct qb_sbuf *sb, struct qb_stream_pools *p, uint64_t off, uint64_t len);
void qb_sbuf_on_lost(struct qb_sbuf *sb, uint32_t cs, uint64_t off, uint64_t len);
void qb_sbuf_free(struct qb_sbuf *sb, struct qb_stream_pools *p);

/* Where a stream sits in the transmit scheduling lists. */
enum qb_sq { QB_SQ_NONE, QB_SQ_SEND, QB_SQ_BLOCKED };

/* Per-stream pending control frames. */
#define QB_SC_RESET_STREAM        0x1
#define QB_SC_STOP_SENDING        0x2
#define QB_SC_MAX_STREAM_DATA     0x4
#define QB_SC_STREAM_DATA_BLOCKED 0x8

struct qb_stream {
	uint64_t id;
	struct qb_rbuf rb;
	struct qb_sbuf sb;
	/* Receive side (RFC 9000 §3.2, §4). */
	uint64_t rx_highest;     /* one past the highest byte received */
	uint64_t rx_final;       /* final size, UINT64_MAX until known */
	uint64_t rx_max;         /* MAX_STREAM_DATA we advertised */
	uint64_t rx_window;      /* current receive window */
	uint64_t rx_last_update; /* ns of the last window update (0: none) */
	uint64_t rx_err;         /* the peer's RESET_STREAM code */
	uint64_t stop_err;       /* our STOP_SENDING code */
	/* Send side (RFC 9000 §3.1, §4). */
	uint64_t tx_max;        /* the peer's MAX_STREAM_DATA */
	uint64_t tx_blocked_at; /* limit a STREAM_DATA_BLOCKED was queued for */
	uint64_t tx_err;        /* our RESET_STREAM code */
	uint64_t tx_final;      /* final size sent in RESET_STREAM */
	uint64_t peer_stop_err; /* the peer's STOP_SENDING code */
	uint8_t rx_state;       /* enum qb_recv_state */
	uint8_t tx_state;       /* enum qb_send_state */
	uint8_t ctrl;           /* QB_SC_* */
	uint8_t sq;             /* enum qb_sq */
	bool fin_set;           /* the application wrote the FIN (at sb.end) */
	bool fin_pending;       /* the FIN must be sent (first time or again) */
	bool fin_acked;
	bool stop_received;
	bool rx_discard;    /* the application stopped reading */
	bool write_blocked; /* a write came up short: tell when room returns */
	uint8_t events;     /* QB_STREAM_EV_* not yet taken by the application */
	TAILQ_ENTRY(qb_stream) sq_link;
	TAILQ_ENTRY(qb_stream) ctrl_link;
	TAILQ_ENTRY(qb_stream) ev_link; /* in ev_q while events != 0 */
};

TAILQ_HEAD(qb_stream_list, qb_stream);

/* Connection-level pending control frames. */
#define QB_MC_MAX_DATA         0x01
#define QB_MC_DATA_BLOCKED     0x02
#define QB_MC_MAX_STREAMS_BIDI 0x04
#define QB_MC_MAX_STREAMS_UNI  0x08
#define QB_MC_SBLOCKED_BIDI    0x10
#define QB_MC_SBLOCKED_UNI     0x20

/* Stream table slots at creation: it doubles as streams open (streams.c). */
#define QB_STREAMS_TABLE_START 16

/* Index of the per-direction arrays. */
#define QB_DIR_BIDI 0
#define QB_DIR_UNI  1

struct qb_streams {
	struct qb_stream_pools *pools;
	struct qb_streams_config cfg;
	/* The peer's initial_max_stream_data_* (RFC 9000 §18.2), for new streams:
	 * all a manager keeps of its transport parameters. */
	struct {
		uint64_t bidi_local, bidi_remote, uni;
	} peer;
	struct qb_stream **table; /* open addressing, linear probing */
	struct qb_stream *last;   /* last stream looked up (calls come in runs) */
	uint32_t mask;            /* table size - 1 */
	uint32_t table_max;       /* the size the limits can need (half load) */
	uint32_t count;           /* streams in the table */
	uint32_t local_count;     /* locally opened streams in the table */
	uint64_t srtt;            /* ns, for auto-tuning */
	/* Stream counts per direction (RFC 9000 §4.6). */
	uint64_t local_opened[2];     /* streams we opened */
	uint64_t local_limit[2];      /* the peer's MAX_STREAMS */
	uint64_t local_blocked_at[2]; /* limit a STREAMS_BLOCKED was queued for */
	uint64_t remote_opened[2];    /* streams the peer opened (implicitly too) */
	uint64_t remote_closed[2];    /* of those, closed and freed */
	uint64_t remote_limit[2];     /* MAX_STREAMS we advertised */
	/* Connection flow control (RFC 9000 §4.1). */
	struct {
		uint64_t max, window, cap, highest, consumed, last_update;
	} rx;
	struct {
		uint64_t max, used, blocked_at;
	} tx;
	uint8_t ctrl;                    /* QB_MC_* */
	struct qb_stream_list send_q;    /* streams with something to send */
	struct qb_stream_list blocked_q; /* streams with new data, connection-blocked */
	struct qb_stream_list ctrl_q;    /* streams with control frames due */
	struct qb_stream_list ev_q;      /* streams with application events */
};

/* The send side can still send (Ready, Send or Data Sent). */
static inline bool
qb_stream_tx_active(const struct qb_stream *s)
{
	return s->tx_state == QB_SEND_READY || s->tx_state == QB_SEND_SEND ||
	       s->tx_state == QB_SEND_DATA_SENT;
}

struct qb_stream *qb_streams_lookup(const struct qb_streams *m, uint64_t id);
int qb_streams_frame_stream(struct qb_streams *m, uint64_t id, bool recv_frame,
                            struct qb_stream **out, uint64_t *terr);
void qb_streams_sched(struct qb_streams *m, struct qb_stream *s);
void qb_streams_ctrl_set(struct qb_streams *m, struct qb_stream *s, uint8_t flag);
void qb_streams_ctrl_clear(struct qb_streams *m, struct qb_stream *s, uint8_t flag);
void qb_streams_event(struct qb_streams *m, struct qb_stream *s, uint8_t ev);
bool qb_streams_maybe_close(struct qb_streams *m, struct qb_stream *s);
void qb_streams_do_reset(struct qb_streams *m, struct qb_stream *s, uint64_t error_code);
void qb_streams_conn_consumed(struct qb_streams *m, uint64_t n, uint64_t now, bool tune);
void qb_streams_autotune(uint64_t *window, uint64_t *last, uint64_t cap, uint64_t now,
                         uint64_t srtt);

#endif
