/* The ONNX importer: ModelProto bytes -> eml_graph, with every op resolved and its attributes
 * validated at load time, so that an unsupported or broken model fails here with what and where. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "formats/onnx.h"

/* Subgraphs nested deeper than this are refused (the wire check bounds it too). */
#define ONNX_MAX_GRAPH_DEPTH 16

static bool is_default_domain(const char *d)
{
    return !d || d[0] == 0 || strcmp(d, "ai.onnx") == 0;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- declared types ---- */

/* Declared type of a graph input/output into value `id`. Only tensors are supported. */
static eml_status read_value_type(eml_onnx_loader *ld, eml_graph *g, int32_t id,
                                  const Onnx__TypeProto *tp)
{
    eml_diag *diag = ld->diag;
    const char *name = g->values[id].name;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return EML_OK; /* undeclared: known once the graph runs */
    static const struct {
        Onnx__TypeProto__ValueCase kind;
        const char *what;
    } others[] = {
        {ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE, "sequence"},
        {ONNX__TYPE_PROTO__VALUE_MAP_TYPE, "map"},
        {ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE, "optional"},
        {ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE, "sparse tensor"},
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if (tp->value_case == others[i].kind)
            return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: %s values (value '%s')",
                             others[i].what, name);
    }
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: type %d (value '%s')",
                         (int)tp->value_case, name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    char what[160];
    snprintf(what, sizeof(what), "value '%s'", name);
    eml_dtype dt = EML_DTYPE_UNDEFINED;
    if (tt->has_elem_type && tt->elem_type != 0) {
        eml_status st = eml__onnx_dtype(tt->elem_type, what, &dt, diag);
        if (st != EML_OK)
            return st;
    }
    eml_value *v = &g->values[id];
    v->dtype = dt;
    v->rank = -1;
    for (int d = 0; d < EML_MAX_RANK; d++) { /* an output listed twice is declared twice */
        eml__free(ld->env, v->dim_names[d]);
        v->dim_names[d] = NULL;
    }
    if (!tt->shape)
        return EML_OK;
    if (tt->shape->n_dim > EML_MAX_RANK)
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "unsupported: value '%s' has rank %zu (at most %d)", name,
                         tt->shape->n_dim, EML_MAX_RANK);
    v->rank = (int32_t)tt->shape->n_dim;
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        v->dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dim->dim_value < 0)
                return eml__diag(diag, EML_EGRAPH, "invalid graph: value '%s' has dim %lld", name,
                                 (long long)dim->dim_value);
            v->dims[d] = dim->dim_value;
        } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   dim->dim_param && dim->dim_param[0]) {
            v->dim_names[d] = eml__strdup(ld->env, dim->dim_param);
            if (!v->dim_names[d])
                return EML_ENOMEM;
        }
    }
    return EML_OK;
}

static eml_status need_name(eml_onnx_loader *ld, const char *name, const char *what, size_t index)
{
    if (name && name[0])
        return EML_OK;
    return eml__diag(ld->diag, EML_EGRAPH, "invalid graph: %s %zu has no name", what, index);
}

/* ---- graph inputs, initializers, outputs ---- */

static eml_status read_inputs(eml_onnx_loader *ld, const Onnx__GraphProto *gp, eml_graph *g)
{
    eml_status st = EML_OK;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        EML_TRY(need_name(ld, vi->name, "graph input", i));
        int32_t id;
        EML_TRY(eml__graph_value(g, vi->name, &id));
        if (g->values[id].flags & EML_VALUE_INPUT) {
            st = eml__diag(ld->diag, EML_EGRAPH, "invalid graph: input '%s' is listed twice",
                           vi->name);
            goto fail;
        }
        EML_TRY(eml__graph_add_input(g, id));
        EML_TRY(read_value_type(ld, g, id, vi->type));
    }
fail:
    return st;
}

