/* llama.c — the llama-family forward pass over the active backend (see llama.h). */
#include "llama.h"

#include "../common/ig_error.h"
#include "../kernels/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model_layer {
    float *attn_norm;            /* [n_embd] */
    float *wq, *wk, *wv, *wo;    /* [n_head*hd][n_embd], [n_kv*hd][n_embd] x2, [n_embd][n_head*hd] */
    float *bq, *bk, *bv;         /* biases or NULL */
    float *ffn_norm;             /* [n_embd] */
    float *w_gate, *w_up;        /* [n_ff][n_embd] */
    float *w_down;               /* [n_embd][n_ff] */
};

struct model {
    struct model_hparams hp;
    enum rope_mode rope_mode;
    float rope_freq_scale;       /* 1 / rope.scaling.factor for "linear", else 1 (llama.cpp's freq_scale) */
    float *rope_freqs;           /* [n_rot/2] rope_freqs.weight (Llama 3.1's divisors) or NULL */
    float *tok_embd;             /* [n_vocab][n_embd] */
    float *output;               /* [n_vocab][n_embd]; may alias tok_embd */
    float *output_norm;          /* [n_embd] */
    struct model_layer *layers;  /* [n_layer]; a block's pointers are NULL while it is not loaded */
    bool streamed;               /* model_create_streamed: blocks load and release on demand */
    const struct model_src *src; /* where blocks are fetched from */
    model_fetch_fn fetch;
    void *fetch_ctx;
};

struct model_ctx {
    int64_t n_max;
    float *norm;                 /* [n_max][n_embd] */
    float *q, *k, *v, *attn;     /* [n_max][n_head*hd] / [n_max][n_kv*hd] */
    float *proj;                 /* [n_max][n_embd] */
    float *gate, *up;            /* [n_max][n_ff] */
    model_capture_fn capture;    /* or NULL */
    void *capture_ctx;
};

/* ---- loading ------------------------------------------------------------------------------ */

/* Fetch tensor name as fp32 if present; required ones missing are an error. */
static int load(struct model *m, const struct model_src *src, model_fetch_fn fetch, void *ctx, const char *name,
                int64_t want_elems, bool required, float **out)
{
    const struct src_tensor *t = model_src_find(src, name);
    *out = NULL;
    if (!t)
        return required ? ig_error_set(IG_EINVAL, "%s: tensor '%s' is missing", src->path, name) : 0;
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (n != want_elems)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' has %lld elements, the hyperparameters need %lld", src->path,
                            name, (long long)n, (long long)want_elems);
    float *buf = ig_malloc((size_t)n * sizeof *buf);
    if (!buf)
        return IG_ENOMEM;
    *out = buf;   /* owned by the model from here: model_destroy or layer_free frees it */
    return fetch(ctx, t, buf);
}

/* Free every buffer of a block and leave its pointers NULL. */
static void layer_free(struct model_layer *L)
{
    float **p[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->bq, &L->bk, &L->bv,
                   &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        free(*p[i]);
        *p[i] = NULL;
    }
}

static int load_layer(struct model *m, const struct model_src *src, model_fetch_fn fetch, void *ctx, int64_t l)
{
    const struct model_hparams *hp = &m->hp;
    struct model_layer *L = &m->layers[l];
    int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    bool bias = hp->attn_qkv_bias;
    struct {
        const char *suffix;
        int64_t elems;
        bool required;
        float **dst;
    } items[] = {
        {"attn_norm.weight", hp->n_embd, true, &L->attn_norm},   {"attn_q.weight", q * hp->n_embd, true, &L->wq},
        {"attn_k.weight", kv * hp->n_embd, true, &L->wk},        {"attn_v.weight", kv * hp->n_embd, true, &L->wv},
        {"attn_output.weight", hp->n_embd * q, true, &L->wo},   {"attn_q.bias", q, bias, &L->bq},
        {"attn_k.bias", kv, bias, &L->bk},                       {"attn_v.bias", kv, bias, &L->bv},
        {"ffn_norm.weight", hp->n_embd, true, &L->ffn_norm},     {"ffn_gate.weight", hp->n_ff * hp->n_embd, true, &L->w_gate},
        {"ffn_up.weight", hp->n_ff * hp->n_embd, true, &L->w_up}, {"ffn_down.weight", hp->n_embd * hp->n_ff, true, &L->w_down},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        char name[MODEL_NAME_MAX];
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, items[i].suffix);
        int rc = load(m, src, fetch, ctx, name, items[i].elems, items[i].required, items[i].dst);
        if (rc)
            return rc;
    }
    return 0;
}

