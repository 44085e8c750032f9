/* The agent's MQTT front against a real broker: starts mosquitto on a free loopback port and a
 * real edgemld with --broker, and talks MQTT v5 to it with libmosquitto (docs/mqtt.md): the
 * retained status, commands with response topic and correlation data (health, deploy by URL,
 * inference on a real Fashion-MNIST image, an unknown op, a too large payload), the will on
 * kill -9, the offline status on SIGTERM, reconnection after a broker restart, and a broker that
 * is down when the agent starts. Skips (77) without /usr/sbin/mosquitto. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
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
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sodium.h>

#include "fashion_util.h"
#include "harness.h"
#include "mqtt_util.h"

#define SITE "lab"
#define NODE "n1"
#define STATUS_TOPIC "edgeml/" SITE "/nodes/" NODE "/status"
#define CMD_TOPIC "edgeml/" SITE "/nodes/" NODE "/cmd"
#define REPLY_TOPIC "edgeml/" SITE "/manager/test/reply"
#define WAIT_S 30 /* generous: ASan builds and a loaded machine */

static char work[512], binary[1024];
static pid_t agent_pid, broker_pid;
static int broker_port;
static FILE *agent_out;

/* ---- processes ---- */

static void kill_children(void)
{
    if (agent_pid > 0 && kill(agent_pid, SIGKILL) == 0)
        waitpid(agent_pid, NULL, 0);
    if (broker_pid > 0 && kill(broker_pid, SIGKILL) == 0)
        waitpid(broker_pid, NULL, 0);
    agent_pid = broker_pid = 0;
    if (work[0]) {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", work);
        work[0] = 0;
    }
}

static void setup(void)
{
    if (access(MOSQUITTO, X_OK) != 0)
        eml_test_skip(MOSQUITTO " is not installed (package mosquitto)");
    const char *bin = getenv("EML_BINARY_DIR");
    if (!bin || !eml_test_source_dir())
        eml_test_skip("EML_BINARY_DIR or EML_SOURCE_DIR not set");
    snprintf(binary, sizeof(binary), "%s/edgemld", bin);
    if (access(binary, X_OK) != 0)
        eml_test_skip("edgemld is not built");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_agent_mqtt_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    atexit(kill_children);
    broker_port = mqtt_free_port();
    REQUIRE(mosquitto_lib_init() == MOSQ_ERR_SUCCESS);
}

/* Starts mosquitto on broker_port (the same port again after a stop); anonymous: 0 makes it
 * refuse the agent. */
static void start_broker_ex(int anonymous)
{
    broker_pid = mqtt_start_broker(work, broker_port, anonymous);
}

static void start_broker(void)
{
    start_broker_ex(1);
}

static void stop_broker(void)
{
    kill(broker_pid, SIGTERM);
    waitpid(broker_pid, NULL, 0);
    broker_pid = 0;
}

/* Starts edgemld with --broker on broker_port, HTTP on any free loopback port. */
static void start_agent(const char *max_body)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    char repo[600], url[64];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    snprintf(url, sizeof(url), "mqtt://127.0.0.1:%d", broker_port);
    const char *argv[] = {binary, "--repo",        repo, "--listen",   "127.0.0.1:0", "--threads",
                          "1",    "--broker",      url,  "--site",     SITE,          "--node-id",
                          NODE,   "--heartbeat-s", "1",  "--max-body", max_body,      NULL};
    agent_pid = fork();
    REQUIRE(agent_pid >= 0);
    if (agent_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    agent_out = fdopen(fds[0], "r");
    char line[512] = "";
    REQUIRE(fgets(line, sizeof(line), agent_out) != NULL);
    printf("%s", line);
    REQUIRE(strstr(line, "listening on 127.0.0.1:") != NULL);
}

/* Waits for the agent to exit; returns its exit code, -1 for a signal or no exit in 20 s. */
static int wait_agent(void)
{
    int status = 0;
    for (int i = 0; i < 2000; i++) {
        if (waitpid(agent_pid, &status, WNOHANG) == agent_pid) {
            agent_pid = 0;
            if (agent_out)
                fclose(agent_out);
            agent_out = NULL;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        mqtt_sleep_ms(10);
    }
    return -1;
}

/* ---- the test's MQTT client: keeps every message it gets ---- */

typedef struct msg {
    struct msg *next;
    char *topic;
    char *payload;
    char *correlation; /* NUL-terminated copy; NULL when absent */
    int http_status;   /* the user property; -1 when absent */
    int retain;
} msg;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static msg *inbox;

static void on_message(struct mosquitto *mosq, void *user, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)user;
    msg *x = calloc(1, sizeof(*x));
    if (!x)
        return;
    x->topic = strdup(m->topic);
    x->payload = strndup(m->payload ? (const char *)m->payload : "", (size_t)m->payloadlen);
    x->retain = m->retain;
    x->http_status = -1;
    void *corr = NULL;
    uint16_t corr_len = 0;
    if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
                                       false)) {
        x->correlation = strndup(corr, corr_len);
        free(corr);
    }
    char *name = NULL, *value = NULL;
    if (mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &name, &value, false) &&
        strcmp(name, "http_status") == 0)
        x->http_status = atoi(value);
    free(name);
    free(value);
    pthread_mutex_lock(&lock);
    x->next = inbox;
    inbox = x;
    pthread_cond_broadcast(&arrived);
    pthread_mutex_unlock(&lock);
}