/* An initializer is constant data; with the name of a graph input it is that input's default. */
static eml_status read_initializers(eml_onnx_loader *ld, const Onnx__GraphProto *gp, eml_graph *g)
{
    eml_status st = EML_OK;
    eml_tensor t = {0};
    char buf[2][128];
    if (gp->n_sparse_initializer) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[0];
        const char *name = sp->values && sp->values->name ? sp->values->name : "";
        return eml__diag(ld->diag, EML_EUNSUPPORTED, "unsupported: sparse initializer '%s'", name);
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        eml__onnx_mapping map;
        st = need_name(ld, tp->name, "initializer", i);
        if (st == EML_OK)
            st = eml__onnx_initializer_read(&ld->src, tp, tp->name, &t, &map);
        if (st != EML_OK)
            return st;
        eml_value tmp = {.data = t.data, .map_base = map.base, .map_bytes = map.bytes};
        t.data = NULL;
        int32_t id;
        st = eml__graph_value(g, tp->name, &id);
        if (st != EML_OK) {
            eml__value_free_data(ld->env, &tmp);
            return st;
        }
        eml_value *v = &g->values[id];
        if (v->flags & EML_VALUE_INITIALIZER) {
            st = eml__diag(ld->diag, EML_EGRAPH, "invalid graph: initializer '%s' is listed twice",
                           tp->name);
            eml__value_free_data(ld->env, &tmp);
            return st;
        }
        if (v->flags & EML_VALUE_INPUT) {
            /* the default must fit what the input declares */
            bool fits = v->dtype == EML_DTYPE_UNDEFINED || v->dtype == t.dtype;
            fits = fits && (v->rank < 0 || v->rank == t.rank);
            for (int32_t d = 0; fits && v->rank >= 0 && d < v->rank; d++)
                fits = v->dims[d] < 0 || v->dims[d] == t.dims[d];
            if (!fits) {
                st = eml__diag(ld->diag, EML_EGRAPH,
                               "invalid graph: input '%s' is declared %s but its initializer is "
                               "%s",
                               tp->name, eml__shape_str(buf[0], 128, v->dtype, v->dims, v->rank),
                               eml__shape_str(buf[1], 128, t.dtype, t.dims, t.rank));
                eml__value_free_data(ld->env, &tmp);
                return st;
            }
        }
        /* the value describes its data: the initializer's concrete shape wins */
        v->flags |= EML_VALUE_INITIALIZER;
        v->dtype = t.dtype;
        v->rank = t.rank;
        for (int d = 0; d < EML_MAX_RANK; d++) {
            v->dims[d] = d < t.rank ? t.dims[d] : 0;
            eml__free(ld->env, v->dim_names[d]);
            v->dim_names[d] = NULL;
        }
        v->data = tmp.data;
        v->map_base = tmp.map_base;
        v->map_bytes = tmp.map_bytes;
    }
    return st;
}

static eml_status read_outputs(eml_onnx_loader *ld, const Onnx__GraphProto *gp, eml_graph *g)
{
    eml_status st = EML_OK;
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        EML_TRY(need_name(ld, vi->name, "graph output", i));
        int32_t id;
        EML_TRY(eml__graph_value(g, vi->name, &id));
        EML_TRY(eml__graph_add_output(g, id));
        /* an output that is also an input or initializer keeps that declaration */
        if (!(g->values[id].flags & (EML_VALUE_INPUT | EML_VALUE_INITIALIZER)))
            EML_TRY(read_value_type(ld, g, id, vi->type));
    }
fail:
    return st;
}

/* ---- nodes ---- */

static void node_where(eml_onnx_loader *ld, const eml_node *n)
{
    eml__diag_where(ld->diag, NULL, n->name, n->op_type, n->opset, -1);
}

/* Finds the op, checks the opset and arity, and runs its prepare on a scratch params block so
 * that attribute errors are found at load time. */
