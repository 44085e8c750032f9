/* A protobuf wire-format walker over the ONNX schema, run before protobuf-c's unpack so that a
 * truncated or damaged file is refused with what is wrong and the byte offset where it is. */
#include <stdio.h>

#include "formats/onnx.h"

/* Deeper nesting is refused: it bounds the recursion here and in protobuf-c's unpack, which
 * recurses only into the message fields this walk also enters. */
#define WIRE_MAX_DEPTH 64

/* clang-format off */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };
/* clang-format on */

typedef enum fkind {
    K_VARINT, /* int32/int64/uint64/enum, repeated ones may be packed */
    K_I32,    /* float */
    K_I64,    /* double */
    K_LEN,    /* string or bytes */
    K_MSG     /* a nested message of the schema */
} fkind;

/* clang-format off */
typedef enum msg_id {
    M_MODEL, M_GRAPH, M_NODE, M_ATTR, M_TENSOR, M_SEGMENT, M_SPARSE, M_VALUE_INFO, M_TYPE,
    M_TYPE_TENSOR, M_TYPE_SEQ, M_TYPE_MAP, M_TYPE_OPT, M_TYPE_SPARSE, M_SHAPE, M_DIM, M_OPSET,
    M_ENTRY, M_TRAINING, M_FUNCTION, M_ANNOTATION, M_COUNT
} msg_id;
/* clang-format on */

typedef struct wfield {
    uint32_t number;
    uint8_t kind; /* fkind */
    uint8_t repeated;
    uint8_t msg; /* msg_id when kind is K_MSG */
    const char *name;
} wfield;

typedef struct wmsg {
    const char *name;
    const wfield *fields;
    int n_fields;
} wmsg;

/* Field numbers from onnx.proto (ONNX 1.12). */
/* clang-format off */
#define F(num, kind, rep, msg, name) {num, kind, rep, msg, name}
#define MSG(id, name, arr) [id] = {name, arr, (int)(sizeof(arr) / sizeof(arr[0]))}