static void msg_free(msg *x)
{
    if (!x)
        return;
    free(x->topic);
    free(x->payload);
    free(x->correlation);
    free(x);
}

static void inbox_clear(void)
{
    pthread_mutex_lock(&lock);
    while (inbox) {
        msg *x = inbox;
        inbox = x->next;
        msg_free(x);
    }
    pthread_mutex_unlock(&lock);
}

/* Takes the first message on topic whose payload contains `has` (and, when corr is set, with
 * that correlation data), waiting up to WAIT_S; NULL on timeout. */
static msg *take(const char *topic, const char *has, const char *corr)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_S;
    pthread_mutex_lock(&lock);
    for (;;) {
        for (msg **p = &inbox; *p; p = &(*p)->next) {
            msg *x = *p;
            if (strcmp(x->topic, topic) == 0 && (!has || strstr(x->payload, has)) &&
                (!corr || (x->correlation && strcmp(x->correlation, corr) == 0))) {
                *p = x->next;
                pthread_mutex_unlock(&lock);
                return x;
            }
        }
        if (pthread_cond_timedwait(&arrived, &lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&lock);
    fprintf(stderr, "no message on %s with '%s' within %d s\n", topic, has ? has : "", WAIT_S);
    return NULL;
}

static struct mosquitto *client_start(void)
{
    struct mosquitto *c = mosquitto_new(NULL, true, NULL);
    REQUIRE(c != NULL);
    mosquitto_int_option(c, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_message_v5_callback_set(c, on_message);
    REQUIRE(mosquitto_connect(c, "127.0.0.1", broker_port, 30) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_subscribe_v5(c, NULL, STATUS_TOPIC, 1, 0, NULL) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_subscribe_v5(c, NULL, REPLY_TOPIC, 1, 0, NULL) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_loop_start(c) == MOSQ_ERR_SUCCESS);
    return c;
}

static void client_stop(struct mosquitto *c)
{
    mosquitto_disconnect(c);
    mosquitto_loop_stop(c, false);
    mosquitto_destroy(c);
}

/* Publishes a command (with a response topic unless no_reply) and returns its reply, or NULL
 * with no_reply or on timeout. */
static msg *command_ex(struct mosquitto *c, const char *json, size_t n, const char *corr)
{
    mosquitto_property *props = NULL;
    REQUIRE(mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, REPLY_TOPIC) ==
            MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr,
                                          (uint16_t)strlen(corr)) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_publish_v5(c, NULL, CMD_TOPIC, (int)n, json, 1, false, props) ==
            MOSQ_ERR_SUCCESS);
    mosquitto_property_free_all(&props);
    return take(REPLY_TOPIC, NULL, corr);
}

static msg *command(struct mosquitto *c, const char *json, const char *corr)
{
    return command_ex(c, json, strlen(json), corr);
}

/* The retained online status the agent publishes (on connect and each heartbeat). */
static void expect_online(void)
{
    msg *s = take(STATUS_TOPIC, "\"online\":true", NULL);
    REQUIRE(s != NULL);
    cJSON *o = cJSON_Parse(s->payload);
    REQUIRE(o != NULL);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "node")), NODE) == 0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "heartbeat_s")) == 1);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "ts")) > 1.6e9);
    const cJSON *st = cJSON_GetObjectItem(o, "status");
    CHECK(cJSON_IsString(cJSON_GetObjectItem(st, "hostname")));
    const cJSON *b = cJSON_GetObjectItem(st, "broker");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "connected")));
    CHECK(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(b, "url")), "mqtt://127.0.0.1:") != NULL);
    cJSON_Delete(o);
    msg_free(s);
}

static void expect_live(struct mosquitto *c, const char *corr)
{
    msg *r = command(c, "{\"op\":\"health.live\"}", corr);
    REQUIRE(r != NULL);
    CHECK(r->http_status == 200);
    CHECK(strstr(r->payload, "\"live\":true") != NULL);
    msg_free(r);
}

