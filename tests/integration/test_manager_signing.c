/* Signed artifacts: the site's Ed25519 key (made once, kept across opens, 0600, a malformed key
 * file refused and left untouched), the local node that accepts only the site's signature,
 * the agent's checks of a deploy's signature, hash and inline bytes, and over a real mosquitto
 * two edgemld nodes: one trusting the site's site.pub (it accepts, and gets the small model
 * inline: it cannot reach any HTTP server), one trusting another key (it refuses and keeps
 * serving), and a model above push_max_bytes that goes by URL. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "edgeml/edgeml.h"
#include "harness.h"
#include "mqtt_util.h"
#include "process_util.h"

#define N_NODES 2

static char work[512], model_path[1024], edgemld[1024], broker[64];
static pid_t broker_pid, node_pid[N_NODES];
static eml_env *env;
static eml_tensor x, y; /* the model's test images and ONNX Runtime's scores */

/* A failed REQUIRE exits: no child may outlive the test (CTest would wait for it). */
static void kill_children(void)
{
    for (int i = 0; i < N_NODES; i++)
        proc_stop(&node_pid[i], SIGKILL);
    proc_stop(&broker_pid, SIGKILL);
}

static void setup(void)
{
    const char *src = eml_test_source_dir(), *bin = getenv("EML_BINARY_DIR");
    if (!src || !bin)
        eml_test_skip("EML_SOURCE_DIR or EML_BINARY_DIR not set");
    snprintf(edgemld, sizeof(edgemld), "%s/edgemld", bin);
    snprintf(model_path, sizeof(model_path), "%s/models/fashion_cnn/model.onnx", src);
    if (access(model_path, R_OK) != 0)
        eml_test_skip("models/fashion_cnn/model.onnx not found");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_sign_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    atexit(kill_children);
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    char path[1200];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/test_data_set_0/input_0.npy", src);
    REQUIRE_OK(eml_tensor_read_file(env, path, NULL, &x, &d), &d);
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/test_data_set_0/output_0.npy", src);
    REQUIRE_OK(eml_tensor_read_file(env, path, NULL, &y, &d), &d);
    REQUIRE(sodium_init() >= 0);
}

static void teardown(void)
{
    kill_children();
    eml_tensor_free(env, &x);
    eml_tensor_free(env, &y);
    eml_env_destroy(env);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static eml_manager *open_site(const char *site, const char *brk, uint64_t push_max, eml_status *st,
                              eml_diag *d)
{
    eml_manager_options o;
    eml_manager_options_init(&o);
    CHECK(o.push_max_bytes == 256 * 1024);
    o.home = work;
    o.broker = brk;
    o.n_threads = 1;
    o.push_max_bytes = push_max;
    eml_manager *m = NULL;
    *st = eml_manager_open(site, &o, &m, d);
    return m;
}

static eml_manager *open_ok(const char *site, const char *brk, uint64_t push_max)
{
    eml_diag d;
    eml_diag_init(&d);
    eml_status st;
    eml_manager *m = open_site(site, brk, push_max, &st, &d);
    REQUIRE_OK(st, &d);
    return m;
}

/* The file's text, trailing newline kept; "" when it cannot be read. */
static void read_text(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fputs(text, f);
    REQUIRE(fclose(f) == 0);
}

static void site_file(char *buf, size_t cap, const char *site, const char *name)
{
    snprintf(buf, cap, "%s/%s/%s", work, site, name);
}

static int has(const eml_diag *d, const char *text)
{
    return strstr(eml_test_diag_message(d), text) != NULL;
}

static int argmax(const float *s, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (s[k] > s[best])
            best = k;
    return best;
}

/* Runs test image 0 on the node: the predicted class (-1 on failure, *st then says why) and
 * the node's version that ran. */
static int classify(eml_manager *m, const char *node, uint32_t *version, eml_status *st,
                    eml_diag *d)
{
    eml_tensor t = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, x.data};
    eml_infer_result r;
    *st = eml_manager_infer(m, node, "fashion_cnn", &t, 1, &r, d);
    int cls = -1;
    if (*st == EML_OK && r.output_count == 1 && r.outputs[0].tensor.dtype == EML_DTYPE_F32)
        cls = argmax(r.outputs[0].tensor.data, 10);
    if (version)
        *version = r.version;
    eml_infer_result_deinit(&r);
    return cls;
}

