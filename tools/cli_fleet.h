/* The fleet subcommands of `edgeml` (the site manager): models, status, nodes, infer, deploy,
 * rollback, and the site forms of bench, quantize and prune. */
#ifndef EML_TOOLS_CLI_FLEET_H
#define EML_TOOLS_CLI_FLEET_H

#include <stdio.h>

#include "cli.h"

/* Consumes the global options before the command (`edgeml [--site NAME] [--home DIR]
 * [--broker URL] COMMAND ...`), shifting argv so that (*argv)[1] is the command. Returns 1 when
 * one was given (bench, quantize and prune then take their site form), 0 when none, -1 after
 * printing a usage error. */
int cli_fleet_globals(int *argc, char ***argv);
/* The site form of a command when the global options select it (bench, quantize, prune), else
 * `fn` unchanged. */
cli_command_fn cli_fleet_form(const char *name, int fleet, cli_command_fn fn);

/* The text of `edgeml help fleet`. */
#define CLI_FLEET_HELP \
    "edgeml [--site NAME] [--home DIR] COMMAND ...: the fleet manager of an edge site\n" \
    "  --site NAME   the site (default: $EDGEML_SITE, else 'default'); created on first use\n" \
    "  --home DIR    the folder of sites (default: $EDGEML_HOME, else\n" \
    "                $XDG_DATA_HOME/edgeml, else ~/.local/share/edgeml)\n" \
    "  --broker mqtt://HOST:PORT  also reach the edgemld nodes that announce themselves\n" \
    "                on that MQTT v5 broker (docs/fleet.md, \"The fleet over MQTT\")\n" \
    "  --broker mqtts://HOST[:PORT]  the same over TLS (port default 8883; docs/mqtt.md)\n" \
    "  --tls-ca FILE   PEM CA the broker's certificate must chain to (default: the\n" \
    "                system's CAs; the broker is always verified)\n" \
    "  --tls-cert FILE, --tls-key FILE  client certificate and key (mutual TLS)\n" \
    "With no broker a site is a folder <home>/<site>/ holding site.db (SQLite: models,\n" \
    "versions, nodes, deployments, measurements), artifacts/<sha256>.onnx (every model\n" \
    "version) and nodes/local/repo/ (the model repository of the node 'local', which runs\n" \
    "in the edgeml process with edgemld's command handler).\n" \
    "Commands: models, status, nodes, infer, deploy, rollback, rollout, rollouts (see\n" \
    "'edgeml help CMD'), and\n" \
    "the site forms of bench, quantize and prune, chosen by a site option before them:\n" \
    "  edgeml --site S bench MODEL [--node N] [--runs N] [--warmup N] [--batch N]\n" \
    "         [--eval-data FILE --eval-labels FILE [--eval-limit N] [--scale S]] [--json]\n" \
    "      benchmark the model on the node (throughput, latency percentiles, peak memory,\n" \
    "      energy where the node has a sensor) and, with --eval-data, measure its top-1\n" \
    "      accuracy there; both are recorded for 'edgeml models'\n" \
    "  edgeml --site S quantize MODEL [--as NEW] [--precision int8|int8-dynamic|fp16|mixed]\n" \
    "         [--calib FILE] [--calib-limit N] [--method minmax|percentile|entropy]\n" \
    "         [--per-tensor] [--scale S] [--json]\n" \
    "  edgeml --site S prune MODEL [--as NEW] [--sparsity S] [--per-layer] [--structured]\n" \
    "         [--min-weights N] [--keep-first] [--keep-last] [--json]\n" \
    "      make a new model of the site (default id MODEL-int8, MODEL-pruned50, ...) from\n" \
    "      the latest version of MODEL, recorded with its parent; deploy it with\n" \
    "      'edgeml deploy --model NEW' or 'edgeml rollout NEW' (no FILE: the site's latest\n" \
    "      version; its file is <site>/artifacts/<sha256>.onnx, shown by --json)\n" \
    "Without a site option, 'edgeml bench|quantize MODEL.onnx' work on files as before,\n" \
    "and 'edgeml prune MODEL.onnx -o OUT.onnx' prunes a file.\n"

int cli_models(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_nodes(int argc, char **argv);
int cli_infer(int argc, char **argv);
int cli_deploy(int argc, char **argv);
int cli_rollback(int argc, char **argv);
/* tools/cli_fleet_rollout.c: a model to a group of nodes in waves; the rollouts recorded. */
int cli_rollout(int argc, char **argv);
int cli_rollouts(int argc, char **argv);
int cli_fleet_bench(int argc, char **argv);
int cli_fleet_quantize(int argc, char **argv);
int cli_fleet_prune(int argc, char **argv);
/* `edgeml key`: the site's public key (tools/cli_fleet_key.c). */
int cli_key(int argc, char **argv);
/* `edgeml evaluate NODE MODEL --data F --labels F` (cli_fleet_eval.c). */
int cli_fleet_evaluate(int argc, char **argv);
/* `edgeml help fleet`. */
int cli_fleet_help(int argc, char **argv);

/* ---- shared by the fleet files ---- */

/* Opens the site the global options (or $EDGEML_SITE, else "default") name. On failure prints
 * the error and returns NULL. */
eml_manager *cli_fleet_open(void);
/* 1 when --broker was given: nodes other than "local" are then reached through it. */
int cli_fleet_broker(void);
/* "2026-11-26 13:30:05 UTC", or "never" for 0. */
const char *cli_fleet_time(char *buf, size_t cap, int64_t unix_s);
/* "810.3 KiB". */
const char *cli_fleet_bytes(char *buf, size_t cap, uint64_t bytes);
/* The options of a model descriptor (--name, --type, --input-shape 1x1x28x28,
 * --output-shape 1x10; -1 for any dim) at argv[*i]: 1 when one was read (and *i moved past
 * it), 0 when argv[*i] is none of them, -1 after printing a usage error. */
int cli_fleet_descriptor_option(int argc, char **argv, int *i, eml_model_descriptor *desc);

#endif
