/* Input drift through the agent: fashion_cnn deployed with a profile of real training images,
 * real test images served (status ok), then shifted ones (status drift), as the handler's ops,
 * the HTTP routes, the metrics and the node status report it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "edgeml/agent.h"
#include "edgeml/drift.h"
#include "fashion_util.h"
#include "harness.h"

static char work[512];
static eml_agent *agent;
static eml_env *env;

static void setup(int http)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    if (access(FASHION_TEST_IMAGES, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_agent_drift_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    char repo[600];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.n_threads = 1;
    o.listen = http ? "127.0.0.1:0" : NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &agent, &d), &d);
    REQUIRE_OK(eml_env_create(NULL, &env), &d);
}

static void teardown(void)
{
    eml_agent_destroy(agent);
    eml_env_destroy(env);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* Runs a command; returns the HTTP code and the parsed reply (delete it). */
static cJSON *run(const char *json, int *code)
{
    char *out = NULL;
    REQUIRE(eml_agent_command(agent, json, strlen(json), &out, code) == EML_OK);
    cJSON *r = cJSON_Parse(out);
    if (!r)
        fprintf(stderr, "not JSON: %s\n", out);
    REQUIRE(r);
    free(out);
    return r;
}

static float invert(float v)
{
    return 1.0f - v; /* (255 - x) / 255 */
}

/* n images from `first` of an IDX file as pixel/255 (malloc'd), inverted when asked. */
static float *read_images(const char *path, int first, int n, int inverted)
{
    return fashion_images(env, path, first, n, 3, inverted ? invert : NULL).data;
}

/* The drift profile of the first 1000 training images, made by the library. */
static char *make_profile(void)
{
    const char *src = eml_test_source_dir();
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", src);
    eml_diag d;
    eml_diag_init(&d);
    eml_graph *g;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &d), &d);
    float *x = read_images(FASHION_TRAIN_IMAGES, 0, 1000, 0);
    eml_tensor t = {EML_DTYPE_F32, 4, {1000, 1, 28, 28}, x};
    eml_drift_profiler *p;
    REQUIRE_OK(eml_drift_profiler_create(g, NULL, &p, &d), &d);
    REQUIRE_OK(eml_drift_profiler_add(p, &t, 1, &d), &d);
    char *json;
    REQUIRE_OK(eml_drift_profiler_finish(p, &json, &d), &d);
    eml_drift_profiler_destroy(p);
    eml_graph_destroy(g);
    free(x);
    return json;
}

static void deploy(const char *model, const char *config)
{
    size_t cap = strlen(config) + 2048;
    char *cmd = malloc(cap);
    REQUIRE(cmd);
    snprintf(cmd, cap,
             "{\"op\":\"model.deploy\",\"model\":\"%s\",\"url\":\"file://%s/models/fashion_cnn/"
             "model.onnx\",\"config\":%s}",
             model, eml_test_source_dir(), config);
    int code;
    cJSON *r = run(cmd, &code);
    CHECK(code == 200);
    cJSON_Delete(r);
    free(cmd);
}

/* Sends n images (from x) to `model` in requests of `batch` images; returns how many got 200. */
static int infer(const char *model, const float *x, int n, int batch)
{
    size_t cap = (size_t)batch * 784 * 16 + 512;
    char *cmd = malloc(cap);
    REQUIRE(cmd);
    int ok = 0;
    for (int first = 0; first < n; first += batch) {
        int rows = n - first < batch ? n - first : batch;
        size_t k = (size_t)snprintf(cmd, cap,
                                    "{\"op\":\"model.infer\",\"model\":\"%s\",\"request\":{"
                                    "\"inputs\":[{\"name\":\"input\",\"shape\":[%d,1,28,28],"
                                    "\"datatype\":\"FP32\",\"data\":[",
                                    model, rows);
        for (int i = 0; i < rows * 784; i++) /* %.9g: the exact float, as the profile saw it */
            k += (size_t)snprintf(cmd + k, cap - k, i ? ",%.9g" : "%.9g",
                                  (double)x[(size_t)first * 784 + (size_t)i]);
        snprintf(cmd + k, cap - k, "]}]}}");
        int code;
        cJSON *r = run(cmd, &code);
        ok += code == 200 ? rows : 0;
        if (code != 200) {
            char *t = cJSON_PrintUnformatted(r);
            fprintf(stderr, "infer -> %d %s\n", code, t);
            free(t);
        }
        cJSON_Delete(r);
    }
    free(cmd);
    return ok;
}