static eml_status deploy(eml_manager *m, const char *node, eml_deploy_result *r, eml_diag *d)
{
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = "fashion_cnn";
    desc.type = "classification";
    desc.file = model_path;
    return eml_manager_deploy(m, &desc, node, r, d);
}

/* ---- the key files ---- */

EML_TEST(site_key_created_once)
{
    setup();
    eml_manager *m = open_ok("s1", NULL, 256 * 1024);
    char pub[65], key_path[700], pub_path[700], text[512];
    REQUIRE(eml_manager_public_key(m, pub) == EML_OK);
    CHECK(strlen(pub) == 64 && strspn(pub, "0123456789abcdef") == 64);
    site_file(key_path, sizeof(key_path), "s1", "site.key");
    site_file(pub_path, sizeof(pub_path), "s1", "site.pub");
    struct stat ks, ks2;
    REQUIRE(stat(key_path, &ks) == 0);
    CHECK((ks.st_mode & 0777) == 0600);
    CHECK(ks.st_size == 129); /* 128 hex digits and a newline */
    read_text(pub_path, text, sizeof(text));
    CHECK(strlen(text) == 65 && strncmp(text, pub, 64) == 0 && text[64] == '\n');
    /* the secret key's public half is the published key */
    read_text(key_path, text, sizeof(text));
    CHECK(strncmp(text + 64, pub, 64) == 0);
    eml_manager_close(m);
    /* no temporary file is left beside them */
    char tmp_glob[800];
    snprintf(tmp_glob, sizeof(tmp_glob), "ls '%s/s1' | grep -q tmp", work);
    CHECK(system(tmp_glob) != 0);

    /* Reopened: the same key, the file not rewritten. */
    m = open_ok("s1", NULL, 256 * 1024);
    char pub2[65];
    eml_manager_public_key(m, pub2);
    CHECK(strcmp(pub, pub2) == 0);
    eml_manager_close(m);
    REQUIRE(stat(key_path, &ks2) == 0);
    CHECK(ks2.st_ino == ks.st_ino && ks2.st_mtime == ks.st_mtime && ks2.st_size == ks.st_size);

    /* site.pub is derived: a removed one is written again, the same. */
    REQUIRE(unlink(pub_path) == 0);
    m = open_ok("s1", NULL, 256 * 1024);
    eml_manager_close(m);
    read_text(pub_path, text, sizeof(text));
    CHECK(strncmp(text, pub, 64) == 0);

    /* A site made before sites had keys gets one on its next open. */
    REQUIRE(unlink(key_path) == 0 && unlink(pub_path) == 0);
    m = open_ok("s1", NULL, 256 * 1024);
    eml_manager_public_key(m, pub2);
    eml_manager_close(m);
    CHECK(strcmp(pub, pub2) != 0);
    REQUIRE(stat(key_path, &ks) == 0);
    CHECK((ks.st_mode & 0777) == 0600);
    read_text(pub_path, text, sizeof(text));
    CHECK(strncmp(text, pub2, 64) == 0);
    teardown();
}