static eml_status resolve_node(eml_onnx_loader *ld, eml_node *n)
{
    eml_diag *diag = ld->diag;
    bool any_op = (ld->flags & EML_ONNX_LOAD_ANY_OP) != 0;
    eml_op_id op = eml__op_find(n->domain, n->op_type);
    const eml_op_info *info = eml__op_info(op);
    if (!is_default_domain(n->domain) && !info) {
        if (any_op)
            return EML_OK;
        node_where(ld, n);
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "unsupported: %s (domain '%s' opset %d) at node '%s'", n->op_type,
                         n->domain, (int)n->opset, n->name);
    }
    if (n->opset <= 0) {
        if (any_op)
            return EML_OK;
        node_where(ld, n);
        return eml__diag(diag, EML_EGRAPH,
                         "invalid model: node '%s' (%s) uses domain '%s', which the model does "
                         "not import (opset_import)",
                         n->name, n->op_type, n->domain);
    }
    if (!info || n->opset < info->since) {
        if (any_op)
            return EML_OK;
        node_where(ld, n);
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: %s (opset %d) at node '%s'",
                         n->op_type, (int)n->opset, n->name);
    }
    bool in_ok = n->n_inputs >= info->min_inputs &&
                 (info->max_inputs < 0 || n->n_inputs <= info->max_inputs);
    bool out_ok = n->n_outputs >= info->min_outputs &&
                  (info->max_outputs < 0 || n->n_outputs <= info->max_outputs);
    if (!in_ok || !out_ok) {
        bool ins = !in_ok;
        int32_t lo = ins ? info->min_inputs : info->min_outputs;
        int32_t hi = ins ? info->max_inputs : info->max_outputs;
        char range[48];
        if (hi < 0)
            snprintf(range, sizeof(range), "at least %d", (int)lo);
        else if (hi == lo)
            snprintf(range, sizeof(range), "%d", (int)lo);
        else
            snprintf(range, sizeof(range), "%d to %d", (int)lo, (int)hi);
        node_where(ld, n);
        return eml__diag(diag, EML_EGRAPH, "%s (opset %d) at node '%s': %d %s, expected %s",
                         n->op_type, (int)n->opset, n->name,
                         (int)(ins ? n->n_inputs : n->n_outputs), ins ? "inputs" : "outputs",
                         range);
    }
    for (int32_t k = 0; k < info->min_inputs; k++) {
        if (n->inputs[k] < 0) {
            node_where(ld, n);
            return eml__diag(diag, EML_EGRAPH, "%s (opset %d) at node '%s': input %d is required",
                             n->op_type, (int)n->opset, n->name, (int)k);
        }
    }
    n->op = op;
    if (ld->flags & (EML_ONNX_LOAD_SKIP_PREPARE | EML_ONNX_LOAD_ANY_OP))
        return EML_OK;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    memset(params, 0, sizeof(params));
    eml_prepare_ctx ctx = {n, op, n->opset, params, diag};
    if (diag)
        diag->status = EML_OK;
    eml_status st = info->prepare(&ctx);
    if (st != EML_OK && (!diag || diag->status != st)) {
        node_where(ld, n);
        return eml__diag(diag, st, "%s (opset %d) at node '%s': %s", n->op_type, (int)n->opset,
                         n->name, eml_status_str(st));
    }
    return st;
}

static eml_status read_node(eml_onnx_loader *ld, eml_graph *g, const Onnx__NodeProto *np,
                            size_t index)
{
    eml_status st = EML_OK;
    const char *op_type = str_or_empty(np->op_type);
    if (!op_type[0])
        return eml__diag(ld->diag, EML_EGRAPH, "invalid graph: node %zu ('%s') has no op_type",
                         index, str_or_empty(np->name));
    char synth[96];
    const char *name = np->name;
    if (!name || !name[0]) {
        snprintf(synth, sizeof(synth), "%.64s_%zu", op_type, index);
        name = synth;
    }
    const char *domain = str_or_empty(np->domain);
    if (np->n_input > INT32_MAX || np->n_output > INT32_MAX || np->n_attribute > INT32_MAX)
        return eml__diag(ld->diag, EML_ELIMIT, "node '%s' has too many inputs", name);
    eml_node *n;
    EML_TRY(eml__graph_add_node(g, name, op_type, domain, (int32_t)np->n_input,
                                (int32_t)np->n_output, (int32_t)np->n_attribute, &n));
    int64_t opset = eml__graph_opset(g, domain);
    n->opset = (int32_t)EML_MIN(opset, INT32_MAX);
    for (size_t k = 0; k < np->n_input; k++) {
        if (np->input[k] && np->input[k][0])
            EML_TRY(eml__graph_value(g, np->input[k], &n->inputs[k]));
    }
    int32_t node_index = (int32_t)(g->n_nodes - 1);
    for (size_t k = 0; k < np->n_output; k++) {
        if (!np->output[k] || !np->output[k][0])
            continue;
        int32_t id;
        EML_TRY(eml__graph_value(g, np->output[k], &id));
        n->outputs[k] = id;
        /* the first producer is kept; eml__graph_verify reports a second one */
        eml_value *v = &g->values[id];
        if (v->producer < 0 && !(v->flags & (EML_VALUE_INPUT | EML_VALUE_INITIALIZER)))
            v->producer = node_index;
    }
    EML_TRY(eml__onnx_attrs_read(ld, g, n, np));
    EML_TRY(resolve_node(ld, n));
fail:
    return st;
}

