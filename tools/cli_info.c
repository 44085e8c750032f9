/* `edgeml info MODEL [--json] [--nodes]`: what a model declares, what the optimizer makes of it,
 * and what its plan costs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Node counts per op type before and after optimization, in first-seen order (the model's ops,
 * then those the optimizer made). */
typedef struct op_counts {
    char **names;
    size_t *count[2]; /* [0] before, [1] after */
    size_t n, cap;
    int side;         /* which count the collector fills */
    int failed;
} op_counts;

static void collect_op(void *user, const char *op_type, size_t count)
{
    op_counts *c = user;
    size_t i = 0;
    while (i < c->n && strcmp(c->names[i], op_type) != 0)
        i++;
    if (i == c->n) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 32;
            char **names = realloc(c->names, cap * sizeof(*names));
            if (names)
                c->names = names;
            size_t *b = names ? realloc(c->count[0], cap * sizeof(size_t)) : NULL;
            if (b)
                c->count[0] = b;
            size_t *a = b ? realloc(c->count[1], cap * sizeof(size_t)) : NULL;
            if (a)
                c->count[1] = a;
            if (!a) {
                c->failed = 1;
                return;
            }
            c->cap = cap;
        }
        if (!(c->names[i] = strdup(op_type))) {
            c->failed = 1;
            return;
        }
        c->count[0][i] = c->count[1][i] = 0;
        c->n++;
    }
    c->count[c->side][i] = count;
}

static void op_counts_free(op_counts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->count[0]);
    free(c->count[1]);
}

/* The ops of one side (JSON object members), or both ("Conv 2 -> 0") as text. */
static void print_ops(FILE *f, const op_counts *c, int json, int side, int optimized)
{
    size_t shown = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t before = c->count[0][i], after = c->count[1][i];
        if (json) {
            if (!c->count[side][i])
                continue;
            fputs(shown++ ? ", " : "", f);
            cli_json_string(f, c->names[i]);
            fprintf(f, ": %zu", c->count[side][i]);
        } else if (!optimized || before == after) {
            fprintf(f, "%s%s %zu", shown++ ? ", " : "  ", c->names[i], before);
        } else {
            fprintf(f, "%s%s %zu -> %zu", shown++ ? ", " : "  ", c->names[i], before, after);
        }
    }
    if (!json)
        fputs(shown ? "\n" : "  none\n", f);
}

/* What info prints, gathered before and after optimization. */
typedef struct info_facts {
    const char *path;
    uint64_t file_bytes;
    eml_graph_stats before, after;
    op_counts ops;
    int optimized;            /* the optimizer ran (level > 0) */
    int level;
    eml_optimize_report report;
    eml_plan_memory mem;      /* of the plan of the graph as run: optimized unless asked not */
    const eml_plan *plan;     /* --nodes: list its nodes */
} info_facts;

static void json_value_info(FILE *f, const eml_value_info *v, int is_input)
{
    fputs("{\"name\": ", f);
    cli_json_string(f, v->name);
    fputs(", \"dtype\": ", f);
    cli_json_string(f, eml_dtype_name(v->dtype));
    fputs(", \"shape\": ", f);
    if (v->rank < 0) {
        fputs("null", f);
    } else {
        fputc('[', f);
        for (int d = 0; d < v->rank; d++) {
            fputs(d ? ", " : "", f);
            if (v->dims[d] >= 0)
                fprintf(f, "%lld", (long long)v->dims[d]);
            else if (v->dim_names[d] && v->dim_names[d][0])
                cli_json_string(f, v->dim_names[d]);
            else
                fputs("null", f);
        }
        fputc(']', f);
    }
    if (is_input)
        fprintf(f, ", \"has_default\": %s", v->has_default ? "true" : "false");
    fputc('}', f);
}

static void json_values(FILE *f, const eml_graph *g, int inputs)
{
    size_t n = inputs ? eml_graph_input_count(g) : eml_graph_output_count(g);
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        eml_value_info v;
        if ((inputs ? eml_graph_input(g, i, &v) : eml_graph_output(g, i, &v)) != EML_OK)
            continue;
        fputs(i ? ", " : "", f);
        json_value_info(f, &v, inputs);
    }
    fputc(']', f);
}

