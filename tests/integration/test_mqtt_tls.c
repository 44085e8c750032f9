/* The fleet bus over TLS: certificates made at test time with the openssl command line (a CA, a
 * server certificate for 127.0.0.1, a client certificate, and a second CA that signed nothing
 * of ours), mosquitto with a TLS listener that requires client certificates, a real edgemld node
 * and the manager with the CA and the client certificate: the node announces itself, a deploy
 * and inference on Fashion-MNIST test images work over mqtts://. A manager with the wrong CA,
 * or without a client certificate, fails with a clear EML_EIO naming the broker and TLS; a node
 * without a client certificate, or with the wrong CA, keeps retrying and its node.status says
 * why. Bad TLS options are EML_EINVAL naming the file. Skipped (77) without /usr/sbin/mosquitto
 * or /usr/bin/openssl. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "edgeml/edgeml.h"
#include "fashion_util.h"
#include "harness.h"
#include "mqtt_util.h"
#include "process_util.h"

#define OPENSSL "/usr/bin/openssl"
#define SITE "tls-lab"

static char work[512], model_path[1024], edgemld[1024], broker[64];
static char ca[600], other_ca[600], cert[600], key[600];
static int port;
static pid_t broker_pid, node_pid;
static eml_env *env;
static eml_tensor images, labels;

/* A failed REQUIRE exits: no child may outlive the test (CTest would wait for it). */
static void kill_children(void)
{
    proc_stop(&node_pid, SIGKILL);
    proc_stop(&broker_pid, SIGKILL);
}

/* Runs one openssl command in the work folder (its output appended to openssl.log). */
static void openssl(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && " OPENSSL " %s >> openssl.log 2>&1", work, args);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: openssl %s (see %s/openssl.log)\n", args, work);
        REQUIRE(0);
    }
}

/* The certificates: the commands docs/mqtt.md ("TLS") shows. P-256 keys: quick to make. */
static void make_certificates(void)
{
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    char a[1024];
    snprintf(a, sizeof(a),
             "req -x509 %s -keyout ca.key -out ca.crt -days 2 -subj '/CN=edgeml test CA'", ec);
    openssl(a);
    snprintf(a, sizeof(a),
             "req -x509 %s -keyout other-ca.key -out other-ca.crt -days 2 -subj '/CN=another CA'",
             ec);
    openssl(a);
    snprintf(a, sizeof(a), "req %s -keyout server.key -out server.csr -subj '/CN=127.0.0.1'", ec);
    openssl(a);
    char ext[700];
    snprintf(ext, sizeof(ext), "%s/server.ext", work);
    FILE *f = fopen(ext, "w");
    REQUIRE(f != NULL);
    fputs("subjectAltName=IP:127.0.0.1\n", f);
    fclose(f);
    openssl("x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 2 "
            "-extfile server.ext -out server.crt");
    snprintf(a, sizeof(a), "req %s -keyout client.key -out client.csr -subj '/CN=n1'", ec);
    openssl(a);
    openssl("x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 3 -days 2 "
            "-out client.crt");
    snprintf(ca, sizeof(ca), "%s/ca.crt", work);
    snprintf(other_ca, sizeof(other_ca), "%s/other-ca.crt", work);
    snprintf(cert, sizeof(cert), "%s/client.crt", work);
    snprintf(key, sizeof(key), "%s/client.key", work);
}

/* mosquitto with one TLS listener on port that requires a client certificate of our CA. */
static void start_broker(void)
{
    char conf[700], log[700];
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", work);
    snprintf(log, sizeof(log), "%s/mosquitto.log", work);
    FILE *f = fopen(conf, "w");
    REQUIRE(f != NULL);
    /* Run as root, mosquitto switches to the user "mosquitto", who could not read our key:
     * it stays the user running the test. */
    const struct passwd *pw = getpwuid(geteuid());
    if (pw)
        fprintf(f, "user %s\n", pw->pw_name);
    fprintf(f,
            "listener %d 127.0.0.1\nallow_anonymous true\n"
            "cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
            "require_certificate true\ntls_version tlsv1.2\n",
            port, work, work, work);
    fclose(f);
    char *argv[] = {MOSQUITTO, "-c", conf, NULL};
    broker_pid = proc_spawn(argv, log);
    for (int i = 0; i < 1000 && !mqtt_port_open(port); i++)
        mqtt_sleep_ms(10);
    REQUIRE(mqtt_port_open(port));
}

