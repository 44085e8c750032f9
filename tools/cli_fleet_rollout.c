/* `edgeml rollout` (a model to a group of nodes in waves, printed as it goes), `edgeml rollout
 * --resume ID` and `edgeml rollouts [ID]`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fleet.h"

#define MAX_NODES 256

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* Prints each wave as it goes; flushed line by line so that a reader of a pipe (a test, a
 * log) sees a wave end when it ends. */
static void on_event(void *user, const eml_rollout_event *e)
{
    (void)user;
    const eml_rollout_node *n = e->node;
    switch (e->kind) {
    case EML_ROLLOUT_WAVE_START:
        printf("rollout %lld: wave %u of %u (%u node%s)\n", (long long)e->id, e->wave, e->waves,
               e->node_count, e->node_count == 1 ? "" : "s");
        break;
    case EML_ROLLOUT_NODE_DONE:
        if (strcmp(n->state, "deployed") == 0 && !n->message[0])
            printf("  %-16s deployed     node version %u, health check %.3f ms\n", n->node,
                   n->node_version, n->health_latency_ms);
        else if (strcmp(n->state, "deployed") == 0)
            printf("  %-16s deployed     node version %u, %s\n", n->node, n->node_version,
                   n->message);
        else
            printf("  %-16s %-12s %s\n", n->node, n->state, n->message);
        break;
    case EML_ROLLOUT_ROLLED_BACK:
        printf("  %-16s %-12s %s\n", n->node, n->state, n->message);
        break;
    case EML_ROLLOUT_WAVE_DONE:
        printf("rollout %lld: wave %u of %u done (%u deployed, %u failed so far)", (long long)e->id,
               e->wave, e->waves, e->nodes_ok, e->nodes_failed);
        if (e->wave < e->waves && e->bake_s > 0)
            printf(", baking %.3g s", e->bake_s);
        printf("\n");
        break;
    }
    fflush(stdout);
}

static void json_rollout(const eml_rollout_info *r, const eml_rollout_node *nodes, size_t n,
                         int with_nodes)
{
    char t[64];
    printf("{\"id\": %lld, \"model\": ", (long long)r->id);
    cli_json_string(stdout, r->model);
    printf(", \"version\": %u, \"sha256\": \"%s\", \"state\": \"%s\", \"waves_done\": %u, "
           "\"waves_total\": %u, \"nodes_total\": %u, \"nodes_ok\": %u, \"nodes_failed\": %u, "
           "\"nodes_rolled_back\": %u, \"first_wave\": %u, \"growth\": %g, "
           "\"max_failure_ratio\": %g, \"bake_s\": %g, \"rollback_failed_wave\": %s, "
           "\"message\": ",
           r->version, r->sha256, r->state, r->waves_done, r->waves_total, r->nodes_total,
           r->nodes_ok, r->nodes_failed, r->nodes_rolled_back, r->first_wave, r->growth,
           r->max_failure_ratio, r->bake_s, r->rollback_failed_wave ? "true" : "false");
    cli_json_string(stdout, r->message);
    printf(", \"created\": ");
    cli_json_string(stdout, cli_fleet_time(t, sizeof(t), r->created_unix));
    printf(", \"created_unix\": %lld, \"updated_unix\": %lld", (long long)r->created_unix,
           (long long)r->updated_unix);
    if (with_nodes) {
        printf(", \"nodes\": [");
        for (size_t i = 0; i < n; i++) {
            const eml_rollout_node *x = &nodes[i];
            printf("%s\n  {\"node\": ", i ? "," : "");
            cli_json_string(stdout, x->node);
            printf(", \"wave\": %u, \"state\": \"%s\", \"previous_node_version\": %u, "
                   "\"node_version\": %u, \"health_latency_ms\": %.4f, \"message\": ",
                   x->wave, x->state, x->previous_node_version, x->node_version,
                   x->health_latency_ms);
            cli_json_string(stdout, x->message);
            printf(", \"updated_unix\": %lld}", (long long)x->updated_unix);
        }
        printf("%s]", n ? "\n" : "");
    }
    printf("}");
}

/* The rollout as it ended: one JSON object with its nodes, or its closing line (a stopped
 * rollout's is the error line on stderr, naming the failed nodes and why). */