static cJSON *drift_of(const char *model, const char *op)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "{\"op\":\"%s\",\"model\":\"%s\"}", op, model);
    int code;
    cJSON *r = run(cmd, &code);
    char *t = cJSON_PrintUnformatted(r);
    printf("%s %s -> %d %.600s\n", op, model, code, t);
    free(t);
    CHECK(code == 200);
    return r;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The metrics text (from the handler's "metrics" op). */
static char *metrics_text(void)
{
    int code;
    cJSON *r = run("{\"op\":\"metrics\"}", &code);
    CHECK(code == 200);
    char *text = strdup(str_of(r, "text"));
    cJSON_Delete(r);
    return text;
}

EML_TEST(served_images_ok_then_shifted_images_drift)
{
    setup(0);
    char *profile = make_profile();
    size_t cap = strlen(profile) + 256;
    char *config = malloc(cap);
    REQUIRE(config);
    snprintf(config, cap, "{\"batching\":{\"max_batch_size\":50},\"drift\":%s}", profile);
    deploy("cnn", config);
    cJSON *r = drift_of("cnn", "model.drift");
    CHECK(strcmp(str_of(r, "status"), "collecting") == 0 && num_of(r, "samples") == 0);
    CHECK(strcmp(str_of(r, "version"), "1") == 0);
    cJSON_Delete(r);

    float *test = read_images(FASHION_TEST_IMAGES, 0, 1000, 0);
    CHECK(infer("cnn", test, 1000, 50) == 1000);
    r = drift_of("cnn", "model.drift");
    double psi_ok = num_of(r, "max_psi");
    printf("1000 test images: PSI %.6f, status %s\n", psi_ok, str_of(r, "status"));
    CHECK(strcmp(str_of(r, "status"), "ok") == 0 && num_of(r, "samples") == 1000);
    CHECK(psi_ok >= 0 && psi_ok < 0.1);
    cJSON_Delete(r);
    char *m = metrics_text();
    CHECK(strstr(m, "edgeml_drift_samples_total{model=\"cnn\"} 1000") != NULL);
    CHECK(strstr(m, "edgeml_drift_psi{model=\"cnn\"} ") != NULL);
    free(m);
    int code;
    r = run("{\"op\":\"node.status\"}", &code);
    CHECK(code == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(r, "drift")) == 0);
    cJSON_Delete(r);

    /* The same images inverted, after a reset of the window. */
    r = drift_of("cnn", "model.drift.reset");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r, "reset")) && num_of(r, "samples") == 0);
    cJSON_Delete(r);
    float *inv = read_images(FASHION_TEST_IMAGES, 0, 500, 1);
    CHECK(infer("cnn", inv, 500, 50) == 500);
    r = drift_of("cnn", "model.drift");
    double psi_bad = num_of(r, "max_psi");
    printf("500 inverted test images: PSI %.6f, status %s\n", psi_bad, str_of(r, "status"));
    CHECK(strcmp(str_of(r, "status"), "drift") == 0 && psi_bad > 0.25);
    cJSON_Delete(r);
    r = run("{\"op\":\"node.status\"}", &code);
    const cJSON *alerts = cJSON_GetObjectItem(r, "drift");
    CHECK(code == 200 && cJSON_GetArraySize(alerts) == 1 &&
          strcmp(str_of(cJSON_GetArrayItem(alerts, 0), "model"), "cnn") == 0 &&
          strcmp(str_of(cJSON_GetArrayItem(alerts, 0), "status"), "drift") == 0);
    cJSON_Delete(r);
    m = metrics_text();
    const char *g = strstr(m, "edgeml_drift_psi{model=\"cnn\"} ");
    CHECK(g && atof(g + strlen("edgeml_drift_psi{model=\"cnn\"} ")) > 0.25);
    CHECK(strstr(m, "edgeml_drift_samples_total{model=\"cnn\"} 1500") != NULL);
    free(m);
    free(inv);
    free(test);
    free(config);
    free(profile);
    teardown();
}

