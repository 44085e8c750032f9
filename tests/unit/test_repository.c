/* The model repository: deploys with real health checks on the Fashion-MNIST CNN, each failing
 * step, signatures, rollback, retention, recovery of a folder left by an interrupted deploy. */
#include <sodium.h>

#include "test_repository_util.h"

typedef struct events {
    int states[16];
    int n_states;
    uint32_t serving, previous;
    int n_serving;
    int n_compiled;
    eml_repo *repo;    /* for re-entrant calls from callbacks */
    eml_status nested; /* what a deploy started from a callback returned */
} events;

static void on_state(void *user, const char *model, uint32_t version, eml_model_state state,
                     const eml_diag *diag)
{
    events *ev = user;
    (void)model;
    (void)version;
    if (ev->n_states < 16)
        ev->states[ev->n_states++] = state;
    if (state == EML_MODEL_FAILED)
        CHECK(diag && diag->message[0]);
    if (state == EML_MODEL_WARMING && ev->repo) {
        /* a second deploy of the same model while one runs is refused */
        eml_repo_deploy_options o;
        eml_repo_deploy_options_init(&o);
        o.model_path = repo_model_path;
        ev->nested = eml_repo_deploy(ev->repo, model, &o, NULL, NULL);
        uint32_t cur = 0;
        eml_repo_current(ev->repo, model, &cur); /* queries work from callbacks */
    }
}

static void on_serving(void *user, const char *model, uint32_t version, uint32_t previous)
{
    events *ev = user;
    (void)model;
    ev->serving = version;
    ev->previous = previous;
    ev->n_serving++;
}

static void on_compiled(void *user, const char *model, uint32_t version, eml_graph *graph,
                        eml_plan *plan)
{
    events *ev = user;
    (void)model;
    (void)version;
    ev->n_compiled++;
    /* the handed-over plan runs */
    eml_session *s = NULL;
    CHECK(eml_session_create(plan, NULL, &s, NULL) == EML_OK);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(graph);
}

static eml_repo *open_repo(eml_env *env, const char *dir, uint32_t keep, events *ev)
{
    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.keep_versions = keep;
    ro.n_threads = 1;
    if (ev) {
        ro.user = ev;
        ro.on_state = on_state;
        ro.on_serving = on_serving;
        ro.on_compiled = on_compiled;
    }
    eml_repo *repo = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_repo_create(env, dir, &ro, &repo, &diag), &diag);
    return repo;
}

static eml_status deploy_cnn(eml_repo *repo, const char *model, const char *config,
                             eml_repo_deploy_result *res, eml_diag *diag)
{
    eml_repo_deploy_options o;
    eml_repo_deploy_options_init(&o);
    o.model_path = repo_model_path;
    o.config_json = config;
    return eml_repo_deploy(repo, model, &o, res, diag);
}

