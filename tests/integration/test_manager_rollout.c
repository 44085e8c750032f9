/* Rollouts end to end: a real mosquitto on a loopback port and three real edgemld nodes over
 * MQTT; a rollout in waves 1 then 2 to healthy nodes, one stopped by a node whose health check
 * fails for real (edgemld --health-max-latency-ms 0.000001) with the failed wave rolled back,
 * and one whose manager (the edgeml CLI) is killed between waves and resumed. Also on the
 * embedded default (node "local"): a rollout, bad input, and a schema-1 site database migrated
 * in place. The MQTT cases are skipped (77) without /usr/sbin/mosquitto. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "edgeml/edgeml.h"
#include "harness.h"
#include "mqtt_util.h"
#include "process_util.h"

#define SITE "line-4"
#define N_NODES 3

static char work[512], model_v1[1024], model_v2[700], edgemld[1024], edgeml_cli[1024];
static char broker[64];
static pid_t broker_pid, node_pid[N_NODES], cli_pid;

/* A failed REQUIRE exits: no child may outlive the test (CTest would wait for it). */
static void kill_children(void)
{
    proc_stop(&cli_pid, SIGKILL);
    for (int i = 0; i < N_NODES; i++)
        proc_stop(&node_pid[i], SIGKILL);
    proc_stop(&broker_pid, SIGKILL);
}

static int has(const char *text, const char *part)
{
    return strstr(text, part) != NULL;
}

/* The work folder, the model (version 1) and a second version of it: the same ONNX model with
 * a doc_string appended (a protobuf field: the last occurrence wins), so another SHA-256. */
static void setup(void)
{
    const char *src = eml_test_source_dir(), *bin = getenv("EML_BINARY_DIR");
    if (!src || !bin)
        eml_test_skip("EML_SOURCE_DIR or EML_BINARY_DIR not set");
    snprintf(model_v1, sizeof(model_v1), "%s/models/fashion_cnn/model.onnx", src);
    if (access(model_v1, R_OK) != 0)
        eml_test_skip("models/fashion_cnn/model.onnx not found");
    snprintf(edgemld, sizeof(edgemld), "%s/edgemld", bin);
    snprintf(edgeml_cli, sizeof(edgeml_cli), "%s/edgeml", bin);
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_rollout_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    atexit(kill_children);
    snprintf(model_v2, sizeof(model_v2), "%s/model_v2.onnx", work);
    FILE *in = fopen(model_v1, "rb"), *out = fopen(model_v2, "wb");
    REQUIRE(in && out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        REQUIRE(fwrite(buf, 1, n, out) == n);
    static const char doc[] = "\x32\x0a"
                              "version 2!"; /* field 6 (doc_string), 10 bytes */
    REQUIRE(fwrite(doc, 1, sizeof(doc) - 1, out) == sizeof(doc) - 1);
    fclose(in);
    REQUIRE(fclose(out) == 0);
}

static void teardown(void)
{
    kill_children();
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* mosquitto and nodes n1..n3; node `bad` (0-based, -1: none) fails every health check at the
 * latency limit. */
static void start_fleet(int bad)
{
    if (access(MOSQUITTO, X_OK) != 0)
        eml_test_skip(MOSQUITTO " is not installed (apt-get install mosquitto)");
    if (access(edgemld, X_OK) != 0)
        eml_test_skip("edgemld is not built");
    int port = mqtt_free_port();
    snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", port);
    broker_pid = mqtt_start_broker(work, port, 1);
    for (int i = 0; i < N_NODES; i++) {
        char repo[700], id[16], log[700];
        snprintf(repo, sizeof(repo), "%s/node%d", work, i + 1);
        snprintf(id, sizeof(id), "n%d", i + 1);
        snprintf(log, sizeof(log), "%s/node%d.log", work, i + 1);
        char *argv[20] = {edgemld, "--repo",    repo, "--listen",  "off", "--broker",
                          broker,  "--site",    SITE, "--node-id", id,    "--heartbeat-s",
                          "1",     "--threads", "1",  NULL};
        if (i == bad) {
            argv[15] = "--health-max-latency-ms";
            argv[16] = "0.000001";
        }
        node_pid[i] = proc_spawn(argv, log);
    }
}

/* The manager with the broker, once the three nodes are online. */
static eml_manager *open_fleet(void)
{
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
    double t0 = proc_now_s();
    for (;;) {
        REQUIRE_OK(eml_manager_status(m, &ss, &d), &d);
        if (ss.nodes_online == N_NODES + 1 || proc_now_s() - t0 > 20)
            break;
        mqtt_sleep_ms(100);
    }
    REQUIRE(ss.nodes_online == N_NODES + 1);
    return m;
}

static eml_manager *open_local(void)
{
    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = work;
    o.n_threads = 1;
    eml_manager *m = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_open("embedded", &o, &m, &d), &d);
    return m;
}

/* What the node itself says it serves of fashion_cnn: its version (0: nothing) and the site
 * version that came from. */
static uint32_t serving(eml_manager *m, const char *node, uint32_t *site_version)
{
    eml_node_info x;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_node_status(m, node, &x, &d), &d);
    REQUIRE(x.online);
    uint32_t v = 0;
    *site_version = 0;
    for (size_t i = 0; i < x.model_count; i++)
        if (strcmp(x.models[i].model, "fashion_cnn") == 0) {
            v = x.models[i].version;
            *site_version = x.models[i].site_version;
        }
    eml_node_info_deinit(&x);
    return v;
}

