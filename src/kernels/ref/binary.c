/* Reference kernels of the elementwise family: one broadcast loop, typed rows per kind and
 * dtype. */
#include "kernels/ref/binary.h"

#include <math.h>

#include "kernels/ref/cast.h"

/* ---- the broadcast loop ---- */

/* Output elements per pool task; below twice this a tensor runs on the caller alone. */
#define BCAST_CHUNK ((int64_t)1 << 15)

typedef struct bcast_plan {
    int rank; /* >= 1: size-1 dims dropped, adjacent dims merged where every operand allows */
    int n_in;
    int64_t dims[EML_MAX_RANK];
    int64_t strides[1 + EML_BCAST_MAX_INPUTS][EML_MAX_RANK]; /* elements; [0] is the output */
    char *out;
    size_t out_size;
    const char *in[EML_BCAST_MAX_INPUTS];
    size_t in_size[EML_BCAST_MAX_INPUTS];
    eml_bcast_row_fn row;
    const void *user;
    int64_t count;
} bcast_plan;

static void plan_init(bcast_plan *p, eml_tensor *out, const eml_tensor *const *in, int n_in)
{
    int r = out->rank;
    int64_t full[1 + EML_BCAST_MAX_INPUTS][EML_MAX_RANK];
    eml__strides(out->dims, r, full[0]);
    for (int k = 0; k < n_in; k++) {
        /* right-aligned dims of input k; a broadcast dim gets stride 0 */
        int64_t s = 1;
        for (int d = r - 1; d >= 0; d--) {
            int src = d - (r - in[k]->rank);
            int64_t dim = src >= 0 ? in[k]->dims[src] : 1;
            full[1 + k][d] = dim == 1 ? 0 : s;
            s *= dim;
        }
    }
    int n = 0;
    for (int d = 0; d < r; d++) {
        if (out->dims[d] == 1)
            continue;
        bool merge = n > 0;
        for (int k = 0; merge && k <= n_in; k++)
            merge = p->strides[k][n - 1] == full[k][d] * out->dims[d];
        if (merge) {
            p->dims[n - 1] *= out->dims[d];
        } else {
            p->dims[n] = out->dims[d];
            n++;
        }
        for (int k = 0; k <= n_in; k++)
            p->strides[k][n - 1] = full[k][d];
    }
    if (n == 0) { /* a single element */
        p->dims[0] = 1;
        for (int k = 0; k <= n_in; k++)
            p->strides[k][0] = 0;
        n = 1;
    }
    p->rank = n;
    p->n_in = n_in;
    p->out = out->data;
    p->out_size = eml_dtype_size(out->dtype);
    for (int k = 0; k < n_in; k++) {
        p->in[k] = in[k]->data;
        p->in_size[k] = eml_dtype_size(in[k]->dtype);
    }
    p->count = eml_tensor_count(out);
}

/* Output elements [e0, e1): whole or partial rows of the innermost dim. */
static void plan_range(const bcast_plan *p, int64_t e0, int64_t e1)
{
    int last = p->rank - 1;
    int64_t n = p->dims[last];
    int64_t row = e0 / n, col = e0 % n;
    int64_t idx[EML_MAX_RANK];
    int64_t off[1 + EML_BCAST_MAX_INPUTS] = {0};
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = row % p->dims[d];
        row /= p->dims[d];
        for (int k = 0; k <= p->n_in; k++)
            off[k] += idx[d] * p->strides[k][d];
    }
    int64_t s[EML_BCAST_MAX_INPUTS];
    for (int k = 0; k < p->n_in; k++)
        s[k] = p->strides[1 + k][last];
    while (e0 < e1) {
        int64_t len = EML_MIN(n - col, e1 - e0);
        const void *ip[EML_BCAST_MAX_INPUTS];
        for (int k = 0; k < p->n_in; k++)
            ip[k] = p->in[k] + (size_t)(off[1 + k] + col * s[k]) * p->in_size[k];
        p->row(p->user, p->out + (size_t)(off[0] + col) * p->out_size, ip, s, len);
        e0 += len;
        col = 0;
        for (int d = last - 1; d >= 0 && e0 < e1; d--) {
            for (int k = 0; k <= p->n_in; k++)
                off[k] += p->strides[k][d];
            if (++idx[d] < p->dims[d])
                break;
            for (int k = 0; k <= p->n_in; k++)
                off[k] -= p->strides[k][d] * p->dims[d];
            idx[d] = 0;
        }
    }
}