EML_TEST(deploy_health_check_from_files)
{
    repo_find_model();
    char dir[512];
    repo_tmpdir(dir, sizeof(dir), "repo");
    eml_env *env = repo_env();
    events ev = {0};
    eml_repo *repo = open_repo(env, dir, 3, &ev);
    ev.repo = repo;

    eml_repo_deploy_result res;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(deploy_cnn(repo, "fashion", repo_cnn_config, &res, &diag), &diag);
    CHECK(res.version == 1);
    CHECK(res.failed_step[0] == '\0');
    CHECK(strlen(res.sha256) == 64);
    CHECK(res.model_bytes > 100000);
    CHECK(res.latency_ms > 0);
    CHECK(ev.nested == EML_ELIMIT);
    CHECK(ev.n_serving == 1 && ev.serving == 1 && ev.previous == 0);
    CHECK(ev.n_compiled == 1);
    /* downloading, verifying, compiling, warming, ready, in that order */
    REQUIRE(ev.n_states == 5);
    for (int i = 0; i < 5; i++)
        CHECK(ev.states[i] == EML_MODEL_DOWNLOADING + i);

    uint32_t cur = 0;
    CHECK_STATUS(eml_repo_current(repo, "fashion", &cur), EML_OK);
    CHECK(cur == 1);
    char path[1024];
    uint32_t v = 0;
    CHECK_STATUS(eml_repo_path(repo, "fashion", 0, EML_REPO_FILE_MODEL, path, sizeof(path), &v),
                 EML_OK);
    CHECK(v == 1 && access(path, R_OK) == 0);
    /* the stored config names its own copies of the health-check files */
    CHECK_STATUS(eml_repo_path(repo, "fashion", 1, EML_REPO_FILE_CONFIG, path, sizeof(path), NULL),
                 EML_OK);
    size_t n = 0;
    char *cfg = eml_test_read_file(path, &n);
    REQUIRE(cfg);
    CHECK(strstr(cfg, "\"file\":\"health/0_in0.pb\"") != NULL);
    CHECK(strstr(cfg, "\"batching\"") != NULL);
    free(cfg);
    CHECK_STATUS(eml_repo_path(repo, "fashion", 1, EML_REPO_FILE_DIR, path, sizeof(path), NULL),
                 EML_OK);
    CHECK(repo_exists(path, "health/0_out0.pb"));
    CHECK(repo_exists(path, "model.sha256"));
    CHECK_STATUS(eml_repo_path(repo, "fashion", 2, EML_REPO_FILE_MODEL, path, sizeof(path), NULL),
                 EML_ENOTFOUND);
    CHECK_STATUS(eml_repo_path(repo, "fashion", 0, EML_REPO_FILE_MODEL, path, 8, NULL), EML_ELIMIT);

    eml_repo_version_info *infos = NULL;
    size_t count = 0;
    REQUIRE(eml_repo_list(repo, NULL, &infos, &count) == EML_OK);
    REQUIRE(count == 1);
    CHECK(!strcmp(infos[0].model, "fashion") && infos[0].version == 1);
    CHECK(infos[0].state == EML_MODEL_READY && infos[0].serving);
    CHECK(!strcmp(infos[0].sha256, res.sha256));
    CHECK(infos[0].deployed_unix > 0);
    eml_repo_list_free(repo, infos);

    eml_graph *g = NULL;
    eml_plan *p = NULL;
    REQUIRE_OK(eml_repo_load(repo, "fashion", 0, &g, &p, &v, &diag), &diag);
    CHECK(v == 1);
    eml_plan_destroy(p);
    eml_graph_destroy(g);

    /* one process at a time */
    eml_repo *other = NULL;
    CHECK_STATUS(eml_repo_create(env, dir, NULL, &other, NULL), EML_ELIMIT);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
    eml__fs_remove_tree(dir);
}

