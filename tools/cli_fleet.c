/* `edgeml [--site NAME] [--home DIR] models|status|nodes`: the site's global options, opening
 * the site, and the listings (human tables, or one JSON object with --json). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_fleet.h"

static const char *g_site, *g_home, *g_broker;
static const char *g_tls_ca, *g_tls_cert, *g_tls_key;

int cli_fleet_globals(int *argc, char ***argv)
{
    int given = 0;
    while (*argc >= 2 && (*argv)[1][0] == '-') {
        const char *v = NULL;
        int i = 1, r;
        if ((r = cli_option_value(*argc, *argv, &i, "--site", &v)) != 0)
            g_site = v;
        else if ((r = cli_option_value(*argc, *argv, &i, "--home", &v)) != 0)
            g_home = v;
        else if ((r = cli_option_value(*argc, *argv, &i, "--broker", &v)) != 0)
            g_broker = v;
        else if ((r = cli_option_value(*argc, *argv, &i, "--tls-ca", &v)) != 0)
            g_tls_ca = v;
        else if ((r = cli_option_value(*argc, *argv, &i, "--tls-cert", &v)) != 0)
            g_tls_cert = v;
        else if ((r = cli_option_value(*argc, *argv, &i, "--tls-key", &v)) != 0)
            g_tls_key = v;
        else
            break;
        if (r < 0)
            return -1;
        /* Keep argv[0], drop what the option used. */
        int used = i - 1;
        for (int k = 1; k + used < *argc; k++)
            (*argv)[k] = (*argv)[k + used];
        *argc -= used;
        given = 1;
    }
    if (given && *argc < 2) {
        cli_error(CLI_USAGE, "a command must follow the site options (see 'edgeml help fleet')");
        return -1;
    }
    return given;
}

cli_command_fn cli_fleet_form(const char *name, int fleet, cli_command_fn fn)
{
    if (!fleet)
        return fn;
    if (strcmp(name, "bench") == 0)
        return cli_fleet_bench;
    if (strcmp(name, "quantize") == 0)
        return cli_fleet_quantize;
    if (strcmp(name, "prune") == 0)
        return cli_fleet_prune;
    return fn;
}

eml_manager *cli_fleet_open(void)
{
    const char *site = g_site ? g_site : getenv("EDGEML_SITE");
    if (!site || !*site)
        site = "default";
    eml_manager_options o;
    eml_manager_options_init(&o);
    o.home = g_home;
    o.broker = g_broker;
    o.tls_ca = g_tls_ca;
    o.tls_cert = g_tls_cert;
    o.tls_key = g_tls_key;
    eml_manager *m = NULL;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml_manager_open(site, &o, &m, &d);
    if (st != EML_OK) {
        cli_error_diag(&d, st, NULL);
        return NULL;
    }
    return m;
}

int cli_fleet_broker(void)
{
    return g_broker && *g_broker;
}

const char *cli_fleet_time(char *buf, size_t cap, int64_t unix_s)
{
    if (unix_s <= 0) {
        snprintf(buf, cap, "never");
        return buf;
    }
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

const char *cli_fleet_bytes(char *buf, size_t cap, uint64_t bytes)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, cap, "%.1f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20))
        snprintf(buf, cap, "%.1f MiB", (double)bytes / (1ull << 20));
    else if (bytes >= 1024)
        snprintf(buf, cap, "%.1f KiB", (double)bytes / 1024);
    else
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    return buf;
}