EML_TEST(site_key_malformed_refused)
{
    setup();
    eml_manager *m = open_ok("s2", NULL, 0);
    eml_manager_close(m);
    char key_path[700], pub_path[700], good[512], text[512];
    site_file(key_path, sizeof(key_path), "s2", "site.key");
    site_file(pub_path, sizeof(pub_path), "s2", "site.pub");
    read_text(key_path, good, sizeof(good));
    eml_diag d;
    eml_diag_init(&d);
    eml_status st;

    /* Not hex: refused, named, untouched. */
    write_text(key_path, "not a key\n");
    m = open_site("s2", NULL, 0, &st, &d);
    CHECK(m == NULL && st == EML_ECORRUPT);
    CHECK(has(&d, key_path) && has(&d, "not an Ed25519 secret key"));
    fprintf(stderr, "malformed: %s\n", eml_test_diag_message(&d));
    read_text(key_path, text, sizeof(text));
    CHECK(strcmp(text, "not a key\n") == 0);

    /* 128 hex digits whose halves do not belong together (a flipped digit). */
    char bad[512];
    snprintf(bad, sizeof(bad), "%s", good);
    bad[100] = bad[100] == '0' ? '1' : '0';
    write_text(key_path, bad);
    eml_diag_init(&d);
    m = open_site("s2", NULL, 0, &st, &d);
    CHECK(m == NULL && st == EML_ECORRUPT && has(&d, key_path) && has(&d, "damaged"));
    fprintf(stderr, "damaged: %s\n", eml_test_diag_message(&d));
    read_text(key_path, text, sizeof(text));
    CHECK(strcmp(text, bad) == 0);

    /* The secret key back; a site.pub that is not its public key is refused, untouched. */
    write_text(key_path, good);
    write_text(pub_path, "00000000000000000000000000000000000000000000000000000000000000ff\n");
    eml_diag_init(&d);
    m = open_site("s2", NULL, 0, &st, &d);
    CHECK(m == NULL && st == EML_ECORRUPT && has(&d, pub_path));
    fprintf(stderr, "mismatch: %s\n", eml_test_diag_message(&d));
    read_text(pub_path, text, sizeof(text));
    CHECK(strncmp(text, "0000", 4) == 0);
    /* removed, it is written again from site.key and the site opens */
    REQUIRE(unlink(pub_path) == 0);
    m = open_ok("s2", NULL, 0);
    eml_manager_close(m);
    teardown();
}

/* ---- the embedded default ---- */

EML_TEST(local_node_accepts_site_signature)
{
    setup();
    eml_manager *m = open_ok("s3", NULL, 256 * 1024);
    char pub[65];
    eml_manager_public_key(m, pub);
    eml_diag d;
    eml_diag_init(&d);
    eml_deploy_result dr;
    REQUIRE_OK(deploy(m, "local", &dr, &d), &d);
    CHECK(dr.version == 1 && dr.node_version == 1);
    eml_status st;
    CHECK(classify(m, "local", NULL, &st, &d) == argmax(y.data, 10));
    eml_manager_close(m);

    /* The local node kept the signature it was given: it verifies with the site's key over
     * the bytes the node serves. */
    char repo_dir[700], path[4096], sig_hex[256];
    snprintf(repo_dir, sizeof(repo_dir), "%s/s3/nodes/local/repo", work);
    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.trusted_key_hex = pub; /* the same key the manager gave its local node */
    eml_repo *repo = NULL;
    REQUIRE_OK(eml_repo_create(env, repo_dir, &ro, &repo, &d), &d);
    REQUIRE(eml_repo_path(repo, "fashion_cnn", 0, EML_REPO_FILE_SIGNATURE, path, sizeof(path),
                          NULL) == EML_OK);
    read_text(path, sig_hex, sizeof(sig_hex));
    REQUIRE(eml_repo_path(repo, "fashion_cnn", 0, EML_REPO_FILE_MODEL, path, sizeof(path), NULL) ==
            EML_OK);
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    REQUIRE(bytes != NULL);
    uint8_t sig[64], pk[32];
    REQUIRE(sodium_hex2bin(sig, 64, sig_hex, strlen(sig_hex), "\n", NULL, NULL) == 0);
    REQUIRE(sodium_hex2bin(pk, 32, pub, 64, NULL, NULL, NULL) == 0);
    CHECK(crypto_sign_verify_detached(sig, bytes, n, pk) == 0);
    free(bytes);
    eml_repo_destroy(repo);
    teardown();
}

/* ---- the agent's checks, in process ---- */

