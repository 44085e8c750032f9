/* A/B tests, model variants and the power mode through the agent's command handler (and its
 * HTTP routes), on real Fashion-MNIST test images: fashion_cnn deployed as v1 and v2, an int8
 * variant quantized in the test; counts add up, identical versions agree on every image,
 * promote switches the serving version, an SLO no run meets steps down to the cheapest
 * variant, low power picks the low-power variant, and all of it survives a restart. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "edgeml/agent.h"
#include "edgeml/edgeml.h"
#include "fashion_util.h"
#include "harness.h"


static char work[512], repo[600];
static eml_agent *agent;
static eml_env *env;
static eml_tensor images, labels; /* u8 [10000, 28, 28], u8 [10000] */

static void start_agent(const char *listen)
{
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.listen = listen;
    o.n_threads = 1;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &agent, &d), &d);
}

static void setup(const char *listen)
{
    if (!eml_test_source_dir())
        eml_test_skip("EML_SOURCE_DIR not set");
    if (access(FASHION_TEST_IMAGES, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_agent_route_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    snprintf(repo, sizeof(repo), "%s/repo", work);
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_IMAGES, &images, &d), &d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_LABELS, &labels, &d), &d);
    REQUIRE(images.rank == 3 && images.dims[0] == 10000 && labels.dims[0] == 10000);
    start_agent(listen);
}

static void teardown(void)
{
    eml_agent_destroy(agent);
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* Runs a command; returns the reply parsed (free it with cJSON_Delete) and the code. */
static cJSON *run(const char *json, int *code)
{
    char *text = NULL;
    REQUIRE(eml_agent_command(agent, json, strlen(json), &text, code) == EML_OK);
    cJSON *o = cJSON_Parse(text);
    if (!o)
        fprintf(stderr, "not JSON: %s\n", text);
    REQUIRE(o);
    free(text);
    return o;
}

static int run_code(const char *json)
{
    int code;
    cJSON_Delete(run(json, &code));
    return code;
}

static double num(const cJSON *o, const char *path)
{
    /* "a.b.c" through objects, "arms.1.requests" through arrays */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *x = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && x; k = strtok_r(NULL, ".", &save))
        x = cJSON_IsArray(x) ? cJSON_GetArrayItem(x, atoi(k))
                             : cJSON_GetObjectItemCaseSensitive(x, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) ? x->valuestring : "";
}

static void deploy(const char *model, const char *path)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "{\"op\":\"model.deploy\",\"model\":\"%s\",\"url\":\"file://%s\"}",
             model, path);
    int code;
    cJSON *r = run(cmd, &code);
    if (code != 200)
        fprintf(stderr, "deploy: %s\n", cJSON_PrintUnformatted(r));
    REQUIRE(code == 200);
    cJSON_Delete(r);
}

static void deploy_cnn(const char *model)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    deploy(model, path);
}

/* An OIP infer command for test image i; extra: more request members (", ..." or ""). */
static char *infer_cmd(const char *model, int i, const char *extra)
{
    size_t cap = 16384;
    char *s = malloc(cap);
    REQUIRE(s);
    int n = snprintf(s, cap,
                     "{\"op\":\"model.infer\",\"model\":\"%s\",\"request\":{\"inputs\":[{\"name\":"
                     "\"input\",\"shape\":[1,1,28,28],\"datatype\":\"FP32\",\"data\":[",
                     model);
    const uint8_t *px = (const uint8_t *)images.data + (size_t)i * 784;
    for (int k = 0; k < 784; k++)
        n += snprintf(s + n, cap - (size_t)n, "%s%.8g", k ? "," : "", px[k] / 255.0);
    snprintf(s + n, cap - (size_t)n, "]}]%s}}", extra);
    return s;
}

/* Infers image i; returns the reply (200 required) and the top-1 class in *top1. */
static cJSON *infer(const char *model, int i, const char *extra, int *top1)
{
    char *cmd = infer_cmd(model, i, extra);
    int code;
    cJSON *r = run(cmd, &code);
    free(cmd);
    if (code != 200)
        fprintf(stderr, "infer: %s\n", cJSON_PrintUnformatted(r));
    REQUIRE(code == 200);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "outputs"), 0), "data");
    REQUIRE(cJSON_GetArraySize(data) == 10);
    int best = 0;
    for (int k = 1; k < 10; k++)
        if (cJSON_GetArrayItem(data, k)->valuedouble > cJSON_GetArrayItem(data, best)->valuedouble)
            best = k;
    *top1 = best;
    return r;
}

