/* Routing of one inference request: before it, the A/B arm or the variant that runs it; after
 * it, the outcome counted (and, for a shadowed A/B request, the control run on the same inputs
 * through its batcher, never on this thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/route.h"
#include "core/core.h"

enum { ROUTE_NONE = 0, ROUTE_AB = 1, ROUTE_VARIANT = 2 };

/* The sticky key's value in a request: its parameters' entry, else a top-level field (so "id"
 * works); strings as they are, numbers printed. NULL when absent. */
typedef struct key_lookup {
    const cJSON *request;
    char buf[64];
} key_lookup;

static const char *key_of(void *user, const char *name)
{
    key_lookup *k = user;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(k->request, "parameters");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(k->request, name);
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(k->buf, sizeof(k->buf), "%.17g", v->valuedouble);
        return k->buf;
    }
    return NULL;
}

/* Requests waiting in a variant's queue (0 when the model is not in memory: nothing waits). */
static uint32_t queued_of(eml_agent *a, const eml__variant *v)
{
    return eml__cache_queued(a->cache, v->model, v->version);
}

static void label2(char *buf, size_t cap, const char *model, const char *what)
{
    snprintf(buf, cap, "%s/%s", model, what);
}

void eml__route_choose(eml_agent *a, const cJSON *request, const char **model, int64_t *version,
                       eml__route *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->requested = *model;
    eml__route_state *rs = a->route;
    if (!rs || *version != 0)
        return; /* a request naming its version gets exactly that */
    key_lookup k = {request, {0}};
    if (eml__router_pick(rs->router, *model, key_of, &k, &rt->ab)) {
        rt->kind = ROUTE_AB;
        *model = rt->ab.run.model;
        *version = rt->ab.run.version;
        rt->start_ns = eml__now_ns();
        return;
    }
    int low = eml__route_low_power(rs);
    eml__variant v;
    if (!eml__adapt_peek(rs->adapt, *model, low, &v))
        return;
    uint32_t q = queued_of(a, &v);
    if (!eml__adapt_choose(rs->adapt, *model, q, low, &rt->variant))
        return;
    rt->kind = ROUTE_VARIANT;
    char lab[160];
    label2(lab, sizeof(lab), *model, rt->variant.variant.name);
    eml__metrics_add(a->metrics, EML_METRIC_VARIANT_CHOICES, lab, 1);
    label2(lab, sizeof(lab), *model, eml__adapt_reason_name(rt->variant.reason));
    eml__metrics_add(a->metrics, EML_METRIC_VARIANT_REASONS, lab, 1);
    *model = rt->variant.variant.model;
    *version = rt->variant.variant.version;
    rt->start_ns = eml__now_ns();
}

/* The first output as a [rows, cols] float32 score matrix; 0 when it is not one. */
static int scores_of(const eml_tensor *outputs, size_t n, const float **x, size_t *rows,
                     size_t *cols)
{
    if (n < 1 || outputs[0].dtype != EML_DTYPE_F32 || !outputs[0].data || outputs[0].rank < 1 ||
        outputs[0].rank > 2)
        return 0;
    const eml_tensor *t = &outputs[0];
    *rows = t->rank == 2 ? (size_t)t->dims[0] : 1;
    *cols = (size_t)t->dims[t->rank - 1];
    *x = t->data;
    return *rows > 0 && *cols > 0;
}

/* Runs the control on the same inputs (queued to its batcher) and counts the rows whose top-1
 * matches the arm's. */
