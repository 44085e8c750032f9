/* The drift profiler and monitor: profiles of real Fashion-MNIST images, PSI of served test
 * images (stable) and of shifted ones (drift), hand-computed PSI, profiles refused. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeml/drift.h"
#include "fashion_util.h"
#include "harness.h"
#include "serve/drift.h"

static eml_env *env;
static eml_graph *graph;

/* The fashion_cnn model (input "input" float32 [N,1,28,28]). */
static void load_model(void)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", src);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_env_create(NULL, &env), &d);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &graph, &d), &d);
}

static void unload_model(void)
{
    eml_graph_destroy(graph);
    eml_env_destroy(env);
}

static float invert(float v)
{
    return 1.0f - v; /* (255 - x) / 255 */
}

static float brighten(float v)
{
    return fminf(v + 0.2f, 1.0f); /* +51 grey levels, clipped */
}

/* 1 when channel 0 of the profile's first input has these edges and fractions (within 1e-9). */
static int channel_is(const cJSON *profile, const double *edges, int n_edges,
                      const double *fractions)
{
    const cJSON *ch = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(profile, "inputs"), 0),
                            "channels"),
        0);
    const cJSON *e = cJSON_GetObjectItem(ch, "edges"), *f = cJSON_GetObjectItem(ch, "fractions");
    if (cJSON_GetArraySize(e) != n_edges || cJSON_GetArraySize(f) != n_edges + 1)
        return 0;
    for (int i = 0; i <= n_edges; i++) {
        if (i < n_edges && fabs(cJSON_GetArrayItem(e, i)->valuedouble - edges[i]) > 1e-9)
            return 0;
        if (fabs(cJSON_GetArrayItem(f, i)->valuedouble - fractions[i]) > 1e-9)
            return 0;
    }
    return 1;
}

/* Profiles `t` (the model's one input) with the given bins; returns the "drift" object. */
static cJSON *profile_of(const eml_tensor *t, uint32_t bins)
{
    eml_diag d;
    eml_diag_init(&d);
    eml_drift_profile_options o;
    eml_drift_profile_options_init(&o);
    o.n_bins = bins;
    o.window = 1000000; /* nothing ages out within a test */
    o.min_samples = 1;
    eml_drift_profiler *p;
    REQUIRE_OK(eml_drift_profiler_create(graph, &o, &p, &d), &d);
    REQUIRE_OK(eml_drift_profiler_add(p, t, 1, &d), &d);
    char *json;
    REQUIRE_OK(eml_drift_profiler_finish(p, &json, &d), &d);
    eml_drift_profiler_destroy(p);
    cJSON *profile = cJSON_Parse(json);
    REQUIRE(profile);
    free(json);
    return profile;
}

/* Feeds t through the monitor in batches of 50 rows, as an agent's requests would. */
static void observe_all(eml__drift *m, const eml_tensor *t)
{
    for (int64_t r = 0; r < t->dims[0]; r += 50) {
        eml_tensor b = *t;
        b.dims[0] = t->dims[0] - r < 50 ? t->dims[0] - r : 50;
        b.data = (float *)t->data + r * 784;
        CHECK(eml__drift_observe(m, &b, 1, NULL) == (uint64_t)b.dims[0]);
    }
}

static double psi_of(const cJSON *profile, const eml_tensor *t, const char **status)
{
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m;
    REQUIRE_OK(eml__drift_create(profile, graph, &m, &d), &d);
    observe_all(m, t);
    eml__drift_summary s;
    eml__drift_summarize(m, &s);
    CHECK(s.samples == (uint64_t)t->dims[0]);
    static char st[32];
    snprintf(st, sizeof(st), "%s", s.status);
    *status = st;
    eml__drift_destroy(m);
    return s.max_psi;
}

