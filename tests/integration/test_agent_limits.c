/* The agent's limits over real HTTP: a real edgemld on loopback is pushed past --max-concurrent,
 * --max-queue and --max-body and must answer 503/413 with JSON errors (never crash), serve every
 * request within the limits, and keep serving; and --batch-delay-us 0 (flag, config file, a
 * model's "batching" config) means "no wait", not "the default".
 *
 * Overload is made deterministic by holding requests in the model's queue with a long batch
 * delay and a large max batch: they cannot run before the delay, so the limits are reached for
 * sure. The only clock involved is a guard: when the machine is so slow that the refused
 * requests were not all answered within the delay, the round proves nothing and is repeated
 * with a longer delay (no assertion on time). */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "harness.h"

#define AGENT_TEST_WORK "eml_limits"
#include "agent_util.h"

static void start_agent(const char *const *extra)
{
    agent_start(extra);
}

/* ---- HTTP ---- */

typedef struct reply {
    long code;
    char *body;
    size_t n;
} reply;

static size_t on_body(char *p, size_t size, size_t nmemb, void *user)
{
    reply *r = user;
    size_t k = size * nmemb;
    char *grown = realloc(r->body, r->n + k + 1);
    if (!grown)
        return 0;
    r->body = grown;
    memcpy(r->body + r->n, p, k);
    r->n += k;
    r->body[r->n] = 0;
    return k;
}

/* A body sent in chunks with no Content-Length (the limit must then be enforced as it arrives). */
typedef struct upload {
    const char *data;
    size_t n, at;
} upload;

static size_t on_read(char *p, size_t size, size_t nmemb, void *user)
{
    upload *u = user;
    size_t k = size * nmemb;
    if (k > u->n - u->at)
        k = u->n - u->at;
    memcpy(p, u->data + u->at, k);
    u->at += k;
    return k;
}

/* method path [body] [extra header] [chunked] → reply (body NUL-terminated; free r.body). */
static reply http_ex(const char *method, const char *path, const void *body, size_t n,
                     const char *header, int chunked)
{
    reply r = {0, NULL, 0};
    CURL *c = curl_easy_init();
    REQUIRE(c != NULL);
    char url[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Expect:");
    if (header)
        h = curl_slist_append(h, header);
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    upload u = {body, n, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (body && chunked) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static reply http(const char *method, const char *path, const void *body, size_t n,
                  const char *header)
{
    return http_ex(method, path, body, n, header, 0);
}

static reply post_json(const char *path, const char *json)
{
    return http("POST", path, json, strlen(json), "Content-Type: application/json");
}

/* The reply has the code and a JSON body with an "error" string (and needle, when given). */
static int is_error(const reply *r, long code, const char *needle)
{
    cJSON *j = cJSON_Parse(r->body);
    int ok = r->code == code && cJSON_IsString(cJSON_GetObjectItem(j, "error")) &&
             (!needle || strstr(r->body, needle));
    if (!ok)
        fprintf(stderr, "expected %ld with a JSON error (%s), got %ld: %s\n", code,
                needle ? needle : "", r->code, r->body);
    cJSON_Delete(j);
    return ok;
}

static void deploy(const char *name, const char *config_json)
{
    char body[2400], path[300];
    snprintf(body, sizeof(body), "{\"url\":\"file://%s/model.onnx\"%s%s}", model_dir,
             config_json ? ",\"config\":" : "", config_json ? config_json : "");
    snprintf(path, sizeof(path), "/v2/edgeml/models/%s/deploy", name);
    reply r = post_json(path, body);
    if (r.code != 200)
        fprintf(stderr, "deploy: %ld %s\n", r.code, r.body);
    REQUIRE(r.code == 200);
    free(r.body);
}

/* A JSON infer request for image k. */
static char *infer_json(int k)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *ins = cJSON_AddArrayToObject(req, "inputs");
    cJSON *in = cJSON_CreateObject();
    cJSON_AddItemToArray(ins, in);
    cJSON_AddStringToObject(in, "name", "input");
    cJSON_AddStringToObject(in, "datatype", "FP32");
    int shape[4] = {1, 1, 28, 28};
    cJSON_AddItemToObject(in, "shape", cJSON_CreateIntArray(shape, 4));
    cJSON_AddItemToObject(in, "data", cJSON_CreateFloatArray((const float *)x.data + k * 784, 784));
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return s;
}

/* A 200 whose scores are ONNX Runtime's for image k. */
static int infer_ok(const reply *r, int k)
{
    if (r->code != 200) {
        fprintf(stderr, "infer: %ld %s\n", r->code, r->body);
        return 0;
    }
    cJSON *j = cJSON_Parse(r->body);
    cJSON *out = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    cJSON *data = cJSON_GetObjectItem(out, "data");
    int ok = cJSON_GetArraySize(data) == 10;
    const float *want = (const float *)y.data + k * 10;
    for (int i = 0; ok && i < 10; i++) {
        double got = cJSON_GetArrayItem(data, i)->valuedouble;
        ok = fabs(got - want[i]) <= 1e-4 + 1e-3 * fabs(want[i]);
    }
    if (!ok)
        fprintf(stderr, "infer: wrong scores for image %d: %s\n", k, r->body);
    cJSON_Delete(j);
    return ok;
}

static int infer_now(int k)
{
    char *req = infer_json(k);
    reply r = post_json("/v2/models/fashion_cnn/infer", req);
    int ok = infer_ok(&r, k);
    free(r.body);
    free(req);
    return ok;
}

/* The value of a Prometheus sample "name{labels} " in /metrics; -1 when absent or refused. */
static double metric(const char *sample)
{
    reply r = http("GET", "/metrics", NULL, 0, NULL);
    const char *at = r.code == 200 ? strstr(r.body, sample) : NULL;
    double v = at ? strtod(at + strlen(sample), NULL) : -1;
    free(r.body);
    return v;
}

/* A model's effective batching setting from its metadata; -1 when absent. */
static double batching(const char *model, const char *key)
{
    char path[300];
    snprintf(path, sizeof(path), "/v2/models/%s", model);
    reply r = http("GET", path, NULL, 0, NULL);
    cJSON *j = cJSON_Parse(r.body);
    cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "batching"), key);
    double out = r.code == 200 && cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (out < 0)
        fprintf(stderr, "metadata of %s: %ld %s\n", model, r.code, r.body);
    cJSON_Delete(j);
    free(r.body);
    return out;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds the agent process has used, all its threads (user + system). */
static double agent_cpu_s(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)agent_pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    /* fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                     &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The agent's peak virtual memory (VmPeak), bytes; 0 when unknown. */
static uint64_t agent_vm_peak(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)agent_pid);
    FILE *f = fopen(path, "r");
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmPeak: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- concurrent clients ---- */