static void setup(int need_node)
{
    if (access(MOSQUITTO, X_OK) != 0)
        eml_test_skip(MOSQUITTO " is not installed (apt-get install mosquitto)");
    if (access(OPENSSL, X_OK) != 0)
        eml_test_skip(OPENSSL " is not installed (apt-get install openssl): no certificates");
    const char *src = eml_test_source_dir(), *bin = getenv("EML_BINARY_DIR");
    if (!src || !bin)
        eml_test_skip("EML_SOURCE_DIR or EML_BINARY_DIR not set");
    snprintf(edgemld, sizeof(edgemld), "%s/edgemld", bin);
    snprintf(model_path, sizeof(model_path), "%s/models/fashion_cnn/model.onnx", src);
    if (need_node) {
        if (access(edgemld, X_OK) != 0)
            eml_test_skip("edgemld is not built");
        if (access(model_path, R_OK) != 0)
            eml_test_skip("models/fashion_cnn/model.onnx not found");
        if (access(FASHION_TEST_IMAGES, R_OK) != 0)
            eml_test_skip("dataset-fashion-mnist is not installed");
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_mqtt_tls_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    port = mqtt_free_port();
    snprintf(broker, sizeof(broker), "mqtts://127.0.0.1:%d", port);
    atexit(kill_children);
    make_certificates();
    if (need_node) {
        eml_env_options eo;
        eml_env_options_init(&eo);
        eo.n_threads = 1;
        REQUIRE(eml_env_create(&eo, &env) == EML_OK);
        eml_diag d;
        eml_diag_init(&d);
        REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_IMAGES, &images, &d),
                   &d);
        REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_LABELS, &labels, &d),
                   &d);
    }
}

static void teardown(void)
{
    kill_children();
    if (env) {
        eml_tensor_free(env, &images);
        eml_tensor_free(env, &labels);
        eml_env_destroy(env);
        env = NULL;
    }
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static void start_node(const char *id)
{
    char repo[700], log[700];
    snprintf(repo, sizeof(repo), "%s/%s", work, id);
    snprintf(log, sizeof(log), "%s/%s.log", work, id);
    char *argv[] = {edgemld, "--repo",    repo, "--listen",  "off",      "--broker",
                    broker,  "--site",    SITE, "--node-id", (char *)id, "--heartbeat-s",
                    "1",     "--threads", "1",  "--tls-ca",  ca,         "--tls-cert",
                    cert,    "--tls-key", key,  NULL};
    node_pid = proc_spawn(argv, log);
}

static eml_status open_manager(const char *tls_ca, const char *tls_cert, const char *tls_key,
                               eml_manager **m, eml_diag *d)
{
    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = work;
    o.broker = broker;
    o.n_threads = 1;
    o.tls_ca = tls_ca;
    o.tls_cert = tls_cert;
    o.tls_key = tls_key;
    eml_diag_init(d);
    *m = NULL;
    return eml_manager_open(SITE, &o, m, d);
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

static int has(const char *text, const char *part)
{
    return text && strstr(text, part) != NULL;
}

/* An in-process node on the broker with these TLS files; waits (10 s at most) until its
 * node.status says why it is not connected, and returns that (malloc'd), or NULL. */
static char *node_last_error(const char *tls_ca, const char *tls_cert, const char *tls_key)
{
    char repo[700];
    snprintf(repo, sizeof(repo), "%s/inproc", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.broker = broker;
    o.site = SITE;
    o.node_id = "refused";
    o.tls_ca = tls_ca;
    o.tls_cert = tls_cert;
    o.tls_key = tls_key;
    eml_agent *a = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &a, &d), &d);
    char *last = NULL;
    int connected = 0;
    double t0 = proc_now_s();
    while (!last && proc_now_s() - t0 < 10) {
        char *reply = NULL;
        int code = 0;
        const char *cmd = "{\"op\":\"node.status\"}";
        REQUIRE(eml_agent_command(a, cmd, strlen(cmd), &reply, &code) == EML_OK);
        cJSON *st = cJSON_Parse(reply);
        const cJSON *b = cJSON_GetObjectItem(st, "broker");
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(b, "last_error"));
        connected = cJSON_IsTrue(cJSON_GetObjectItem(b, "connected"));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "tls")));
        if (e && has(e, "TLS"))
            last = strdup(e);
        cJSON_Delete(st);
        free(reply);
        if (!last)
            mqtt_sleep_ms(100);
    }
    CHECK(!connected);
    if (!last)
        fprintf(stderr, "no TLS reason in the node's status within 10 s\n");
    eml_agent_destroy(a);
    return last;
}