EML_TEST(fashion_mnist_stable_and_shifted)
{
    load_model();
    eml_tensor train = fashion_images(env, FASHION_TRAIN_IMAGES, 0, 1000, 4, NULL);
    eml_tensor test = fashion_images(env, FASHION_TEST_IMAGES, 0, 1000, 4, NULL);
    eml_tensor inverted = fashion_images(env, FASHION_TEST_IMAGES, 0, 1000, 4, invert);
    eml_tensor bright = fashion_images(env, FASHION_TEST_IMAGES, 0, 1000, 4, brighten);
    eml_tensor train2 = fashion_images(env, FASHION_TRAIN_IMAGES, 1000, 1000, 4, NULL);
    cJSON *profile = profile_of(&train, 10);
    const cJSON *ch0 = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(profile, "inputs"), 0),
                            "channels"),
        0);
    char *text = cJSON_PrintUnformatted(ch0);
    printf("profile of 1000 training images, channel 0: %s\n", text);
    free(text);
    /* Half the pixels are 0: the zeros get a bin of their own (an edge just below 0 and one
     * halfway to the next grey level, 1/255), the other edges follow the quantiles of the rest,
     * halfway between grey levels. */
    const cJSON *edges = cJSON_GetObjectItem(ch0, "edges");
    CHECK(cJSON_GetArraySize(edges) >= 5 &&
          fabs(cJSON_GetArrayItem(edges, 1)->valuedouble - 0.5 / 255) < 1e-7 &&
          cJSON_GetArrayItem(edges, 0)->valuedouble < 0.0);
    const char *st;
    double p_test = psi_of(profile, &test, &st);
    printf("PSI of 1000 test images: %.6f (%s)\n", p_test, st);
    CHECK(p_test < 0.1 && strcmp(st, "ok") == 0);
    double p_train2 = psi_of(profile, &train2, &st);
    printf("PSI of the next 1000 training images: %.6f (%s)\n", p_train2, st);
    CHECK(p_train2 < 0.1 && strcmp(st, "ok") == 0);
    double p_inv = psi_of(profile, &inverted, &st);
    printf("PSI of the test images inverted (255-x): %.6f (%s)\n", p_inv, st);
    CHECK(p_inv > 0.25 && strcmp(st, "drift") == 0);
    double p_bright = psi_of(profile, &bright, &st);
    printf("PSI of the test images brightened (+51, clipped): %.6f (%s)\n", p_bright, st);
    CHECK(p_bright > 0.25 && strcmp(st, "drift") == 0);
    cJSON_Delete(profile);
    free(train.data);
    free(train2.data);
    free(test.data);
    free(inverted.data);
    free(bright.data);
    unload_model();
}

/* A share of the traffic from a new source (here: inverted images) raises PSI with the share;
 * the figures are printed for docs/drift.md. */
EML_TEST(psi_grows_with_the_share_of_shifted_inputs)
{
    load_model();
    eml_tensor train = fashion_images(env, FASHION_TRAIN_IMAGES, 0, 1000, 4, NULL);
    eml_tensor test = fashion_images(env, FASHION_TEST_IMAGES, 0, 1000, 4, NULL);
    eml_tensor inverted = fashion_images(env, FASHION_TEST_IMAGES, 0, 1000, 4, invert);
    cJSON *profile = profile_of(&train, 10);
    const int percent[] = {0, 2, 5, 10, 20, 50};
    double last = -1;
    for (size_t k = 0; k < sizeof(percent) / sizeof(percent[0]); k++) {
        /* every (100 / percent)-th image inverted, spread over the 1000 */
        float *x = malloc(1000 * 784 * sizeof(float));
        REQUIRE(x);
        int n_inv = 0;
        for (int i = 0; i < 1000; i++) {
            int inv = percent[k] && (i * percent[k]) % 100 < percent[k];
            n_inv += inv;
            memcpy(x + i * 784, (float *)(inv ? inverted.data : test.data) + i * 784,
                   784 * sizeof(float));
        }
        eml_tensor t = test;
        t.data = x;
        const char *st;
        double psi = psi_of(profile, &t, &st);
        printf("%2d%% inverted (%d of 1000): PSI %.4f (%s)\n", percent[k], n_inv, psi, st);
        CHECK(n_inv == percent[k] * 10);
        CHECK(psi > last);
        last = psi;
        if (percent[k] == 0)
            CHECK(strcmp(st, "ok") == 0);
        if (percent[k] == 50)
            CHECK(strcmp(st, "drift") == 0);
        free(x);
    }
    cJSON_Delete(profile);
    free(train.data);
    free(test.data);
    free(inverted.data);
    unload_model();
}

