/* Property tests of the integer kernels: the shared requantization on hand-computed values, and
 * every fast QConv variant this CPU runs (AVX-512 VNNI, AVX2; on aarch64 NEON dot product and plain
 * NEON) and fast QAdd against the reference kernels, bit for bit, on random shapes around the
 * tiles (odd channel counts, K tails, 1x1 direct rows, padding, strides, dilations, depthwise,
 * per-tensor and per-channel scales, clamps), the u8·s8 saturation edge (255 · -128 pairs), zero
 * points 0, 128 and 255, and 1, 2 and 3 threads. */
#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "fast_test_util.h"
#include "harness.h"
#include "kernels/fast_qadd.h"
#include "kernels/fast_qconv.h"
#include "kernels/fast_qpool.h"
#include "kernels/fast_qquant.h"
#include "kernels/ref/quantize.h"
#include "kernels/ref/nhwc.h"
#include "kernels/ref/qnhwc.h"

EML_TEST(requant_rounds_half_up_exactly)
{
    eml_qrequant q;
    REQUIRE(eml__qrequant_init(0.5, &q));
    CHECK(q.multiplier == (1 << 30) && q.shift == 31);
    CHECK(eml__qrequant_scale(3, q) == 2);   /* 1.5 -> 2 */
    CHECK(eml__qrequant_scale(-3, q) == -1); /* -1.5 -> -1: ties toward +inf */
    CHECK(eml__qrequant_scale(5, q) == 3);
    CHECK(eml__qrequant_scale(-5, q) == -2);
    REQUIRE(eml__qrequant_init(1.0, &q));
    CHECK(eml__qrequant_scale(INT32_MAX, q) == INT32_MAX);
    CHECK(eml__qrequant_scale(INT32_MIN, q) == INT32_MIN);
    REQUIRE(eml__qrequant_init(0.999999999, &q));
    /* M = 2^31 - 2: -2^31 · M / 2^31 = -2^31 + 2 exactly; fits int32 at the extreme */
    CHECK(eml__qrequant_scale(INT32_MIN, q) == INT32_MIN + 2);
    REQUIRE(eml__qrequant_init(0.25 + 1.0 / 1024, &q));
    CHECK(eml__qrequant_scale(1024, q) == 257);
    REQUIRE(eml__qrequant_init(1e-12, &q));
    CHECK(eml__qrequant_scale(INT32_MAX, q) == 0);
    CHECK(!eml__qrequant_init(1.5, &q));
    CHECK(!eml__qrequant_init(-0.5, &q));
    CHECK(!eml__qrequant_init(NAN, &q));
    CHECK(eml__qrequant_u8(1000, (eml_qrequant){1 << 30, 31}, 10, 0, 255) == 255);
    CHECK(eml__qrequant_u8(-1000, (eml_qrequant){1 << 30, 31}, 10, 0, 255) == 0);
    CHECK(eml__qrequant_u8(-20, (eml_qrequant){1 << 30, 31}, 10, 3, 200) == 3);
    /* Add: weights of 0.5 and 0.25 at shift 22 -> exact sums */
    eml_qadd a;
    REQUIRE(eml__qadd_init(0.5, 0.25, &a));
    CHECK(eml__qadd_u8(3, 2, &a, 100, 0, 255) == 102); /* 1.5 + 0.5 = 2 */
    CHECK(eml__qadd_u8(-255, -255, &a, 0, 0, 255) == 0);
    CHECK(eml__qadd_u8(255, 255, &a, 0, 0, 255) == 191); /* 191.25 */
    CHECK(!eml__qadd_init(3e6, 0.0, &a));
}

#define MAX_KERNELS 8

static size_t usable(const eml_qs8_conv_kernel **out)
{
    size_t count, k = 0;
    const eml_qs8_conv_kernel *all = eml__qs8_conv_kernels(&count);
    for (size_t i = 0; i < count && k < MAX_KERNELS; i++)
        if ((eml__cpu_features_detected() & all[i].isa) == all[i].isa)
            out[k++] = &all[i];
    return k;
}

