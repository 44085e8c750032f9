/* Accuracy on a remote node and node-side timing: the agent's model.eval in process (inline
 * base64 .npy and file:// URLs with their hashes, every refusal), then over MQTT with a real
 * mosquitto and two real edgemld nodes: eml_manager_evaluate on 1000 Fashion-MNIST test images
 * gives exactly the figure eml_eval_classifier gives in this process, recorded for the model
 * list; inference times come from the node and stay within the manager's round trip. Skipped
 * (77) without mosquitto or dataset-fashion-mnist. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "edgeml/agent.h"
#include "edgeml/edgeml.h"
#include "harness.h"
#include "mqtt_util.h"
#include "process_util.h"
#include "serve/repository.h"

#define IMAGES "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
#define LABELS "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
#define SITE "eval-site"
#define N_EVAL 1000

static char work[512], model_path[1024], edgemld[1024], broker[64];
static pid_t broker_pid, node_pid[2];
static eml_env *env;
static eml_tensor images, labels; /* float32 [N_EVAL,1,28,28] = pixel/255, uint8 [N_EVAL] */

/* A failed REQUIRE exits: no child may outlive the test (CTest would wait for it). */
static void kill_children(void)
{
    proc_stop(&node_pid[0], SIGKILL);
    proc_stop(&node_pid[1], SIGKILL);
    proc_stop(&broker_pid, SIGKILL);
}