/* ---- graphs ---- */

static eml_status fill_graph(eml_onnx_loader *ld, const Onnx__GraphProto *gp, eml_graph *g)
{
    eml_status st = EML_OK;
    g->name = eml__strdup(ld->env, str_or_empty(gp->name));
    if (!g->name)
        return EML_ENOMEM;
    EML_TRY(read_inputs(ld, gp, g));
    EML_TRY(read_initializers(ld, gp, g));
    EML_TRY(read_outputs(ld, gp, g));
    /* value_info only repeats shapes that inference finds again; it is not kept */
    for (size_t i = 0; i < gp->n_node; i++)
        EML_TRY(read_node(ld, g, gp->node[i], i));
fail:
    return st;
}

eml_status eml__onnx_import_graph(eml_onnx_loader *ld, const Onnx__GraphProto *gp,
                                  const eml_graph *parent, eml_graph **out)
{
    *out = NULL;
    if (ld->depth >= ONNX_MAX_GRAPH_DEPTH)
        return eml__diag(ld->diag, EML_ELIMIT, "subgraphs nested deeper than %d",
                         ONNX_MAX_GRAPH_DEPTH);
    eml_graph *g;
    eml_status st = eml__graph_create(ld->env, parent, &g);
    if (st != EML_OK)
        return st;
    ld->depth++;
    st = fill_graph(ld, gp, g);
    ld->depth--;
    if (st != EML_OK) {
        eml_graph_destroy(g);
        return st;
    }
    *out = g;
    return EML_OK;
}

/* A subgraph's name that none of its inputs, initializers or nodes defines refers to a value of
 * an enclosing graph when one defines it (checked once the whole model is built, so the order of
 * nodes in the file does not matter). */
static bool defined_in(const eml_graph *g, int32_t id)
{
    const eml_value *v = &g->values[id];
    return (v->flags & (EML_VALUE_INPUT | EML_VALUE_INITIALIZER | EML_VALUE_OUTER)) ||
           v->producer >= 0;
}

static void resolve_outer(eml_graph *g)
{
    if (g->parent) {
        for (size_t i = 0; i < g->n_values; i++) {
            eml_value *v = &g->values[i];
            if (defined_in(g, (int32_t)i))
                continue;
            for (const eml_graph *a = g->parent; a; a = a->parent) {
                int32_t id = eml__graph_find(a, v->name);
                if (id >= 0 && defined_in(a, id)) {
                    v->flags |= EML_VALUE_OUTER;
                    break;
                }
            }
        }
    }
    for (size_t n = 0; n < g->n_nodes; n++)
        for (int32_t a = 0; a < g->nodes[n].n_attrs; a++)
            if (g->nodes[n].attrs[a].g)
                resolve_outer(g->nodes[n].attrs[a].g);
}

/* ---- the model ---- */

