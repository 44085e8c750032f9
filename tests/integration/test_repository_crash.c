/* Crash safety of the model repository from the outside, through the public API only: a child
 * process deploys and rolls back without end and is killed with SIGKILL at random moments; and
 * deploys into a small tmpfs that fills up part way. After each, the repository must open with a
 * complete, verified serving version and nothing that was committed lost. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char model_path[1100];
static char model_sha[65];
static unsigned char *model_bytes;
static size_t model_count;

static void setup(void)
{
    const char *roots[2] = {eml_test_source_dir(), eml_test_shared_dir()};
    for (int i = 0; i < 2 && !model_path[0]; i++) {
        char path[1100];
        if (!roots[i])
            continue;
        snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", roots[i]);
        if (access(path, R_OK) == 0)
            snprintf(model_path, sizeof(model_path), "%s", path);
    }
    if (!model_path[0])
        eml_test_skip("models/fashion_cnn/model.onnx not found in the source or shared folder");
    model_bytes = eml_test_read_file(model_path, &model_count);
    REQUIRE(model_bytes && sodium_init() >= 0);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, model_bytes, model_count);
    sodium_bin2hex(model_sha, sizeof(model_sha), digest, sizeof(digest));
}

/* The health check of test_data_set_0, inline in the config as a client over the network
 * would send it, is left to the unit tests; here the files go with the model. */
static const char config[] =
    "{\"health_check\":{\"cases\":[{\"inputs\":[{\"name\":\"input\","
    "\"file\":\"test_data_set_0/input_0.pb\"}],"
    "\"outputs\":[{\"name\":\"output\",\"file\":\"test_data_set_0/output_0.pb\"}]}]}}";

static eml_env *make_env(void)
{
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1; /* no threads: the test forks */
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    return env;
}

static eml_repo *open_repo(eml_env *env, const char *dir, uint32_t keep)
{
    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.keep_versions = keep;
    ro.latency_runs = 1;
    ro.n_threads = 1;
    eml_repo *repo = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_repo_create(env, dir, &ro, &repo, &diag), &diag);
    return repo;
}

static eml_status deploy(eml_repo *repo, eml_repo_deploy_result *res, eml_diag *diag)
{
    eml_repo_deploy_options o;
    eml_repo_deploy_options_init(&o);
    o.model_path = model_path;
    o.config_json = config;
    o.sha256_hex = model_sha;
    return eml_repo_deploy(repo, "m", &o, res, diag);
}

static void rm_rf(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

/* What a repository must look like whenever it is opened: a serving version, every kept version
 * complete (hash checked by loading it), and no other folder or leftover in the model's folder.
 * Returns the serving version; *kept_out gets the kept versions' count. */
static uint32_t check_consistent(eml_env *env, eml_repo *repo, const char *dir, const char *what,
                                 size_t *kept_out)
{
    uint32_t cur = 0;
    if (eml_repo_current(repo, "m", &cur) != EML_OK) {
        fprintf(stderr, "%s: no serving version\n", what);
        CHECK(0);
        return 0;
    }
    eml_repo_version_info *infos = NULL;
    size_t count = 0;
    REQUIRE(eml_repo_list(repo, "m", &infos, &count) == EML_OK);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (infos[i].state != EML_MODEL_READY && infos[i].state != EML_MODEL_RETIRED)
            continue; /* the record of a failed deploy */
        kept++;
        CHECK(!strcmp(infos[i].sha256, model_sha));
        CHECK(infos[i].serving == (infos[i].version == cur));
        eml_graph *g = NULL;
        eml_plan *p = NULL;
        eml_diag diag;
        eml_diag_init(&diag);
        if (eml_repo_load(repo, "m", infos[i].version, &g, &p, NULL, &diag) != EML_OK) {
            fprintf(stderr, "%s: version %u does not load: %s\n", what, (unsigned)infos[i].version,
                    diag.message);
            CHECK(0);
        }
        eml_plan_destroy(p);
        eml_graph_destroy(g);
    }
    char mdir[1100];
    snprintf(mdir, sizeof(mdir), "%s/m", dir);
    DIR *d = opendir(mdir);
    REQUIRE(d);
    struct dirent *e;
    size_t n_dirs = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "current"))
            continue;
        int listed = 0;
        for (size_t i = 0; i < count; i++)
            listed |= infos[i].state != EML_MODEL_FAILED &&
                      (uint32_t)strtoul(e->d_name, NULL, 10) == infos[i].version &&
                      e->d_name[0] != '.';
        if (!listed) {
            fprintf(stderr, "%s: '%s' in the model's folder is not a kept version\n", what,
                    e->d_name);
            CHECK(0);
        }
        n_dirs++;
    }
    closedir(d);
    CHECK(n_dirs == kept);
    eml_repo_list_free(repo, infos);
    (void)env;
    if (kept_out)
        *kept_out = kept;
    return cur;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The child: deploys, and now and then rolls back, until it is killed. */
