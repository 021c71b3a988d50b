/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport parameters (RFC 9000 §18, RFC 9368 §3, RFC 9221 §3, RFC 9287 §3).
 * The encoding is a sequence of (id varint, length varint, value).
 */
#include <string.h>

#include "qburst/tp.h"
#include "qburst/varint.h"

#define SERVER_ONLY                                                                \
	(QB_TP_BIT(QB_TP_ORIGINAL_DCID) | QB_TP_BIT(QB_TP_STATELESS_RESET_TOKEN) | \
	 QB_TP_BIT(QB_TP_PREFERRED_ADDRESS) | QB_TP_BIT(QB_TP_RETRY_SCID))

#define PREF_ADDR_FIXED (4 + 2 + 16 + 2 + 1 + QB_STATELESS_RESET_TOKEN_LEN)

void
qb_tp_default(struct qb_tp *tp)
{
	memset(tp, 0, sizeof(*tp));
	tp->max_udp_payload_size = 65527;
	tp->ack_delay_exponent = 3;
	tp->max_ack_delay = 25;
	tp->active_connection_id_limit = 2;
}

/* The integer parameters: where each lives in the struct and its default. */
struct int_param {
	uint16_t id;
	uint16_t off;
	uint64_t def;
};

static const struct int_param int_params[] = {
        {QB_TP_MAX_IDLE_TIMEOUT, offsetof(struct qb_tp, max_idle_timeout), 0},
        {QB_TP_MAX_UDP_PAYLOAD_SIZE, offsetof(struct qb_tp, max_udp_payload_size), 65527},
        {QB_TP_INITIAL_MAX_DATA, offsetof(struct qb_tp, initial_max_data), 0},
        {QB_TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
         offsetof(struct qb_tp, initial_max_stream_data_bidi_local), 0},
        {QB_TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
         offsetof(struct qb_tp, initial_max_stream_data_bidi_remote), 0},
        {QB_TP_INITIAL_MAX_STREAM_DATA_UNI, offsetof(struct qb_tp, initial_max_stream_data_uni), 0},
        {QB_TP_INITIAL_MAX_STREAMS_BIDI, offsetof(struct qb_tp, initial_max_streams_bidi), 0},
        {QB_TP_INITIAL_MAX_STREAMS_UNI, offsetof(struct qb_tp, initial_max_streams_uni), 0},
        {QB_TP_ACK_DELAY_EXPONENT, offsetof(struct qb_tp, ack_delay_exponent), 3},
        {QB_TP_MAX_ACK_DELAY, offsetof(struct qb_tp, max_ack_delay), 25},
        {QB_TP_ACTIVE_CONNECTION_ID_LIMIT, offsetof(struct qb_tp, active_connection_id_limit), 2},
        {QB_TP_MAX_DATAGRAM_FRAME_SIZE, offsetof(struct qb_tp, max_datagram_frame_size), 0},
};
#define N_INT_PARAMS (sizeof(int_params) / sizeof(int_params[0]))

static inline uint64_t *
int_field(struct qb_tp *tp, const struct int_param *ip)
{
	return (uint64_t *)((uint8_t *)tp + ip->off);
}

/* RFC 9000 §18.2 value ranges. */
static bool
int_valid(uint16_t id, uint64_t v)
{
	switch (id) {
	case QB_TP_MAX_UDP_PAYLOAD_SIZE:
		return v >= 1200;
	case QB_TP_INITIAL_MAX_STREAMS_BIDI:
	case QB_TP_INITIAL_MAX_STREAMS_UNI:
		return v <= (UINT64_C(1) << 60);
	case QB_TP_ACK_DELAY_EXPONENT:
		return v <= 20;
	case QB_TP_MAX_ACK_DELAY:
		return v < (UINT64_C(1) << 14);
	case QB_TP_ACTIVE_CONNECTION_ID_LIMIT:
		return v >= 2;
	}
	return true;
}

static const struct int_param *
find_int(uint64_t id)
{
	for (size_t i = 0; i < N_INT_PARAMS; i++)
		if (int_params[i].id == id)
			return &int_params[i];
	return NULL;
}

/* ---- Encoding ------------------------------------------------------------- */

struct wbuf {
	uint8_t *p, *end;
	bool nobuf;
};

/* Reserves the id and length of a parameter and returns where its value goes. */
static uint8_t *
put_hdr(struct wbuf *w, uint64_t id, size_t vlen)
{
	size_t n = qb_varint_len(id) + qb_varint_len(vlen) + vlen;
	if (w->nobuf || (size_t)(w->end - w->p) < n) {
		w->nobuf = true;
		return NULL;
	}
	w->p = qb_varint_put(w->p, id);
	w->p = qb_varint_put(w->p, vlen);
	uint8_t *v = w->p;
	w->p += vlen;
	return v;
}

