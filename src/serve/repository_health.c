/* A model version's config (cJSON) and its health check: golden inputs run through the compiled
 * plan must give the expected outputs within tolerance, and fast enough. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "edgeml/io.h"
#include "graph/graph.h"
#include "serve/repository.h"

#define MAX_CASES 64
#define MAX_TENSORS 32 /* per case and side */
#define MAX_CONFIG_BYTES (64u << 20)

typedef struct health_tensor {
    const char *name; /* borrowed from the cJSON tree; NULL: matched by position */
    eml_tensor t;     /* data from the env */
    cJSON *file_item; /* the "file" string of the entry, NULL when inline */
    char *file_path;  /* where it was read from (base_dir/file), from the env */
} health_tensor;

typedef struct health_case {
    health_tensor in[MAX_TENSORS], out[MAX_TENSORS];
    size_t n_in, n_out;
} health_case;

struct eml__repo_config {
    eml_repo *repo;
    cJSON *root;
    health_case *cases;
    size_t n_cases;
    double rtol, atol;
    double max_latency_ms; /* 0: none */
};

void eml__repo_config_destroy(eml__repo_config *cfg)
{
    if (!cfg)
        return;
    eml_env *env = cfg->repo->env;
    for (size_t c = 0; c < cfg->n_cases; c++) {
        health_case *hc = &cfg->cases[c];
        for (size_t i = 0; i < hc->n_in + hc->n_out; i++) {
            health_tensor *ht = i < hc->n_in ? &hc->in[i] : &hc->out[i - hc->n_in];
            eml__free(env, ht->t.data);
            eml__free(env, ht->file_path);
        }
    }
    eml__free(env, cfg->cases);
    cJSON_Delete(cfg->root);
    eml__free(env, cfg);
}

static int dtype_from_name(const char *s, eml_dtype *out)
{
#define EML__DTYPE_NAME(value, suffix, ctype, size, name)                                          \
    if (!strcmp(s, name)) {                                                                        \
        *out = EML_DTYPE_##suffix;                                                                 \
        return 1;                                                                                  \
    }
    EML_DTYPE_MAP(EML__DTYPE_NAME)
#undef EML__DTYPE_NAME
    return 0;
}

/* Reads "shape": [d, ...] into dims; every dim >= 0 (the model's dynamic dims take concrete
 * sizes here). */
static eml_status parse_shape(const cJSON *shape, int32_t *rank, int64_t *dims, const char *where,
                              eml_diag *diag)
{
    if (!cJSON_IsArray(shape))
        return eml__diag(diag, EML_EINVAL, "%s: \"shape\" must be an array of sizes", where);
    int n = cJSON_GetArraySize(shape);
    if (n > EML_MAX_RANK)
        return eml__diag(diag, EML_EINVAL, "%s: rank %d is above %d", where, n, EML_MAX_RANK);
    for (int i = 0; i < n; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12 ||
            d->valuedouble != floor(d->valuedouble))
            return eml__diag(diag, EML_EINVAL, "%s: shape[%d] is not a size", where, i);
        dims[i] = (int64_t)d->valuedouble;
    }
    *rank = n;
    return EML_OK;
}

static void store_number(eml_dtype dt, void *data, size_t i, double v)
{
    switch (dt) {
    case EML_DTYPE_F32:
        ((float *)data)[i] = (float)v;
        break;
    case EML_DTYPE_F64:
        ((double *)data)[i] = v;
        break;
    case EML_DTYPE_F16:
        ((uint16_t *)data)[i] = eml_f32_to_f16((float)v);
        break;
    case EML_DTYPE_BF16:
        ((uint16_t *)data)[i] = eml_f32_to_bf16((float)v);
        break;
    case EML_DTYPE_U8:
        ((uint8_t *)data)[i] = (uint8_t)v;
        break;
    case EML_DTYPE_I8:
        ((int8_t *)data)[i] = (int8_t)v;
        break;
    case EML_DTYPE_U16:
        ((uint16_t *)data)[i] = (uint16_t)v;
        break;
    case EML_DTYPE_I16:
        ((int16_t *)data)[i] = (int16_t)v;
        break;
    case EML_DTYPE_I32:
        ((int32_t *)data)[i] = (int32_t)v;
        break;
    case EML_DTYPE_I64:
        ((int64_t *)data)[i] = (int64_t)v;
        break;
    case EML_DTYPE_U32:
        ((uint32_t *)data)[i] = (uint32_t)v;
        break;
    case EML_DTYPE_U64:
        ((uint64_t *)data)[i] = (uint64_t)v;
        break;
    case EML_DTYPE_BOOL:
        ((bool *)data)[i] = v != 0;
        break;
    default:
        break;
    }
}