static const wfield model_fields[] = {
    F(1, K_VARINT, 0, 0, "ir_version"),      F(2, K_LEN, 0, 0, "producer_name"),
    F(3, K_LEN, 0, 0, "producer_version"),   F(4, K_LEN, 0, 0, "domain"),
    F(5, K_VARINT, 0, 0, "model_version"),   F(6, K_LEN, 0, 0, "doc_string"),
    F(7, K_MSG, 0, M_GRAPH, "graph"),        F(8, K_MSG, 1, M_OPSET, "opset_import"),
    F(14, K_MSG, 1, M_ENTRY, "metadata_props"), F(20, K_MSG, 1, M_TRAINING, "training_info"),
    F(25, K_MSG, 1, M_FUNCTION, "functions"),
};
static const wfield graph_fields[] = {
    F(1, K_MSG, 1, M_NODE, "node"),          F(2, K_LEN, 0, 0, "name"),
    F(5, K_MSG, 1, M_TENSOR, "initializer"), F(15, K_MSG, 1, M_SPARSE, "sparse_initializer"),
    F(10, K_LEN, 0, 0, "doc_string"),        F(11, K_MSG, 1, M_VALUE_INFO, "input"),
    F(12, K_MSG, 1, M_VALUE_INFO, "output"), F(13, K_MSG, 1, M_VALUE_INFO, "value_info"),
    F(14, K_MSG, 1, M_ANNOTATION, "quantization_annotation"),
};
static const wfield node_fields[] = {
    F(1, K_LEN, 1, 0, "input"),   F(2, K_LEN, 1, 0, "output"), F(3, K_LEN, 0, 0, "name"),
    F(4, K_LEN, 0, 0, "op_type"), F(7, K_LEN, 0, 0, "domain"),
    F(5, K_MSG, 1, M_ATTR, "attribute"), F(6, K_LEN, 0, 0, "doc_string"),
};
static const wfield attr_fields[] = {
    F(1, K_LEN, 0, 0, "name"),        F(21, K_LEN, 0, 0, "ref_attr_name"),
    F(13, K_LEN, 0, 0, "doc_string"), F(20, K_VARINT, 0, 0, "type"),
    F(2, K_I32, 0, 0, "f"),           F(3, K_VARINT, 0, 0, "i"),
    F(4, K_LEN, 0, 0, "s"),           F(5, K_MSG, 0, M_TENSOR, "t"),
    F(6, K_MSG, 0, M_GRAPH, "g"),     F(22, K_MSG, 0, M_SPARSE, "sparse_tensor"),
    F(14, K_MSG, 0, M_TYPE, "tp"),    F(7, K_I32, 1, 0, "floats"),
    F(8, K_VARINT, 1, 0, "ints"),     F(9, K_LEN, 1, 0, "strings"),
    F(10, K_MSG, 1, M_TENSOR, "tensors"), F(11, K_MSG, 1, M_GRAPH, "graphs"),
    F(23, K_MSG, 1, M_SPARSE, "sparse_tensors"), F(15, K_MSG, 1, M_TYPE, "type_protos"),
};
static const wfield tensor_fields[] = {
    F(1, K_VARINT, 1, 0, "dims"),        F(2, K_VARINT, 0, 0, "data_type"),
    F(3, K_MSG, 0, M_SEGMENT, "segment"), F(4, K_I32, 1, 0, "float_data"),
    F(5, K_VARINT, 1, 0, "int32_data"),  F(6, K_LEN, 1, 0, "string_data"),
    F(7, K_VARINT, 1, 0, "int64_data"),  F(8, K_LEN, 0, 0, "name"),
    F(12, K_LEN, 0, 0, "doc_string"),    F(9, K_LEN, 0, 0, "raw_data"),
    F(13, K_MSG, 1, M_ENTRY, "external_data"), F(14, K_VARINT, 0, 0, "data_location"),
    F(10, K_I64, 1, 0, "double_data"),   F(11, K_VARINT, 1, 0, "uint64_data"),
};
static const wfield segment_fields[] = {
    F(1, K_VARINT, 0, 0, "begin"), F(2, K_VARINT, 0, 0, "end"),
};
static const wfield sparse_fields[] = {
    F(1, K_MSG, 0, M_TENSOR, "values"), F(2, K_MSG, 0, M_TENSOR, "indices"),
    F(3, K_VARINT, 1, 0, "dims"),
};
static const wfield value_info_fields[] = {
    F(1, K_LEN, 0, 0, "name"), F(2, K_MSG, 0, M_TYPE, "type"), F(3, K_LEN, 0, 0, "doc_string"),
};
static const wfield type_fields[] = {
    F(1, K_MSG, 0, M_TYPE_TENSOR, "tensor_type"), F(4, K_MSG, 0, M_TYPE_SEQ, "sequence_type"),
    F(5, K_MSG, 0, M_TYPE_MAP, "map_type"),       F(9, K_MSG, 0, M_TYPE_OPT, "optional_type"),
    F(8, K_MSG, 0, M_TYPE_SPARSE, "sparse_tensor_type"), F(6, K_LEN, 0, 0, "denotation"),
};
static const wfield type_tensor_fields[] = {
    F(1, K_VARINT, 0, 0, "elem_type"), F(2, K_MSG, 0, M_SHAPE, "shape"),
};
static const wfield type_seq_fields[] = {
    F(1, K_MSG, 0, M_TYPE, "elem_type"),
};
static const wfield type_map_fields[] = {
    F(1, K_VARINT, 0, 0, "key_type"), F(2, K_MSG, 0, M_TYPE, "value_type"),
};
static const wfield shape_fields[] = {
    F(1, K_MSG, 1, M_DIM, "dim"),
};
static const wfield dim_fields[] = {
    F(1, K_VARINT, 0, 0, "dim_value"), F(2, K_LEN, 0, 0, "dim_param"),
    F(3, K_LEN, 0, 0, "denotation"),
};
static const wfield opset_fields[] = {
    F(1, K_LEN, 0, 0, "domain"), F(2, K_VARINT, 0, 0, "version"),
};
static const wfield entry_fields[] = {
    F(1, K_LEN, 0, 0, "key"), F(2, K_LEN, 0, 0, "value"),
};
static const wfield training_fields[] = {
    F(1, K_MSG, 0, M_GRAPH, "initialization"), F(2, K_MSG, 0, M_GRAPH, "algorithm"),
    F(3, K_MSG, 1, M_ENTRY, "initialization_binding"), F(4, K_MSG, 1, M_ENTRY, "update_binding"),
};
static const wfield function_fields[] = {
    F(1, K_LEN, 0, 0, "name"),       F(4, K_LEN, 1, 0, "input"),
    F(5, K_LEN, 1, 0, "output"),     F(6, K_LEN, 1, 0, "attribute"),
    F(7, K_MSG, 1, M_NODE, "node"),  F(8, K_LEN, 0, 0, "doc_string"),
    F(9, K_MSG, 1, M_OPSET, "opset_import"), F(10, K_LEN, 0, 0, "domain"),
};
static const wfield annotation_fields[] = {
    F(1, K_LEN, 0, 0, "tensor_name"), F(2, K_MSG, 1, M_ENTRY, "quant_parameter_tensor_names"),
};

