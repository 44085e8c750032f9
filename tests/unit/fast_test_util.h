/* Helpers of the fast-kernel property tests (test_fast_elementwise.c, test_fast_gemm_ops.c,
 * test_qconv.c, test_fast_integer_ops.c): random fills, tensor views, running a kernel,
 * releasing a selected fast kernel. */
#ifndef EML_TESTS_UNIT_FAST_TEST_UTIL_H
#define EML_TESTS_UNIT_FAST_TEST_UTIL_H

#include <string.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/fast_ops.h"

/* Fills p[0..n) with seeded random floats in [lo, hi). */
static inline void fill(float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = eml_test_randf(lo, hi);
}

/* A tensor view of `data` (borrowed; NULL for a value known only at run time) of type dt with
 * the `rank` dims at `dims`. */
static inline eml_tensor tensor(eml_dtype dt, int rank, const int64_t *dims, void *data)
{
    eml_tensor t;
    memset(&t, 0, sizeof(t));
    t.dtype = dt;
    t.rank = rank;
    for (int d = 0; d < rank; d++)
        t.dims[d] = dims[d];
    t.data = data;
    return t;
}

/* A float32 tensor view of `data` (borrowed) with the `rank` dims at `dims`. */
static inline eml_tensor tensor_f32(void *data, int rank, const int64_t *dims)
{
    return tensor(EML_DTYPE_F32, rank, dims, data);
}

/* Runs kernel fn with one output, no scratch and no diag, on `pool` (may be NULL). */
static inline eml_status run_kernel(eml_kernel_fn fn, const void *params, eml_tensor *in,
                                    int n_in, eml_tensor *out, eml_pool *pool)
{
    eml_kernel_ctx c = {params, in, n_in, out, 1, NULL, 0, pool, NULL};
    return fn(&c);
}

/* Destroys the state of a selected fast kernel and clears it. */
static inline void release(eml_env *env, eml_fast_kernel *fk)
{
    if (fk->destroy)
        fk->destroy(env, fk->state);
    memset(fk, 0, sizeof(*fk));
}

#endif
