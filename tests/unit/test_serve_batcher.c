/* Dynamic batching on the Fashion-MNIST CNN: concurrent requests merge into fewer runs and each
 * gets its own rows (equal to ONNX Runtime's outputs), bad requests fail alone, deadlines and the
 * queue limit are kept. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "serve/batcher.h"

static eml_env *env;
static eml_graph *graph;
static eml_plan *plan;
static eml_tensor x, y; /* 8 images and ONNX Runtime's 8 rows of scores */

static void setup(void)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    char path[1024];
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", src);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &graph, &d), &d);
    REQUIRE_OK(eml_plan_create(graph, &plan, &d), &d);
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/test_data_set_0/input_0.npy", src);
    REQUIRE_OK(eml_tensor_read_file(env, path, NULL, &x, &d), &d);
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/test_data_set_0/output_0.npy", src);
    REQUIRE_OK(eml_tensor_read_file(env, path, NULL, &y, &d), &d);
}

static void teardown(void)
{
    eml_tensor_free(env, &x);
    eml_tensor_free(env, &y);
    eml_plan_destroy(plan);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
}

/* Image i (rows rows from i) as a request tensor borrowing x's data. */
static eml_tensor image(int i, int rows)
{
    eml_tensor t = x;
    t.dims[0] = rows;
    t.data = (float *)x.data + (size_t)i * 784;
    return t;
}

static int rows_match(const eml_tensor *out, int first)
{
    const float *o = out->data, *r = (const float *)y.data + first * 10;
    for (int64_t k = 0; k < out->dims[0] * 10; k++)
        if (fabsf(o[k] - r[k]) > 1e-4f + 1e-3f * fabsf(r[k]))
            return 0;
    return 1;
}

typedef struct job {
    eml__batcher *b;
    int index;
    uint64_t deadline;
    eml_status st;
    int ok;
} job;

static void *submit(void *arg)
{
    job *j = arg;
    eml_tensor in = image(j->index, 1);
    eml_tensor *out = NULL;
    size_t n = 0;
    eml_diag d;
    eml_diag_init(&d);
    j->st = eml__batcher_infer(j->b, &in, 1, j->deadline, &out, &n, &d);
    j->ok = j->st == EML_OK && n == 1 && out[0].dims[0] == 1 && out[0].dims[1] == 10 &&
            rows_match(&out[0], j->index);
    eml__outputs_free(out, n);
    return NULL;
}

EML_TEST(concurrent_requests_share_batches)
{
    setup();
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    eml__batch_options o;
    eml__batch_options_init(&o);
    o.max_batch_size = 8;
    o.max_queue_delay_us = 200000; /* long enough that the 8 threads meet in one queue */
    eml__batcher *b;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__batcher_create(graph, plan, &o, m, "cnn", &b, &d), &d);
    eml__batch_options eff;
    eml__batcher_options(b, &eff);
    CHECK(eff.max_batch_size == 8);
    pthread_t th[8];
    job jobs[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){b, i, 0, EML_OK, 0};
        REQUIRE(pthread_create(&th[i], NULL, submit, &jobs[i]) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].st == EML_OK);
        CHECK(jobs[i].ok);
    }
    double batches = eml__metrics_get(m, EML_METRIC_BATCHES, "cnn");
    printf("8 requests ran in %.0f batches\n", batches);
    CHECK(batches >= 1 && batches < 8);
    CHECK(eml__metrics_get(m, EML_METRIC_INFER_REQUESTS, "cnn") == 8);
    eml__batcher_destroy(b);
    eml__metrics_destroy(m);
    teardown();
}