/* The config with the golden data inline, as an HTTP client would send it. */
static char *inline_config(eml_env *env, float bias)
{
    char p[1200];
    eml_tensor in, out;
    snprintf(p, sizeof(p), "%s/test_data_set_0/input_0.pb", repo_model_dir);
    REQUIRE(eml_tensor_read_file(env, p, NULL, &in, NULL) == EML_OK);
    snprintf(p, sizeof(p), "%s/test_data_set_0/output_0.pb", repo_model_dir);
    REQUIRE(eml_tensor_read_file(env, p, NULL, &out, NULL) == EML_OK);
    size_t cap = 1 << 18, len = 0;
    char *s = malloc(cap);
    REQUIRE(s);
    len += (size_t)snprintf(s + len, cap - len,
                            "{\"health_check\":{\"max_latency_ms\":60000,\"cases\":[{\"inputs\":[{"
                            "\"dtype\":\"float32\",\"shape\":[%lld,1,28,28],\"data\":[",
                            (long long)in.dims[0]);
    for (int64_t i = 0; i < eml_tensor_count(&in); i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%.9g", i ? "," : "", ((float *)in.data)[i]);
    len += (size_t)snprintf(s + len, cap - len,
                            "]}],\"outputs\":[{\"name\":\"output\",\"shape\":[%lld,10],\"data\":[",
                            (long long)out.dims[0]);
    for (int64_t i = 0; i < eml_tensor_count(&out); i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%.9g", i ? "," : "",
                                ((float *)out.data)[i] + (i == 3 ? bias : 0.0f));
    snprintf(s + len, cap - len, "]}]}]}}");
    eml_tensor_free(env, &in);
    eml_tensor_free(env, &out);
    return s;
}

EML_TEST(deploy_bytes_inline_data_and_failed_steps)
{
    repo_find_model();
    char dir[512], mdir[600];
    repo_tmpdir(dir, sizeof(dir), "repo");
    snprintf(mdir, sizeof(mdir), "%s/m", dir);
    eml_env *env = repo_env();
    events ev = {0};
    eml_repo *repo = open_repo(env, dir, 3, &ev);
    size_t n = 0;
    unsigned char *bytes = eml_test_read_file(repo_model_path, &n);
    REQUIRE(bytes);
    char *good = inline_config(env, 0.0f), *bad = inline_config(env, 0.5f);

    eml_repo_deploy_options o;
    eml_repo_deploy_options_init(&o);
    o.model_bytes = bytes;
    o.model_bytes_count = n;
    o.config_json = good;
    eml_repo_deploy_result res;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_repo_deploy(repo, "m", &o, &res, &diag), &diag);
    CHECK(res.version == 1);
    char sha[65];
    snprintf(sha, sizeof(sha), "%s", res.sha256);

    /* each failing step leaves version 1 serving and says which step failed and why */
    struct {
        const char *step;
        eml_status status;
        const char *needle;
    } cases[] = {
        {"health_check", EML_ERANGE, "element 3"},
        {"verify", EML_ECORRUPT, "SHA-256"},
        {"load", EML_ECORRUPT, ""},
        {"latency_check", EML_ERANGE, "above the limit"},
        {"request", EML_EINVAL, "config"},
        {"load", EML_EINVAL, "'nope'"},
    };
    unsigned char *corrupt = malloc(n);
    REQUIRE(corrupt);
    memcpy(corrupt, bytes, n);
    memset(corrupt + 10, 0xff, 64);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        eml_repo_deploy_options_init(&o);
        o.model_bytes = bytes;
        o.model_bytes_count = n;
        o.config_json = good;
        if (c == 0)
            o.config_json = bad;
        if (c == 1)
            o.sha256_hex = "00000000000000000000000000000000000000000000000000000000000000ff";
        if (c == 2)
            o.model_bytes = corrupt;
        if (c == 3)
            o.config_json = "{\"health_check\":{\"max_latency_ms\":0.000001}}";
        if (c == 4)
            o.config_json = "{\"health_check\":[1,2]";
        if (c == 5)
            o.config_json = "{\"inputs\":[{\"name\":\"nope\"}]}";
        eml_diag_init(&diag);
        eml_status st = eml_repo_deploy(repo, "m", &o, &res, &diag);
        if (st != cases[c].status || strcmp(res.failed_step, cases[c].step) != 0 ||
            strncmp(diag.message, cases[c].step, strlen(cases[c].step)) != 0 ||
            !strstr(diag.message, cases[c].needle)) {
            fprintf(stderr, "case %zu: %s at '%s': %s\n", c, eml_status_name(st), res.failed_step,
                    diag.message);
            CHECK(0);
        }
        uint32_t cur = 0;
        CHECK(eml_repo_current(repo, "m", &cur) == EML_OK && cur == 1);
        CHECK(repo_count_hidden(mdir) == 0);
        if (c == 0) {
            eml_repo_version_info *infos = NULL;
            size_t count = 0;
            REQUIRE(eml_repo_list(repo, "m", &infos, &count) == EML_OK);
            REQUIRE(count == 2);
            CHECK(infos[1].state == EML_MODEL_FAILED && infos[1].version == 2);
            CHECK(!strcmp(infos[1].failed_step, "health_check"));
            CHECK(strstr(infos[1].message, "element 3") != NULL);
            eml_repo_list_free(repo, infos);
        }
    }
    /* a good deploy after failures gets a fresh number, and the right hash passes */
    eml_repo_deploy_options_init(&o);
    o.model_bytes = bytes;
    o.model_bytes_count = n;
    o.sha256_hex = sha;
    REQUIRE_OK(eml_repo_deploy(repo, "m", &o, &res, &diag), &diag);
    CHECK(res.version > 2);
    CHECK(ev.n_serving == 2);

    /* refused arguments */
    CHECK_STATUS(eml_repo_deploy(repo, "../x", &o, &res, NULL), EML_EINVAL);
    CHECK_STATUS(eml_repo_deploy(repo, ".hidden", &o, &res, NULL), EML_EINVAL);
    o.model_path = repo_model_path; /* both bytes and path */
    CHECK_STATUS(eml_repo_deploy(repo, "m", &o, &res, NULL), EML_EINVAL);
    CHECK(!strcmp(res.failed_step, "request"));
    eml_repo_deploy_options_init(&o);
    o.model_bytes = bytes;
    o.model_bytes_count = n;
    o.config_json = "{\"health_check\":{\"cases\":[{\"inputs\":[{\"file\":\"/etc/passwd\"}]}]}}";
    CHECK_STATUS(eml_repo_deploy(repo, "m", &o, &res, &diag), EML_EINVAL);
    o.config_json = "{\"health_check\":{\"cases\":[{\"inputs\":[{\"file\":\"x.pb\"}]}]}}";
    CHECK_STATUS(eml_repo_deploy(repo, "m", &o, &res, &diag), EML_EINVAL); /* no base folder */

    free(corrupt);
    free(good);
    free(bad);
    free(bytes);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
    eml__fs_remove_tree(dir);
}

