/* Activations of the fused ops, applied in place: the unary family's kernels for every activation
 * that is one ONNX op, and SiLU (x * Sigmoid(x)) written here with the same sigmoid. */
#include <math.h>

#include "kernels/ref/activation.h"
#include "kernels/ref/unary.h"

/* Elements per pool task, as in the unary family. */
#define TASK_ELEMS 16384

/* Runs the unary (or Clip) reference kernel with the same tensor as input and output: each
 * element is read before it is written, so in place is safe. */
static void run_unary(const void *params, bool clip, eml_dtype dtype, void *data, int64_t n,
                      eml_pool *pool)
{
    eml_tensor t = {dtype, 1, {n}, data};
    eml_kernel_ctx kc = {params, &t, 1, &t, 1, NULL, 0, pool, NULL};
    if (clip)
        (void)eml__ref_clip(&kc);
    else
        (void)eml__ref_unary(&kc);
}

/* The unary kernels' sigmoid: both forms keep exp's argument <= 0. */
static inline float sigmoid_f32(float v)
{
    return v < 0 ? expf(v) / (1 + expf(v)) : 1 / (1 + expf(-v));
}

static inline double sigmoid_f64(double v)
{
    return v < 0 ? exp(v) / (1 + exp(v)) : 1 / (1 + exp(-v));
}

typedef struct silu_job {
    eml_dtype dtype;
    void *data;
    const void *z; /* activation_add only */
    int64_t n;
} silu_job;

static float half_get(eml_dtype dt, uint16_t h)
{
    return dt == EML_DTYPE_F16 ? eml_f16_to_f32(h) : eml_bf16_to_f32(h);
}

static uint16_t half_put(eml_dtype dt, float f)
{
    return dt == EML_DTYPE_F16 ? eml_f32_to_f16(f) : eml_f32_to_bf16(f);
}

static void silu_task(void *arg, size_t index)
{
    const silu_job *job = arg;
    int64_t begin = (int64_t)index * TASK_ELEMS, end = EML_MIN(begin + TASK_ELEMS, job->n);
    switch (job->dtype) {
    case EML_DTYPE_F32: {
        float *y = job->data;
        for (int64_t i = begin; i < end; i++)
            y[i] = y[i] * sigmoid_f32(y[i]);
        break;
    }
    case EML_DTYPE_F64: {
        double *y = job->data;
        for (int64_t i = begin; i < end; i++)
            y[i] = y[i] * sigmoid_f64(y[i]);
        break;
    }
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16: {
        /* unfused, Sigmoid stores its result in the dtype before Mul reads it */
        uint16_t *y = job->data;
        for (int64_t i = begin; i < end; i++) {
            float v = half_get(job->dtype, y[i]);
            float s = half_get(job->dtype, half_put(job->dtype, sigmoid_f32(v)));
            y[i] = half_put(job->dtype, v * s);
        }
        break;
    }
    default:
        break;
    }
}

static void add_task(void *arg, size_t index)
{
    const silu_job *job = arg;
    int64_t begin = (int64_t)index * TASK_ELEMS, end = EML_MIN(begin + TASK_ELEMS, job->n);
    switch (job->dtype) {
    case EML_DTYPE_F32: {
        float *y = job->data;
        const float *z = job->z;
        for (int64_t i = begin; i < end; i++)
            y[i] += z[i];
        break;
    }
    case EML_DTYPE_F64: {
        double *y = job->data;
        const double *z = job->z;
        for (int64_t i = begin; i < end; i++)
            y[i] += z[i];
        break;
    }
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16: {
        uint16_t *y = job->data;
        const uint16_t *z = job->z;
        for (int64_t i = begin; i < end; i++)
            y[i] = half_put(job->dtype, half_get(job->dtype, y[i]) + half_get(job->dtype, z[i]));
        break;
    }
    default:
        break;
    }
}

static size_t task_count(int64_t n)
{
    return (size_t)((n + TASK_ELEMS - 1) / TASK_ELEMS);
}

void eml__activation_add(eml_dtype dtype, void *y, const void *z, int64_t n, eml_pool *pool)
{
    silu_job job = {dtype, y, z, n};
    if (n > 0)
        eml__pool_run(pool, task_count(n), add_task, &job);
}

void eml__activation_apply(const eml_activation *a, eml_dtype dtype, void *data, int64_t n,
                           eml_pool *pool)
{
    if (n <= 0)
        return;
    eml_unary_params u;
    memset(&u, 0, sizeof(u));
    switch ((eml_activation_kind)a->kind) {
    case EML_ACTIVATION_NONE:
        return;
    case EML_ACTIVATION_RELU:
        u.fn = EML_UNARY_RELU;
        break;
    case EML_ACTIVATION_LEAKY_RELU:
        u.fn = EML_UNARY_LEAKY_RELU;
        u.alpha = a->alpha;
        break;
    case EML_ACTIVATION_HARD_SIGMOID:
        u.fn = EML_UNARY_HARD_SIGMOID;
        u.alpha = a->alpha;
        u.beta = a->beta;
        break;
    case EML_ACTIVATION_HARD_SWISH:
        /* the constants HardSwish's prepare sets */
        u.fn = EML_UNARY_HARD_SWISH;
        u.alpha = 1.0f / 6.0f;
        u.beta = 0.5f;
        break;
    case EML_ACTIVATION_SIGMOID:
        u.fn = EML_UNARY_SIGMOID;
        break;
    case EML_ACTIVATION_TANH:
        u.fn = EML_UNARY_TANH;
        break;
    case EML_ACTIVATION_CLIP: {
        eml_clip_params c;
        memset(&c, 0, sizeof(c));
        c.has_min = 1;
        c.has_max = 1;
        c.min = a->alpha;
        c.max = a->beta;
        run_unary(&c, true, dtype, data, n, pool);
        return;
    }
    case EML_ACTIVATION_SILU: {
        silu_job job = {dtype, data, NULL, n};
        eml__pool_run(pool, task_count(n), silu_task, &job);
        return;
    }
    }
    run_unary(&u, false, dtype, data, n, pool);
}