static void desc_of(eml_model_descriptor *desc, const char *file)
{
    eml_model_descriptor_init(desc);
    desc->id = "fashion_cnn";
    desc->type = "classification";
    desc->file = file;
    desc->input_rank = 4;
    desc->input_shape[0] = -1;
    desc->input_shape[1] = 1;
    desc->input_shape[2] = 28;
    desc->input_shape[3] = 28;
}

/* The waves as the rollout reported them. */
typedef struct seen {
    uint32_t wave_sizes[8];
    uint32_t waves_started, nodes_done, rolled_back;
} seen;

static void on_event(void *user, const eml_rollout_event *e)
{
    seen *s = user;
    if (e->kind == EML_ROLLOUT_WAVE_START && e->wave >= 1 && e->wave <= 8) {
        s->wave_sizes[e->wave - 1] = e->node_count;
        s->waves_started++;
    }
    s->nodes_done += e->kind == EML_ROLLOUT_NODE_DONE;
    s->rolled_back += e->kind == EML_ROLLOUT_ROLLED_BACK;
}

static const char *const three[] = {"n1", "n2", "n3"};

EML_TEST(rollout_waves_to_healthy_nodes)
{
    setup();
    start_fleet(-1);
    eml_manager *m = open_fleet();
    eml_model_descriptor desc;
    desc_of(&desc, model_v1);
    eml_rollout_options o;
    eml_rollout_options_init(&o);
    CHECK(o.first_wave == 1 && o.growth == 2.0 && o.max_failure_ratio == 0.25 &&
          o.rollback_failed_wave == 1 && o.bake_s == 0);
    o.nodes = three;
    o.node_count = 3;
    seen s;
    memset(&s, 0, sizeof(s));
    o.on_event = on_event;
    o.user = &s;
    eml_rollout_result r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_rollout(m, &desc, &o, &r, &d), &d);
    CHECK(r.id >= 1 && strcmp(r.state, "succeeded") == 0);
    CHECK(r.waves_total == 2 && r.waves_done == 2);
    CHECK(r.nodes_total == 3 && r.nodes_ok == 3 && r.nodes_failed == 0);
    CHECK(s.waves_started == 2 && s.wave_sizes[0] == 1 && s.wave_sizes[1] == 2);
    CHECK(s.nodes_done == 3);
    eml_rollout_node *nodes = NULL;
    size_t n = 0;
    eml_rollout_info info;
    REQUIRE_OK(eml_manager_rollout_get(m, r.id, &info, &nodes, &n, &d), &d);
    REQUIRE(n == 3);
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(nodes[i].node, three[i]) == 0);
        CHECK(nodes[i].wave == (i == 0 ? 1u : 2u));
        CHECK(strcmp(nodes[i].state, "deployed") == 0 && nodes[i].node_version == 1);
        CHECK(nodes[i].health_latency_ms > 0 && nodes[i].updated_unix > 0);
        uint32_t sv = 0;
        CHECK(serving(m, three[i], &sv) == 1 && sv == 1); /* asked of the node */
    }
    eml_manager_free(nodes);
    eml_rollout_info *list = NULL;
    REQUIRE_OK(eml_manager_rollouts(m, &list, &n, &d), &d);
    CHECK(n == 1 && list[0].id == r.id && strcmp(list[0].model, "fashion_cnn") == 0);
    CHECK(list[0].version == 1 && strcmp(list[0].state, "succeeded") == 0);
    eml_manager_free(list);
    eml_manager_close(m);
    teardown();
}

