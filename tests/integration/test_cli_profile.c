/* `edgeml profile`: the drift profile of fashion_cnn's input made from real Fashion-MNIST
 * training images, written as a config the agent accepts; options and errors. */
#include <cjson/cJSON.h>

#include "cli_util.h"
#include "edgeml/agent.h"
#include "fashion_util.h"

#define TRAIN FASHION_TRAIN_IMAGES
#define TEST FASHION_TEST_IMAGES

static void need_data(void)
{
    if (access(TRAIN, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
}

static cJSON *read_json(const char *path)
{
    size_t n = 0;
    char *text = eml_test_read_file(path, &n);
    REQUIRE(text);
    cJSON *j = cJSON_ParseWithLength(text, n);
    free(text);
    REQUIRE(j);
    return j;
}

/* Deploys the model with config_path's text as its config into a fresh agent and returns the
 * agent's model.drift reply (free it). */
static char *agent_drift_reply(const char *config_path)
{
    size_t n = 0;
    char *config = eml_test_read_file(config_path, &n);
    REQUIRE(config);
    char repo[600];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.n_threads = 1;
    eml_agent *a;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &a, &d), &d);
    size_t cap = n + 2048;
    char *cmd = malloc(cap);
    REQUIRE(cmd);
    /* the file's bytes are not NUL-terminated */
    snprintf(cmd, cap,
             "{\"op\":\"model.deploy\",\"model\":\"cnn\",\"url\":\"file://%s\",\"config\":%.*s}",
             model, (int)n, config);
    char *reply = NULL;
    int code = 0;
    REQUIRE(eml_agent_command(a, cmd, strlen(cmd), &reply, &code) == EML_OK);
    CHECK(code == 200);
    free(reply);
    const char *q = "{\"op\":\"model.drift\",\"model\":\"cnn\"}";
    REQUIRE(eml_agent_command(a, q, strlen(q), &reply, &code) == EML_OK);
    CHECK(code == 200);
    eml_agent_destroy(a);
    free(cmd);
    free(config);
    return reply;
}

EML_TEST(profile_writes_a_config_the_agent_takes)
{
    setup();
    need_data();
    CHECK(edgeml("profile '%s' --data '%s' --limit 1000 -o '%s/config.json'", model, TRAIN, work) ==
          0);
    printf("%s", out_text);
    CHECK(strstr(out_text, "input 'input': 1000 samples, axis 1, 1 channel") != NULL);
    char path[700];
    snprintf(path, sizeof(path), "%s/config.json", work);
    cJSON *cfg = read_json(path);
    const cJSON *drift = cJSON_GetObjectItem(cfg, "drift");
    const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(drift, "inputs"), 0);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(in, "channels"), 0);
    CHECK(strcmp(cJSON_GetObjectItem(in, "name")->valuestring, "input") == 0);
    CHECK(cJSON_GetObjectItem(in, "samples")->valuedouble == 1000);
    /* The zeros (half the pixels) have a bin of their own. */
    const cJSON *fr = cJSON_GetObjectItem(ch, "fractions");
    CHECK(cJSON_GetArraySize(fr) >= 6 && cJSON_GetArrayItem(fr, 1)->valuedouble > 0.45 &&
          cJSON_GetArrayItem(fr, 1)->valuedouble < 0.55);
    CHECK(cJSON_GetObjectItem(drift, "window")->valuedouble == 10000);
    cJSON_Delete(cfg);
    char *reply = agent_drift_reply(path);
    printf("%s\n", reply);
    CHECK(strstr(reply, "\"status\":\"collecting\"") && strstr(reply, "\"min_samples\":100"));
    free(reply);
    teardown();
}

EML_TEST(profile_options_and_config_merge)
{
    setup();
    need_data();
    char base[700], path[700];
    snprintf(base, sizeof(base), "%s/base.json", work);
    FILE *f = fopen(base, "w");
    REQUIRE(f);
    fputs("{\"batching\": {\"max_batch_size\": 4}, \"drift\": {\"old\": 1}}\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/config.json", work);
    CHECK(edgeml("profile '%s' --data '%s' --limit 300 --bins 4 --window 500 --min-samples 10 "
                 "--warn 0.2 --alert 0.3 --config '%s' -o '%s'",
                 model, TRAIN, base, path) == 0);
    cJSON *cfg = read_json(path);
    const cJSON *drift = cJSON_GetObjectItem(cfg, "drift");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "batching"), "max_batch_size") != NULL);
    CHECK(!cJSON_GetObjectItem(drift, "old"));
    CHECK(cJSON_GetObjectItem(drift, "window")->valuedouble == 500);
    CHECK(cJSON_GetObjectItem(drift, "min_samples")->valuedouble == 10);
    CHECK(cJSON_GetObjectItem(drift, "warn")->valuedouble == 0.2);
    CHECK(cJSON_GetObjectItem(drift, "alert")->valuedouble == 0.3);
    const cJSON *ch = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(drift, "inputs"), 0),
                            "channels"),
        0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(ch, "fractions")) <= 2 * 4);
    cJSON_Delete(cfg);
    /* --axis 2: the 28 rows of the image are the channels; --json prints the profile. */
    CHECK(edgeml("profile '%s' --data '%s' --limit 50 --axis 2 --json", model, TRAIN) == 0);
    CHECK(json_valid_object(out_text));
    cfg = cJSON_Parse(out_text);
    REQUIRE(cfg);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(
              cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "inputs"), 0), "channels")) == 28);
    cJSON_Delete(cfg);
    CHECK(edgeml("profile '%s' --data '%s' --limit 50 --axis -1 --json", model, TRAIN) == 0);
    CHECK(strstr(out_text, "\"axis\":-1") != NULL);
    teardown();
}

EML_TEST(profile_errors)
{
    setup();
    need_data();
    check_one_error_line(edgeml("profile '%s' -o '%s/x.json'", model, work), 2);
    CHECK(strstr(err_text, "no --data") != NULL);
    check_one_error_line(edgeml("profile '%s' --data '%s'", model, TEST), 2);
    check_one_error_line(edgeml("profile '%s' --data '%s' --json --bins 1", model, TEST), 2);
    check_one_error_line(edgeml("profile '%s' --data '%s' --json --axis 9", model, TEST), 2);
    check_one_error_line(
        edgeml("profile '%s' --data '%s' --json --warn 0.5 --alert 0.2", model, TEST), 2);
    check_one_error_line(edgeml("profile '%s' --data '%s' --json --frob", model, TEST), 2);
    check_one_error_line(edgeml("profile '%s' --data '%s/none.npy' --json", model, work), 1);
    /* Labels are not images: one value per sample for an input of 784. */
    const char *labels = FASHION_DIR "/train-labels-idx1-ubyte.gz";
    check_one_error_line(edgeml("profile '%s' --data '%s' --json", model, labels), 1);
    CHECK(strstr(err_text, "wants") != NULL);
    /* --axis 4 is beyond the input's rank 4. */
    check_one_error_line(edgeml("profile '%s' --data '%s' --limit 5 --json --axis 4", model, TEST),
                         1);
    check_one_error_line(edgeml("profile '%s' --data '%s' --config '%s/none.json' -o '%s/x.json'",
                                model, TEST, work, work),
                         1);
    CHECK(edgeml("help profile") == 0 && strstr(out_text, "--bins") != NULL);
    teardown();
}
