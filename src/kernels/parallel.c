/* Parallel loops over contiguous ranges with thread affinity (see parallel.h). */
#include <stdatomic.h>

#include "kernels/parallel.h"

/* Ranges per thread: a late thread's share can still be split among the others, in pieces small
 * enough that the last one does not keep the other threads waiting long. */
#define RANGES_PER_THREAD 16
/* Most ranges of one loop (the claim flags live on the stack). */
#define MAX_RANGES 256

typedef struct ranges_job {
    eml_pool *pool;
    eml_range_fn fn;
    void *ctx;
    size_t n, count, per_thread; /* ranges in all and per thread */
    uint32_t threads;
    atomic_uchar taken[MAX_RANGES];
} ranges_job;

static void run_range(ranges_job *j, size_t r, uint32_t me)
{
    if (atomic_exchange(&j->taken[r], 1))
        return;
    const size_t begin = r * j->n / j->count, end = (r + 1) * j->n / j->count;
    if (end > begin)
        j->fn(j->ctx, begin, end, me);
}

/* One thread: its own ranges in order, then the others' from the far end of each share. */
static void ranges_task(void *arg, size_t index)
{
    (void)index;
    ranges_job *j = arg;
    const uint32_t me = eml__pool_thread_index(j->pool) % j->threads;
    for (size_t r = me * j->per_thread; r < (me + 1) * j->per_thread; r++)
        run_range(j, r, me);
    for (uint32_t k = 1; k < j->threads; k++) {
        const uint32_t other = (me + k) % j->threads;
        for (size_t r = (other + 1) * j->per_thread; r-- > other * j->per_thread;)
            run_range(j, r, me);
    }
}

void eml__parallel_ranges(eml_pool *pool, size_t n, size_t grain, eml_range_fn fn, void *ctx)
{
    const uint32_t threads = eml__pool_threads(pool);
    grain = EML_MAX(grain, (size_t)1);
    if (n == 0)
        return;
    /* more threads than ranges fit the flags: not an edge machine; run on this one */
    if (threads <= 1 || n < 2 * grain || threads > MAX_RANGES) {
        fn(ctx, 0, n, eml__pool_thread_index(pool) % threads);
        return;
    }
    ranges_job j = {.pool = pool, .fn = fn, .ctx = ctx, .n = n, .threads = threads};
    j.per_thread = EML_MIN((size_t)RANGES_PER_THREAD, EML_MAX((size_t)1, n / grain / threads));
    j.per_thread = EML_MIN(j.per_thread, (size_t)MAX_RANGES / threads);
    j.per_thread = EML_MAX(j.per_thread, (size_t)1);
    j.count = j.per_thread * threads;
    for (size_t r = 0; r < j.count && r < MAX_RANGES; r++)
        atomic_init(&j.taken[r], 0);
    eml__pool_run(pool, threads, ranges_task, &j);
}
