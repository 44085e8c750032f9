/* The ONNX exporter: eml_graph -> ModelProto (protobuf-c) -> file, written to a temporary name
 * and renamed so that a reader never sees half a model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "edgeml/edgeml.h"
#include "formats/onnx.h"

/* ---- writing a message to a file ---- */

typedef struct file_buffer {
    ProtobufCBuffer base;
    FILE *f;
    bool failed;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)b;
    if (!fb->failed && len && fwrite(data, 1, len, fb->f) != len)
        fb->failed = true;
}

eml_status eml__pb_write_file(const ProtobufCMessage *msg, const char *path, eml_diag *diag)
{
    size_t plen = strlen(path);
    char tmp[4096];
    if (plen + 16 > sizeof(tmp))
        return eml__diag(diag, EML_EIO, "path too long: '%s'", path);
    snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return eml__diag(diag, EML_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    file_buffer fb = {{file_append}, fdopen(fd, "wb"), false};
    if (!fb.f) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return eml__diag(diag, EML_EIO, "cannot write '%s': %s", tmp, strerror(err));
    }
    protobuf_c_message_pack_to_buffer(msg, &fb.base);
    bool ok = !fb.failed && fflush(fb.f) == 0 && fsync(fileno(fb.f)) == 0;
    int err = errno;
    ok = fclose(fb.f) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        err = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        return eml__diag(diag, EML_EIO, "cannot write '%s': %s", path, strerror(err));
    }
    return EML_OK;
}

/* ---- building the ModelProto ---- */

/* Every block the exporter takes is listed here and freed at the end, whatever happened. */
typedef struct exporter {
    eml_env *env;
    eml_diag *diag;
    eml_status st; /* why a make_* returned NULL */
    void **blocks;
    size_t n_blocks, cap_blocks;
    /* external data (eml_graph_save_onnx_external): initializers of min_bytes or more go to
     * `data` at 64-byte aligned offsets; NULL: everything inline */
    FILE *data;
    const char *data_name, *data_path;
    size_t min_bytes;
    uint64_t data_bytes;
} exporter;

static void *ex_alloc(exporter *ex, size_t count, size_t size)
{
    if (eml__grow(ex->env, (void **)&ex->blocks, &ex->cap_blocks, ex->n_blocks + 1,
                  sizeof(void *)) != EML_OK)
        return NULL;
    void *p = eml__calloc(ex->env, EML_MAX(count, 1), size);
    if (p)
        ex->blocks[ex->n_blocks++] = p;
    else
        ex->st = EML_ENOMEM;
    return p;
}

static void ex_free(exporter *ex)
{
    for (size_t i = 0; i < ex->n_blocks; i++)
        eml__free(ex->env, ex->blocks[i]);
    eml__free(ex->env, ex->blocks);
}

static Onnx__TensorProto *make_tensor(exporter *ex, const eml_tensor *t, const char *name)
{
    Onnx__TensorProto *tp = ex_alloc(ex, 1, sizeof(*tp));
    int64_t *dims = ex_alloc(ex, EML_MAX_RANK, sizeof(int64_t));
    if (!tp || !dims)
        return NULL;
    onnx__tensor_proto__init(tp);
    if (eml__onnx_tensor_fill(t, name, dims, tp) != EML_OK) {
        char shape[160];
        ex->st = eml__diag(ex->diag, EML_EINVAL, "tensor '%s' (%s) cannot be written to ONNX",
                           name ? name : "",
                           eml__shape_str(shape, sizeof(shape), t->dtype, t->dims,
                                          EML_MAX(0, EML_MIN(t->rank, EML_MAX_RANK))));
        return NULL;
    }
    return tp;
}

static char *ex_u64(exporter *ex, uint64_t v)
{
    char *s = ex_alloc(ex, 24, 1);
    if (s)
        snprintf(s, 24, "%llu", (unsigned long long)v);
    return s;
}

/* Moves a filled initializer's bytes to the external data file (ONNX's external data format:
 * location, offset, length), aligned so that a load can map them in place. */