/* model.infer on t10k image `index`; returns the argmax of the scores and sets *label. */
static int infer_class(struct mosquitto *c, int index, int *label)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_tensor images, labels;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_IMAGES, &images, &d), &d);
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_LABELS, &labels, &d), &d);
    *label = ((const uint8_t *)labels.data)[index];
    float px[784];
    for (int k = 0; k < 784; k++)
        px[k] = ((const uint8_t *)images.data)[index * 784 + k] / 255.0f;
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddStringToObject(cmd, "op", "model.infer");
    cJSON_AddStringToObject(cmd, "model", "cnn");
    cJSON *req = cJSON_AddObjectToObject(cmd, "request");
    cJSON *in = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "inputs"), in);
    cJSON_AddStringToObject(in, "name", "input");
    cJSON_AddStringToObject(in, "datatype", "FP32");
    int shape[4] = {1, 1, 28, 28};
    cJSON_AddItemToObject(in, "shape", cJSON_CreateIntArray(shape, 4));
    cJSON_AddItemToObject(in, "data", cJSON_CreateFloatArray(px, 784));
    char *text = cJSON_PrintUnformatted(cmd);
    cJSON_Delete(cmd);
    msg *r = command(c, text, "infer-1");
    free(text);
    REQUIRE(r != NULL);
    CHECK(r->http_status == 200);
    cJSON *o = cJSON_Parse(r->payload);
    const cJSON *data =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "outputs"), 0), "data");
    int best = -1;
    if (cJSON_GetArraySize(data) != 10)
        fprintf(stderr, "infer reply: %.300s\n", r->payload);
    for (int k = 0; k < cJSON_GetArraySize(data); k++)
        if (best < 0 ||
            cJSON_GetArrayItem(data, k)->valuedouble > cJSON_GetArrayItem(data, best)->valuedouble)
            best = k;
    cJSON_Delete(o);
    msg_free(r);
    return best;
}

/* ---- cases ---- */

EML_TEST(commands_and_will)
{
    setup();
    if (access(FASHION_TEST_IMAGES, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    start_broker();
    start_agent("32K");
    struct mosquitto *c = client_start();
    expect_online();
    expect_live(c, "corr-live-1");

    /* deploy by URL, verified by its SHA-256 */
    char path[1200];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    REQUIRE(bytes != NULL);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, bytes, n);
    free(bytes);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "{\"op\":\"model.deploy\",\"model\":\"cnn\",\"url\":\"file://%s\",\"sha256\":\"%s\"}",
             path, hex);
    msg *r = command(c, cmd, "deploy-1");
    REQUIRE(r != NULL);
    if (r->http_status != 200)
        fprintf(stderr, "deploy: %s\n", r->payload);
    CHECK(r->http_status == 200 && strstr(r->payload, "\"version\":1"));
    msg_free(r);
    /* a wrong digest is refused */
    snprintf(cmd, sizeof(cmd),
             "{\"op\":\"model.deploy\",\"model\":\"cnn\",\"url\":\"file://%s\","
             "\"sha256\":\"%064d\"}",
             path, 0);
    r = command(c, cmd, "deploy-2");
    REQUIRE(r != NULL);
    CHECK(r->http_status >= 400 && strstr(r->payload, "\"error\""));
    msg_free(r);

    /* a real test image, classified as labelled (the CNN gets ~90%: image 0 is an easy one) */
    int label = -1;
    int cls = infer_class(c, 0, &label);
    printf("t10k image 0: class %d, label %d\n", cls, label);
    CHECK(cls == label);

    r = command(c, "{\"op\":\"no.such.op\"}", "\x01binary-corr\x7f");
    REQUIRE(r != NULL);
    CHECK(r->http_status == 400 && strstr(r->payload, "\"error\""));
    msg_free(r);

    /* over --max-body (32K): refused by the front, 413 */
    size_t big_n = 40000;
    char *big = malloc(big_n);
    REQUIRE(big != NULL);
    memset(big, ' ', big_n);
    memcpy(big, "{\"op\":\"health.live\"}", 20);
    r = command_ex(c, big, big_n, "big");
    free(big);
    REQUIRE(r != NULL);
    CHECK(r->http_status == 413 && strstr(r->payload, "too_large"));
    msg_free(r);

    /* the heartbeat republishes the status (heartbeat_s 1) */
    inbox_clear();
    expect_online();

    /* an unclean loss: the broker publishes the will */
    inbox_clear();
    kill(agent_pid, SIGKILL);
    waitpid(agent_pid, NULL, 0);
    agent_pid = 0;
    msg *w = take(STATUS_TOPIC, "\"online\":false", NULL);
    CHECK(w != NULL);
    if (w)
        CHECK(strstr(w->payload, "\"node\":\"" NODE "\"") && strstr(w->payload, "\"ts\":0"));
    msg_free(w);
    client_stop(c);
    inbox_clear();
}

