/* ONNX backend conformance: every test of Debian's libonnx-testdata suites runs through the
 * library. A test whose ops are all in ops.def (and that uses no string tensors) must pass
 * (rtol 1e-3, atol 1e-7); every other test must be refused with a clear "unsupported" error.
 * EML_CONFORMANCE_FILTER=a,b runs only tests whose names contain a or b; EML_VERBOSE=1 prints
 * every test. */
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/op.h"
#include "harness.h"
#include "onnx.pb-c.h"

#define RTOL 1e-3
#define ATOL 1e-7

typedef struct counts {
    int total, in_list, passed, failed, refused_ok, refused_wrong, strings;
    int optimized_same, optimized_differ; /* passing tests run again after eml_graph_optimize */
    int optimized_changed;                /* ... whose graph the optimizer rewrote */
} counts;

static const char *data_root(void)
{
    const char *r = getenv("EML_ONNX_TESTDATA");
    return r ? r : "/usr/share/libonnx-testdata/data";
}

static bool filtered_out(const char *name)
{
    const char *f = getenv("EML_CONFORMANCE_FILTER");
    if (!f || !*f)
        return false;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", f);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (strstr(name, tok))
            return false;
    }
    return true;
}

/* ---- what the model uses, read independently of the loader ---- */

typedef struct usage {
    bool all_in_list;
    bool strings; /* or other values that are not numeric tensors */
    char first_missing[128];
} usage;

/* Strings and non-tensor values (sequences, maps, optionals, sparse tensors) are outside what the
 * library computes with: such a test must be refused even when its ops are supported. */
static void note_type(usage *u, const Onnx__TypeProto *t)
{
    if (!t)
        return;
    if (t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        u->strings = true;
    else if (t->tensor_type && t->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING)
        u->strings = true;
}

static void scan_graph(usage *u, const Onnx__GraphProto *g)
{
    for (size_t i = 0; i < g->n_input; i++)
        note_type(u, g->input[i]->type);
    for (size_t i = 0; i < g->n_output; i++)
        note_type(u, g->output[i]->type);
    for (size_t i = 0; i < g->n_initializer; i++) {
        if (g->initializer[i]->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING)
            u->strings = true;
    }
    for (size_t n = 0; n < g->n_node; n++) {
        const Onnx__NodeProto *node = g->node[n];
        bool default_domain = !node->domain || !node->domain[0] ||
                              strcmp(node->domain, "ai.onnx") == 0;
        if (!default_domain || eml__op_find("", node->op_type) == EML_OP_UNKNOWN) {
            if (u->all_in_list)
                snprintf(u->first_missing, sizeof(u->first_missing), "%s", node->op_type);
            u->all_in_list = false;
        }
        for (size_t a = 0; a < node->n_attribute; a++) {
            const Onnx__AttributeProto *attr = node->attribute[a];
            if (attr->g)
                scan_graph(u, attr->g);
            for (size_t k = 0; k < attr->n_graphs; k++)
                scan_graph(u, attr->graphs[k]);
            if (strcmp(node->op_type, "Cast") == 0 && strcmp(attr->name, "to") == 0 &&
                attr->i == ONNX__TENSOR_PROTO__DATA_TYPE__STRING)
                u->strings = true;
            if (attr->t && attr->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING)
                u->strings = true;
        }
    }
}

static bool scan_model(const char *path, usage *u)
{
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    if (!bytes)
        return false;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, bytes);
    free(bytes);
    if (!m)
        return false;
    u->all_in_list = true;
    u->strings = false;
    u->first_missing[0] = 0;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if ((!d || !*d) && m->opset_import[i]->version > 17)
            u->all_in_list = false;
    }
    if (m->graph)
        scan_graph(u, m->graph);
    if (m->n_functions)
        u->all_in_list = false;
    onnx__model_proto__free_unpacked(m, NULL);
    return true;
}

/* ---- comparing ---- */

static bool close_enough(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= ATOL + RTOL * fabs(want);
}

static bool is_float(eml_dtype t)
{
    return t == EML_DTYPE_F32 || t == EML_DTYPE_F64 || t == EML_DTYPE_F16 || t == EML_DTYPE_BF16;
}

static double get(const eml_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EML_DTYPE_F32: return ((const float *)t->data)[i];
    case EML_DTYPE_F64: return ((const double *)t->data)[i];
    case EML_DTYPE_F16: return eml_f16_to_f32(((const uint16_t *)t->data)[i]);
    case EML_DTYPE_BF16: return eml_bf16_to_f32(((const uint16_t *)t->data)[i]);
    default: return 0;
    }
}

