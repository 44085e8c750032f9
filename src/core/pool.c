/* A fixed thread pool: the caller and n-1 workers take indices of one parallel loop at a time. */
#include <pthread.h>
#include <stdatomic.h>

#include "core/core.h"

/* Polls before a thread sleeps: a worker waiting for the next loop, the caller waiting for the
 * workers. Inference runs parallel loops microseconds apart, and waking a sleeping thread costs
 * about 10 us (an 8-task loop of 1.6 us tasks took 17.5 us on 2 threads instead of ~7), which
 * on MobileNet's ~60 loops per inference outweighed the second thread. At most a few hundred
 * microseconds of polling per idle period. */
#define SPIN_ROUNDS 20000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct eml_pool {
    eml_env *env;
    uint32_t n_threads; /* caller included */
    pthread_t *threads;
    uint32_t started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done_cv;
    pthread_mutex_t run_lock; /* one loop at a time per pool */
    uint32_t generation;      /* of the last loop started; written under run_lock */
    atomic_bool stop;
    /* The current loop. A task is claimed by advancing `claim`, which holds the loop's generation
     * in its high half and the next task index in its low half: a worker that wakes after its
     * loop is over finds another generation and claims nothing, so the caller never waits for
     * workers that have not shown up, only for tasks that were claimed (an oversubscribed CPU
     * may not schedule a worker for milliseconds). fn, ctx and n are guarded like a seqlock:
     * the caller first closes the word (index CLOSED), then writes them, then opens the word at
     * index 0; a worker reads them between two reads of the word and claims only if the word
     * did not move, so a late worker never pairs one loop's index with another loop's task. */
    atomic_uint_fast64_t claim;
    _Atomic(eml_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_size_t n;
    atomic_size_t done; /* tasks of the current loop finished */
    atomic_uint worker_ids; /* handed to workers as they start */
};

/* The pool a worker thread belongs to and its index in it (see eml__pool_thread_index). */
static _Thread_local const eml_pool *tl_pool;
static _Thread_local uint32_t tl_index;

#define CLOSED UINT32_MAX /* task index of a claim word while the caller sets up a loop */

static uint32_t claim_generation(uint64_t word)
{
    return (uint32_t)(word >> 32);
}

/* Runs tasks of loop `generation` until none is left to claim. */
static void take_work(eml_pool *p, uint32_t generation)
{
    uint64_t word = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if (claim_generation(word) != generation)
            return;
        if ((uint32_t)word == CLOSED) { /* the caller is writing fn, ctx and n */
            cpu_relax();
            word = atomic_load_explicit(&p->claim, memory_order_acquire);
            continue;
        }
        eml_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
        size_t n = atomic_load_explicit(&p->n, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t again = atomic_load_explicit(&p->claim, memory_order_relaxed);
        if (again != word) {
            word = again;
            continue;
        }
        size_t index = (uint32_t)word;
        if (index >= n)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &word, word + 1,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue; /* word now holds the current value */
        fn(ctx, index);
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == n) {
            /* the caller checks `done` under the lock before it sleeps: no lost wakeup */
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->lock);
        }
        word = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static bool loop_started(eml_pool *p, uint32_t seen)
{
    return claim_generation(atomic_load_explicit(&p->claim, memory_order_acquire)) != seen;
}

static void *worker_main(void *arg)
{
    eml_pool *p = arg;
    uint32_t seen = 0;
    tl_pool = p;
    tl_index = atomic_fetch_add(&p->worker_ids, 1) + 1;
    for (;;) {
        for (unsigned s = 0; s < SPIN_ROUNDS && !loop_started(p, seen) && !atomic_load(&p->stop);
             s++)
            cpu_relax();
        pthread_mutex_lock(&p->lock);
        while (!atomic_load(&p->stop) && !loop_started(p, seen))
            pthread_cond_wait(&p->wake, &p->lock);
        pthread_mutex_unlock(&p->lock);
        if (atomic_load(&p->stop))
            break;
        seen = claim_generation(atomic_load_explicit(&p->claim, memory_order_acquire));
        take_work(p, seen);
    }
    return NULL;
}

eml_status eml__pool_create(eml_env *env, uint32_t n_threads, eml_pool **out)
{
    *out = NULL;
    if (n_threads == 0)
        n_threads = 1;
    eml_pool *p = eml__calloc(env, 1, sizeof(*p));
    if (!p)
        return EML_ENOMEM;
    p->env = env;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n_threads > 1) {
        p->threads = eml__calloc(env, n_threads - 1, sizeof(pthread_t));
        if (!p->threads) {
            eml__pool_destroy(p);
            return EML_ENOMEM;
        }
        for (uint32_t i = 0; i + 1 < n_threads; i++) {
            if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
                eml__pool_destroy(p);
                return EML_ENOMEM;
            }
            p->started++;
        }
    }
    *out = p;
    return EML_OK;
}

void eml__pool_destroy(eml_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->run_lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done_cv);
    eml__free(p->env, p->threads);
    eml__free(p->env, p);
}

uint32_t eml__pool_threads(const eml_pool *p)
{
    return p ? p->n_threads : 1;
}

uint32_t eml__pool_thread_index(const eml_pool *p)
{
    return p && tl_pool == p ? tl_index : 0;
}

void eml__pool_run(eml_pool *p, size_t n, eml_task_fn fn, void *ctx)
{
    if (!p || p->started == 0 || n <= 1 || n >= CLOSED) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    uint32_t generation = ++p->generation;
    if (generation == 0) /* 0 is what a new worker has seen */
        generation = ++p->generation;
    const uint64_t open = (uint64_t)generation << 32;
    atomic_store_explicit(&p->claim, open | CLOSED, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->n, n, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    atomic_store_explicit(&p->claim, open, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    take_work(p, generation);
    for (unsigned s = 0; s < SPIN_ROUNDS && atomic_load(&p->done) < n; s++)
        cpu_relax();
    if (atomic_load(&p->done) < n) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->done) < n)
            pthread_cond_wait(&p->done_cv, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->run_lock);
}