/* A profile of one channel of the model's input, in JSON text. */
static cJSON *make_profile(const char *channels, const char *extra)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"min_samples\":1%s,\"inputs\":[{\"name\":\"input\",\"axis\":1,\"channels\":[%s]}]}",
             extra, channels);
    cJSON *p = cJSON_Parse(buf);
    REQUIRE(p);
    return p;
}

EML_TEST(psi_hand_computed)
{
    load_model();
    double e1[] = {0.5, 0.5}, a1[] = {0.25, 0.75};
    CHECK(fabs(eml_drift_psi(e1, a1, 2) - 0.2746530721670274) < 1e-12);
    double e2[] = {0.9, 0.1}, a2[] = {1.0, 0.0}; /* an emptied bin counts as 1e-4 */
    CHECK(fabs(eml_drift_psi(e2, a2, 2) - 0.7006208039360982) < 1e-12);
    double e3[] = {0.1, 0.2, 0.3, 0.4}, a3[] = {0.4, 0.3, 0.2, 0.1};
    CHECK(fabs(eml_drift_psi(e3, a3, 4) - 0.9128696382935673) < 1e-12);
    CHECK(eml_drift_psi(e3, e3, 4) == 0.0);
    /* The same through the monitor: bins (-inf, 0.5], (0.5, inf); 1 of 4 values below. */
    cJSON *p = make_profile("{\"edges\":[0.5],\"fractions\":[0.5,0.5]}", "");
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m;
    REQUIRE_OK(eml__drift_create(p, graph, &m, &d), &d);
    float img[784];
    for (int i = 0; i < 784; i++)
        img[i] = i < 196 ? 0.5f : 0.9f; /* 0.5 equals the edge: the bin left of it */
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, img};
    CHECK(eml__drift_observe(m, &t, 1, NULL) == 1);
    eml__drift_summary s;
    eml__drift_summarize(m, &s);
    CHECK(fabs(s.max_psi - 0.2746530721670274) < 1e-9);
    CHECK(strcmp(s.status, "drift") == 0 && s.samples == 1);
    /* The report says the same per channel, with the bins. */
    cJSON *r = eml__drift_report(m, 1);
    char *text = cJSON_PrintUnformatted(r);
    printf("%s\n", text);
    CHECK(strstr(text, "\"psi\":0.274653") && strstr(text, "\"actual\":[0.25,0.75]"));
    free(text);
    cJSON_Delete(r);
    /* Reset empties the window. */
    eml__drift_reset(m);
    eml__drift_summarize(m, &s);
    CHECK(s.samples == 0 && s.max_psi == 0 && strcmp(s.status, "collecting") == 0);
    eml__drift_destroy(m);
    cJSON_Delete(p);
    unload_model();
}

/* Creating the monitor from `channels`/`extra` fails with EINVAL and a message holding want. */
static int refused(const char *channels, const char *extra, const char *want)
{
    cJSON *p = make_profile(channels, extra);
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m = NULL;
    eml_status st = eml__drift_create(p, graph, &m, &d);
    cJSON_Delete(p);
    int ok = st == EML_EINVAL && !m && strstr(d.message, want);
    if (!ok)
        fprintf(stderr, "want '%s', got %s: %s\n", want, eml_status_name(st), d.message);
    eml__drift_destroy(m);
    return ok;
}

