/* Internal core: allocation through the env, diag helpers, error propagation, the thread pool. */
#ifndef EML_CORE_CORE_H
#define EML_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgeml/env.h"
#include "edgeml/status.h"
#include "edgeml/tensor.h"

#define EML_ALIGN 64

/* Propagates a failing status; use inside functions with a `fail:` label and `eml_status st`. */
#define EML_TRY(expr)                                                                              \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != EML_OK)                                                                          \
            goto fail;                                                                             \
    } while (0)

/* Internal invariants only, never data from outside. */
#ifdef NDEBUG
#define EML_ASSERT(x) ((void)0)
#else
#include <assert.h>
#define EML_ASSERT(x) assert(x)
#endif

#if defined(__GNUC__)
#define EML_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EML_PRINTF(a, b)
#endif

#define EML_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EML_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- env ---- */
struct eml_env {
    eml_allocator allocator;
    uint64_t max_alloc_bytes;
    uint32_t n_threads;
    eml_pool *pool;
};

/* Allocation through the env: NULL when over the env's limit or out of memory. Zeroed variant. */
void *eml__alloc(eml_env *env, size_t bytes);
void *eml__calloc(eml_env *env, size_t count, size_t size);
/* Grows an array: on success *ptr points to at least `need` elements of `size`; keeps contents. */
eml_status eml__grow(eml_env *env, void **ptr, size_t *cap, size_t need, size_t size);
void eml__free(eml_env *env, void *ptr);
char *eml__strdup(eml_env *env, const char *s);
char *eml__strndup(eml_env *env, const char *s, size_t n);

/* Checked size arithmetic: false on overflow. */
bool eml__mul_overflow(uint64_t a, uint64_t b, uint64_t *out);
/* Elements of a shape, or -1 when a dim is negative or the product overflows int64. */
int64_t eml__shape_count(const int64_t *dims, int rank);

/* ---- diag ---- */
/* Sets status and message (printf style) and returns status, so `return eml__diag(...)` works.
 * diag may be NULL. Keeps file/node/op fields that were already set. */
eml_status eml__diag(eml_diag *diag, eml_status status, const char *fmt, ...) EML_PRINTF(3, 4);
void eml__diag_where(eml_diag *diag, const char *file, const char *node, const char *op,
                     int32_t opset, int64_t offset);

/* "float32[1,3,224,224]" into buf. */
const char *eml__shape_str(char *buf, size_t cap, eml_dtype dtype, const int64_t *dims, int rank);

/* ---- thread pool ---- */
/* Runs fn(ctx, i) for i in [0, n) on the pool's threads and the caller; returns when all are done.
 * pool may be NULL (runs inline). Work items must be independent. */
typedef void (*eml_task_fn)(void *ctx, size_t index);
void eml__pool_run(eml_pool *pool, size_t n, eml_task_fn fn, void *ctx);
eml_status eml__pool_create(eml_env *env, uint32_t n_threads, eml_pool **out);
void eml__pool_destroy(eml_pool *pool);
uint32_t eml__pool_threads(const eml_pool *pool);
/* Index of the calling thread among pool's threads: 1 .. threads-1 for its workers, 0 for any
 * other thread (the one calling eml__pool_run). Lets a kernel give each thread the same part of
 * consecutive parallel loops, so that data stays in the caches of the core that wrote it. */
uint32_t eml__pool_thread_index(const eml_pool *pool);

/* ---- seeded random numbers (NumPy's legacy MT19937 stream) ---- */
typedef struct eml_mt19937 {
    uint32_t state[624];
    uint32_t index;
} eml_mt19937;

void eml__mt_seed(eml_mt19937 *mt, uint32_t seed);
uint32_t eml__mt_next_u32(eml_mt19937 *mt);
/* Uniform in [0, 1) with 53 random bits, as numpy.random.random_sample. */
double eml__mt_next_double(eml_mt19937 *mt);

/* ---- string → index map (open addressing; keys borrowed) ---- */
typedef struct eml_strmap {
    const char **keys;
    int32_t *vals;
    size_t cap;   /* power of two */
    size_t count;
} eml_strmap;

eml_status eml__strmap_init(eml_env *env, eml_strmap *m, size_t expected);
void eml__strmap_deinit(eml_env *env, eml_strmap *m);
/* Inserts or replaces. */
eml_status eml__strmap_put(eml_env *env, eml_strmap *m, const char *key, int32_t val);
/* -1 when absent. */
int32_t eml__strmap_get(const eml_strmap *m, const char *key);

#endif