static double load_number(eml_dtype dt, const void *data, size_t i)
{
    switch (dt) {
    case EML_DTYPE_F32:
        return ((const float *)data)[i];
    case EML_DTYPE_F64:
        return ((const double *)data)[i];
    case EML_DTYPE_F16:
        return eml_f16_to_f32(((const uint16_t *)data)[i]);
    case EML_DTYPE_BF16:
        return eml_bf16_to_f32(((const uint16_t *)data)[i]);
    case EML_DTYPE_U8:
        return ((const uint8_t *)data)[i];
    case EML_DTYPE_I8:
        return ((const int8_t *)data)[i];
    case EML_DTYPE_U16:
        return ((const uint16_t *)data)[i];
    case EML_DTYPE_I16:
        return ((const int16_t *)data)[i];
    case EML_DTYPE_I32:
        return ((const int32_t *)data)[i];
    case EML_DTYPE_I64:
        return (double)((const int64_t *)data)[i];
    case EML_DTYPE_U32:
        return ((const uint32_t *)data)[i];
    case EML_DTYPE_U64:
        return (double)((const uint64_t *)data)[i];
    case EML_DTYPE_BOOL:
        return ((const bool *)data)[i];
    default:
        return 0;
    }
}

static int is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

/* A relative path inside base_dir: no absolute paths, no "..". */
static int safe_relative(const char *p)
{
    if (!*p || p[0] == '/')
        return 0;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if ((n == 2 && s[0] == '.' && s[1] == '.') || n == 0)
            return 0;
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

static eml_status parse_tensor(eml__repo_config *cfg, const cJSON *item, const char *base_dir,
                               health_tensor *ht, const char *where, eml_diag *diag)
{
    eml_env *env = cfg->repo->env;
    if (!cJSON_IsObject(item))
        return eml__diag(diag, EML_EINVAL, "%s must be an object", where);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(item, "file");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(item, "data");
    if (name && !cJSON_IsString(name))
        return eml__diag(diag, EML_EINVAL, "%s: \"name\" must be a string", where);
    ht->name = name ? name->valuestring : NULL;
    if (!file == !data)
        return eml__diag(diag, EML_EINVAL, "%s: give either \"data\" or \"file\"", where);
    if (file) {
        if (!cJSON_IsString(file) || !safe_relative(file->valuestring))
            return eml__diag(diag, EML_EINVAL, "%s: \"file\" must be a relative path without '..'",
                             where);
        if (!base_dir)
            return eml__diag(diag, EML_EINVAL,
                             "%s: \"file\" entries need a base folder (deploy from a file, or "
                             "give base_dir)",
                             where);
        char path[PATH_MAX];
        if (eml__repo_join(path, sizeof(path), base_dir, file->valuestring, NULL) != EML_OK)
            return eml__diag(diag, EML_ELIMIT, "%s: path too long", where);
        ht->file_item = (cJSON *)file;
        ht->file_path = eml__strdup(env, path);
        if (!ht->file_path)
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        eml_status st = eml_tensor_read_file(env, path, NULL, &ht->t, diag);
        if (st != EML_OK)
            return eml__diag(diag, st, "%s: %s", where, diag ? diag->message : "unreadable");
        return EML_OK;
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    eml_dtype dt = EML_DTYPE_F32;
    if (dtype && (!cJSON_IsString(dtype) || !dtype_from_name(dtype->valuestring, &dt)))
        return eml__diag(diag, EML_EINVAL, "%s: unknown \"dtype\"", where);
    eml_status st = parse_shape(cJSON_GetObjectItemCaseSensitive(item, "shape"), &ht->t.rank,
                                ht->t.dims, where, diag);
    if (st != EML_OK)
        return st;
    ht->t.dtype = dt;
    int64_t count = eml__shape_count(ht->t.dims, ht->t.rank);
    if (!cJSON_IsArray(data) || count < 0 || cJSON_GetArraySize(data) != count)
        return eml__diag(diag, EML_EINVAL, "%s: \"data\" must be an array of %lld numbers", where,
                         (long long)count);
    ht->t.data = eml__calloc(env, (size_t)(count ? count : 1), eml_dtype_size(dt));
    if (!ht->t.data)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, data)
    {
        if (!cJSON_IsNumber(v) && !cJSON_IsBool(v))
            return eml__diag(diag, EML_EINVAL, "%s: data[%zu] is not a number", where, i);
        store_number(dt, ht->t.data, i++, cJSON_IsBool(v) ? cJSON_IsTrue(v) : v->valuedouble);
    }
    return EML_OK;
}

static eml_status parse_side(eml__repo_config *cfg, const cJSON *arr, const char *base_dir,
                             health_tensor *out, size_t *n, const char *where, eml_diag *diag)
{
    if (!arr)
        return EML_OK;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > MAX_TENSORS)
        return eml__diag(diag, EML_EINVAL, "%s must be an array of at most %d tensors", where,
                         MAX_TENSORS);
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        char w[96];
        snprintf(w, sizeof(w), "%s[%zu]", where, *n);
        eml_status st = parse_tensor(cfg, item, base_dir, &out[(*n)++], w, diag);
        if (st != EML_OK)
            return st;
    }
    return EML_OK;
}