static bool compare(const eml_tensor *got, const eml_tensor *want, char *why, size_t cap)
{
    char a[160], b[160];
    bool same_shape = got->rank == want->rank && got->dtype == want->dtype;
    for (int d = 0; same_shape && d < got->rank; d++)
        same_shape = got->dims[d] == want->dims[d];
    if (!same_shape) {
        snprintf(why, cap, "got %s, want %s",
                 eml__shape_str(a, sizeof(a), got->dtype, got->dims, got->rank),
                 eml__shape_str(b, sizeof(b), want->dtype, want->dims, want->rank));
        return false;
    }
    int64_t n = eml_tensor_count(want);
    if (is_float(want->dtype)) {
        for (int64_t i = 0; i < n; i++) {
            double g = get(got, i), w = get(want, i);
            if (!close_enough(g, w)) {
                snprintf(why, cap, "element %lld: got %.9g, want %.9g", (long long)i, g, w);
                return false;
            }
        }
        return true;
    }
    size_t bytes = eml_tensor_bytes(want);
    if (bytes && memcmp(got->data, want->data, bytes) != 0) {
        size_t es = eml_dtype_size(want->dtype);
        for (int64_t i = 0; i < n; i++) {
            if (memcmp((const char *)got->data + i * es, (const char *)want->data + i * es, es)) {
                snprintf(why, cap, "element %lld differs (integer/bool data)", (long long)i);
                break;
            }
        }
        return false;
    }
    return true;
}

/* ---- running one test ---- */

static eml_status read_pb_file(eml_env *env, const char *path, eml_tensor *t, eml_diag *diag)
{
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    if (!bytes)
        return EML_EIO;
    char name[256];
    eml_status st = eml_tensor_read_pb(env, bytes, n, t, name, sizeof(name), diag);
    free(bytes);
    return st;
}

/* Runs every test_data_set_N of a loaded model; returns true when all outputs match. */
static bool run_data_sets(eml_env *env, const eml_graph *g, const char *dir, char *why,
                          size_t cap)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    eml_session *sess = NULL;
    bool ok = true;
    if (eml_plan_create(g, &plan, &diag) != EML_OK ||
        eml_session_create(plan, NULL, &sess, &diag) != EML_OK) {
        snprintf(why, cap, "plan: %s", diag.message);
        eml_plan_destroy(plan);
        return false;
    }
    size_t n_in = eml_graph_input_count(g), n_out = eml_graph_output_count(g);
    for (int set = 0; ok; set++) {
        char sd[1200], path[1400];
        snprintf(sd, sizeof(sd), "%s/test_data_set_%d", dir, set);
        struct stat stt;
        if (stat(sd, &stt) != 0) {
            if (set == 0) {
                snprintf(why, cap, "no test data");
                ok = false;
            }
            break;
        }
        eml_tensor inputs[64], want;
        memset(inputs, 0, sizeof(inputs));
        size_t k = 0;
        /* input files fill the inputs without defaults first, in graph order */
        for (size_t i = 0; i < n_in && i < 64; i++) {
            eml_value_info info;
            eml_graph_input(g, i, &info);
            if (info.has_default)
                continue;
            snprintf(path, sizeof(path), "%s/input_%zu.pb", sd, k++);
            if (read_pb_file(env, path, &inputs[i], &diag) != EML_OK) {
                snprintf(why, cap, "reading %.300s: %.300s", path, diag.message);
                ok = false;
                break;
            }
            /* ONNX 1.12's generator stored bfloat16 test tensors as uint16 bit patterns */
            if (info.dtype == EML_DTYPE_BF16 && inputs[i].dtype == EML_DTYPE_U16)
                inputs[i].dtype = EML_DTYPE_BF16;
        }
        if (ok && eml_session_run(sess, inputs, n_in, &diag) != EML_OK) {
            snprintf(why, cap, "run: %s", diag.message);
            ok = false;
        }
        for (size_t o = 0; ok && o < n_out; o++) {
            snprintf(path, sizeof(path), "%s/output_%zu.pb", sd, o);
            memset(&want, 0, sizeof(want));
            if (read_pb_file(env, path, &want, &diag) != EML_OK) {
                snprintf(why, cap, "reading %.300s: %.300s", path, diag.message);
                ok = false;
                break;
            }
            eml_tensor got;
            eml_session_output(sess, o, &got);
            if (got.dtype == EML_DTYPE_BF16 && want.dtype == EML_DTYPE_U16)
                want.dtype = EML_DTYPE_BF16; /* as for inputs above */
            char detail[300];
            if (!compare(&got, &want, detail, sizeof(detail))) {
                snprintf(why, cap, "set %d output %zu: %s", set, o, detail);
                ok = false;
            }
            eml_tensor_free(env, &want);
        }
        for (size_t i = 0; i < n_in && i < 64; i++)
            eml_tensor_free(env, &inputs[i]);
    }
    eml_session_destroy(sess);
    eml_plan_destroy(plan);
    return ok;
}