static void churn(const char *dir, uint32_t seed)
{
    eml_env *env = make_env();
    eml_repo *repo = open_repo(env, dir, 2);
    for (uint32_t i = 0;; i++) {
        eml_diag diag;
        eml_diag_init(&diag);
        if ((seed + i) % 3 == 2) {
            eml_repo_rollback(repo, "m", 0, NULL, NULL);
            continue;
        }
        if (deploy(repo, NULL, &diag) != EML_OK) {
            fprintf(stderr, "child: deploy failed: %s\n", diag.message);
            _exit(3);
        }
    }
}

EML_TEST(sigkill_at_random_moments)
{
    setup();
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    /* a killed process leaves the same state on any file system: take the fast one */
    snprintf(dir, sizeof(dir), "%s/eml_repo_kill_XXXXXX",
             tmp && *tmp                  ? tmp
             : stat("/dev/shm", &sb) == 0 ? "/dev/shm"
                                          : "/tmp");
    REQUIRE(mkdtemp(dir) != NULL);

    eml_env *env = make_env();
    eml_repo *repo = open_repo(env, dir, 2);
    eml_diag diag;
    eml_diag_init(&diag);
    double t0 = now_s();
    REQUIRE_OK(deploy(repo, NULL, &diag), &diag);
    double deploy_s = now_s() - t0;
    eml_repo_destroy(repo);
    eml_env_destroy(env);

    const int rounds = 40;
    uint32_t last = 1;
    int advanced = 0;
    for (int r = 0; r < rounds; r++) {
        /* anywhere within the first three deploys, opening (recovery) included */
        useconds_t delay = (useconds_t)(eml_test_rand() % (uint32_t)(3e6 * deploy_s + 1));
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0)
            churn(dir, (uint32_t)r);
        usleep(delay);
        REQUIRE(kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        env = make_env();
        repo = open_repo(env, dir, 2);
        char what[64];
        snprintf(what, sizeof(what), "round %d (killed after %u us)", r, (unsigned)delay);
        uint32_t cur = check_consistent(env, repo, dir, what, NULL);
        advanced += cur != last;
        last = cur;
        eml_repo_destroy(repo);
        eml_env_destroy(env);
        if (eml_test_failures)
            break;
    }
    printf("%d rounds, serving version changed in %d, last serving %u\n", rounds, advanced,
           (unsigned)last);
    CHECK(advanced > 0);
    rm_rf(dir);
}