/* Runs one command; returns the reply text (freed by the caller) and its HTTP code. */
static char *command(eml_agent *a, const char *json, int *code)
{
    char *reply = NULL;
    REQUIRE(eml_agent_command(a, json, strlen(json), &reply, code) == EML_OK);
    return reply;
}

/* A model.deploy of `b64` with sha256 and signature (NULL: left out) and extra JSON. */
static char *deploy_json(const char *b64, const char *sha, const char *sig, const char *extra)
{
    size_t cap = strlen(b64) + 1024;
    char *j = malloc(cap);
    REQUIRE(j != NULL);
    int n = snprintf(j, cap,
                     "{\"op\": \"model.deploy\", \"model\": \"m\", \"model_base64\": \"%s\"", b64);
    if (sha)
        n += snprintf(j + n, cap - (size_t)n, ", \"sha256\": \"%s\"", sha);
    if (sig)
        n += snprintf(j + n, cap - (size_t)n, ", \"signature\": \"%s\"", sig);
    snprintf(j + n, cap - (size_t)n, "%s}", extra ? extra : "");
    return j;
}

static int reply_has(const char *reply, const char *text)
{
    int ok = strstr(reply, text) != NULL;
    if (!ok)
        fprintf(stderr, "reply without '%s': %.400s\n", text, reply);
    return ok;
}

EML_TEST(agent_refuses_bad_signature)
{
    setup();
    /* The site's key pair, as the manager keeps it. */
    eml_manager *m = open_ok("s4", NULL, 256 * 1024);
    char pub[65], key_path[700], sk_hex[512];
    eml_manager_public_key(m, pub);
    eml_manager_close(m);
    site_file(key_path, sizeof(key_path), "s4", "site.key");
    read_text(key_path, sk_hex, sizeof(sk_hex));
    uint8_t sk[64];
    REQUIRE(sodium_hex2bin(sk, 64, sk_hex, 128, NULL, NULL, NULL) == 0);

    size_t n = 0;
    uint8_t *bytes = eml_test_read_file(model_path, &n);
    REQUIRE(bytes != NULL);
    uint8_t sig[64], hash[32];
    crypto_sign_detached(sig, NULL, bytes, n, sk);
    crypto_hash_sha256(hash, bytes, n);
    char sig_hex[129], bad_sig[129], sha[65], bad_sha[65];
    sodium_bin2hex(sig_hex, sizeof(sig_hex), sig, 64);
    sodium_bin2hex(sha, sizeof(sha), hash, 32);
    snprintf(bad_sig, sizeof(bad_sig), "%s", sig_hex);
    bad_sig[10] = bad_sig[10] == 'a' ? 'b' : 'a';
    snprintf(bad_sha, sizeof(bad_sha), "%s", sha);
    bad_sha[0] = bad_sha[0] == 'a' ? 'b' : 'a';
    size_t b64_cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_cap);
    REQUIRE(b64 != NULL);
    sodium_bin2base64(b64, b64_cap, bytes, n, sodium_base64_VARIANT_ORIGINAL);

    char repo[700];
    snprintf(repo, sizeof(repo), "%s/agent_repo", work);
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.listen = NULL;
    o.n_threads = 1;
    o.trusted_key_hex = pub;
    o.max_model_bytes = 1 << 20;
    eml_agent *a = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_agent_create(&o, &a, &d), &d);
    int code = 0;

    /* Signed by the site: accepted, inline. */
    char *j = deploy_json(b64, sha, sig_hex, NULL);
    char *r = command(a, j, &code);
    CHECK(code == 200 && reply_has(r, "\"version\":1") && reply_has(r, "\"source\":\"inline\""));
    free(r);
    free(j);

    /* A tampered signature: corrupt, with the reason; nothing new serves. */
    j = deploy_json(b64, sha, bad_sig, NULL);
    r = command(a, j, &code);
    CHECK(code == 400 && reply_has(r, "\"status\":\"corrupt\"") &&
          reply_has(r, "signature does not match"));
    fprintf(stderr, "tampered signature: %s\n", r);
    free(r);
    free(j);
    /* A tampered hash. */
    j = deploy_json(b64, bad_sha, sig_hex, NULL);
    r = command(a, j, &code);
    CHECK(code == 400 && reply_has(r, "\"status\":\"corrupt\"") && reply_has(r, "SHA-256"));
    free(r);
    free(j);
    /* No signature, on a node with a trusted key. */
    j = deploy_json(b64, sha, NULL, NULL);
    r = command(a, j, &code);
    CHECK(code == 400 && reply_has(r, "invalid_argument") && reply_has(r, "requires signed"));
    free(r);
    free(j);
    /* Inline and a URL at once. */
    j = deploy_json(b64, sha, sig_hex, ", \"url\": \"file:///nonexistent.onnx\"");
    r = command(a, j, &code);
    CHECK(code == 400 && reply_has(r, "invalid_argument") && reply_has(r, "not several"));
    free(r);
    free(j);
    /* Not base64. */
    j = deploy_json("abc$def=", sha, sig_hex, NULL);
    r = command(a, j, &code);
    CHECK(code == 400 && reply_has(r, "invalid_argument") && reply_has(r, "not base64"));
    free(r);
    free(j);
    /* Above the agent's model limit (1 MiB here): refused before decoding. */
    size_t big = (size_t)(2 << 20) / 3 * 4;
    char *zeros = malloc(big + 1);
    REQUIRE(zeros != NULL);
    memset(zeros, 'A', big);
    zeros[big] = 0;
    j = deploy_json(zeros, NULL, NULL, NULL);
    r = command(a, j, &code);
    CHECK(code == 413 && reply_has(r, "too_large"));
    free(r);
    free(j);
    free(zeros);

    /* Version 1 still serves, the only one the node kept. */
    r = command(a, "{\"op\": \"model.versions\", \"model\": \"m\"}", &code);
    CHECK(code == 200 && reply_has(r, "\"version\":1,\"state\":\"ready\",\"serving\":true"));
    CHECK(strstr(r, "\"version\":2,\"state\":\"ready\"") == NULL);
    free(r);
    eml_agent_destroy(a);
    free(b64);
    free(bytes);
    teardown();
}