typedef struct conv_case {
    int64_t n, h, w, c, o, kh, kw, sh, sw, dh, dw, pads[4], group;
    bool per_channel, clamp, extreme;
    bool fixed_zp; /* x_zp, y_zp below instead of random ones */
    uint8_t x_zp, y_zp;
    bool w127; /* weights in -127..127 (symmetric int8) */
} conv_case;

/* Runs one case on the reference kernel and every usable fast variant with 1-3 threads;
 * returns false when its geometry is invalid (skipped). */
static bool run_case(const conv_case *cc, eml_pool **pools)
{
    eml_qconv_params p;
    memset(&p, 0, sizeof(p));
    p.conv.group = cc->group;
    p.conv.kernel_count = -1;
    p.conv.strides_count = 2;
    p.conv.strides[0] = cc->sh;
    p.conv.strides[1] = cc->sw;
    p.conv.dilations_count = 2;
    p.conv.dilations[0] = cc->dh;
    p.conv.dilations[1] = cc->dw;
    p.conv.pads_count = 4;
    memcpy(p.conv.pads, cc->pads, sizeof(cc->pads));
    p.conv.output_padding_count = -1;
    p.conv.output_shape_count = -1;
    p.qmin = cc->clamp ? (int32_t)(eml_test_rand() % 60) : 0;
    p.qmax = cc->clamp ? 255 - (int32_t)(eml_test_rand() % 60) : 255;
    const int64_t cg = cc->c / cc->group;
    const int64_t xd[4] = {cc->n, cc->h, cc->w, cc->c}, wd[4] = {cc->o, cg, cc->kh, cc->kw};
    eml_tensor x = tensor(EML_DTYPE_U8, 4, xd, NULL), w = tensor(EML_DTYPE_I8, 4, wd, NULL);
    eml_conv_geom g;
    char why[160];
    if (eml__nhwc_conv_geom(&p.conv, &x, &w, &g, why, sizeof(why)) != EML_OK)
        return false;
    const size_t xn = (size_t)(cc->n * cc->h * cc->w * cc->c), wn = (size_t)(cc->o * cg * cc->kh * cc->kw);
    const size_t yn = (size_t)(g.batch * g.out[0] * g.out[1] * cc->o);
    uint8_t *xv = malloc(xn + 1), *y0 = malloc(yn + 1), *y1 = malloc(yn + 1);
    int8_t *wv = malloc(wn + 1);
    int32_t *bias = malloc((size_t)cc->o * 4);
    float *ws = malloc((size_t)cc->o * 4);
    REQUIRE(xv && y0 && y1 && wv && bias && ws);
    for (size_t i = 0; i < xn; i++)
        xv[i] = cc->extreme ? (eml_test_rand() % 4 ? 255 : 0) : (uint8_t)eml_test_rand();
    for (size_t i = 0; i < wn; i++)
        wv[i] = cc->extreme ? (eml_test_rand() % 4 ? -128 : 127)
                : cc->w127  ? (int8_t)((int)(eml_test_rand() % 255) - 127)
                            : (int8_t)eml_test_rand();
    for (int64_t i = 0; i < cc->o; i++) {
        bias[i] = (int32_t)(eml_test_rand() % 200001) - 100000;
        ws[i] = eml_test_randf(0.001f, 0.01f);
    }
    float xs = eml_test_randf(0.01f, 0.05f);
    /* outputs mostly inside the range: y_scale near the accumulators' spread */
    const double k = (double)(cg * cc->kh * cc->kw);
    float ys = (float)(xs * 0.01 * sqrt(k) * 128.0 * 40.0 * eml_test_randf(0.05f, 2.0f));
    if (cc->extreme)
        ys = (float)(xs * 0.01 * k * 255.0 * 128.0 / 100.0);
    uint8_t xz = cc->extreme ? 0 : (uint8_t)eml_test_rand(), yz = (uint8_t)eml_test_rand();
    if (cc->fixed_zp) {
        xz = cc->x_zp;
        yz = cc->y_zp;
    }
    const int64_t one[1] = {1}, od[1] = {cc->o};
    eml_tensor in[9] = {
        x,
        tensor(EML_DTYPE_F32, 0, one, &xs),
        tensor(EML_DTYPE_U8, 0, one, &xz),
        w,
        cc->per_channel ? tensor(EML_DTYPE_F32, 1, od, ws) : tensor(EML_DTYPE_F32, 0, one, ws),
        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL),
        tensor(EML_DTYPE_F32, 0, one, &ys),
        tensor(EML_DTYPE_U8, 0, one, &yz),
        tensor(EML_DTYPE_I32, 1, od, bias)};
    in[0].data = xv;
    in[3].data = wv;
    const int64_t yd[4] = {g.batch, g.out[0], g.out[1], cc->o};
    eml_tensor out = tensor(EML_DTYPE_U8, 4, yd, y0);
    eml_kernel_ctx kc = {&p, in, 9, &out, 1, NULL, 0, NULL, NULL};
    REQUIRE(eml__ref_qconv(&kc) == EML_OK);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    const eml_qs8_conv_kernel *ks[MAX_KERNELS];
    const size_t nk = usable(ks);
    for (size_t ki = 0; ki < nk; ki++) {
        eml_tensor at_plan[9];
        memcpy(at_plan, in, sizeof(in));
        at_plan[0].data = NULL;
        eml_fast_select_ctx sc = {EML_OP_QConv, &p, 1, at_plan, 9, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        REQUIRE(eml__fast_qconv_select_with(&sc, ks[ki], &fk) == EML_OK);
        REQUIRE(fk.run != NULL);
        const size_t sb = fk.scratch_bytes ? fk.scratch_bytes(fk.state, in, 9, &out, 1) : 0;
        void *scratch = sb ? aligned_alloc(64, (sb + 63) / 64 * 64) : NULL;
        for (int t = 1; t <= 3; t++) {
            memset(y1, 0xA5, yn);
            eml_tensor o1 = out;
            o1.data = y1;
            eml_kernel_ctx fc = {fk.state, in, 9, &o1, 1, scratch, sb, pools[t], NULL};
            REQUIRE(fk.run(&fc) == EML_OK);
            if (memcmp(y0, y1, yn) != 0) {
                size_t i = 0;
                while (y0[i] == y1[i])
                    i++;
                fprintf(stderr,
                        "%s, %d threads: n%lld %lldx%lld c%lld o%lld k%lldx%lld s%lld,%lld "
                        "d%lld,%lld pads %lld,%lld,%lld,%lld group %lld: at %zu got %u want %u\n",
                        ks[ki]->name, t, (long long)cc->n, (long long)cc->h, (long long)cc->w,
                        (long long)cc->c, (long long)cc->o, (long long)cc->kh, (long long)cc->kw,
                        (long long)cc->sh, (long long)cc->sw, (long long)cc->dh, (long long)cc->dw,
                        (long long)cc->pads[0], (long long)cc->pads[1], (long long)cc->pads[2],
                        (long long)cc->pads[3], (long long)cc->group, i, y1[i], y0[i]);
                eml_test_failures++;
                break;
            }
        }
        free(scratch);
        fk.destroy(env, fk.state);
    }
    eml_env_destroy(env);
    free(xv);
    free(y0);
    free(y1);
    free(wv);
    free(bias);
    free(ws);
    return true;
}