/* "1x1x28x28" into dims; returns the rank or -1. */
static int parse_dims(const char *s, int64_t *dims)
{
    int rank = 0;
    const char *p = s;
    while (*p) {
        if (rank == EML_MAX_RANK)
            return -1;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < -1 || v == 0)
            return -1;
        dims[rank++] = v;
        if (*end == 'x' || *end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return rank;
}

int cli_fleet_descriptor_option(int argc, char **argv, int *i, eml_model_descriptor *desc)
{
    const char *v = NULL;
    int r;
    if ((r = cli_option_value(argc, argv, i, "--name", &v)) != 0) {
        desc->name = r > 0 ? v : NULL;
    } else if ((r = cli_option_value(argc, argv, i, "--type", &v)) != 0) {
        desc->type = r > 0 ? v : NULL;
    } else if ((r = cli_option_value(argc, argv, i, "--input-shape", &v)) != 0) {
        if (r > 0 && (desc->input_rank = parse_dims(v, desc->input_shape)) < 0)
            return cli_error(CLI_USAGE, "--input-shape takes dims like 1x1x28x28 (-1: any)"), -1;
    } else if ((r = cli_option_value(argc, argv, i, "--output-shape", &v)) != 0) {
        if (r > 0 && (desc->output_rank = parse_dims(v, desc->output_shape)) < 0)
            return cli_error(CLI_USAGE, "--output-shape takes dims like 1x10 (-1: any)"), -1;
    }
    return r;
}

/* Parses only --json (the listings take nothing else but positional arguments). Returns the
 * positional count copied into pos (at most max), or -1 after a usage error. */
static int parse_simple(int argc, char **argv, int *json, const char **pos, int max)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            *json = 1;
        } else if (argv[i][0] == '-') {
            cli_error(CLI_USAGE, "%s: unknown option '%s' (see 'edgeml help %s')", argv[0], argv[i],
                      argv[0]);
            return -1;
        } else if (n < max) {
            pos[n++] = argv[i];
        } else {
            cli_error(CLI_USAGE, "%s: unexpected argument '%s'", argv[0], argv[i]);
            return -1;
        }
    }
    return n;
}

/* ---- models ---- */

static void json_measured(FILE *f, const char *key, const eml_measured *x)
{
    fprintf(f, "\"%s\": ", key);
    if (!x->has) {
        fprintf(f, "\"not measured\"");
        return;
    }
    char t[64];
    fprintf(f, "{\"value\": %.6g, \"version\": %u, \"node\": ", x->value, x->version);
    cli_json_string(f, x->node);
    fprintf(f, ", \"measured\": ");
    cli_json_string(f, cli_fleet_time(t, sizeof(t), x->measured_unix));
    fprintf(f, ", \"measured_unix\": %lld}", (long long)x->measured_unix);
}

int cli_models(int argc, char **argv)
{
    int json = 0;
    if (parse_simple(argc, argv, &json, NULL, 0) < 0)
        return CLI_USAGE;
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    eml_model_info *list = NULL;
    size_t n = 0;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml_manager_models(m, &list, &n, &d);
    if (st != EML_OK) {
        eml_manager_close(m);
        return cli_error_diag(&d, st, NULL);
    }
    eml_site_status ss;
    eml_manager_status(m, &ss, NULL);
    char b[64], t[64];
    if (json) {
        printf("{\"site\": ");
        cli_json_string(stdout, ss.site);
        printf(", \"models\": [");
        for (size_t i = 0; i < n; i++) {
            const eml_model_info *x = &list[i];
            printf("%s\n  {\"id\": ", i ? "," : "");
            cli_json_string(stdout, x->id);
            printf(", \"name\": ");
            cli_json_string(stdout, x->name);
            printf(", \"type\": ");
            cli_json_string(stdout, x->type);
            printf(", \"version\": %u, \"model_bytes\": %llu, \"sha256\": ", x->latest_version,
                   (unsigned long long)x->model_bytes);
            cli_json_string(stdout, x->sha256);
            printf(", \"parent\": ");
            cli_json_string(stdout, x->parent);
            printf(", \"derivation\": ");
            cli_json_string(stdout, x->derivation);
            printf(", \"nodes_serving\": %u, ", x->nodes_serving);
            json_measured(stdout, "latency_ms", &x->latency_ms);
            printf(", ");
            json_measured(stdout, "accuracy_top1_pct", &x->accuracy_pct);
            printf(", \"accuracy_dataset\": ");
            cli_json_string(stdout, x->accuracy_dataset);
            printf("}");
        }
        printf("%s]}\n", n ? "\n" : "");
    } else {
        printf("site %s: %zu model%s\n", ss.site, n, n == 1 ? "" : "s");
        if (n)
            printf("%-24s %4s %10s  %-46s %-46s %5s  %s\n", "MODEL", "VER", "SIZE",
                   "LATENCY p50 (version, node, when)", "ACCURACY top-1 (version, node, when)",
                   "NODES", "FROM");
        for (size_t i = 0; i < n; i++) {
            const eml_model_info *x = &list[i];
            char lat[160], acc[160], from[160];
            if (x->latency_ms.has)
                snprintf(lat, sizeof(lat), "%.3f ms (v%u, %s, %s)", x->latency_ms.value,
                         x->latency_ms.version, x->latency_ms.node,
                         cli_fleet_time(t, sizeof(t), x->latency_ms.measured_unix));
            else
                snprintf(lat, sizeof(lat), "not measured");
            if (x->accuracy_pct.has)
                snprintf(acc, sizeof(acc), "%.2f%% (v%u, %s, %s)", x->accuracy_pct.value,
                         x->accuracy_pct.version, x->accuracy_pct.node,
                         cli_fleet_time(t, sizeof(t), x->accuracy_pct.measured_unix));
            else
                snprintf(acc, sizeof(acc), "not measured");
            if (x->parent[0])
                snprintf(from, sizeof(from), "%s, %s", x->parent, x->derivation);
            else
                snprintf(from, sizeof(from), "-");
            printf("%-24s %4u %10s  %-46s %-46s %5u  %s\n", x->id, x->latest_version,
                   cli_fleet_bytes(b, sizeof(b), x->model_bytes), lat, acc, x->nodes_serving, from);
        }
        for (size_t i = 0; i < n; i++)
            if (list[i].accuracy_pct.has && list[i].accuracy_dataset[0])
                printf("accuracy of %s measured on %s\n", list[i].id, list[i].accuracy_dataset);
    }
    eml_manager_free(list);
    eml_manager_close(m);
    return CLI_OK;
}

