/* The fleet over MQTT end to end: a real mosquitto on a loopback port, three real edgemld nodes
 * (--broker, heartbeat 1 s) and the manager with the broker: the nodes announce themselves, a
 * deploy fetches the artifact over the manager's HTTP server, inference on a Fashion-MNIST test
 * image and a benchmark run on that node; a killed node goes offline with a clear error, a
 * stopped broker gives a clear error, and after the broker restarts commands work again with
 * nothing recorded in the site lost. Skipped (77) without /usr/sbin/mosquitto. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "edgeml/edgeml.h"
#include "fashion_util.h"
#include "harness.h"
#include "mqtt_util.h"
#include "process_util.h"

#define SITE "plant-7"
#define N_NODES 3

static char work[512], model_path[1024], edgemld[1024], broker[64];
static int port;
static pid_t broker_pid, node_pid[N_NODES];
static eml_env *env;
static eml_tensor images, labels;

/* A failed REQUIRE exits: no child may outlive the test (CTest would wait for it). */
static void kill_children(void)
{
    for (int i = 0; i < N_NODES; i++)
        proc_stop(&node_pid[i], SIGKILL);
    proc_stop(&broker_pid, SIGKILL);
}

static void start_broker(void)
{
    broker_pid = mqtt_start_broker(work, port, 1);
}

static void start_node(int i)
{
    char repo[700], id[16], log[700];
    snprintf(repo, sizeof(repo), "%s/node%d", work, i + 1);
    snprintf(id, sizeof(id), "n%d", i + 1);
    snprintf(log, sizeof(log), "%s/node%d.log", work, i + 1);
    char *argv[] = {edgemld, "--repo",    repo, "--listen",  "off", "--broker",
                    broker,  "--site",    SITE, "--node-id", id,    "--heartbeat-s",
                    "1",     "--threads", "1",  NULL};
    node_pid[i] = proc_spawn(argv, log);
}