static eml_status number_field(const cJSON *obj, const char *key, double *out, eml_diag *diag)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return EML_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
        return eml__diag(diag, EML_EINVAL, "health_check.%s must be a number >= 0", key);
    *out = v->valuedouble;
    return EML_OK;
}

eml_status eml__repo_config_parse(eml_repo *repo, const char *json, const char *base_dir,
                                  eml__repo_config **out, eml_diag *diag)
{
    eml_status st = EML_OK;
    *out = NULL;
    if (!json)
        json = "{}";
    if (strlen(json) > MAX_CONFIG_BYTES)
        return eml__diag(diag, EML_ELIMIT, "config: more than %u bytes", MAX_CONFIG_BYTES);
    eml__repo_config *cfg = eml__calloc(repo->env, 1, sizeof(*cfg));
    if (!cfg)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    cfg->repo = repo;
    cfg->rtol = 1e-3;
    cfg->atol = 1e-5;
    cfg->max_latency_ms = repo->opts.max_latency_ms;
    const char *end = NULL;
    cfg->root = cJSON_ParseWithOpts(json, &end, 1);
    if (!cfg->root || !cJSON_IsObject(cfg->root)) {
        st = eml__diag(diag, EML_EINVAL, "config: not a JSON object (error near byte %td)",
                       cfg->root ? (ptrdiff_t)0 : (end ? end - json : (ptrdiff_t)0));
        goto fail;
    }
    const char *lists[2] = {"inputs", "outputs"};
    for (int k = 0; k < 2; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(cfg->root, lists[k]), *it;
        if (arr && !cJSON_IsArray(arr)) {
            st = eml__diag(diag, EML_EINVAL, "config: \"%s\" must be an array", lists[k]);
            goto fail;
        }
        cJSON_ArrayForEach(it, arr)
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (!cJSON_IsObject(it) || !cJSON_IsString(nm)) {
                st = eml__diag(diag, EML_EINVAL, "config: each of \"%s\" needs a \"name\"",
                               lists[k]);
                goto fail;
            }
        }
    }
    const cJSON *hc = cJSON_GetObjectItemCaseSensitive(cfg->root, "health_check");
    if (hc && !cJSON_IsObject(hc)) {
        st = eml__diag(diag, EML_EINVAL, "config: \"health_check\" must be an object");
        goto fail;
    }
    if (hc) {
        EML_TRY(number_field(hc, "rtol", &cfg->rtol, diag));
        EML_TRY(number_field(hc, "atol", &cfg->atol, diag));
        EML_TRY(number_field(hc, "max_latency_ms", &cfg->max_latency_ms, diag));
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(hc, "cases");
        if (cases && (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) > MAX_CASES)) {
            st = eml__diag(diag, EML_EINVAL,
                           "config: health_check.cases must be an array of at most %d cases",
                           MAX_CASES);
            goto fail;
        }
        size_t n = cases ? (size_t)cJSON_GetArraySize(cases) : 0;
        if (n) {
            cfg->cases = eml__calloc(repo->env, n, sizeof(*cfg->cases));
            if (!cfg->cases) {
                st = eml__diag(diag, EML_ENOMEM, "out of memory");
                goto fail;
            }
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, cases)
        {
            health_case *h = &cfg->cases[cfg->n_cases++];
            char w[64];
            if (!cJSON_IsObject(c)) {
                st = eml__diag(diag, EML_EINVAL, "config: health_check.cases[%zu] is not an object",
                               cfg->n_cases - 1);
                goto fail;
            }
            snprintf(w, sizeof(w), "health_check.cases[%zu].inputs", cfg->n_cases - 1);
            EML_TRY(parse_side(cfg, cJSON_GetObjectItemCaseSensitive(c, "inputs"), base_dir, h->in,
                               &h->n_in, w, diag));
            snprintf(w, sizeof(w), "health_check.cases[%zu].outputs", cfg->n_cases - 1);
            EML_TRY(parse_side(cfg, cJSON_GetObjectItemCaseSensitive(c, "outputs"), base_dir,
                               h->out, &h->n_out, w, diag));
        }
    }
    *out = cfg;
    return EML_OK;