typedef struct job {
    pthread_t thread;
    int image;
    reply r;
    double done_s; /* when the reply came back */
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    char *req = infer_json(j->image);
    j->r = post_json("/v2/models/fashion_cnn/infer", req);
    j->done_s = now_s();
    free(req);
    return NULL;
}

static void start_jobs(job *jobs, int n, int first_image)
{
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].image = (first_image + i) % 8;
        REQUIRE(pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]) == 0);
    }
}

static void join_jobs(job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(jobs[i].thread, NULL);
}

static void free_jobs(job *jobs, int n)
{
    for (int i = 0; i < n; i++)
        free(jobs[i].r.body);
}

/* ---- tests ---- */

EML_TEST(batch_delay_zero_means_no_wait)
{
    find_files();
    /* the flag: 0 is no wait; absent is the default 2000 µs */
    const char *zero[] = {"--batch-delay-us", "0", NULL};
    start_agent(zero);
    deploy("fashion_cnn", NULL);
    CHECK(batching("fashion_cnn", "max_queue_delay_us") == 0);
    CHECK(infer_now(2));
    CHECK(stop_agent() == 0);
    start_agent(NULL);
    CHECK(batching("fashion_cnn", "max_queue_delay_us") == 2000);
    CHECK(stop_agent() == 0);

    /* the config file key, a number as JSON allows */
    char cfg[700];
    snprintf(cfg, sizeof(cfg), "%s/edgemld.json", work);
    FILE *f = fopen(cfg, "w");
    REQUIRE(f != NULL);
    fputs("{\"batch-delay-us\": 0, \"max-batch\": 4}\n", f);
    fclose(f);
    const char *from_file[] = {"--config", cfg, NULL};
    start_agent(from_file);
    CHECK(batching("fashion_cnn", "max_queue_delay_us") == 0);
    CHECK(batching("fashion_cnn", "max_batch_size") == 4);
    CHECK(infer_now(3));
    CHECK(stop_agent() == 0);

    /* a model's "batching" config overrides a long agent default with 0 */
    const char *slow[] = {"--batch-delay-us", "300000", NULL};
    start_agent(slow);
    deploy("eager", "{\"batching\":{\"max_queue_delay_us\":0}}");
    CHECK(batching("eager", "max_queue_delay_us") == 0);
    CHECK(batching("fashion_cnn", "max_queue_delay_us") == 300000);
    /* after a reload from the repository too (the deploy's compiled copy was adopted) */
    reply r = http("POST", "/v2/repository/models/eager/unload", NULL, 0, NULL);
    CHECK(r.code == 200);
    free(r.body);
    CHECK(batching("eager", "max_queue_delay_us") == 0);
    CHECK(stop_agent() == 0);
    cleanup();
}