static void setup(const char *name)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    snprintf(model_path, sizeof(model_path), "%s/models/fashion_cnn/model.onnx", src);
    if (access(model_path, R_OK) != 0)
        eml_test_skip("models/fashion_cnn/model.onnx not found");
    if (access(IMAGES, R_OK) != 0 || access(LABELS, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    REQUIRE(mkdtemp(work) != NULL);
    atexit(kill_children);
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    eml_tensor raw;
    REQUIRE_OK(eml_tensor_read_idx(env, IMAGES, &raw, &d), &d);
    REQUIRE(raw.dtype == EML_DTYPE_U8 && raw.rank == 3 && raw.dims[0] >= N_EVAL);
    float *x = malloc((size_t)N_EVAL * 784 * sizeof(float));
    REQUIRE(x);
    for (int64_t i = 0; i < (int64_t)N_EVAL * 784; i++)
        x[i] = ((const uint8_t *)raw.data)[i] / 255.0f;
    eml_tensor_free(env, &raw);
    images = (eml_tensor){EML_DTYPE_F32, 4, {N_EVAL, 1, 28, 28}, x};
    REQUIRE_OK(eml_tensor_read_idx(env, LABELS, &labels, &d), &d);
    REQUIRE(labels.dtype == EML_DTYPE_U8 && labels.rank == 1 && labels.dims[0] >= N_EVAL);
    labels.dims[0] = N_EVAL;
}

static void teardown(void)
{
    kill_children();
    free(images.data);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* What eml_eval_classifier gives in this process on the first n samples, the model optimized
 * as a node serves it. */
static eml_eval_result reference(const eml_tensor *data, const eml_tensor *lab, uint32_t limit)
{
    eml_diag d;
    eml_diag_init(&d);
    eml_graph *g = NULL;
    REQUIRE_OK(eml_graph_load_onnx(env, model_path, &g, &d), &d);
    eml_optimize_options oo;
    eml_optimize_options_init(&oo);
    REQUIRE_OK(eml_graph_optimize(g, &oo, NULL, &d), &d);
    eml_eval_options eo;
    eml_eval_options_init(&eo);
    eo.limit = limit;
    eml_eval_result r;
    REQUIRE_OK(eml_eval_classifier(g, data, lab, &eo, &r, NULL, &d), &d);
    eml_graph_destroy(g);
    return r;
}

static int has(const eml_diag *d, const char *text)
{
    int ok = strstr(eml_test_diag_message(d), text) != NULL;
    if (!ok)
        fprintf(stderr, "expected '%s' in: %s\n", text, eml_test_diag_message(d));
    return ok;
}

/* ---- model.eval in process ---- */

static eml_agent *agent;

/* A tensor's .npy bytes (written with eml_tensor_write_npy, read back); free() them. */
static uint8_t *npy_bytes(const eml_tensor *t, size_t *n)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/t.npy", work);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_tensor_write_npy(t, path, &d), &d);
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    REQUIRE(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    REQUIRE(size > 0 && fseek(f, 0, SEEK_SET) == 0);
    uint8_t *b = malloc((size_t)size);
    REQUIRE(b && fread(b, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return b;
}

static char *base64(const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    REQUIRE(out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = abc[v >> 18 & 63];
        *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* Runs cmd (taken: deleted here); returns the HTTP code and the parsed reply (delete it). */
static int run(cJSON *cmd, cJSON **reply)
{
    char *text = cJSON_PrintUnformatted(cmd);
    cJSON_Delete(cmd);
    REQUIRE(text);
    char *out = NULL;
    int code = 0;
    REQUIRE(eml_agent_command(agent, text, strlen(text), &out, &code) == EML_OK);
    free(text);
    *reply = cJSON_Parse(out);
    REQUIRE(*reply);
    if (code != 200)
        fprintf(stderr, "-> %d %s\n", code, out);
    free(out);
    return code;
}

static cJSON *eval_cmd(const char *model)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "op", "model.eval");
    cJSON_AddStringToObject(c, "model", model);
    return c;
}

/* Adds "<what>_base64" with t's .npy bytes. */
static void add_inline(cJSON *c, const char *what, const eml_tensor *t)
{
    size_t n;
    uint8_t *b = npy_bytes(t, &n);
    char *s = base64(b, n), key[32];
    snprintf(key, sizeof(key), "%s_base64", what);
    cJSON_AddStringToObject(c, key, s);
    free(s);
    free(b);
}

/* Writes t as WORK/<what>.npy and adds "<what>_url" (file://) and "<what>_sha256" (its hash,
 * or `sha` when given). */
static void add_url(cJSON *c, const char *what, const eml_tensor *t, const char *sha)
{
    size_t n;
    uint8_t *b = npy_bytes(t, &n);
    char path[700], url[800], key[32], hex[65];
    snprintf(path, sizeof(path), "%s/%s.npy", work, what);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(b, 1, n, f) == n);
    fclose(f);
    eml__sha256_hex(b, n, hex);
    free(b);
    snprintf(url, sizeof(url), "file://%s", path);
    snprintf(key, sizeof(key), "%s_url", what);
    cJSON_AddStringToObject(c, key, url);
    snprintf(key, sizeof(key), "%s_sha256", what);
    cJSON_AddStringToObject(c, key, sha ? sha : hex);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int status_is(const cJSON *reply, const char *status, const char *text)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(reply, "status");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    return cJSON_IsString(s) && strcmp(s->valuestring, status) == 0 && cJSON_IsString(e) &&
           strstr(e->valuestring, text);
}

/* model.infer of test image 0 as OIP JSON. */
static cJSON *infer_cmd(const char *model)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "op", "model.infer");
    cJSON_AddStringToObject(c, "model", model);
    cJSON *req = cJSON_AddObjectToObject(c, "request");
    cJSON *in = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "inputs"), in);
    cJSON_AddStringToObject(in, "name", "input");
    cJSON_AddStringToObject(in, "datatype", "FP32");
    const int shape[4] = {1, 1, 28, 28};
    cJSON_AddItemToObject(in, "shape", cJSON_CreateIntArray(shape, 4));
    cJSON_AddItemToObject(in, "data", cJSON_CreateFloatArray(images.data, 784));
    return c;
}

