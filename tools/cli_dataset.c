/* Data sets on the command line (quantize, eval): .npy, IDX (plain or .gz), .pb or a folder of
 * images, read into the float32 [N, ...] tensor the library's calibration and evaluation take. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

void cli_data_args_init(cli_data_args *a)
{
    memset(a, 0, sizeof(*a));
    a->scale = NAN;
    a->img.layout = -1;
}

int cli_data_option(int argc, char **argv, int *i, cli_data_args *a)
{
    const char *v = NULL;
    int r;
    if ((r = cli_option_value(argc, argv, i, "--scale", &v)) != 0) {
        char *end;
        if (r < 0)
            return -1;
        a->scale = strtof(v, &end);
        if (*end || !isfinite(a->scale) || a->scale == 0.0f) {
            cli_error(CLI_USAGE, "--scale wants a nonzero number, not '%s'", v);
            return -1;
        }
        return 1;
    }
    if ((r = cli_option_value(argc, argv, i, "--mean", &v)) != 0) {
        if (r < 0 || (a->img.n_mean = cli_parse_floats(v, a->img.mean, 4)) < 0) {
            if (r >= 0)
                cli_error(CLI_USAGE, "--mean wants 1 to 4 numbers: a,b,c");
            return -1;
        }
        return 1;
    }
    if ((r = cli_option_value(argc, argv, i, "--std", &v)) != 0) {
        if (r < 0 || (a->img.n_std = cli_parse_floats(v, a->img.std, 4)) < 0) {
            if (r >= 0)
                cli_error(CLI_USAGE, "--std wants 1 to 4 numbers: a,b,c");
            return -1;
        }
        for (int c = 0; c < a->img.n_std; c++)
            if (!(a->img.std[c] != 0.0f)) {
                cli_error(CLI_USAGE, "--std values must not be zero");
                return -1;
            }
        return 1;
    }
    if ((r = cli_option_value(argc, argv, i, "--layout", &v)) != 0) {
        if (r < 0)
            return -1;
        if (strcmp(v, "nchw") == 0) {
            a->img.layout = 0;
        } else if (strcmp(v, "nhwc") == 0) {
            a->img.layout = 1;
        } else {
            cli_error(CLI_USAGE, "--layout is nchw or nhwc, not '%s'", v);
            return -1;
        }
        return 1;
    }
    return 0;
}

static int is_image_channels(int64_t c)
{
    return c == 1 || c == 3 || c == 4;
}

/* Image preprocessing for the graph's first input: its size, channels and layout. */
static void folder_options(const cli_data_args *a, const eml_graph *graph, eml_image_options *img)
{
    eml_image_options_init(img);
    for (int c = 0; c < 4; c++) {
        if (a->img.n_mean == 1 || c < a->img.n_mean)
            img->mean[c] = a->img.mean[a->img.n_mean == 1 ? 0 : c];
        if (a->img.n_std == 1 || c < a->img.n_std)
            img->std[c] = a->img.std[a->img.n_std == 1 ? 0 : c];
    }
    eml_value_info v;
    if (eml_graph_input(graph, 0, &v) != EML_OK || (v.rank != 3 && v.rank != 4))
        return;
    const int64_t *d = v.dims + (v.rank == 4);
    int nhwc =
        a->img.layout >= 0 ? a->img.layout : is_image_channels(d[2]) && !is_image_channels(d[0]);
    img->nhwc = nhwc;
    int64_t c = nhwc ? d[2] : d[0], h = nhwc ? d[0] : d[1], w = nhwc ? d[1] : d[2];
    img->n_channels = c > 0 && is_image_channels(c) ? (int)c : 0;
    img->resize_h = h > 0 && h <= 65535 ? (int)h : 0;
    img->resize_w = w > 0 && w <= 65535 ? (int)w : 0;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Reads a tensor file by its name: .npy and .pb as such, anything else as IDX. */
static eml_status read_tensor(eml_env *env, const char *path, eml_tensor *t, eml_diag *diag)
{
    if (ends_with(path, ".npy") || ends_with(path, ".pb"))
        return eml_tensor_read_file(env, path, NULL, t, diag);
    return eml_tensor_read_idx(env, path, t, diag);
}

/* Keeps the first `limit` samples of t (dim 0). */
static void keep_first(eml_tensor *t, uint32_t limit)
{
    if (limit && t->rank >= 1 && t->dims[0] > (int64_t)limit)
        t->dims[0] = limit;
}

/* A malloc'd copy of t (as float32 times scale, or as int32 labels), t freed. */
static int to_heap(eml_env *env, eml_tensor *t, eml_dtype want, float scale, const char *path)
{
    int64_t n = eml_tensor_count(t);
    void *heap = malloc((size_t)(n ? n : 1) * 4);
    if (!heap) {
        eml_tensor_free(env, t);
        return cli_error(CLI_FAIL, "out of memory reading '%s'", path);
    }
    for (int64_t i = 0; i < n; i++) {
        double v;
        switch (t->dtype) {
        case EML_DTYPE_U8:
            v = ((const uint8_t *)t->data)[i];
            break;
        case EML_DTYPE_I8:
            v = ((const int8_t *)t->data)[i];
            break;
        case EML_DTYPE_U16:
            v = ((const uint16_t *)t->data)[i];
            break;
        case EML_DTYPE_I16:
            v = ((const int16_t *)t->data)[i];
            break;
        case EML_DTYPE_I32:
            v = ((const int32_t *)t->data)[i];
            break;
        case EML_DTYPE_I64:
            v = (double)((const int64_t *)t->data)[i];
            break;
        case EML_DTYPE_F64:
            v = ((const double *)t->data)[i];
            break;
        default:
            v = ((const float *)t->data)[i];
            break;
        }
        if (want == EML_DTYPE_F32)
            ((float *)heap)[i] = (float)(v * scale);
        else
            ((int32_t *)heap)[i] = (int32_t)v;
    }
    eml_tensor shape = *t;
    eml_tensor_free(env, t); /* clears the view */
    *t = shape;
    t->data = heap;
    t->dtype = want;
    return CLI_OK;
}

int cli_data_read(eml_env *env, const char *path, const eml_graph *graph, const cli_data_args *a,
                  uint32_t limit, eml_tensor *out, eml_tensor *labels)
{
    eml_diag diag;
    eml_diag_init(&diag);
    memset(out, 0, sizeof(*out));
    if (labels)
        memset(labels, 0, sizeof(*labels));
    eml_status st;
    if (is_dir(path)) {
        eml_image_options img;
        folder_options(a, graph, &img);
        eml_tensor lab;
        st = eml_tensor_read_image_folder(env, path, &img, limit, out, &lab, &diag);
        if (st != EML_OK)
            return cli_error_diag(&diag, st, path);
        int rc = to_heap(env, out, EML_DTYPE_F32, isnan(a->scale) ? 1.0f : a->scale, path);
        if (rc == CLI_OK && lab.data && labels) {
            *labels = lab;
            rc = to_heap(env, labels, EML_DTYPE_I32, 1.0f, path);
        } else {
            eml_tensor_free(env, &lab);
        }
        return rc;
    }
    st = read_tensor(env, path, out, &diag);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, path);
    keep_first(out, limit);
    if (out->rank < 1 || out->dims[0] < 1) {
        eml_tensor_free(env, out);
        return cli_error(CLI_FAIL, "'%s' holds no sample (an empty data set)", path);
    }
    if (out->dtype != EML_DTYPE_F32 && out->dtype != EML_DTYPE_F64 && out->dtype != EML_DTYPE_U8) {
        eml_dtype dt = out->dtype;
        eml_tensor_free(env, out);
        return cli_error(CLI_FAIL,
                         "'%s' holds %s data: samples must be float32, float64 or uint8 pixels "
                         "(scaled by --scale, default 1/255)",
                         path, eml_dtype_name(dt));
    }
    float scale = !isnan(a->scale) ? a->scale : out->dtype == EML_DTYPE_U8 ? 1.0f / 255.0f : 1.0f;
    return to_heap(env, out, EML_DTYPE_F32, scale, path);
}

int cli_labels_read(eml_env *env, const char *path, uint32_t limit, eml_tensor *out)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = read_tensor(env, path, out, &diag);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, path);
    keep_first(out, limit);
    if (out->dtype == EML_DTYPE_F32 || out->dtype == EML_DTYPE_F64 || out->dtype == EML_DTYPE_F16 ||
        out->dtype == EML_DTYPE_BF16 || out->dtype == EML_DTYPE_BOOL ||
        out->dtype == EML_DTYPE_U32 || out->dtype == EML_DTYPE_U64) {
        eml_dtype dt = out->dtype;
        eml_tensor_free(env, out);
        return cli_error(CLI_FAIL, "'%s' holds %s: labels are integer class indices", path,
                         eml_dtype_name(dt));
    }
    return to_heap(env, out, EML_DTYPE_I32, 1.0f, path);
}