EML_TEST(max_concurrent_refuses_with_503_and_serves_the_rest)
{
    enum { LIMIT = 4, EXTRA = 12 };
    find_files();
    int conclusive = 0;
    for (int delay_ms = 1500; !conclusive && delay_ms <= 24000; delay_ms *= 4) {
        char delay[32];
        snprintf(delay, sizeof(delay), "%d", delay_ms * 1000);
        const char *extra[] = {"--max-concurrent", "4",   "--max-batch", "64",
                               "--batch-delay-us", delay, NULL};
        start_agent(extra);
        deploy("fashion_cnn", NULL);
        CHECK(infer_now(0)); /* loaded: the held requests below only queue */
        double t0 = now_s();
        job held[LIMIT], over[EXTRA];
        start_jobs(held, LIMIT, 0);
        /* All LIMIT are in flight exactly when any other request is refused: poll with one. */
        int full = 0;
        for (int i = 0; i < 20000 && !full; i++) {
            reply r = http("GET", "/v2/health/live", NULL, 0, NULL);
            full = r.code == 503;
            if (!full)
                CHECK(r.code == 200);
            free(r.body);
            if (!full)
                sleep_ms(1);
        }
        if (!full) {
            /* the held requests ran out their delay before the last one arrived (a machine
             * this slow proves nothing): again with a longer delay */
            printf("delay %d ms: the %d requests were never in flight together: again\n",
                   delay_ms, LIMIT);
            join_jobs(held, LIMIT);
            free_jobs(held, LIMIT);
            CHECK(stop_agent() == 0);
            continue;
        }
        start_jobs(over, EXTRA, 3);
        join_jobs(over, EXTRA);
        double last = 0;
        for (int i = 0; i < EXTRA; i++)
            last = over[i].done_s > last ? over[i].done_s : last;
        join_jobs(held, LIMIT);
        /* The held ones ran no earlier than the delay: refusals answered before it prove that
         * they were refused while LIMIT requests were in flight. */
        conclusive = last - t0 < delay_ms / 1e3;
        printf("delay %d ms: refusals answered within %.0f ms%s\n", delay_ms, (last - t0) * 1e3,
               conclusive ? "" : " (too slow to prove anything: again with a longer delay)");
        for (int i = 0; i < LIMIT; i++)
            CHECK(infer_ok(&held[i].r, held[i].image));
        for (int i = 0; conclusive && i < EXTRA; i++)
            CHECK(is_error(&over[i].r, 503, "requests in progress"));
        free_jobs(held, LIMIT);
        free_jobs(over, EXTRA);
        /* still serving, and counted */
        CHECK(infer_now(5));
        if (conclusive)
            CHECK(metric("edgeml_http_requests_total{code=\"503\"} ") >= EXTRA + 1);
        CHECK(stop_agent() == 0);
    }
    CHECK(conclusive);
    cleanup();
}