EML_TEST(eval_op_in_process)
{
    setup("eml_eval_op");
    char repo[700];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.n_threads = 1;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &agent, &d), &d);
    cJSON *c = cJSON_CreateObject(), *r;
    cJSON_AddStringToObject(c, "op", "model.deploy");
    cJSON_AddStringToObject(c, "model", "cnn");
    char url[1200];
    snprintf(url, sizeof(url), "file://%s", model_path);
    cJSON_AddStringToObject(c, "url", url);
    REQUIRE(run(c, &r) == 200);
    cJSON_Delete(r);

    /* 300 images inline: exactly the in-process figure. */
    eml_tensor x = images, y = labels;
    x.dims[0] = y.dims[0] = 300;
    eml_eval_result ref = reference(&x, &y, 0);
    REQUIRE(ref.count == 300 && ref.n_classes == 10);
    c = eval_cmd("cnn");
    add_inline(c, "data", &x);
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 200);
    CHECK(num(r, "count") == 300 && num(r, "top1") == (double)ref.top1);
    CHECK(num(r, "top1_pct") == ref.top1_pct && num(r, "top5_pct") == ref.top5_pct);
    CHECK(num(r, "version") == 1 && num(r, "n_classes") == 10);
    CHECK(num(r, "eval_ms") > 0 && num(r, "load_ms") > 0 && num(r, "fetch_ms") >= 0);
    printf("inline: top-1 %.2f%% (%g of 300), eval %.2f ms\n", num(r, "top1_pct"),
           num(r, "top1"), num(r, "eval_ms"));
    cJSON_Delete(r);

    /* By file:// URL with the hashes, and a limit. */
    eml_eval_result ref100 = reference(&x, &y, 100);
    c = eval_cmd("cnn");
    add_url(c, "data", &x, NULL);
    add_url(c, "labels", &y, NULL);
    cJSON_AddNumberToObject(c, "limit", 100);
    cJSON_AddNumberToObject(c, "version", 1);
    CHECK(run(c, &r) == 200);
    CHECK(num(r, "count") == 100 && num(r, "top1") == (double)ref100.top1);
    cJSON_Delete(r);

    /* A download that does not match its hash. */
    c = eval_cmd("cnn");
    add_url(c, "data", &x, "00000000000000000000000000000000000000000000000000000000000000ff");
    add_url(c, "labels", &y, NULL);
    CHECK(run(c, &r) == 400 && status_is(r, "corrupt", "data: SHA-256 mismatch"));
    cJSON_Delete(r);
    /* Inline data with a wrong hash given is refused too. */
    c = eval_cmd("cnn");
    add_inline(c, "data", &x);
    cJSON_AddStringToObject(c, "data_sha256",
                            "1111111111111111111111111111111111111111111111111111111111111111");
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "corrupt", "SHA-256 mismatch"));
    cJSON_Delete(r);
    /* A URL without its hash. */
    c = eval_cmd("cnn");
    add_url(c, "data", &x, NULL);
    cJSON_DeleteItemFromObject(c, "data_sha256");
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "invalid_argument", "needs \"data_sha256\""));
    cJSON_Delete(r);

    /* 299 labels for 300 samples. */
    eml_tensor y299 = y;
    y299.dims[0] = 299;
    c = eval_cmd("cnn");
    add_inline(c, "data", &x);
    add_inline(c, "labels", &y299);
    CHECK(run(c, &r) == 400 && status_is(r, "shape_mismatch", "299 labels for 300 samples"));
    cJSON_Delete(r);
    /* Samples of 27x28 values: they do not fit the model's 1x28x28. */
    eml_tensor small = {EML_DTYPE_F32, 3, {300, 27, 28}, images.data};
    c = eval_cmd("cnn");
    add_inline(c, "data", &small);
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "shape_mismatch", "756 values per sample"));
    cJSON_Delete(r);
    /* uint8 pixels: the model takes float32. */
    eml_tensor bytes = {EML_DTYPE_U8, 2, {300, 784}, images.data};
    c = eval_cmd("cnn");
    add_inline(c, "data", &bytes);
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "type_mismatch", "evaluation data"));
    cJSON_Delete(r);
    /* Not a .npy file, not base64, nothing given. */
    c = eval_cmd("cnn");
    cJSON_AddStringToObject(c, "data_base64", "aGVsbG8gd29ybGQh"); /* "hello world!" */
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "corrupt", "data: npy: not a .npy file"));
    cJSON_Delete(r);
    c = eval_cmd("cnn");
    cJSON_AddStringToObject(c, "data_base64", "not*base64");
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "invalid_argument", "is not base64"));
    cJSON_Delete(r);
    c = eval_cmd("cnn");
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 400 && status_is(r, "invalid_argument", "needs \"data_base64\""));
    cJSON_Delete(r);
    /* A model, or a version, the node does not keep: before any download. */
    c = eval_cmd("nope");
    add_inline(c, "data", &x);
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 404 && status_is(r, "not_found", "model 'nope' is not in the repository"));
    cJSON_Delete(r);
    c = eval_cmd("cnn");
    cJSON_AddNumberToObject(c, "version", 7);
    add_inline(c, "data", &x);
    add_inline(c, "labels", &y);
    CHECK(run(c, &r) == 404 && status_is(r, "not_found", "at that version"));
    cJSON_Delete(r);

    /* The infer reply carries the node's own timing. */
    CHECK(run(infer_cmd("cnn"), &r) == 200);
    CHECK(num(r, "inference_ms") > 0 && num(r, "queue_ms") >= 0);
    cJSON_Delete(r);
    eml_agent_destroy(agent);
    teardown();
}