static int64_t rnd(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(eml_test_rand() % (uint32_t)(hi - lo + 1));
}

static void with_pools(void (*fn)(eml_pool **))
{
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pools[4] = {NULL, NULL, NULL, NULL};
    for (uint32_t t = 1; t <= 3; t++)
        REQUIRE(eml__pool_create(env, t, &pools[t]) == EML_OK);
    fn(pools);
    for (int t = 1; t <= 3; t++)
        eml__pool_destroy(pools[t]);
    eml_env_destroy(env);
}

static void random_gemm_convs(eml_pool **pools)
{
    int done = 0;
    for (int i = 0; i < 400 && done < 120; i++) {
        conv_case cc = {0};
        cc.n = rnd(1, 2);
        cc.h = rnd(1, 11);
        cc.w = rnd(1, 11);
        cc.c = i % 3 == 0 ? rnd(1, 9) : rnd(1, 70);
        cc.o = i % 4 == 0 ? rnd(1, 9) : rnd(1, 100);
        cc.kh = rnd(1, 3);
        cc.kw = i % 5 == 0 ? rnd(1, 3) : cc.kh;
        cc.sh = rnd(1, 2);
        cc.sw = rnd(1, 2);
        cc.dh = i % 7 == 0 ? 2 : 1;
        cc.dw = i % 7 == 0 ? rnd(1, 2) : 1;
        for (int d = 0; d < 4; d++)
            cc.pads[d] = i % 2 ? rnd(0, 2) : 0;
        if (i % 6 == 1) { /* 1x1 direct rows */
            cc.kh = cc.kw = cc.sh = cc.sw = 1;
            memset(cc.pads, 0, sizeof(cc.pads));
            cc.c = 4 * rnd(1, 20);
        }
        cc.group = 1;
        cc.per_channel = i % 3 != 2;
        cc.clamp = i % 4 == 3;
        done += run_case(&cc, pools);
    }
    CHECK(done >= 100);
}