static void plan_task(void *ctx, size_t index)
{
    const bcast_plan *p = ctx;
    int64_t e0 = (int64_t)index * BCAST_CHUNK;
    plan_range(p, e0, EML_MIN(e0 + BCAST_CHUNK, p->count));
}

void eml__bcast_run(eml_tensor *out, const eml_tensor *const *in, int n_in, eml_bcast_row_fn row,
                    const void *user, eml_pool *pool)
{
    bcast_plan p;
    plan_init(&p, out, in, n_in);
    p.row = row;
    p.user = user;
    if (p.count <= 0)
        return;
    if (pool && p.count >= 2 * BCAST_CHUNK)
        eml__pool_run(pool, (size_t)((p.count + BCAST_CHUNK - 1) / BCAST_CHUNK), plan_task, &p);
    else
        plan_range(&p, 0, p.count);
}

eml_status eml__binary_align(const eml_binary_params *p, const eml_tensor *a, const eml_tensor *b,
                             int64_t *b_dims, int *b_rank)
{
    int64_t axis = p->axis;
    int mode = p->mode;
    if (mode == EML_BCAST_CHANNEL) {
        /* a 1-D slope as long as dim 1 is per channel, as PyTorch's exporter meant it */
        bool channel = b->rank == 1 && a->rank >= 2 && b->dims[0] == a->dims[1] && b->dims[0] != 1;
        mode = channel ? EML_BCAST_AXIS : EML_BCAST_NUMPY;
        axis = 1;
    }
    if (mode == EML_BCAST_NUMPY) {
        for (int d = 0; d < b->rank; d++)
            b_dims[d] = b->dims[d];
        *b_rank = b->rank;
        return EML_OK;
    }
    if (axis < 0)
        axis += a->rank;
    if (axis < 0 || axis + b->rank > a->rank)
        return EML_ESHAPE;
    for (int d = 0; d < a->rank; d++)
        b_dims[d] = d >= axis && d < axis + b->rank ? b->dims[d - axis] : 1;
    *b_rank = a->rank;
    return EML_OK;
}

/* ---- each kind's arithmetic in each compute domain: float (f), double (d), int64 (s) and
 * uint64 (u). Narrower types compute in their domain and are stored back, so integer results
 * wrap like C's unsigned arithmetic; signed math goes through uint64 to avoid C's undefined
 * overflow. ---- */

typedef float dom_f;
typedef double dom_d;
typedef int64_t dom_s;
typedef uint64_t dom_u;

#define FLOAT_FN(name, expr)                                                                       \
    static inline float name##_f(float a, float b) { return expr; }                               \
    static inline double name##_d(double a, double b) { return expr; }
#define INT_FN(name, expr_s, expr_u)                                                               \
    static inline int64_t name##_s(int64_t a, int64_t b) { return expr_s; }                       \
    static inline uint64_t name##_u(uint64_t a, uint64_t b) { return expr_u; }
#define CMP_FN(name, op)                                                                           \
    static inline bool name##_f(float a, float b) { return a op b; }                              \
    static inline bool name##_d(double a, double b) { return a op b; }                            \
    static inline bool name##_s(int64_t a, int64_t b) { return a op b; }                          \
    static inline bool name##_u(uint64_t a, uint64_t b) { return a op b; }

