/* The agent's "model.bench" through the in-process command handler: figures present, positive and
 * consistent with each other, energy only where the node has a readable sensor, bad requests
 * refused. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "edgeml/agent.h"
#include "harness.h"

static char work[512];
static eml_agent *agent;

static void setup_listen(const char *listen)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_agent_bench_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    char repo[600];
    snprintf(repo, sizeof(repo), "%s/repo", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.n_threads = 1;
    o.listen = listen;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &agent, &d), &d);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "{\"op\":\"model.deploy\",\"model\":\"cnn\",\"url\":\"file://%s/models/fashion_cnn/"
             "model.onnx\"}",
             src);
    char *reply = NULL;
    int code = 0;
    REQUIRE(eml_agent_command(agent, cmd, strlen(cmd), &reply, &code) == EML_OK);
    if (code != 200)
        fprintf(stderr, "deploy: %d %s\n", code, reply);
    REQUIRE(code == 200);
    free(reply);
}

static void setup(void)
{
    setup_listen(NULL);
}

static void teardown(void)
{
    eml_agent_destroy(agent);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* Runs a command; returns the HTTP code and the parsed reply (cJSON_Delete it). */
static int run(const char *json, cJSON **out)
{
    char *text = NULL;
    int code = 0;
    REQUIRE(eml_agent_command(agent, json, strlen(json), &text, &code) == EML_OK);
    *out = cJSON_Parse(text);
    if (code != 200)
        fprintf(stderr, "%s -> %d %s\n", json, code, text);
    free(text);
    REQUIRE(*out != NULL);
    return code;
}

static double num(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2)
        x = cJSON_GetObjectItemCaseSensitive(x, path2);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2)
        x = cJSON_GetObjectItemCaseSensitive(x, path2);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int readable(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[64];
    int ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    return ok;
}

/* Whether this machine has any power or energy sensor this process can read, probed
 * independently of the agent's code: any RAPL energy_uj, hwmon power*_input, or the power_now of
 * a power supply that is not charging (a charging battery's is what goes into it). */
static int any_sensor_readable(void)
{
    static const struct {
        const char *dir, *prefix, *file[4];
    } places[] = {
        {"/sys/class/powercap", "intel-rapl:", {"energy_uj"}},
        {"/sys/class/hwmon",
         "hwmon",
         {"power1_input", "power2_input", "power3_input", "power4_input"}},
        {"/sys/class/power_supply", "", {"power_now"}},
    };
    for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++) {
        DIR *d = opendir(places[p].dir);
        if (!d)
            continue;
        struct dirent *e;
        int found = 0;
        while (!found && (e = readdir(d))) {
            if (e->d_name[0] == '.' ||
                strncmp(e->d_name, places[p].prefix, strlen(places[p].prefix)) != 0)
                continue;
            char status[700], word[32] = "";
            snprintf(status, sizeof(status), "%s/%s/status", places[p].dir, e->d_name);
            FILE *sf = p == 2 ? fopen(status, "r") : NULL;
            if (sf) {
                if (!fgets(word, sizeof(word), sf))
                    word[0] = 0;
                fclose(sf);
                if (word[0] && strncmp(word, "Discharging", 11) != 0)
                    continue;
            }
            for (int k = 0; k < 4 && places[p].file[k]; k++) {
                char path[700];
                snprintf(path, sizeof(path), "%s/%s/%s", places[p].dir, e->d_name,
                         places[p].file[k]);
                found |= readable(path);
            }
        }
        closedir(d);
        if (found)
            return 1;
    }
    return 0;
}