EML_TEST(qconv_gemm_variants_match_reference)
{
    with_pools(random_gemm_convs);
}

static void random_depthwise(eml_pool **pools)
{
    int done = 0;
    for (int i = 0; i < 300 && done < 80; i++) {
        conv_case cc = {0};
        cc.n = rnd(1, 2);
        cc.h = rnd(1, 13);
        cc.w = rnd(1, 13);
        cc.c = cc.o = cc.group = i % 2 ? rnd(1, 40) : rnd(60, 140);
        cc.kh = rnd(1, 5);
        cc.kw = i % 3 ? cc.kh : rnd(1, 5);
        cc.sh = rnd(1, 2);
        cc.sw = cc.sh;
        cc.dh = cc.dw = i % 5 == 0 ? 2 : 1;
        for (int d = 0; d < 4; d++)
            cc.pads[d] = rnd(0, 2);
        cc.per_channel = i % 3 != 0;
        cc.clamp = i % 4 == 1;
        done += run_case(&cc, pools);
    }
    CHECK(done >= 60);
}

EML_TEST(qconv_depthwise_variants_match_reference)
{
    with_pools(random_depthwise);
}

/* Rows wide enough for several blocks of interior outputs (4 at a time up to 32 channels, 2 up
 * to 64) plus their tails, each channel block count 1-4 of 16 lanes with and without a partial
 * one, beside 64-channel blocks, and border outputs on both sides (mobilenet's 3x3 pad 1 and a
 * 5x5 pad 2, strides 1 and 2, asymmetric pads that shift the interior). */
static void wide_depthwise(eml_pool **pools)
{
    static const int64_t cs[] = {1, 16, 21, 32, 40, 48, 64, 80, 96, 144, 200};
    int done = 0;
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
        for (int64_t st = 1; st <= 2; st++)
            for (int k = 0; k < 3; k++) {
                conv_case cc = {.n = 1, .h = 4, .w = 23 + (int64_t)i % 4, .kh = k == 2 ? 5 : 3,
                                .sh = st, .sw = st, .dh = 1, .dw = 1, .per_channel = k != 1,
                                .clamp = k == 1};
                cc.kw = cc.kh;
                cc.c = cc.o = cc.group = cs[i];
                for (int d = 0; d < 4; d++)
                    cc.pads[d] = k == 2 ? 2 : 1;
                if (k == 1) { /* interior starts at ox 0 and ends before the last output */
                    cc.pads[1] = 0;
                    cc.pads[3] = 2;
                }
                done += run_case(&cc, pools);
            }
    CHECK(done == (int)(sizeof(cs) / sizeof(cs[0])) * 2 * 3);
}

