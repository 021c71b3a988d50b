/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timer wheel: one slot per tick for n_slots ticks ahead, an overflow list
 * beyond. See qb_steer.h for the costs. Invariant: an entry in slot s has the
 * tick number dtick with cur <= dtick < cur + n_slots and dtick % n_slots ==
 * s; an entry in the overflow list has dtick >= the next revolution
 * boundary at or after cur.
 */

#include <stdlib.h>

#include "qb_steer.h"

struct qb_twheel *
qb_twheel_create(uint32_t max_timers, uint32_t n_slots, uint64_t tick, uint64_t now)
{
	struct qb_twheel *w;
	uint32_t n = 2;

	if (max_timers == 0 || max_timers >= QB_TWHEEL_NONE || tick == 0 || n_slots > (1u << 24))
		return NULL;
	while (n < n_slots)
		n <<= 1;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->heads = malloc(((size_t)n + 1) * sizeof(*w->heads));
	w->nodes = calloc(max_timers, sizeof(*w->nodes));
	if (w->heads == NULL || w->nodes == NULL) {
		qb_twheel_free(w);
		return NULL;
	}
	for (uint32_t i = 0; i <= n; i++)
		w->heads[i] = QB_TWHEEL_NONE;
	for (uint32_t i = 0; i < max_timers; i++)
		w->nodes[i].list = QB_TWHEEL_NONE;
	w->tick = tick;
	w->cur = now / tick;
	w->n_slots = n;
	w->max = max_timers;
	return w;
}

void
qb_twheel_free(struct qb_twheel *w)
{
	if (w == NULL)
		return;
	free(w->heads);
	free(w->nodes);
	free(w);
}

static void
unlink_node(struct qb_twheel *w, uint32_t id)
{
	struct qb_twheel_node *n = &w->nodes[id];

	if (n->prev != QB_TWHEEL_NONE)
		w->nodes[n->prev].next = n->next;
	else
		w->heads[n->list] = n->next;
	if (n->next != QB_TWHEEL_NONE)
		w->nodes[n->next].prev = n->prev;
	if (n->list == w->n_slots)
		w->n_overflow--;
	n->list = QB_TWHEEL_NONE;
	w->n_active--;
}

static void
link_node(struct qb_twheel *w, uint32_t id, uint32_t list)
{
	struct qb_twheel_node *n = &w->nodes[id];

	n->list = list;
	n->prev = QB_TWHEEL_NONE;
	n->next = w->heads[list];
	if (n->next != QB_TWHEEL_NONE)
		w->nodes[n->next].prev = id;
	w->heads[list] = id;
	w->n_active++;
	if (list == w->n_slots)
		w->n_overflow++;
}

/* The list for a deadline, given the cursor. */
static uint32_t
list_for(const struct qb_twheel *w, uint64_t deadline)
{
	uint64_t dt = deadline / w->tick;

	if (dt < w->cur)
		dt = w->cur; /* overdue: fires at the next expiry */
	if (dt - w->cur >= w->n_slots)
		return w->n_slots; /* overflow */
	return (uint32_t)(dt & (w->n_slots - 1));
}

int
qb_twheel_schedule(struct qb_twheel *w, uint32_t id, uint64_t deadline, void *arg)
{
	if (id >= w->max)
		return QB_ERR_ARG;
	if (w->nodes[id].list != QB_TWHEEL_NONE)
		unlink_node(w, id);
	w->nodes[id].deadline = deadline;
	w->nodes[id].arg = arg;
	link_node(w, id, list_for(w, deadline));
	return 0;
}

void
qb_twheel_cancel(struct qb_twheel *w, uint32_t id)
{
	if (id < w->max && w->nodes[id].list != QB_TWHEEL_NONE)
		unlink_node(w, id);
}

bool
qb_twheel_pending(const struct qb_twheel *w, uint32_t id)
{
	return id < w->max && w->nodes[id].list != QB_TWHEEL_NONE;
}

/* A revolution begins at w->cur: pull in the overflow entries now in range. */
static void
migrate_overflow(struct qb_twheel *w)
{
	uint32_t id = w->heads[w->n_slots];

	while (id != QB_TWHEEL_NONE) {
		uint32_t next = w->nodes[id].next;
		uint32_t list = list_for(w, w->nodes[id].deadline);
		if (list != w->n_slots) {
			unlink_node(w, id);
			link_node(w, id, list);
		}
		id = next;
	}
}

static void
fire(struct qb_twheel *w, uint32_t id, struct qb_twheel_fired *out)
{
	out->id = id;
	out->arg = w->nodes[id].arg;
	out->deadline = w->nodes[id].deadline;
	unlink_node(w, id);
}

unsigned int
qb_twheel_expire(struct qb_twheel *w, uint64_t now, struct qb_twheel_fired *out, unsigned int max)
{
	uint64_t nt = now / w->tick;
	unsigned int k = 0;

	while (k < max) {
		if (w->cur < nt && w->n_active == w->n_overflow) {
			/*
			 * Every slot is empty: nothing to walk. Without
			 * timers, jump to now; else to the last revolution
			 * boundary not after now (entries overdue by then
			 * land in the cursor's slot and fire below).
			 */
			if (w->n_active == 0) {
				w->cur = nt;
				break;
			}
			uint64_t b = nt & ~(uint64_t)(w->n_slots - 1);
			if (b > w->cur) {
				w->cur = b;
				migrate_overflow(w);
			}
		}
		uint32_t s = (uint32_t)(w->cur & (w->n_slots - 1));
		uint32_t id = w->heads[s];

		if (w->cur < nt) {
			/* A tick wholly past: everything in its slot is due. */
			while (id != QB_TWHEEL_NONE && k < max) {
				uint32_t next = w->nodes[id].next;
				fire(w, id, &out[k++]);
				id = next;
			}
			if (w->heads[s] != QB_TWHEEL_NONE)
				break; /* out is full; resume here next call */
			w->cur++;
			if ((w->cur & (w->n_slots - 1)) == 0)
				migrate_overflow(w);
			continue;
		}
		/* The current tick: only what is due by now. */
		while (id != QB_TWHEEL_NONE && k < max) {
			uint32_t next = w->nodes[id].next;
			if (w->nodes[id].deadline <= now)
				fire(w, id, &out[k++]);
			id = next;
		}
		break;
	}
	return k;
}