EML_TEST(multi_row_requests_and_bad_requests)
{
    setup();
    eml__batch_options o;
    eml__batch_options_init(&o);
    o.max_batch_size = 4;
    eml__batcher *b;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__batcher_create(graph, plan, &o, NULL, "cnn", &b, &d), &d);
    eml_tensor in = image(2, 3), *out = NULL;
    size_t n = 0;
    REQUIRE_OK(eml__batcher_infer(b, &in, 1, 0, &out, &n, &d), &d);
    CHECK(n == 1 && out[0].dims[0] == 3 && rows_match(&out[0], 2));
    eml__outputs_free(out, n);

    in = image(0, 5); /* more rows than max_batch_size */
    CHECK_STATUS(eml__batcher_infer(b, &in, 1, 0, &out, &n, &d), EML_EINVAL);
    in = image(0, 1);
    in.dims[3] = 27;
    CHECK_STATUS(eml__batcher_infer(b, &in, 1, 0, &out, &n, &d), EML_ESHAPE);
    CHECK(strstr(d.message, "float32[-1,1,28,28]") != NULL);
    in = image(0, 1);
    in.dtype = EML_DTYPE_I32;
    CHECK_STATUS(eml__batcher_infer(b, &in, 1, 0, &out, &n, &d), EML_ETYPE);
    in = image(0, 1);
    in.rank = 3;
    CHECK_STATUS(eml__batcher_infer(b, &in, 1, 0, &out, &n, &d), EML_ESHAPE);
    CHECK_STATUS(eml__batcher_infer(b, &in, 0, 0, &out, &n, &d), EML_EINVAL);
    CHECK(out == NULL && n == 0);
    eml__batcher_destroy(b);
    teardown();
}

EML_TEST(deadlines_and_queue_limit)
{
    setup();
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    eml__batch_options o;
    eml__batch_options_init(&o);
    o.max_batch_size = 8;
    o.max_queue_delay_us = 5000000;
    o.max_queue = 2;
    eml__batcher *b;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__batcher_create(graph, plan, &o, m, "cnn", &b, &d), &d);
    /* A deadline already past: dropped unrun. */
    eml_tensor in = image(0, 1), *out = NULL;
    size_t n = 0;
    CHECK_STATUS(eml__batcher_infer(b, &in, 1, eml__now_ns() - 1, &out, &n, &d), EML__ETIMEOUT);
    CHECK(eml__metrics_get(m, EML_METRIC_DEADLINE_EXPIRED, "cnn") == 1);
    /* Two requests wait 5 s for company (the batch of 8 never fills); as soon as both are
     * queued, a third finds the queue full. Polling the queue's count rather than sleeping a
     * fixed time keeps this independent of how busy the machine is. */
    pthread_t th[2];
    job jobs[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (job){b, i, 0, EML_OK, 0};
        REQUIRE(pthread_create(&th[i], NULL, submit, &jobs[i]) == 0);
    }
    for (int tries = 0; tries < 5000 && eml__batcher_queued(b) < 2; tries++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    REQUIRE(eml__batcher_queued(b) == 2);
    CHECK_STATUS(eml__batcher_infer(b, &in, 1, 0, &out, &n, &d), EML__EBUSY);
    CHECK(out == NULL && n == 0);
    CHECK(eml__metrics_get(m, EML_METRIC_QUEUE_REJECTED, "cnn") >= 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
    eml__batcher_destroy(b);
    eml__metrics_destroy(m);
    teardown();
}

EML_TEST(preferred_sizes_cut_batches)
{
    setup();
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    eml__batch_options o;
    eml__batch_options_init(&o);
    o.max_batch_size = 8;
    o.max_queue_delay_us = 200000;
    o.preferred[0] = 2;
    o.n_preferred = 1;
    eml__batcher *b;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__batcher_create(graph, plan, &o, m, "cnn", &b, &d), &d);
    pthread_t th[6];
    job jobs[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = (job){b, i, 0, EML_OK, 0};
        REQUIRE(pthread_create(&th[i], NULL, submit, &jobs[i]) == 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
    /* Batches never exceed the preferred size once it is reached: at least 3 runs. */
    CHECK(eml__metrics_get(m, EML_METRIC_BATCHES, "cnn") >= 3);
    eml__batcher_destroy(b);
    eml__metrics_destroy(m);
    teardown();
}
