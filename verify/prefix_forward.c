/* prefix_forward.c — llama blocks with a key/value cache, so a shared prefix is evaluated once
 * (prefix_forward.h). Each block is model_block_forward's sequence of backend operations on the
 * new rows only, attention included (the backend's attention_rows, over the cached keys and
 * values: the same bits as the whole window's attention).
 */
#include "prefix_forward.h"

#include "../common/ig_error.h"
#include "../kernels/backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One block's weights (borrowed from the model) and its cache. */
struct prefix_layer {
    const float *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv;
    const float *ffn_norm, *w_gate, *w_up, *w_down;
    float *K, *V;   /* [n_max][n_head_kv·head_dim], keys after RoPE */
};

struct prefix_ctx {
    const struct model *m;
    struct model_ctx *mc;          /* for model_output */
    int64_t n_max;
    enum rope_mode rope_mode;
    struct prefix_layer *layers;   /* [n_layer] */
    float *x, *norm, *q, *attn, *proj, *gate, *up;   /* scratch, n_max rows each */
};

/* ---- set-up ---------------------------------------------------------------------------------- */

static const float *weight(const struct model *m, int64_t l, const char *suffix, int required, int *rc)
{
    char name[96];
    int64_t n;
    snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, suffix);
    const float *w = model_tensor_data((struct model *)m, name, &n);   /* read only */
    if (!w && required && !*rc)
        *rc = ig_error_set(IG_EINVAL, "prefix_forward: the model has no resident '%s'", name);
    return w;
}