static const char *param(const cJSON *reply, const char *key)
{
    return str(cJSON_GetObjectItemCaseSensitive(reply, "parameters"), key);
}

static int label(int i)
{
    return ((const uint8_t *)labels.data)[i];
}

EML_TEST(ab_test_on_fashion_images)
{
    setup(NULL);
    deploy_cnn("cnn");
    deploy_cnn("cnn"); /* v2: the same bytes, so the arms must agree on every image */
    int code;
    cJSON *r = run("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"name\":\"v1\","
                   "\"version\":1,\"weight\":1},{\"name\":\"v2\",\"version\":2,\"weight\":1}],"
                   "\"shadow_fraction\":1,\"seed\":42}",
                   &code);
    CHECK(code == 200 && num(r, "total_requests") == 0);
    cJSON_Delete(r);
    enum { N = 40 };
    int by_arm[2] = {0}, correct = 0, top1;
    for (int i = 0; i < N; i++) {
        /* the last one with an (empty) parameters object: still routed */
        r = infer("cnn", i, i == N - 1 ? ",\"parameters\":{}" : "", &top1);
        const char *arm = param(r, "edgeml_ab_arm");
        CHECK(strcmp(arm, "v1") == 0 || strcmp(arm, "v2") == 0);
        by_arm[arm[1] == '2']++;
        CHECK(strcmp(str(r, "model_name"), "cnn") == 0);
        CHECK(strcmp(str(r, "model_version"), arm[1] == '2' ? "2" : "1") == 0);
        correct += top1 == label(i);
        cJSON_Delete(r);
    }
    CHECK(correct >= 32); /* the CNN's test accuracy is about 90% */
    CHECK(by_arm[0] > 0 && by_arm[1] > 0);
    /* a request naming its version is not routed */
    char *cmd = infer_cmd("cnn", 0, "");
    cmd[strlen(cmd) - 1] = 0; /* {...,"request":{...}} -> add a version beside the request */
    char *with_version = malloc(strlen(cmd) + 32);
    sprintf(with_version, "%s,\"version\":1}", cmd);
    r = run(with_version, &code);
    CHECK(code == 200 && strcmp(param(r, "edgeml_ab_arm"), "") == 0);
    cJSON_Delete(r);
    free(with_version);
    free(cmd);

    r = run("{\"op\":\"model.ab.status\",\"model\":\"cnn\"}", &code);
    REQUIRE(code == 200);
    double a_req = num(r, "arms.0.requests"), b_req = num(r, "arms.1.requests");
    CHECK(a_req == by_arm[0] && b_req == by_arm[1] && num(r, "total_requests") == N);
    CHECK(num(r, "arms.0.errors") == 0 && num(r, "arms.1.errors") == 0);
    /* every treatment request was shadowed on the control: identical models agree */
    CHECK(num(r, "arms.1.agreement_with_control.compared_rows") == b_req);
    CHECK(num(r, "arms.1.agreement_with_control.rate") == 1.0);
    double conf = num(r, "arms.0.mean_top1_confidence");
    CHECK(conf > 0.1 && conf <= 1.0);
    CHECK(num(r, "arms.0.latency_ms.p50") > 0 && num(r, "arms.1.latency_ms.p99") > 0);
    double p = num(r, "comparisons.0.latency_welch_t.p_value");
    CHECK(p >= 0 && p <= 1);
    CHECK(num(r, "comparisons.0.error_rate_z.p_value") == 1.0); /* no errors in either arm */
    cJSON_Delete(r);

    r = run("{\"op\":\"metrics\"}", &code);
    CHECK(strstr(str(r, "text"), "edgeml_ab_requests_total{model=\"cnn/v1\"}") != NULL);
    CHECK(strstr(str(r, "text"), "edgeml_ab_request_duration_seconds_count{model=\"cnn/v2\"}"));
    cJSON_Delete(r);

    /* promote v1: the serving version goes back from 2 to 1 at once, the test ends */
    r = run("{\"op\":\"model.ab.promote\",\"model\":\"cnn\",\"arm\":\"v1\"}", &code);
    CHECK(code == 200 && num(r, "serving_version") == 1);
    CHECK(num(r, "final.total_requests") == N);
    cJSON_Delete(r);
    r = run("{\"op\":\"model.ready\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200 && strcmp(str(r, "version"), "1") == 0);
    cJSON_Delete(r);
    CHECK(run_code("{\"op\":\"model.ab.status\",\"model\":\"cnn\"}") == 404);
    r = infer("cnn", 1, "", &top1);
    CHECK(strcmp(str(r, "model_version"), "1") == 0 && !cJSON_GetObjectItem(r, "parameters"));
    cJSON_Delete(r);

    /* sticky by a request parameter: one user, one arm */
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":2}],\"sticky_key\":\"user\"}") == 200);
    char first[8] = "";
    for (int i = 0; i < 6; i++) {
        r = infer("cnn", i, ",\"parameters\":{\"user\":\"alice\"}", &top1);
        if (!i)
            snprintf(first, sizeof(first), "%s", param(r, "edgeml_ab_arm"));
        CHECK(first[0] && strcmp(param(r, "edgeml_ab_arm"), first) == 0);
        cJSON_Delete(r);
    }
    /* stop ends it */
    r = run("{\"op\":\"model.ab.stop\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200 && num(r, "final.total_requests") == 6);
    cJSON_Delete(r);
    CHECK(run_code("{\"op\":\"model.ab.stop\",\"model\":\"cnn\"}") == 404);
    teardown();
}