fail:
    if (diag && st != EML_ENOMEM && strncmp(diag->message, "config", 6) != 0) {
        char m[sizeof(diag->message)];
        snprintf(m, sizeof(m), "%s", diag->message);
        eml__diag(diag, st, "config: %s", m);
    }
    eml__repo_config_destroy(cfg);
    return st;
}

eml_status eml__repo_config_store(eml__repo_config *cfg, const char *dir, eml_diag *diag)
{
    eml_env *env = cfg->repo->env;
    eml_status st = EML_OK;
    char path[PATH_MAX];
    int made_dir = 0;
    for (size_t c = 0; c < cfg->n_cases; c++) {
        health_case *hc = &cfg->cases[c];
        for (size_t i = 0; i < hc->n_in + hc->n_out; i++) {
            health_tensor *ht = i < hc->n_in ? &hc->in[i] : &hc->out[i - hc->n_in];
            if (!ht->file_item)
                continue;
            if (!made_dir) {
                snprintf(path, sizeof(path), "%s/health", dir);
                if (mkdir(path, 0755) != 0)
                    return eml__diag(diag, EML_EIO, "cannot create %s: %s", path, strerror(errno));
                made_dir = 1;
            }
            /* keep the extension: the reader picks the format by it */
            const char *dot = strrchr(ht->file_path, '.');
            char leaf[64];
            snprintf(leaf, sizeof(leaf), "health/%zu_%s%zu%s", c, i < hc->n_in ? "in" : "out",
                     i < hc->n_in ? i : i - hc->n_in, dot && !strchr(dot, '/') ? dot : "");
            void *bytes = NULL;
            size_t n = 0;
            st = eml__fs_read_file(env, ht->file_path, MAX_CONFIG_BYTES, &bytes, &n, diag);
            if (st == EML_OK && eml__repo_join(path, sizeof(path), dir, leaf, NULL) != EML_OK)
                st = eml__diag(diag, EML_ELIMIT, "path too long");
            if (st == EML_OK)
                st = eml__fs_write_file(path, bytes, n, diag);
            eml__free(env, bytes);
            if (st != EML_OK)
                return st;
            if (!cJSON_SetValuestring(ht->file_item, leaf))
                return eml__diag(diag, EML_ENOMEM, "out of memory");
        }
    }
    if (made_dir) {
        snprintf(path, sizeof(path), "%s/health", dir);
        EML_TRY(eml__fs_fsync_dir(path, diag));
    }
    char *text = cJSON_PrintUnformatted(cfg->root);
    if (!text)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    snprintf(path, sizeof(path), "%s/config.json", dir);
    st = eml__fs_write_file(path, text, strlen(text), diag);
    cJSON_free(text);
    return st;
fail:
    return st;
}

