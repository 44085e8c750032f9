/* A fixed thread pool: the caller and n-1 workers take indices of one parallel loop at a time. */
#include <pthread.h>
#include <stdatomic.h>

#include "core/core.h"

struct eml_pool {
    eml_env *env;
    uint32_t n_threads; /* caller included */
    pthread_t *threads;
    uint32_t started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t done;
    pthread_mutex_t run_lock; /* one loop at a time per pool */
    uint64_t generation;
    bool stop;
    /* the current loop */
    eml_task_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;
    uint32_t active; /* workers still inside the current loop */
};

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
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        take_work(p);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
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
    p->stop = true;
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
    p->active = p->started;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    take_work(p);
    pthread_mutex_lock(&p->lock);
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->run_lock);
}