static eml_status read_opsets(eml_onnx_loader *ld, const Onnx__ModelProto *m, eml_graph *g)
{
    eml_diag *diag = ld->diag;
    bool has_default = false;
    size_t n = m->n_opset_import;
    g->opsets = eml__calloc(ld->env, n + 1, sizeof(eml_opset_import));
    if (!g->opsets)
        return EML_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *domain = str_or_empty(o->domain);
        int64_t version = o->has_version ? o->version : 0;
        for (size_t j = 0; j < g->n_opsets; j++) {
            const char *d = g->opsets[j].domain;
            if (strcmp(d, domain) == 0 || (is_default_domain(d) && is_default_domain(domain)))
                return eml__diag(diag, EML_EGRAPH,
                                 "invalid model: opset_import lists domain '%s' twice", domain);
        }
        if (is_default_domain(domain)) {
            if (version < EML_ONNX_OPSET_MIN)
                return eml__diag(diag, EML_EGRAPH, "invalid model: default-domain opset %lld",
                                 (long long)version);
            if (version > EML_ONNX_OPSET_MAX)
                return eml__diag(diag, EML_EUNSUPPORTED,
                                 "unsupported: opset %lld (edgeml supports ONNX opsets %d-%d)",
                                 (long long)version, EML_ONNX_OPSET_MIN, EML_ONNX_OPSET_MAX);
            has_default = true;
        }
        g->opsets[g->n_opsets].domain = eml__strdup(ld->env, domain);
        if (!g->opsets[g->n_opsets].domain)
            return EML_ENOMEM;
        g->opsets[g->n_opsets++].version = version;
    }
    /* before IR version 3 models had no opset_import and meant opset 1 */
    if (!has_default && m->has_ir_version && m->ir_version < 3) {
        g->opsets[g->n_opsets].domain = eml__strdup(ld->env, "");
        if (!g->opsets[g->n_opsets].domain)
            return EML_ENOMEM;
        g->opsets[g->n_opsets++].version = 1;
    }
    return EML_OK;
}

static eml_status read_model(eml_onnx_loader *ld, const Onnx__ModelProto *m, eml_graph **out)
{
    eml_diag *diag = ld->diag;
    eml_status st = EML_OK;
    eml_graph *g = NULL;
    *out = NULL;
    if (m->n_functions) {
        const Onnx__FunctionProto *f = m->functions[0];
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "unsupported: model-local functions (function '%s' of domain '%s')",
                         str_or_empty(f->name), str_or_empty(f->domain));
    }
    if (m->n_training_info)
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "unsupported: training_info (a training algorithm stored in the model)");
    if (!m->graph)
        return eml__diag(diag, EML_ECORRUPT, "corrupt model: no graph");
    EML_TRY(eml__graph_create(ld->env, NULL, &g));
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    g->producer_name = eml__strdup(ld->env, str_or_empty(m->producer_name));
    g->producer_version = eml__strdup(ld->env, str_or_empty(m->producer_version));
    g->doc = eml__strdup(ld->env, str_or_empty(m->doc_string));
    if (!g->producer_name || !g->producer_version || !g->doc) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(read_opsets(ld, m, g));
    ld->depth = 1;
    st = fill_graph(ld, m->graph, g);
    ld->depth = 0;
    if (st != EML_OK)
        goto fail;
    resolve_outer(g);
    EML_TRY(eml__graph_verify(g, NULL, diag));
    *out = g;
    return EML_OK;
fail:
    eml_graph_destroy(g);
    return st;
}

/* The loader; when `owned` is given, *owned holds the bytes (env memory) and is freed as soon as
 * protobuf-c has copied what it needs, so a model file is never held three times over. */