static int to_external(exporter *ex, Onnx__TensorProto *tp)
{
    static const char zeros[64];
    size_t len = tp->raw_data.len;
    uint64_t pad = (64 - ex->data_bytes % 64) % 64;
    if ((pad && fwrite(zeros, 1, (size_t)pad, ex->data) != pad) ||
        fwrite(tp->raw_data.data, 1, len, ex->data) != len) {
        ex->st = eml__diag(ex->diag, EML_EIO, "cannot write '%s': %s", ex->data_path,
                           strerror(errno));
        return 0;
    }
    uint64_t offset = ex->data_bytes + pad;
    ex->data_bytes = offset + len;
    Onnx__StringStringEntryProto *e = ex_alloc(ex, 3, sizeof(*e));
    Onnx__StringStringEntryProto **ep = ex_alloc(ex, 3, sizeof(*ep));
    char *off = ex_u64(ex, offset), *n = ex_u64(ex, len);
    if (!e || !ep || !off || !n)
        return 0;
    const char *keys[3] = {"location", "offset", "length"};
    char *values[3] = {(char *)ex->data_name, off, n};
    for (int i = 0; i < 3; i++) {
        onnx__string_string_entry_proto__init(&e[i]);
        e[i].key = (char *)keys[i];
        e[i].value = values[i];
        ep[i] = &e[i];
    }
    tp->n_external_data = 3;
    tp->external_data = ep;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    tp->has_raw_data = 0;
    tp->raw_data.len = 0;
    tp->raw_data.data = NULL;
    return 1;
}

static Onnx__ValueInfoProto *make_value_info(exporter *ex, const eml_value *v)
{
    Onnx__ValueInfoProto *vi = ex_alloc(ex, 1, sizeof(*vi));
    if (!vi)
        return NULL;
    onnx__value_info_proto__init(vi);
    vi->name = v->name;
    if (v->dtype == EML_DTYPE_UNDEFINED)
        return vi;
    Onnx__TypeProto *tp = ex_alloc(ex, 1, sizeof(*tp));
    Onnx__TypeProto__Tensor *tt = ex_alloc(ex, 1, sizeof(*tt));
    if (!tp || !tt)
        return NULL;
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)v->dtype;
    vi->type = tp;
    if (v->rank < 0)
        return vi;
    Onnx__TensorShapeProto *shape = ex_alloc(ex, 1, sizeof(*shape));
    Onnx__TensorShapeProto__Dimension **dims = ex_alloc(ex, (size_t)v->rank, sizeof(*dims));
    if (!shape || !dims)
        return NULL;
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)v->rank;
    shape->dim = dims;
    tt->shape = shape;
    for (int32_t d = 0; d < v->rank && d < EML_MAX_RANK; d++) {
        Onnx__TensorShapeProto__Dimension *dim = ex_alloc(ex, 1, sizeof(*dim));
        if (!dim)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim);
        if (v->dims[d] >= 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = v->dims[d];
        } else if (v->dim_names[d] && v->dim_names[d][0]) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = v->dim_names[d];
        }
        dims[d] = dim;
    }
    return vi;
}

static Onnx__GraphProto *make_graph(exporter *ex, const eml_graph *g);

static Onnx__AttributeProto *make_attr(exporter *ex, const eml_attr *a)
{
    Onnx__AttributeProto *ap = ex_alloc(ex, 1, sizeof(*ap));
    if (!ap)
        return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case EML_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case EML_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case EML_ATTR_STRING:
        ap->has_s = 1;
        ap->s.len = a->s_len;
        ap->s.data = (uint8_t *)a->s;
        break;
    case EML_ATTR_FLOATS:
        ap->n_floats = a->count;
        ap->floats = a->floats;
        break;
    case EML_ATTR_INTS:
        ap->n_ints = a->count;
        ap->ints = a->ints;
        break;
    case EML_ATTR_STRINGS:
        ap->n_strings = a->count;
        ap->strings = ex_alloc(ex, a->count, sizeof(ProtobufCBinaryData));
        if (!ap->strings)
            return NULL;
        for (size_t i = 0; i < a->count; i++) {
            ap->strings[i].len = strlen(a->strings[i]);
            ap->strings[i].data = (uint8_t *)a->strings[i];
        }
        break;
    case EML_ATTR_TENSOR:
        ap->t = make_tensor(ex, &a->t, a->name);
        if (!ap->t)
            return NULL;
        break;
    case EML_ATTR_GRAPH:
        ap->g = make_graph(ex, a->g);
        if (!ap->g)
            return NULL;
        break;
    default: /* the importer makes no others */
        ex->st = eml__diag(ex->diag, EML_EINVAL, "attribute '%s' of type %d cannot be written",
                           a->name, (int)a->type);
        return NULL;
    }
    return ap;
}