static void setup(void)
{
    if (access(MOSQUITTO, X_OK) != 0)
        eml_test_skip(MOSQUITTO " is not installed (apt-get install mosquitto)");
    const char *src = eml_test_source_dir(), *bin = getenv("EML_BINARY_DIR");
    if (!src || !bin)
        eml_test_skip("EML_SOURCE_DIR or EML_BINARY_DIR not set");
    snprintf(edgemld, sizeof(edgemld), "%s/edgemld", bin);
    if (access(edgemld, X_OK) != 0)
        eml_test_skip("edgemld is not built");
    snprintf(model_path, sizeof(model_path), "%s/models/fashion_cnn/model.onnx", src);
    if (access(model_path, R_OK) != 0)
        eml_test_skip("models/fashion_cnn/model.onnx not found");
    if (access(FASHION_TEST_IMAGES, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_mqtt_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    /* A free loopback port: bound by the system, released, then given to the broker. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    REQUIRE(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
    REQUIRE(getsockname(s, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
    close(s);
    snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", port);
    atexit(kill_children);
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_IMAGES, &images, &d), &d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_LABELS, &labels, &d), &d);
}

static void teardown(void)
{
    kill_children();
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static int node_online(eml_manager *m, const char *id)
{
    eml_node_info x;
    eml_diag d;
    eml_diag_init(&d);
    int on = eml_manager_node_status(m, id, &x, &d) == EML_OK && x.online;
    eml_node_info_deinit(&x);
    return on;
}

/* Runs test image i on the node; the predicted class, or -1 with *st the failure. */
static int classify(eml_manager *m, const char *node, size_t i, eml_status *st, eml_diag *d)
{
    float buf[784];
    const uint8_t *px = (const uint8_t *)images.data + i * 784;
    for (int k = 0; k < 784; k++)
        buf[k] = px[k] / 255.0f;
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, buf};
    eml_infer_result r;
    *st = eml_manager_infer(m, node, "fashion_cnn", &t, 1, &r, d);
    int best = -1;
    if (*st == EML_OK && r.output_count == 1 && r.outputs[0].tensor.dtype == EML_DTYPE_F32) {
        const float *s = r.outputs[0].tensor.data;
        best = 0;
        for (int k = 1; k < 10; k++)
            if (s[k] > s[best])
                best = k;
    }
    eml_infer_result_deinit(&r);
    return best;
}

static int has(const eml_diag *d, const char *text)
{
    return strstr(eml_test_diag_message(d), text) != NULL;
}

EML_TEST(fleet_over_mqtt)
{
    setup();
    start_broker();
    for (int i = 0; i < N_NODES; i++)
        start_node(i);

    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = work;
    o.broker = broker;
    o.n_threads = 1;
    eml_manager *m = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_open(SITE, &o, &m, &d), &d);

    /* The nodes announce themselves: local + 3 online. */
    eml_site_status ss;
    double t0 = proc_now_s();
    for (;;) {
        REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
        if (ss.nodes_online == N_NODES + 1 || proc_now_s() - t0 > 20)
            break;
        mqtt_sleep_ms(100);
    }
    CHECK(strcmp(ss.transport, "mqtt") == 0);
    REQUIRE(ss.nodes_total == N_NODES + 1 && ss.nodes_online == N_NODES + 1);
    eml_node_info x;
    REQUIRE_OK(eml_manager_node_status(m, "n1", &x, &d), &d);
    CHECK(strcmp(x.transport, "mqtt") == 0 && x.online && x.last_seen_unix > 0);
    CHECK(x.cpu_count > 0 && x.device_type[0] && x.has_memory);
    eml_node_info_deinit(&x);

    /* Deploy to n1: the node fetches the artifact from the manager over HTTP and checks it. */
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "fashion_cnn";
    desc.type = "classification";
    desc.file = model_path;
    eml_deploy_result dr;
    REQUIRE_OK(eml_manager_deploy(m, &desc, "n1", &dr, &d), &d);
    CHECK(dr.version == 1 && dr.node_version == 1 && strlen(dr.sha256) == 64);

    /* Inference on real test images, classes checked against the labels. */
    eml_status st;
    const uint8_t *lab = labels.data;
    for (size_t i = 0; i < 3; i++)
        CHECK(classify(m, "n1", i, &st, &d) == lab[i]);
    CHECK(st == EML_OK);
    /* n2 was not given the model. */
    CHECK(classify(m, "n2", 0, &st, &d) == -1 && st == EML_ENOTFOUND);

    eml_bench_options bo;
    eml_bench_options_init(&bo);
    bo.runs = 20;
    bo.warmup = 2;
    eml_bench_result br;
    REQUIRE_OK(eml_manager_bench(m, "n1", "fashion_cnn", &bo, &br, &d), &d);
    CHECK(br.runs == 20 && br.latency_ms_p50 > 0 && br.throughput_ips > 0);
    CHECK(strcmp(br.node, "n1") == 0 && br.site_version == 1);

    /* A node's error reply comes back as its status with its message. */
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_rollback(m, "n1", "fashion_cnn", 0, NULL, &d), EML_ENOTFOUND);
    CHECK(has(&d, "node 'n1': ") && has(&d, "roll back"));

    /* Accuracy runs on the node (model.eval, test_manager_eval.c): raw uint8 pixels reach it and
     * are refused there, the model takes float32. */
    eml_eval_result er;
    CHECK_STATUS(eml_manager_evaluate(m, "n1", "fashion_cnn", &images, &labels, "t10k", &er, &d),
                 EML_ETYPE);
    CHECK(has(&d, "node 'n1': "));
    /* Unknown node. */
    CHECK(classify(m, "nope", 0, &st, &d) == -1 && st == EML_ENOTFOUND);

    /* kill -9 n3: offline within the heartbeat window (3 x 1 s), then a clear error. */
    proc_stop(&node_pid[2], SIGKILL);
    t0 = proc_now_s();
    while (node_online(m, "n3") && proc_now_s() - t0 < 10)
        mqtt_sleep_ms(100);
    CHECK(!node_online(m, "n3"));
    CHECK(classify(m, "n3", 0, &st, &d) == -1 && st == EML_EIO);
    CHECK(has(&d, "node 'n3' is offline"));
    REQUIRE_OK(eml_manager_node_status(m, "n3", &x, &d), &d);
    CHECK(!x.online && x.last_seen_unix > 0 && x.cpu_count > 0);
    eml_node_info_deinit(&x);

    /* n2 frozen (SIGSTOP): its connection stays open, so no will; it goes offline when its
     * last heartbeat is older than 3 x 1 s, and comes back online when it runs again. */
    kill(node_pid[1], SIGSTOP);
    t0 = proc_now_s();
    while (node_online(m, "n2") && proc_now_s() - t0 < 15)
        mqtt_sleep_ms(100);
    CHECK(!node_online(m, "n2"));
    kill(node_pid[1], SIGCONT);
    t0 = proc_now_s();
    while (!node_online(m, "n2") && proc_now_s() - t0 < 30)
        mqtt_sleep_ms(100);
    CHECK(node_online(m, "n2"));

    /* The broker stops: a clear error naming the broker. */
    proc_stop(&broker_pid, SIGTERM);
    CHECK(classify(m, "n1", 0, &st, &d) == -1 && st == EML_EIO);
    CHECK(has(&d, broker));
    fprintf(stderr, "with the broker stopped: %s\n", eml_test_diag_message(&d));

    /* It restarts: the manager and the nodes reconnect, and a later command succeeds. */
    start_broker();
    t0 = proc_now_s();
    int cls = -1;
    while (cls < 0 && proc_now_s() - t0 < 60) {
        cls = classify(m, "n1", 0, &st, &d);
        if (cls < 0)
            mqtt_sleep_ms(250);
    }
    CHECK(cls == lab[0]);

    /* Nothing recorded was lost: the model, its measured latency, the deployment, the nodes. */
    eml_model_info mi;
    REQUIRE_OK(eml_manager_model(m, "fashion_cnn", &mi, &d), &d);
    CHECK(mi.latest_version == 1 && mi.nodes_serving == 1 && mi.latency_ms.has);
    CHECK(strcmp(mi.latency_ms.node, "n1") == 0);
    eml_node_info *list = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_nodes(m, &list, &n, &d), &d);
    CHECK(n == N_NODES + 1);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, "n3") == 0)
            CHECK(!list[i].online);
        if (strcmp(list[i].id, "n1") == 0)
            CHECK(list[i].online && list[i].model_count == 1);
        eml_node_info_deinit(&list[i]);
    }
    eml_manager_free(list);
    /* Closing while the broker is down does not hang on the reconnecting client. */
    proc_stop(&broker_pid, SIGTERM);
    mqtt_sleep_ms(200);
    eml_manager_close(m);
    teardown();
}