static eml_status load_core(eml_env *env, const void *bytes, size_t n_bytes, void **owned,
                            const char *base_dir, const char *file, uint32_t flags,
                            eml_graph **out, eml_diag *diag)
{
    *out = NULL;
    eml_pb_allocator pa;
    eml__pb_allocator_init(&pa, env);
    ProtobufCMessage *msg = NULL;
    eml_onnx_loader ld = {env, diag, {env, base_dir, diag, 1}, flags, 0};
    if (diag)
        diag->status = EML_OK; /* so that a failure without a message can be told */
    eml_status st = eml__onnx_wire_check(bytes, n_bytes, EML_WIRE_MODEL, diag);
    if (st == EML_OK)
        st = eml__pb_unpack(&pa, &onnx__model_proto__descriptor, bytes, n_bytes, "model", &msg,
                            diag);
    if (owned) {
        eml__free(env, *owned);
        *owned = NULL;
    }
    if (st == EML_OK)
        st = read_model(&ld, (const Onnx__ModelProto *)msg, out);
    eml__pb_free(&pa, msg);
    if (st != EML_OK) {
        if (diag && diag->status != st) { /* a failure no message described yet */
            if (st == EML_ENOMEM)
                eml__diag(diag, st, "out of memory loading the model");
            else
                eml__diag(diag, st, "cannot load the model: %s", eml_status_str(st));
        }
        eml__diag_where(diag, file, NULL, NULL, 0, -1);
    }
    return st;
}

eml_status eml__onnx_load(eml_env *env, const void *bytes, size_t n_bytes, const char *base_dir,
                          const char *file, uint32_t flags, eml_graph **out, eml_diag *diag)
{
    *out = NULL;
    if (!env || (!bytes && n_bytes))
        return eml__diag(diag, EML_EINVAL, "invalid argument");
    return load_core(env, bytes, n_bytes, NULL, base_dir, file, flags, out, diag);
}

eml_status eml_graph_load_onnx_bytes(eml_env *env, const void *bytes, size_t n_bytes,
                                     const char *base_dir, eml_graph **out, eml_diag *diag)
{
    return eml__onnx_load(env, bytes, n_bytes, base_dir, NULL, 0, out, diag);
}

/* Reads a whole file into env memory, refusing what the env's limit would refuse anyway. */
static eml_status read_file(eml_env *env, const char *path, void **out, size_t *n_out,
                            eml_diag *diag)
{
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return eml__diag(diag, EML_EIO, "cannot open '%s': %s", path, strerror(errno));
    eml_status st = EML_OK;
    void *buf = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = eml__diag(diag, EML_EIO, "'%s' is not a regular file", path);
    } else if ((uint64_t)sb.st_size > eml_env_max_alloc_bytes(env)) {
        st = eml__diag(diag, EML_ELIMIT, "'%s' has %lld bytes, over the limit of %llu bytes", path,
                       (long long)sb.st_size, (unsigned long long)eml_env_max_alloc_bytes(env));
    } else if (!(buf = eml__alloc(env, (size_t)sb.st_size))) {
        st = EML_ENOMEM;
    } else if (sb.st_size && fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
        st = eml__diag(diag, EML_EIO, "cannot read '%s'", path);
    }
    fclose(f);
    if (st != EML_OK) {
        eml__free(env, buf);
        return st;
    }
    *out = buf;
    *n_out = (size_t)sb.st_size;
    return EML_OK;
}

eml_status eml_graph_load_onnx(eml_env *env, const char *path, eml_graph **out, eml_diag *diag)
{
    *out = NULL;
    if (!env || !path)
        return eml__diag(diag, EML_EINVAL, "invalid argument");
    void *bytes = NULL;
    size_t n = 0;
    char *dir = NULL;
    if (diag)
        diag->status = EML_OK;
    eml_status st = read_file(env, path, &bytes, &n, diag);
    if (st == EML_OK) {
        /* external data lives beside the model */
        const char *slash = strrchr(path, '/');
        dir = slash ? eml__strndup(env, path, slash == path ? 1 : (size_t)(slash - path))
                    : eml__strdup(env, ".");
        if (!dir)
            st = EML_ENOMEM;
    }
    if (st == EML_OK)
        st = load_core(env, bytes, n, &bytes, dir, path, 0, out, diag);
    if (st != EML_OK) {
        if (diag && diag->status != st)
            eml__diag(diag, st, "cannot load the model: %s", eml_status_str(st));
        eml__diag_where(diag, path, NULL, NULL, 0, -1);
    }
    eml__free(env, dir);
    eml__free(env, bytes);
    return st;
}