/* --nodes: the optimized graph's nodes in execution order, each with the kernel that runs it. */
static void print_nodes(FILE *f, const eml_plan *plan, int json)
{
    size_t n = eml_plan_node_count(plan);
    if (!json)
        fprintf(f, "nodes in execution order (%zu): op, kernel, name\n", n);
    for (size_t i = 0; i < n; i++) {
        eml_plan_node_info info;
        if (eml_plan_node_get(plan, i, &info) != EML_OK)
            continue;
        if (!json) {
            fprintf(f, "  %4zu  %-22s %-34s %s\n", i, info.op_type, info.kernel, info.name);
            continue;
        }
        fputs(i ? ", {\"op\": " : "{\"op\": ", f);
        cli_json_string(f, info.op_type);
        fputs(", \"domain\": ", f);
        cli_json_string(f, info.domain);
        fputs(", \"kernel\": ", f);
        cli_json_string(f, info.kernel);
        fputs(", \"name\": ", f);
        cli_json_string(f, info.name);
        fputc('}', f);
    }
}

static void print_json(FILE *f, const eml_graph *g, const info_facts *x)
{
    const char *path = x->path;
    uint64_t file_bytes = x->file_bytes;
    const eml_graph_stats *s = &x->before;
    const eml_plan_memory *m = &x->mem;
    fputs("{\"model\": ", f);
    cli_json_string(f, path);
    fprintf(f, ", \"file_bytes\": %llu, \"producer\": ", (unsigned long long)file_bytes);
    cli_json_string(f, s->producer);
    fprintf(f, ", \"ir_version\": %lld, \"opset\": %d", (long long)s->ir_version, s->opset);
    fputs(", \"inputs\": ", f);
    json_values(f, g, 1);
    fputs(", \"outputs\": ", f);
    json_values(f, g, 0);
    fprintf(f, ", \"node_count\": %zu, \"ops\": {", s->node_count);
    print_ops(f, &x->ops, 1, 0, 0);
    fprintf(f, "}, \"parameters\": %llu, \"parameter_bytes\": %llu, \"macs\": %llu",
            (unsigned long long)s->parameter_count, (unsigned long long)s->parameter_bytes,
            (unsigned long long)m->macs);
    fputs(", \"optimized\": ", f);
    if (!x->optimized) {
        fputs("null", f);
    } else {
        fprintf(f, "{\"level\": %d, \"rounds\": %u, \"node_count\": %zu, \"ops\": {", x->level,
                (unsigned)x->report.rounds, x->after.node_count);
        print_ops(f, &x->ops, 1, 1, 1);
        fputs("}, \"passes\": {", f);
        for (size_t i = 0; i < x->report.pass_count; i++) {
            fputs(i ? ", " : "", f);
            cli_json_string(f, x->report.passes[i].name);
            fprintf(f, ": %llu", (unsigned long long)x->report.passes[i].rewrites);
        }
        fprintf(f, "}, \"parameters\": %llu, \"parameter_bytes\": %llu}",
                (unsigned long long)x->after.parameter_count,
                (unsigned long long)x->after.parameter_bytes);
    }
    fprintf(f, ", \"arena_bytes\": %llu, \"activations_bytes\": %llu",
            (unsigned long long)m->arena_bytes, (unsigned long long)m->activations_bytes);
    fprintf(f, ", \"plan_dynamic_dims\": 1, \"plan_static\": %s",
            m->is_static ? "true" : "false");
    if (x->plan) {
        fputs(", \"nodes\": [", f);
        print_nodes(f, x->plan, 1);
        fputc(']', f);
    }
    fputs("}\n", f);
}

static void print_values(FILE *f, const eml_graph *g, int inputs)
{
    size_t n = inputs ? eml_graph_input_count(g) : eml_graph_output_count(g);
    fprintf(f, "%s (%zu):\n", inputs ? "inputs" : "outputs", n);
    for (size_t i = 0; i < n; i++) {
        eml_value_info v;
        char shape[256];
        if ((inputs ? eml_graph_input(g, i, &v) : eml_graph_output(g, i, &v)) != EML_OK)
            continue;
        fprintf(f, "  %s  %s %s%s\n", v.name, eml_dtype_name(v.dtype),
                cli_shape_str(shape, sizeof(shape), &v),
                inputs && v.has_default ? "  (has a default)" : "");
    }
}