/* ---- over MQTT ---- */

static void start_node(int i, const char *id)
{
    char repo[700], log[700];
    snprintf(repo, sizeof(repo), "%s/%s", work, id);
    snprintf(log, sizeof(log), "%s/%s.log", work, id);
    char *argv[] = {edgemld, "--repo", repo,   "--listen",      "off", "--broker",  broker,
                    "--site", SITE,    "--node-id", (char *)id, "--heartbeat-s", "1", "--threads",
                    "1",      NULL};
    node_pid[i] = proc_spawn(argv, log);
}

/* Every .npy artifact of the site gets its bytes inverted (same size: the manager keeps them). */
static int corrupt_npy_artifacts(void)
{
    char dir[700];
    snprintf(dir, sizeof(dir), "%s/" SITE "/artifacts", work);
    DIR *dp = opendir(dir);
    REQUIRE(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len != 68 || strcmp(e->d_name + 64, ".npy") != 0)
            continue;
        char path[1000];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r+b");
        REQUIRE(f);
        unsigned char b[64];
        size_t got = fread(b, 1, sizeof(b), f);
        for (size_t k = 0; k < got; k++)
            b[k] = (unsigned char)~b[k];
        REQUIRE(fseek(f, 0, SEEK_SET) == 0 && fwrite(b, 1, got, f) == got);
        fclose(f);
        n++;
    }
    closedir(dp);
    return n;
}

/* A raw MQTT request to a node, as a client of the broker: the reply and its user properties. */
typedef struct raw_reply {
    int done, http_status;
    double node_ms; /* -1: no node_ms property */
    char *payload;
} raw_reply;

static void on_raw(struct mosquitto *mosq, void *user, const struct mosquitto_message *msg,
                   const mosquitto_property *props)
{
    (void)mosq;
    raw_reply *r = user;
    char *name = NULL, *value = NULL;
    const mosquitto_property *it =
        mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &name, &value, false);
    while (it) {
        if (strcmp(name, "node_ms") == 0)
            r->node_ms = atof(value);
        if (strcmp(name, "http_status") == 0)
            r->http_status = atoi(value);
        free(name);
        free(value);
        name = value = NULL;
        it = mosquitto_property_read_string_pair(it, MQTT_PROP_USER_PROPERTY, &name, &value, true);
    }
    free(r->payload);
    r->payload = strndup(msg->payload, (size_t)msg->payloadlen);
    r->done = 1;
}