static char *value_name(const eml_graph *g, int32_t id)
{
    return id >= 0 ? g->values[id].name : (char *)"";
}

static Onnx__NodeProto *make_node(exporter *ex, const eml_graph *g, const eml_node *n)
{
    Onnx__NodeProto *np = ex_alloc(ex, 1, sizeof(*np));
    char **ins = ex_alloc(ex, (size_t)n->n_inputs, sizeof(char *));
    char **outs = ex_alloc(ex, (size_t)n->n_outputs, sizeof(char *));
    Onnx__AttributeProto **attrs = ex_alloc(ex, (size_t)n->n_attrs, sizeof(*attrs));
    if (!np || !ins || !outs || !attrs)
        return NULL;
    onnx__node_proto__init(np);
    np->name = n->name;
    np->op_type = n->op_type;
    np->domain = n->domain && n->domain[0] ? n->domain : NULL;
    np->n_input = (size_t)n->n_inputs;
    np->input = ins;
    for (int32_t k = 0; k < n->n_inputs; k++)
        ins[k] = value_name(g, n->inputs[k]);
    np->n_output = (size_t)n->n_outputs;
    np->output = outs;
    for (int32_t k = 0; k < n->n_outputs; k++)
        outs[k] = value_name(g, n->outputs[k]);
    np->n_attribute = (size_t)n->n_attrs;
    np->attribute = attrs;
    for (int32_t k = 0; k < n->n_attrs; k++) {
        attrs[k] = make_attr(ex, &n->attrs[k]);
        if (!attrs[k])
            return NULL;
    }
    return np;
}

static Onnx__GraphProto *make_graph(exporter *ex, const eml_graph *g)
{
    Onnx__GraphProto *gp = ex_alloc(ex, 1, sizeof(*gp));
    if (!gp)
        return NULL;
    onnx__graph_proto__init(gp);
    gp->name = g->name ? g->name : (char *)"";
    size_t n_init = 0;
    for (size_t i = 0; i < g->n_values; i++)
        n_init += (g->values[i].flags & EML_VALUE_INITIALIZER) != 0;
    gp->node = ex_alloc(ex, g->n_nodes, sizeof(*gp->node));
    gp->initializer = ex_alloc(ex, n_init, sizeof(*gp->initializer));
    gp->input = ex_alloc(ex, g->n_inputs, sizeof(*gp->input));
    gp->output = ex_alloc(ex, g->n_outputs, sizeof(*gp->output));
    if (!gp->node || !gp->initializer || !gp->input || !gp->output)
        return NULL;
    /* inputs, initializers, outputs, nodes: the order the importer reads them back in */
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (!(gp->input[gp->n_input++] = make_value_info(ex, &g->values[g->inputs[i]])))
            return NULL;
    }
    for (size_t i = 0; i < g->n_values; i++) {
        const eml_value *v = &g->values[i];
        if (!(v->flags & EML_VALUE_INITIALIZER))
            continue;
        eml_tensor t = {v->dtype, v->rank, {0}, v->data};
        for (int32_t d = 0; d < v->rank && d < EML_MAX_RANK; d++)
            t.dims[d] = v->dims[d];
        Onnx__TensorProto *tp = make_tensor(ex, &t, v->name);
        if (!tp)
            return NULL;
        gp->initializer[gp->n_initializer++] = tp;
        if (ex->data && tp->raw_data.len >= ex->min_bytes && t.dtype != EML_DTYPE_BOOL &&
            !to_external(ex, tp))
            return NULL;
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        if (!(gp->output[gp->n_output++] = make_value_info(ex, &g->values[g->outputs[i]])))
            return NULL;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (!(gp->node[gp->n_node++] = make_node(ex, g, &g->nodes[i])))
            return NULL;
    }
    return gp;
}