EML_TEST(sigterm_publishes_offline)
{
    setup();
    start_broker();
    start_agent("64M");
    struct mosquitto *c = client_start();
    expect_online();
    inbox_clear();
    kill(agent_pid, SIGTERM);
    CHECK(wait_agent() == 0);
    msg *s = take(STATUS_TOPIC, "\"online\":false", NULL);
    CHECK(s != NULL);
    msg_free(s);
    client_stop(c);
    /* retained: a new subscriber sees the node offline */
    c = client_start();
    s = take(STATUS_TOPIC, "\"online\":false", NULL);
    CHECK(s != NULL && s->retain);
    msg_free(s);
    client_stop(c);
    inbox_clear();
}

EML_TEST(reconnects_after_broker_restart)
{
    setup();
    start_broker();
    start_agent("64M");
    struct mosquitto *c = client_start();
    expect_online();
    expect_live(c, "before");
    client_stop(c);
    stop_broker(); /* no persistence: the retained status and the subscription are gone */
    mqtt_sleep_ms(1500);
    inbox_clear();
    start_broker();
    c = client_start();
    expect_online();         /* published again on reconnect */
    expect_live(c, "after"); /* subscribed again */
    client_stop(c);
    kill(agent_pid, SIGTERM);
    CHECK(wait_agent() == 0);
    inbox_clear();
}

EML_TEST(broker_down_at_start)
{
    setup();
    start_agent("64M"); /* no broker yet: the agent starts and keeps retrying */
    mqtt_sleep_ms(1000);
    CHECK(waitpid(agent_pid, NULL, WNOHANG) == 0);
    start_broker();
    struct mosquitto *c = client_start();
    expect_online();
    expect_live(c, "late");
    client_stop(c);
    kill(agent_pid, SIGTERM);
    CHECK(wait_agent() == 0);
    inbox_clear();
}

EML_TEST(retries_after_refusal)
{
    setup();
    start_broker_ex(0); /* refuses: libmosquitto alone would give up */
    start_agent("64M");
    mqtt_sleep_ms(2500);
    CHECK(waitpid(agent_pid, NULL, WNOHANG) == 0);
    stop_broker();
    start_broker();
    struct mosquitto *c = client_start();
    expect_online();
    expect_live(c, "accepted");
    client_stop(c);
    kill(agent_pid, SIGTERM);
    CHECK(wait_agent() == 0);
    inbox_clear();
}

/* In process: bad broker options are EML_EINVAL; a broker that is down is no error, and
 * node.status says so. */
EML_TEST(options_and_status_when_down)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_agent_mqtt_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    atexit(kill_children);
    char repo[600], url[64];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    snprintf(url, sizeof(url), "mqtt://127.0.0.1:%d", mqtt_free_port()); /* nothing listens */
    static const struct {
        const char *broker, *site, *node;
    } bad[] = {
        {"http://127.0.0.1:1883", "lab", "n1"},
        {"mqtt://127.0.0.1:0", "lab", "n1"},
        {"mqtt://127.0.0.1:99999", "lab", "n1"},
        {"mqtt://:1883", "lab", "n1"},
        {"mqtt://h:1883/x", "lab", "n1"},
        {"mqtt://h:12ab", "lab", "n1"},
        {"mqtt://h:1883", NULL, "n1"},
        {"mqtt://h:1883", "lab", NULL},
        {"mqtt://h:1883", "l/ab", "n1"},
        {"mqtt://h:1883", "lab", "n+"},
        {"mqtt://h:1883", "", "n1"},
    };
    eml_diag d;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eml_agent_options o;
        eml_agent_options_init(&o);
        o.repo_dir = repo;
        o.broker = bad[i].broker;
        o.site = bad[i].site;
        o.node_id = bad[i].node;
        eml_agent *a = NULL;
        eml_diag_init(&d);
        CHECK_STATUS(eml_agent_create(&o, &a, &d), EML_EINVAL);
        CHECK(a == NULL && d.message[0]);
    }
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.broker = url;
    o.site = "lab";
    o.node_id = "n1";
    eml_agent *a = NULL;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &a, &d), &d);
    char *reply = NULL;
    int code = 0;
    const char *cmd = "{\"op\":\"node.status\"}";
    REQUIRE(eml_agent_command(a, cmd, strlen(cmd), &reply, &code) == EML_OK);
    CHECK(code == 200);
    cJSON *st = cJSON_Parse(reply);
    const cJSON *b = cJSON_GetObjectItem(st, "broker");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(b, "connected")));
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(b, "url")), url) == 0);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(b, "last_error")));
    printf("broker down, last_error: %s\n",
           cJSON_GetStringValue(cJSON_GetObjectItem(b, "last_error")));
    cJSON_Delete(st);
    free(reply);
    eml_agent_destroy(a);
}
