/* The f32 GEMM driver: the kernel list and selection, weight packing, and tiling over the pool. */
#include <math.h>

#include "kernels/gemm.h"

static const eml_f32_gemm_kernel kernels[] = {
#define EML_UKERNEL(isa, fn, mr, nr) {#fn, isa, mr, nr, fn},
#include "kernels/lists/f32_gemm.inc"
#undef EML_UKERNEL
};

#define KERNEL_COUNT (sizeof(kernels) / sizeof(kernels[0]))

const eml_f32_gemm_kernel *eml__f32_gemm_kernels(size_t *count)
{
    *count = KERNEL_COUNT;
    return kernels;
}

const eml_f32_gemm_kernel *eml__f32_gemm_select_for(uint32_t features)
{
    for (size_t i = 0; i < KERNEL_COUNT; i++)
        if ((features & kernels[i].isa) == kernels[i].isa)
            return &kernels[i];
    return &kernels[KERNEL_COUNT - 1]; /* the reference needs nothing: never reached */
}

const eml_f32_gemm_kernel *eml__f32_gemm_select(void)
{
    return eml__f32_gemm_select_for(eml__cpu_features());
}

/* Floats of one packed panel: NR bias floats, then K rows of NR weights. */
static size_t panel_floats(const eml_f32_gemm_kernel *k, size_t kdim)
{
    return (size_t)k->nr * (kdim + 1);
}

size_t eml__f32_gemm_packed_bytes(const eml_f32_gemm_kernel *k, size_t n, size_t kdim)
{
    size_t panels = (n + k->nr - 1) / k->nr;
    return panels * panel_floats(k, kdim) * sizeof(float);
}

void eml__f32_gemm_pack(const eml_f32_gemm_kernel *k, size_t n, size_t kdim, const float *b,
                        bool b_is_nk, const float *bias, float *packed)
{
    const size_t nr = k->nr;
    for (size_t n0 = 0; n0 < n; n0 += nr) {
        const size_t cols = EML_MIN(nr, n - n0);
        for (size_t j = 0; j < nr; j++)
            packed[j] = bias && j < cols ? bias[n0 + j] : 0.0f;
        float *dst = packed + nr;
        if (b_is_nk) {
            /* each output column is a contiguous row of B: read it in order */
            for (size_t j = 0; j < cols; j++) {
                const float *src = b + (n0 + j) * kdim;
                for (size_t kk = 0; kk < kdim; kk++)
                    dst[kk * nr + j] = src[kk];
            }
        } else {
            for (size_t kk = 0; kk < kdim; kk++)
                for (size_t j = 0; j < cols; j++)
                    dst[kk * nr + j] = b[kk * n + n0 + j];
        }
        for (size_t kk = 0; kk < kdim; kk++)
            for (size_t j = cols; j < nr; j++)
                dst[kk * nr + j] = 0.0f;
        packed += panel_floats(k, kdim);
    }
}

typedef struct gemm_job {
    const eml_f32_gemm_kernel *k;
    size_t m, n, kdim;
    const float *a;
    size_t a_stride;
    const float *w;
    size_t w_panel; /* floats per packed panel */
    float *c;
    size_t c_stride;
    eml_f32_minmax params;
    size_t kc;         /* K per block: a function of K and the kernel only */
    size_t nc;         /* columns per sweep down the rows, a multiple of NR */
    size_t mb;         /* rows per task, a multiple of MR */
    size_t nb;         /* columns per task, a multiple of NR */
    size_t col_blocks; /* tasks across N */
} gemm_job;

/* One task: rows [m0, m1) × columns [n0, n1) of C over all of K. For each block of K and each
 * chunk of columns, the chunk's panels (kc × nc) stay in L2 while the row tiles go down them;
 * the micro-kernel keeps its row tile of A (MR × kc) in L1 across the chunk's panels. */
static void gemm_task(void *ctx, size_t index)
{
    const gemm_job *j = ctx;
    const eml_f32_gemm_ukernel_fn ukernel = j->k->ukernel;
    const size_t mr_tile = j->k->mr, nr = j->k->nr;
    const size_t m0 = (index / j->col_blocks) * j->mb, n0 = (index % j->col_blocks) * j->nb;
    const size_t m1 = EML_MIN(j->m, m0 + j->mb), n1 = EML_MIN(j->n, n0 + j->nb);
    const eml_f32_minmax no_clamp = {-INFINITY, INFINITY};
    for (size_t k0 = 0; k0 < j->kdim; k0 += j->kc) {
        const size_t kc = EML_MIN(j->kc, j->kdim - k0);
        const eml_f32_minmax *params = k0 + kc == j->kdim ? &j->params : &no_clamp;
        for (size_t p = n0; p < n1; p += j->nc) {
            const size_t nc = EML_MIN(j->nc, n1 - p);
            const float *w = j->w + (p / nr) * j->w_panel;
            /* as few tiles as MR allows, of heights that differ by at most one: 49 rows go
             * as 7 × 7 rather than 6 × 8 + 1, whose 1-row tile runs at a fraction of the
             * speed (a row's sums do not depend on its tile) */
            const size_t tiles = (m1 - m0 + mr_tile - 1) / mr_tile;
            const size_t base = (m1 - m0) / tiles, taller = (m1 - m0) % tiles;
            for (size_t t = 0, i = m0; t < tiles; t++) {
                const size_t rows = base + (t < taller);
                ukernel(rows, nc, k0, kc, j->a + i * j->a_stride + k0, j->a_stride, w,
                        j->w_panel, j->c + i * j->c_stride + p, j->c_stride, params);
                i += rows;
            }
        }
    }
}