static int print_result(eml_manager *m, eml_status st, const eml_rollout_result *r, int json,
                        const eml_diag *d)
{
    if (json && r->id) {
        eml_rollout_node *nodes = NULL;
        size_t n = 0;
        eml_rollout_info info;
        if (eml_manager_rollout_get(m, r->id, &info, &nodes, &n, NULL) == EML_OK) {
            json_rollout(&info, nodes, n, 1);
            printf("\n");
        }
        eml_manager_free(nodes);
    } else if (r->id && st == EML_OK) {
        printf("rollout %lld %s: %s\n", (long long)r->id, r->state, r->message);
    }
    fflush(stdout);
    return st == EML_OK ? CLI_OK : cli_error_diag(d, st, NULL);
}

int cli_rollout(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *nodes_arg = NULL, *resume = NULL;
    int npos = 0, json = 0;
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    eml_rollout_options o;
    eml_rollout_options_init(&o);
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        long k;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if (strcmp(argv[i], "--no-rollback") == 0) {
            o.rollback_failed_wave = 0;
            i++;
        } else if ((r = cli_option_value(argc, argv, &i, "--resume", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            resume = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--nodes", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            nodes_arg = v;
        } else if ((r = cli_fleet_descriptor_option(argc, argv, &i, &desc)) != 0) {
            if (r < 0)
                return CLI_USAGE;
        } else if ((r = cli_option_value(argc, argv, &i, "--first", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 1000000, &k) != 0)
                return cli_error(CLI_USAGE, "--first needs a node count of at least 1");
            o.first_wave = (uint32_t)k;
        } else if ((r = cli_option_value(argc, argv, &i, "--growth", &v)) != 0) {
            if (r < 0 || parse_double(v, 1.0, 1000.0, &o.growth) != 0)
                return cli_error(CLI_USAGE, "--growth needs a factor from 1 to 1000");
        } else if ((r = cli_option_value(argc, argv, &i, "--max-failure-ratio", &v)) != 0) {
            if (r < 0 || parse_double(v, 0.0, 1.0, &o.max_failure_ratio) != 0)
                return cli_error(CLI_USAGE, "--max-failure-ratio needs a ratio from 0 to 1");
        } else if ((r = cli_option_value(argc, argv, &i, "--bake-s", &v)) != 0) {
            if (r < 0 || parse_double(v, 0.0, 86400.0, &o.bake_s) != 0)
                return cli_error(CLI_USAGE, "--bake-s needs seconds from 0 to 86400");
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE, "rollout: unknown option '%s' (see 'edgeml help rollout')",
                             argv[i]);
        } else if (npos < 2) {
            pos[npos++] = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "rollout takes a MODEL_ID and a FILE");
        }
    }
    long resume_id = 0;
    if (resume && (npos || cli_parse_int(resume, 1, 0x7fffffffL, &resume_id) != 0))
        return cli_error(CLI_USAGE, "rollout --resume takes a rollout ID alone");
    if (!resume && npos == 0)
        return cli_error(CLI_USAGE, "rollout needs a MODEL_ID [and FILE] (or --resume ID)");
    char *list = NULL;
    const char *ids[MAX_NODES];
    if (nodes_arg) {
        list = strdup(nodes_arg);
        if (!list)
            return cli_error(CLI_FAIL, "out of memory");
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (o.node_count == MAX_NODES) {
                free(list);
                return cli_error(CLI_USAGE, "--nodes: at most %d nodes", MAX_NODES);
            }
            ids[o.node_count++] = t;
        }
        if (!o.node_count) {
            free(list);
            return cli_error(CLI_USAGE, "--nodes needs node ids separated by commas");
        }
        o.nodes = ids;
    }
    desc.id = pos[0];
    desc.file = pos[1];
    eml_manager *m = cli_fleet_open();
    if (!m) {
        free(list);
        return CLI_FAIL;
    }
    o.on_event = json ? NULL : on_event;
    eml_rollout_result r;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = resume ? eml_manager_rollout_resume(m, resume_id, &o, &r, &d)
                           : eml_manager_rollout(m, &desc, &o, &r, &d);
    int rc = print_result(m, st, &r, json, &d);
    eml_manager_close(m);
    free(list);
    return rc;
}

