/* The fleet subcommands of `edgeml` on a site in a temporary home: status, deploy, models
 * before and after measurements, nodes, infer on the bundled test images, rollback, the site
 * forms of bench/quantize/prune beside the file forms, and one-line errors. */
#include "cli_util.h"

#define DATA "/usr/share/datasets/fashion-mnist"

static char home[700];

static void fleet_setup(void)
{
    setup();
    snprintf(home, sizeof(home), "%s/home", work);
}

EML_TEST(fleet_status_deploy_models_nodes)
{
    fleet_setup();
    REQUIRE(edgeml("--home '%s' --site factory-edge-01 status --json", home) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(json_number(NULL, "nodes_total") == 1 && json_number(NULL, "nodes_online") == 1);
    CHECK(json_number(NULL, "models_total") == 0);
    CHECK(strstr(out_text, "\"site\": \"factory-edge-01\"") != NULL);

    REQUIRE(edgeml("--home '%s' --site factory-edge-01 deploy '%s' --model fashion_cnn --type "
                   "classification --input-shape 1x1x28x28 --output-shape 1x10 --json",
                   home, model) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(json_number(NULL, "version") == 1 && json_number(NULL, "node_version") == 1);
    CHECK(json_number(NULL, "model_bytes") > 100000);

    /* Not measured yet: said so, in the table and in JSON. */
    REQUIRE(edgeml("--home '%s' --site factory-edge-01 models", home) == 0);
    CHECK(strstr(out_text, "fashion_cnn") != NULL && strstr(out_text, "not measured") != NULL);
    REQUIRE(edgeml("--home '%s' --site factory-edge-01 models --json", home) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(strstr(out_text, "\"latency_ms\": \"not measured\"") != NULL);

    /* Measured on the node: latency by bench, accuracy on 500 real test images. */
    if (access(DATA "/t10k-images-idx3-ubyte.gz", R_OK) == 0) {
        REQUIRE(edgeml("--home '%s' --site factory-edge-01 bench fashion_cnn --runs 5 --warmup 1 "
                       "--eval-data " DATA "/t10k-images-idx3-ubyte.gz --eval-labels " DATA
                       "/t10k-labels-idx1-ubyte.gz --eval-limit 500 --json",
                       home) == 0);
        CHECK(json_valid_object(out_text));
        CHECK(json_number(NULL, "runs") == 5 && json_number(NULL, "throughput_ips") > 0);
        const char *lat = strstr(out_text, "\"latency_ms\": {");
        REQUIRE(lat != NULL);
        CHECK(json_number(lat, "p50") > 0 && json_number(lat, "p99") >= json_number(lat, "p50"));
        CHECK(json_number(NULL, "samples") == 500 && json_number(NULL, "top1_pct") > 80);
        /* no sensor on this machine is reported, never invented */
        CHECK(json_number(NULL, "energy_j_per_inference") > 0 ||
              strstr(out_text, "\"energy_j_per_inference\": \"unavailable\"") != NULL);
        REQUIRE(edgeml("--home '%s' --site factory-edge-01 models --json", home) == 0);
        const char *m = strstr(out_text, "\"latency_ms\": {");
        REQUIRE(m != NULL);
        CHECK(json_number(m, "value") > 0 && strstr(m, "\"node\": \"local\"") != NULL);
        const char *a = strstr(out_text, "\"accuracy_top1_pct\": {");
        REQUIRE(a != NULL);
        CHECK(json_number(a, "value") > 80);
        REQUIRE(edgeml("--home '%s' --site factory-edge-01 models", home) == 0);
        CHECK(strstr(out_text, "not measured") == NULL);
        CHECK(strstr(out_text, "(v1, local, ") != NULL);
    }

    REQUIRE(edgeml("--home '%s' --site factory-edge-01 nodes", home) == 0);
    CHECK(strstr(out_text, "local") != NULL && strstr(out_text, "online") != NULL);
    REQUIRE(edgeml("--home '%s' --site factory-edge-01 nodes local --json", home) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(json_number(NULL, "cpu_count") >= 1);
    CHECK(strstr(out_text, "\"models\": [{\"model\": \"fashion_cnn\", \"version\": 1") != NULL);
    CHECK(strstr(out_text, "\"power_w\": ") != NULL);
    REQUIRE(edgeml("--home '%s' --site factory-edge-01 status", home) == 0);
    CHECK(strstr(out_text, "1 known, 1 deployed") != NULL);
    teardown();
}

EML_TEST(fleet_infer_and_rollback)
{
    fleet_setup();
    REQUIRE(edgeml("--home '%s' deploy '%s' --model fashion_cnn", home, model) == 0);
    /* The 8 bundled test images (labels 9 2 1 1 6 1 4 6) on the default site's local node. */
    REQUIRE(edgeml("--home '%s' infer fashion_cnn '%s/test_data_set_0/input_0.pb' --top 1", home,
                   model_dir) == 0);
    CHECK(strstr(out_text, "model fashion_cnn version 1 on node local") != NULL);
    CHECK(strstr(out_text, "row 0: class 9") != NULL && strstr(out_text, "row 1: class 2") != NULL);
    CHECK(strstr(out_text, "row 4: class 6") != NULL && strstr(out_text, "row 6: class 4") != NULL);
    REQUIRE(edgeml("--home '%s' infer fashion_cnn '%s/test_data_set_0/input_0.pb' --json", home,
                   model_dir) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(json_number(NULL, "inference_ms") > 0 && json_number(NULL, "version") == 1);
    CHECK(strstr(out_text, "\"shape\": [8, 10]") != NULL);

    /* The site form of prune records a new model from the latest version of fashion_cnn. */
    REQUIRE(edgeml("--home '%s' --site default prune fashion_cnn --sparsity 0.4", home) == 0);
    CHECK(strstr(out_text, "into fashion_cnn-pruned40 version 1") != NULL);
    /* A second version: the model quantized to fp16 by the site, deployed as fashion_cnn. */
    REQUIRE(edgeml("--home '%s' --site default quantize fashion_cnn --precision fp16 --json",
                   home) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(strstr(out_text, "\"id\": \"fashion_cnn-fp16\"") != NULL);
    char file[1024] = "";
    const char *f = strstr(out_text, "\"file\": \"");
    REQUIRE(f != NULL);
    sscanf(f + 9, "%1023[^\"]", file);
    REQUIRE(edgeml("--home '%s' deploy '%s' --model fashion_cnn --json", home, file) == 0);
    CHECK(json_number(NULL, "version") == 2 && json_number(NULL, "node_version") == 2);
    REQUIRE(edgeml("--home '%s' rollback fashion_cnn --json", home) == 0);
    CHECK(json_number(NULL, "serving") == 1);
    REQUIRE(edgeml("--home '%s' rollback fashion_cnn --version 2", home) == 0);
    CHECK(strstr(out_text, "node local now serves fashion_cnn version 2") != NULL);

    /* The file form of quantize is untouched by the site forms. */
    REQUIRE(edgeml("--home '%s' models --json", home) == 0);
    CHECK(strstr(out_text, "\"derivation\": \"pruned 40%\"") != NULL);
    CHECK(strstr(out_text, "\"derivation\": \"fp16\"") != NULL);
    REQUIRE(edgeml("quantize '%s' -o '%s/q.onnx' --precision fp16 --no-bench", model, work) == 0);
    teardown();
}

EML_TEST(fleet_errors_are_one_line)
{
    fleet_setup();
    REQUIRE(edgeml("--home '%s' deploy '%s' --model fashion_cnn", home, model) == 0);
    check_one_error_line(
        edgeml("--home '%s' infer nope '%s/test_data_set_0/input_0.pb'", home, model_dir), 1);
    CHECK(strstr(err_text, "model 'nope' is not in site 'default'") != NULL);
    check_one_error_line(edgeml("--home '%s' infer fashion_cnn '%s/test_data_set_0/input_0.pb' "
                                "--node edge-99",
                                home, model_dir),
                         1);
    CHECK(strstr(err_text, "node 'edge-99' is not in site") != NULL);
    check_one_error_line(edgeml("--home '%s' nodes edge-99", home), 1);
    check_one_error_line(edgeml("--home '%s' rollback fashion_cnn", home), 1);
    check_one_error_line(
        edgeml("--home '%s' deploy '%s' --model x --input-shape 1x3x9x9", home, model), 1);
    CHECK(strstr(err_text, "input 'input'") != NULL);
    check_one_error_line(edgeml("--home '%s' deploy '%s'", home, model), 2);
    check_one_error_line(edgeml("--home '%s' models --bogus", home), 2);
    check_one_error_line(edgeml("--home '%s' --site 'bad/name' status", home), 1);
    CHECK(strstr(err_text, "bad site name") != NULL);
    check_one_error_line(edgeml("--home '%s'", home), 2);
    check_one_error_line(edgeml("--home '%s' --site default bench nope --runs 2", home), 1);
    CHECK(strstr(err_text, "model 'nope' is not in site") != NULL);
    check_one_error_line(edgeml("--home '%s' --broker mqtt://127.0.0.1:1 status", home), 1);
    CHECK(strstr(err_text, "cannot reach broker mqtt://127.0.0.1:1") != NULL);
    /* A corrupt site database: a clear error, and the file is left as it was. */
    char db[800];
    snprintf(db, sizeof(db), "%s/broken/site.db", home);
    char cmd[2000];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/broken' && head -c 3000 /dev/urandom > '%s'", home,
             db);
    REQUIRE(system(cmd) == 0);
    check_one_error_line(edgeml("--home '%s' --site broken models", home), 1);
    CHECK(strstr(err_text, "not a site database") != NULL);
    teardown();
}