int prefix_ctx_create(struct prefix_ctx **out, const struct model *m, int64_t n_max)
{
    *out = NULL;
    const struct model_hparams *hp = model_hparams(m);
    if ((strcmp(hp->arch, "llama") != 0 && strcmp(hp->arch, "qwen2") != 0) || hp->rope_scaling_type[0] ||
        model_rope_scaled(m))
        return ig_error_set(IG_EINVAL, "prefix_forward: architecture '%s' (rope scaling '%s') is not reproduced here",
                            hp->arch, hp->rope_scaling_type);
    struct prefix_ctx *p = ig_calloc(1, sizeof *p);
    if (!p)
        return IG_ENOMEM;
    p->m = m;
    p->n_max = n_max;
    p->rope_mode = strcmp(hp->arch, "qwen2") == 0 ? ROPE_MODE_NEOX : ROPE_MODE_NORM;   /* as model/llama.c */
    const size_t n = (size_t)n_max, q = (size_t)(hp->n_head * hp->head_dim), kv = (size_t)(hp->n_head_kv * hp->head_dim);
    const size_t d = (size_t)hp->n_embd, ff = (size_t)hp->n_ff;
    p->layers = ig_calloc((size_t)hp->n_layer, sizeof *p->layers);
    p->x = ig_malloc(n * d * sizeof(float));
    p->norm = ig_malloc(n * d * sizeof(float));
    p->q = ig_malloc(n * q * sizeof(float));
    p->attn = ig_malloc(n * q * sizeof(float));
    p->proj = ig_malloc(n * d * sizeof(float));
    p->gate = ig_malloc(n * ff * sizeof(float));
    p->up = ig_malloc(n * ff * sizeof(float));
    int rc = p->layers && p->x && p->norm && p->q && p->attn && p->proj && p->gate && p->up ? 0 : IG_ENOMEM;
    for (int64_t l = 0; l < hp->n_layer && !rc; l++) {
        struct prefix_layer *L = &p->layers[l];
        L->attn_norm = weight(m, l, "attn_norm.weight", 1, &rc);
        L->wq = weight(m, l, "attn_q.weight", 1, &rc);
        L->wk = weight(m, l, "attn_k.weight", 1, &rc);
        L->wv = weight(m, l, "attn_v.weight", 1, &rc);
        L->wo = weight(m, l, "attn_output.weight", 1, &rc);
        L->bq = weight(m, l, "attn_q.bias", 0, &rc);
        L->bk = weight(m, l, "attn_k.bias", 0, &rc);
        L->bv = weight(m, l, "attn_v.bias", 0, &rc);
        L->ffn_norm = weight(m, l, "ffn_norm.weight", 1, &rc);
        L->w_gate = weight(m, l, "ffn_gate.weight", 1, &rc);
        L->w_up = weight(m, l, "ffn_up.weight", 1, &rc);
        L->w_down = weight(m, l, "ffn_down.weight", 1, &rc);
        if (!rc && (!(L->K = ig_malloc(n * kv * sizeof(float))) || !(L->V = ig_malloc(n * kv * sizeof(float)))))
            rc = IG_ENOMEM;
    }
    if (!rc)
        rc = model_ctx_create(&p->mc, m, n_max);
    if (rc) {
        prefix_ctx_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void prefix_ctx_destroy(struct prefix_ctx *p)
{
    if (!p)
        return;
    for (int64_t l = 0; p->layers && l < model_hparams(p->m)->n_layer; l++) {
        free(p->layers[l].K);
        free(p->layers[l].V);
    }
    free(p->layers);
    model_ctx_destroy(p->mc);
    free(p->x);
    free(p->norm);
    free(p->q);
    free(p->attn);
    free(p->proj);
    free(p->gate);
    free(p->up);
    free(p);
}

/* ---- one block on rows pos0 .. pos0 + n_new ------------------------------------------------------ */

static int block(struct prefix_ctx *p, int64_t l, int64_t pos0, int64_t n_new)
{
    const struct backend *be = backend_active();
    const struct model_hparams *hp = model_hparams(p->m);
    const struct prefix_layer *L = &p->layers[l];
    const int64_t d = hp->n_embd, hd = hp->head_dim;
    const int64_t q = hp->n_head * hd, kv = hp->n_head_kv * hd;
    float *K = L->K + pos0 * kv, *V = L->V + pos0 * kv, *Qn = p->q;
    be->rms_norm(p->x, n_new, d, L->attn_norm, hp->rms_eps, p->norm);
    int rc = be->matmul(p->norm, n_new, d, L->wq, q, L->bq, Qn);
    rc = rc ? rc : be->matmul(p->norm, n_new, d, L->wk, kv, L->bk, K);
    rc = rc ? rc : be->matmul(p->norm, n_new, d, L->wv, kv, L->bv, V);
    rc = rc ? rc : be->rope(Qn, n_new, hp->n_head, hd, hp->n_rot, pos0, hp->rope_theta, 1.0f, NULL, p->rope_mode);
    rc = rc ? rc : be->rope(K, n_new, hp->n_head_kv, hd, hp->n_rot, pos0, hp->rope_theta, 1.0f, NULL, p->rope_mode);
    if (rc)
        return rc;
    rc = be->attention_rows(Qn, L->K, L->V, pos0, n_new, hp->n_head, hp->n_head_kv, hd, p->attn);
    rc = rc ? rc : be->matmul(p->attn, n_new, q, L->wo, d, NULL, p->proj);
    if (rc)
        return rc;
    be->add(p->x, p->proj, n_new * d);
    be->rms_norm(p->x, n_new, d, L->ffn_norm, hp->rms_eps, p->norm);
    rc = be->matmul(p->norm, n_new, d, L->w_gate, hp->n_ff, NULL, p->gate);
    rc = rc ? rc : be->matmul(p->norm, n_new, d, L->w_up, hp->n_ff, NULL, p->up);
    if (rc)
        return rc;
    be->swiglu(p->gate, p->up, n_new * hp->n_ff);
    rc = be->matmul(p->gate, n_new, hp->n_ff, L->w_down, d, NULL, p->proj);
    if (!rc)
        be->add(p->x, p->proj, n_new * d);
    return rc;
}

static int run(struct prefix_ctx *p, const int32_t *tokens, int64_t pos0, int64_t n_new)
{
    int rc = model_embed(p->m, tokens + pos0, n_new, p->x);
    for (int64_t l = 0; l < model_hparams(p->m)->n_layer && !rc; l++)
        rc = block(p, l, pos0, n_new);
    return rc;
}

/* ---- public ------------------------------------------------------------------------------------ */

int prefix_eval(struct prefix_ctx *p, const int32_t *tokens, int64_t n_prefix, float *logits_last)
{
    if (n_prefix < 1 || n_prefix >= p->n_max)
        return ig_error_set(IG_EINVAL, "prefix_eval: prefix of %lld tokens (scratch for %lld)", (long long)n_prefix,
                            (long long)p->n_max);
    int rc = run(p, tokens, 0, n_prefix);
    return rc ? rc : model_output(p->m, p->mc, p->x + (n_prefix - 1) * model_hparams(p->m)->n_embd, 1, logits_last);
}

int prefix_eval_branch(struct prefix_ctx *p, const int32_t *tokens, int64_t n_prefix, int64_t n, float *logits)
{
    if (n <= n_prefix || n > p->n_max)
        return ig_error_set(IG_EINVAL, "prefix_eval_branch: %lld tokens after a prefix of %lld (scratch for %lld)",
                            (long long)n, (long long)n_prefix, (long long)p->n_max);
    int rc = run(p, tokens, n_prefix, n - n_prefix);
    return rc ? rc : model_output(p->m, p->mc, p->x, n - n_prefix, logits);
}