EML_TEST(rollout_stops_at_failure_ratio_and_rolls_back)
{
    setup();
    start_fleet(2); /* n3 fails every health check at the latency limit */
    eml_manager *m = open_fleet();
    eml_diag d;
    eml_diag_init(&d);
    eml_model_descriptor desc;
    desc_of(&desc, model_v1);
    /* Version 1 on n1 and n2; n3 refuses it for real, at its latency check. */
    eml_deploy_result dr;
    REQUIRE_OK(eml_manager_deploy(m, &desc, "n1", &dr, &d), &d);
    REQUIRE_OK(eml_manager_deploy(m, &desc, "n2", &dr, &d), &d);
    CHECK_STATUS(eml_manager_deploy(m, &desc, "n3", &dr, &d), EML_ERANGE);
    CHECK(has(d.message, "latency_check") && has(d.message, "above the limit"));

    /* Version 2: wave 1 = n1 (ok), wave 2 = n2 (ok), n3 (fails): 1 of 3 > 0.25. */
    desc_of(&desc, model_v2);
    eml_rollout_options o;
    eml_rollout_options_init(&o);
    o.nodes = three;
    o.node_count = 3;
    seen s;
    memset(&s, 0, sizeof(s));
    o.on_event = on_event;
    o.user = &s;
    eml_rollout_result r;
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_rollout(m, &desc, &o, &r, &d), EML_ELIMIT);
    fprintf(stderr, "the stopped rollout: %s\n", d.message);
    CHECK(strcmp(r.state, "failed") == 0 && r.version == 2 && r.waves_done == 2);
    CHECK(r.nodes_ok == 1 && r.nodes_failed == 1 && r.nodes_rolled_back == 1);
    CHECK(has(r.message, "n3") && has(r.message, "latency_check"));
    CHECK(has(r.message, "rolled back: n2"));
    CHECK(has(d.message, "n3") && has(d.message, "latency_check"));
    CHECK(s.rolled_back == 1);

    eml_rollout_node *nodes = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_rollout_get(m, r.id, NULL, &nodes, &n, &d), &d);
    REQUIRE(n == 3);
    CHECK(strcmp(nodes[0].state, "deployed") == 0 && nodes[0].wave == 1);
    CHECK(nodes[0].previous_node_version == 1 && nodes[0].node_version == 2);
    CHECK(strcmp(nodes[1].state, "rolled_back") == 0 && nodes[1].wave == 2);
    CHECK(nodes[1].previous_node_version == 1 && nodes[1].node_version == 2);
    CHECK(strcmp(nodes[2].state, "failed") == 0 && nodes[2].wave == 2);
    CHECK(has(nodes[2].message, "latency_check") && nodes[2].previous_node_version == 0);
    eml_manager_free(nodes);

    /* On the nodes: n1 keeps version 2, n2 serves version 1 again, n3 serves nothing. */
    uint32_t sv = 0;
    CHECK(serving(m, "n1", &sv) == 2 && sv == 2);
    CHECK(serving(m, "n2", &sv) == 1 && sv == 1);
    CHECK(serving(m, "n3", &sv) == 0);
    /* A finished rollout cannot be resumed. */
    eml_diag_init(&d);
    CHECK_STATUS(eml_manager_rollout_resume(m, r.id, NULL, NULL, &d), EML_EINVAL);
    CHECK(has(d.message, "already ended (failed)"));
    eml_manager_close(m);
    teardown();
}

/* Runs the edgeml CLI with the site options; its output in *out (malloc'd). Returns the exit
 * status. */