EML_TEST(fleet_over_tls)
{
    setup(1);
    start_broker();
    start_node("n1");

    eml_manager *m = NULL;
    eml_diag d;
    REQUIRE_OK(open_manager(ca, cert, key, &m, &d), &d);
    /* n1 announces itself over TLS: local + n1 online. */
    eml_site_status ss;
    double t0 = proc_now_s();
    for (;;) {
        REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
        if (ss.nodes_online == 2 || proc_now_s() - t0 > 20)
            break;
        mqtt_sleep_ms(100);
    }
    REQUIRE(ss.nodes_online == 2);

    /* Deploy, then inference on real test images, classes checked against the labels. */
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "fashion_cnn";
    desc.type = "classification";
    desc.file = model_path;
    eml_deploy_result dr;
    REQUIRE_OK(eml_manager_deploy(m, &desc, "n1", &dr, &d), &d);
    CHECK(dr.version == 1 && dr.node_version == 1);
    eml_status st = EML_OK;
    const uint8_t *lab = labels.data;
    for (size_t i = 0; i < 3; i++)
        CHECK(classify(m, "n1", i, &st, &d) == lab[i]);
    CHECK(st == EML_OK);
    if (st != EML_OK)
        fprintf(stderr, "infer: %s\n", d.message);
    /* The node's status says TLS. */
    eml_node_info x;
    REQUIRE_OK(eml_manager_node_status(m, "n1", &x, &d), &d);
    CHECK(x.online);
    eml_node_info_deinit(&x);
    eml_manager_close(m);

    /* A manager with a CA that did not sign the broker's certificate: a clear error at open. */
    eml_manager *bad = NULL;
    t0 = proc_now_s();
    CHECK_STATUS(open_manager(other_ca, cert, key, &bad, &d), EML_EIO);
    CHECK(bad == NULL);
    fprintf(stderr, "wrong CA: %s (%.1f s)\n", d.message, proc_now_s() - t0);
    CHECK(has(d.message, broker) && has(d.message, "TLS") &&
          has(d.message, "certificate verify failed"));
    /* Without a client certificate the broker refuses the manager. */
    CHECK_STATUS(open_manager(ca, NULL, NULL, &bad, &d), EML_EIO);
    fprintf(stderr, "no client certificate: %s\n", d.message);
    CHECK(has(d.message, broker) && has(d.message, "TLS") && has(d.message, "certificate"));
    /* The system's CAs (no CA file) do not know our test CA either. */
    CHECK_STATUS(open_manager(NULL, cert, key, &bad, &d), EML_EIO);
    CHECK(has(d.message, "TLS") && has(d.message, "certificate verify failed"));

    /* Nodes that cannot connect keep retrying; their status says why. */
    char *why = node_last_error(ca, NULL, NULL);
    fprintf(stderr, "node without a client certificate: %s\n", why ? why : "(none)");
    CHECK(has(why, "TLS") && has(why, "certificate"));
    free(why);
    why = node_last_error(other_ca, cert, key);
    fprintf(stderr, "node with the wrong CA: %s\n", why ? why : "(none)");
    CHECK(has(why, "certificate verify failed") && has(why, other_ca));
    free(why);

    /* n1 was never disturbed: still served over TLS. */
    REQUIRE_OK(open_manager(ca, cert, key, &m, &d), &d);
    t0 = proc_now_s();
    int cls = -1;
    while (cls < 0 && proc_now_s() - t0 < 10) {
        cls = classify(m, "n1", 0, &st, &d);
        if (cls < 0)
            mqtt_sleep_ms(200);
    }
    CHECK(cls == lab[0]);
    if (cls != lab[0])
        fprintf(stderr, "infer after: %s\n", d.message);
    eml_manager_close(m);
    teardown();
}