static const wmsg schema[M_COUNT] = {
    MSG(M_MODEL, "ModelProto", model_fields),
    MSG(M_GRAPH, "GraphProto", graph_fields),
    MSG(M_NODE, "NodeProto", node_fields),
    MSG(M_ATTR, "AttributeProto", attr_fields),
    MSG(M_TENSOR, "TensorProto", tensor_fields),
    MSG(M_SEGMENT, "Segment", segment_fields),
    MSG(M_SPARSE, "SparseTensorProto", sparse_fields),
    MSG(M_VALUE_INFO, "ValueInfoProto", value_info_fields),
    MSG(M_TYPE, "TypeProto", type_fields),
    MSG(M_TYPE_TENSOR, "TypeProto.Tensor", type_tensor_fields),
    MSG(M_TYPE_SEQ, "TypeProto.Sequence", type_seq_fields),
    MSG(M_TYPE_MAP, "TypeProto.Map", type_map_fields),
    MSG(M_TYPE_OPT, "TypeProto.Optional", type_seq_fields),
    MSG(M_TYPE_SPARSE, "TypeProto.SparseTensor", type_tensor_fields),
    MSG(M_SHAPE, "TensorShapeProto", shape_fields),
    MSG(M_DIM, "Dimension", dim_fields),
    MSG(M_OPSET, "OperatorSetIdProto", opset_fields),
    MSG(M_ENTRY, "StringStringEntryProto", entry_fields),
    MSG(M_TRAINING, "TrainingInfoProto", training_fields),
    MSG(M_FUNCTION, "FunctionProto", function_fields),
    MSG(M_ANNOTATION, "TensorAnnotation", annotation_fields),
};
/* clang-format on */

#define MAX_FIELDS 20

/* One message being walked; `up` links to the enclosing one for the path in messages. */
typedef struct frame {
    const struct frame *up;
    const wmsg *msg;
    const wfield *via; /* field of the enclosing message that holds this one */
    uint32_t index;    /* occurrence of `via` in the enclosing message */
    uint32_t seen[MAX_FIELDS];
    int depth;
} frame;

typedef struct walker {
    const uint8_t *base;
    const char *kind; /* "model" or "tensor" */
    eml_diag *diag;
} walker;

/* "graph.node[3].attribute[0]" — the root message is named only when nothing encloses; a deep
 * path keeps its first and last elements. */