static int run_cli(const char *args, char **out)
{
    char cmd[3000], log[700];
    snprintf(log, sizeof(log), "%s/cli.out", work);
    snprintf(cmd, sizeof(cmd), "'%s' --home '%s' --site %s %s%s %s > '%s' 2>&1", edgeml_cli, work,
             broker[0] ? SITE : "embedded", broker[0] ? "--broker " : "", broker, args, log);
    int rc = system(cmd);
    size_t n = 0;
    char *text = eml_test_read_file(log, &n);
    REQUIRE(text != NULL);
    *out = malloc(n + 1);
    REQUIRE(*out != NULL);
    memcpy(*out, text, n);
    (*out)[n] = 0;
    free(text);
    printf("$ edgeml %s\n%s", args, *out);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

EML_TEST(rollout_resumes_after_the_manager_is_killed)
{
    setup();
    if (access(edgeml_cli, X_OK) != 0)
        eml_test_skip("the edgeml CLI is not built");
    start_fleet(-1);
    eml_manager_close(open_fleet()); /* the nodes are announced; the site is free again */

    /* The CLI runs the rollout, waiting 5 s after wave 1: killed (-9) in that wait. */
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    char home[600];
    snprintf(home, sizeof(home), "%s", work);
    cli_pid = fork();
    REQUIRE(cli_pid >= 0);
    if (cli_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execl(edgeml_cli, edgeml_cli, "--home", home, "--site", SITE, "--broker", broker, "rollout",
              "fashion_cnn", model_v1, "--nodes", "n1,n2,n3", "--bake-s", "5", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    REQUIRE(f != NULL);
    char line[1024];
    int wave1_done = 0;
    while (!wave1_done && fgets(line, sizeof(line), f)) {
        printf("cli: %s", line);
        wave1_done = has(line, "wave 1 of 2 done");
    }
    REQUIRE(wave1_done);
    proc_stop(&cli_pid, SIGKILL);
    fclose(f);

    /* The record the killed manager left: running, wave 1 done, n1 deployed, the rest pending. */
    eml_manager *m = open_fleet();
    eml_diag d;
    eml_diag_init(&d);
    eml_rollout_info *list = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_rollouts(m, &list, &n, &d), &d);
    REQUIRE(n == 1);
    int64_t id = list[0].id;
    CHECK(strcmp(list[0].state, "running") == 0 && list[0].waves_done == 1);
    CHECK(list[0].nodes_ok == 1 && list[0].waves_total == 2);
    eml_manager_free(list);
    eml_rollout_node *nodes = NULL;
    REQUIRE_OK(eml_manager_rollout_get(m, id, NULL, &nodes, &n, &d), &d);
    REQUIRE(n == 3);
    CHECK(strcmp(nodes[0].state, "deployed") == 0 && nodes[0].node_version == 1);
    CHECK(strcmp(nodes[1].state, "pending") == 0 && strcmp(nodes[2].state, "pending") == 0);
    eml_manager_free(nodes);
    uint32_t sv = 0;
    CHECK(serving(m, "n1", &sv) == 1);
    CHECK(serving(m, "n2", &sv) == 0);
    eml_manager_close(m);

    /* edgeml rollout --resume ID finishes it. */
    char args[64], *out = NULL;
    snprintf(args, sizeof(args), "rollout --resume %lld", (long long)id);
    CHECK(run_cli(args, &out) == 0);
    CHECK(has(out, "wave 2 of 2") && has(out, "succeeded: 3 of 3 nodes deployed"));
    CHECK(has(out, "wave 1 of 2 done")); /* the rest of the bake, announced before it */
    free(out);
    snprintf(args, sizeof(args), "rollouts %lld", (long long)id);
    CHECK(run_cli(args, &out) == 0);
    CHECK(has(out, "succeeded") && has(out, "2 of 2 done"));
    free(out);

    m = open_fleet();
    REQUIRE_OK(eml_manager_rollout_get(m, id, NULL, &nodes, &n, &d), &d);
    REQUIRE(n == 3);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(nodes[i].state, "deployed") == 0 && nodes[i].node_version == 1);
    eml_manager_free(nodes);
    /* Every node serves the new version; n1 was not deployed again (still node version 1). */
    for (int i = 0; i < N_NODES; i++)
        CHECK(serving(m, three[i], &sv) == 1 && sv == 1);
    eml_manager_close(m);
    teardown();
}

/* SQL on the site database with plain SQLite, beside the manager (WAL: no lock held). */
static void raw_exec(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(db_path, &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    REQUIRE(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

EML_TEST(rollout_embedded_default_local_node)
{
    setup();
    eml_manager *m = open_local();
    eml_model_descriptor desc;
    desc_of(&desc, model_v1);
    eml_rollout_result r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_rollout(m, &desc, NULL, &r, &d), &d); /* every node: "local" */
    CHECK(strcmp(r.state, "succeeded") == 0 && r.waves_total == 1 && r.nodes_ok == 1);
    desc_of(&desc, model_v2);
    REQUIRE_OK(eml_manager_rollout(m, &desc, NULL, &r, &d), &d);
    CHECK(strcmp(r.state, "succeeded") == 0 && r.version == 2 && r.id == 2);
    eml_rollout_node *nodes = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_rollout_get(m, r.id, NULL, &nodes, &n, &d), &d);
    CHECK(n == 1 && strcmp(nodes[0].node, "local") == 0 && nodes[0].previous_node_version == 1);
    CHECK(n == 1 && nodes[0].node_version == 2);
    eml_manager_free(nodes);
    uint32_t sv = 0;
    CHECK(serving(m, "local", &sv) == 2 && sv == 2);
    /* No file: the model's latest site version (2), which the node already serves. */
    desc.file = NULL;
    REQUIRE_OK(eml_manager_rollout(m, &desc, NULL, &r, &d), &d);
    CHECK(strcmp(r.state, "succeeded") == 0 && r.version == 2 && r.id == 3);
    CHECK(serving(m, "local", &sv) == 2 && sv == 2);

    /* What a manager killed during a node's deploy leaves: the rollout running, the node
     * "deploying". Rollout 2's deploy went through (the node serves its SHA-256): resumed, the
     * node is found serving and not deployed again. Rollout 1's did not (the node serves
     * version 2): resumed, the node is deployed again. */
    char db_path[700], sql[300];
    snprintf(db_path, sizeof(db_path), "%s/embedded/site.db", work);
    for (int id = 2; id >= 1; id--) {
        snprintf(sql, sizeof(sql),
                 "UPDATE rollouts SET state = 'running', waves_done = 0 WHERE id = %d; "
                 "UPDATE rollout_nodes SET state = 'deploying' WHERE rollout_id = %d",
                 id, id);
        raw_exec(db_path, sql);
        REQUIRE_OK(eml_manager_rollout_resume(m, id, NULL, &r, &d), &d);
        CHECK(strcmp(r.state, "succeeded") == 0 && r.nodes_ok == 1 && r.waves_done == 1);
        REQUIRE_OK(eml_manager_rollout_get(m, id, NULL, &nodes, &n, &d), &d);
        REQUIRE(n == 1);
        CHECK(strcmp(nodes[0].state, "deployed") == 0);
        if (id == 2)
            CHECK(nodes[0].node_version == 2 && has(nodes[0].message, "found serving"));
        else
            CHECK(nodes[0].node_version == 3 && !nodes[0].message[0]);
        eml_manager_free(nodes);
    }
    CHECK(serving(m, "local", &sv) == 3 && sv == 1);
    eml_manager_close(m);
    teardown();
}

EML_TEST(rollout_plans_growing_waves_and_offline_nodes_fail)
{
    setup();
    eml_manager *m = open_local();
    eml_diag d;
    eml_diag_init(&d);
    /* Nine nodes reached through MQTT, with no broker configured: offline. */
    const char *ids[10] = {"local"};
    char names[9][8];
    for (int i = 0; i < 9; i++) {
        snprintf(names[i], sizeof(names[i]), "e%d", i + 1);
        REQUIRE_OK(eml_manager_node_add(m, names[i], "mqtt", &d), &d);
        ids[i + 1] = names[i];
    }
    eml_model_descriptor desc;
    desc_of(&desc, model_v1);
    eml_rollout_options o;
    eml_rollout_options_init(&o);
    o.nodes = ids;
    o.node_count = 10;
    o.max_failure_ratio = 1.0; /* go on whatever fails */
    seen s;
    memset(&s, 0, sizeof(s));
    o.on_event = on_event;
    o.user = &s;
    eml_rollout_result r;
    REQUIRE_OK(eml_manager_rollout(m, &desc, &o, &r, &d), &d);
    CHECK(strcmp(r.state, "succeeded") == 0 && r.waves_total == 4 && r.waves_done == 4);
    CHECK(r.nodes_ok == 1 && r.nodes_failed == 9);
    CHECK(has(r.message, "1 of 10 nodes deployed") && has(r.message, "failed within the ratio"));
    /* 1, 2, 4, then the 3 left. */
    CHECK(s.wave_sizes[0] == 1 && s.wave_sizes[1] == 2 && s.wave_sizes[2] == 4);
    CHECK(s.wave_sizes[3] == 3);
    eml_rollout_node *nodes = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_rollout_get(m, r.id, NULL, &nodes, &n, &d), &d);
    REQUIRE(n == 10);
    CHECK(strcmp(nodes[0].state, "deployed") == 0);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(nodes[i].state, "failed") == 0 && has(nodes[i].message, "is offline"));
    eml_manager_free(nodes);

    /* The default ratio stops it after wave 2 (2 of 3 failed); local, of wave 1, keeps the
     * version; growth 1.5 plans 1, 2, 3, 4 (never smaller than the last). */
    eml_rollout_options_init(&o);
    o.nodes = ids;
    o.node_count = 10;
    o.growth = 1.5;
    memset(&s, 0, sizeof(s));
    o.on_event = on_event;
    o.user = &s;
    desc_of(&desc, model_v2);
    CHECK_STATUS(eml_manager_rollout(m, &desc, &o, &r, &d), EML_ELIMIT);
    CHECK(r.waves_total == 4 && r.waves_done == 2 && strcmp(r.state, "failed") == 0);
    CHECK(s.waves_started == 2 && s.wave_sizes[0] == 1 && s.wave_sizes[1] == 2);
    CHECK(has(r.message, "e1 (") && has(r.message, "is offline"));
    CHECK(has(r.message, "rolled back: nothing"));
    uint32_t sv = 0;
    CHECK(serving(m, "local", &sv) == 2 && sv == 2);
    REQUIRE_OK(eml_manager_rollout_get(m, r.id, NULL, &nodes, &n, &d), &d);
    REQUIRE(n == 10);
    CHECK(nodes[9].wave == 4 && strcmp(nodes[9].state, "pending") == 0);
    eml_manager_free(nodes);
    eml_manager_close(m);
    teardown();
}

