/* `edgeml info MODEL [--json]`: what a model declares and what its plan costs. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct op_list {
    FILE *f;
    int json;
    size_t n;
} op_list;

static void print_op(void *user, const char *op_type, size_t count)
{
    op_list *l = user;
    if (l->json) {
        fputs(l->n ? ", " : "", l->f);
        cli_json_string(l->f, op_type);
        fprintf(l->f, ": %zu", count);
    } else {
        fprintf(l->f, "%s%s %zu", l->n ? ", " : "  ", op_type, count);
    }
    l->n++;
}

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

static void print_json(FILE *f, const char *path, uint64_t file_bytes, const eml_graph *g,
                       const eml_graph_stats *s, const eml_plan_memory *m)
{
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
    op_list l = {f, 1, 0};
    eml_graph_op_counts(g, print_op, &l);
    fprintf(f, "}, \"parameters\": %llu, \"parameter_bytes\": %llu, \"macs\": %llu",
            (unsigned long long)s->parameter_count, (unsigned long long)s->parameter_bytes,
            (unsigned long long)m->macs);
    fprintf(f, ", \"arena_bytes\": %llu, \"activations_bytes\": %llu",
            (unsigned long long)m->arena_bytes, (unsigned long long)m->activations_bytes);
    fprintf(f, ", \"plan_dynamic_dims\": 1, \"plan_static\": %s}\n",
            m->is_static ? "true" : "false");
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

static void print_text(FILE *f, const char *path, uint64_t file_bytes, const eml_graph *g,
                       const eml_graph_stats *s, const eml_plan_memory *m)
{
    fprintf(f, "model: %s (%llu bytes)\n", path, (unsigned long long)file_bytes);
    fprintf(f, "producer: %s, ir_version %lld, opset %d\n", s->producer[0] ? s->producer : "?",
            (long long)s->ir_version, s->opset);
    print_values(f, g, 1);
    print_values(f, g, 0);
    fprintf(f, "ops (%zu nodes):\n", s->node_count);
    op_list l = {f, 0, 0};
    eml_graph_op_counts(g, print_op, &l);
    fputs(l.n ? "\n" : "  none\n", f);
    fprintf(f, "parameters: %llu (%llu bytes)\n", (unsigned long long)s->parameter_count,
            (unsigned long long)s->parameter_bytes);
    fprintf(f, "MACs: %llu\n", (unsigned long long)m->macs);
    fprintf(f, "memory: arena %llu bytes planned, %llu bytes as a plain sum of activations\n",
            (unsigned long long)m->arena_bytes, (unsigned long long)m->activations_bytes);
    fprintf(f, "  (plan for dynamic dims = 1%s)\n",
            m->is_static ? "" : "; some shapes depend on data and are sized at run time");
}

int cli_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
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
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    eml_status st = eml_plan_create(graph, &plan, &diag);
    if (st != EML_OK) {
        rc = cli_error_diag(&diag, st, path);
    } else {
        eml_graph_stats stats;
        eml_plan_memory mem;
        eml_graph_stats_get(graph, &stats);
        eml_plan_memory_get(plan, &mem);
        if (json)
            print_json(stdout, path, (uint64_t)st_file.st_size, graph, &stats, &mem);
        else
            print_text(stdout, path, (uint64_t)st_file.st_size, graph, &stats, &mem);
    }
    eml_plan_destroy(plan);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