static void *client(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 15; i++) {
        int top1;
        cJSON_Delete(infer("cnn", base + i, "", &top1));
    }
    return NULL;
}

/* Four request threads at once: every request counted once, in one arm, and every shadowed
 * one compared. */
EML_TEST(ab_counts_add_up_under_concurrency)
{
    setup(NULL);
    deploy_cnn("cnn");
    deploy_cnn("cnn");
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":2,\"weight\":3}],\"shadow_fraction\":1}") == 200);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, client, (void *)(intptr_t)(i * 100)) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int code;
    cJSON *r = run("{\"op\":\"model.ab.status\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200 && num(r, "total_requests") == 60);
    CHECK(num(r, "arms.0.requests") + num(r, "arms.1.requests") == 60);
    CHECK(num(r, "arms.0.errors") + num(r, "arms.1.errors") == 0);
    CHECK(num(r, "arms.1.agreement_with_control.compared_rows") == num(r, "arms.1.requests"));
    CHECK(num(r, "arms.1.agreement_with_control.rate") == 1.0);
    cJSON_Delete(r);
    r = run("{\"op\":\"metrics\"}", &code);
    char want[128];
    cJSON *st = run("{\"op\":\"model.ab.status\",\"model\":\"cnn\"}", &code);
    snprintf(want, sizeof(want), "edgeml_ab_requests_total{model=\"cnn/B\"} %g",
             num(st, "arms.1.requests"));
    CHECK(strstr(str(r, "text"), want) != NULL); /* the metric agrees with the status */
    cJSON_Delete(st);
    cJSON_Delete(r);
    teardown();
}

/* fashion_cnn quantized to int8 on 100 test images, saved as ONNX and deployed as cnn_int8. */
static void deploy_int8(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    eml_diag d;
    eml_diag_init(&d);
    eml_graph *g = NULL;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &d), &d);
    enum { CALIB = 100 };
    float *x = malloc(CALIB * 784 * sizeof(float));
    REQUIRE(x);
    for (int i = 0; i < CALIB * 784; i++)
        x[i] = ((const uint8_t *)images.data)[i] / 255.0f;
    eml_tensor calib = {EML_DTYPE_F32, 4, {CALIB, 1, 28, 28}, x};
    eml_quantize_options q;
    eml_quantize_options_init(&q);
    q.calib = &calib;
    REQUIRE_OK(eml_quantize(g, &q, NULL, &d), &d);
    snprintf(path, sizeof(path), "%s/cnn_int8.onnx", work);
    REQUIRE_OK(eml_graph_save_onnx(g, path, &d), &d);
    eml_graph_destroy(g);
    free(x);
    deploy("cnn_int8", path);
}