EML_TEST(bench_fashion_cnn)
{
    setup();
    cJSON *r = NULL;
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":50,\"warmup\":3}", &r) == 200);
    char *text = cJSON_PrintUnformatted(r);
    fprintf(stderr, "%s\n", text);
    free(text);
    CHECK(strcmp(str(r, "model", NULL), "cnn") == 0);
    CHECK(strcmp(str(r, "version", NULL), "1") == 0);
    CHECK(num(r, "runs", NULL) == 50);
    CHECK(num(r, "batch", NULL) == 1);
    CHECK(num(r, "threads", NULL) == 1);
    CHECK(strcmp(str(r, "stopped_by", NULL), "runs") == 0);
    const cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "inputs"), 0);
    CHECK(strcmp(str(in0, "data", NULL), "random_normal") == 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(in0, "shape")) == 4);
    double mn = num(r, "latency_ms", "min"), mean = num(r, "latency_ms", "mean");
    double p50 = num(r, "latency_ms", "p50"), p90 = num(r, "latency_ms", "p90");
    double p99 = num(r, "latency_ms", "p99"), mx = num(r, "latency_ms", "max");
    fprintf(stderr, "latency ms: min %.4f mean %.4f p50 %.4f p90 %.4f p99 %.4f max %.4f\n", mn,
            mean, p50, p90, p99, mx);
    CHECK(mn > 0 && mn <= p50 && p50 <= p90 && p90 <= p99 && p99 <= mx);
    CHECK(mean >= mn && mean <= mx);
    double ips = num(r, "throughput", "inferences_per_s");
    double dur = num(r, "duration_s", NULL);
    fprintf(stderr, "throughput %.1f/s over %.4f s\n", ips, dur);
    CHECK(ips > 0 && dur > 0);
    /* 50 runs of one row: the wall time is the latencies plus a little bookkeeping, so rows/s is
     * close to 1000/mean; loose bounds, the machine is shared. */
    double expect = 1000.0 / mean;
    CHECK(ips <= expect * 1.05 && ips >= expect * 0.5);
    CHECK(fabs(num(r, "throughput", "runs_per_s") - ips) < 1e-9 * ips + 1e-9);
    CHECK(num(r, "memory", "arena_bytes") > 0);
    CHECK(num(r, "memory", "rss_before_bytes") > 0);
    CHECK(num(r, "memory", "rss_peak_bytes") >= num(r, "memory", "rss_before_bytes"));
    CHECK(num(r, "memory", "rss_growth_bytes") >= 0);

    const char *src = str(r, "energy", "source");
    REQUIRE(src != NULL);
    fprintf(stderr, "energy source: %s\n", src);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "energy");
    if (strcmp(src, "unavailable") == 0) {
        /* The agent found no sensor: then none is readable here, and no number is made up. */
        CHECK(!any_sensor_readable());
        CHECK(strcmp(str(e, "joules", NULL), "unavailable") == 0);
        CHECK(strcmp(str(e, "watts", NULL), "unavailable") == 0);
        CHECK(strcmp(str(e, "joules_per_inference", NULL), "unavailable") == 0);
    } else {
        CHECK(any_sensor_readable());
        CHECK(num(e, "joules", NULL) >= 0);
        CHECK(num(e, "watts", NULL) >= 0);
        CHECK(fabs(num(e, "joules_per_inference", NULL) * 50 - num(e, "joules", NULL)) <=
              1e-6 * num(e, "joules", NULL) + 1e-12);
    }
    cJSON_Delete(r);

    /* A batch of 4 rows: the input's first dimension is 4 and rows/s counts rows. */
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":10,\"warmup\":1,\"batch\":4,"
              "\"version\":1}",
              &r) == 200);
    CHECK(num(r, "batch", NULL) == 4);
    in0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "inputs"), 0);
    CHECK(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(in0, "shape"), 0)->valuedouble == 4);
    CHECK(num(r, "throughput", "inferences_per_s") > 3.99 * num(r, "throughput", "runs_per_s"));
    cJSON_Delete(r);

    /* A time budget: stops by seconds (or by the run cap, impossible in 0.05 s). */
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"seconds\":0.05,\"warmup\":0}", &r) ==
          200);
    CHECK(strcmp(str(r, "stopped_by", NULL), "seconds") == 0);
    CHECK(num(r, "runs", NULL) >= 1);
    CHECK(num(r, "duration_s", NULL) < 5);
    cJSON_Delete(r);
    teardown();
}

EML_TEST(bench_refuses)
{
    setup();
    cJSON *r = NULL;
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"nope\"}", &r) == 404);
    CHECK(strcmp(str(r, "status", NULL), "not_found") == 0);
    cJSON_Delete(r);
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"version\":7}", &r) == 404);
    cJSON_Delete(r);
    static const char *bad[] = {
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":1000000000}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":0}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":2.5}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":\"many\"}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"seconds\":3600}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"seconds\":0}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"warmup\":-1}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"batch\":0}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"batch\":100000000}",
        "{\"op\":\"model.bench\",\"model\":\"cnn\",\"threads\":3}",
        "{\"op\":\"model.bench\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int code = run(bad[i], &r);
        CHECK(code == 400);
        CHECK(strcmp(str(r, "status", NULL), "invalid_argument") == 0);
        cJSON_Delete(r);
    }
    /* After the refusals (none of which ran), a bench still runs: the busy flag was released. */
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":2,\"warmup\":0}", &r) == 200);
    cJSON_Delete(r);
    teardown();
}