static const char *graph_io_name(const eml_graph *g, int output, size_t i)
{
    eml_value_info info;
    if ((output ? eml_graph_output(g, i, &info) : eml_graph_input(g, i, &info)) != EML_OK)
        return "";
    return info.name ? info.name : "";
}

/* Index of a graph input/output by name; -1 when absent. */
static long find_io(const eml_graph *g, int output, const char *name)
{
    size_t n = output ? eml_graph_output_count(g) : eml_graph_input_count(g);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(graph_io_name(g, output, i), name))
            return (long)i;
    return -1;
}

eml_status eml__repo_config_check_graph(const eml__repo_config *cfg, const eml_graph *graph,
                                        eml_diag *diag)
{
    const char *lists[2] = {"inputs", "outputs"};
    for (int k = 0; k < 2; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(cfg->root, lists[k]), *it;
        cJSON_ArrayForEach(it, arr)
        {
            const char *name = cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring;
            long idx = find_io(graph, k, name);
            if (idx < 0)
                return eml__diag(diag, EML_EINVAL, "the config names %s '%s', the model has none",
                                 k ? "output" : "input", name);
            eml_value_info info;
            if (k)
                eml_graph_output(graph, (size_t)idx, &info);
            else
                eml_graph_input(graph, (size_t)idx, &info);
            const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
            if (cJSON_IsString(dt) && strcmp(dt->valuestring, eml_dtype_name(info.dtype)) != 0)
                return eml__diag(diag, EML_ETYPE, "config: %s '%s' is %s, the model's is %s",
                                 k ? "output" : "input", name, dt->valuestring,
                                 eml_dtype_name(info.dtype));
            const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
            if (shape && info.rank >= 0) {
                int32_t rank = 0;
                int64_t dims[EML_MAX_RANK];
                eml_status st = parse_shape(shape, &rank, dims, name, diag);
                if (st != EML_OK)
                    return st;
                int ok = rank == info.rank;
                for (int d = 0; ok && d < rank; d++)
                    ok = info.dims[d] < 0 || info.dims[d] == dims[d];
                if (!ok) {
                    char a[128];
                    eml__shape_str(a, sizeof(a), info.dtype, info.dims, info.rank);
                    return eml__diag(diag, EML_ESHAPE,
                                     "config: the shape of %s '%s' does not fit the model's %s",
                                     k ? "output" : "input", name, a);
                }
            }
        }
    }
    return EML_OK;
}

eml_status eml__repo_compile(eml_repo *repo, const void *bytes, size_t n_bytes, const char *file,
                             eml_graph **graph, eml_plan **plan, const char **failed_step,
                             eml_diag *diag)
{
    *graph = NULL;
    *plan = NULL;
    *failed_step = "load";
    eml_status st = eml_graph_load_onnx_bytes(repo->env, bytes, n_bytes, NULL, graph, diag);
    if (st != EML_OK) {
        if (diag && file && !diag->file[0])
            eml__diag_where(diag, file, NULL, NULL, 0, -1);
        return st;
    }
    return eml__repo_compile_graph(repo, graph, file, plan, failed_step, diag);
}

