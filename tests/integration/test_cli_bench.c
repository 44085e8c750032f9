/* Runs `edgeml bench` on the bundled Fashion-MNIST CNN: the JSON report's fields and their sanity
 * (never their speed), --seconds, file and --shape inputs, and the one-line errors of bad
 * invocations. */
#include "cli_util.h"

/* setup(), and every run's report printed (to read in the test log). */
static void bench_setup(void)
{
    setup();
    echo_every_run = true;
}

/* Failure contract of bench: also no stdout. */
static void check_bench_error(int status, int want_status)
{
    check_one_error_line(status, want_status);
    CHECK(out_text[0] == 0);
}

/* The report's fields, with values that make sense for `runs` measured runs. */
static void check_report(long runs)
{
    CHECK(json_valid_object(out_text));
    const char *lat = strstr(out_text, "\"latency_ms\": {");
    REQUIRE(lat != NULL);
    double p50 = json_number(lat, "p50"), p90 = json_number(lat, "p90");
    double p99 = json_number(lat, "p99"), min = json_number(lat, "min");
    double mean = json_number(lat, "mean");
    CHECK(min > 0);
    CHECK(p50 >= min && p90 >= p50 && p99 >= p90);
    CHECK(mean >= min);
    if (runs > 0)
        CHECK(json_number(NULL, "runs") == (double)runs);
    else
        CHECK(json_number(NULL, "runs") >= 1);
    CHECK(json_number(NULL, "throughput_ips") > 0);
    CHECK(json_number(NULL, "arena_bytes") > 0);
    CHECK(json_number(NULL, "peak_rss_bytes") > 0);
    CHECK(json_number(NULL, "threads") >= 1);
    CHECK(json_number(NULL, "total_s") > 0);
    CHECK(strstr(out_text, "\"model\": \"") != NULL);
    CHECK(strstr(out_text, "\"cpu\": \"") != NULL);
    CHECK(strstr(out_text, "\"percentiles\": \"nearest-rank\"") != NULL);
}

EML_TEST(bench_json_fields)
{
    bench_setup();
    REQUIRE(edgeml("bench '%s' --runs 5 --json", model) == 0);
    check_report(5);
    CHECK(err_text[0] == 0);
    /* generated input: the declared shape with the dynamic batch dim = 1 */
    CHECK(strstr(out_text, "\"shape\": [1, 1, 28, 28], \"source\": \"generated\"") != NULL);
    CHECK(json_number(NULL, "batch") == 1);
    CHECK(json_number(NULL, "seed") >= 0);
    CHECK(json_number(NULL, "optimize_level") == 2);
    /* the graph as loaded */
    REQUIRE(edgeml("bench '%s' --runs 3 --json --no-optimize", model) == 0);
    check_report(3);
    CHECK(json_number(NULL, "optimize_level") == 0);
    teardown();
}

EML_TEST(bench_seconds_and_threads)
{
    bench_setup();
    REQUIRE(edgeml("bench '%s' --seconds 0.2 --threads 1 --warmup 2 --json", model) == 0);
    check_report(-1);
    CHECK(json_number(NULL, "threads") == 1);
    CHECK(json_number(NULL, "warmup") == 2);
    REQUIRE(edgeml("bench '%s' --seconds=0.05 --warmup=0 --threads=2 --json", model) == 0);
    check_report(-1);
    CHECK(json_number(NULL, "threads") == 2);
    teardown();
}

EML_TEST(bench_text)
{
    bench_setup();
    REQUIRE(edgeml("bench '%s' --runs 3 --warmup 1 --threads 1", model) == 0);
    CHECK(strstr(out_text, "generated: standard normal, seed ") != NULL);
    CHECK(strstr(out_text, "nearest-rank") != NULL);
    CHECK(strstr(out_text, "  p50 ") != NULL && strstr(out_text, " p99 ") != NULL);
    CHECK(strstr(out_text, "throughput: ") != NULL && strstr(out_text, "inferences/s") != NULL);
    CHECK(strstr(out_text, "arena ") != NULL && strstr(out_text, "peak RSS ") != NULL);
    CHECK(strstr(out_text, "measured: 3 runs") != NULL);
    CHECK(err_text[0] == 0);
    REQUIRE(edgeml("help bench") == 0);
    CHECK(strstr(out_text, "--seconds") != NULL && strstr(out_text, "--shape") != NULL);
    teardown();
}

/* A file feeds 8 images: the batch is 8; --shape sets the generated batch the same way. */
EML_TEST(bench_file_and_shape_inputs)
{
    bench_setup();
    REQUIRE(edgeml("bench '%s' --runs 2 --json --input 'input=%s/test_data_set_0/input_0.pb'",
                   model, model_dir) == 0);
    check_report(2);
    CHECK(strstr(out_text, "\"shape\": [8, 1, 28, 28], \"source\": \"file\"") != NULL);
    CHECK(json_number(NULL, "batch") == 8);
    REQUIRE(edgeml("bench '%s' --runs 2 --json --input '%s/test_data_set_0/input_0.npy'", model,
                   model_dir) == 0);
    CHECK(json_number(NULL, "batch") == 8);
    REQUIRE(edgeml("bench '%s' --runs 2 --json --shape input=4x1x28x28", model) == 0);
    check_report(2);
    CHECK(strstr(out_text, "\"shape\": [4, 1, 28, 28], \"source\": \"generated\"") != NULL);
    CHECK(json_number(NULL, "batch") == 4);
    teardown();
}

