/* edgeml: the command line. main() dispatches through one table of subcommands; each lives in
 * its own tools/cli_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_fleet.h"

static int cli_help(int argc, char **argv);
static int cli_version(int argc, char **argv);

/* The optimization options info, run and optimize share (tools/cli_util.c parses them). */
#define CLI_OPTIMIZE_HELP                                                                          \
    "  --no-optimize     use the graph as loaded (same as --level 0)\n"                            \
    "  --level N         0 none, 1 ONNX ops only, 2 all (default)\n"                               \
    "  --disable-pass NAME[,NAME]\n"                                                               \
    "                    skip the named passes ('edgeml info MODEL' lists them with what\n"       \
    "                    each rewrote: constant-folding, activation-fusion, ...)\n"

typedef struct cli_command {
    const char *name;
    cli_command_fn fn;
    const char *args;    /* synopsis after the name */
    const char *summary; /* one line */
    const char *help;    /* the rest of `edgeml help NAME` */
} cli_command;

/* Every subcommand, in the order `edgeml help` lists them. Add later ones (bench, quantize,
 * deploy, ...) here. */
static const cli_command commands[] = {
    {"info", cli_info,
     "MODEL [--json] [--nodes] [--no-optimize] [--level N] [--disable-pass NAME[,NAME]]",
     "show a model's inputs, outputs, ops, parameters, MACs and planned memory",
     "  --json            print one JSON object instead of text\n"
     "  --nodes           list the nodes as run, in order, with the kernel chosen for each\n"
     CLI_OPTIMIZE_HELP
     "Ops are shown before -> after optimization, with each pass's rewrites. Memory and MACs\n"
     "are those of the plan of the graph as 'edgeml run' runs it (optimized unless\n"
     "--no-optimize), made with every dynamic dim taken as 1.\n"},
    {"run", cli_run,
     "MODEL [[--input] [NAME=]FILE]... [--output-dir DIR] [--threads N] [--top K]\n"
     "            [--mean a,b,c] [--std a,b,c] [--layout nchw|nhwc]\n"
     "            [--no-optimize] [--level N] [--disable-pass NAME[,NAME]]",
     "run a model on tensor files and print its outputs",
     "  FILE              a TensorProto .pb, a .npy, or an image (.png, .jpg, .jpeg)\n"
     "  NAME=FILE         feeds graph input NAME; files without NAME= fill the inputs that\n"
     "                    have no default, in graph order, then those that have one\n"
     "  --output-dir DIR  write each output to DIR/<output name>.pb ('/' in names becomes '_')\n"
     "  --threads N       threads of the pool (default: one per CPU)\n"
     "  --top K           entries shown per row of classifier-like outputs (default 5)\n"
     "  --mean, --std     image normalisation per channel: (pixel/255 - mean) / std;\n"
     "                    one value applies to every channel (default 0 and 1)\n"
     "  --layout          image tensor layout (default: from the input's shape, else nchw)\n"
     CLI_OPTIMIZE_HELP
     "Images are resized (nearest) to the input's static height and width, and converted to\n"
     "its channel count (1: grayscale, 3: RGB).\n"},
    {"bench", cli_bench,
     "MODEL [--threads N] [--warmup N] [--runs N | --seconds S]\n"
     "            [--input [NAME=]FILE]... [--shape NAME=DIMS]... [--profile] [--json]\n"
     "            [--no-optimize] [--level N] [--disable-pass NAME[,NAME]]",
     "time a model's runs: latency percentiles, throughput, arena and peak memory",
     "  --threads N       threads of the pool (default: one per CPU)\n"
     "  --warmup N        runs before measuring (default 10)\n"
     "  --runs N          measured runs (default 100)\n"
     "  --seconds S       measure for at least S seconds instead (at least one run)\n"
     "  --input [NAME=]FILE\n"
     "                    feed an input from a file (.pb, .npy, image), as 'edgeml run' does\n"
     "  --shape NAME=DIMS shape of a generated input, like 1x3x224x224\n"
     "  --json            print one JSON object instead of text\n"
     "  --profile         then time every node: after the latency runs (which stay\n"
     "                    unprofiled), a separate pass of as many runs on a profiled session\n"
     "                    (one warm-up first); prints the top 15 nodes by time (op, kernel,\n"
     "                    mean us per run, % of a run, GMAC/s), the time per op type, and\n"
     "                    the sum of the nodes against the mean profiled run; with --json,\n"
     "                    a \"profile\" array of every executed node\n"
     CLI_OPTIMIZE_HELP
     "The graph is optimized as 'edgeml run' optimizes it. Inputs without a file are\n"
     "generated: float inputs standard normal from a fixed seed (printed), integer and bool\n"
     "inputs zeros; dynamic dims are 1 unless --shape sets them; inputs with a default keep\n"
     "it. Each run is one eml_session_run timed with the monotonic clock; percentiles are\n"
     "nearest-rank. Throughput is runs x batch / wall time, the batch being dim 0 of the\n"
     "first input whose model declares that dim dynamic (else 1). The arena is the plan's for\n"
     "dynamic dims = 1; peak RSS is the whole process's.\n"},
    {"optimize", cli_optimize, "MODEL -o OUT.onnx [--level N] [--disable-pass NAME[,NAME]]",
     "optimize a model's graph and write it as ONNX",
     "  -o, --output OUT  the ONNX file to write\n"
     CLI_OPTIMIZE_HELP
     "The passes fold constants, shapes and BatchNormalization, drop Identity, Dropout and\n"
     "dead nodes, and (level 2) fuse Conv/Gemm/MatMul with a residual Add and an activation\n"
     "into edgeml's FusedConv/FusedGemm/FusedMatMul (ONNX domain ai.edgeml, which other\n"
     "runtimes do not know; --level 1 writes ONNX ops only).\n"},
    {"quantize", cli_quantize,
     "MODEL -o OUT.onnx --precision int8|int8-dynamic|fp16|mixed [--calib FILE]\n"
     "            [--method minmax|percentile|entropy] [--percentile P] [--per-tensor]\n"
     "            [--eval-data FILE --eval-labels FILE] [--accuracy-budget PTS]\n"
     "            [--calib-limit N] [--eval-limit N] [--scale S] [--mean a,b,c] [--std a,b,c]\n"
     "            [--layout nchw|nhwc] [--threads N] [--no-bench] [--json]",
     "quantize a model (INT8 QDQ, dynamic INT8, FP16, mixed) and measure the result",
     "  -o, --output OUT  the ONNX file to write\n"
     "  --precision       int8: static, weights int8 per channel, activations uint8 (QDQ);\n"
     "                    int8-dynamic: Gemm/MatMul weights int8, activations quantized per run;\n"
     "                    fp16: weights stored as float16; mixed: int8 with the most sensitive\n"
     "                    layers kept in float16 until --accuracy-budget holds (default int8)\n"
     "  --calib FILE      calibration samples for int8 and mixed: .npy, IDX (.gz too), .pb or\n"
     "                    a folder of images; uint8 data is scaled by 1/255 unless --scale\n"
     "  --method M        calibration: minmax (default), percentile, entropy (KL)\n"
     "  --percentile P    the central P % of each activation's values (default 99.99)\n"
     "  --per-tensor      one weight scale per tensor instead of per output channel\n"
     "  --eval-data FILE, --eval-labels FILE\n"
     "                    measure top-1 (top-5) accuracy of both models; mixed uses them too\n"
     "  --accuracy-budget PTS  mixed: top-1 points the model may lose (default 0.5)\n"
     "  --calib-limit N, --eval-limit N   the first N samples only\n"
     "  --scale S, --mean, --std, --layout   data preprocessing (as in 'edgeml run')\n"
     "  --threads N       threads for calibration and timing (default: one per CPU)\n"
     "  --no-bench        skip the latency measurement\n"
     "  --json            print one JSON object instead of text\n"
     "Sizes are those of the two files; latencies are batch-1 medians measured side by side\n"
     "in this run, both models optimized as 'edgeml run' runs them. Per-layer SQNR compares\n"
     "each Conv/Gemm/MatMul output with float32 on the first calibration samples.\n"},
    {"eval", cli_eval,
     "MODEL --data FILE [--labels FILE] [--limit N] [--batch N] [--threads N] [--json]\n"
     "            [--predictions OUT.npy]\n"
     "            [--scale S] [--mean a,b,c] [--std a,b,c] [--layout nchw|nhwc]\n"
     "            [--no-optimize] [--level N] [--disable-pass NAME[,NAME]]",
     "measure a classifier's top-1 (and top-5) accuracy on a labelled data set",
     "  --data FILE       samples: .npy, IDX (.gz too), .pb, or a folder of images (with one\n"
     "                    subfolder per class, labels come from the folders)\n"
     "  --labels FILE     integer class labels (IDX, .npy, .pb)\n"
     "  --limit N         the first N samples only\n"
     "  --predictions OUT.npy  also write each sample's top-1 class (int32)\n"
     "  --batch N         samples per run (default 500, or the input's static batch)\n"
     "  --scale S         multiplies every value (default 1/255 for uint8 data, else 1)\n"
     "  --json            print one JSON object instead of text\n"
     CLI_OPTIMIZE_HELP
     "Top-5 is shown for models with more than 5 classes.\n"},
    {"profile", cli_profile,
     "MODEL --data FILE -o OUT.json [--limit N] [--axis A] [--bins B] [--config FILE]\n"
     "            [--window N] [--min-samples N] [--warn PSI] [--alert PSI]\n"
     "            [--scale S] [--mean a,b,c] [--std a,b,c] [--layout nchw|nhwc] [--json]",
     "make the reference profile of a model's inputs that the agent checks for drift",
     "  --data FILE       samples: .npy, IDX (.gz too), .pb or a folder of images, read and\n"
     "                    scaled as 'edgeml eval' reads them (uint8: 1/255 unless --scale)\n"
     "  -o, --output OUT  the config.json to write: the profile under \"drift\"\n"
     "  --config FILE     a version config to add the profile to (its other keys are kept)\n"
     "  --limit N         the first N samples only\n"
     "  --axis A          channel axis (default 1: C of NCHW, features of [N,F]); -1: the\n"
     "                    whole input as one channel\n"
     "  --bins B          bins per channel at the data's quantiles (default 10, at most 500)\n"
     "  --window N        samples the agent compares, newest first (default 10000)\n"
     "  --min-samples N   samples before the agent reports a status (default 100)\n"
     "  --warn PSI, --alert PSI   thresholds of \"warn\" and \"drift\" (default 0.1, 0.25)\n"
     "  --json            print the profile on stdout instead of a summary\n"
     "The data feed the model's first input. Deploy OUT.json as the version's config; the\n"
     "agent then reports GET /v2/edgeml/models/{m}/drift (see docs/drift.md).\n"},
    {"prune", cli_prune,
     "MODEL -o OUT.onnx [--sparsity S] [--per-layer] [--structured] [--min-weights N]\n"
     "            [--keep-first] [--keep-last] [--eval-data FILE --eval-labels FILE]\n"
     "            [--eval-limit N] [--scale S] [--mean a,b,c] [--std a,b,c] [--threads N] [--json]",
     "prune a model's Conv/Gemm/MatMul weights by magnitude and measure the result",
     "  -o, --output OUT  the ONNX file to write\n"
     "  --sparsity S      fraction of the weights to set to zero, in [0, 1) (default 0.5)\n"
     "  --per-layer       every layer reaches S (default: one magnitude threshold over all\n"
     "                    layers, S in total)\n"
     "  --structured      zero whole output channels, those of smallest L1 norm (per layer)\n"
     "  --min-weights N   layers with fewer weights stay dense (default 256)\n"
     "  --keep-first, --keep-last   leave the first / last layer dense\n"
     "  --eval-data FILE, --eval-labels FILE\n"
     "                    measure top-1 accuracy before and after (of the written file)\n"
     "  --eval-limit N    the first N samples only\n"
     "  --json            print one JSON object instead of text\n"
     "Biases are never pruned. The zeros are stored in the dense weights: the model stays\n"
     "plain ONNX and runs as fast as before; what shrinks is its compressed size (zlib, level\n"
     "9, of both files, printed).\n"},
    /* the fleet manager (tools/cli_fleet*.c): `edgeml [--site NAME] [--home DIR] CMD` */
    {"models", cli_models, "[--json]",
     "list the site's models with the latency and accuracy last measured on a node",
     "  --json            print one JSON object instead of a table\n"
     "Figures come from 'edgeml --site S bench' (latency, on a node) and its --eval-data\n"
     "(accuracy); a model never measured shows \"not measured\". See 'edgeml help fleet'.\n"},
    {"status", cli_status, "[--json]", "show the site: its folder, models deployed, nodes online",
     "  --json            print one JSON object instead of text\n"},
    {"nodes", cli_nodes, "[NODE] [--json]",
     "list the site's nodes, or show one node's status",
     "  NODE              show this node: device, CPU, memory, temperature and power (or\n"
     "                    \"unavailable\"), its models and versions, when it was last seen\n"
     "  --json            print one JSON object instead of text\n"},
    {"infer", cli_infer, "MODEL FILE... [--node NODE] [--top K] [--json]",
     "run a model of the site on a node and print its outputs and the node's inference time",
     "  FILE              one per model input, in the model's order: .pb, .npy or an image\n"
     "  --node NODE       the node (default: local)\n"
     "  --top K           classes shown per row of [N, C] outputs (default 5)\n"
     "  --json            print one JSON object (outputs in full) instead of text\n"},
    {"deploy", cli_deploy,
     "[FILE] --model ID [--name NAME] [--type TYPE] [--input-shape DIMS]\n"
     "            [--output-shape DIMS] [--node NODE] [--json]",
     "register a model file as a version of a site model and deploy it to a node",
     "  FILE              the ONNX file; left out: the latest version the site has of the\n"
     "                    model (one made by quantize or prune, or deployed before)\n"
     "  --model ID        the model's id in the site (created on first deploy)\n"
     "  --name, --type    a human name and a kind (\"classification\"), kept in the site\n"
     "  --input-shape, --output-shape DIMS\n"
     "                    expected shapes of the first input/output (1x1x28x28; -1: any),\n"
     "                    checked against the file before anything is deployed\n"
     "  --node NODE       the node (default: local)\n"
     "  --json            print one JSON object instead of text\n"
     "The node verifies the SHA-256, compiles and health-checks the model before it serves\n"
     "it; on failure the previous version keeps serving. Every deploy is recorded.\n"},
    {"rollback", cli_rollback, "MODEL [--version N] [--node NODE] [--json]",
     "switch a node back to the version of a model that served before",
     "  --version N       a kept node version instead of the previous one\n"
     "  --node NODE       the node (default: local)\n"
     "  --json            print one JSON object instead of text\n"},
    {"rollout", cli_rollout,
     "MODEL_ID [FILE] [--nodes A,B,C] [--first N] [--growth F]\n"
     "            [--max-failure-ratio R] [--bake-s S] [--no-rollback] [--name N] [--type T]\n"
     "            [--input-shape DIMS] [--output-shape DIMS] [--json]  |  rollout --resume ID",
     "deploy a model file to a group of nodes in waves (docs/rollout.md)",
     "  FILE              the ONNX file; left out: the model's latest version in the site\n"
     "  --nodes A,B,C     the nodes, in rollout order (default: every node of the site)\n"
     "  --first N         nodes in the first wave (default 1)\n"
     "  --growth F        each wave is the last one times F (default 2: 1, 2, 4, ...)\n"
     "  --max-failure-ratio R\n"
     "                    stop after a wave when failed / attempted nodes is above R\n"
     "                    (default 0.25); the nodes of that wave that switched are rolled\n"
     "                    back to what they served before\n"
     "  --bake-s S        seconds to wait after each successful wave (default 0)\n"
     "  --no-rollback     leave the failed wave's switched nodes on the new version\n"
     "  --name, --type, --input-shape, --output-shape  the model descriptor, as for deploy\n"
     "  --resume ID       go on with a rollout a killed manager left running\n"
     "  --json            print one JSON object (the rollout and its nodes) at the end\n"
     "Each wave is printed as it goes, a line per node. Every step is recorded in the site\n"
     "database before it starts and after it ends. Exit status 1 when the rollout stopped.\n"},
    {"rollouts", cli_rollouts, "[ID] [--json]",
     "list the site's rollouts, or show one with its nodes",
     "  ID                show this rollout: its waves, and each node's wave, state, versions\n"
     "                    (before, after), health check and message\n"
     "  --json            print one JSON object instead of text\n"},
    {"evaluate", cli_fleet_evaluate,
     "NODE MODEL --data FILE --labels FILE [--limit N] [--scale S] [--json]",
     "measure a site model's accuracy on the node that serves it, and record it",
     "  NODE, MODEL       the node ('local', or an MQTT node with --broker) and the model\n"
     "  --data FILE       samples: .npy, IDX (.gz too) or .pb; uint8 scaled by 1/255\n"
     "                    unless --scale S\n"
     "  --labels FILE     integer class labels (IDX, .npy, .pb)\n"
     "  --limit N         the first N samples only\n"
     "  --json            print one JSON object instead of text\n"
     "The node runs the version it serves on the data (an MQTT node downloads it from the\n"
     "manager as <sha256>.npy and checks the hash); top-1 is recorded for 'edgeml models'.\n"},
    {"key", cli_key, "[--json]",
     "print the site's Ed25519 public key, the one every deploy is signed with",
     "  --json            print {\"public_key\", \"file\"} instead of the key alone\n"
     "Give it to the nodes so that they accept only the site's models:\n"
     "  edgemld ... --trusted-key $(edgeml --site S key)   or   --trusted-key-file site.pub\n"
     "The key pair is <site>/site.key (secret, mode 0600) and <site>/site.pub; see\n"
     "docs/signing.md.\n"},
    {"fleet", cli_fleet_help, "",
     "the site options, and the site forms of bench, quantize and prune", CLI_FLEET_HELP},
    {"help", cli_help, "[COMMAND]", "show this help, or a command's", ""},
    {"version", cli_version, "", "print the version", ""},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    fprintf(f, "usage: edgeml COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'edgeml help COMMAND' shows a command's options; 'edgeml --version' the "
               "version.\n");
}

