/* Internal to src/formats: what the ONNX importer, exporter and .pb reader share — the wire
 * check, protobuf-c glue through the env, and TensorProto <-> eml_tensor conversion. */
#ifndef EML_FORMATS_ONNX_H
#define EML_FORMATS_ONNX_H

#include "core/core.h"
#include "graph/graph.h"
#include "onnx.pb-c.h"

/* ONNX stores raw_data little-endian; the readers and writers copy bytes as they are. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "edgeml's ONNX reader and writer assume a little-endian host"
#endif

/* Default-domain opsets this library implements. */
#define EML_ONNX_OPSET_MIN 1
#define EML_ONNX_OPSET_MAX 17

/* ---- protobuf-c through the env ---- */

/* A ProtobufCAllocator that takes memory from the env and remembers why an allocation failed, so
 * that a NULL from protobuf-c's unpack can be told apart: out of memory, over the env's limit, or
 * bytes protobuf-c refused. */
typedef struct eml_pb_allocator {
    ProtobufCAllocator base;
    eml_env *env;
    uint64_t refused_bytes; /* largest request over the env's limit; 0 when none */
    bool failed;            /* some allocation returned NULL */
} eml_pb_allocator;

void eml__pb_allocator_init(eml_pb_allocator *a, eml_env *env);

/* Unpacks a message of `desc` from bytes that passed eml__onnx_wire_check. `kind` names the thing
 * in messages ("model", "tensor"). Returns EML_OK, EML_ENOMEM, EML_ELIMIT or EML_ECORRUPT. */
eml_status eml__pb_unpack(eml_pb_allocator *a, const ProtobufCMessageDescriptor *desc,
                          const uint8_t *bytes, size_t n_bytes, const char *kind,
                          ProtobufCMessage **out, eml_diag *diag);
/* NULL is a no-op. */
void eml__pb_free(eml_pb_allocator *a, ProtobufCMessage *msg);

/* ---- onnx_wire.c: the wire-format walk done before unpacking ---- */

typedef enum eml_wire_root {
    EML_WIRE_MODEL = 0, /* a ModelProto (.onnx) */
    EML_WIRE_TENSOR = 1 /* a TensorProto (.pb) */
} eml_wire_root;

/* Walks every field of the message and of every nested message of the ONNX schema: varints end,
 * lengths stay inside their message, known fields have their wire type, nesting is bounded.
 * Files that are not protobuf at all (PNG, TFLite, zip...) get a message saying what they look
 * like. Returns EML_OK or EML_ECORRUPT with "corrupt <model|tensor>: <what> at byte offset N"
 * and diag->offset set. */
eml_status eml__onnx_wire_check(const uint8_t *bytes, size_t n_bytes, eml_wire_root root,
                                eml_diag *diag);

/* ---- onnx_tensor.c: TensorProto <-> eml_tensor ---- */

/* Where tensor bytes may come from. */
typedef struct eml_onnx_src {
    eml_env *env;
    const char *base_dir; /* folder of external data files; NULL refuses external data */
    eml_diag *diag;
    int map_external;     /* initializers may map their external data (see below) */
} eml_onnx_src;

/* A private file mapping holding an initializer's data (base NULL: none, the data was copied). */
typedef struct eml__onnx_mapping {
    void *base;
    size_t bytes;
} eml__onnx_mapping;

/* External data smaller than this is copied: a mapping costs at least a page. */
#define EML__ONNX_MAP_MIN_BYTES 4096

/* Maps an ONNX element type to eml_dtype. Strings, complex and unknown types give
 * EML_EUNSUPPORTED naming `what` ("unsupported: string tensors (value 'x')"). */
eml_status eml__onnx_dtype(int32_t onnx_type, const char *what, eml_dtype *out, eml_diag *diag);

/* Converts a TensorProto into `out`: dims and dtype checked, the size computed with overflow
 * checks and compared with the env's limit before allocating, the data (raw_data, a typed field or
 * external data) checked against that size exactly and copied into 64-byte aligned memory from
 * the env (owned by the caller, free with eml__free). `name` is used in messages.
 * Returns EML_OK, EML_ECORRUPT, EML_EUNSUPPORTED, EML_ELIMIT, EML_EIO, EML_ENOMEM. */
eml_status eml__onnx_tensor_read(const eml_onnx_src *src, const Onnx__TensorProto *tp,
                                 const char *name, eml_tensor *out);

/* eml__onnx_tensor_read for an initializer: when src->map_external is set, external data of at
 * least EML__ONNX_MAP_MIN_BYTES at an offset that suits its element size is mapped instead of
 * copied, and *map describes the mapping (out->data points into it; release with munmap). map may
 * be NULL (always copy). */
eml_status eml__onnx_initializer_read(const eml_onnx_src *src, const Onnx__TensorProto *tp,
                                      const char *name, eml_tensor *out, eml__onnx_mapping *map);

/* Fills a TensorProto (already initialised with onnx__tensor_proto__init) from t: data_type, dims
 * (written into dims_storage, EML_MAX_RANK entries, which must outlive tp), raw_data and name
 * borrowed. Returns EML_OK or EML_EINVAL (a dtype or shape ONNX files cannot hold). */
eml_status eml__onnx_tensor_fill(const eml_tensor *t, const char *name, int64_t *dims_storage,
                                 Onnx__TensorProto *tp);

/* ---- onnx_export.c ---- */

/* Packs a message straight into `path` through a temporary file in the same folder that is then
 * renamed over it, so that no reader ever sees a half-written file. Returns EML_OK or EML_EIO. */
eml_status eml__pb_write_file(const ProtobufCMessage *msg, const char *path, eml_diag *diag);

/* ---- onnx_import.c / onnx_attr.c ---- */

/* Load flags for tools and tests that look at a model's structure without running it. */
enum {
    EML_ONNX_LOAD_SKIP_PREPARE = 1, /* resolve ops and check arity, but call no prepare */
    EML_ONNX_LOAD_ANY_OP = 2        /* also keep ops and domains edgeml does not know
                                       (EML_OP_UNKNOWN); implies SKIP_PREPARE */
};

/* eml_graph_load_onnx_bytes with flags; `file` names the model in messages (may be NULL). */
eml_status eml__onnx_load(eml_env *env, const void *bytes, size_t n_bytes, const char *base_dir,
                          const char *file, uint32_t flags, eml_graph **out, eml_diag *diag);

typedef struct eml_onnx_loader {
    eml_env *env;
    eml_diag *diag;
    eml_onnx_src src;
    uint32_t flags;
    int depth; /* nesting of subgraphs */
} eml_onnx_loader;

/* Builds one graph (the model's, or a subgraph of an attribute with `parent`). */
eml_status eml__onnx_import_graph(eml_onnx_loader *ld, const Onnx__GraphProto *gp,
                                  const eml_graph *parent, eml_graph **out);

/* Converts the attributes of a NodeProto into node->attrs (node->n_attrs entries made by
 * eml__graph_add_node); `g` is the graph holding the node, parent of GRAPH attributes. */
eml_status eml__onnx_attrs_read(eml_onnx_loader *ld, eml_graph *g, eml_node *node,
                                const Onnx__NodeProto *np);

#endif