static raw_reply raw_request(int port, const char *node, cJSON *cmd)
{
    raw_reply r = {0, 0, -1, NULL};
    char *text = cJSON_PrintUnformatted(cmd), topic[200];
    cJSON_Delete(cmd);
    REQUIRE(text);
    mosquitto_lib_init();
    struct mosquitto *c = mosquitto_new(NULL, true, &r);
    REQUIRE(c);
    mosquitto_int_option(c, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_message_v5_callback_set(c, on_raw);
    REQUIRE(mosquitto_connect(c, "127.0.0.1", port, 30) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_subscribe_v5(c, NULL, "test/raw/reply", 1, 0, NULL) == MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 20; i++) /* the SUBACK before the command goes out */
        mosquitto_loop(c, 10, 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "test/raw/reply");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "raw-1", 5);
    snprintf(topic, sizeof(topic), "edgeml/" SITE "/nodes/%s/cmd", node);
    REQUIRE(mosquitto_publish_v5(c, NULL, topic, (int)strlen(text), text, 1, false, props) ==
            MOSQ_ERR_SUCCESS);
    mosquitto_property_free_all(&props);
    free(text);
    for (int i = 0; i < 1000 && !r.done; i++)
        mosquitto_loop(c, 10, 1);
    mosquitto_disconnect(c);
    mosquitto_destroy(c);
    mosquitto_lib_cleanup();
    REQUIRE(r.done);
    return r;
}

static void infer_times(eml_manager *m, const char *node)
{
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, images.data};
    eml_infer_result r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_infer(m, node, "fashion_cnn", &t, 1, &r, &d), &d);
    printf("%s: inference %.4f ms on the node, round trip %.4f ms\n", node, r.inference_ms,
           r.round_trip_ms);
    CHECK(r.inference_ms > 0 && r.round_trip_ms > 0 && r.inference_ms <= r.round_trip_ms);
    CHECK(r.output_count == 1 && r.version == 1);
    eml_infer_result_deinit(&r);
}

