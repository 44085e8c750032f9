/* ONNX TensorProto files (.pb, the backend tests' input_N.pb/output_N.pb): one tensor each. */
#include <stdio.h>

#include "edgeml/io.h"
#include "formats/onnx.h"

eml_status eml_tensor_read_pb(eml_env *env, const void *bytes, size_t n_bytes, eml_tensor *out,
                              char *name, size_t name_cap, eml_diag *diag)
{
    if (out)
        memset(out, 0, sizeof(*out));
    if (name && name_cap)
        name[0] = 0;
    if (!env || !out || (!bytes && n_bytes))
        return eml__diag(diag, EML_EINVAL, "invalid argument");
    if (diag)
        diag->status = EML_OK;
    eml_pb_allocator pa;
    eml__pb_allocator_init(&pa, env);
    ProtobufCMessage *msg = NULL;
    eml_status st = eml__onnx_wire_check(bytes, n_bytes, EML_WIRE_TENSOR, diag);
    if (st == EML_OK)
        st = eml__pb_unpack(&pa, &onnx__tensor_proto__descriptor, bytes, n_bytes, "tensor", &msg,
                            diag);
    if (st == EML_OK) {
        const Onnx__TensorProto *tp = (const Onnx__TensorProto *)msg;
        const char *tname = tp->name ? tp->name : "";
        /* a lone tensor file has no folder for external data */
        eml_onnx_src src = {env, NULL, diag, 0};
        st = eml__onnx_tensor_read(&src, tp, tname, out);
        if (st == EML_OK && name && name_cap)
            snprintf(name, name_cap, "%s", tname);
    }
    eml__pb_free(&pa, msg);
    if (st != EML_OK && diag && diag->status != st)
        eml__diag(diag, st,
                  st == EML_ENOMEM ? "out of memory reading a tensor"
                                   : "cannot read the tensor: %s",
                  eml_status_str(st));
    return st;
}

eml_status eml_tensor_write_pb(eml_env *env, const eml_tensor *t, const char *name,
                               const char *path, eml_diag *diag)
{
    (void)env; /* nothing is allocated: the tensor's bytes are packed as they are */
    if (!t || !path)
        return eml__diag(diag, EML_EINVAL, "invalid argument");
    Onnx__TensorProto tp;
    int64_t dims[EML_MAX_RANK];
    onnx__tensor_proto__init(&tp);
    if (eml__onnx_tensor_fill(t, name, dims, &tp) != EML_OK) {
        char shape[160];
        return eml__diag(diag, EML_EINVAL, "tensor %s cannot be written as a TensorProto",
                         eml__shape_str(shape, sizeof(shape), t->dtype, t->dims,
                                        EML_MAX(0, EML_MIN(t->rank, EML_MAX_RANK))));
    }
    eml_status st = eml__pb_write_file(&tp.base, path, diag);
    if (st != EML_OK)
        eml__diag_where(diag, path, NULL, NULL, 0, -1);
    return st;
}