typedef struct body {
    char data[1 << 15];
    size_t n;
} body;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    body *b = user;
    size_t k = size * n;
    if (b->n + k >= sizeof(b->data))
        k = sizeof(b->data) - 1 - b->n;
    memcpy(b->data + b->n, p, k);
    b->n += k;
    b->data[b->n] = 0;
    return size * n;
}

/* An HTTP request to the agent; returns the status code, the body in *b. */
static long http(const char *method, const char *path, const char *json, body *b)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)eml_agent_port(agent), path);
    b->n = 0;
    b->data[0] = 0;
    CURL *c = curl_easy_init();
    REQUIRE(c);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 90L);
    if (json) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return code;
}

EML_TEST(bench_http_route)
{
    setup_listen("127.0.0.1:0");
    REQUIRE(eml_agent_port(agent) != 0);
    body *b = malloc(sizeof(body));
    REQUIRE(b);
    CHECK(http("POST", "/v2/edgeml/models/cnn/bench", "{\"runs\":5,\"warmup\":1}", b) == 200);
    cJSON *r = cJSON_Parse(b->data);
    REQUIRE(r);
    CHECK(num(r, "runs", NULL) == 5);
    CHECK(num(r, "latency_ms", "p50") > 0);
    cJSON_Delete(r);
    /* An empty body takes the defaults (100 runs); a version in the path. */
    CHECK(http("POST", "/v2/edgeml/models/cnn/versions/1/bench", NULL, b) == 200);
    CHECK(strstr(b->data, "\"runs\":100") != NULL);
    CHECK(http("POST", "/v2/edgeml/models/cnn/versions/9/bench", NULL, b) == 404);
    CHECK(http("POST", "/v2/edgeml/models/nope/bench", "{}", b) == 404);
    CHECK(http("POST", "/v2/edgeml/models/cnn/bench", "{\"runs\":100000000}", b) == 400);
    CHECK(http("GET", "/v2/edgeml/models/cnn/bench", NULL, b) == 405);
    free(b);
    teardown();
}

static void write_file(const char *root, const char *rel, const char *text)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s/%s')\" && printf '%s' > '%s/%s'", root,
             rel, text, root, rel);
    REQUIRE(system(cmd) == 0);
}

/* Energy from sensor files: a made-up /sys (EML_SYSFS_ROOT) with a 5 W hwmon sensor gives 5 W and
 * 5 J/s of bench; a RAPL counter that does not move gives 0 J and wins over hwmon; a charging
 * battery is no measurement. */
EML_TEST(bench_energy_from_sensor_files)
{
    setup();
    char root[700];
    snprintf(root, sizeof(root), "%s/sys", work);
    REQUIRE(setenv("EML_SYSFS_ROOT", root, 1) == 0);
    write_file(root, "class/power_supply/BAT0/status", "Charging\n");
    write_file(root, "class/power_supply/BAT0/power_now", "7000000\n");
    cJSON *r = NULL;
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":5,\"warmup\":0}", &r) == 200);
    CHECK(strcmp(str(r, "energy", "source"), "unavailable") == 0);
    CHECK(strcmp(str(r, "energy", "watts"), "unavailable") == 0);
    cJSON_Delete(r);

    write_file(root, "class/hwmon/hwmon0/power1_input", "5000000\n");
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"seconds\":0.2,\"warmup\":0}", &r) ==
          200);
    CHECK(strcmp(str(r, "energy", "source"), "hwmon") == 0);
    double w = num(r, "energy", "watts"), j = num(r, "energy", "joules");
    double runs = num(r, "runs", NULL), dur = num(r, "duration_s", NULL);
    fprintf(stderr, "fake hwmon: %.6f W, %.6f J over %.4f s, %g runs\n", w, j, dur, runs);
    CHECK(fabs(w - 5.0) < 1e-6);
    CHECK(j > 5.0 * dur * 0.9 && j < 5.0 * dur * 1.1 + 0.01);
    CHECK(fabs(num(r, "energy", "joules_per_inference") * runs - j) <= 1e-9 + 1e-9 * j);
    cJSON_Delete(r);

    write_file(root, "class/powercap/intel-rapl:0/energy_uj", "123456\n");
    write_file(root, "class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
    CHECK(run("{\"op\":\"model.bench\",\"model\":\"cnn\",\"runs\":20,\"warmup\":0}", &r) == 200);
    CHECK(strcmp(str(r, "energy", "source"), "rapl") == 0);
    CHECK(num(r, "energy", "joules") == 0);
    CHECK(num(r, "energy", "watts") == 0);
    cJSON_Delete(r);
    unsetenv("EML_SYSFS_ROOT");
    teardown();
}