EML_TEST(evaluate_over_mqtt)
{
    if (access(MOSQUITTO, X_OK) != 0)
        eml_test_skip(MOSQUITTO " is not installed (apt-get install mosquitto)");
    const char *bin = getenv("EML_BINARY_DIR");
    if (!bin)
        eml_test_skip("EML_BINARY_DIR not set");
    snprintf(edgemld, sizeof(edgemld), "%s/edgemld", bin);
    if (access(edgemld, X_OK) != 0)
        eml_test_skip("edgemld is not built");
    setup("eml_eval_mqtt");
    int port = mqtt_free_port();
    snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", port);
    broker_pid = mqtt_start_broker(work, port, 1);
    start_node(0, "n1");
    start_node(1, "n2");

    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = work;
    o.broker = broker;
    o.n_threads = 1;
    eml_manager *m = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_open(SITE, &o, &m, &d), &d);
    eml_site_status ss;
    for (int i = 0; i < 200; i++) {
        REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
        if (ss.nodes_online == 3)
            break;
        mqtt_sleep_ms(100);
    }
    REQUIRE(ss.nodes_online == 3);

    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "fashion_cnn";
    desc.type = "classification";
    desc.file = model_path;
    eml_deploy_result dr;
    REQUIRE_OK(eml_manager_deploy(m, &desc, "n1", &dr, &d), &d);
    REQUIRE_OK(eml_manager_deploy(m, &desc, "local", &dr, &d), &d);

    /* 1000 test images on n1: the figure this process computes, exactly. */
    eml_eval_result ref = reference(&images, &labels, 0), er;
    REQUIRE_OK(eml_manager_evaluate(m, "n1", "fashion_cnn", &images, &labels, "fashion-mnist t10k",
                                    &er, &d),
               &d);
    printf("n1: top-1 %.2f%% top-5 %.2f%% on %llu images (in process: %.2f%%)\n", er.top1_pct,
           er.top5_pct, (unsigned long long)er.count, ref.top1_pct);
    CHECK(er.count == N_EVAL && er.top1 == ref.top1 && er.top1_pct == ref.top1_pct);
    CHECK(er.top5 == ref.top5 && er.top5_pct == ref.top5_pct && er.n_classes == 10);
    CHECK(er.top1_pct > 80); /* the Fashion CNN is ~90% right on the test set */

    /* Recorded: the model list shows it, measured on n1, version 1. */
    eml_model_info mi;
    REQUIRE_OK(eml_manager_model(m, "fashion_cnn", &mi, &d), &d);
    CHECK(mi.accuracy_pct.has && mi.accuracy_pct.value == ref.top1_pct);
    CHECK(strcmp(mi.accuracy_pct.node, "n1") == 0 && mi.accuracy_pct.version == 1);
    CHECK(strstr(mi.accuracy_dataset, "fashion-mnist t10k") != NULL);

    /* The local node: the same figure, recorded the same way. */
    eml_eval_result el;
    REQUIRE_OK(eml_manager_evaluate(m, "local", "fashion_cnn", &images, &labels, "t10k", &el, &d),
               &d);
    CHECK(el.top1 == ref.top1 && el.count == N_EVAL);
    eml_model_info *list = NULL;
    size_t n_models = 0;
    REQUIRE_OK(eml_manager_models(m, &list, &n_models, &d), &d);
    CHECK(n_models == 1 && strcmp(list[0].accuracy_pct.node, "local") == 0);
    eml_manager_free(list);

    /* Node-side inference time, within the round trip, for both transports. */
    infer_times(m, "n1");
    infer_times(m, "local");
    /* Every MQTT reply says the handler's time (node_ms); for an inference it holds the run. */
    raw_reply rr = raw_request(port, "n1", infer_cmd("fashion_cnn"));
    cJSON *rj = cJSON_Parse(rr.payload);
    double run_ms = num(rj, "inference_ms");
    printf("n1 raw: node_ms %.3f, inference_ms %.4f, queue_ms %.4f\n", rr.node_ms, run_ms,
           num(rj, "queue_ms"));
    CHECK(rr.http_status == 200 && run_ms > 0 && rr.node_ms >= run_ms - 0.001);
    cJSON_Delete(rj);
    free(rr.payload);
    cJSON *live = cJSON_CreateObject();
    cJSON_AddStringToObject(live, "op", "health.live");
    rr = raw_request(port, "n1", live);
    CHECK(rr.http_status == 200 && rr.node_ms >= 0 && strstr(rr.payload, "\"live\":true"));
    free(rr.payload);

    /* Refusals, each with the node's reason. */
    eml_tensor y = labels;
    y.dims[0] = N_EVAL - 1;
    CHECK_STATUS(eml_manager_evaluate(m, "n1", "fashion_cnn", &images, &y, "t10k", &er, &d),
                 EML_ESHAPE);
    CHECK(has(&d, "node 'n1': ") && has(&d, "999 labels for 1000 samples"));
    eml_tensor small = {EML_DTYPE_F32, 3, {N_EVAL, 27, 28}, images.data};
    CHECK_STATUS(eml_manager_evaluate(m, "n1", "fashion_cnn", &small, &labels, "t10k", &er, &d),
                 EML_ESHAPE);
    CHECK(has(&d, "756 values per sample"));
    CHECK_STATUS(eml_manager_evaluate(m, "n2", "fashion_cnn", &images, &labels, "t10k", &er, &d),
                 EML_ENOTFOUND);
    CHECK(has(&d, "node 'n2' does not serve model 'fashion_cnn'"));
    CHECK_STATUS(eml_manager_evaluate(m, "n1", "nope", &images, &labels, "t10k", &er, &d),
                 EML_ENOTFOUND);
    /* Artifacts altered on the manager's disk: the node's hash check refuses them. */
    CHECK(corrupt_npy_artifacts() >= 2);
    CHECK_STATUS(eml_manager_evaluate(m, "n1", "fashion_cnn", &images, &labels, "t10k", &er, &d),
                 EML_ECORRUPT);
    CHECK(has(&d, "SHA-256 mismatch"));
    /* A node that went away. */
    proc_stop(&node_pid[1], SIGKILL);
    for (int i = 0; i < 100; i++) {
        REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
        if (ss.nodes_online == 2)
            break;
        mqtt_sleep_ms(100);
    }
    CHECK_STATUS(eml_manager_evaluate(m, "n2", "fashion_cnn", &images, &labels, "t10k", &er, &d),
                 EML_EIO);
    CHECK(has(&d, "offline"));
    eml_manager_close(m);
    teardown();
}

