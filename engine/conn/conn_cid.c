/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Glue between the connection and its connection IDs (qburst/cid.h): ours
 * from the engine's generator hook (or the connection's seeded PRNG), the
 * peer's from its first packet and NEW_CONNECTION_ID frames (RFC 9000 §5.1).
 */
#include <string.h>

#include "conn/conn_internal.h"

/* The default generator: the connection's PRNG, so tests are reproducible. */
static int
gen_prng(void *arg, uint64_t seq, uint8_t *cid, size_t len)
{
	(void)seq;
	conn_cid_new(arg, cid, len);
	return 0;
}

int
conn_cid_init(struct qb_conn *c)
{
	uint8_t key[QB_CID_RESET_KEY_LEN];

	if (c->cfg.reset_key != NULL)
		memcpy(key, c->cfg.reset_key, sizeof(key));
	else
		conn_cid_new(c, key, sizeof(key));
	struct qb_cid_local_cfg lc = {
	        .cid_len = c->cfg.cid_len,
	        .gen = c->cfg.cid_gen != NULL ? c->cfg.cid_gen : gen_prng,
	        .gen_arg = c->cfg.cid_gen != NULL ? c->cfg.cid_gen_ctx : c,
	        .reset_key = key,
	};
	int rc = qb_cid_local_init(&c->lcid, &lc);
	memset(key, 0, sizeof(key));
	if (rc != 0)
		return rc;
	const struct qb_cid_local_entry *e = qb_cid_local_get(&c->lcid, 0);
	if (e == NULL)
		return QB_ERR_STATE;
	memcpy(c->scid, e->cid.id, e->cid.len);
	c->scid_len = e->cid.len;
	return 0;
}

/* The peer's first SCID becomes its CID sequence 0 (RFC 9000 §5.1.1, §7.2). */
int
conn_cid_set_peer(struct qb_conn *c, const uint8_t *cid, size_t len)
{
	int rc = qb_cid_peer_init(&c->pcid, QB_CONN_PEER_CID_LIMIT, cid, len);
	if (rc == 0) {
		c->pcid_set = true;
		memcpy(c->peer_scid, cid, len);
		c->peer_scid_len = (uint8_t)len;
	}
	return rc;
}

const uint8_t *
conn_dcid(const struct qb_conn *c, size_t *len)
{
	if (!c->pcid_set) {
		*len = c->odcid_len;
		return c->odcid;
	}
	const struct qb_cid *d = qb_cid_peer_active(&c->pcid);
	if (d == NULL) {
		*len = 0;
		return NULL;
	}
	*len = d->len;
	return d->id;
}

/*
 * NEW_CONNECTION_ID or RETIRE_CONNECTION_ID frames wait to be sent. Asked
 * for every datagram: the CID sets keep counts of their pending frames, so
 * this is two loads, not a scan of both tables.
 */
bool
conn_cid_pending(const struct qb_conn *c)
{
	return c->lcid.npending != 0 || (c->pcid_set && c->pcid.rpending != 0);
}

const uint8_t *
qb_conn_dcid(const struct qb_conn *c, size_t *len)
{
	return conn_dcid(c, len);
}

const struct qb_cid_local *
qb_conn_local_cids(const struct qb_conn *c)
{
	return &c->lcid;
}

size_t
qb_conn_peer_cid_count(const struct qb_conn *c)
{
	return c->pcid_set ? qb_cid_peer_count(&c->pcid) : 0;
}