EML_TEST(rollout_bad_input_is_refused)
{
    setup();
    eml_manager *m = open_local();
    eml_model_descriptor desc;
    desc_of(&desc, model_v1);
    eml_rollout_options o;
    eml_rollout_options_init(&o);
    eml_diag d;
    eml_diag_init(&d);
    const char *const unknown[] = {"local", "nope"};
    o.nodes = unknown;
    o.node_count = 2;
    CHECK_STATUS(eml_manager_rollout(m, &desc, &o, NULL, &d), EML_ENOTFOUND);
    CHECK(has(d.message, "node 'nope' is not in site 'embedded'"));
    const char *const twice[] = {"local", "local"};
    o.nodes = twice;
    CHECK_STATUS(eml_manager_rollout(m, &desc, &o, NULL, &d), EML_EINVAL);
    CHECK(has(d.message, "named twice"));
    eml_rollout_options_init(&o);
    o.growth = 0.5;
    CHECK_STATUS(eml_manager_rollout(m, &desc, &o, NULL, &d), EML_EINVAL);
    CHECK(has(d.message, "growth"));
    o.growth = 2;
    o.max_failure_ratio = 1.5;
    CHECK_STATUS(eml_manager_rollout(m, &desc, &o, NULL, &d), EML_EINVAL);
    desc.file = "/nonexistent/model.onnx";
    CHECK_STATUS(eml_manager_rollout(m, &desc, NULL, NULL, &d), EML_ENOTFOUND);
    CHECK(has(d.message, "/nonexistent/model.onnx"));
    desc_of(&desc, model_v1);
    desc.input_shape[1] = 3; /* the model takes 1 channel */
    CHECK_STATUS(eml_manager_rollout(m, &desc, NULL, NULL, &d), EML_ESHAPE);
    /* Nothing was recorded by the refused ones. */
    eml_rollout_info *list = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_rollouts(m, &list, &n, &d), &d);
    CHECK(n == 0);
    eml_manager_free(list);
    /* Unknown rollout ids, and one that already ended. */
    CHECK_STATUS(eml_manager_rollout_resume(m, 99, NULL, NULL, &d), EML_ENOTFOUND);
    CHECK(has(d.message, "rollout 99 is not in site 'embedded'"));
    CHECK_STATUS(eml_manager_rollout_get(m, 99, NULL, NULL, NULL, &d), EML_ENOTFOUND);
    desc_of(&desc, model_v1);
    eml_rollout_result r;
    REQUIRE_OK(eml_manager_rollout(m, &desc, NULL, &r, &d), &d);
    CHECK_STATUS(eml_manager_rollout_resume(m, r.id, NULL, NULL, &d), EML_EINVAL);
    CHECK(has(d.message, "already ended (succeeded)"));
    eml_manager_close(m);
    /* The same through the CLI: one clear line, exit status 1. */
    if (access(edgeml_cli, X_OK) == 0) {
        char *out = NULL;
        CHECK(run_cli("rollout --resume 99", &out) == 1);
        CHECK(has(out, "error: rollout 99 is not in site 'embedded'"));
        free(out);
        CHECK(run_cli("rollout --resume 1", &out) == 1);
        CHECK(has(out, "already ended (succeeded)"));
        free(out);
        CHECK(run_cli("rollout fashion_cnn /nonexistent.onnx --nodes local,nope", &out) == 1);
        CHECK(has(out, "node 'nope' is not in site"));
        free(out);
        CHECK(run_cli("rollouts 7", &out) == 1);
        CHECK(has(out, "rollout 7 is not in site"));
        free(out);
        CHECK(run_cli("rollout fashion_cnn --growth 0.5", &out) == 2);
        free(out);
    }
    teardown();
}