EML_TEST(variants_step_down_and_power_mode)
{
    setup(NULL);
    deploy_cnn("cnn");
    deploy_int8();
    int code;
    /* an SLO of 1 ns, which no run meets: one window at fp32, then int8 for good */
    cJSON *r = run("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[{\"name\":"
                   "\"fp32\"},{\"name\":\"int8\",\"model\":\"cnn_int8\"}],\"policy\":{"
                   "\"slo_p95_ms\":0.000001,\"window\":5,\"low_power_variant\":\"int8\"}}",
                   &code);
    CHECK(code == 200 && strcmp(str(r, "model"), "cnn") == 0);
    cJSON_Delete(r);
    int correct = 0;
    for (int i = 0; i < 15; i++) {
        int top1;
        r = infer("cnn", i, "", &top1);
        const char *v = param(r, "edgeml_variant");
        CHECK(strcmp(v, i < 5 ? "fp32" : "int8") == 0);
        CHECK(strcmp(param(r, "edgeml_variant_reason"), i < 5 ? "preferred" : "slo") == 0);
        CHECK(strcmp(param(r, "edgeml_served_model"), i < 5 ? "cnn" : "cnn_int8") == 0);
        correct += top1 == label(i);
        cJSON_Delete(r);
    }
    CHECK(correct >= 11);
    r = run("{\"op\":\"model.variants.get\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(r, "state");
    CHECK(num(state, "level") == 1 && strcmp(str(state, "current_variant"), "int8") == 0);
    CHECK(num(state, "step_downs") == 1 && num(state, "step_ups") == 0);
    CHECK(num(state, "choices.fp32.preferred") == 5 && num(state, "choices.fp32.total") == 5);
    CHECK(num(state, "choices.int8.slo") == 10 && num(state, "reasons.slo") == 10);
    cJSON_Delete(r);

    /* no SLO: the preferred variant, until the node goes to low power */
    CHECK(run_code("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[{\"name\":"
                   "\"fp32\"},{\"name\":\"int8\",\"model\":\"cnn_int8\"}]}") == 200);
    int top1;
    r = infer("cnn", 20, "", &top1);
    CHECK(strcmp(param(r, "edgeml_variant"), "fp32") == 0);
    cJSON_Delete(r);
    r = run("{\"op\":\"node.power_mode\",\"mode\":\"low\"}", &code);
    CHECK(code == 200 && strcmp(str(r, "mode"), "low") == 0);
    CHECK(strcmp(str(r, "effective"), "low") == 0);
    cJSON_Delete(r);
    for (int i = 0; i < 3; i++) {
        r = infer("cnn", 21 + i, "", &top1);
        CHECK(strcmp(param(r, "edgeml_variant"), "int8") == 0);
        CHECK(strcmp(param(r, "edgeml_variant_reason"), "power") == 0);
        cJSON_Delete(r);
    }
    r = run("{\"op\":\"model.variants.get\",\"model\":\"cnn\"}", &code);
    state = cJSON_GetObjectItemCaseSensitive(r, "state");
    CHECK(num(state, "choices.int8.power") == 3 && num(state, "choices.fp32.preferred") == 1);
    cJSON_Delete(r);
    r = run("{\"op\":\"metrics\"}", &code);
    CHECK(strstr(str(r, "text"), "edgeml_variant_choices_total{model=\"cnn/int8\"} 13") != NULL);
    CHECK(strstr(str(r, "text"), "edgeml_variant_choice_reasons_total{model=\"cnn/power\"} 3"));
    cJSON_Delete(r);
    /* auto: this machine's power supplies decide, or "unavailable" and normal */
    r = run("{\"op\":\"node.power_mode\",\"mode\":\"auto\"}", &code);
    CHECK(code == 200 && strcmp(str(r, "mode"), "auto") == 0);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(r, "power_supply");
    CHECK(strlen(str(ps, "detail")) > 0);
    if (strstr(str(ps, "detail"), "unavailable"))
        CHECK(strcmp(str(r, "effective"), "normal") == 0);
    cJSON_Delete(r);
    CHECK(run_code("{\"op\":\"node.power_mode\",\"mode\":\"turbo\"}") == 400);
    r = run("{\"op\":\"model.variants.clear\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200);
    cJSON_Delete(r);
    CHECK(run_code("{\"op\":\"model.variants.get\",\"model\":\"cnn\"}") == 404);
    teardown();
}

EML_TEST(routing_survives_restart)
{
    setup(NULL);
    deploy_cnn("cnn");
    deploy_cnn("cnn");
    CHECK(run_code("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[{\"name\":"
                   "\"new\",\"version\":2},{\"name\":\"old\",\"version\":1}],\"policy\":{"
                   "\"slo_p95_ms\":50,\"window\":30}}") == 200);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"name\":\"ctl\","
                   "\"version\":2,\"weight\":3},{\"name\":\"exp\",\"variant\":\"old\"}],"
                   "\"sticky_key\":\"user\",\"seed\":7}") == 200);
    CHECK(run_code("{\"op\":\"node.power_mode\",\"mode\":\"low\"}") == 200);
    eml_agent_destroy(agent);
    agent = NULL;
    start_agent(NULL); /* the repository's recovery runs again: the file must stay */
    int code;
    cJSON *r = run("{\"op\":\"model.ab.status\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200 && strcmp(str(r, "sticky_key"), "user") == 0 && num(r, "seed") == 7);
    const cJSON *arm = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "arms"), 1);
    CHECK(strcmp(str(arm, "name"), "exp") == 0 && strcmp(str(arm, "variant"), "old") == 0);
    CHECK(num(arm, "version") == 1 && num(arm, "weight") == 1);
    CHECK(num(r, "arms.0.weight") == 3);
    cJSON_Delete(r);
    r = run("{\"op\":\"model.variants.get\",\"model\":\"cnn\"}", &code);
    CHECK(code == 200 && num(r, "policy.window") == 30 && num(r, "policy.slo_p95_ms") == 50);
    cJSON_Delete(r);
    r = run("{\"op\":\"node.power_mode\"}", &code);
    CHECK(code == 200 && strcmp(str(r, "mode"), "low") == 0);
    cJSON_Delete(r);
    r = run("{\"op\":\"repository.index\"}", &code);
    CHECK(code == 200 && cJSON_GetArraySize(r) == 2);
    cJSON_Delete(r);
    /* promoting the variant arm makes that variant the preferred one */
    r = run("{\"op\":\"model.ab.promote\",\"model\":\"cnn\",\"arm\":\"exp\"}", &code);
    CHECK(code == 200 && strcmp(str(r, "preferred_variant"), "old") == 0);
    cJSON_Delete(r);
    r = run("{\"op\":\"model.variants.get\",\"model\":\"cnn\"}", &code);
    CHECK(strcmp(str(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "variants"), 0), "name"), "old") ==
          0);
    cJSON_Delete(r);
    teardown();
}