static void path_str(const frame *f, char *buf, size_t cap)
{
    const frame *chain[WIRE_MAX_DEPTH + 2];
    int n = 0;
    for (const frame *p = f; p && n < WIRE_MAX_DEPTH + 2; p = p->up)
        chain[n++] = p;
    size_t len = 0;
    buf[0] = 0;
    if (n == 1) {
        snprintf(buf, cap, "%s", f->msg->name);
        return;
    }
    /* chain[n - 1] is the root; elements are chain[n - 2] (outermost) .. chain[0] */
    int elems = n - 1;
    for (int e = 0; e < elems && len < cap; e++) {
        if (elems > 8 && e == 3) {
            len += (size_t)snprintf(buf + len, cap - len, ".(%d more)", elems - 7);
            e = elems - 5;
            continue;
        }
        const frame *p = chain[n - 2 - e];
        int w = p->via->repeated
                    ? snprintf(buf + len, cap - len, "%s%s[%u]", len ? "." : "", p->via->name,
                               (unsigned)p->index)
                    : snprintf(buf + len, cap - len, "%s%s", len ? "." : "", p->via->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static eml_status wire_error(const walker *w, const frame *f, const uint8_t *at, const char *what)
{
    char path[256];
    path_str(f, path, sizeof(path));
    int64_t offset = (int64_t)(at - w->base);
    eml__diag_where(w->diag, NULL, NULL, NULL, 0, offset);
    return eml__diag(w->diag, EML_ECORRUPT, "corrupt %s: %s in %s at byte offset %lld", w->kind,
                     what, path, (long long)offset);
}

/* Reads a varint; false when it does not end inside [p, end) within 10 bytes. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (*p + i >= end)
            return false;
        uint8_t b = (*p)[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *p += i + 1;
            *out = v;
            return true;
        }
    }
    return false;
}

static const wfield *find_field(const wmsg *m, uint32_t number, int *index)
{
    for (int i = 0; i < m->n_fields; i++) {
        if (m->fields[i].number == number) {
            *index = i;
            return &m->fields[i];
        }
    }
    return NULL;
}

static const char *wire_type_name(int wt)
{
    static const char *const names[] = {
        "varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32", "6", "7"};
    return names[wt & 7];
}

static eml_status walk(const walker *w, frame *f, const uint8_t *p, const uint8_t *end);

/* Checks a packed repeated field's payload [p, end). */
static eml_status walk_packed(const walker *w, const frame *f, const wfield *fd, const uint8_t *p,
                              const uint8_t *end)
{
    char what[160];
    size_t len = (size_t)(end - p);
    if (fd->kind == K_I32 || fd->kind == K_I64) {
        size_t unit = fd->kind == K_I32 ? 4 : 8;
        if (len % unit != 0) {
            snprintf(what, sizeof(what), "packed field '%s' has %zu bytes, not a multiple of %zu",
                     fd->name, len, unit);
            return wire_error(w, f, p, what);
        }
        return EML_OK;
    }
    while (p < end) {
        uint64_t v;
        const uint8_t *at = p;
        if (!read_varint(&p, end, &v)) {
            snprintf(what, sizeof(what), "bad varint inside packed field '%s'", fd->name);
            return wire_error(w, f, at, what);
        }
    }
    return EML_OK;
}

/* Walks one field whose tag has been read; *pp points after the tag. */
static eml_status walk_field(const walker *w, frame *f, const uint8_t *tag_at, uint32_t number,
                             int wt, const uint8_t **pp, const uint8_t *end)
{
    char what[200];
    int fi = -1;
    const wfield *fd = find_field(f->msg, number, &fi);
    const uint8_t *p = *pp;
    uint64_t v;
    if (fd) {
        bool ok;
        switch ((fkind)fd->kind) {
        case K_VARINT:
            ok = wt == WT_VARINT || (fd->repeated && wt == WT_LEN);
            break;
        case K_I32:
            ok = wt == WT_I32 || (fd->repeated && wt == WT_LEN);
            break;
        case K_I64:
            ok = wt == WT_I64 || (fd->repeated && wt == WT_LEN);
            break;
        default:
            ok = wt == WT_LEN;
            break;
        }
        if (!ok) {
            snprintf(what, sizeof(what), "field '%s' (%u) has wire type %s", fd->name,
                     (unsigned)number, wire_type_name(wt));
            return wire_error(w, f, tag_at, what);
        }
    }
    const char *fname = fd ? fd->name : "unknown";
    switch (wt) {
    case WT_VARINT:
        if (!read_varint(&p, end, &v)) {
            snprintf(what, sizeof(what), "truncated or overlong varint of field '%s' (%u)", fname,
                     (unsigned)number);
            return wire_error(w, f, *pp, what);
        }
        break;
    case WT_I64:
    case WT_I32: {
        size_t unit = wt == WT_I64 ? 8 : 4;
        if ((size_t)(end - p) < unit) {
            snprintf(what, sizeof(what), "truncated %s field '%s' (%u)", wire_type_name(wt), fname,
                     (unsigned)number);
            return wire_error(w, f, tag_at, what);
        }
        p += unit;
        break;
    }
    case WT_LEN: {
        const uint8_t *len_at = p;
        if (!read_varint(&p, end, &v)) {
            snprintf(what, sizeof(what), "truncated length of field '%s' (%u)", fname,
                     (unsigned)number);
            return wire_error(w, f, len_at, what);
        }
        size_t left = (size_t)(end - p);
        if (v > left) {
            snprintf(what, sizeof(what),
                     "length %llu of field '%s' (%u) runs past the end (%zu bytes left)",
                     (unsigned long long)v, fname, (unsigned)number, left);
            return wire_error(w, f, len_at, what);
        }
        const uint8_t *payload_end = p + v;
        if (fd && fd->kind == K_MSG) {
            if (f->depth + 1 > WIRE_MAX_DEPTH) {
                snprintf(what, sizeof(what), "messages nested deeper than %d", WIRE_MAX_DEPTH);
                return wire_error(w, f, tag_at, what);
            }
            frame sub;
            memset(&sub, 0, sizeof(sub));
            sub.up = f;
            sub.msg = &schema[fd->msg];
            sub.via = fd;
            sub.index = f->seen[fi];
            sub.depth = f->depth + 1;
            eml_status st = walk(w, &sub, p, payload_end);
            if (st != EML_OK)
                return st;
        } else if (fd && fd->kind != K_LEN) {
            eml_status st = walk_packed(w, f, fd, p, payload_end);
            if (st != EML_OK)
                return st;
        }
        p = payload_end;
        break;
    }
    default:
        /* groups are not part of the ONNX schema, and protobuf-c refuses them too */
        snprintf(what, sizeof(what), "invalid wire type %d of field %u", wt, (unsigned)number);
        return wire_error(w, f, tag_at, what);
    }
    if (fd && f->seen[fi] < UINT32_MAX)
        f->seen[fi]++;
    *pp = p;
    return EML_OK;
}

static eml_status walk(const walker *w, frame *f, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        const uint8_t *tag_at = p;
        uint64_t tag;
        if (!read_varint(&p, end, &tag))
            return wire_error(w, f, tag_at, "truncated field tag");
        uint32_t number = (uint32_t)(tag >> 3);
        int wt = (int)(tag & 7);
        if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
            char what[80];
            snprintf(what, sizeof(what), "invalid field number %llu",
                     (unsigned long long)(tag >> 3));
            return wire_error(w, f, tag_at, what);
        }
        eml_status st = walk_field(w, f, tag_at, number, wt, &p, end);
        if (st != EML_OK)
            return st;
    }
    return EML_OK;
}

/* Recognizes common files that are not ONNX, for a message that says what was given. */
static const char *looks_like(const uint8_t *b, size_t n)
{
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "a PNG image";
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return "a JPEG image";
    if (n >= 8 && memcmp(b + 4, "TFL3", 4) == 0)
        return "a TFLite model";
    if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return "a zip archive (a PyTorch .pt file?)";
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0)
        return "a NumPy .npy file";
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return "a gzip file";
    if (n >= 4 && memcmp(b, "\x89HDF", 4) == 0)
        return "an HDF5 file (a Keras .h5 model?)";
    if (n >= 4 && memcmp(b,
                         "\x7f"
                         "ELF",
                         4) == 0)
        return "an ELF executable";
    if (n >= 1 && (b[0] == '{' || b[0] == '<' || b[0] == '#'))
        return "a text file";
    return NULL;
}