static void run_one(eml_env *env, const char *suite, const char *name, counts *c)
{
    char dir[1024], model[1100], why[700] = "";
    snprintf(dir, sizeof(dir), "%s/%s/%s", data_root(), suite, name);
    snprintf(model, sizeof(model), "%s/model.onnx", dir);
    usage u;
    if (!scan_model(model, &u)) {
        printf("FAIL    %s: test model unreadable\n", name);
        c->total++;
        c->failed++;
        return;
    }
    c->total++;
    bool expect_pass = u.all_in_list && !u.strings;
    c->in_list += u.all_in_list;
    c->strings += u.all_in_list && u.strings;
    eml_diag diag;
    eml_diag_init(&diag);
    eml_graph *g = NULL;
    eml_status st = eml_graph_load_onnx(env, model, &g, &diag);
    bool verbose = getenv("EML_VERBOSE") != NULL;
    if (!expect_pass) {
        bool refused = st == EML_EUNSUPPORTED && strncmp(diag.message, "unsupported: ", 13) == 0;
        if (!refused && st == EML_OK) {
            /* loaded: then it must not be able to run (e.g. a string value) */
            eml_plan *plan = NULL;
            eml_diag d2;
            eml_diag_init(&d2);
            eml_status pst = eml_plan_create(g, &plan, &d2);
            refused = pst == EML_EUNSUPPORTED && strncmp(d2.message, "unsupported: ", 13) == 0;
            snprintf(diag.message, sizeof(diag.message), "%s", d2.message);
            eml_plan_destroy(plan);
        }
        if (refused) {
            c->refused_ok++;
            if (verbose)
                printf("REFUSED %s: %s\n", name, diag.message);
        } else {
            c->refused_wrong++;
            printf("BADREFUSE %s (%s%s): status %s: %s\n", name,
                   u.strings ? "strings " : "", u.first_missing, eml_status_name(st),
                   diag.message);
        }
        eml_graph_destroy(g);
        return;
    }
    bool ok = false;
    if (st != EML_OK)
        snprintf(why, sizeof(why), "load: %s", diag.message);
    else
        ok = run_data_sets(env, g, dir, why, sizeof(why));
    if (ok) {
        /* the optimized graph (level 2) must pass the same data sets */
        char opt_why[700] = "";
        eml_optimize_report report;
        eml_status ost = eml_graph_optimize(g, NULL, &report, &diag);
        for (size_t p = 0; ost == EML_OK && p < report.pass_count; p++) {
            if (report.passes[p].rewrites) {
                c->optimized_changed++;
                break;
            }
        }
        if (ost != EML_OK)
            snprintf(opt_why, sizeof(opt_why), "optimize: %s", diag.message);
        if (ost == EML_OK && run_data_sets(env, g, dir, opt_why, sizeof(opt_why))) {
            c->optimized_same++;
        } else {
            c->optimized_differ++;
            printf("FAIL    %s (optimized): %s\n", name, opt_why);
        }
    }
    eml_graph_destroy(g);
    if (ok) {
        c->passed++;
        if (verbose)
            printf("PASS    %s\n", name);
    } else {
        c->failed++;
        printf("FAIL    %s: %s\n", name, why);
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_suite(const char *suite)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", data_root(), suite);
    DIR *d = opendir(path);
    if (!d)
        eml_test_skip("libonnx-testdata is not installed (scripts/install-deps.sh installs it)");
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "test_", 5) != 0 || filtered_out(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = realloc(names, cap * sizeof(char *));
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_names);
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    counts c = {0};
    for (size_t i = 0; i < n; i++) {
        run_one(env, suite, names[i], &c);
        free(names[i]);
    }
    free(names);
    eml_env_destroy(env);
    printf("suite %s: %d tests, %d use only supported ops (%d of them with string or non-tensor "
           "values, refused), %d passed, %d failed; %d refused as unsupported, %d not refused cleanly\n",
           suite, c.total, c.in_list, c.strings, c.passed, c.failed, c.refused_ok,
           c.refused_wrong);
    printf("suite %s: %d passing tests checked again optimized (level 2; %d of them rewritten): "
           "%d pass, %d fail\n",
           suite, c.optimized_same + c.optimized_differ, c.optimized_changed, c.optimized_same,
           c.optimized_differ);
    CHECK(c.failed == 0);
    CHECK(c.optimized_differ == 0);
    CHECK(c.refused_wrong == 0);
}

EML_TEST(node)
{
    run_suite("node");
}

EML_TEST(pytorch_converted)
{
    run_suite("pytorch-converted");
}

EML_TEST(pytorch_operator)
{
    run_suite("pytorch-operator");
}

EML_TEST(simple)
{
    run_suite("simple");
}