EML_TEST(route_errors)
{
    setup(NULL);
    deploy_cnn("cnn");
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"zzz\",\"arms\":[{\"version\":1},"
                   "{\"version\":2}]}") == 404);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1}]}") ==
          400);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":9}]}") == 404);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"variant\":\"int8\"}]}") == 404);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":1,\"weight\":-1}]}") == 400);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":1}],\"shadow_fraction\":2}") == 400);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":1}]}") == 200);
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"version\":1}]}") == 400);
    CHECK(run_code("{\"op\":\"model.ab.promote\",\"model\":\"cnn\",\"arm\":\"Z\"}") == 404);
    CHECK(run_code("{\"op\":\"model.ab.promote\",\"model\":\"cnn\"}") == 400);
    CHECK(run_code("{\"op\":\"model.ab.frobnicate\",\"model\":\"cnn\"}") == 400);
    CHECK(run_code("{\"op\":\"model.ab.stop\",\"model\":\"cnn\"}") == 200);
    /* an arm of the serving version (no version named): promote switches nothing */
    deploy_cnn("cnn");
    CHECK(run_code("{\"op\":\"model.ab.start\",\"model\":\"cnn\",\"arms\":[{\"version\":1},"
                   "{\"model\":\"cnn\"}]}") == 200);
    int code;
    cJSON *r = run("{\"op\":\"model.ab.promote\",\"model\":\"cnn\",\"arm\":\"B\"}", &code);
    CHECK(code == 200 && num(r, "serving_version") == 2);
    cJSON_Delete(r);
    CHECK(run_code("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[]}") == 400);
    CHECK(run_code("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[{\"name\":"
                   "\"a\",\"model\":\"nope\"}]}") == 404);
    CHECK(run_code("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[{\"name\":"
                   "\"a\"}],\"policy\":{\"window\":0}}") == 400);
    CHECK(run_code("{\"op\":\"model.variants.set\",\"model\":\"cnn\",\"variants\":[{\"name\":"
                   "\"a\"}],\"policy\":{\"low_power_variant\":\"b\"}}") == 400);
    CHECK(run_code("{\"op\":\"model.variants.get\"}") == 400);
    teardown();
}

