/* The environment: the allocator every object uses, allocation limits, and the thread pool. */
#ifndef EDGEML_ENV_H
#define EDGEML_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* All memory the library takes goes through this. `alloc` returns memory aligned to at least
 * 64 bytes or NULL; `free` accepts NULL. `user` is passed back unchanged. */
typedef struct eml_allocator {
    void *(*alloc)(void *user, size_t bytes);
    void (*free)(void *user, void *ptr);
    void *user;
} eml_allocator;

typedef struct eml_pool eml_pool;
typedef struct eml_env eml_env;

typedef struct eml_env_options {
    uint32_t struct_size;          /* set by eml_env_options_init(); fields are only appended */
    const eml_allocator *allocator; /* copied; NULL: the C library's aligned allocator */
    uint32_t n_threads;            /* threads of the pool, caller included; 0: one per CPU */
    uint64_t max_alloc_bytes;      /* any single allocation above this is refused with EML_ELIMIT
                                      before it is tried; 0: 4 GiB */
} eml_env_options;

EML_API void eml_env_options_init(eml_env_options *opts);

/* opts: copied; NULL = defaults. Returns EML_OK, EML_EINVAL, EML_ENOMEM. */
EML_API eml_status eml_env_create(const eml_env_options *opts, eml_env **out);
/* NULL is a no-op. Every object made with the env must be destroyed first. */
EML_API void eml_env_destroy(eml_env *env);

EML_API uint32_t eml_env_threads(const eml_env *env);
EML_API uint64_t eml_env_max_alloc_bytes(const eml_env *env);

/* A counting allocator for tests and measurements: counts live bytes and allocations and can
 * fail the k-th allocation (fail_at = k, 1-based; 0 never fails). */
typedef struct eml_counting_allocator {
    eml_allocator base;     /* pass &c.base as the env's allocator */
    uint64_t alloc_count;   /* allocations made so far */
    uint64_t live_count;    /* not yet freed */
    uint64_t live_bytes;
    uint64_t peak_bytes;
    uint64_t fail_at;
} eml_counting_allocator;

EML_API void eml_counting_allocator_init(eml_counting_allocator *c);

#ifdef __cplusplus
}
#endif
#endif
