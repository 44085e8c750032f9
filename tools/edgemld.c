/* edgemld: the edge node agent. Parses options (command line over an optional JSON config
 * file), starts the agent, and stops it cleanly on SIGTERM or SIGINT. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "edgeml/agent.h"
#include "edgeml/edgeml.h"

static const char usage[] =
    "usage: edgemld --repo DIR [--listen HOST:PORT] [--config FILE] [options]\n"
    "  --repo DIR               the model repository (created when missing)\n"
    "  --listen HOST:PORT       HTTP address (default 127.0.0.1:8000; port 0: any free port;\n"
    "                           off: no HTTP, with --broker)\n"
    "  --broker mqtt://HOST:PORT  also take commands over MQTT v5 (docs/mqtt.md); a broker\n"
    "                           that is down is retried (1 s apart, growing to 30 s)\n"
    "  --site NAME              the fleet site (topics edgeml/NAME/...), with --broker\n"
    "  --node-id ID             this node's id at the site, with --broker\n"
    "  --heartbeat-s N          status republished every N s (default 5)\n"
    "  --tls-ca FILE            with --broker mqtts://HOST:PORT (TLS, port default 8883): the\n"
    "                           PEM CA the broker's certificate must chain to (default: the\n"
    "                           system's CAs); the broker is always verified\n"
    "  --tls-cert FILE          PEM client certificate for brokers that require one\n"
    "  --tls-key FILE           PEM private key of --tls-cert\n"
    "  --config FILE            JSON object of these options without the dashes\n"
    "                           (\"memory-budget\": \"512M\", ...); the command line wins\n"
    "  --memory-budget BYTES    memory of loaded models; least recently used are unloaded\n"
    "                           (suffix K, M, G; default unlimited)\n"
    "  --trusted-key HEX        Ed25519 public key: every deploy must be signed with it\n"
    "  --trusted-key-file FILE  the same key read from a file (a copy of the site's\n"
    "                           site.pub: 64 hex digits; docs/signing.md)\n"
    "  --max-body BYTES         largest request body (default 64M)\n"
    "  --max-model BYTES        largest deployed model (default 256M)\n"
    "  --max-concurrent N       requests handled at once, beyond: 503 (default 64)\n"
    "  --max-queue N            queued inference requests per model, beyond: 503 (default 64)\n"
    "  --max-batch N            dynamic batch size in rows; 1: no batching (default 8)\n"
    "  --batch-delay-us N       longest wait for a fuller batch (default 2000; 0: no wait)\n"
    "  --timeout-ms N           default inference deadline (default 30000)\n"
    "  --threads N              threads per inference (default: one per CPU)\n"
    "  --keep-versions N        versions kept per model (default 3)\n"
    "  --map-weights 0|1        1: deploys keep a copy of each model with its weights apart,\n"
    "                           and loads map them instead of reading them into memory\n"
    "                           (default 1; 0 halves the disk a version takes)\n"
    "  --optimize-level N       0, 1 or 2 (default 2)\n"
    "  --power-mode MODE        normal, low or auto (battery discharging, no mains: low);\n"
    "                           default: the mode last set over the API, else normal\n"
    "  --health-max-latency-ms X  a deploy's health check fails when the median run takes\n"
    "                           longer than X ms, unless the model's config sets its own\n"
    "                           limit (default: no limit)\n"
    "SIGTERM or SIGINT stops the agent after the requests in flight.\n";

/* Parses "512", "64K", "512M", "2G"; 0 on error. */
static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return 0;
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        mul = 1024.0;
        end++;
        break;
    case 'M':
        mul = 1024.0 * 1024;
        end++;
        break;
    case 'G':
        mul = 1024.0 * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I')
        end++;
    if (*end || v * mul > 1.8e19)
        return 0;
    *out = (uint64_t)(v * mul);
    return 1;
}

static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    char *end;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* --trusted-key-file: the key's 64 hex digits from a file (site.pub), kept in a static buffer
 * for the agent's options; whitespace around it is dropped, its form is checked by the agent. */
static int read_key_file(const char *path, const char **key)
{
    static char buf[256];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "edgemld: cannot read the trusted key file %s: %s\n", path,
                strerror(errno));
        return 0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    buf[n] = 0;
    char *start = buf;
    while (*start && isspace((unsigned char)*start))
        start++;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = 0;
    if (more || !*start) {
        fprintf(stderr, "edgemld: %s is not a key file (64 hex digits, as in site.pub)\n", path);
        return 0;
    }
    *key = start;
    return 1;
}