EML_TEST(bad_profiles_refused)
{
    load_model();
    const char *one = "{\"edges\":[0.5],\"fractions\":[0.5,0.5]}";
    char three[256];
    snprintf(three, sizeof(three), "%s,%s,%s", one, one, one);
    CHECK(refused(three, "", "has 1 channels on axis 1, the profile 3"));
    CHECK(refused("{\"edges\":[0.5,0.5],\"fractions\":[0.3,0.3,0.4]}", "", "edges must increase"));
    CHECK(refused("{\"edges\":[0.7,0.5],\"fractions\":[0.3,0.3,0.4]}", "", "edges must increase"));
    CHECK(refused("{\"edges\":[0.5],\"fractions\":[0.5,0.6]}", "", "fractions sum to 1.1"));
    CHECK(refused("{\"edges\":[0.5],\"fractions\":[0.5]}", "", "1 edges need 2 fractions"));
    CHECK(refused("{\"edges\":[0.5],\"fractions\":[-0.5,1.5]}", "", "from 0 to 1"));
    CHECK(refused("{\"edges\":[\"a\"],\"fractions\":[0.5,0.5]}", "", "not a finite number"));
    CHECK(refused("{\"fractions\":[1]}", "", "needs \"edges\" and \"fractions\""));
    CHECK(refused(one, ",\"warn\":0.5,\"alert\":0.2", "above \"alert\""));
    CHECK(refused(one, ",\"window\":1", "\"window\" must be an integer"));
    /* An input the model does not have, an axis beyond its rank. */
    cJSON *p = cJSON_Parse("{\"inputs\":[{\"name\":\"image\",\"channels\":[{\"edges\":[],"
                           "\"fractions\":[1]}]}]}");
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m = NULL;
    CHECK_STATUS(eml__drift_create(p, graph, &m, &d), EML_EINVAL);
    CHECK(strstr(d.message, "the model has no input 'image'") != NULL);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"inputs\":[{\"name\":\"input\",\"axis\":5,\"channels\":[{\"edges\":[],"
                    "\"fractions\":[1]}]}]}");
    CHECK_STATUS(eml__drift_create(p, graph, &m, &d), EML_EINVAL);
    CHECK(strstr(d.message, "axis 5, but the input has rank 4") != NULL);
    /* Without a graph the same profile parses; binding it then fails. */
    REQUIRE_OK(eml__drift_create(p, NULL, &m, &d), &d);
    CHECK(!eml__drift_is_bound(m));
    CHECK_STATUS(eml__drift_bind(m, graph, &d), EML_EINVAL);
    float img[784] = {0};
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, img};
    CHECK(eml__drift_observe(m, &t, 1, NULL) == 0); /* unbound: nothing counted */
    eml__drift_destroy(m);
    cJSON_Delete(p);
    CHECK_STATUS(eml__drift_create(NULL, graph, &m, &d), EML_EINVAL);
    unload_model();
}

EML_TEST(profile_ties_and_constant_channels)
{
    load_model();
    /* A constant image set: one point mass, which gets its own bin between two edges. */
    float *x = malloc(100 * 784 * sizeof(float));
    REQUIRE(x);
    for (int i = 0; i < 100 * 784; i++)
        x[i] = 0.25f;
    eml_tensor t = {EML_DTYPE_F32, 4, {100, 1, 28, 28}, x};
    cJSON *p = profile_of(&t, 10);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "inputs"));
    printf("constant: %s\n", text);
    free(text);
    const double ce[] = {0.25 - 1e-6, 0.25 + 1e-6}, cf[] = {0, 1, 0};
    CHECK(channel_is(p, ce, 2, cf));
    /* The monitor accepts its own profile: the same data is stable, values just below or above
     * the constant are drift. */
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m;
    REQUIRE_OK(eml__drift_create(p, graph, &m, &d), &d);
    observe_all(m, &t);
    eml__drift_summary s;
    eml__drift_summarize(m, &s);
    CHECK(s.max_psi == 0.0 && strcmp(s.status, "ok") == 0);
    eml__drift_reset(m);
    for (int i = 0; i < 100 * 784; i++)
        x[i] = i % 2 ? 0.2f : 0.25f;
    observe_all(m, &t);
    eml__drift_summarize(m, &s);
    CHECK(s.max_psi > 0.25 && strcmp(s.status, "drift") == 0);
    eml__drift_destroy(m);
    cJSON_Delete(p);
    /* Ties: values 0..3 only, 10 bins: one edge between each two values, each a point mass. */
    for (int i = 0; i < 100 * 784; i++)
        x[i] = (float)(i % 4);
    p = profile_of(&t, 10);
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(p, "inputs"));
    printf("4 values: %s\n", text);
    free(text);
    const double te[] = {-1e-6, 0.5, 1.5, 2.5, 3 + 3e-6};
    const double tf[] = {0, 0.25, 0.25, 0.25, 0.25, 0};
    CHECK(channel_is(p, te, 5, tf));
    cJSON_Delete(p);
    free(x);
    unload_model();
}

