/* The local node: an agent in this process, without HTTP, whose repository lives in the site's
 * folder. Commands go through eml_agent_command, the handler edgemld serves, so the local node
 * behaves as a remote one does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/agent.h"
#include "core/core.h"
#include "manager/transport.h"

typedef struct local_node {
    eml__node base;
    eml_agent *agent;
    uint32_t n_threads;
} local_node;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static eml_status local_command(eml__node *node, const char *json, uint64_t timeout_ms,
                                char **reply, int *http_status, double *node_ms, eml_diag *diag)
{
    local_node *n = (local_node *)node;
    (void)timeout_ms; /* in process: the handler's own deadlines apply */
    double t0 = now_ms();
    eml_status st = eml_agent_command(n->agent, json, strlen(json), reply, http_status);
    if (node_ms)
        *node_ms = now_ms() - t0;
    if (st != EML_OK)
        return eml__diag(diag, st, "node '%s': out of memory", node->id);
    return EML_OK;
}

static eml_status local_artifact_url(eml__node *node, const char *path, const char *sha256,
                                     char *url, size_t cap, eml_diag *diag)
{
    (void)sha256;
    char abs[4096];
    if (!realpath(path, abs))
        return eml__diag(diag, EML_ENOTFOUND, "node '%s': artifact %s is missing", node->id, path);
    if ((size_t)snprintf(url, cap, "file://%s", abs) >= cap)
        return eml__diag(diag, EML_ELIMIT, "artifact path too long: %s", abs);
    return EML_OK;
}

static eml_status local_evaluate(eml__node *node, const char *model, const eml_tensor *data,
                                 const eml_tensor *labels, uint32_t *node_version,
                                 eml_eval_result *result, eml_diag *diag)
{
    local_node *n = (local_node *)node;
    char path[4096];
    eml_env *env = NULL;
    eml_graph *graph = NULL;
    eml_status st = eml_repo_path(n->agent->repo, model, 0, EML_REPO_FILE_MODEL, path, sizeof(path),
                                  node_version);
    if (st == EML_ENOTFOUND || st == EML_EINVAL)
        return eml__diag(diag, EML_ENOTFOUND, "node '%s' does not serve model '%s'", node->id,
                         model);
    if (st != EML_OK)
        return eml__diag(diag, st, "node '%s': model '%s': repository path", node->id, model);
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = n->n_threads;
    EML_TRY(eml_env_create(&eo, &env));
    EML_TRY(eml_graph_load_onnx(env, path, &graph, diag));
    /* Optimized as the node serves it, so the figure is the served model's. */
    eml_optimize_options oo;
    eml_optimize_options_init(&oo);
    EML_TRY(eml_graph_optimize(graph, &oo, NULL, diag));
    eml_eval_options ev;
    eml_eval_options_init(&ev);
    EML_TRY(eml_eval_classifier(graph, data, labels, &ev, result, NULL, diag));
fail:
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return st;
}

static int local_online(eml__node *node)
{
    return ((local_node *)node)->agent != NULL;
}

static void local_close(eml__node *node)
{
    local_node *n = (local_node *)node;
    if (!n)
        return;
    eml_agent_destroy(n->agent);
    free(n);
}

static const eml__transport local_transport = {
    .name = "local",
    .command = local_command,
    .artifact_url = local_artifact_url,
    .evaluate = local_evaluate,
    .online = local_online,
    .close = local_close,
};

eml_status eml__node_local_open(const char *site_dir, const char *id, uint32_t n_threads,
                                eml__node **out, eml_diag *diag)
{
    return eml__node_local_open_trusted(site_dir, id, n_threads, NULL, out, diag);
}

eml_status eml__node_local_open_trusted(const char *site_dir, const char *id, uint32_t n_threads,
                                        const char *trusted_key_hex, eml__node **out,
                                        eml_diag *diag)
{
    *out = NULL;
    char dir[4096], repo[4096];
    snprintf(dir, sizeof(dir), "%s/nodes", site_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return eml__diag(diag, EML_EIO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(dir, sizeof(dir), "%s/nodes/%s", site_dir, id);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return eml__diag(diag, EML_EIO, "cannot create %s: %s", dir, strerror(errno));
    if ((size_t)snprintf(repo, sizeof(repo), "%s/repo", dir) >= sizeof(repo))
        return eml__diag(diag, EML_ELIMIT, "site folder path too long");
    local_node *n = calloc(1, sizeof(*n));
    if (!n)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    n->base.transport = &local_transport;
    snprintf(n->base.id, sizeof(n->base.id), "%s", id);
    n->n_threads = n_threads;
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.listen = NULL;
    o.n_threads = n_threads;
    o.trusted_key_hex = trusted_key_hex;
    /* One caller at a time in process: a request must not wait for a fuller batch. Rows of
     * one request still run together (up to max_batch_size). */
    o.max_batch_size = 64;
#ifdef EML_AGENT_NO_DELAY
    o.max_queue_delay_us = EML_AGENT_NO_DELAY;
#else
    o.max_queue_delay_us = 1;
#endif
    eml_status st = eml_agent_create(&o, &n->agent, diag);
    if (st != EML_OK) {
        if (st == EML_ELIMIT)
            eml__diag(diag, st,
                      "site in use: the local node's repository %s is open in another "
                      "process",
                      repo);
        free(n);
        return st;
    }
    *out = &n->base;
    return EML_OK;
}