EML_TEST(qconv_wide_depthwise_rows_match_reference)
{
    with_pools(wide_depthwise);
}

/* Pairs 255 · -128 saturate vpmaddubsw's int16 sums; every variant must still be exact. */
static void saturation(eml_pool **pools)
{
    const int64_t cs[] = {4, 64, 3, 257};
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        conv_case cc = {.n = 1, .h = 5, .w = 6, .c = cs[i], .o = 35, .kh = 3, .kw = 3, .sh = 1,
                        .sw = 1, .dh = 1, .dw = 1, .pads = {1, 1, 1, 1}, .group = 1,
                        .per_channel = true, .extreme = true};
        CHECK(run_case(&cc, pools));
        cc.kh = cc.kw = 1;
        memset(cc.pads, 0, sizeof(cc.pads));
        CHECK(run_case(&cc, pools));
        cc.group = cc.o = cc.c;
        cc.kh = cc.kw = 3;
        CHECK(run_case(&cc, pools));
    }
}

EML_TEST(qconv_saturation_edges_are_exact)
{
    with_pools(saturation);
}

/* Zero points at the ends and middle of the uint8 range for input and output (x - x_zp reaches
 * ±255; the extreme cases' inputs are only 0 and 255), symmetric weights in -127..127 and the
 * -128/127 extremes, K tails (K = 9c, c odd), odd channel counts, 1x1 direct rows, and depthwise
 * with strides 1 and 2. */
static void zero_point_edges(eml_pool **pools)
{
    static const uint8_t zps[3] = {0, 128, 255};
    int done = 0;
    for (int zi = 0; zi < 3; zi++)
        for (int yi = 0; yi < 3; yi++)
            for (int v = 0; v < 4; v++) {
                conv_case cc = {.n = 1, .h = rnd(3, 7), .w = rnd(3, 9), .sh = 1, .sw = 1,
                                .dh = 1, .dw = 1, .group = 1, .per_channel = v % 2 == 0,
                                .clamp = v == 3, .fixed_zp = true, .x_zp = zps[zi],
                                .y_zp = zps[yi], .w127 = v != 2, .extreme = v == 2};
                cc.c = 2 * rnd(0, 20) + 1; /* odd: K = 9c, tails past groups of 4 and 16 */
                cc.o = 2 * rnd(0, 20) + 1;
                cc.kh = cc.kw = 3;
                for (int d = 0; d < 4; d++)
                    cc.pads[d] = v % 2;
                done += run_case(&cc, pools);
                cc.kh = cc.kw = 1; /* 1x1: direct rows where K is a multiple of 4 */
                memset(cc.pads, 0, sizeof(cc.pads));
                cc.c = 4 * rnd(1, 9) + (v == 1 ? 1 : 0);
                done += run_case(&cc, pools);
                cc.group = cc.o = cc.c = 2 * rnd(0, 20) + 1; /* depthwise, stride 1 then 2 */
                cc.kh = cc.kw = 3;
                for (int d = 0; d < 4; d++)
                    cc.pads[d] = 1;
                for (int64_t st = 1; st <= 2; st++) {
                    cc.sh = cc.sw = st;
                    done += run_case(&cc, pools);
                }
                cc.sh = cc.sw = 1;
            }
    CHECK(done == 3 * 3 * 4 * 4);
}

EML_TEST(qconv_zero_point_edges_are_exact)
{
    with_pools(zero_point_edges);
}