/* K = 0: every output is its clamped bias, read from the packed panels. */
static void gemm_bias_only(const gemm_job *j)
{
    const size_t nr = j->k->nr;
    for (size_t i = 0; i < j->m; i++)
        for (size_t col = 0; col < j->n; col++) {
            float v = j->w[(col / nr) * j->w_panel + col % nr];
            v = v < j->params.min ? j->params.min : v;
            v = v > j->params.max ? j->params.max : v;
            j->c[i * j->c_stride + col] = v;
        }
}

/* A row tile of one K block (MR × kc floats) fits in this part of L1 beside the streamed
 * weights. A constant, not the detected L1 size: kc changes the order of the sums, and results
 * should not depend on the machine beyond its ISA. */
#define A_TILE_BYTES (24u * 1024u)
/* Below this many multiply-adds per task (about 10 us), waking the pool's threads costs more
 * than it gains. */
#define MIN_TASK_MACS (1024u * 1024u)
/* A weight streamed from memory takes about as long as this many multiply-adds: a GEMM of few
 * rows (a classifier's 1 x 1280 x 1000 at batch 1) is bound by its weights, not its arithmetic,
 * and is worth splitting over the threads' columns. */
#define WEIGHT_COST_MACS 16u

/* K per block: at most what the A budget allows, split evenly so that the last block is not a
 * sliver. It depends on K and the kernel only, never on threads. */
static size_t k_block(const eml_f32_gemm_kernel *k, size_t kdim)
{
    size_t kc_max = EML_MAX((size_t)16, A_TILE_BYTES / (k->mr * sizeof(float)));
    size_t blocks = (kdim + kc_max - 1) / kc_max;
    return (kdim + blocks - 1) / blocks;
}

/* Columns per sweep: the chunk's kc rows of panels fill about 3/4 of L2. Only the loop order
 * depends on it, never a sum. */
static size_t n_chunk(const eml_f32_gemm_kernel *k, size_t kc)
{
    size_t l2 = eml__cpu_l2_bytes();
    size_t budget = l2 ? l2 / 4 * 3 : 384u * 1024u;
    size_t panel_bytes = kc * k->nr * sizeof(float);
    return EML_MAX((size_t)1, budget / panel_bytes) * k->nr;
}

void eml__f32_gemm_run(const eml_f32_gemm_kernel *k, size_t m, size_t n, size_t kdim,
                       const float *a, size_t a_stride_elems, const float *packed_w, float *c,
                       size_t c_stride_elems, float min, float max, eml_pool *pool)
{
    if (m == 0 || n == 0)
        return;
    gemm_job j = {
        .k = k,
        .m = m,
        .n = n,
        .kdim = kdim,
        .a = a,
        .a_stride = a_stride_elems,
        .w = packed_w,
        .w_panel = panel_floats(k, kdim),
        .c = c,
        .c_stride = c_stride_elems,
        .params = {min, max},
    };
    if (kdim == 0) {
        gemm_bias_only(&j);
        return;
    }
    const size_t mr = k->mr, nr = k->nr;
    const size_t row_tiles = (m + mr - 1) / mr, panels = (n + nr - 1) / nr;
    j.kc = k_block(k, kdim);
    j.nc = n_chunk(k, j.kc);

    /* Tasks: enough for the pool to balance (4 per thread), each big enough to be worth it; rows
     * first, columns when the rows run out. Each element's sum is the same sequence of
     * micro-kernel calls whoever makes them, so the result is the same for every thread count. */
    const size_t threads = eml__pool_threads(pool);
    size_t want = threads > 1 ? threads * 4 : 1;
    const double task_sized = ((double)m + WEIGHT_COST_MACS) * (double)n * (double)kdim /
                              MIN_TASK_MACS; /* in double: no overflow */
    if (task_sized < (double)want)
        want = task_sized < 2.0 ? 1 : (size_t)task_sized;
    size_t row_blocks = EML_MIN(row_tiles, want);
    size_t col_blocks = EML_MIN(panels, (want + row_blocks - 1) / row_blocks);
    size_t tiles_per_block = (row_tiles + row_blocks - 1) / row_blocks;
    size_t panels_per_block = (panels + col_blocks - 1) / col_blocks;
    j.mb = tiles_per_block * mr;
    j.nb = panels_per_block * nr;
    j.col_blocks = (panels + panels_per_block - 1) / panels_per_block;
    row_blocks = (row_tiles + tiles_per_block - 1) / tiles_per_block;
    eml__pool_run(pool, row_blocks * j.col_blocks, gemm_task, &j);
}
