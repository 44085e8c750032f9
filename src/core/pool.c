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
    pthread_cond_t done;
    pthread_mutex_t run_lock; /* one loop at a time per pool */
    /* written under lock, read by polling threads without it: atomics */
    atomic_uint_fast64_t generation;
    atomic_bool stop;
    /* the current loop */
    eml_task_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;
    atomic_uint active; /* workers still inside the current loop */
    atomic_uint worker_ids; /* handed to workers as they start */
};

/* The pool a worker thread belongs to and its index in it (see eml__pool_thread_index). */
static _Thread_local const eml_pool *tl_pool;
static _Thread_local uint32_t tl_index;

static void take_work(eml_pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            return;
        p->fn(p->ctx, i);
    }
}

static void *worker_main(void *arg)
{
    eml_pool *p = arg;
    uint64_t seen = 0;
    tl_pool = p;
    tl_index = atomic_fetch_add(&p->worker_ids, 1) + 1;
    for (;;) {
        for (unsigned s = 0; s < SPIN_ROUNDS && atomic_load(&p->generation) == seen &&
                             !atomic_load(&p->stop);
             s++)
            cpu_relax();
        pthread_mutex_lock(&p->lock);
        while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        pthread_mutex_unlock(&p->lock);
        if (atomic_load(&p->stop))
            break;
        /* the caller set fn, ctx, n, next and active before it advanced the generation */
        seen = atomic_load(&p->generation);
        take_work(p);
        if (atomic_fetch_sub(&p->active, 1) == 1) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
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
    pthread_cond_init(&p->done, NULL);
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
    pthread_cond_destroy(&p->done);
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
    if (!p || p->started == 0 || n <= 1) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->active, p->started);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    take_work(p);
    for (unsigned s = 0; s < SPIN_ROUNDS && atomic_load(&p->active) > 0; s++)
        cpu_relax();
    if (atomic_load(&p->active) > 0) {
        /* a worker signals done under the lock after its decrement: no wakeup is lost */
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->active) > 0)
            pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->run_lock);
}
