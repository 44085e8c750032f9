/* `edgeml bench --profile`: after the latency runs, a separate pass of as many runs on a profiled
 * session (so that the latency figures are never taken with the clock reads of profiling), then
 * the nodes that cost most, the cost per op type, and how much of a run the nodes account for. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_bench_profile.h"

/* Rows of the per-node text table; --json lists every node. */
#define PROFILE_TOP_NODES 15
/* Widest node name shown in the text table: longer ones keep their end, which names the layer. */
#define PROFILE_NAME_WIDTH 44

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static double node_mean_us(const eml_node_profile *e)
{
    return e->runs ? (double)e->total_ns / (double)e->runs * 1e-3 : 0;
}

/* MACs per nanosecond is GMAC/s; 0 when the node has no MACs. */
static double node_gmacs(const eml_node_profile *e)
{
    double ns = e->runs ? (double)e->total_ns / (double)e->runs : 0;
    return e->macs && ns > 0 ? (double)e->macs / ns : 0;
}

int bench_profile_run(const eml_plan *plan, eml_env *env, const eml_tensor *feeds,
                      size_t n_feeds, long runs, bench_profile *out)
{
    memset(out, 0, sizeof(*out));
    out->env = env;
    eml_diag diag;
    eml_diag_init(&diag);
    eml_session_options o;
    eml_session_options_init(&o);
    o.profile = 1;
    eml_session *s = NULL;
    eml_status st = eml_session_create(plan, &o, &s, &diag);
    /* one warm-up run specializes the session and touches its arena; it is not counted */
    if (st == EML_OK)
        st = eml_session_run(s, feeds, n_feeds, &diag);
    eml_session_profile_reset(s);
    double total_ms = 0;
    for (long k = 0; k < runs && st == EML_OK; k++) {
        double t0 = now_ms();
        st = eml_session_run(s, feeds, n_feeds, &diag);
        total_ms += now_ms() - t0;
    }
    if (st == EML_OK)
        st = eml_session_profile(s, &out->nodes, &out->count);
    eml_session_destroy(s);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, NULL);
    out->runs = runs;
    out->mean_run_ms = runs > 0 ? total_ms / (double)runs : 0;
    for (size_t k = 0; k < out->count; k++)
        out->sum_nodes_ms += node_mean_us(&out->nodes[k]) * 1e-3;
    return CLI_OK;
}

void bench_profile_free(bench_profile *p)
{
    if (p->env)
        eml_profile_free(p->env, p->nodes);
    memset(p, 0, sizeof(*p));
}