eml_status eml__repo_compile_graph(eml_repo *repo, eml_graph **graph, const char *file,
                                   eml_plan **plan, const char **failed_step, eml_diag *diag)
{
    *plan = NULL;
    eml_status st = EML_OK;
    if (repo->opts.optimize_level > 0) {
        *failed_step = "compile";
        eml_optimize_options o;
        eml_optimize_options_init(&o);
        o.level = repo->opts.optimize_level;
        st = eml_graph_optimize(*graph, &o, NULL, diag);
    }
    if (st == EML_OK) {
        *failed_step = "compile";
        st = eml_plan_create(*graph, plan, diag);
    }
    if (st != EML_OK) {
        if (diag && file && !diag->file[0])
            eml__diag_where(diag, file, NULL, NULL, 0, -1);
        eml_graph_destroy(*graph);
        *graph = NULL;
        return st;
    }
    eml__graph_page_out_mapped(*graph);
    *failed_step = NULL;
    return EML_OK;
}

/* ---- running the health check ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Fills inputs (graph order) for one case; zeros for inputs the case leaves out without a
 * default (zeros[] holds that memory). */
static eml_status bind_inputs(eml_repo *repo, const eml_graph *g, const health_case *hc,
                              eml_tensor *inputs, void **zeros, size_t case_index, eml_diag *diag)
{
    size_t n = eml_graph_input_count(g);
    for (size_t i = 0; i < n; i++)
        memset(&inputs[i], 0, sizeof(inputs[i]));
    for (size_t k = 0; hc && k < hc->n_in; k++) {
        const health_tensor *ht = &hc->in[k];
        long idx = ht->name ? find_io(g, 0, ht->name) : (long)k;
        if (idx < 0 || (size_t)idx >= n)
            return eml__diag(diag, EML_EINVAL, "case %zu: the model has no input %s%s%s",
                             case_index, ht->name ? "'" : "#", ht->name ? ht->name : "",
                             ht->name ? "'" : "");
        inputs[idx] = ht->t;
    }
    for (size_t i = 0; i < n; i++) {
        eml_value_info info;
        eml_graph_input(g, i, &info);
        if (inputs[i].data || info.has_default)
            continue;
        if (info.rank < 0)
            return eml__diag(diag, EML_EINVAL,
                             "case %zu: input '%s' has an unknown rank; give it in a health-check "
                             "case",
                             case_index, info.name);
        eml_tensor *t = &inputs[i];
        t->dtype = info.dtype;
        t->rank = info.rank;
        for (int d = 0; d < info.rank; d++)
            t->dims[d] = info.dims[d] < 0 ? 1 : info.dims[d];
        int64_t count = eml__shape_count(t->dims, t->rank);
        size_t bytes = count > 0 ? (size_t)count * eml_dtype_size(t->dtype) : 1;
        zeros[i] = eml__calloc(repo->env, 1, bytes ? bytes : 1);
        if (!zeros[i])
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        t->data = zeros[i];
    }
    return EML_OK;
}

static eml_status compare(const eml__repo_config *cfg, const eml_tensor *got,
                          const health_tensor *want, const char *name, size_t case_index,
                          eml_diag *diag)
{
    char a[128], b[128];
    const eml_tensor *w = &want->t;
    int same_shape = got->rank == w->rank && got->dtype == w->dtype;
    for (int d = 0; same_shape && d < got->rank; d++)
        same_shape = got->dims[d] == w->dims[d];
    if (!same_shape)
        return eml__diag(diag, EML_ESHAPE, "case %zu: output '%s' is %s, expected %s", case_index,
                         name, eml__shape_str(a, sizeof(a), got->dtype, got->dims, got->rank),
                         eml__shape_str(b, sizeof(b), w->dtype, w->dims, w->rank));
    size_t count = (size_t)eml_tensor_count(got);
    int fl = is_float(got->dtype);
    for (size_t i = 0; i < count; i++) {
        double x = load_number(got->dtype, got->data, i), y = load_number(w->dtype, w->data, i);
        int ok;
        if (fl)
            ok = (isnan(x) && isnan(y)) || x == y || fabs(x - y) <= cfg->atol + cfg->rtol * fabs(y);
        else if (got->dtype == EML_DTYPE_I64 || got->dtype == EML_DTYPE_U64)
            ok = !memcmp((const char *)got->data + 8 * i, (const char *)w->data + 8 * i, 8);
        else
            ok = x == y;
        if (!ok)
            return eml__diag(diag, EML_ERANGE,
                             "case %zu: output '%s' element %zu is %.9g, expected %.9g "
                             "(rtol %g, atol %g)",
                             case_index, name, i, x, y, cfg->rtol, cfg->atol);
    }
    return EML_OK;
}

