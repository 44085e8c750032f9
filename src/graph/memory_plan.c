/* Greedy-by-size arena placement of buffers with lifetimes (as TFLite's planner does): big
 * buffers first take the lowest gap that no time-overlapping, already placed buffer uses. */
#include <stdlib.h>

#include "graph/memory_plan.h"

static uint64_t align_up(uint64_t x)
{
    return (x + EML_ALIGN - 1) / EML_ALIGN * EML_ALIGN;
}

/* Sort keys carry their own values so that planning is reentrant (sessions plan concurrently). */
typedef struct sort_item {
    uint64_t key;
    int64_t tie;
    size_t index;
} sort_item;

/* larger key first; ties by smaller tie, then index: deterministic */
static int by_key_desc(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    if (x->tie != y->tie)
        return x->tie < y->tie ? -1 : 1;
    return x->index < y->index ? -1 : 1;
}

static int by_key_asc(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

eml_status eml__memory_plan(eml_env *env, eml_buffer_req *reqs, size_t n, uint64_t *arena_bytes,
                            uint64_t *sum_bytes)
{
    *arena_bytes = 0;
    *sum_bytes = 0;
    if (n == 0)
        return EML_OK;
    sort_item *order = eml__calloc(env, n, sizeof(sort_item));
    sort_item *overlap = eml__calloc(env, n, sizeof(sort_item));
    size_t *placed = eml__calloc(env, n, sizeof(size_t));
    if (!order || !overlap || !placed) {
        eml__free(env, order);
        eml__free(env, overlap);
        eml__free(env, placed);
        return EML_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = (sort_item){reqs[i].bytes, reqs[i].first, i};
        *sum_bytes += align_up(reqs[i].bytes);
    }
    qsort(order, n, sizeof(sort_item), by_key_desc);
    size_t n_placed = 0;
    for (size_t k = 0; k < n; k++) {
        eml_buffer_req *r = &reqs[order[k].index];
        uint64_t size = align_up(r->bytes);
        /* the placed buffers alive at the same time, by offset */
        size_t n_overlap = 0;
        for (size_t j = 0; j < n_placed; j++) {
            const eml_buffer_req *p = &reqs[placed[j]];
            if (p->first <= r->last && r->first <= p->last)
                overlap[n_overlap++] = (sort_item){p->offset, 0, placed[j]};
        }
        qsort(overlap, n_overlap, sizeof(sort_item), by_key_asc);
        /* smallest gap that fits between overlapping buffers, else after the last of them */
        uint64_t offset = 0;
        uint64_t best = UINT64_MAX, best_gap = UINT64_MAX;
        for (size_t j = 0; j < n_overlap; j++) {
            const eml_buffer_req *p = &reqs[overlap[j].index];
            if (p->offset >= offset) {
                uint64_t gap = p->offset - offset;
                if (gap >= size && gap < best_gap) {
                    best = offset;
                    best_gap = gap;
                }
            }
            uint64_t end = p->offset + align_up(p->bytes);
            if (end > offset)
                offset = end;
        }
        r->offset = best != UINT64_MAX ? best : offset;
        if (r->offset + size > *arena_bytes)
            *arena_bytes = r->offset + size;
        placed[n_placed++] = order[k].index;
    }
    eml__free(env, overlap);
    eml__free(env, order);
    eml__free(env, placed);
    return EML_OK;
}