EML_TEST(models_without_or_with_a_bad_profile)
{
    setup(0);
    deploy("plain", "{}");
    cJSON *r = drift_of("plain", "model.drift");
    CHECK(strcmp(str_of(r, "status"), "no reference profile") == 0);
    cJSON_Delete(r);
    /* A profile of three channels for a one-channel input: refused once the model serves. */
    const char *ch = "{\"edges\":[0.5],\"fractions\":[0.5,0.5]}";
    char config[512];
    snprintf(config, sizeof(config),
             "{\"drift\":{\"inputs\":[{\"name\":\"input\",\"channels\":[%s,%s,%s]}]}}", ch, ch, ch);
    deploy("bad", config);
    float img[784] = {0};
    CHECK(infer("bad", img, 1, 1) == 1); /* serving goes on */
    r = drift_of("bad", "model.drift");
    CHECK(strcmp(str_of(r, "status"), "invalid profile") == 0 &&
          strstr(str_of(r, "error"), "has 1 channels on axis 1, the profile 3") != NULL);
    cJSON_Delete(r);
    /* A profile that does not parse. */
    deploy("bad2", "{\"drift\":{\"inputs\":[{\"name\":\"input\",\"channels\":[{\"edges\":[1,0],"
                   "\"fractions\":[0.2,0.3,0.5]}]}]}}");
    r = drift_of("bad2", "model.drift");
    CHECK(strcmp(str_of(r, "status"), "invalid profile") == 0 &&
          strstr(str_of(r, "error"), "edges must increase") != NULL);
    cJSON_Delete(r);
    int code;
    r = run("{\"op\":\"model.drift\",\"model\":\"nope\"}", &code);
    CHECK(code == 404);
    cJSON_Delete(r);
    r = run("{\"op\":\"model.drift\",\"model\":\"plain\",\"version\":7}", &code);
    CHECK(code == 404);
    cJSON_Delete(r);
    teardown();
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    char **s = user;
    size_t old = *s ? strlen(*s) : 0, add = size * n;
    char *t = realloc(*s, old + add + 1);
    if (!t)
        return 0;
    memcpy(t + old, p, add);
    t[old + add] = 0;
    *s = t;
    return add;
}

/* An HTTP request to the agent; returns the status code, the body in *body (free it). */
static long http(const char *method, const char *path, char **body)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", eml_agent_port(agent), path);
    CURL *c = curl_easy_init();
    REQUIRE(c);
    *body = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    printf("%s %s -> %ld %.300s\n", method, path, code, *body ? *body : "");
    return code;
}

EML_TEST(http_routes)
{
    setup(1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *profile = make_profile();
    size_t cap = strlen(profile) + 64;
    char *config = malloc(cap);
    REQUIRE(config);
    snprintf(config, cap, "{\"drift\":%s}", profile);
    deploy("cnn", config);
    float *test = read_images(FASHION_TEST_IMAGES, 0, 200, 0);
    CHECK(infer("cnn", test, 200, 1) == 200);
    char *body;
    CHECK(http("GET", "/v2/edgeml/models/cnn/drift", &body) == 200);
    CHECK(body && strstr(body, "\"status\":\"ok\"") && strstr(body, "\"samples\":200"));
    free(body);
    CHECK(http("POST", "/v2/edgeml/models/cnn/drift", &body) == 405);
    free(body);
    CHECK(http("POST", "/v2/edgeml/models/cnn/drift/reset", &body) == 200);
    CHECK(body && strstr(body, "\"reset\":true") && strstr(body, "\"samples\":0"));
    free(body);
    CHECK(http("GET", "/v2/edgeml/models/cnn/drift/reset", &body) == 405);
    free(body);
    CHECK(http("GET", "/v2/edgeml/models/zzz/drift", &body) == 404);
    free(body);
    CHECK(http("GET", "/metrics", &body) == 200);
    CHECK(body && strstr(body, "# TYPE edgeml_drift_psi gauge") &&
          strstr(body, "edgeml_drift_samples_total{model=\"cnn\"} 200"));
    free(body);
    curl_global_cleanup();
    free(test);
    free(config);
    free(profile);
    teardown();
}
