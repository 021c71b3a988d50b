/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection table: CID -> connection handle, open addressing with linear
 * probing and backward-shift deletion. Fixed storage from create; the
 * per-packet operations neither allocate nor lock.
 */

#include <stdlib.h>
#include <string.h>

#include "qb_steer.h"

static inline uint64_t
mix64(uint64_t x)
{
	/* The splitmix64 finaliser: every input bit affects every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t
qb_steer_hash(uint64_t seed, const uint8_t *p, size_t len)
{
	uint64_t h = mix64(seed ^ (0x9e3779b97f4a7c15ull * (len + 1)));
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
	}
	if (i < len) {
		uint64_t w = 0;
		memcpy(&w, p + i, len - i);
		h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
	}
	return mix64(h);
}

struct qb_ctable *
qb_ctable_create(uint32_t max_entries, uint64_t seed)
{
	struct qb_ctable *t;
	uint64_t slots = 2;

	if (max_entries == 0 || max_entries > (1u << 30))
		return NULL;
	while (slots < 2 * (uint64_t)max_entries)
		slots <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	t->max_entries = max_entries;
	t->mask = (uint32_t)(slots - 1);
	t->seed = seed;
	return t;
}

void
qb_ctable_free(struct qb_ctable *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

static inline bool
slot_is(const struct qb_ctable_slot *s, uint32_t h, const uint8_t *cid, size_t len)
{
	return s->hash == h && s->len == len && memcmp(s->cid, cid, len) == 0;
}

/* The slot holding cid, or the free slot ending its probe sequence. */
static uint32_t
probe(const struct qb_ctable *t, uint32_t h, const uint8_t *cid, size_t len)
{
	uint32_t i = h & t->mask;

	/* Terminates: at most half of the slots are used. */
	while (t->slots[i].conn != NULL && !slot_is(&t->slots[i], h, cid, len))
		i = (i + 1) & t->mask;
	return i;
}

int
qb_ctable_insert(struct qb_ctable *t, const uint8_t *cid, size_t len, void *conn)
{
	uint32_t h, i;

	if (len == 0 || len > QB_MAX_CID_LEN || conn == NULL)
		return QB_ERR_ARG;
	h = (uint32_t)qb_steer_hash(t->seed, cid, len);
	i = probe(t, h, cid, len);
	if (t->slots[i].conn != NULL)
		return QB_ERR_STATE;
	if (t->n >= t->max_entries) {
		t->full++;
		return QB_ERR_NOMEM;
	}
	t->slots[i].conn = conn;
	t->slots[i].hash = h;
	t->slots[i].len = (uint8_t)len;
	memcpy(t->slots[i].cid, cid, len);
	t->n++;
	return 0;
}

void *
qb_ctable_lookup(const struct qb_ctable *t, const uint8_t *cid, size_t len)
{
	uint32_t h;

	if (len == 0 || len > QB_MAX_CID_LEN)
		return NULL;
	h = (uint32_t)qb_steer_hash(t->seed, cid, len);
	return t->slots[probe(t, h, cid, len)].conn;
}

/*
 * Empty slot i and close the gap: move back every later entry of the run
 * whose home slot is not cyclically within (i, j], so every probe sequence
 * stays unbroken without tombstones.
 */
static void
erase_at(struct qb_ctable *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		j = (j + 1) & t->mask;
		if (t->slots[j].conn == NULL)
			break;
		uint32_t home = t->slots[j].hash & t->mask;
		/* Distance from home to j, and from i to j, cyclically. */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->n--;
}

int
qb_ctable_remove(struct qb_ctable *t, const uint8_t *cid, size_t len)
{
	uint32_t h, i;

	if (len == 0 || len > QB_MAX_CID_LEN)
		return QB_ERR_STATE;
	h = (uint32_t)qb_steer_hash(t->seed, cid, len);
	i = probe(t, h, cid, len);
	if (t->slots[i].conn == NULL)
		return QB_ERR_STATE;
	erase_at(t, i);
	return 0;
}

unsigned int
qb_ctable_remove_conn(struct qb_ctable *t, const void *conn)
{
	unsigned int n = 0;
	uint32_t i = 0;

	/*
	 * A backward shift may move an entry of conn from beyond the end of
	 * the array into a slot already passed (wrap-around): a second pass
	 * over the start catches those.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i <= t->mask;) {
			if (t->slots[i].conn == conn) {
				erase_at(t, i);
				n++;
				continue; /* slot i now holds a shifted entry */
			}
			i++;
		}
	}
	return n;
}