/* Names the variants the other tests compare (CI's logs show which ran: under qemu-aarch64, whose
 * default CPU has the dot-product extension, both NEON ones), and the one QConv picks under
 * EML_ISA. Every architecture with SIMD kernels has at least one variant usable. */
EML_TEST(qconv_variants_cover_this_cpu)
{
    const eml_qs8_conv_kernel *ks[MAX_KERNELS];
    const size_t nk = usable(ks);
    printf("qconv variants compared with the reference:");
    for (size_t i = 0; i < nk; i++)
        printf(" %s", ks[i]->name);
    printf("\n");
    const uint32_t det = eml__cpu_features_detected();
    const char *picked = "reference";
    size_t count;
    const eml_qs8_conv_kernel *all = eml__qs8_conv_kernels(&count);
    for (size_t i = 0; i < count; i++)
        if (eml__cpu_has(all[i].isa)) {
            picked = all[i].name;
            break;
        }
    printf("qconv variant picked under EML_ISA=%s: %s\n",
           getenv("EML_ISA") ? getenv("EML_ISA") : "(unset)", picked);
#if defined(__aarch64__)
    CHECK(nk >= 1 && (det & EML_CPU_ARM_NEON)); /* AArch64 always has Advanced SIMD */
    if (det & EML_CPU_ARM_DOTPROD)
        CHECK(nk == 2 && strcmp(ks[0]->name, "qs8_conv__neondot") == 0);
#elif defined(__x86_64__)
    if (det & EML_CPU_X86_AVX2)
        CHECK(nk >= 1);
#else
    (void)det;
#endif
}

EML_TEST(qconv_selector_declines_asymmetric_weights)
{
    size_t nk;
    const eml_qs8_conv_kernel *k = eml__qs8_conv_kernels(&nk);
    if (nk == 0)
        eml_test_skip("no integer kernels on this architecture");
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_qconv_params p;
    memset(&p, 0, sizeof(p));
    p.conv.group = 1;
    p.conv.kernel_count = p.conv.strides_count = p.conv.dilations_count = p.conv.pads_count = -1;
    p.qmax = 255;
    int8_t w[2 * 3] = {1, 2, 3, 4, 5, 6}, wz = 3;
    float xs = 0.1f, ws = 0.01f, ys = 0.5f;
    const int64_t one[1] = {1}, wd[4] = {2, 3, 1, 1}, xd[4] = {1, 2, 2, 3};
    eml_tensor in[9] = {tensor(EML_DTYPE_U8, 4, xd, NULL), tensor(EML_DTYPE_F32, 0, one, &xs),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL),
                        tensor(EML_DTYPE_I8, 4, wd, w), tensor(EML_DTYPE_F32, 0, one, &ws),
                        tensor(EML_DTYPE_I8, 0, one, &wz), tensor(EML_DTYPE_F32, 0, one, &ys),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL)};
    eml_fast_select_ctx sc = {EML_OP_QConv, &p, 1, in, 9, 1, env};
    eml_fast_kernel fk;
    memset(&fk, 0, sizeof(fk));
    CHECK(eml__fast_qconv_select_with(&sc, &k[0], &fk) == EML_OK && fk.run == NULL);
    wz = 0;
    ys = 1e-6f; /* x_scale·w_scale/y_scale above 1: not representable */
    CHECK(eml__fast_qconv_select_with(&sc, &k[0], &fk) == EML_OK && fk.run == NULL);
    eml_env_destroy(env);
}