/* ---- the HTTP routes ---- */

typedef struct body {
    char *p;
    size_t n;
} body;

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    body *b = user;
    char *p = realloc(b->p, b->n + size * count + 1);
    if (!p)
        return 0;
    memcpy(p + b->n, data, size * count);
    b->p = p;
    b->n += size * count;
    b->p[b->n] = 0;
    return size * count;
}

static long http(const char *method, const char *path, const char *json, char **out)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", eml_agent_port(agent), path);
    CURL *c = curl_easy_init();
    REQUIRE(c);
    body b = {NULL, 0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (json)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    long code = 0;
    REQUIRE(curl_easy_perform(c) == CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (out)
        *out = b.p;
    else
        free(b.p);
    return code;
}

EML_TEST(http_routes)
{
    setup("127.0.0.1:0");
    deploy_cnn("cnn");
    deploy_cnn("cnn");
    char *out = NULL;
    CHECK(http("POST", "/v2/edgeml/models/cnn/ab",
               "{\"arms\":[{\"version\":1},{\"version\":2}],\"seed\":1}", &out) == 200);
    CHECK(out && strstr(out, "\"model\":\"cnn\""));
    free(out);
    /* an OIP request over HTTP is routed too */
    char *cmd = infer_cmd("cnn", 3, "");
    char *req = strstr(cmd, "\"request\":") + 10;
    req[strlen(req) - 1] = 0;
    CHECK(http("POST", "/v2/models/cnn/infer", req, &out) == 200);
    CHECK(out && strstr(out, "\"edgeml_ab_arm\""));
    free(out);
    free(cmd);
    CHECK(http("GET", "/v2/edgeml/models/cnn/ab", NULL, &out) == 200);
    CHECK(out && strstr(out, "\"total_requests\":1"));
    free(out);
    CHECK(http("PUT", "/v2/edgeml/models/cnn/ab", "{}", NULL) == 405);
    CHECK(http("POST", "/v2/edgeml/models/cnn/ab/promote", "{\"arm\":\"A\"}", &out) == 200);
    CHECK(out && strstr(out, "\"serving_version\":1"));
    free(out);
    CHECK(http("POST", "/v2/edgeml/models/cnn/ab/stop", NULL, NULL) == 404);
    CHECK(http("GET", "/v2/edgeml/models/cnn/ab/stop", NULL, NULL) == 405);
    CHECK(http("POST", "/v2/edgeml/models/cnn/variants",
               "{\"variants\":[{\"name\":\"v2\",\"version\":2},{\"name\":\"v1\",\"version\":1}]}",
               NULL) == 200);
    CHECK(http("GET", "/v2/edgeml/models/cnn/variants", NULL, &out) == 200);
    CHECK(out && strstr(out, "\"current_variant\":\"v2\""));
    free(out);
    CHECK(http("DELETE", "/v2/edgeml/models/cnn/variants", NULL, NULL) == 200);
    CHECK(http("GET", "/v2/edgeml/models/cnn/variants", NULL, NULL) == 404);
    CHECK(http("POST", "/v2/edgeml/node/power_mode", "{\"mode\":\"low\"}", NULL) == 200);
    CHECK(http("GET", "/v2/edgeml/node/power_mode", NULL, &out) == 200);
    CHECK(out && strstr(out, "\"mode\":\"low\"") && strstr(out, "\"effective\":\"low\""));
    free(out);
    teardown();
}