static int create(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx,
                  bool streamed)
{
    *out = NULL;
    const struct model_hparams *hp = &src->hp;
    if (strcmp(hp->arch, "llama") != 0 && strcmp(hp->arch, "qwen2") != 0)
        return ig_error_set(IG_EINVAL, "%s: architecture '%s' is not supported (llama, qwen2)", src->path, hp->arch);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return ig_error_set(IG_EINVAL, "%s: rope dimension %lld with head size %lld is not supported", src->path,
                            (long long)hp->n_rot, (long long)hp->head_dim);
    struct model *m = ig_calloc(1, sizeof *m);
    if (!m)
        return IG_ENOMEM;
    m->hp = *hp;
    m->rope_mode = strcmp(hp->arch, "qwen2") == 0 ? ROPE_MODE_NEOX : ROPE_MODE_NORM;
    /* llama.cpp: rope_freq_scale_train = 1/factor, or 1 when the factor is 0 or absent */
    m->rope_freq_scale = strcmp(hp->rope_scaling_type, "linear") == 0 && hp->rope_scaling_factor > 0
                             ? 1.0f / hp->rope_scaling_factor
                             : 1.0f;
    m->streamed = streamed;
    m->src = src;
    m->fetch = fetch;
    m->fetch_ctx = fetch_ctx;
    m->layers = ig_calloc((size_t)hp->n_layer, sizeof *m->layers);
    int rc = m->layers ? 0 : IG_ENOMEM;
    int64_t vocab_elems = hp->n_vocab * hp->n_embd;
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "token_embd.weight", vocab_elems, true, &m->tok_embd);
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "output_norm.weight", hp->n_embd, true, &m->output_norm);
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs);
    if (!rc && !streamed)
        rc = load(m, src, fetch, fetch_ctx, "output.weight", vocab_elems, false, &m->output);
    if (!rc && !streamed && !m->output)
        m->output = m->tok_embd;   /* tied embeddings */
    for (int64_t l = 0; l < hp->n_layer && !rc && !streamed; l++)
        rc = model_layer_load(m, l);
    if (rc) {
        model_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

bool model_rope_scaled(const struct model *m)
{
    return m->rope_freq_scale != 1.0f || m->rope_freqs != NULL;
}

int model_create(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx)
{
    return create(out, src, fetch, fetch_ctx, false);
}

int model_create_streamed(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx)
{
    return create(out, src, fetch, fetch_ctx, true);
}

int model_layer_load(struct model *m, int64_t l)
{
    if (l < 0 || l >= m->hp.n_layer)
        return ig_error_set(IG_EINVAL, "model_layer_load: block %lld (the model has %lld)", (long long)l,
                            (long long)m->hp.n_layer);
    if (m->layers[l].wq)
        return 0;
    int rc = load_layer(m, m->src, m->fetch, m->fetch_ctx, l);
    if (rc)
        layer_free(&m->layers[l]);
    return rc;
}

void model_layer_release(struct model *m, int64_t l)
{
    if (m->streamed && l >= 0 && l < m->hp.n_layer)
        layer_free(&m->layers[l]);
}

void model_destroy(struct model *m)
{
    if (!m)
        return;
    for (int64_t l = 0; m->layers && l < m->hp.n_layer; l++)
        layer_free(&m->layers[l]);
    if (m->output != m->tok_embd)
        free(m->output);
    free(m->tok_embd);
    free(m->output_norm);
    free(m->rope_freqs);
    free(m->layers);
    free(m);
}

const struct model_hparams *model_hparams(const struct model *m)
{
    return &m->hp;
}

float *model_tensor_data(struct model *m, const char *name, int64_t *n_elems)
{
    const struct model_hparams *hp = &m->hp;
    int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    long l;
    int k = 0;
    if (sscanf(name, "blk.%ld.%n", &l, &k) == 1 && k > 0 && l >= 0 && l < hp->n_layer) {
        struct model_layer *L = &m->layers[l];
        const char *s = name + k;
        struct {
            const char *suffix;
            float *data;
            int64_t n;
        } t[] = {
            {"attn_norm.weight", L->attn_norm, hp->n_embd},     {"attn_q.weight", L->wq, q * hp->n_embd},
            {"attn_k.weight", L->wk, kv * hp->n_embd},          {"attn_v.weight", L->wv, kv * hp->n_embd},
            {"attn_output.weight", L->wo, hp->n_embd * q},      {"ffn_norm.weight", L->ffn_norm, hp->n_embd},
            {"ffn_gate.weight", L->w_gate, hp->n_ff * hp->n_embd}, {"ffn_up.weight", L->w_up, hp->n_ff * hp->n_embd},
            {"ffn_down.weight", L->w_down, hp->n_embd * hp->n_ff}, {"attn_q.bias", L->bq, q},
            {"attn_k.bias", L->bk, kv},                         {"attn_v.bias", L->bv, kv},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            if (strcmp(s, t[i].suffix) == 0 && t[i].data) {
                *n_elems = t[i].n;
                return t[i].data;
            }
        return NULL;
    }
    if (strcmp(name, "output_norm.weight") == 0) {
        *n_elems = hp->n_embd;
        return m->output_norm;
    }
    return NULL;
}

/* ---- scratch ------------------------------------------------------------------------------ */

int model_ctx_create(struct model_ctx **out, const struct model *m, int64_t n_max)
{
    const struct model_hparams *hp = &m->hp;
    struct model_ctx *c = ig_calloc(1, sizeof *c);
    if (!c)
        return IG_ENOMEM;
    size_t n = (size_t)n_max;
    int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    c->n_max = n_max;
    c->norm = ig_malloc(n * (size_t)hp->n_embd * sizeof(float));
    c->q = ig_malloc(n * (size_t)q * sizeof(float));
    c->k = ig_malloc(n * (size_t)kv * sizeof(float));
    c->v = ig_malloc(n * (size_t)kv * sizeof(float));
    c->attn = ig_malloc(n * (size_t)q * sizeof(float));
    c->proj = ig_malloc(n * (size_t)hp->n_embd * sizeof(float));
    c->gate = ig_malloc(n * (size_t)hp->n_ff * sizeof(float));
    c->up = ig_malloc(n * (size_t)hp->n_ff * sizeof(float));
    if (!c->norm || !c->q || !c->k || !c->v || !c->attn || !c->proj || !c->gate || !c->up) {
        model_ctx_destroy(c);
        return IG_ENOMEM;
    }
    *out = c;
    return 0;
}

void model_ctx_set_capture(struct model_ctx *c, model_capture_fn fn, void *fn_ctx)
{
    c->capture = fn;
    c->capture_ctx = fn_ctx;
}

void model_ctx_destroy(struct model_ctx *c)
{
    if (!c)
        return;
    free(c->norm);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->attn);
    free(c->proj);
    free(c->gate);
    free(c->up);
    free(c);
}

/* ---- the forward pass ----------------------------------------------------------------------- */

int model_embed(const struct model *m, const int32_t *tokens, int64_t n, float *x)
{
    const int64_t d = m->hp.n_embd;
    for (int64_t t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= m->hp.n_vocab)
            return ig_error_set(IG_EINVAL, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                                tokens[t], (long long)t, (long long)m->hp.n_vocab - 1);
        memcpy(x + t * d, m->tok_embd + (int64_t)tokens[t] * d, sizeof(float) * (size_t)d);
    }
    return 0;
}