static void print_command_help(FILE *f, const cli_command *c)
{
    fprintf(f, "usage: edgeml %s %s\n%s\n%s", c->name, c->args, c->summary, c->help);
}

static int cli_help(int argc, char **argv)
{
    if (argc > 2)
        return cli_error(CLI_USAGE, "help takes at most one command name");
    if (argc == 2) {
        const cli_command *c = find_command(argv[1]);
        if (!c)
            return cli_error(CLI_USAGE, "unknown command '%s' (see 'edgeml help')", argv[1]);
        print_command_help(stdout, c);
        return CLI_OK;
    }
    print_usage(stdout);
    return CLI_OK;
}

static int cli_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_error(CLI_USAGE, "version takes no arguments");
    printf("edgeml %s\n", EML_VERSION_STRING);
    return CLI_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    /* edgeml [--site NAME] [--home DIR] COMMAND: the fleet's options (tools/cli_fleet.c) */
    int fleet = cli_fleet_globals(&argc, &argv);
    if (fleet < 0)
        return CLI_USAGE;
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return cli_version(1, argv + 1);
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return cli_help(1, argv + 1);
    const cli_command *c = find_command(name);
    if (!c) {
        if (name[0] == '-')
            return cli_error(CLI_USAGE, "unknown option '%s' (see 'edgeml help')", name);
        return cli_error(CLI_USAGE, "unknown command '%s' (see 'edgeml help')", name);
    }
    /* `edgeml CMD --help` anywhere in its arguments shows the command's help */
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_command_help(stdout, c);
            return CLI_OK;
        }
    int rc = cli_fleet_form(c->name, fleet, c->fn)(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == CLI_OK)
        return cli_error(CLI_FAIL, "cannot write the output");
    return rc;
}