static eml_status run_case(eml_repo *repo, const eml__repo_config *cfg, const eml_graph *g,
                           eml_session *s, const health_case *hc, size_t case_index, int check,
                           double *ms, eml_diag *diag)
{
    size_t n = eml_graph_input_count(g);
    eml_tensor *inputs = eml__calloc(repo->env, n ? n : 1, sizeof(*inputs));
    void **zeros = eml__calloc(repo->env, n ? n : 1, sizeof(*zeros));
    eml_status st = inputs && zeros ? EML_OK : eml__diag(diag, EML_ENOMEM, "out of memory");
    if (st == EML_OK)
        st = bind_inputs(repo, g, hc, inputs, zeros, case_index, diag);
    if (st == EML_OK) {
        double t0 = now_ms();
        st = eml_session_run(s, inputs, n, diag);
        *ms = now_ms() - t0;
        if (st != EML_OK && diag) {
            char m[sizeof(diag->message)];
            snprintf(m, sizeof(m), "%s", diag->message);
            eml__diag(diag, st, "case %zu: the run failed: %s", case_index, m);
        }
    }
    for (size_t k = 0; st == EML_OK && hc && check && k < hc->n_out; k++) {
        const health_tensor *ht = &hc->out[k];
        long idx = ht->name ? find_io(g, 1, ht->name) : (long)k;
        if (idx < 0 || (size_t)idx >= eml_graph_output_count(g)) {
            st = eml__diag(diag, EML_EINVAL, "case %zu: the model has no output %s", case_index,
                           ht->name ? ht->name : "at that position");
            break;
        }
        eml_tensor got;
        st = eml_session_output(s, (size_t)idx, &got);
        if (st == EML_OK)
            st = compare(cfg, &got, ht, graph_io_name(g, 1, (size_t)idx), case_index, diag);
    }
    for (size_t i = 0; zeros && i < n; i++)
        eml__free(repo->env, zeros[i]);
    eml__free(repo->env, zeros);
    eml__free(repo->env, inputs);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

eml_status eml__repo_health_check(eml_repo *repo, const eml__repo_config *cfg,
                                  const eml_graph *graph, const eml_plan *plan, double *latency_ms,
                                  const char **failed_step, eml_diag *diag)
{
    *failed_step = "health_check";
    *latency_ms = 0;
    eml_session_options so;
    eml_session_options_init(&so);
    so.n_threads = repo->opts.n_threads;
    eml_session *s = NULL;
    eml_status st = eml_session_create(plan, &so, &s, diag);
    double ms = 0;
    size_t n_cases = cfg->n_cases ? cfg->n_cases : 1;
    for (size_t c = 0; st == EML_OK && c < n_cases; c++)
        st = run_case(repo, cfg, graph, s, cfg->n_cases ? &cfg->cases[c] : NULL, c, 1, &ms, diag);
    double times[64];
    uint32_t runs = EML_MIN(repo->opts.latency_runs, 64u);
    for (uint32_t r = 0; st == EML_OK && r < runs; r++) {
        st = run_case(repo, cfg, graph, s, cfg->n_cases ? &cfg->cases[0] : NULL, 0, 0, &ms, diag);
        times[r] = ms;
    }
    if (st == EML_OK && runs) {
        qsort(times, runs, sizeof(double), cmp_double);
        *latency_ms = times[runs / 2];
        if (cfg->max_latency_ms > 0 && *latency_ms > cfg->max_latency_ms) {
            *failed_step = "latency_check";
            st = eml__diag(diag, EML_ERANGE,
                           "median run time %.3f ms over %u runs is above the limit of %.3g ms",
                           *latency_ms, (unsigned)runs, cfg->max_latency_ms);
        }
    }
    eml_session_destroy(s);
    if (st == EML_OK)
        *failed_step = NULL;
    return st;
}