/* Applies one option (name without dashes); 0 when the name or value is bad. */
static int apply(eml_agent_options *o, const char *name, const char *value)
{
    uint64_t b;
    uint32_t u;
    if (strcmp(name, "repo") == 0)
        return (o->repo_dir = value), 1;
    if (strcmp(name, "listen") == 0)
        return (o->listen = strcmp(value, "off") == 0 ? NULL : value), 1;
    if (strcmp(name, "broker") == 0)
        return (o->broker = value), 1;
    if (strcmp(name, "site") == 0)
        return (o->site = value), 1;
    if (strcmp(name, "node-id") == 0)
        return (o->node_id = value), 1;
    if (strcmp(name, "tls-ca") == 0)
        return (o->tls_ca = value), 1;
    if (strcmp(name, "tls-cert") == 0)
        return (o->tls_cert = value), 1;
    if (strcmp(name, "tls-key") == 0)
        return (o->tls_key = value), 1;
    if (strcmp(name, "trusted-key") == 0)
        return (o->trusted_key_hex = value), 1;
    if (strcmp(name, "trusted-key-file") == 0)
        return read_key_file(value, &o->trusted_key_hex);
    if (strcmp(name, "power-mode") == 0)
        return strcmp(value, "normal") == 0 || strcmp(value, "low") == 0 ||
                       strcmp(value, "auto") == 0
                   ? (o->power_mode = value, 1)
                   : 0;
    if (strcmp(name, "memory-budget") == 0)
        return parse_bytes(value, &b) ? (o->memory_budget_bytes = b, 1) : 0;
    if (strcmp(name, "max-body") == 0)
        return parse_bytes(value, &b) && b ? (o->max_body_bytes = b, 1) : 0;
    if (strcmp(name, "max-model") == 0)
        return parse_bytes(value, &b) && b ? (o->max_model_bytes = b, 1) : 0;
    if (strcmp(name, "batch-delay-us") == 0)
        return parse_u32(value, &u) ? (o->max_queue_delay_us = u ? u : EML_AGENT_NO_DELAY, 1) : 0;
    if (strcmp(name, "timeout-ms") == 0)
        return parse_u32(value, &u) && u ? (o->request_timeout_ms = u, 1) : 0;
    if (strcmp(name, "optimize-level") == 0)
        return parse_u32(value, &u) && u <= 2 ? (o->optimize_level = (int)u, 1) : 0;
    if (strcmp(name, "map-weights") == 0)
        return parse_u32(value, &u) && u <= 1 ? (o->no_map_weights = !u, 1) : 0;
    if (strcmp(name, "health-max-latency-ms") == 0) {
        char *end;
        errno = 0;
        double ms = strtod(value, &end);
        return !errno && end != value && !*end && ms >= 0 && ms < 1e12
                   ? (o->health_max_latency_ms = ms, 1)
                   : 0;
    }
    static const struct {
        const char *name;
        size_t offset;
    } counts[] = {
        {"max-concurrent", offsetof(eml_agent_options, max_concurrent)},
        {"max-queue", offsetof(eml_agent_options, max_queue)},
        {"max-batch", offsetof(eml_agent_options, max_batch_size)},
        {"threads", offsetof(eml_agent_options, n_threads)},
        {"keep-versions", offsetof(eml_agent_options, keep_versions)},
        {"heartbeat-s", offsetof(eml_agent_options, heartbeat_s)},
    };
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (strcmp(name, counts[i].name) == 0) {
            if (!parse_u32(value, &u) || u == 0)
                return 0;
            memcpy((char *)o + counts[i].offset, &u, sizeof(u));
            return 1;
        }
    return 0;
}

/* Reads the config file's options; the strings stay in *doc until exit. */
static int apply_config(eml_agent_options *o, const char *path, cJSON **doc)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "edgemld: cannot open config %s: %s\n", path, strerror(errno));
        return 0;
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    *doc = cJSON_Parse(buf);
    if (!cJSON_IsObject(*doc)) {
        fprintf(stderr, "edgemld: config %s is not a JSON object\n", path);
        return 0;
    }
    cJSON *item;
    cJSON_ArrayForEach(item, *doc)
    {
        char num[64];
        const char *v = NULL;
        if (cJSON_IsString(item)) {
            v = item->valuestring;
        } else if (cJSON_IsNumber(item) && strcmp(item->string, "health-max-latency-ms") == 0) {
            snprintf(num, sizeof(num), "%.17g", item->valuedouble); /* a fraction of a ms */
            v = num;
        } else if (cJSON_IsNumber(item)) {
            snprintf(num, sizeof(num), "%.0f", item->valuedouble);
            v = num;
        }
        /* Numbers are copied into the options at once; only strings are kept by pointer. */
        if (!v || !apply(o, item->string, v)) {
            fprintf(stderr, "edgemld: config %s: bad option \"%s\"\n", path, item->string);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    eml_agent_options o;
    eml_agent_options_init(&o);
    o.listen = "127.0.0.1:8000";
    cJSON *doc = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("edgemld %s\n", EML_VERSION_STRING);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && !apply_config(&o, argv[i + 1], &doc))
            return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "edgemld: unexpected argument '%s'\n%s", argv[i], usage);
            return 2;
        }
        const char *name = argv[i] + 2;
        if (strcmp(name, "config") != 0 && !apply(&o, name, argv[i + 1])) {
            fprintf(stderr, "edgemld: bad option --%s '%s'\n%s", name, argv[i + 1], usage);
            return 2;
        }
        i++;
    }
    if (!o.repo_dir) {
        fprintf(stderr, "edgemld: --repo DIR is required\n%s", usage);
        return 2;
    }
    if (!o.listen && !o.broker) {
        fprintf(stderr, "edgemld: --listen off needs --broker\n%s", usage);
        return 2;
    }

    /* Block the stop signals in every thread (they inherit this mask); main waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    eml_diag diag;
    eml_diag_init(&diag);
    eml_agent *agent = NULL;
    eml_status st = eml_agent_create(&o, &agent, &diag);
    if (st != EML_OK) {
        fprintf(stderr, "edgemld: %s\n", diag.message[0] ? diag.message : eml_status_str(st));
        cJSON_Delete(doc);
        return 1;
    }
    if (o.listen) {
        const char *colon = strrchr(o.listen, ':');
        printf("edgemld %s: listening on %.*s:%u, repository %s\n", EML_VERSION_STRING,
               colon ? (int)(colon - o.listen) : 0, o.listen, eml_agent_port(agent), o.repo_dir);
    } else {
        printf("edgemld %s: no HTTP, repository %s\n", EML_VERSION_STRING, o.repo_dir);
    }
    if (o.broker)
        printf("edgemld: MQTT broker %s, topics edgeml/%s/nodes/%s/{cmd,status}\n", o.broker,
               o.site, o.node_id);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    printf("edgemld: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stdout);
    eml_agent_destroy(agent);
    cJSON_Delete(doc);
    printf("edgemld: stopped\n");
    return 0;
}