static void print_text(FILE *f, const eml_graph *g, const info_facts *x)
{
    const char *path = x->path;
    uint64_t file_bytes = x->file_bytes;
    const eml_graph_stats *s = &x->before;
    const eml_plan_memory *m = &x->mem;
    fprintf(f, "model: %s (%llu bytes)\n", path, (unsigned long long)file_bytes);
    fprintf(f, "producer: %s, ir_version %lld, opset %d\n", s->producer[0] ? s->producer : "?",
            (long long)s->ir_version, s->opset);
    print_values(f, g, 1);
    print_values(f, g, 0);
    if (x->optimized)
        fprintf(f, "ops (%zu nodes; %zu after optimization):\n", s->node_count,
                x->after.node_count);
    else
        fprintf(f, "ops (%zu nodes):\n", s->node_count);
    print_ops(f, &x->ops, 0, 0, x->optimized);
    if (x->optimized) {
        fprintf(f, "optimization (level %d, %u round%s), rewrites per pass:\n", x->level,
                (unsigned)x->report.rounds, x->report.rounds == 1 ? "" : "s");
        cli_print_passes(f, &x->report);
    }
    fprintf(f, "parameters: %llu (%llu bytes)", (unsigned long long)s->parameter_count,
            (unsigned long long)s->parameter_bytes);
    if (x->optimized && x->after.parameter_count != s->parameter_count)
        fprintf(f, "; %llu (%llu bytes) after optimization",
                (unsigned long long)x->after.parameter_count,
                (unsigned long long)x->after.parameter_bytes);
    fputc('\n', f);
    fprintf(f, "MACs: %llu\n", (unsigned long long)m->macs);
    fprintf(f, "memory: arena %llu bytes planned, %llu bytes as a plain sum of activations\n",
            (unsigned long long)m->arena_bytes, (unsigned long long)m->activations_bytes);
    fprintf(f, "  (plan for dynamic dims = 1%s)\n",
            m->is_static ? "" : "; some shapes depend on data and are sized at run time");
    if (x->plan)
        print_nodes(f, x->plan, 0);
}

int cli_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, nodes = 0;
    cli_optimize_args opt;
    cli_optimize_args_init(&opt);
    for (int i = 1; i < argc; i++) {
        int r = cli_optimize_option(argc, argv, &i, &opt);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0) {
            i--; /* the loop steps past what the option used */
            continue;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--nodes") == 0)
            nodes = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_error(CLI_USAGE, "info: unknown option '%s'", argv[i]);
        else if (path)
            return cli_error(CLI_USAGE, "info: one model at a time ('%s' and '%s')", path,
                             argv[i]);
        else
            path = argv[i];
    }
    if (!path)
        return cli_error(CLI_USAGE, "info: no model given (edgeml info MODEL [--json])");

    struct stat st_file;
    if (stat(path, &st_file) != 0)
        return cli_error(CLI_FAIL, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st_file.st_mode))
        return cli_error(CLI_FAIL, "cannot open '%s': not a regular file", path);
    eml_env *env;
    eml_graph *graph;
    int rc = cli_load_model(path, 1, &env, &graph);
    if (rc != CLI_OK)
        return rc;
    info_facts x;
    memset(&x, 0, sizeof(x));
    x.path = path;
    x.file_bytes = (uint64_t)st_file.st_size;
    x.level = opt.level;
    x.optimized = opt.level > 0;
    eml_graph_stats_get(graph, &x.before);
    eml_graph_op_counts(graph, collect_op, &x.ops);
    rc = cli_optimize_graph(graph, &opt, &x.report, path);
    eml_graph_stats_get(graph, &x.after);
    x.ops.side = 1;
    eml_graph_op_counts(graph, collect_op, &x.ops);
    if (rc == CLI_OK && x.ops.failed)
        rc = cli_error(CLI_FAIL, "out of memory");
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    eml_status st = rc == CLI_OK ? eml_plan_create(graph, &plan, &diag) : EML_OK;
    if (st != EML_OK) {
        rc = cli_error_diag(&diag, st, path);
    } else if (rc == CLI_OK) {
        eml_plan_memory_get(plan, &x.mem);
        x.plan = nodes ? plan : NULL;
        if (json)
            print_json(stdout, graph, &x);
        else
            print_text(stdout, graph, &x);
    }
    op_counts_free(&x.ops);
    eml_plan_destroy(plan);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