/* Default-domain opset of a graph built without opset imports: the highest its nodes use. */
static int64_t nodes_opset(const eml_graph *g)
{
    int64_t v = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].domain || !g->nodes[i].domain[0])
            v = EML_MAX(v, (int64_t)g->nodes[i].opset);
    return v > 0 ? v : EML_ONNX_OPSET_MAX;
}

static eml_status save(const eml_graph *g, const char *path, exporter *exp, eml_diag *diag);

eml_status eml_graph_save_onnx(const eml_graph *g, const char *path, eml_diag *diag)
{
    if (!g || !path)
        return eml__diag(diag, EML_EINVAL, "invalid argument");
    exporter ex = {g->env, diag, EML_OK, NULL, 0, 0, NULL, NULL, NULL, 0, 0};
    return save(g, path, &ex, diag);
}

eml_status eml_graph_save_onnx_external(const eml_graph *g, const char *path,
                                        const char *data_name, size_t min_bytes, eml_diag *diag)
{
    if (!g || !path || !data_name || !data_name[0] || strchr(data_name, '/') ||
        strcmp(data_name, ".") == 0 || strcmp(data_name, "..") == 0)
        return eml__diag(diag, EML_EINVAL, "invalid argument: the data file must be a file name");
    const char *slash = strrchr(path, '/');
    char data_path[4096];
    int n = slash ? snprintf(data_path, sizeof(data_path), "%.*s/%s", (int)(slash - path), path,
                             data_name)
                  : snprintf(data_path, sizeof(data_path), "%s", data_name);
    if (n < 0 || (size_t)n >= sizeof(data_path))
        return eml__diag(diag, EML_EIO, "path too long: '%s'", path);
    FILE *f = fopen(data_path, "wb");
    if (!f)
        return eml__diag(diag, EML_EIO, "cannot create '%s': %s", data_path, strerror(errno));
    exporter ex = {g->env, diag, EML_OK, NULL, 0, 0, f, data_name, data_path, min_bytes, 0};
    eml_status st = save(g, path, &ex, diag);
    /* the data must be on disk before a reader can find the model that names it */
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    ok = fclose(f) == 0 && ok;
    if (st == EML_OK && !ok)
        st = eml__diag(diag, EML_EIO, "cannot write '%s': %s", data_path, strerror(err));
    if (st != EML_OK) {
        unlink(path);
        unlink(data_path);
    }
    return st;
}

static eml_status save(const eml_graph *g, const char *path, exporter *exp, eml_diag *diag)
{
    exporter ex = *exp;
    eml_status st = EML_OK;
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = g->ir_version > 0 ? g->ir_version : 8;
    m.producer_name = (char *)"edgeml";
    m.producer_version = (char *)EML_VERSION_STRING;
    m.doc_string = g->doc && g->doc[0] ? g->doc : NULL;
    size_t n_opsets = g->n_opsets ? g->n_opsets : 1;
    Onnx__OperatorSetIdProto *opsets = ex_alloc(&ex, n_opsets, sizeof(*opsets));
    Onnx__OperatorSetIdProto **opset_ptrs = ex_alloc(&ex, n_opsets, sizeof(*opset_ptrs));
    if (!opsets || !opset_ptrs) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n_opsets; i++) {
        onnx__operator_set_id_proto__init(&opsets[i]);
        opsets[i].domain = g->n_opsets ? g->opsets[i].domain : (char *)"";
        opsets[i].has_version = 1;
        opsets[i].version = g->n_opsets ? g->opsets[i].version : nodes_opset(g);
        opset_ptrs[i] = &opsets[i];
    }
    m.n_opset_import = n_opsets;
    m.opset_import = opset_ptrs;
    m.graph = make_graph(&ex, g);
    if (!m.graph) {
        st = ex.st != EML_OK ? ex.st : EML_ENOMEM;
        if (st == EML_ENOMEM)
            eml__diag(diag, st, "out of memory writing '%s'", path);
        goto fail;
    }
    st = eml__pb_write_file(&m.base, path, diag);
fail:
    if (st != EML_OK)
        eml__diag_where(diag, path, NULL, NULL, 0, -1);
    ex_free(&ex);
    return st;
}