static void shadow(eml_agent *a, const eml__route *rt, const eml_tensor *in, size_t n_in,
                   const float *x, size_t rows, size_t cols, uint64_t *compared, uint64_t *agree)
{
    eml__served *s = NULL;
    eml_tensor *out = NULL;
    size_t n_out = 0;
    int32_t *arg = NULL, *arg_c = NULL;
    const eml__ab_arm *c = &rt->ab.control;
    if (eml__cache_acquire(a->cache, c->model, c->version, &s, NULL) != EML_OK)
        return;
    uint64_t deadline = eml__now_ns() + a->o.request_timeout_ms * 1000000ull;
    const float *xc;
    size_t rows_c, cols_c;
    if (eml__batcher_infer(eml__served_batcher(s), in, n_in, deadline, &out, &n_out, NULL) ==
            EML_OK &&
        scores_of(out, n_out, &xc, &rows_c, &cols_c) && rows_c == rows && cols_c == cols) {
        arg = malloc(rows * sizeof(int32_t));
        arg_c = malloc(rows * sizeof(int32_t));
        if (arg && arg_c) {
            eml__ab_top1(x, rows, cols, arg, NULL);
            eml__ab_top1(xc, rows, cols, arg_c, NULL);
            for (size_t i = 0; i < rows; i++) {
                if (arg[i] < 0 || arg_c[i] < 0)
                    continue;
                (*compared)++;
                *agree += arg[i] == arg_c[i];
            }
        }
    }
    free(arg);
    free(arg_c);
    eml__outputs_free(out, n_out);
    eml__cache_release(a->cache, s);
}

void eml__route_record(eml_agent *a, eml__route *rt, eml_status st, const eml_tensor *inputs,
                       size_t n_inputs, const eml_tensor *outputs, size_t n_outputs)
{
    if (!rt->kind || rt->recorded)
        return;
    rt->recorded = 1;
    double latency_s = (double)(eml__now_ns() - rt->start_ns) * 1e-9;
    int ok = st == EML_OK;
    if (rt->kind == ROUTE_VARIANT) {
        /* failures (a full queue answers at once) would make the window look fast */
        if (ok)
            eml__adapt_record(a->route->adapt, rt->requested, &rt->variant, latency_s);
        return;
    }
    const float *x = NULL;
    size_t rows = 0, cols = 0;
    uint64_t compared = 0, agree = 0;
    int has = ok && scores_of(outputs, n_outputs, &x, &rows, &cols);
    if (has && rt->ab.shadow)
        shadow(a, rt, inputs, n_inputs, x, rows, cols, &compared, &agree);
    eml__router_record(a->route->router, rt->requested, &rt->ab, ok, latency_s, has ? x : NULL,
                       rows, cols, compared, agree);
    char lab[160];
    label2(lab, sizeof(lab), rt->requested, rt->ab.run.name);
    eml__metrics_add(a->metrics, EML_METRIC_AB_REQUESTS, lab, 1);
    if (!ok)
        eml__metrics_add(a->metrics, EML_METRIC_AB_ERRORS, lab, 1);
    else
        eml__metrics_observe(a->metrics, EML_METRIC_AB_SECONDS, lab, latency_s);
}

void eml__route_reply(const eml__route *rt, cJSON *response)
{
    if (!rt->kind || !response)
        return;
    cJSON *name = cJSON_CreateString(rt->requested);
    if (name && !cJSON_ReplaceItemInObjectCaseSensitive(response, "model_name", name))
        cJSON_AddItemToObject(response, "model_name", name);
    cJSON *p = cJSON_GetObjectItemCaseSensitive(response, "parameters");
    if (!p)
        p = cJSON_AddObjectToObject(response, "parameters");
    if (!p)
        return;
    if (rt->kind == ROUTE_AB) {
        cJSON_AddStringToObject(p, "edgeml_ab_arm", rt->ab.run.name);
        cJSON_AddStringToObject(p, "edgeml_served_model", rt->ab.run.model);
    } else {
        cJSON_AddStringToObject(p, "edgeml_variant", rt->variant.variant.name);
        cJSON_AddStringToObject(p, "edgeml_variant_reason",
                                eml__adapt_reason_name(rt->variant.reason));
        cJSON_AddStringToObject(p, "edgeml_served_model", rt->variant.variant.model);
    }
}