/* ---- the CLI ---- */

/* Runs `edgeml ARGS...` with EDGEML_HOME=WORK/home; its stdout into out. Returns the exit
 * status. */
static int run_cli(char *out, size_t cap, const char *const *args)
{
    char exe[1100], home[700];
    snprintf(exe, sizeof(exe), "%s/edgeml", getenv("EML_BINARY_DIR"));
    snprintf(home, sizeof(home), "%s/home", work);
    const char *argv[24] = {exe};
    int n = 1;
    for (; args[n - 1] && n < 23; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("EDGEML_HOME", home, 1);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t got;
    while ((got = read(fds[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)got;
    out[len] = 0;
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    printf("%s", out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

EML_TEST(evaluate_cli_local)
{
    const char *bin = getenv("EML_BINARY_DIR");
    char exe[1100];
    snprintf(exe, sizeof(exe), "%s/edgeml", bin ? bin : ".");
    if (!bin || access(exe, X_OK) != 0)
        eml_test_skip("the edgeml CLI is not built");
    setup("eml_eval_cli");
    char out[8192];
    const char *deploy[] = {"--site", "s", "deploy", model_path, "--model", "fashion_cnn", NULL};
    REQUIRE(run_cli(out, sizeof(out), deploy) == 0);
    const char *ev[] = {"--site", "s",      "evaluate", "local",   "fashion_cnn", "--data",
                        IMAGES,   "--labels", LABELS,   "--limit", "200",         "--json",
                        NULL};
    CHECK(run_cli(out, sizeof(out), ev) == 0);
    eml_tensor x = images, y = labels;
    x.dims[0] = y.dims[0] = 200;
    eml_eval_result ref = reference(&x, &y, 0);
    cJSON *j = cJSON_Parse(out);
    CHECK(j && num(j, "samples") == 200 && num(j, "top1") == (double)ref.top1);
    CHECK(num(j, "site_version") == 1 && num(j, "classes") == 10 && num(j, "elapsed_ms") > 0);
    cJSON_Delete(j);
    /* Recorded: the model list shows it. */
    const char *models[] = {"--site", "s", "models", NULL};
    CHECK(run_cli(out, sizeof(out), models) == 0);
    char pct[32];
    snprintf(pct, sizeof(pct), "%.2f%% (v1, local", ref.top1_pct);
    CHECK(strstr(out, pct) != NULL);
    /* Usage errors: no labels, one positional. */
    const char *bad[] = {"--site", "s", "evaluate", "local", "fashion_cnn", "--data", IMAGES, NULL};
    CHECK(run_cli(out, sizeof(out), bad) == 2);
    const char *bad2[] = {"--site", "s", "evaluate", "local", NULL};
    CHECK(run_cli(out, sizeof(out), bad2) == 2);
    /* A node the site does not know. */
    const char *bad3[] = {"--site", "s",      "evaluate", "nope", "fashion_cnn", "--data",
                          IMAGES,   "--labels", LABELS,   NULL};
    CHECK(run_cli(out, sizeof(out), bad3) == 1);
    teardown();
}