/* The walk of one root message, without the "not protobuf" guesses. */
static eml_status walk_root(const uint8_t *bytes, size_t n_bytes, eml_wire_root root,
                            const char *kind, eml_diag *diag)
{
    walker w = {bytes, kind, diag};
    frame top;
    memset(&top, 0, sizeof(top));
    top.msg = &schema[root == EML_WIRE_MODEL ? M_MODEL : M_TENSOR];
    return walk(&w, &top, bytes, bytes + n_bytes);
}

/* True when the first tag is a field of the root message with its wire type: a file that is not
 * protobuf at all rarely starts that way. */
static bool starts_like(const uint8_t *bytes, size_t n_bytes, eml_wire_root root)
{
    const wmsg *m = &schema[root == EML_WIRE_MODEL ? M_MODEL : M_TENSOR];
    const uint8_t *p = bytes;
    uint64_t tag;
    int fi;
    if (!read_varint(&p, bytes + n_bytes, &tag))
        return false;
    const wfield *fd = find_field(m, (uint32_t)(tag >> 3), &fi);
    int wt = (int)(tag & 7);
    return fd && ((fd->kind == K_VARINT && wt == WT_VARINT) ||
                  (fd->kind >= K_LEN && wt == WT_LEN) || (fd->repeated && wt == WT_LEN) ||
                  (fd->kind == K_I32 && wt == WT_I32) || (fd->kind == K_I64 && wt == WT_I64));
}

