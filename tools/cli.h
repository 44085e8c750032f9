/* What the `edgeml` subcommands share: exit codes, error lines, option parsing, printing. */
#ifndef EML_TOOLS_CLI_H
#define EML_TOOLS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "edgeml/edgeml.h"

/* Exit statuses of every subcommand. */
enum {
    CLI_OK = 0,
    CLI_FAIL = 1,  /* the model, an input or a file was wrong */
    CLI_USAGE = 2  /* the command line was wrong */
};

/* A subcommand: `argv[0]` is the subcommand's name; returns an exit status. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cli_info(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_optimize(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_prune(int argc, char **argv);
int cli_profile(int argc, char **argv);

/* Prints the one `error: ...` line on stderr (newlines in the text become spaces) and returns
 * `code`. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a library failure: the diag's message, prefixed with `file` when the message does
 * not name it already (file may be NULL). Returns CLI_FAIL. */
int cli_error_diag(const eml_diag *diag, eml_status st, const char *file);

/* Option parsing. At argv[*i], matches `--name VALUE` or `--name=VALUE`: on a match stores the
 * value, advances *i past what it used and returns 1; returns -1 (after printing a usage error)
 * when the value is missing, 0 when argv[*i] is another option. */
int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value);
/* Whole-string integer in [lo, hi]; returns 0 on success. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* Comma-separated floats, 1 to max of them; returns the count, or -1. */
int cli_parse_floats(const char *s, float *out, int max);

/* "[batch,1,28,28]" for a declared shape: dynamic dims by name, "?" when unnamed; "[?]" for an
 * unknown rank. */
const char *cli_shape_str(char *buf, size_t cap, const eml_value_info *v);
/* "[8,10]" for a concrete shape. */
const char *cli_dims_str(char *buf, size_t cap, const int64_t *dims, int rank);
/* Writes s as a JSON string literal, quotes included. */
void cli_json_string(FILE *f, const char *s);

/* Loads a model with an env of n_threads (0: one per CPU). On failure prints the error and returns
 * CLI_FAIL with nothing to free. */
int cli_load_model(const char *path, uint32_t n_threads, eml_env **env, eml_graph **graph);

/* ---- graph optimization asked on the command line (info, run, optimize) ---- */

typedef struct cli_optimize_args {
    int level;          /* 0 after --no-optimize; --level N; default 2 */
    char disable[512];  /* the --disable-pass lists, joined by commas */
} cli_optimize_args;

void cli_optimize_args_init(cli_optimize_args *o);
/* At argv[*i]: matches --no-optimize, --level N or --disable-pass NAME[,NAME] (repeatable).
 * Returns 1 (and advances *i), 0 for another argument, -1 after printing a usage error. */
int cli_optimize_option(int argc, char **argv, int *i, cli_optimize_args *o);
/* Optimizes the graph as asked (nothing with level 0; the report is then zeroed). Returns
 * CLI_OK, CLI_USAGE (an unknown pass name) or CLI_FAIL, the error printed. */
int cli_optimize_graph(eml_graph *graph, const cli_optimize_args *o, eml_optimize_report *report,
                       const char *path);
/* Prints "  constant-folding 70, shape-folding 0, ..." (each pass's rewrites), wrapped. */
void cli_print_passes(FILE *f, const eml_optimize_report *report);

/* ---- feeding graph inputs from files (run, bench) ---- */

/* Image preprocessing asked on the command line (run's --mean, --std, --layout). */
typedef struct cli_image_args {
    float mean[4], std[4];
    int n_mean, n_std; /* values given: 0, 1 (applies to every channel) or one per channel */
    int layout;        /* -1: from the input's shape; 0: nchw; 1: nhwc */
} cli_image_args;

/* The tensors that feed a graph's inputs, read from `[NAME=]FILE` arguments. */
typedef struct cli_inputs {
    size_t count;        /* the graph's inputs */
    eml_tensor *tensors; /* one per input, graph order; data NULL when not read (the default) */
    const char **files;  /* per input: the file that feeds it (borrowed from argv), or NULL */
} cli_inputs;

/* Index of the graph input named name[0..len), or -1. */
int cli_find_input(const eml_graph *graph, const char *name, size_t len);
/* "'a', 'b'" (or "none"): the graph's input names, for error messages. */
const char *cli_input_names(char *buf, size_t cap, const eml_graph *graph);
/* True when dims/rank fit the declared shape of v (rank, static dims; unknown rank fits all). */
int cli_dims_fit(const eml_value_info *v, const int64_t *dims, int rank);

/* One empty entry per graph input. Returns CLI_OK or CLI_FAIL (printed); free it either way. */
int cli_inputs_init(cli_inputs *in, const eml_graph *graph);
/* Matches specs to inputs: NAME=FILE by name, the others in graph order to the inputs without a
 * default first, then to those with one. With require_all, an input without a default that no
 * file feeds is an error. Returns CLI_OK or CLI_FAIL (printed). */
int cli_inputs_assign(cli_inputs *in, const eml_graph *graph, const char *const *specs,
                      int n_specs, int require_all);
/* Reads each assigned file (images with img, NULL for the defaults) and checks its dtype and
 * shape against the input's; prints one "input ..." line per file on log unless NULL.
 * Returns CLI_OK or CLI_FAIL (printed). */
int cli_inputs_read(cli_inputs *in, eml_env *env, const eml_graph *graph,
                    const cli_image_args *img, FILE *log);
/* Frees what was read; env is the one the files were read with. */
void cli_inputs_free(cli_inputs *in, eml_env *env);

/* ---- data sets (quantize, eval: tools/cli_dataset.c) ---- */

typedef struct cli_data_args {
    float scale;        /* --scale: multiplies every value; NAN: 1/255 for uint8 data, else 1 */
    cli_image_args img; /* --mean, --std, --layout for folders of images */
} cli_data_args;

void cli_data_args_init(cli_data_args *a);
/* At argv[*i]: matches --scale S, --mean a,b,c, --std a,b,c or --layout nchw|nhwc. Returns 1
 * (and advances *i), 0 for another argument, -1 after printing a usage error. */
int cli_data_option(int argc, char **argv, int *i, cli_data_args *a);
/* Reads samples for the graph's first input from an .npy, .pb, IDX file (plain or .gz) or a
 * folder of images (sized for the input; one subfolder per class gives labels, else labels
 * stays empty) into float32 [N, ...]; limit: first samples only (0: all). Data is malloc'd:
 * free(out->data), free(labels->data). Returns CLI_OK or CLI_FAIL (printed). */
int cli_data_read(eml_env *env, const char *path, const eml_graph *graph,
                  const cli_data_args *a, uint32_t limit, eml_tensor *out, eml_tensor *labels);
/* Reads integer labels (IDX, .npy, .pb) as malloc'd int32 [N]. Returns CLI_OK or CLI_FAIL. */
int cli_labels_read(eml_env *env, const char *path, uint32_t limit, eml_tensor *out);

#endif