EML_TEST(max_queue_refuses_with_503)
{
    enum { QUEUE = 3, SENT = 8 };
    find_files();
    int conclusive = 0;
    for (int delay_ms = 1500; !conclusive && delay_ms <= 24000; delay_ms *= 4) {
        char delay[32];
        snprintf(delay, sizeof(delay), "%d", delay_ms * 1000);
        const char *extra[] = {"--max-queue",      "3",   "--max-batch", "64",
                               "--batch-delay-us", delay, NULL};
        start_agent(extra);
        deploy("fashion_cnn", NULL);
        CHECK(infer_now(0));
        double before = metric("edgeml_inference_requests_total{model=\"fashion_cnn\"} ");
        double t0 = now_s();
        /* QUEUE requests fill the queue; the batcher counts each as it arrives */
        job jobs[SENT];
        start_jobs(jobs, QUEUE, 0);
        for (int i = 0; i < 20000; i++) {
            if (metric("edgeml_inference_requests_total{model=\"fashion_cnn\"} ") >= before + QUEUE)
                break;
            sleep_ms(1);
        }
        start_jobs(jobs + QUEUE, SENT - QUEUE, QUEUE);
        join_jobs(jobs + QUEUE, SENT - QUEUE);
        /* While the queued requests wait for the delay, the agent has nothing to do: its worker
         * must sleep, not spin (it once did: a CLOCK_REALTIME condition variable was given a
         * CLOCK_MONOTONIC deadline). Measured in CPU time (a spinning thread gets its share of
         * the CPUs however loaded the machine) over a window that ends before the batch may run,
         * only when the window is long enough to say anything. */
        double quiet_t0 = now_s(), quiet_cpu0 = agent_cpu_s();
        double quiet_end = t0 + 0.9 * delay_ms / 1e3;
        if (quiet_end - quiet_t0 > 0.5 && quiet_cpu0 >= 0) {
            sleep_ms((int)((quiet_end - quiet_t0) * 1e3));
            double quiet_s = now_s() - quiet_t0, quiet_cpu = agent_cpu_s() - quiet_cpu0;
            printf("agent CPU while the queue waited: %.2f s over %.2f s\n", quiet_cpu, quiet_s);
            CHECK(quiet_cpu < 0.05 * quiet_s);
        }
        join_jobs(jobs, QUEUE);
        double last = 0;
        int refused = 0, served = 0;
        for (int i = 0; i < SENT; i++) {
            if (jobs[i].r.code == 503) {
                refused++;
                last = jobs[i].done_s > last ? jobs[i].done_s : last;
                CHECK(is_error(&jobs[i].r, 503, "queue"));
            } else {
                served++;
                CHECK(infer_ok(&jobs[i].r, jobs[i].image));
            }
        }
        /* Which request took which place may vary (they race into the queue), the counts not:
         * nothing ran before the delay, so exactly QUEUE were queued and the rest refused. */
        conclusive = refused > 0 && last - t0 < delay_ms / 1e3;
        printf("delay %d ms: %d served, %d refused within %.0f ms%s\n", delay_ms, served, refused,
               (last - t0) * 1e3, conclusive ? "" : " (inconclusive: again)");
        if (conclusive) {
            CHECK(served == QUEUE && refused == SENT - QUEUE);
            CHECK(metric("edgeml_queue_rejected_total{model=\"fashion_cnn\"} ") == SENT - QUEUE);
        }
        free_jobs(jobs, SENT);
        CHECK(infer_now(6));
        CHECK(stop_agent() == 0);
    }
    CHECK(conclusive);
    cleanup();
}

EML_TEST(max_body_refuses_with_413_and_keeps_serving)
{
    find_files();
    const char *extra[] = {"--max-body", "100K", NULL};
    start_agent(extra);
    deploy("fashion_cnn", NULL);
    const char *infer = "/v2/models/fashion_cnn/infer";
    size_t big = 150 * 1024;
    char *blob = malloc(big);
    REQUIRE(blob != NULL);
    memset(blob, ' ', big);
    /* declared by Content-Length: refused before the body is read */
    reply r = http("POST", infer, blob, big, "Content-Type: application/json");
    CHECK(is_error(&r, 413, "limit"));
    free(r.body);
    /* chunked, no length: refused as it arrives */
    r = http_ex("POST", infer, blob, big, "Content-Type: application/json", 1);
    CHECK(is_error(&r, 413, "limit"));
    free(r.body);
    /* the binary extension, and the raw command route */
    r = http("POST", infer, blob, big, "Inference-Header-Content-Length: 10");
    CHECK(is_error(&r, 413, NULL));
    free(r.body);
    r = http_ex("POST", "/v2/edgeml/command", blob, big, "Content-Type: application/json", 1);
    CHECK(is_error(&r, 413, NULL));
    free(r.body);
    /* just under the limit: a valid request padded with spaces is served */
    char *req = infer_json(4);
    size_t n = strlen(req);
    REQUIRE(n < 100 * 1024);
    memcpy(blob, req, n);
    r = http("POST", infer, blob, 100 * 1024, "Content-Type: application/json");
    CHECK(infer_ok(&r, 4));
    free(r.body);
    free(req);
    /* Within the limit, a small body whose shape claims far more than its data: refused
     * before anything is allocated (it once made the agent allocate 8 GB). */
    size_t at = (size_t)snprintf(blob, big,
                                 "{\"inputs\":[{\"name\":\"input\",\"shape\":"
                                 "[1000,1048576],\"datatype\":\"FP64\",\"data\":[0");
    for (int i = 1; i < 1000; i++)
        at += (size_t)snprintf(blob + at, big - at, ",0");
    at += (size_t)snprintf(blob + at, big - at, "]}]}");
    uint64_t peak = agent_vm_peak();
    r = http("POST", infer, blob, at, "Content-Type: application/json");
    CHECK(is_error(&r, 400, "values for a shape of"));
    free(r.body);
    printf("agent VmPeak %.0f MB before, %.0f MB after\n", peak / 1e6, agent_vm_peak() / 1e6);
    CHECK(agent_vm_peak() < peak + (1ull << 30));
    free(blob);
    CHECK(infer_now(7));
    CHECK(metric("edgeml_http_requests_total{code=\"413\"} ") == 4);
    CHECK(stop_agent() == 0);
    cleanup();
}