/* ---- status ---- */

int cli_status(int argc, char **argv)
{
    int json = 0;
    if (parse_simple(argc, argv, &json, NULL, 0) < 0)
        return CLI_USAGE;
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    eml_site_status s;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml_manager_status(m, &s, &d);
    if (st != EML_OK) {
        eml_manager_close(m);
        return cli_error_diag(&d, st, NULL);
    }
    if (json) {
        printf("{\"site\": ");
        cli_json_string(stdout, s.site);
        printf(", \"folder\": ");
        cli_json_string(stdout, eml_manager_site_dir(m));
        printf(", \"transport\": ");
        cli_json_string(stdout, s.transport);
        printf(", \"models_total\": %u, \"models_deployed\": %u, \"deployments\": %u, "
               "\"nodes_total\": %u, \"nodes_online\": %u",
               s.models_total, s.models_deployed, s.deployments, s.nodes_total, s.nodes_online);
        char key[65];
        eml_manager_public_key(m, key);
        printf(", \"public_key\": \"%s\"}\n", key);
    } else {
        printf("site        %s\n", s.site);
        printf("folder      %s\n", eml_manager_site_dir(m));
        if (g_broker && *g_broker)
            printf("transport   %s (broker %s; the local node runs in this process)\n", s.transport,
                   g_broker);
        else
            printf("transport   %s (embedded default: no broker, the local node runs in this "
                   "process)\n",
                   s.transport);
        printf("models      %u known, %u deployed (%u deployment%s)\n", s.models_total,
               s.models_deployed, s.deployments, s.deployments == 1 ? "" : "s");
        printf("nodes       %u total, %u online\n", s.nodes_total, s.nodes_online);
        char key[65];
        eml_manager_public_key(m, key);
        printf("site key    %s (Ed25519, signs every deploy)\n", key);
    }
    eml_manager_close(m);
    return CLI_OK;
}

/* ---- nodes ---- */

static void json_node(const eml_node_info *x)
{
    char t[64];
    printf("{\"id\": ");
    cli_json_string(stdout, x->id);
    printf(", \"transport\": ");
    cli_json_string(stdout, x->transport);
    printf(", \"online\": %s, \"last_seen\": ", x->online ? "true" : "false");
    cli_json_string(stdout, cli_fleet_time(t, sizeof(t), x->last_seen_unix));
    printf(", \"last_seen_unix\": %lld, \"hostname\": ", (long long)x->last_seen_unix);
    cli_json_string(stdout, x->hostname);
    printf(", \"device_type\": ");
    cli_json_string(stdout, x->device_type);
    printf(", \"cpu_model\": ");
    cli_json_string(stdout, x->cpu_model[0] ? x->cpu_model : "unavailable");
    printf(", \"cpu_count\": %u, ", x->cpu_count);
    if (x->has_memory)
        printf("\"memory_total_bytes\": %llu, \"memory_available_bytes\": %llu, ",
               (unsigned long long)x->memory_total_bytes,
               (unsigned long long)x->memory_available_bytes);
    else
        printf("\"memory_total_bytes\": \"unavailable\", \"memory_available_bytes\": "
               "\"unavailable\", ");
    if (x->has_temperature)
        printf("\"temperature_c\": %.1f, ", x->temperature_c);
    else
        printf("\"temperature_c\": \"unavailable\", ");
    if (x->has_power)
        printf("\"power_w\": %.3f, ", x->power_w);
    else
        printf("\"power_w\": \"unavailable\", ");
    printf("\"models\": [");
    for (size_t k = 0; k < x->model_count; k++) {
        printf("%s{\"model\": ", k ? ", " : "");
        cli_json_string(stdout, x->models[k].model);
        printf(", \"version\": %u, \"site_version\": %u, \"loaded\": %s}", x->models[k].version,
               x->models[k].site_version, x->models[k].loaded ? "true" : "false");
    }
    printf("]}");
}

