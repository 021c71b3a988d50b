/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef QBURST_POOL_H
#define QBURST_POOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fixed-size object pool: every object has the same size, the pool's
 * capacity is fixed when it is created (start-up), and get/put are O(1)
 * (a LIFO free list threaded through the free objects). Nothing is allocated
 * after qb_pool_init(): exhaustion makes qb_pool_get() return NULL and counts
 * a failure; callers report QB_ERR_NOMEM and carry on.
 *
 * With the build option -Dpool_malloc=true (QB_POOL_MALLOC defined) every get
 * is a malloc and every put a free, so AddressSanitizer sees each object on
 * its own (use after put, overruns); the capacity limit and the counters
 * still apply.
 *
 * Not thread-safe: a pool belongs to one lcore (shared-nothing, BRIEF §3).
 */
struct qb_pool {
	size_t obj_size;     /* bytes per object, rounded up to 16 */
	uint32_t capacity;   /* objects the pool can hand out at once */
	uint32_t in_use;     /* objects handed out now */
	uint32_t high_water; /* largest in_use seen */
	uint64_t gets;       /* successful gets */
	uint64_t failures;   /* gets refused because the pool was empty */
	void *free_list;     /* next free object (slab mode) */
	unsigned char *slab; /* capacity * obj_size bytes (slab mode) */
};

/*
 * Create a pool of capacity objects of obj_size bytes (obj_size >= 1,
 * capacity >= 1). The slab is allocated here, once. Objects are 16-byte
 * aligned. Returns 0, QB_ERR_ARG for a zero size or capacity (or one whose
 * product overflows), QB_ERR_NOMEM if the slab cannot be allocated.
 */
int qb_pool_init(struct qb_pool *p, size_t obj_size, uint32_t capacity);

/* Free the slab. Objects still in use become invalid. Safe on a zeroed pool. */
void qb_pool_fini(struct qb_pool *p);

/* An object (contents undefined), or NULL if capacity objects are in use. */
void *qb_pool_get(struct qb_pool *p);

/* Return obj (from qb_pool_get on this pool; NULL is ignored) to the pool. */
void qb_pool_put(struct qb_pool *p, void *obj);

/* Objects that can still be handed out. */
static inline uint32_t
qb_pool_avail(const struct qb_pool *p)
{
	return p->capacity - p->in_use;
}

#endif