static int64_t raw_int(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(db_path, &db) == SQLITE_OK);
    sqlite3_stmt *s = NULL;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

EML_TEST(rollout_schema_1_database_is_migrated)
{
    setup();
    /* A site with a deployment, turned back into what edgeml of schema 1 wrote. */
    eml_manager *m = open_local();
    eml_model_descriptor desc;
    desc_of(&desc, model_v1);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_manager_deploy(m, &desc, "local", NULL, &d), &d);
    eml_manager_close(m);
    char db_path[700];
    snprintf(db_path, sizeof(db_path), "%s/embedded/site.db", work);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(db_path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "BEGIN; DROP TABLE rollout_nodes; DROP TABLE rollouts; "
                         "PRAGMA user_version = 1; COMMIT;",
                         NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(raw_int(db_path, "PRAGMA user_version") == 1);
    CHECK(raw_int(db_path, "SELECT count(*) FROM sqlite_master WHERE name = 'rollouts'") == 0);

    /* Opened: migrated in place, the old rows kept, rollouts work. */
    m = open_local();
    CHECK(raw_int(db_path, "PRAGMA user_version") == 2);
    CHECK(raw_int(db_path, "SELECT count(*) FROM sqlite_master WHERE name IN ('rollouts', "
                           "'rollout_nodes')") == 2);
    eml_model_info mi;
    REQUIRE_OK(eml_manager_model(m, "fashion_cnn", &mi, &d), &d);
    CHECK(mi.latest_version == 1 && mi.nodes_serving == 1);
    eml_rollout_info *list = NULL;
    size_t n = 0;
    REQUIRE_OK(eml_manager_rollouts(m, &list, &n, &d), &d);
    CHECK(n == 0);
    eml_manager_free(list);
    desc_of(&desc, model_v2);
    eml_rollout_result r;
    REQUIRE_OK(eml_manager_rollout(m, &desc, NULL, &r, &d), &d);
    CHECK(strcmp(r.state, "succeeded") == 0 && r.version == 2);
    eml_manager_close(m);
    teardown();
}
