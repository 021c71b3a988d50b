/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "qburst/error.h"
#include "qburst/pool.h"

int
qb_pool_init(struct qb_pool *p, size_t obj_size, uint32_t capacity)
{
	*p = (struct qb_pool){0};
	if (obj_size == 0 || capacity == 0)
		return QB_ERR_ARG;
	/* Round up so every object in the slab stays 16-byte aligned. */
	obj_size = (obj_size + 15) & ~(size_t)15;
	if (obj_size > SIZE_MAX / capacity)
		return QB_ERR_ARG;
	p->obj_size = obj_size;
	p->capacity = capacity;
#ifndef QB_POOL_MALLOC
	p->slab = aligned_alloc(16, obj_size * capacity);
	if (p->slab == NULL)
		return QB_ERR_NOMEM;
	/* Thread the free list in address order so the first gets are adjacent. */
	for (uint32_t i = capacity; i-- > 0;) {
		void **obj = (void **)(p->slab + (size_t)i * obj_size);
		*obj = p->free_list;
		p->free_list = obj;
	}
#endif
	return 0;
}

void
qb_pool_fini(struct qb_pool *p)
{
	free(p->slab);
	p->slab = NULL;
	p->free_list = NULL;
}

void *
qb_pool_get(struct qb_pool *p)
{
	void *obj;

	if (p->in_use >= p->capacity) {
		p->failures++;
		return NULL;
	}
#ifdef QB_POOL_MALLOC
	obj = aligned_alloc(16, p->obj_size);
	if (obj == NULL) {
		p->failures++;
		return NULL;
	}
#else
	obj = p->free_list;
	p->free_list = *(void **)obj;
#endif
	p->in_use++;
	p->gets++;
	if (p->in_use > p->high_water)
		p->high_water = p->in_use;
	return obj;
}

void
qb_pool_put(struct qb_pool *p, void *obj)
{
	if (obj == NULL)
		return;
	p->in_use--;
#ifdef QB_POOL_MALLOC
	free(obj);
#else
	*(void **)obj = p->free_list;
	p->free_list = obj;
#endif
}
