/* Fuzz target: the agent's request parser on arbitrary bytes, as an HTTP body would bring them.
 *
 * Input layout: byte 0 picks the mode, bytes 1-2 (little endian) the length of the JSON part
 * (capped by what follows, as the HTTP front caps Inference-Header-Content-Length); the JSON is
 * the bytes after them up to that length and the rest is the binary-data extension's tensors.
 *  - mode bit 0 clear: the JSON as an OIP infer request through eml__oip_read_inputs against
 *    the Fashion-MNIST CNN's graph, then eml__oip_write_outputs with the request's "outputs";
 *  - mode bit 0 set: a whole command through the agent's handler in-process (an agent without
 *    HTTP, the CNN deployed, no batch delay so that a valid request runs at once): the JSON as
 *    given to eml_agent_command when mode bit 1 is set, else parsed and sent with the binary
 *    part as the HTTP front would, its "op" forced to a read-only op picked by mode bits 2-4 and
 *    "model" defaulted to the CNN. Ops that change the repository (deploy, rollback, load,
 *    unload) are left out: they would make the target's state depend on input order and touch
 *    files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/agent.h"
#include "fuzz.h"

static eml_graph *graph;
static eml_agent *agent;

/* models/fashion_cnn/model.onnx of the source tree: EML_SOURCE_DIR, else found from this file's
 * path (CMake compiles it by its absolute path). */
static void model_path(char *out, size_t n)
{
    const char *src = getenv("EML_SOURCE_DIR");
    if (src && *src) {
        snprintf(out, n, "%s/models/fashion_cnn/model.onnx", src);
        return;
    }
    snprintf(out, n, "%s", __FILE__);
    char *at = strstr(out, "tests/fuzz/fuzz_oip_request.c");
    if (at)
        snprintf(at, n - (size_t)(at - out), "models/fashion_cnn/model.onnx");
}

static int setup(void)
{
    static int done, ok;
    if (done)
        return ok;
    done = 1;
    char path[4096];
    model_path(path, sizeof(path));
    eml_env *env = fuzz_env();
    eml_diag d;
    eml_diag_init(&d);
    if (!env || eml_graph_load_onnx(env, path, &graph, &d) != EML_OK) {
        fprintf(stderr, "fuzz_oip_request: cannot load %s: %s\n", path, d.message);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    static char repo[512];
    snprintf(repo, sizeof(repo), "%s/eml_fuzz_oip_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(repo))
        return 0;
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.repo_dir = repo;
    o.n_threads = 1;
    o.max_queue_delay_us = EML_AGENT_NO_DELAY;
    o.request_timeout_ms = 10000;
    if (eml_agent_create(&o, &agent, &d) != EML_OK) {
        fprintf(stderr, "fuzz_oip_request: agent: %s\n", d.message);
        return 0;
    }
    char cmd[4200], *reply = NULL;
    int code = 0;
    snprintf(cmd, sizeof(cmd),
             "{\"op\":\"model.deploy\",\"model\":\"fashion_cnn\",\"url\":"
             "\"file://%s\"}",
             path);
    if (eml_agent_command(agent, cmd, strlen(cmd), &reply, &code) != EML_OK || code != 200) {
        fprintf(stderr, "fuzz_oip_request: deploy: %d %s\n", code, reply ? reply : "");
        free(reply);
        return 0;
    }
    free(reply);
    ok = 1;
    return 1;
}

static void parse_request(const char *json, size_t json_bytes, const uint8_t *bin, size_t bin_bytes)
{
    cJSON *req = cJSON_ParseWithLength(json, json_bytes);
    if (!req)
        return;
    eml_tensor in[4];
    size_t n_in = eml_graph_input_count(graph);
    eml_diag d;
    eml_diag_init(&d);
    if (n_in <= 4 && eml__oip_read_inputs(req, graph, bin, bin_bytes, in, &d) == EML_OK) {
        /* touch every byte so that a short allocation shows up under ASan */
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < n_in; i++)
            for (size_t k = 0; k < eml_tensor_bytes(&in[i]); k++)
                sum ^= ((const unsigned char *)in[i].data)[k];
        (void)sum;
        /* the request's inputs stand in for outputs of the same count: writes every dtype */
        if (eml_graph_output_count(graph) == n_in) {
            cJSON *resp = cJSON_CreateObject();
            uint8_t *out_bin = NULL;
            size_t out_bytes = 0;
            if (resp)
                eml__oip_write_outputs(req, graph, in, n_in, resp, &out_bin, &out_bytes, &d);
            char *text = resp ? cJSON_PrintUnformatted(resp) : NULL;
            free(text);
            free(out_bin);
            cJSON_Delete(resp);
        }
        eml__tensors_free(in, n_in);
    }
    cJSON_Delete(req);
}

static void run_command(unsigned mode, const char *json, size_t json_bytes, const uint8_t *bin,
                        size_t bin_bytes)
{
    if (mode & 2) {
        /* as given, unless it would change the repository (see above) */
        cJSON *probe = cJSON_ParseWithLength(json, json_bytes);
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(probe, "op");
        int changes = cJSON_IsString(op) && (strcmp(op->valuestring, "model.deploy") == 0 ||
                                             strcmp(op->valuestring, "model.rollback") == 0 ||
                                             strcmp(op->valuestring, "model.load") == 0 ||
                                             strcmp(op->valuestring, "model.unload") == 0);
        cJSON_Delete(probe);
        if (changes)
            return;
        char *reply = NULL;
        int code = 0;
        eml_agent_command(agent, json, json_bytes, &reply, &code);
        free(reply);
        return;
    }
    static const char *const ops[] = {"model.infer",    "model.infer",     "model.infer",
                                      "model.metadata", "model.ready",     "model.versions",
                                      "health.ready",   "repository.index"};
    cJSON *cmd = cJSON_ParseWithLength(json, json_bytes);
    if (!cJSON_IsObject(cmd)) {
        cJSON_Delete(cmd);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(cmd, "op");
    cJSON_AddStringToObject(cmd, "op", ops[(mode >> 2) & 7]);
    if (!cJSON_GetObjectItemCaseSensitive(cmd, "model"))
        cJSON_AddStringToObject(cmd, "model", "fashion_cnn");
    eml__request req = {cmd, bin, bin_bytes};
    eml__reply reply;
    eml__agent_handle(agent, &req, &reply);
    char *text = reply.json ? cJSON_PrintUnformatted(reply.json) : NULL;
    free(text);
    eml__reply_free(&reply);
    cJSON_Delete(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || !setup())
        return 0;
    unsigned mode = data[0];
    size_t json_bytes = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (json_bytes > size)
        json_bytes = size;
    /* an exact-size copy of each part, so that reads past either show up under ASan */
    char *json = malloc(json_bytes ? json_bytes : 1);
    uint8_t *bin = malloc(size - json_bytes ? size - json_bytes : 1);
    if (json && bin) {
        memcpy(json, data, json_bytes);
        memcpy(bin, data + json_bytes, size - json_bytes);
        if (mode & 1)
            run_command(mode, json, json_bytes, bin, size - json_bytes);
        else
            parse_request(json, json_bytes, bin, size - json_bytes);
    }
    free(json);
    free(bin);
    return 0;
}