EML_TEST(window_ages_out_old_inputs)
{
    load_model();
    eml_tensor train = fashion_images(env, FASHION_TRAIN_IMAGES, 0, 500, 4, NULL);
    eml_tensor test = fashion_images(env, FASHION_TEST_IMAGES, 0, 300, 4, NULL);
    eml_tensor inverted = fashion_images(env, FASHION_TEST_IMAGES, 300, 200, 4, invert);
    cJSON *p = profile_of(&train, 10);
    cJSON_ReplaceItemInObject(p, "window", cJSON_CreateNumber(200));
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m;
    REQUIRE_OK(eml__drift_create(p, graph, &m, &d), &d);
    observe_all(m, &inverted);
    eml__drift_summary s;
    eml__drift_summarize(m, &s);
    CHECK(strcmp(s.status, "drift") == 0 && s.samples == 200);
    /* 300 good samples later the inverted ones have left the window (2 halves of 100). */
    observe_all(m, &test);
    eml__drift_summarize(m, &s);
    printf("after 300 good samples: PSI %.6f over %llu samples (%s), %llu counted in all\n",
           s.max_psi, (unsigned long long)s.samples, s.status, (unsigned long long)s.total_samples);
    CHECK(strcmp(s.status, "ok") == 0 && s.samples <= 200 && s.total_samples == 500);
    eml__drift_destroy(m);
    cJSON_Delete(p);
    free(train.data);
    free(test.data);
    free(inverted.data);
    unload_model();
}

typedef struct worker_arg {
    eml__drift *m;
    const eml_tensor *t;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    for (int i = 0; i < 200; i++)
        eml__drift_observe(w->m, w->t, 1, NULL);
    return NULL;
}

EML_TEST(observe_from_many_threads)
{
    load_model();
    cJSON *p = make_profile("{\"edges\":[0.5],\"fractions\":[0.5,0.5]}", ",\"window\":1000000");
    eml_diag d;
    eml_diag_init(&d);
    eml__drift *m;
    REQUIRE_OK(eml__drift_create(p, graph, &m, &d), &d);
    float img[2 * 784];
    for (int i = 0; i < 2 * 784; i++)
        img[i] = (float)(i % 2);
    eml_tensor t = {EML_DTYPE_F32, 4, {2, 1, 28, 28}, img};
    pthread_t th[4];
    worker_arg w = {m, &t};
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&th[i], NULL, worker, &w) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    eml__drift_summary s;
    eml__drift_summarize(m, &s);
    CHECK(s.samples == 4 * 200 * 2 && s.total_samples == 1600);
    CHECK(s.max_psi < 1e-12 && strcmp(s.status, "ok") == 0);
    eml__drift_destroy(m);
    cJSON_Delete(p);
    unload_model();
}

EML_TEST(profiler_refuses_bad_data)
{
    load_model();
    eml_diag d;
    eml_diag_init(&d);
    eml_drift_profiler *p;
    eml_drift_profile_options o;
    eml_drift_profile_options_init(&o);
    o.n_bins = 1;
    CHECK_STATUS(eml_drift_profiler_create(graph, &o, &p, &d), EML_EINVAL);
    o.n_bins = 10;
    o.axis = 9;
    CHECK_STATUS(eml_drift_profiler_create(graph, &o, &p, &d), EML_EINVAL);
    o.axis = 1;
    REQUIRE_OK(eml_drift_profiler_create(graph, &o, &p, &d), &d);
    char *json = NULL;
    CHECK_STATUS(eml_drift_profiler_finish(p, &json, &d), EML_EINVAL); /* no data */
    CHECK(strstr(d.message, "no data") != NULL && !json);
    float img[3 * 784] = {0};
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 3, 28, 28}, img};
    CHECK_STATUS(eml_drift_profiler_add(p, &t, 1, &d), EML_ESHAPE);
    CHECK(strstr(d.message, "3 channels on axis 1") != NULL);
    CHECK_STATUS(eml_drift_profiler_add(p, &t, 2, &d), EML_EINVAL);
    /* uint8 data is taken as numbers too */
    uint8_t px[784];
    for (int i = 0; i < 784; i++)
        px[i] = (uint8_t)i;
    eml_tensor u = {EML_DTYPE_U8, 4, {1, 1, 28, 28}, px};
    REQUIRE_OK(eml_drift_profiler_add(p, &u, 1, &d), &d);
    REQUIRE_OK(eml_drift_profiler_finish(p, &json, &d), &d);
    CHECK(strstr(json, "\"samples\":1") != NULL);
    free(json);
    eml_drift_profiler_destroy(p);
    unload_model();
}