eml_status eml__onnx_wire_check(const uint8_t *bytes, size_t n_bytes, eml_wire_root root,
                                eml_diag *diag)
{
    const char *kind = root == EML_WIRE_MODEL ? "model" : "tensor";
    const char *expected = root == EML_WIRE_MODEL ? "an ONNX model (protobuf ModelProto)"
                                                  : "an ONNX tensor (protobuf TensorProto)";
    eml_wire_root other = root == EML_WIRE_MODEL ? EML_WIRE_TENSOR : EML_WIRE_MODEL;
    const char *other_is = root == EML_WIRE_MODEL ? "an ONNX TensorProto (a .pb tensor file)"
                                                  : "an ONNX model (ModelProto)";
    if (n_bytes == 0) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 0);
        return eml__diag(diag, EML_ECORRUPT, "corrupt %s: empty file, expected %s", kind, expected);
    }
    const char *what_is = looks_like(bytes, n_bytes);
    if (what_is) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 0);
        return eml__diag(diag, EML_ECORRUPT, "not %s: the bytes look like %s", expected, what_is);
    }
    bool starts_ok = starts_like(bytes, n_bytes, root);
    eml_status st = starts_ok ? walk_root(bytes, n_bytes, root, kind, diag) : EML_ECORRUPT;
    if (st == EML_OK)
        return EML_OK;
    /* a tensor file given as a model (or the reverse) is a common slip: say so */
    if (starts_like(bytes, n_bytes, other) &&
        walk_root(bytes, n_bytes, other, kind, NULL) == EML_OK) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 0);
        return eml__diag(diag, EML_ECORRUPT, "not %s: the bytes are %s", expected, other_is);
    }
    if (!starts_ok) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 0);
        return eml__diag(diag, EML_ECORRUPT,
                         "not %s: it starts with bytes %02x %02x %02x %02x, which are not a "
                         "field of %s",
                         expected, bytes[0], n_bytes > 1 ? bytes[1] : 0, n_bytes > 2 ? bytes[2] : 0,
                         n_bytes > 3 ? bytes[3] : 0,
                         root == EML_WIRE_MODEL ? "ModelProto" : "TensorProto");
    }
    return st;
}