static int by_total_desc(const void *a, const void *b)
{
    const eml_node_profile *x = *(const eml_node_profile *const *)a;
    const eml_node_profile *y = *(const eml_node_profile *const *)b;
    if (x->total_ns != y->total_ns)
        return x->total_ns < y->total_ns ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static double percent(const bench_profile *p, double us)
{
    return p->mean_run_ms > 0 ? us * 1e-3 / p->mean_run_ms * 100.0 : 0;
}

/* The last `width` characters of a long name, marked by a leading "..". */
static const char *name_tail(const char *name, char *buf, size_t cap, int width)
{
    size_t n = strlen(name);
    if (!name[0])
        return "(unnamed)";
    if (n <= (size_t)width)
        return name;
    snprintf(buf, cap, "..%s", name + n - (size_t)(width - 2));
    return buf;
}

typedef struct op_total {
    const char *op;
    size_t count;
    double us;
} op_total;

static int op_by_time_desc(const void *a, const void *b)
{
    const op_total *x = a, *y = b;
    if (x->us != y->us)
        return x->us < y->us ? 1 : -1;
    return strcmp(x->op, y->op);
}

/* Per op type: nodes and summed mean time, largest first. Returns the count, or -1 (no memory). */
static long op_totals(const bench_profile *p, op_total **out)
{
    op_total *ops = calloc(p->count + 1, sizeof(*ops));
    if (!ops)
        return -1;
    long n = 0;
    for (size_t k = 0; k < p->count; k++) {
        const eml_node_profile *e = &p->nodes[k];
        long j = 0;
        while (j < n && strcmp(ops[j].op, e->op_type) != 0)
            j++;
        if (j == n)
            ops[n++].op = e->op_type;
        ops[j].count++;
        ops[j].us += node_mean_us(e);
    }
    qsort(ops, (size_t)n, sizeof(*ops), op_by_time_desc);
    *out = ops;
    return n;
}

void bench_profile_print_text(FILE *f, const bench_profile *p)
{
    fprintf(f, "profile: a separate pass of %ld profiled runs after one warm-up; times are means "
               "per run\n", p->runs);
    fprintf(f, "sum of nodes %.4g ms of a mean run %.4g ms (the rest, %.3g ms, is the "
               "executor's own time)\n", p->sum_nodes_ms, p->mean_run_ms,
            p->mean_run_ms - p->sum_nodes_ms);
    const eml_node_profile **order = calloc(p->count + 1, sizeof(*order));
    if (!order) {
        cli_error(CLI_FAIL, "out of memory");
        return;
    }
    int width = 4, op_width = 2, kernel_width = 6;
    for (size_t k = 0; k < p->count; k++) {
        const eml_node_profile *e = &p->nodes[k];
        order[k] = e;
        int n = (int)strlen(e->name[0] ? e->name : "(unnamed)");
        width = n > width ? n : width;
        n = (int)strlen(e->op_type);
        op_width = n > op_width ? n : op_width;
        n = (int)strlen(e->kernel);
        kernel_width = n > kernel_width ? n : kernel_width;
    }
    width = width > PROFILE_NAME_WIDTH ? PROFILE_NAME_WIDTH : width;
    qsort(order, p->count, sizeof(*order), by_total_desc);
    size_t top = p->count < PROFILE_TOP_NODES ? p->count : PROFILE_TOP_NODES;
    fprintf(f, "top %zu of %zu nodes by time:\n", top, p->count);
    fprintf(f, "  %-*s  %-*s  %-*s %10s %6s %8s\n", width, "node", op_width, "op", kernel_width,
            "kernel", "mean us", "%run", "GMAC/s");
    for (size_t k = 0; k < top; k++) {
        const eml_node_profile *e = order[k];
        char buf[PROFILE_NAME_WIDTH + 1], gm[32];
        double us = node_mean_us(e), g = node_gmacs(e);
        if (g > 0)
            snprintf(gm, sizeof(gm), "%.2f", g);
        else
            snprintf(gm, sizeof(gm), "-");
        fprintf(f, "  %-*s  %-*s  %-*s %10.1f %5.1f%% %8s\n", width,
                name_tail(e->name, buf, sizeof(buf), width), op_width, e->op_type, kernel_width,
                e->kernel, us, percent(p, us), gm);
    }
    free(order);
    op_total *ops = NULL;
    long n_ops = op_totals(p, &ops);
    if (n_ops < 0) {
        cli_error(CLI_FAIL, "out of memory");
        return;
    }
    fprintf(f, "by op type:\n");
    fprintf(f, "  %-*s %6s %10s %6s\n", op_width, "op", "count", "mean us", "%run");
    for (long k = 0; k < n_ops; k++)
        fprintf(f, "  %-*s %6zu %10.1f %5.1f%%\n", op_width, ops[k].op, ops[k].count, ops[k].us,
                percent(p, ops[k].us));
    free(ops);
}

void bench_profile_print_json(FILE *f, const bench_profile *p)
{
    fprintf(f, ", \"profile_runs\": %ld, \"profile_mean_run_ms\": %.6f, "
               "\"profile_sum_nodes_ms\": %.6f, \"profile\": [",
            p->runs, p->mean_run_ms, p->sum_nodes_ms);
    for (size_t k = 0; k < p->count; k++) {
        const eml_node_profile *e = &p->nodes[k];
        double us = node_mean_us(e);
        fputs(k ? ", {\"node\": " : "{\"node\": ", f);
        cli_json_string(f, e->name);
        fputs(", \"op\": ", f);
        cli_json_string(f, e->op_type);
        fputs(", \"kernel\": ", f);
        cli_json_string(f, e->kernel);
        fprintf(f,
                ", \"index\": %zu, \"runs\": %llu, \"total_ns\": %llu, \"mean_us\": %.3f, "
                "\"percent\": %.3f, \"macs\": %llu",
                e->index, (unsigned long long)e->runs, (unsigned long long)e->total_ns, us,
                percent(p, us), (unsigned long long)e->macs);
        if (e->macs)
            fprintf(f, ", \"gmacs_per_s\": %.3f", node_gmacs(e));
        fputc('}', f);
    }
    fputc(']', f);
}