/* ---- two edgemld nodes over MQTT ---- */

/* Starts edgemld node i with extra options; proxy 1: every HTTP download of the node goes
 * through a proxy nobody listens on, so it cannot fetch any artifact by URL. */
static void start_node(int i, const char *key_opt, const char *key, int proxy)
{
    char repo[700], id[16], log[700];
    snprintf(repo, sizeof(repo), "%s/node%d", work, i + 1);
    snprintf(id, sizeof(id), "n%d", i + 1);
    snprintf(log, sizeof(log), "%s/node%d.log", work, i + 1);
    char *argv[] = {edgemld, "--repo",    repo,  "--listen",      "off",       "--broker",
                    broker,  "--site",    "sig", "--node-id",     id,          "--heartbeat-s",
                    "1",     "--threads", "1",   (char *)key_opt, (char *)key, NULL};
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(log, "w", stdout);
        if (f)
            dup2(fileno(f), 2);
        if (proxy) {
            unsetenv("no_proxy");
            unsetenv("NO_PROXY");
            setenv("http_proxy", "http://127.0.0.1:1", 1);
            setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    node_pid[i] = pid;
}

static int nodes_online(eml_manager *m)
{
    eml_site_status ss;
    eml_diag d;
    eml_diag_init(&d);
    return eml_manager_status(m, &ss, &d) == EML_OK ? (int)ss.nodes_online : -1;
}

EML_TEST(mqtt_signed_push_and_refusal)
{
    if (access(MOSQUITTO, X_OK) != 0)
        eml_test_skip(MOSQUITTO " is not installed (apt-get install mosquitto)");
    setup();
    if (access(edgemld, X_OK) != 0)
        eml_test_skip("edgemld is not built");
    snprintf(broker, sizeof(broker), "mqtt://127.0.0.1:%d", mqtt_free_port());
    int port = atoi(strrchr(broker, ':') + 1);
    eml_diag d;
    eml_diag_init(&d);

    /* Another site's key: what n2 trusts. */
    eml_manager *other = open_ok("other", NULL, 0);
    char other_pub[65];
    eml_manager_public_key(other, other_pub);
    eml_manager_close(other);

    /* n2 already serves fashion_cnn v1 (put in its repository before it starts). */
    char repo[700];
    snprintf(repo, sizeof(repo), "%s/node2", work);
    eml_repo *r = NULL;
    REQUIRE_OK(eml_repo_create(env, repo, NULL, &r, &d), &d);
    eml_repo_deploy_options ro;
    eml_repo_deploy_options_init(&ro);
    ro.model_path = model_path;
    REQUIRE_OK(eml_repo_deploy(r, "fashion_cnn", &ro, NULL, &d), &d);
    eml_repo_destroy(r);

    broker_pid = mqtt_start_broker(work, port, 1);
    /* Everything up to 1 MiB is pushed: the 810 KiB Fashion CNN goes inline. */
    eml_manager *m = open_ok("sig", broker, 1 << 20);
    char pub_path[700], pub_copy[700], text[256];
    site_file(pub_path, sizeof(pub_path), "sig", "site.pub");
    snprintf(pub_copy, sizeof(pub_copy), "%s/n1-trusted.pub", work);
    read_text(pub_path, text, sizeof(text));
    write_text(pub_copy, text); /* the copy an operator gives the node */
    start_node(0, "--trusted-key-file", pub_copy, 1);
    start_node(1, "--trusted-key", other_pub, 0);
    for (int i = 0; i < 200 && nodes_online(m) != N_NODES + 1; i++)
        mqtt_sleep_ms(100);
    REQUIRE(nodes_online(m) == N_NODES + 1);

    /* n1 trusts the site: accepted. It can reach no HTTP server, so the bytes came inline. */
    eml_deploy_result dr;
    REQUIRE_OK(deploy(m, "n1", &dr, &d), &d);
    CHECK(dr.version == 1 && dr.node_version == 1 && dr.model_bytes > 256 * 1024);
    eml_status st;
    uint32_t v = 0;
    CHECK(classify(m, "n1", &v, &st, &d) == argmax(y.data, 10) && v == 1);

    /* n2 trusts another key: refused with the reason, recorded, and it keeps serving v1. */
    eml_diag_init(&d);
    CHECK_STATUS(deploy(m, "n2", &dr, &d), EML_ECORRUPT);
    CHECK(has(&d, "node 'n2'") && has(&d, "signature does not match"));
    fprintf(stderr, "n2: %s\n", eml_test_diag_message(&d));
    v = 0;
    CHECK(classify(m, "n2", &v, &st, &d) == argmax(y.data, 10) && v == 1);
    eml_model_info mi;
    REQUIRE_OK(eml_manager_model(m, "fashion_cnn", &mi, &d), &d);
    CHECK(mi.nodes_serving == 1);
    eml_manager_close(m);

    /* push_max_bytes below the model: it goes by URL, which n1 cannot fetch (its downloads
     * go through a dead proxy): the node's download step fails, naming the artifact URL. */
    m = open_ok("sig", broker, 64 * 1024);
    for (int i = 0; i < 200 && nodes_online(m) != N_NODES + 1; i++)
        mqtt_sleep_ms(100);
    eml_diag_init(&d);
    st = deploy(m, "n1", &dr, &d);
    CHECK(st == EML_EIO && has(&d, "node 'n1'") && has(&d, "download of http://") &&
          has(&d, "/artifacts/"));
    fprintf(stderr, "by URL: %s\n", eml_test_diag_message(&d));
    /* still serving the inline version */
    v = 0;
    CHECK(classify(m, "n1", &v, &st, &d) == argmax(y.data, 10) && v == 1);
    eml_manager_close(m);
    teardown();
}