#define WRAP_S(expr) ((int64_t)(expr))

FLOAT_FN(add, a + b)
INT_FN(add, WRAP_S((uint64_t)a + (uint64_t)b), a + b)
FLOAT_FN(sub, a - b)
INT_FN(sub, WRAP_S((uint64_t)a - (uint64_t)b), a - b)
FLOAT_FN(mul, a * b)
INT_FN(mul, WRAP_S((uint64_t)a * (uint64_t)b), a * b)
FLOAT_FN(div, a / b)
/* Integer division truncates toward zero; by zero it gives 0 (numpy's choice), and MIN / -1
 * wraps to MIN instead of trapping. */
INT_FN(div, b == 0 ? 0 : b == -1 ? WRAP_S(0 - (uint64_t)a) : a / b, b == 0 ? 0 : a / b)
/* fmod=0: the remainder takes the divisor's sign (Python's %); x mod 0 is 0 for integers and
 * NaN for floats. fmod=1: C's fmod and %, the dividend's sign. */
static inline float mod_f(float a, float b)
{
    float r = fmodf(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
static inline double mod_d(double a, double b)
{
    double r = fmod(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
static inline int64_t mod_s(int64_t a, int64_t b)
{
    if (b == 0 || b == -1)
        return 0;
    int64_t r = a % b;
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
static inline uint64_t mod_u(uint64_t a, uint64_t b) { return b == 0 ? 0 : a % b; }
FLOAT_FN(fmod, fmod(a, b))
INT_FN(fmod, b == 0 || b == -1 ? 0 : a % b, b == 0 ? 0 : a % b)
/* NaN wins, as in numpy's maximum/minimum */
FLOAT_FN(max, isnan(a) || a > b ? a : b)
INT_FN(max, a > b ? a : b, a > b ? a : b)
FLOAT_FN(min, isnan(a) || a < b ? a : b)
INT_FN(min, a < b ? a : b, a < b ? a : b)
FLOAT_FN(prelu, a < 0 ? a * b : a)
INT_FN(prelu, a < 0 ? mul_s(a, b) : a, ((void)b, a)) /* unsigned: never negative */
CMP_FN(eq, ==)
CMP_FN(gt, >)
CMP_FN(ge, >=)
CMP_FN(lt, <)
CMP_FN(le, <=)
/* logic is on bool only, which loads into the uint64 domain as 0 or 1 */
static inline uint64_t and_u(uint64_t a, uint64_t b) { return a & b; }
static inline uint64_t or_u(uint64_t a, uint64_t b) { return a | b; }
static inline uint64_t xor_u(uint64_t a, uint64_t b) { return a ^ b; }

/* ---- rows, generated per kind and dtype ---- */

/* dtype suffix, storage type, compute domain, load, store */
#define LD(v) (v)
#define LD_BOOL(v) ((v) != 0)
#define ST_F32(v) ((float)(v))
#define ST_F64(v) ((double)(v))
#define ST_I8(v) ((int8_t)(v))
#define ST_I16(v) ((int16_t)(v))
#define ST_I32(v) ((int32_t)(v))
#define ST_I64(v) ((int64_t)(v))
#define ST_U8(v) ((uint8_t)(v))
#define ST_U16(v) ((uint16_t)(v))
#define ST_U32(v) ((uint32_t)(v))
#define ST_U64(v) ((uint64_t)(v))
#define ST_BOOL(v) ((uint8_t)((v) != 0))

#define FLOAT_TYPES(X, K)                                                                          \
    X(K, F32, float, f, LD, ST_F32)                                                                \
    X(K, F64, double, d, LD, ST_F64)                                                               \
    X(K, F16, uint16_t, f, eml_f16_to_f32, eml_f32_to_f16)                                         \
    X(K, BF16, uint16_t, f, eml_bf16_to_f32, eml_f32_to_bf16)
#define INT_TYPES(X, K)                                                                            \
    X(K, I8, int8_t, s, LD, ST_I8)                                                                 \
    X(K, I16, int16_t, s, LD, ST_I16)                                                              \
    X(K, I32, int32_t, s, LD, ST_I32)                                                              \
    X(K, I64, int64_t, s, LD, ST_I64)                                                              \
    X(K, U8, uint8_t, u, LD, ST_U8)                                                                \
    X(K, U16, uint16_t, u, LD, ST_U16)                                                             \
    X(K, U32, uint32_t, u, LD, ST_U32)                                                             \
    X(K, U64, uint64_t, u, LD, ST_U64)
#define NUMERIC_TYPES(X, K) FLOAT_TYPES(X, K) INT_TYPES(X, K)
#define BOOL_TYPE(X, K) X(K, BOOL, uint8_t, u, LD_BOOL, ST_BOOL)
#define ALL_TYPES(X, K) NUMERIC_TYPES(X, K) BOOL_TYPE(X, K)

/* The dense case gets its own loop: without strides the compiler can vectorize it. */
#define ROW(K, SFX, T, DOM, LDF, STF, TO, STO)                                                     \
    static void row_##K##_##SFX(const void *user, void *out, const void *const *in,               \
                                const int64_t *s, int64_t n)                                       \
    {                                                                                              \
        const T *a = in[0], *b = in[1];                                                            \
        TO *o = out;                                                                               \
        const int64_t sa = s[0], sb = s[1];                                                        \
        (void)user;                                                                                \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = STO(K##_##DOM((dom_##DOM)LDF(a[i]), (dom_##DOM)LDF(b[i])));                 \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = STO(K##_##DOM((dom_##DOM)LDF(a[i * sa]), (dom_##DOM)LDF(b[i * sb])));       \
        }                                                                                          \
    }
#define ROW_SAME(K, SFX, T, DOM, LDF, STF) ROW(K, SFX, T, DOM, LDF, STF, T, STF)
#define ROW_BOOL(K, SFX, T, DOM, LDF, STF) ROW(K, SFX, T, DOM, LDF, STF, uint8_t, ST_BOOL)
#define PICK_CASE(K, SFX, T, DOM, LDF, STF)                                                        \
    case EML_DTYPE_##SFX:                                                                          \
        return row_##K##_##SFX;

/* Rows of kind K for the dtypes of LIST, and pick_K(dtype) that finds them (NULL: none). */
#define DEFINE_KIND(K, LIST, GEN)                                                                  \
    LIST(GEN, K)                                                                                   \
    static eml_bcast_row_fn pick_##K(eml_dtype dt)                                                 \
    {                                                                                              \
        switch (dt) {                                                                              \
            LIST(PICK_CASE, K)                                                                     \
        default:                                                                                   \
            return NULL;                                                                           \
        }                                                                                          \
    }

DEFINE_KIND(add, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(sub, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(mul, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(div, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(mod, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(fmod, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(max, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(min, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(prelu, NUMERIC_TYPES, ROW_SAME)
DEFINE_KIND(and, BOOL_TYPE, ROW_SAME)
DEFINE_KIND(or, BOOL_TYPE, ROW_SAME)
DEFINE_KIND(xor, BOOL_TYPE, ROW_SAME)
DEFINE_KIND(eq, ALL_TYPES, ROW_BOOL)
DEFINE_KIND(gt, NUMERIC_TYPES, ROW_BOOL)
DEFINE_KIND(ge, NUMERIC_TYPES, ROW_BOOL)
DEFINE_KIND(lt, NUMERIC_TYPES, ROW_BOOL)
DEFINE_KIND(le, NUMERIC_TYPES, ROW_BOOL)

/* ---- Pow: base and exponent may have different dtypes (opset 12+); pow() dominates the cost,
 * so one row reads both through a switch. ---- */

typedef struct pow_types {
    eml_dtype base, exponent;
} pow_types;

static bool is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

static bool is_signed_int(eml_dtype dt)
{
    return dt == EML_DTYPE_I8 || dt == EML_DTYPE_I16 || dt == EML_DTYPE_I32 || dt == EML_DTYPE_I64;
}

static double load_f64(const void *p, int64_t i, eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_F32: return ((const float *)p)[i];
    case EML_DTYPE_F64: return ((const double *)p)[i];
    case EML_DTYPE_F16: return eml_f16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_BF16: return eml_bf16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_I8: return ((const int8_t *)p)[i];
    case EML_DTYPE_I16: return ((const int16_t *)p)[i];
    case EML_DTYPE_I32: return ((const int32_t *)p)[i];
    case EML_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EML_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EML_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    default: return 0.0;
    }
}

/* Integer elements as 64-bit two's complement bits (uint64 keeps its full range). */
static uint64_t load_bits(const void *p, int64_t i, eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_I8: return (uint64_t)((const int8_t *)p)[i];
    case EML_DTYPE_I16: return (uint64_t)((const int16_t *)p)[i];
    case EML_DTYPE_I32: return (uint64_t)((const int32_t *)p)[i];
    case EML_DTYPE_I64: return (uint64_t)((const int64_t *)p)[i];
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EML_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EML_DTYPE_U64: return ((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* Exact integer power, wrapping modulo 2^64. A negative exponent truncates 1/base^e toward zero
 * (0 unless |base| is 1; 0 for base 0, where there is no answer). */
static int64_t ipow(int64_t base, uint64_t e_bits, bool e_negative)
{
    if (e_negative) {
        if (base == 1)
            return 1;
        if (base == -1)
            return (e_bits & 1) ? -1 : 1;
        return 0;
    }
    uint64_t r = 1, b = (uint64_t)base;
    for (uint64_t e = e_bits; e; e >>= 1) {
        if (e & 1)
            r *= b;
        b *= b;
    }
    return (int64_t)r;
}

/* A power computed in double, stored in the base's type (integers clamped into their range). */
static void store_pow(void *out, int64_t i, eml_dtype dt, double r)
{
    switch (dt) {
    case EML_DTYPE_F32: ((float *)out)[i] = (float)r; break;
    case EML_DTYPE_F64: ((double *)out)[i] = r; break;
    case EML_DTYPE_F16: ((uint16_t *)out)[i] = eml_f32_to_f16((float)r); break;
    case EML_DTYPE_BF16: ((uint16_t *)out)[i] = eml_f32_to_bf16((float)r); break;
    case EML_DTYPE_I32:
        ((int32_t *)out)[i] = (int32_t)eml__f64_to_i64_sat(r, INT32_MIN, INT32_MAX);
        break;
    case EML_DTYPE_I64: ((int64_t *)out)[i] = eml__f64_to_i64_sat(r, INT64_MIN, INT64_MAX); break;
    default: break;
    }
}

static void row_pow(const void *user, void *out, const void *const *in, const int64_t *s,
                    int64_t n)
{
    const pow_types *t = user;
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = i * s[0], ib = i * s[1];
        if (is_float(t->base) || is_float(t->exponent)) {
            double r = pow(load_f64(in[0], ia, t->base), load_f64(in[1], ib, t->exponent));
            store_pow(out, i, t->base, r);
            continue;
        }
        /* integer base and exponent: exact */
        uint64_t e = load_bits(in[1], ib, t->exponent);
        bool negative = is_signed_int(t->exponent) && (int64_t)e < 0;
        int64_t v = ipow((int64_t)load_bits(in[0], ia, t->base), negative ? 0 - e : e, negative);
        if (t->base == EML_DTYPE_I32)
            ((int32_t *)out)[i] = (int32_t)v;
        else
            ((int64_t *)out)[i] = v;
    }
}

static bool pow_base_ok(eml_dtype dt)
{
    return is_float(dt) || dt == EML_DTYPE_I32 || dt == EML_DTYPE_I64;
}

/* ---- the binary op ---- */

static eml_bcast_row_fn pick(eml_binary_kind kind, eml_dtype dt)
{
    switch (kind) {
    case EML_BINARY_ADD: return pick_add(dt);
    case EML_BINARY_SUB: return pick_sub(dt);
    case EML_BINARY_MUL: return pick_mul(dt);
    case EML_BINARY_DIV: return pick_div(dt);
    case EML_BINARY_MOD: return pick_mod(dt);
    case EML_BINARY_FMOD: return pick_fmod(dt);
    case EML_BINARY_AND: return pick_and(dt);
    case EML_BINARY_OR: return pick_or(dt);
    case EML_BINARY_XOR: return pick_xor(dt);
    case EML_BINARY_EQUAL: return pick_eq(dt);
    case EML_BINARY_GREATER: return pick_gt(dt);
    case EML_BINARY_GREATER_EQUAL: return pick_ge(dt);
    case EML_BINARY_LESS: return pick_lt(dt);
    case EML_BINARY_LESS_EQUAL: return pick_le(dt);
    case EML_BINARY_PRELU: return pick_prelu(dt);
    case EML_BINARY_MAX: return pick_max(dt);
    case EML_BINARY_MIN: return pick_min(dt);
    case EML_BINARY_POW: return NULL;
    }
    return NULL;
}

bool eml__binary_supported(eml_binary_kind kind, eml_dtype a, eml_dtype b)
{
    if (kind == EML_BINARY_POW)
        return pow_base_ok(a) && eml_dtype_is_supported(b) && b != EML_DTYPE_BOOL;
    return a == b && pick(kind, a) != NULL;
}

eml_status eml__ref_binary(const eml_kernel_ctx *ctx)
{
    const eml_binary_params *p = ctx->params;
    const eml_tensor *a = &ctx->inputs[0];
    eml_tensor b = ctx->inputs[1];
    eml_status st = eml__binary_align(p, a, &ctx->inputs[1], b.dims, &b.rank);
    if (st != EML_OK) /* infer checked this; kept so that a bad call cannot read out of bounds */
        return eml__diag(ctx->diag, st, "binary kernel: inputs do not broadcast");
    const eml_tensor *in[2] = {a, &b};
    pow_types types = {a->dtype, b.dtype};
    eml_bcast_row_fn row = p->kind == EML_BINARY_POW ? row_pow : pick(p->kind, a->dtype);
    if (!row)
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "binary kernel: no kernel for %s",
                         eml_dtype_name(a->dtype));
    eml__bcast_run(&ctx->outputs[0], in, 2, row, &types, ctx->pool);
    return EML_OK;
}

/* ---- Max, Min, Sum, Mean: the binary kind folded into the output ---- */

static void mean_scale(eml_tensor *t, double count)
{
    int64_t n = eml_tensor_count(t);
    switch (t->dtype) {
    case EML_DTYPE_F32:
        for (int64_t i = 0; i < n; i++)
            ((float *)t->data)[i] = (float)(((float *)t->data)[i] / count);
        break;
    case EML_DTYPE_F64:
        for (int64_t i = 0; i < n; i++)
            ((double *)t->data)[i] /= count;
        break;
    case EML_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t *v = &((uint16_t *)t->data)[i];
            *v = eml_f32_to_f16((float)(eml_f16_to_f32(*v) / count));
        }
        break;
    case EML_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t *v = &((uint16_t *)t->data)[i];
            *v = eml_f32_to_bf16((float)(eml_bf16_to_f32(*v) / count));
        }
        break;
    default:
        break;
    }
}

eml_status eml__ref_variadic(const eml_kernel_ctx *ctx)
{
    const eml_variadic_params *p = ctx->params;
    eml_tensor *out = &ctx->outputs[0];
    if (ctx->n_inputs == 1) {
        /* infer gave the output the input's shape */
        memcpy(out->data, ctx->inputs[0].data, eml_tensor_bytes(out));
        return EML_OK;
    }
    eml_bcast_row_fn row = pick((eml_binary_kind)p->kind, out->dtype);
    if (!row)
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "variadic kernel: no kernel for %s",
                         eml_dtype_name(out->dtype));
    const eml_tensor *in[2] = {&ctx->inputs[0], &ctx->inputs[1]};
    eml__bcast_run(out, in, 2, row, NULL, ctx->pool);
    for (int32_t k = 2; k < ctx->n_inputs; k++) {
        /* in place: each output element is read and then written by the same row step */
        in[0] = out;
        in[1] = &ctx->inputs[k];
        eml__bcast_run(out, in, 2, row, NULL, ctx->pool);
    }
    if (p->mean)
        mean_scale(out, (double)ctx->n_inputs);
    return EML_OK;
}

/* ---- Where and Expand move elements without looking at them: rows per element size ---- */

#define ROWS_BY_SIZE(T)                                                                            \
    static void row_where_##T(const void *user, void *out, const void *const *in,                 \
                              const int64_t *s, int64_t n)                                         \
    {                                                                                              \
        const uint8_t *c = in[0];                                                                  \
        const T *x = in[1], *y = in[2];                                                            \
        T *o = out;                                                                                \
        (void)user;                                                                                \
        for (int64_t i = 0; i < n; i++)                                                            \
            o[i] = c[i * s[0]] ? x[i * s[1]] : y[i * s[2]];                                        \
    }                                                                                              \
    static void row_copy_##T(const void *user, void *out, const void *const *in,                  \
                             const int64_t *s, int64_t n)                                          \
    {                                                                                              \
        const T *x = in[0];                                                                        \
        T *o = out;                                                                                \
        (void)user;                                                                                \
        if (s[0] == 1) {                                                                           \
            memcpy(o, x, (size_t)n * sizeof(T));                                                   \
            return;                                                                                \
        }                                                                                          \
        for (int64_t i = 0; i < n; i++)                                                            \
            o[i] = x[0];                                                                           \
    }

ROWS_BY_SIZE(uint8_t)
ROWS_BY_SIZE(uint16_t)
ROWS_BY_SIZE(uint32_t)
ROWS_BY_SIZE(uint64_t)

eml_status eml__ref_where(const eml_kernel_ctx *ctx)
{
    const eml_tensor *in[3] = {&ctx->inputs[0], &ctx->inputs[1], &ctx->inputs[2]};
    eml_bcast_row_fn row;
    switch (eml_dtype_size(ctx->outputs[0].dtype)) {
    case 1: row = row_where_uint8_t; break;
    case 2: row = row_where_uint16_t; break;
    case 4: row = row_where_uint32_t; break;
    case 8: row = row_where_uint64_t; break;
    default: return eml__diag(ctx->diag, EML_EUNSUPPORTED, "Where kernel: unsupported dtype");
    }
    eml__bcast_run(&ctx->outputs[0], in, 3, row, NULL, ctx->pool);
    return EML_OK;
}

eml_status eml__ref_expand(const eml_kernel_ctx *ctx)
{
    const eml_tensor *in[1] = {&ctx->inputs[0]};
    eml_bcast_row_fn row;
    switch (eml_dtype_size(ctx->outputs[0].dtype)) {
    case 1: row = row_copy_uint8_t; break;
    case 2: row = row_copy_uint16_t; break;
    case 4: row = row_copy_uint32_t; break;
    case 8: row = row_copy_uint64_t; break;
    default: return eml__diag(ctx->diag, EML_EUNSUPPORTED, "Expand kernel: unsupported dtype");
    }
    eml__bcast_run(&ctx->outputs[0], in, 1, row, NULL, ctx->pool);
    return EML_OK;
}