EML_TEST(signatures)
{
    repo_find_model();
    REQUIRE(sodium_init() >= 0);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char pk2[crypto_sign_PUBLICKEYBYTES], sk2[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    char pk_hex[65];
    sodium_bin2hex(pk_hex, sizeof(pk_hex), pk, sizeof(pk));
    size_t n = 0;
    unsigned char *bytes = eml_test_read_file(repo_model_path, &n);
    REQUIRE(bytes);
    unsigned char sig[64], sig2[64];
    crypto_sign_detached(sig, NULL, bytes, n, sk);
    crypto_sign_detached(sig2, NULL, bytes, n, sk2);
    char sig_hex[129], sig2_hex[129];
    sodium_bin2hex(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
    sodium_bin2hex(sig2_hex, sizeof(sig2_hex), sig2, sizeof(sig2));

    char dir[512];
    repo_tmpdir(dir, sizeof(dir), "repo");
    eml_env *env = repo_env();
    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.trusted_key_hex = "abc";
    eml_repo *repo = NULL;
    CHECK_STATUS(eml_repo_create(env, dir, &ro, &repo, NULL), EML_EINVAL);
    ro.trusted_key_hex = pk_hex;
    REQUIRE(eml_repo_create(env, dir, &ro, &repo, NULL) == EML_OK);

    eml_repo_deploy_options o;
    eml_repo_deploy_options_init(&o);
    o.model_bytes = bytes;
    o.model_bytes_count = n;
    eml_repo_deploy_result res;
    eml_diag diag;
    CHECK_STATUS(eml_repo_deploy(repo, "s", &o, &res, &diag), EML_EINVAL); /* unsigned */
    CHECK(!strcmp(res.failed_step, "verify"));
    o.signature_hex = sig2_hex; /* signed by another key */
    CHECK_STATUS(eml_repo_deploy(repo, "s", &o, &res, &diag), EML_ECORRUPT);
    CHECK(!strcmp(res.failed_step, "verify") && strstr(diag.message, "signature"));
    CHECK_STATUS(eml_repo_current(repo, "s", NULL), EML_ENOTFOUND);
    CHECK(!repo_exists(dir, "s")); /* a first deploy that failed leaves no folder */
    eml_repo_version_info *infos = NULL;
    size_t count = 0;
    REQUIRE(eml_repo_list(repo, NULL, &infos, &count) == EML_OK);
    REQUIRE(count == 1); /* but is listed, with its reason */
    CHECK(!strcmp(infos[0].model, "s") && infos[0].state == EML_MODEL_FAILED);
    CHECK(!strcmp(infos[0].failed_step, "verify") && strstr(infos[0].message, "signature"));
    eml_repo_list_free(repo, infos);
    o.signature_hex = sig_hex;
    REQUIRE_OK(eml_repo_deploy(repo, "s", &o, &res, &diag), &diag);
    char path[1024];
    CHECK_STATUS(eml_repo_path(repo, "s", 0, EML_REPO_FILE_SIGNATURE, path, sizeof(path), NULL),
                 EML_OK);
    CHECK(access(path, R_OK) == 0);
    free(bytes);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
    eml__fs_remove_tree(dir);
}

EML_TEST(rollback_and_retention)
{
    repo_find_model();
    char dir[512], mdir[600];
    repo_tmpdir(dir, sizeof(dir), "repo");
    snprintf(mdir, sizeof(mdir), "%s/r", dir);
    eml_env *env = repo_env();
    events ev = {0};
    eml_repo *repo = open_repo(env, dir, 3, &ev);
    eml_diag diag;
    eml_diag_init(&diag);
    uint32_t serving = 0;
    CHECK_STATUS(eml_repo_rollback(repo, "r", 0, &serving, NULL), EML_ENOTFOUND);
    for (int i = 0; i < 3; i++)
        REQUIRE_OK(deploy_cnn(repo, "r", NULL, NULL, &diag), &diag);
    /* undo twice: 3 → 2 → 1, then nothing before 1 */
    REQUIRE_OK(eml_repo_rollback(repo, "r", 0, &serving, &diag), &diag);
    CHECK(serving == 2 && ev.serving == 2 && ev.previous == 3);
    REQUIRE_OK(eml_repo_rollback(repo, "r", 0, &serving, &diag), &diag);
    CHECK(serving == 1);
    CHECK_STATUS(eml_repo_rollback(repo, "r", 0, &serving, &diag), EML_ENOTFOUND);
    /* a named version, then undo goes back to where it came from */
    REQUIRE_OK(eml_repo_rollback(repo, "r", 3, &serving, &diag), &diag);
    CHECK(serving == 3);
    REQUIRE_OK(eml_repo_rollback(repo, "r", 0, &serving, &diag), &diag);
    CHECK(serving == 1);
    CHECK_STATUS(eml_repo_rollback(repo, "r", 7, &serving, &diag), EML_ENOTFOUND);
    CHECK_STATUS(eml_repo_rollback(repo, "nothing", 0, &serving, &diag), EML_ENOTFOUND);

    /* serving 1; deploy 4: kept are 4, 1 (the one it replaced), and the newest other, 3 */
    eml_repo_deploy_result res;
    REQUIRE_OK(deploy_cnn(repo, "r", NULL, &res, &diag), &diag);
    CHECK(res.version == 4 && res.retired_count == 1);
    CHECK(repo_exists(mdir, "4") && repo_exists(mdir, "3") && repo_exists(mdir, "1"));
    CHECK(!repo_exists(mdir, "2"));
    CHECK(repo_count_hidden(mdir) == 0);
    eml_repo_version_info *infos = NULL;
    size_t count = 0;
    REQUIRE(eml_repo_list(repo, "r", &infos, &count) == EML_OK);
    REQUIRE(count == 3);
    CHECK(infos[0].version == 1 && infos[0].state == EML_MODEL_RETIRED && !infos[0].serving);
    CHECK(infos[2].version == 4 && infos[2].state == EML_MODEL_READY && infos[2].serving);
    eml_repo_list_free(repo, infos);
    REQUIRE_OK(eml_repo_rollback(repo, "r", 0, &serving, &diag), &diag);
    CHECK(serving == 1);

    /* the state survives a restart */
    eml_repo_destroy(repo);
    repo = open_repo(env, dir, 3, NULL);
    CHECK(eml_repo_current(repo, "r", &serving) == EML_OK && serving == 1);
    CHECK(eml_repo_recovered_count(repo) == 0);
    eml_repo_destroy(repo);

    /* options refused */
    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.keep_versions = 1000;
    CHECK_STATUS(eml_repo_create(env, dir, &ro, &repo, NULL), EML_EINVAL);
    eml_repo_options_init(&ro);
    ro.optimize_level = 3;
    CHECK_STATUS(eml_repo_create(env, dir, &ro, &repo, NULL), EML_EINVAL);
    CHECK_STATUS(eml_repo_create(env, "/proc/nope/repo", NULL, &repo, NULL), EML_EIO);
    eml_env_destroy(env);
    eml__fs_remove_tree(dir);
}

EML_TEST(recovery_of_leftovers)
{
    repo_find_model();
    char dir[512], mdir[600], a[700], b[700];
    repo_tmpdir(dir, sizeof(dir), "repo");
    snprintf(mdir, sizeof(mdir), "%s/x", dir);
    eml_env *env = repo_env();
    eml_repo *repo = open_repo(env, dir, 3, NULL);
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(deploy_cnn(repo, "x", NULL, NULL, &diag), &diag);
    REQUIRE_OK(deploy_cnn(repo, "x", NULL, NULL, &diag), &diag);
    eml_repo_destroy(repo);

    /* a committed version not yet renamed into place, a retirement renamed but not committed,
     * an interrupted deploy, a half-written manifest, a first deploy of another model */
    snprintf(a, sizeof(a), "%s/2", mdir);
    snprintf(b, sizeof(b), "%s/.tmp-2", mdir);
    REQUIRE(rename(a, b) == 0);
    snprintf(a, sizeof(a), "%s/1", mdir);
    snprintf(b, sizeof(b), "%s/.del-1", mdir);
    REQUIRE(rename(a, b) == 0);
    snprintf(a, sizeof(a), "%s/.tmp-3", mdir);
    REQUIRE(mkdir(a, 0755) == 0);
    snprintf(a, sizeof(a), "%s/.tmp-3/model.onnx", mdir);
    FILE *f = fopen(a, "w");
    REQUIRE(f);
    fputs("half", f);
    fclose(f);
    snprintf(a, sizeof(a), "%s/current.tmp", mdir);
    f = fopen(a, "w");
    REQUIRE(f);
    fputs("edgeml-repo", f);
    fclose(f);
    snprintf(a, sizeof(a), "%s/y", dir);
    REQUIRE(mkdir(a, 0755) == 0);
    snprintf(a, sizeof(a), "%s/y/.tmp-1", dir);
    REQUIRE(mkdir(a, 0755) == 0);

    repo = open_repo(env, dir, 3, NULL);
    CHECK(eml_repo_recovered_count(repo) == 5);
    uint32_t cur = 0;
    CHECK(eml_repo_current(repo, "x", &cur) == EML_OK && cur == 2);
    CHECK(repo_exists(mdir, "1") && repo_exists(mdir, "2"));
    CHECK(repo_count_hidden(mdir) == 0);
    CHECK(!repo_exists(dir, "y"));
    eml_graph *g = NULL;
    eml_plan *p = NULL;
    REQUIRE_OK(eml_repo_load(repo, "x", 1, &g, &p, NULL, &diag), &diag);
    eml_plan_destroy(p);
    eml_graph_destroy(g);

    /* a file changed on disk is caught when loaded: the mapped weights loads serve from, and
     * model.onnx when the version has no mapped copy */
    char path[1024];
    REQUIRE(eml_repo_path(repo, "x", 2, EML_REPO_FILE_DIR, path, sizeof(path), NULL) == EML_OK);
    strcat(path, "/weights.bin");
    f = fopen(path, "r+b");
    REQUIRE(f);
    fseek(f, 1000, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    CHECK_STATUS(eml_repo_load(repo, "x", 2, &g, &p, NULL, &diag), EML_ECORRUPT);
    CHECK(strstr(diag.message, "weights.bin") != NULL);
    CHECK(g == NULL && p == NULL);
    REQUIRE(eml_repo_path(repo, "x", 2, EML_REPO_FILE_DIR, path, sizeof(path), NULL) == EML_OK);
    strcat(path, "/weights.sha256");
    REQUIRE(unlink(path) == 0);
    REQUIRE(eml_repo_path(repo, "x", 2, EML_REPO_FILE_MODEL, path, sizeof(path), NULL) == EML_OK);
    f = fopen(path, "r+b");
    REQUIRE(f);
    fseek(f, 1000, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    CHECK_STATUS(eml_repo_load(repo, "x", 2, &g, &p, NULL, &diag), EML_ECORRUPT);
    CHECK(strstr(diag.message, "model.onnx") != NULL);
    CHECK(g == NULL && p == NULL);

    /* a manifest that cannot be read: listed as failed, deploys refused, nothing removed */
    eml_repo_destroy(repo);
    snprintf(a, sizeof(a), "%s/current", mdir);
    f = fopen(a, "w");
    REQUIRE(f);
    fputs("garbage\n", f);
    fclose(f);
    repo = open_repo(env, dir, 3, NULL);
    eml_repo_version_info *infos = NULL;
    size_t count = 0;
    REQUIRE(eml_repo_list(repo, NULL, &infos, &count) == EML_OK);
    REQUIRE(count == 1);
    CHECK(infos[0].state == EML_MODEL_FAILED && strstr(infos[0].message, "cannot be parsed"));
    eml_repo_list_free(repo, infos);
    CHECK_STATUS(deploy_cnn(repo, "x", NULL, NULL, &diag), EML_ECORRUPT);
    CHECK(repo_exists(mdir, "1") && repo_exists(mdir, "2"));
    eml_repo_destroy(repo);
    eml_env_destroy(env);
    eml__fs_remove_tree(dir);
}