/* Each step stops the block at the first failure (rc is checked before every call). */
int model_block_forward(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n)
{
    const struct backend *be = backend_active();
    const struct model_hparams *hp = &m->hp;
    const struct model_layer *L = &m->layers[layer];
    const int64_t d = hp->n_embd, hd = hp->head_dim;
    const int64_t q = hp->n_head * hd, kv = hp->n_head_kv * hd;
    int rc = 0;
    /* attention */
    be->rms_norm(x, n, d, L->attn_norm, hp->rms_eps, c->norm);
    if (c->capture)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_ATTN, c->norm, n, d);
    rc = rc ? rc : be->matmul(c->norm, n, d, L->wq, q, L->bq, c->q);
    rc = rc ? rc : be->matmul(c->norm, n, d, L->wk, kv, L->bk, c->k);
    rc = rc ? rc : be->matmul(c->norm, n, d, L->wv, kv, L->bv, c->v);
    rc = rc ? rc : be->rope(c->q, n, hp->n_head, hd, hp->n_rot, 0, hp->rope_theta, m->rope_freq_scale, m->rope_freqs,
                            m->rope_mode);
    rc = rc ? rc : be->rope(c->k, n, hp->n_head_kv, hd, hp->n_rot, 0, hp->rope_theta, m->rope_freq_scale,
                            m->rope_freqs, m->rope_mode);
    rc = rc ? rc : be->attention(c->q, c->k, c->v, n, hp->n_head, hp->n_head_kv, hd, c->attn);
    if (!rc && c->capture)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_ATTN_OUT, c->attn, n, q);
    rc = rc ? rc : be->matmul(c->attn, n, q, L->wo, d, NULL, c->proj);
    if (rc)
        return rc;
    be->add(x, c->proj, n * d);
    /* feed-forward */
    be->rms_norm(x, n, d, L->ffn_norm, hp->rms_eps, c->norm);
    if (c->capture)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_FFN, c->norm, n, d);
    rc = rc ? rc : be->matmul(c->norm, n, d, L->w_gate, hp->n_ff, NULL, c->gate);
    rc = rc ? rc : be->matmul(c->norm, n, d, L->w_up, hp->n_ff, NULL, c->up);
    if (rc)
        return rc;
    be->swiglu(c->gate, c->up, n * hp->n_ff);
    if (c->capture)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_FFN_DOWN, c->gate, n, hp->n_ff);
    rc = rc ? rc : be->matmul(c->gate, n, hp->n_ff, L->w_down, d, NULL, c->proj);
    if (rc)
        return rc;
    be->add(x, c->proj, n * d);
    return 0;
}