EML_TEST(qadd_fast_matches_reference)
{
    if (!(eml__cpu_features_detected() & EML_CPU_X86_AVX2))
        eml_test_skip("no AVX2");
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    for (int iter = 0; iter < 60; iter++) {
        const int64_t n = iter < 20 ? iter + 1 : rnd(1, 40000);
        uint8_t *a = malloc((size_t)n), *b = malloc((size_t)n), *y0 = malloc((size_t)n),
                *y1 = malloc((size_t)n);
        REQUIRE(a && b && y0 && y1);
        for (int64_t i = 0; i < n; i++) {
            a[i] = iter % 5 == 0 ? 255 : (uint8_t)eml_test_rand();
            b[i] = iter % 5 == 0 ? 0 : (uint8_t)eml_test_rand();
        }
        float as = eml_test_randf(0.01f, 0.1f), bs = eml_test_randf(0.01f, 0.1f);
        float ys = eml_test_randf(0.01f, 0.2f);
        uint8_t az = (uint8_t)eml_test_rand(), bz = (uint8_t)eml_test_rand(),
                yz = (uint8_t)eml_test_rand();
        eml_qadd_params p = {iter % 3 == 0 ? yz : 0, 255};
        const int64_t one[1] = {1}, d[1] = {n};
        eml_tensor in[8] = {tensor(EML_DTYPE_U8, 1, d, a),     tensor(EML_DTYPE_F32, 0, one, &as),
                            tensor(EML_DTYPE_U8, 0, one, &az), tensor(EML_DTYPE_U8, 1, d, b),
                            tensor(EML_DTYPE_F32, 0, one, &bs), tensor(EML_DTYPE_U8, 0, one, &bz),
                            tensor(EML_DTYPE_F32, 0, one, &ys), tensor(EML_DTYPE_U8, 0, one, &yz)};
        eml_tensor out = tensor(EML_DTYPE_U8, 1, d, y0);
        eml_kernel_ctx kc = {&p, in, 8, &out, 1, NULL, 0, NULL, NULL};
        REQUIRE(eml__ref_qadd(&kc) == EML_OK);
        eml_tensor at_plan[8];
        memcpy(at_plan, in, sizeof(in));
        at_plan[0].data = at_plan[3].data = NULL;
        eml_fast_select_ctx sc = {EML_OP_QAdd, &p, 1, at_plan, 8, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        REQUIRE(eml__fast_qadd_select(&sc, &fk) == EML_OK && fk.run);
        out.data = y1;
        eml_kernel_ctx fc = {fk.state, in, 8, &out, 1, NULL, 0, NULL, NULL};
        REQUIRE(fk.run(&fc) == EML_OK);
        CHECK(memcmp(y0, y1, (size_t)n) == 0);
        fk.destroy(env, fk.state);
        free(a);
        free(b);
        free(y0);
        free(y1);
    }
    eml_env_destroy(env);
}

EML_TEST(qmaxpool_fast_matches_reference)
{
    if (!(eml__cpu_features_detected() & EML_CPU_X86_AVX2))
        eml_test_skip("no AVX2");
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pool;
    REQUIRE(eml__pool_create(env, 2, &pool) == EML_OK);
    for (int iter = 0; iter < 60; iter++) {
        eml_pool_params p;
        memset(&p, 0, sizeof(p));
        p.is_max = 1;
        p.kernel_count = 2;
        /* every third window is 5x5..7x7: more pixels than the fast kernel takes per call */
        p.kernel[0] = iter % 3 ? rnd(1, 3) : rnd(5, 7);
        p.kernel[1] = iter % 3 ? rnd(1, 3) : rnd(5, 7);
        p.strides_count = 2;
        p.strides[0] = rnd(1, 2);
        p.strides[1] = rnd(1, 2);
        p.dilations_count = -1;
        p.pads_count = 4;
        for (int d = 0; d < 4; d++)
            p.pads[d] = rnd(0, p.kernel[d % 2] - 1);
        const int64_t xd[4] = {rnd(1, 2), rnd(1, 9), rnd(1, 9), rnd(1, 70)};
        eml_tensor x = tensor(EML_DTYPE_U8, 4, xd, NULL);
        eml_conv_geom g;
        char why[160];
        if (eml__nhwc_pool_geom(&p, &x, &g, why, sizeof(why)) != EML_OK)
            continue;
        const size_t xn = (size_t)(xd[0] * xd[1] * xd[2] * xd[3]);
        const int64_t yd[4] = {g.batch, g.out[0], g.out[1], xd[3]};
        const size_t yn = (size_t)(yd[0] * yd[1] * yd[2] * yd[3]);
        uint8_t *xv = malloc(xn), *y0 = malloc(yn), *y1 = malloc(yn);
        REQUIRE(xv && y0 && y1);
        for (size_t i = 0; i < xn; i++)
            xv[i] = (uint8_t)eml_test_rand();
        x.data = xv;
        float xs = 0.05f, ys = iter % 2 ? 0.05f : eml_test_randf(0.03f, 0.2f);
        uint8_t xz = 7, yz = iter % 2 ? 7 : (uint8_t)eml_test_rand();
        const int64_t one[1] = {1};
        eml_tensor in[5] = {x, tensor(EML_DTYPE_F32, 0, one, &xs), tensor(EML_DTYPE_U8, 0, one, &xz),
                            tensor(EML_DTYPE_F32, 0, one, &ys), tensor(EML_DTYPE_U8, 0, one, &yz)};
        eml_tensor out = tensor(EML_DTYPE_U8, 4, yd, y0);
        eml_kernel_ctx kc = {&p, in, 5, &out, 1, NULL, 0, NULL, NULL};
        REQUIRE(eml__ref_qmaxpool(&kc) == EML_OK);
        eml_fast_select_ctx sc = {EML_OP_QMaxPool, &p, 1, in, 5, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        REQUIRE(eml__fast_qmaxpool_select(&sc, &fk) == EML_OK && fk.run);
        out.data = y1;
        eml_kernel_ctx fc = {fk.state, in, 5, &out, 1, NULL, 0, pool, NULL};
        REQUIRE(fk.run(&fc) == EML_OK);
        CHECK(memcmp(y0, y1, yn) == 0);
        fk.destroy(env, fk.state);
        free(xv);
        free(y0);
        free(y1);
    }
    eml__pool_destroy(pool);
    eml_env_destroy(env);
}

EML_TEST(quantize_fast_matches_reference)
{
    if (!(eml__cpu_features_detected() & EML_CPU_X86_AVX2))
        eml_test_skip("no AVX2");
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    enum { N = 1000 };
    float x[N];
    uint8_t y0[N], y1[N];
    for (int i = 0; i < N; i++)
        x[i] = eml_test_randf(-8.0f, 8.0f);
    const float specials[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 0.5f * 0.04f,
                              1.5f * 0.04f, -2.5f * 0.04f, -0.0f};
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
        x[i * 7] = specials[i];
    float s = 0.04f;
    uint8_t z = 100;
    eml_quantize_params p = {1};
    for (int64_t n = 1; n <= N; n += n < 20 ? 1 : 97) {
        const int64_t d[1] = {n}, one[1] = {1};
        eml_tensor in[3] = {tensor(EML_DTYPE_F32, 1, d, x), tensor(EML_DTYPE_F32, 0, one, &s),
                            tensor(EML_DTYPE_U8, 0, one, &z)};
        eml_tensor out = tensor(EML_DTYPE_U8, 1, d, y0);
        eml_kernel_ctx kc = {&p, in, 3, &out, 1, NULL, 0, NULL, NULL};
        REQUIRE(eml__ref_quantize(&kc) == EML_OK);
        eml_fast_select_ctx sc = {EML_OP_QuantizeLinear, &p, 13, in, 3, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        REQUIRE(eml__fast_quantize_select(&sc, &fk) == EML_OK && fk.run);
        out.data = y1;
        eml_kernel_ctx fc = {fk.state, in, 3, &out, 1, NULL, 0, NULL, NULL};
        REQUIRE(fk.run(&fc) == EML_OK);
        CHECK(memcmp(y0, y1, (size_t)n) == 0);
        fk.destroy(env, fk.state);
    }
    eml_env_destroy(env);
}
