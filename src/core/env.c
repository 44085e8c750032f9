/* The env: allocator, allocation limit, thread pool; and the counting allocator for tests. */
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"

static void *default_alloc(void *user, size_t bytes)
{
    (void)user;
    void *p = NULL;
    size_t rounded = (bytes + EML_ALIGN - 1) / EML_ALIGN * EML_ALIGN;
    if (rounded == 0)
        rounded = EML_ALIGN;
    if (posix_memalign(&p, EML_ALIGN, rounded) != 0)
        return NULL;
    return p;
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

void eml_env_options_init(eml_env_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
}

eml_status eml_env_create(const eml_env_options *opts, eml_env **out)
{
    eml_env_options o;
    eml_env_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o))
            return EML_EINVAL;
        memcpy(&o, opts, opts->struct_size);
    }
    *out = NULL;
    eml_allocator a = {default_alloc, default_free, NULL};
    if (o.allocator)
        a = *o.allocator;
    if (!a.alloc || !a.free)
        return EML_EINVAL;
    eml_env *env = a.alloc(a.user, sizeof(*env));
    if (!env)
        return EML_ENOMEM;
    memset(env, 0, sizeof(*env));
    env->allocator = a;
    env->max_alloc_bytes = o.max_alloc_bytes ? o.max_alloc_bytes : (4ull << 30);
    uint32_t n = o.n_threads;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (uint32_t)cpus : 1;
    }
    env->n_threads = n;
    eml_status st = eml__pool_create(env, n, &env->pool);
    if (st != EML_OK) {
        a.free(a.user, env);
        return st;
    }
    *out = env;
    return EML_OK;
}

void eml_env_destroy(eml_env *env)
{
    if (!env)
        return;
    eml__pool_destroy(env->pool);
    env->allocator.free(env->allocator.user, env);
}

uint32_t eml_env_threads(const eml_env *env)
{
    return env->n_threads;
}

uint64_t eml_env_max_alloc_bytes(const eml_env *env)
{
    return env->max_alloc_bytes;
}

void *eml__alloc(eml_env *env, size_t bytes)
{
    if ((uint64_t)bytes > env->max_alloc_bytes)
        return NULL;
    return env->allocator.alloc(env->allocator.user, bytes ? bytes : 1);
}

void *eml__calloc(eml_env *env, size_t count, size_t size)
{
    uint64_t bytes;
    if (eml__mul_overflow(count, size, &bytes) || bytes > env->max_alloc_bytes)
        return NULL;
    void *p = eml__alloc(env, (size_t)bytes);
    if (p)
        memset(p, 0, (size_t)bytes);
    return p;
}

void eml__free(eml_env *env, void *ptr)
{
    if (ptr)
        env->allocator.free(env->allocator.user, ptr);
}

eml_status eml__grow(eml_env *env, void **ptr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return EML_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return EML_ENOMEM;
        ncap *= 2;
    }
    uint64_t bytes;
    if (eml__mul_overflow(ncap, size, &bytes))
        return EML_ENOMEM;
    void *p = eml__alloc(env, (size_t)bytes);
    if (!p)
        return EML_ENOMEM;
    if (*ptr)
        memcpy(p, *ptr, *cap * size);
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    eml__free(env, *ptr);
    *ptr = p;
    *cap = ncap;
    return EML_OK;
}

char *eml__strndup(eml_env *env, const char *s, size_t n)
{
    char *d = eml__alloc(env, n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *eml__strdup(eml_env *env, const char *s)
{
    return eml__strndup(env, s ? s : "", s ? strlen(s) : 0);
}

bool eml__mul_overflow(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

int64_t eml__shape_count(const int64_t *dims, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || __builtin_mul_overflow(n, dims[i], &n))
            return -1;
    }
    return n;
}

/* ---- counting allocator ---- */

typedef struct count_header {
    uint64_t bytes;
    uint64_t pad[7]; /* keeps the user pointer 64-byte aligned */
} count_header;

static void *counting_alloc(void *user, size_t bytes)
{
    eml_counting_allocator *c = user;
    c->alloc_count++;
    if (c->fail_at && c->alloc_count == c->fail_at)
        return NULL;
    count_header *h = default_alloc(NULL, bytes + sizeof(count_header));
    if (!h)
        return NULL;
    h->bytes = bytes;
    c->live_count++;
    c->live_bytes += bytes;
    if (c->live_bytes > c->peak_bytes)
        c->peak_bytes = c->live_bytes;
    return h + 1;
}

static void counting_free(void *user, void *ptr)
{
    eml_counting_allocator *c = user;
    if (!ptr)
        return;
    count_header *h = (count_header *)ptr - 1;
    c->live_count--;
    c->live_bytes -= h->bytes;
    free(h);
}

void eml_counting_allocator_init(eml_counting_allocator *c)
{
    memset(c, 0, sizeof(*c));
    c->base.alloc = counting_alloc;
    c->base.free = counting_free;
    c->base.user = c;
}
