/* Crash safety of the model repository at every point where it writes, fsyncs, renames or
 * removes: a child process runs deploy, rollback, deploy and is killed with SIGKILL at the k-th
 * point (for every k), then again at the first point of the recovery that follows; each time the
 * reopened repository must serve a complete, verified version and work on. */
#include <signal.h>
#include <sys/wait.h>

#include "test_repository_util.h"

static int kill_at; /* 1-based point to die at; 0: never */
static int points_seen;
static char model_bytes_sha[65];

static void probe(void *user, const char *point)
{
    (void)user;
    (void)point;
    if (++points_seen == kill_at)
        raise(SIGKILL);
}

static eml_repo *open_repo(eml_env *env, const char *dir)
{
    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.keep_versions = 2;
    ro.latency_runs = 1;
    ro.n_threads = 1;
    eml_repo *repo = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_repo_create(env, dir, &ro, &repo, &diag), &diag);
    return repo;
}

static void deploy(eml_repo *repo)
{
    eml_repo_deploy_options o;
    eml_repo_deploy_options_init(&o);
    o.model_path = repo_model_path;
    o.config_json = repo_cnn_config;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_repo_deploy(repo, "m", &o, NULL, &diag), &diag);
}

/* deploy (retires 1), rollback to 2, deploy (retires 3) */
static void sequence(const char *dir)
{
    eml_env *env = repo_env();
    eml_repo *repo = open_repo(env, dir);
    eml__repo_set_probe(repo, probe, NULL);
    deploy(repo);
    uint32_t v = 0;
    REQUIRE(eml_repo_rollback(repo, "m", 0, &v, NULL) == EML_OK && v == 2);
    deploy(repo);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
}

/* dst becomes a copy of src. */
static void copy_tree(const char *src, const char *dst)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", dst, src, dst);
    REQUIRE(system(cmd) == 0);
}

/* Runs fn(dir) in a child that dies at point k of the repository (with the global probe when
 * global is set, so that recovery in eml_repo_create counts). Returns 1 when it was killed. */
static int run_child(void (*fn)(const char *), const char *dir, int k, int global)
{
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        kill_at = k;
        points_seen = 0;
        if (global)
            eml__repo_set_global_probe(probe, NULL);
        fn(dir);
        _exit(eml_test_failures ? 1 : 0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) {
        REQUIRE(WTERMSIG(status) == SIGKILL);
        return 1;
    }
    REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

static void open_only(const char *dir)
{
    eml_env *env = repo_env();
    eml_repo *repo = open_repo(env, dir);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
}

/* The invariants after any crash: one serving version among those the sequence can produce,
 * every kept version complete with the known hash and loadable, no other version folders, no
 * leftovers, and the repository takes a new deploy. */
static void check_consistent(const char *dir, int k)
{
    char mdir[700];
    snprintf(mdir, sizeof(mdir), "%s/m", dir);
    eml_env *env = repo_env();
    eml_repo *repo = open_repo(env, dir);
    uint32_t cur = 0;
    REQUIRE(eml_repo_current(repo, "m", &cur) == EML_OK);
    if (cur < 2 || cur > 4) {
        fprintf(stderr, "kill point %d: serving version %u\n", k, (unsigned)cur);
        CHECK(0);
    }
    eml_repo_version_info *infos = NULL;
    size_t count = 0;
    REQUIRE(eml_repo_list(repo, "m", &infos, &count) == EML_OK);
    CHECK(count >= 1 && count <= 3); /* 2 kept; 3 for a moment when the commit came before
                                        the retirement was removed (it then is not listed) */
    int serving_listed = 0;
    uint32_t newest = 0;
    for (size_t i = 0; i < count; i++) {
        newest = EML_MAX(newest, infos[i].version);
        CHECK(infos[i].state == EML_MODEL_READY || infos[i].state == EML_MODEL_RETIRED);
        CHECK(!strcmp(infos[i].sha256, model_bytes_sha));
        serving_listed += infos[i].serving && infos[i].version == cur;
        eml_graph *g = NULL;
        eml_plan *p = NULL;
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_repo_load(repo, "m", infos[i].version, &g, &p, NULL, &diag);
        if (st != EML_OK) {
            fprintf(stderr, "kill point %d: version %u: %s\n", k, (unsigned)infos[i].version,
                    diag.message);
            CHECK(0);
        }
        eml_plan_destroy(p);
        eml_graph_destroy(g);
    }
    CHECK(serving_listed == 1);
    CHECK(repo_count_hidden(mdir) == 0);
    /* folders on disk are exactly the kept versions */
    DIR *d = opendir(mdir);
    REQUIRE(d);
    struct dirent *e;
    size_t n_dirs = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        n_dirs++;
        int listed = 0;
        for (size_t i = 0; i < count; i++)
            listed |= (uint32_t)atoi(e->d_name) == infos[i].version;
        if (!listed) {
            fprintf(stderr, "kill point %d: folder %s is not a kept version\n", k, e->d_name);
            CHECK(0);
        }
    }
    closedir(d);
    CHECK(n_dirs == count);
    eml_repo_list_free(repo, infos);
    deploy(repo);
    uint32_t after = 0;
    /* numbers of deploys that never committed may be given again; committed ones never */
    CHECK(eml_repo_current(repo, "m", &after) == EML_OK && after > newest);
    eml_repo_destroy(repo);
    eml_env_destroy(env);
}

EML_TEST(kill_at_every_point)
{
    repo_find_model();
    size_t n = 0;
    void *bytes = eml_test_read_file(repo_model_path, &n);
    REQUIRE(bytes);
    eml__sha256_hex(bytes, n, model_bytes_sha);
    free(bytes);

    char base[512], work[600];
    repo_tmpdir_in(base, sizeof(base), "crash", 1);
    snprintf(work, sizeof(work), "%s.work", base);
    char repo_dir[700];
    snprintf(repo_dir, sizeof(repo_dir), "%s/repo", base);
    {
        /* versions 1 and 2, 2 serving */
        eml_env *env = repo_env();
        eml_repo *repo = open_repo(env, repo_dir);
        deploy(repo);
        deploy(repo);
        eml_repo_destroy(repo);
        eml_env_destroy(env);
    }
    /* how many points the sequence passes: run it here, in a copy */
    copy_tree(repo_dir, work);
    kill_at = 0;
    points_seen = 0;
    sequence(work);
    int total = points_seen;
    printf("%d kill points in deploy, rollback, deploy\n", total);
    REQUIRE(total >= 20);

    int recovery_kills = 0;
    for (int k = 1; k <= total; k++) {
        copy_tree(repo_dir, work);
        CHECK(run_child(sequence, work, k, 0) == 1);
        /* die again at the first point of the recovery, when there is one */
        recovery_kills += run_child(open_only, work, 1, 1);
        check_consistent(work, k);
        if (eml_test_failures)
            break;
    }
    printf("%d kills during recovery\n", recovery_kills);
    CHECK(recovery_kills > 0);
    eml__fs_remove_tree(work);
    eml__fs_remove_tree(base);
}