int cli_rollouts(int argc, char **argv)
{
    int json = 0;
    const char *idarg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-')
            return cli_error(CLI_USAGE, "rollouts: unknown option '%s'", argv[i]);
        else if (!idarg)
            idarg = argv[i];
        else
            return cli_error(CLI_USAGE, "rollouts takes at most one rollout ID");
    }
    long id = 0;
    if (idarg && cli_parse_int(idarg, 1, 0x7fffffffL, &id) != 0)
        return cli_error(CLI_USAGE, "rollouts: '%s' is not a rollout ID", idarg);
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st;
    char t[64];
    if (idarg) {
        eml_rollout_info r;
        eml_rollout_node *nodes = NULL;
        size_t n = 0;
        st = eml_manager_rollout_get(m, id, &r, &nodes, &n, &d);
        if (st == EML_OK && json) {
            json_rollout(&r, nodes, n, 1);
            printf("\n");
        } else if (st == EML_OK) {
            printf("rollout     %lld\n", (long long)r.id);
            printf("model       %s version %u (sha256 %.16s...)\n", r.model, r.version, r.sha256);
            printf("state       %s\n", r.state);
            printf("waves       %u of %u done (first %u, growth %g, max failure ratio %g, bake "
                   "%g s, rollback %s)\n",
                   r.waves_done, r.waves_total, r.first_wave, r.growth, r.max_failure_ratio,
                   r.bake_s, r.rollback_failed_wave ? "on" : "off");
            printf("nodes       %u: %u deployed, %u failed, %u rolled back\n", r.nodes_total,
                   r.nodes_ok, r.nodes_failed, r.nodes_rolled_back);
            printf("created     %s\n", cli_fleet_time(t, sizeof(t), r.created_unix));
            printf("updated     %s\n", cli_fleet_time(t, sizeof(t), r.updated_unix));
            printf("message     %s\n", r.message);
            printf("%-16s %4s  %-12s %5s %8s %9s  %s\n", "NODE", "WAVE", "STATE", "PREV",
                   "NODE VER", "HEALTH", "MESSAGE");
            for (size_t i = 0; i < n; i++) {
                const eml_rollout_node *x = &nodes[i];
                char h[32] = "-";
                if (x->health_latency_ms > 0)
                    snprintf(h, sizeof(h), "%.3f ms", x->health_latency_ms);
                printf("%-16s %4u  %-12s %5u %8u %9s  %s\n", x->node, x->wave, x->state,
                       x->previous_node_version, x->node_version, h, x->message);
            }
        }
        eml_manager_free(nodes);
    } else {
        eml_rollout_info *list = NULL;
        size_t n = 0;
        st = eml_manager_rollouts(m, &list, &n, &d);
        if (st == EML_OK && json) {
            printf("{\"rollouts\": [");
            for (size_t i = 0; i < n; i++) {
                printf("%s\n  ", i ? "," : "");
                json_rollout(&list[i], NULL, 0, 0);
            }
            printf("%s]}\n", n ? "\n" : "");
        } else if (st == EML_OK) {
            printf("%4s  %-24s %4s  %-10s %6s %5s %6s %6s %4s  %s\n", "ID", "MODEL", "VER", "STATE",
                   "WAVES", "NODES", "OK", "FAILED", "RB", "CREATED");
            for (size_t i = 0; i < n; i++) {
                const eml_rollout_info *x = &list[i];
                char w[24];
                snprintf(w, sizeof(w), "%u/%u", x->waves_done, x->waves_total);
                printf("%4lld  %-24s %4u  %-10s %6s %5u %6u %6u %4u  %s\n", (long long)x->id,
                       x->model, x->version, x->state, w, x->nodes_total, x->nodes_ok,
                       x->nodes_failed, x->nodes_rolled_back,
                       cli_fleet_time(t, sizeof(t), x->created_unix));
            }
        }
        eml_manager_free(list);
    }
    eml_manager_close(m);
    return st == EML_OK ? CLI_OK : cli_error_diag(&d, st, NULL);
}