static void
put_bytes(struct wbuf *w, uint64_t id, const uint8_t *b, size_t n)
{
	uint8_t *v = put_hdr(w, id, n);
	if (v && n)
		memcpy(v, b, n);
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
qb_tp_encode(uint8_t *buf, size_t cap, const struct qb_tp *tp, bool is_server)
{
	struct wbuf w = {buf, buf + cap, false};
	uint32_t pr = tp->present;

	if (!is_server && (pr & SERVER_ONLY))
		return QB_ERR_ARG;
	if (tp->original_dcid.len > QB_MAX_CID_LEN || tp->initial_scid.len > QB_MAX_CID_LEN ||
	    tp->retry_scid.len > QB_MAX_CID_LEN || tp->preferred_address.cid.len > QB_MAX_CID_LEN)
		return QB_ERR_ARG;

	if (pr & QB_TP_BIT(QB_TP_ORIGINAL_DCID))
		put_bytes(&w, QB_TP_ORIGINAL_DCID, tp->original_dcid.id, tp->original_dcid.len);
	if (pr & QB_TP_BIT(QB_TP_STATELESS_RESET_TOKEN))
		put_bytes(&w, QB_TP_STATELESS_RESET_TOKEN, tp->stateless_reset_token,
		          QB_STATELESS_RESET_TOKEN_LEN);
	for (size_t i = 0; i < N_INT_PARAMS; i++) {
		const struct int_param *ip = &int_params[i];
		uint64_t v = *int_field((struct qb_tp *)tp, ip);
		if (!(pr & QB_TP_BIT(ip->id)) && v == ip->def)
			continue;
		if (v > QB_VARINT_MAX || !int_valid(ip->id, v))
			return QB_ERR_ARG;
		uint8_t *p = put_hdr(&w, ip->id, qb_varint_len(v));
		if (p)
			qb_varint_put(p, v);
	}
	if ((pr & QB_TP_BIT(QB_TP_DISABLE_ACTIVE_MIGRATION)) || tp->disable_active_migration)
		put_hdr(&w, QB_TP_DISABLE_ACTIVE_MIGRATION, 0);
	if (pr & QB_TP_BIT(QB_TP_PREFERRED_ADDRESS)) {
		const struct qb_tp_preferred_address *pa = &tp->preferred_address;
		if (pa->cid.len == 0)
			return QB_ERR_ARG; /* RFC 9000 §18.2 */
		uint8_t *p = put_hdr(&w, QB_TP_PREFERRED_ADDRESS, PREF_ADDR_FIXED + pa->cid.len);
		if (p) {
			memcpy(p, pa->ipv4, 4);
			put_u16(p + 4, pa->ipv4_port);
			memcpy(p + 6, pa->ipv6, 16);
			put_u16(p + 22, pa->ipv6_port);
			p[24] = pa->cid.len;
			memcpy(p + 25, pa->cid.id, pa->cid.len);
			memcpy(p + 25 + pa->cid.len, pa->reset_token, QB_STATELESS_RESET_TOKEN_LEN);
		}
	}
	if (pr & QB_TP_BIT(QB_TP_INITIAL_SCID))
		put_bytes(&w, QB_TP_INITIAL_SCID, tp->initial_scid.id, tp->initial_scid.len);
	if (pr & QB_TP_BIT(QB_TP_RETRY_SCID))
		put_bytes(&w, QB_TP_RETRY_SCID, tp->retry_scid.id, tp->retry_scid.len);
	if (pr & QB_TP_BIT(QB_TP_VERSION_INFORMATION)) {
		size_t n = tp->version_info.n_available;
		if (n > QB_TP_MAX_VERSIONS || tp->version_info.chosen == 0)
			return QB_ERR_ARG;
		uint8_t *p = put_hdr(&w, QB_TP_VERSION_INFORMATION, 4 + 4 * n);
		if (p) {
			put_u32(p, tp->version_info.chosen);
			for (size_t i = 0; i < n; i++) {
				if (tp->version_info.available[i] == 0)
					return QB_ERR_ARG;
				put_u32(p + 4 + 4 * i, tp->version_info.available[i]);
			}
		}
	}
	if ((pr & QB_TP_BIT(QB_TP_GREASE_QUIC_BIT)) || tp->grease_quic_bit)
		put_hdr(&w, QB_TP_GREASE_QUIC_BIT, 0);
	if (w.nobuf)
		return QB_ERR_NOBUF;
	return (int)(w.p - buf);
}

/* ---- Decoding ------------------------------------------------------------- */

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
get_cid(struct qb_tp_cid *c, const uint8_t *v, uint64_t n)
{
	if (n > QB_MAX_CID_LEN)
		return QB_ERR_INVALID;
	c->len = (uint8_t)n;
	if (n)
		memcpy(c->id, v, n);
	return 0;
}

/* RFC 9368 §4: a multiple of 4, at least the Chosen Version, no zero version. */
static int
get_version_info(struct qb_tp *tp, const uint8_t *v, uint64_t n, bool from_server)
{
	if (n < 4 || n % 4 != 0)
		return QB_ERR_INVALID;
	tp->version_info.chosen = get_u32(v);
	if (tp->version_info.chosen == 0)
		return QB_ERR_INVALID;
	bool chosen_listed = false;
	tp->version_info.n_available = 0;
	for (uint64_t i = 4; i < n; i += 4) {
		uint32_t a = get_u32(v + i);
		if (a == 0)
			return QB_ERR_INVALID;
		chosen_listed |= a == tp->version_info.chosen;
		if (tp->version_info.n_available < QB_TP_MAX_VERSIONS)
			tp->version_info.available[tp->version_info.n_available++] = a;
	}
	/* A server must find the client's Chosen Version in its Available Versions. */
	if (!from_server && !chosen_listed)
		return QB_ERR_INVALID;
	return 0;
}

static int
get_preferred_address(struct qb_tp_preferred_address *pa, const uint8_t *v, uint64_t n)
{
	if (n < PREF_ADDR_FIXED)
		return QB_ERR_INVALID;
	uint8_t cl = v[24];
	/* RFC 9000 §18.2: an empty CID is an error, as is any length mismatch. */
	if (cl == 0 || cl > QB_MAX_CID_LEN || n != (uint64_t)PREF_ADDR_FIXED + cl)
		return QB_ERR_INVALID;
	memcpy(pa->ipv4, v, 4);
	pa->ipv4_port = get_u16(v + 4);
	memcpy(pa->ipv6, v + 6, 16);
	pa->ipv6_port = get_u16(v + 22);
	pa->cid.len = cl;
	memcpy(pa->cid.id, v + 25, cl);
	memcpy(pa->reset_token, v + 25 + cl, QB_STATELESS_RESET_TOKEN_LEN);
	return 0;
}

static int
decode_one(struct qb_tp *tp, uint64_t id, const uint8_t *v, uint64_t n, bool from_server)
{
	const struct int_param *ip = find_int(id);
	if (ip) {
		/* The varint must fill the value exactly. */
		const uint8_t *p = v;
		uint64_t x;
		if (qb_varint_get(&p, v + n, &x) < 0 || (uint64_t)(p - v) != n)
			return QB_ERR_INVALID;
		if (!int_valid(ip->id, x))
			return QB_ERR_INVALID;
		*int_field(tp, ip) = x;
		return 0;
	}
	switch (id) {
	case QB_TP_ORIGINAL_DCID:
		return get_cid(&tp->original_dcid, v, n);
	case QB_TP_INITIAL_SCID:
		return get_cid(&tp->initial_scid, v, n);
	case QB_TP_RETRY_SCID:
		return get_cid(&tp->retry_scid, v, n);
	case QB_TP_STATELESS_RESET_TOKEN:
		if (n != QB_STATELESS_RESET_TOKEN_LEN)
			return QB_ERR_INVALID;
		memcpy(tp->stateless_reset_token, v, QB_STATELESS_RESET_TOKEN_LEN);
		return 0;
	case QB_TP_DISABLE_ACTIVE_MIGRATION:
		if (n != 0)
			return QB_ERR_INVALID;
		tp->disable_active_migration = true;
		return 0;
	case QB_TP_GREASE_QUIC_BIT:
		if (n != 0)
			return QB_ERR_INVALID; /* RFC 9287 §3 */
		tp->grease_quic_bit = true;
		return 0;
	case QB_TP_PREFERRED_ADDRESS:
		return get_preferred_address(&tp->preferred_address, v, n);
	case QB_TP_VERSION_INFORMATION:
		return get_version_info(tp, v, n, from_server);
	}
	return 0;
}

static bool
known(uint64_t id)
{
	return id <= QB_TP_VERSION_INFORMATION || id == QB_TP_MAX_DATAGRAM_FRAME_SIZE ||
	       id == QB_TP_GREASE_QUIC_BIT;
}

int
qb_tp_decode(const uint8_t *buf, size_t len, bool from_server, struct qb_tp *tp, uint64_t *terr)
{
	const uint8_t *p = buf, *end = buf + len;
	int rc = 0;

	qb_tp_default(tp);
	*terr = QB_TE_TRANSPORT_PARAMETER_ERROR;
	while (p < end) {
		uint64_t id, n;
		if (qb_varint_get(&p, end, &id) < 0 || qb_varint_get(&p, end, &n) < 0 ||
		    n > (uint64_t)(end - p))
			return QB_ERR_TRUNCATED;
		const uint8_t *v = p;
		p += n;
		if (!known(id))
			continue; /* RFC 9000 §18.1: unknown and reserved ones are ignored */
		uint32_t bit = QB_TP_BIT(id);
		if (tp->present & bit)
			return QB_ERR_INVALID; /* RFC 9000 §7.4: duplicate */
		if (!from_server && (bit & SERVER_ONLY))
			return QB_ERR_INVALID; /* RFC 9000 §18.2 */
		tp->present |= bit;
		rc = decode_one(tp, id, v, n, from_server);
		if (rc < 0)
			return rc;
	}
	*terr = QB_TE_NO_ERROR;
	return 0;
}
