/* ONNX AttributeProto -> eml_attr, including GRAPH attributes, which become subgraphs. */
#include <stdarg.h>
#include <stdio.h>

#include "formats/onnx.h"

static const char *attr_type_name(int type)
{
    static const char *const names[] = {
        "UNDEFINED",      "FLOAT",      "INT",        "STRING",  "TENSOR", "GRAPH",
        "FLOATS",         "INTS",       "STRINGS",    "TENSORS", "GRAPHS", "SPARSE_TENSOR",
        "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
    return type >= 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "unknown";
}

/* "<op> (opset N) at node '<name>': <detail>", prefixed with "unsupported: " for that status. */
static eml_status attr_error(eml_onnx_loader *ld, const eml_node *n, eml_status st, const char *fmt,
                             ...) EML_PRINTF(4, 5);
static eml_status attr_error(eml_onnx_loader *ld, const eml_node *n, eml_status st, const char *fmt,
                             ...)
{
    if (!ld->diag)
        return st;
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    eml__diag_where(ld->diag, NULL, n->name, n->op_type, n->opset, -1);
    return eml__diag(ld->diag, st, "%s%s (opset %d) at node '%s': %s",
                     st == EML_EUNSUPPORTED ? "unsupported: " : "", n->op_type, (int)n->opset,
                     n->name, detail);
}

/* Attributes written before AttributeProto.type existed say their type by the field they set. */
static int guess_type(const Onnx__AttributeProto *ap)
{
    if (ap->has_f)
        return EML_ATTR_FLOAT;
    if (ap->has_i)
        return EML_ATTR_INT;
    if (ap->has_s)
        return EML_ATTR_STRING;
    if (ap->t)
        return EML_ATTR_TENSOR;
    if (ap->g)
        return EML_ATTR_GRAPH;
    if (ap->n_floats)
        return EML_ATTR_FLOATS;
    if (ap->n_ints)
        return EML_ATTR_INTS;
    if (ap->n_strings)
        return EML_ATTR_STRINGS;
    return EML_ATTR_UNDEFINED;
}

static eml_status read_attr(eml_onnx_loader *ld, eml_graph *g, const eml_node *n,
                            const Onnx__AttributeProto *ap, eml_attr *a)
{
    eml_env *env = ld->env;
    int type = ap->has_type ? (int)ap->type : guess_type(ap);
    a->type = (eml_attr_type)type;
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return attr_error(ld, n, EML_EUNSUPPORTED,
                          "attribute '%s' refers to a function attribute ('%s')", a->name,
                          ap->ref_attr_name);
    switch (type) {
    case EML_ATTR_FLOAT:
        a->f = ap->f;
        return EML_OK;
    case EML_ATTR_INT:
        a->i = ap->i;
        return EML_OK;
    case EML_ATTR_STRING:
        a->s = eml__strndup(env, (const char *)ap->s.data, ap->s.len);
        a->s_len = ap->s.len;
        return a->s ? EML_OK : EML_ENOMEM;
    case EML_ATTR_FLOATS:
        a->floats = eml__calloc(env, EML_MAX(ap->n_floats, 1), sizeof(float));
        if (!a->floats)
            return EML_ENOMEM;
        if (ap->n_floats)
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        a->count = ap->n_floats;
        return EML_OK;
    case EML_ATTR_INTS:
        a->ints = eml__calloc(env, EML_MAX(ap->n_ints, 1), sizeof(int64_t));
        if (!a->ints)
            return EML_ENOMEM;
        if (ap->n_ints)
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        a->count = ap->n_ints;
        return EML_OK;
    case EML_ATTR_STRINGS:
        a->strings = eml__calloc(env, EML_MAX(ap->n_strings, 1), sizeof(char *));
        if (!a->strings)
            return EML_ENOMEM;
        a->count = ap->n_strings; /* set first: destroy frees the entries made so far */
        for (size_t i = 0; i < ap->n_strings; i++) {
            a->strings[i] =
                eml__strndup(env, (const char *)ap->strings[i].data, ap->strings[i].len);
            if (!a->strings[i])
                return EML_ENOMEM;
        }
        return EML_OK;
    case EML_ATTR_TENSOR: {
        if (!ap->t)
            return attr_error(ld, n, EML_EGRAPH, "attribute '%s' of type TENSOR has no tensor",
                              a->name);
        char what[200];
        if (ap->t->name && ap->t->name[0])
            snprintf(what, sizeof(what), "%s", ap->t->name);
        else
            snprintf(what, sizeof(what), "%s.%s", n->name, a->name);
        eml_status st = eml__onnx_tensor_read(&ld->src, ap->t, what, &a->t);
        if (st != EML_OK)
            eml__diag_where(ld->diag, NULL, n->name, n->op_type, n->opset, -1);
        return st;
    }
    case EML_ATTR_GRAPH:
        if (!ap->g)
            return attr_error(ld, n, EML_EGRAPH, "attribute '%s' of type GRAPH has no graph",
                              a->name);
        return eml__onnx_import_graph(ld, ap->g, g, &a->g);
    case EML_ATTR_UNDEFINED:
        return attr_error(ld, n, EML_EGRAPH, "attribute '%s' has no type and no value", a->name);
    default:
        /* TENSORS, GRAPHS, sparse tensors and type protos: no supported op takes them */
        return attr_error(ld, n, EML_EUNSUPPORTED, "attribute '%s' of type %s", a->name,
                          attr_type_name(type));
    }
}

eml_status eml__onnx_attrs_read(eml_onnx_loader *ld, eml_graph *g, eml_node *node,
                                const Onnx__NodeProto *np)
{
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *ap = np->attribute[i];
        eml_attr *a = &node->attrs[i];
        if (!ap->name || !ap->name[0])
            return attr_error(ld, node, EML_EGRAPH, "attribute %zu has no name", i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(node->attrs[j].name, ap->name) == 0)
                return attr_error(ld, node, EML_EGRAPH, "attribute '%s' is given twice", ap->name);
        }
        a->name = eml__strdup(ld->env, ap->name);
        if (!a->name)
            return EML_ENOMEM;
        eml_status st = read_attr(ld, g, node, ap, a);
        if (st != EML_OK)
            return st;
    }
    return EML_OK;
}
