/* Prepare (parsing the equation) and infer for Einsum (ONNX opset 12). */
#include "graph/graph.h"
#include "kernels/ref/matmul.h"

/* Label codes: a-z are 0..25, A-Z 26..51 (numpy takes both cases; ONNX names lower case). */
static int label_of(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + (c - 'A');
    return -1;
}

/* Parses one term [s, end) into out; returns its length, or -1 with *err set. */
static int parse_term(const char *s, const char *end, int8_t *out, const char **err)
{
    int len = 0, letters = 0;
    bool ell = false;
    while (s < end) {
        if (*s == '.') {
            if (end - s < 3 || s[1] != '.' || s[2] != '.') {
                *err = "a '.' that is not part of '...'";
                return -1;
            }
            if (ell) {
                *err = "two ellipses in one term";
                return -1;
            }
            ell = true;
            out[len++] = EML_EINSUM_ELLIPSIS;
            s += 3;
            continue;
        }
        int l = label_of(*s);
        if (l < 0) {
            *err = "a character that is not a letter, ',', '->' or '...'";
            return -1;
        }
        if (++letters > EML_MAX_RANK) {
            *err = "a term with more letters than a tensor may have dims";
            return -1;
        }
        out[len++] = (int8_t)l;
        s++;
    }
    return len;
}

eml_status eml__einsum_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"equation", NULL};
    eml_einsum_params *p = EML_PARAMS(ctx, eml_einsum_params);
    eml_status st;
    const char *eq;
    EML_TRY(eml__attr_only(ctx, known));
    EML_TRY(eml__attr_string(ctx, "equation", NULL, &eq));
    if (!eq)
        return eml__bad_attr(ctx, "attribute 'equation' is missing");
    /* spaces are allowed anywhere; drop them */
    char buf[512];
    size_t n = 0;
    for (const char *c = eq; *c; c++) {
        if (*c == ' ')
            continue;
        if (n + 1 >= sizeof(buf))
            return eml__unsupported(ctx, "an equation longer than %zu characters", sizeof(buf) - 1);
        buf[n++] = *c;
    }
    buf[n] = '\0';
    const char *arrow = strstr(buf, "->");
    const char *lhs_end = arrow ? arrow : buf + n;
    if (arrow && strstr(arrow + 2, "->"))
        return eml__bad_attr(ctx, "equation '%s' has two '->'", eq);
    const char *err = NULL;
    int count[EML_EINSUM_LETTERS] = {0};
    bool any_ell = false;
    for (const char *s = buf;; ) {
        const char *comma = memchr(s, ',', (size_t)(lhs_end - s));
        const char *term_end = comma ? comma : lhs_end;
        if (p->n_operands >= EML_EINSUM_MAX_OPERANDS)
            return eml__unsupported(ctx, "more than %d operands", EML_EINSUM_MAX_OPERANDS);
        int k = p->n_operands++;
        int len = parse_term(s, term_end, p->terms[k], &err);
        if (len < 0)
            return eml__bad_attr(ctx, "equation '%s': %s", eq, err);
        p->term_len[k] = (int8_t)len;
        for (int t = 0; t < len; t++) {
            if (p->terms[k][t] == EML_EINSUM_ELLIPSIS)
                any_ell = true;
            else
                count[p->terms[k][t]]++;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    if (ctx->node->n_inputs != p->n_operands)
        return eml__bad_attr(ctx, "equation '%s' has %d operands but the node %d inputs", eq,
                             (int)p->n_operands, (int)ctx->node->n_inputs);
    if (arrow) {
        int len = parse_term(arrow + 2, buf + n, p->out, &err);
        if (len < 0)
            return eml__bad_attr(ctx, "equation '%s': %s", eq, err);
        bool seen[EML_EINSUM_LETTERS] = {false};
        for (int t = 0; t < len; t++) {
            int l = p->out[t];
            if (l == EML_EINSUM_ELLIPSIS)
                continue;
            if (count[l] == 0 || seen[l])
                return eml__bad_attr(ctx, "equation '%s': output letter '%c' %s", eq,
                                     l < 26 ? 'a' + l : 'A' + (l - 26),
                                     seen[l] ? "repeats" : "is in no operand");
            seen[l] = true;
        }
        p->out_len = (int8_t)len;
    } else {
        /* implicit output: the ellipsis first, then letters seen exactly once, in ASCII order */
        int len = 0;
        if (any_ell)
            p->out[len++] = EML_EINSUM_ELLIPSIS;
        for (int c = 'A'; c <= 'z'; c++) {
            int l = label_of((char)c);
            if (l >= 0 && count[l] == 1) {
                if (len >= EML_EINSUM_MAX_TERM)
                    return eml__unsupported(ctx, "equation '%s': output of too many dims", eq);
                p->out[len++] = (int8_t)l;
            }
        }
        p->out_len = (int8_t)len;
    }
    return EML_OK;
fail:
    return st;
}

static bool einsum_dtype_ok(eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_U8:
    case EML_DTYPE_U16:
    case EML_DTYPE_U32:
    case EML_DTYPE_U64:
    case EML_DTYPE_I8:
    case EML_DTYPE_I16:
    case EML_DTYPE_I32:
    case EML_DTYPE_I64:
    case EML_DTYPE_F16:
    case EML_DTYPE_F32:
    case EML_DTYPE_F64:
        return true;
    default:
        return false;
    }
}

eml_status eml__einsum_infer(eml_infer_ctx *ctx)
{
    const eml_einsum_params *p = ctx->params;
    eml_dtype dt = ctx->inputs[0].dtype;
    if (!einsum_dtype_ok(dt))
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(dt));
    for (int32_t i = 1; i < ctx->n_inputs; i++) {
        if (ctx->inputs[i].dtype != dt)
            return eml__infer_error(ctx, EML_ETYPE, "input %d is %s, input 0 is %s", (int)i,
                                    eml_dtype_name(ctx->inputs[i].dtype), eml_dtype_name(dt));
    }
    eml_einsum_plan plan_storage, *plan = &plan_storage;
    const char *why;
    eml_status st = eml__einsum_bind(p, ctx->inputs, ctx->n_inputs, plan, &why);
    if (st != EML_OK)
        return eml__infer_error(ctx, st == EML_EINVAL ? EML_EGRAPH : st, "%s", why);
    if (eml__shape_count(plan->out_dims, plan->out_rank) < 0)
        return eml__infer_error(ctx, EML_ESHAPE, "output is too large");
    eml__set_output(ctx, 0, dt, plan->out_dims, plan->out_rank);
    uint64_t macs = 1;
    for (int l = 0; l < plan->n_labels; l++) {
        if (eml__mul_overflow(macs, (uint64_t)plan->dims[l], &macs)) {
            macs = UINT64_MAX;
            break;
        }
    }
    ctx->macs = macs;
    return EML_OK;
}
