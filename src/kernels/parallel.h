/* Parallel loops over contiguous ranges with thread affinity: each of the pool's threads takes its
 * own share of a loop first, the same share in every loop of the same length, so that the next
 * layer finds its input in the caches of the core that wrote it; then it helps with what is left.
 * The ranges depend only on the loop's length and the pool's thread count, never on timing. */
#ifndef EML_KERNELS_PARALLEL_H
#define EML_KERNELS_PARALLEL_H

#include "core/core.h"

/* fn(ctx, begin, end, thread): units [begin, end) of a loop; thread is the caller's index in the
 * pool (0 .. threads-1), for per-thread scratch. */
typedef void (*eml_range_fn)(void *ctx, size_t begin, size_t end, uint32_t thread);

/* Runs fn over units [0, n) on pool (may be NULL: one call on the calling thread), in ranges of
 * at least `grain` units. Returns when every unit is done. */
void eml__parallel_ranges(eml_pool *pool, size_t n, size_t grain, eml_range_fn fn, void *ctx);

#endif
