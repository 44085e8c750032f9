/* The agent's one command handler without HTTP (what an MQTT front will call): deploy by URL,
 * infer through OIP JSON, status codes and JSON errors, through the public eml_agent_command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgeml/agent.h"
#include "harness.h"

static char work[512];
static eml_agent *agent;

static void setup(void)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_agent_cmd_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    char repo[600];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.n_threads = 1;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &agent, &d), &d);
    CHECK(eml_agent_port(agent) == 0);
}

static void teardown(void)
{
    eml_agent_destroy(agent);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* Runs a command; returns the HTTP code, the reply in *out (free it). */
static int run(const char *json, char **out)
{
    int code = 0;
    REQUIRE(eml_agent_command(agent, json, strlen(json), out, &code) == EML_OK);
    return code;
}

static int run_expect(const char *json, int want, const char *needle)
{
    char *reply = NULL;
    int code = run(json, &reply);
    int ok = code == want && (!needle || strstr(reply, needle));
    if (!ok)
        fprintf(stderr, "%s -> %d %s\n", json, code, reply);
    free(reply);
    return ok;
}

EML_TEST(commands_deploy_and_infer)
{
    setup();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "{\"op\":\"model.deploy\",\"model\":\"cnn\",\"url\":\"file://%s/models/fashion_cnn/"
             "model.onnx\",\"config\":{\"batching\":{\"max_batch_size\":4}}}",
             eml_test_source_dir());
    CHECK(run_expect(cmd, 200, "\"version\":1"));
    CHECK(run_expect("{\"op\":\"health.live\"}", 200, "\"live\":true"));
    CHECK(run_expect("{\"op\":\"model.ready\",\"model\":\"cnn\"}", 200, "\"ready\":true"));
    CHECK(run_expect("{\"op\":\"model.metadata\",\"model\":\"cnn\",\"version\":\"1\"}", 200,
                     "\"max_batch_size\":4"));
    /* An all-zero image: the scores are whatever the model says, but there are 10 of them. */
    char *req = malloc(16384);
    int n = snprintf(req, 16384,
                     "{\"op\":\"model.infer\",\"model\":\"cnn\",\"request\":{\"id\":\"r1\","
                     "\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":"
                     "\"FP32\",\"data\":[");
    for (int i = 0; i < 784; i++)
        n += snprintf(req + n, (size_t)(16384 - n), i ? ",0" : "0");
    snprintf(req + n, (size_t)(16384 - n), "]}]}}");
    char *reply = NULL;
    CHECK(run(req, &reply) == 200);
    CHECK(strstr(reply, "\"id\":\"r1\"") && strstr(reply, "\"shape\":[1,10]"));
    free(reply);
    free(req);
    CHECK(run_expect("{\"op\":\"model.infer\",\"model\":\"cnn\"}", 400, "\"error\""));
    CHECK(run_expect("{\"op\":\"model.infer\",\"model\":\"zzz\",\"request\":{\"inputs\":[]}}",
                     404, "not_found"));
    CHECK(run_expect("{\"op\":\"model.rollback\",\"model\":\"cnn\"}", 404, "\"error\""));
    CHECK(run_expect("{\"op\":\"model.versions\"}", 200, "\"model\":\"cnn\""));
    CHECK(run_expect("{\"op\":\"model.unload\",\"model\":\"cnn\"}", 200, NULL));
    CHECK(run_expect("{\"op\":\"model.load\",\"model\":\"cnn\"}", 200, NULL));
    CHECK(run_expect("{\"op\":\"node.status\"}", 200, "\"cpu_count\""));
    CHECK(run_expect("{\"op\":\"metrics\"}", 200, "edgeml_cache_prefetches_total"));
    CHECK(run_expect("{\"op\":\"model.deploy\",\"model\":\"x\"}", 400, "\"error\""));
    CHECK(run_expect("{\"op\":\"model.deploy\",\"model\":\"x\",\"url\":\"ftp://a/b\"}", 400,
                     NULL));
    CHECK(run_expect("{\"op\":\"model.deploy\",\"model\":\"x\",\"url\":\"file:///nonexistent\"}",
                     500, "io_error"));
    CHECK(run_expect("not json", 400, "\"error\""));
    CHECK(run_expect("{}", 400, "unknown op"));
    teardown();
}