EML_TEST(bench_usage_errors)
{
    bench_setup();
    check_bench_error(edgeml("bench"), 2);
    check_bench_error(edgeml("bench '%s' --bogus", model), 2);
    check_bench_error(edgeml("bench '%s' --runs 0", model), 2);
    check_bench_error(edgeml("bench '%s' --runs many", model), 2);
    check_bench_error(edgeml("bench '%s' --runs", model), 2);
    check_bench_error(edgeml("bench '%s' --seconds 0", model), 2);
    check_bench_error(edgeml("bench '%s' --seconds soon", model), 2);
    check_bench_error(edgeml("bench '%s' --runs 5 --seconds 1", model), 2);
    check_bench_error(edgeml("bench '%s' --warmup -1", model), 2);
    check_bench_error(edgeml("bench '%s' --threads 0", model), 2);
    check_bench_error(edgeml("bench '%s' --shape input", model), 2);
    check_bench_error(edgeml("bench '%s' --shape input=1x-1x28x28", model), 2);
    check_bench_error(edgeml("bench '%s' '%s'", model, model), 2);
    check_bench_error(edgeml("bench '%s' --level 3", model), 2);
    teardown();
}

EML_TEST(bench_failures_are_one_line)
{
    bench_setup();
    /* missing model */
    check_bench_error(edgeml("bench '%s/none.onnx' --runs 1", work), 1);
    CHECK(strstr(err_text, "none.onnx") != NULL);
    /* an input the model does not have, a shape that does not fit, a file of the wrong shape */
    check_bench_error(edgeml("bench '%s' --shape pixels=1x1x28x28", model), 1);
    CHECK(strstr(err_text, "pixels") != NULL);
    check_bench_error(edgeml("bench '%s' --shape input=1x3x28x28", model), 1);
    check_bench_error(
        edgeml("bench '%s' --input '%s/test_data_set_0/output_0.pb'", model, model_dir), 1);
    check_bench_error(edgeml("bench '%s' --input '%s/nothing.npy'", model, work), 1);
    teardown();
}

/* Occurrences of `needle` in `text`. */
static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* --profile: after the normal report, the per-node and per-op tables (text) or a "profile"
 * array of every executed node, each with the pass's run count (JSON). */
EML_TEST(bench_profile)
{
    bench_setup();
    REQUIRE(edgeml("bench '%s' --profile --runs 5 --threads 1", model) == 0);
    CHECK(err_text[0] == 0);
    CHECK(strstr(out_text, "measured: 5 runs") != NULL);
    const char *prof = strstr(out_text, "profile: a separate pass of 5 profiled runs");
    REQUIRE(prof != NULL);
    CHECK(strstr(prof, "sum of nodes ") != NULL && strstr(prof, " ms of a mean run ") != NULL);
    const char *top = strstr(prof, " nodes by time:\n");
    REQUIRE(top != NULL);
    CHECK(strstr(top, "  node ") != NULL && strstr(top, " kernel ") != NULL &&
          strstr(top, "mean us") != NULL && strstr(top, "GMAC/s") != NULL);
    CHECK(strstr(top, "/features/features.0/Conv") != NULL); /* the CNN's first conv */
    const char *ops = strstr(top, "by op type:\n");
    REQUIRE(ops != NULL);
    CHECK(strstr(ops, " count ") != NULL && strstr(ops, "Conv ") != NULL);
    CHECK(strstr(ops, "%\n") != NULL);
    REQUIRE(edgeml("help bench") == 0);
    CHECK(strstr(out_text, "--profile") != NULL && strstr(out_text, "separate pass") != NULL);

    REQUIRE(edgeml("bench '%s' --profile --runs 5 --json", model) == 0);
    check_report(5);
    const char *arr = strstr(out_text, "\"profile\": [{\"node\": ");
    REQUIRE(arr != NULL);
    int nodes = count_of(arr, "{\"node\": ");
    CHECK(nodes >= 5);
    CHECK(count_of(arr, "\"runs\": 5, ") == nodes);
    CHECK(count_of(arr, "\"kernel\": ") == nodes);
    CHECK(strstr(arr, "\"gmacs_per_s\": ") != NULL);
    CHECK(json_number(NULL, "profile_runs") == 5);
    double sum = json_number(NULL, "profile_sum_nodes_ms");
    double mean = json_number(NULL, "profile_mean_run_ms");
    CHECK(sum > 0 && sum <= mean);
    /* without --profile: no profile */
    REQUIRE(edgeml("bench '%s' --runs 2 --json", model) == 0);
    CHECK(strstr(out_text, "\"profile") == NULL);
    teardown();
}
