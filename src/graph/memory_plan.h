/* The memory planner: places buffers with known lifetimes in one arena so that buffers alive at
 * the same time never overlap, reusing space by liveness. */
#ifndef EML_GRAPH_MEMORY_PLAN_H
#define EML_GRAPH_MEMORY_PLAN_H

#include "core/core.h"

typedef struct eml_buffer_req {
    uint64_t bytes;     /* size; placed at a multiple of EML_ALIGN */
    int32_t first;      /* first step the buffer is alive (its producer) */
    int32_t last;       /* last step it is read (inclusive) */
    uint64_t offset;    /* out: offset in the arena */
} eml_buffer_req;

/* Greedy by size (largest first, lowest offset that fits beside every buffer whose lifetime
 * overlaps). Fills each req's offset; *arena_bytes is the end of the highest buffer, *sum_bytes
 * the plain sum of all buffers (aligned). Returns EML_OK or EML_ENOMEM (scratch). */
eml_status eml__memory_plan(eml_env *env, eml_buffer_req *reqs, size_t n, uint64_t *arena_bytes,
                            uint64_t *sum_bytes);

#endif