int model_output(const struct model *m, struct model_ctx *c, const float *x, int64_t n, float *logits)
{
    const struct backend *be = backend_active();
    be->rms_norm(x, n, m->hp.n_embd, m->output_norm, m->hp.rms_eps, c->norm);
    return be->matmul(c->norm, n, m->hp.n_embd, m->output, m->hp.n_vocab, NULL, logits);
}

int model_forward(const struct model *m, struct model_ctx *c, const int32_t *tokens, int64_t n, int64_t first,
                  float *logits)
{
    if (m->streamed)
        return ig_error_set(IG_EINVAL, "model_forward: the model was created streamed (no resident blocks)");
    if (n > c->n_max || first < 0 || first > n)
        return ig_error_set(IG_EINVAL, "model_forward: window of %lld tokens (scratch for %lld), first %lld",
                            (long long)n, (long long)c->n_max, (long long)first);
    float *x = ig_malloc((size_t)n * (size_t)m->hp.n_embd * sizeof *x);
    if (!x)
        return IG_ENOMEM;
    int rc = model_embed(m, tokens, n, x);
    for (int64_t l = 0; l < m->hp.n_layer && !rc; l++)
        rc = model_block_forward(m, c, l, x, n);
    if (!rc)
        rc = model_output(m, c, x + first * m->hp.n_embd, n - first, logits);
    free(x);
    return rc;
}