/* Options, in process: a TLS file that is missing, unreadable or empty, a certificate without
 * its key, TLS files with a plain mqtt:// broker: EML_EINVAL naming the problem, for the agent
 * and the manager. */
EML_TEST(tls_options_checked)
{
    setup(0);
    char repo[700], missing[700], empty[700];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    snprintf(missing, sizeof(missing), "%s/no-such-ca.crt", work);
    snprintf(empty, sizeof(empty), "%s/empty.crt", work);
    FILE *f = fopen(empty, "w");
    REQUIRE(f != NULL);
    fclose(f);
    char plain[64];
    snprintf(plain, sizeof(plain), "mqtt://127.0.0.1:%d", port);
    static const struct {
        int plain;
        int ca, cert, key; /* 0: none, 1: good, 2: missing, 3: empty */
        const char *says;
    } cases[] = {
        {0, 2, 0, 0, "no-such-ca.crt"}, {0, 3, 0, 0, "empty.crt"},   {0, 1, 2, 1, "no-such-ca.crt"},
        {0, 1, 1, 2, "no-such-ca.crt"}, {0, 1, 1, 0, "go together"}, {0, 1, 0, 1, "go together"},
        {1, 1, 0, 0, "mqtts://"},       {1, 0, 1, 1, "mqtts://"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *files[4][3] = {{NULL, NULL, NULL},
                                   {ca, cert, key},
                                   {missing, missing, missing},
                                   {empty, empty, empty}};
        const char *tca = files[cases[i].ca][0], *tcert = files[cases[i].cert][1],
                   *tkey = files[cases[i].key][2];
        eml_agent_options o;
        eml_agent_options_init(&o);
        o.repo_dir = repo;
        o.broker = cases[i].plain ? plain : broker;
        o.site = SITE;
        o.node_id = "n1";
        o.tls_ca = tca;
        o.tls_cert = tcert;
        o.tls_key = tkey;
        eml_agent *a = NULL;
        eml_diag d;
        eml_diag_init(&d);
        CHECK_STATUS(eml_agent_create(&o, &a, &d), EML_EINVAL);
        CHECK(a == NULL && has(d.message, cases[i].says));
        if (!has(d.message, cases[i].says))
            fprintf(stderr, "case %zu: '%s'\n", i, d.message);

        eml_manager_options mo;
        eml_manager_options_init(&mo);
        mo.home = work;
        mo.broker = o.broker;
        mo.tls_ca = tca;
        mo.tls_cert = tcert;
        mo.tls_key = tkey;
        eml_manager *m = NULL;
        eml_diag_init(&d);
        CHECK_STATUS(eml_manager_open(SITE, &mo, &m, &d), EML_EINVAL);
        CHECK(m == NULL && has(d.message, cases[i].says));
        if (!has(d.message, cases[i].says))
            fprintf(stderr, "manager case %zu: '%s'\n", i, d.message);
    }
    /* Good files and no broker listening: the node starts and keeps trying (port 8883 when the
     * URL names none). */
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.broker = "mqtts://127.0.0.1";
    o.site = SITE;
    o.node_id = "n1";
    o.tls_ca = ca;
    o.tls_cert = cert;
    o.tls_key = key;
    eml_agent *a = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &a, &d), &d);
    eml_agent_destroy(a);
    teardown();
}