static uint64_t free_bytes(const char *dir)
{
    struct statvfs sv;
    REQUIRE(statvfs(dir, &sv) == 0);
    return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Leaves about `left` bytes free on the file system of dir (in a filler file). */
static void fill_to(const char *filler, const char *dir, uint64_t left)
{
    unlink(filler);
    uint64_t free_now = free_bytes(dir);
    if (free_now <= left)
        return;
    FILE *f = fopen(filler, "wb");
    REQUIRE(f);
    static char block[1 << 16];
    uint64_t want = free_now - left;
    while (want > 0) {
        size_t n = want < sizeof(block) ? (size_t)want : sizeof(block);
        if (fwrite(block, 1, n, f) != n)
            break;
        want -= n;
    }
    fclose(f);
}

EML_TEST(full_disk_mid_deploy)
{
    setup();
    char dir[512], repo_dir[600], filler[600];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/eml_repo_full_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir) != NULL);
    /* room for two versions (each the model and its mapped-weights copy) and a bit: the third
     * deploy meets a full disk at every point */
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%zuk", (4 * model_count + 200 * 1024) / 1024);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
        int e = errno;
        rmdir(dir);
        printf("SKIP: cannot mount a tmpfs (%s): needs root or CAP_SYS_ADMIN\n", strerror(e));
        exit(77);
    }
    snprintf(repo_dir, sizeof(repo_dir), "%s/repo", dir);
    snprintf(filler, sizeof(filler), "%s/filler", dir);

    eml_env *env = make_env();
    eml_repo *repo = open_repo(env, repo_dir, 1);
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(deploy(repo, NULL, &diag), &diag);
    uint64_t base_free = free_bytes(dir);

    /* every amount of free space from none to enough, finely around the model's size */
    int failures = 0, successes = 0, tries = 0, steps_seen = 0;
    uint64_t left = 0;
    while (left < 2 * model_count + 160 * 1024) {
        fill_to(filler, dir, left);
        uint64_t before_free = free_bytes(dir);
        uint32_t before = 0;
        REQUIRE(eml_repo_current(repo, "m", &before) == EML_OK);
        eml_repo_deploy_result res;
        eml_diag_init(&diag);
        eml_status st = deploy(repo, &res, &diag);
        tries++;
        char what[128];
        snprintf(what, sizeof(what), "%llu bytes free, %s", (unsigned long long)before_free,
                 st == EML_OK ? "deployed" : "failed");
        if (st == EML_OK) {
            successes++;
        } else {
            failures++;
            steps_seen |= !strcmp(res.failed_step, "download")  ? 1
                          : !strcmp(res.failed_step, "verify")  ? 2
                          : !strcmp(res.failed_step, "switch")  ? 4
                          : !strcmp(res.failed_step, "compile") ? 16
                                                                : 8;
            /* a clear error, the step named, the previous version serving, the space back */
            if (st != EML_EIO || !strstr(diag.message, "No space left on device") ||
                strncmp(diag.message, res.failed_step, strlen(res.failed_step)) != 0) {
                fprintf(stderr, "%s: %s at '%s': %s\n", what, eml_status_name(st), res.failed_step,
                        diag.message);
                CHECK(0);
            }
            uint32_t after = 0;
            CHECK(eml_repo_current(repo, "m", &after) == EML_OK && after == before);
            CHECK(free_bytes(dir) + 8192 >= before_free);
        }
        check_consistent(env, repo, repo_dir, what, NULL);
        /* the same through a fresh open */
        eml_repo_destroy(repo);
        repo = open_repo(env, repo_dir, 1);
        check_consistent(env, repo, repo_dir, what, NULL);
        if (eml_test_failures)
            break;
        /* finely where the model and then its mapped copy meet the end of the disk */
        int coarse = left + 48 * 1024 < model_count ||
                     (left > model_count + 64 * 1024 && left + 48 * 1024 < 2 * model_count);
        left += coarse ? 48 * 1024 : 4096;
    }
    printf("%d deploys into %s of free space: %d failed cleanly (steps:%s%s%s%s%s), %d "
           "succeeded\n",
           tries, "0 .. 2 x model + 160 KiB", failures, steps_seen & 1 ? " download" : "",
           steps_seen & 2 ? " verify" : "", steps_seen & 16 ? " compile" : "",
           steps_seen & 4 ? " switch" : "", steps_seen & 8 ? " other" : "", successes);
    CHECK(failures > 10 && successes > 0);
    (void)base_free;

    /* a disk with no space at all: the repository still opens and serves */
    eml_repo_destroy(repo);
    fill_to(filler, dir, 0);
    repo = open_repo(env, repo_dir, 1);
    check_consistent(env, repo, repo_dir, "full disk, reopened", NULL);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}