static void print_node(const eml_node_info *x)
{
    char t[64], a[32], b[32];
    printf("node          %s (%s, %s)\n", x->id, x->transport, x->online ? "online" : "offline");
    printf("last seen     %s\n", cli_fleet_time(t, sizeof(t), x->last_seen_unix));
    printf("host          %s\n", x->hostname[0] ? x->hostname : "unknown");
    printf("device        %s\n", x->device_type[0] ? x->device_type : "unknown");
    printf("cpu           %s, %u cores\n", x->cpu_model[0] ? x->cpu_model : "unavailable",
           x->cpu_count);
    if (x->has_memory)
        printf("memory        %s available of %s\n",
               cli_fleet_bytes(a, sizeof(a), x->memory_available_bytes),
               cli_fleet_bytes(b, sizeof(b), x->memory_total_bytes));
    else
        printf("memory        unavailable\n");
    if (x->has_temperature)
        printf("temperature   %.1f C\n", x->temperature_c);
    else
        printf("temperature   unavailable\n");
    if (x->has_power)
        printf("power         %.3f W\n", x->power_w);
    else
        printf("power         unavailable (no power sensor)\n");
    printf("models        %zu%s\n", x->model_count, x->online ? "" : " (as last seen: unknown)");
    for (size_t k = 0; k < x->model_count; k++) {
        const eml_node_model *nm = &x->models[k];
        char sv[32] = "";
        if (nm->site_version)
            snprintf(sv, sizeof(sv), ", site version %u", nm->site_version);
        printf("  %-22s version %u%s%s\n", nm->model, nm->version, sv,
               nm->loaded ? ", loaded" : "");
    }
}

int cli_nodes(int argc, char **argv)
{
    int json = 0;
    const char *pos[1] = {NULL};
    int npos = parse_simple(argc, argv, &json, pos, 1);
    if (npos < 0)
        return CLI_USAGE;
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st;
    if (npos == 1) {
        eml_node_info x;
        st = eml_manager_node_status(m, pos[0], &x, &d);
        if (st == EML_OK) {
            if (json) {
                json_node(&x);
                printf("\n");
            } else {
                print_node(&x);
            }
        }
        eml_node_info_deinit(&x);
    } else {
        eml_node_info *list = NULL;
        size_t n = 0;
        st = eml_manager_nodes(m, &list, &n, &d);
        if (st == EML_OK && json) {
            printf("{\"nodes\": [");
            for (size_t i = 0; i < n; i++) {
                printf("%s\n  ", i ? "," : "");
                json_node(&list[i]);
            }
            printf("%s]}\n", n ? "\n" : "");
        } else if (st == EML_OK) {
            printf("%-16s %-9s %-8s %-14s %5s %12s %6s  %s\n", "NODE", "TRANSPORT", "STATUS",
                   "DEVICE", "CPUS", "MEM AVAIL", "MODELS", "LAST SEEN");
            for (size_t i = 0; i < n; i++) {
                const eml_node_info *x = &list[i];
                char a[32], t[64];
                printf("%-16s %-9s %-8s %-14s %5u %12s %6zu  %s\n", x->id, x->transport,
                       x->online ? "online" : "offline",
                       x->device_type[0] ? x->device_type : "unknown", x->cpu_count,
                       x->has_memory ? cli_fleet_bytes(a, sizeof(a), x->memory_available_bytes)
                                     : "unavailable",
                       x->model_count, cli_fleet_time(t, sizeof(t), x->last_seen_unix));
            }
        }
        for (size_t i = 0; i < n; i++)
            eml_node_info_deinit(&list[i]);
        eml_manager_free(list);
    }
    eml_manager_close(m);
    return st == EML_OK ? CLI_OK : cli_error_diag(&d, st, NULL);
}
