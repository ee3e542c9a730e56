/* llama.c — the llama-family forward pass over the active backend (see llama.h). */
#include "llama.h"

#include "../common/ig_error.h"
#include "../formats/file_map.h"
#include "../formats/gemma_arch.h"
#include "../formats/model_arch.h"
#include "../kernels/backend.h"
#include "arch_gemma.h"
#include "moe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A weight matrix [rows][cols]: resident fp32, or packed (the file's bytes, multiplied through
 * the backend's matmul_rows a tile of dequantized rows at a time). Both NULL: not loaded. */
struct model_weight {
    float *f32;                  /* owned, or NULL when packed */
    const struct src_tensor *t;  /* packed: borrowed, into the source mapping; else NULL */
    int64_t row0;                /* 0; in a view of one expert of a stack (moe_ffn), its first row */
};

struct model_layer {
    float *attn_norm;            /* [n_embd] */
    struct model_weight wq, wk, wv, wo;  /* [n_head*hd][n_embd], [n_kv*hd][n_embd] x2, [n_embd][n_head*hd] */
    float *bq, *bk, *bv;         /* biases or NULL */
    float *q_norm, *k_norm;      /* [head_dim] qwen3's per-head RMSNorm of q and k before RoPE, or NULL */
    float *ffn_norm;             /* [n_embd] */
    float *attn_post_norm, *ffn_post_norm;   /* [n_embd] gemma's norms of the attention and FFN outputs, or NULL */
    struct model_weight w_gate, w_up;    /* [n_ff][n_embd] */
    struct model_weight w_down;  /* [n_embd][n_ff] */
    struct model_weight wqkv;    /* phi3: [n_head*hd + 2·n_kv*hd][n_embd], q, k, v rows fused (w_up: gate and up) */
    struct model_weight ffn_gate_inp;    /* mixtral: [n_expert][n_embd], the router */
    struct model_weight gate_exps, up_exps, down_exps;   /* mixtral: [n_expert][n_ff][n_embd] x2, [n_expert][n_embd][n_ff] */
    bool loaded;
};

enum model_mode {
    MODE_RESIDENT = 0,           /* model_create: every weight fp32, all the time */
    MODE_STREAMED = 1,           /* model_create_streamed: a block's fp32 weights while it is loaded */
    MODE_PACKED = 2,             /* model_create_packed: weights stay the file's bytes */
};

struct model {
    struct model_hparams hp;
    enum rope_mode rope_mode;
    float rope_freq_scale;       /* 1 / rope.scaling.factor for "linear", else 1 (llama.cpp's freq_scale) */
    float *rope_freqs;           /* [n_rot/2] rope_freqs.weight (Llama 3.1's divisors) or NULL */
    /* phi3 longrope: rope_factors_long/short.weight [n_rot/2] or NULL; llama.cpp
     * divides by the long ones when the context per sequence exceeds rope.scaling.
     * original_context_length (llama_model::get_rope_factors), else by the short ones */
    float *rope_long, *rope_short;
    int64_t n_ctx_seq;           /* the window length the model runs with (model_set_ctx_len); 0: not set */
    float rope_mscale;           /* rope.scaling.attn_factor, or 1: multiplies cos and sin (ggml's mscale) */
    struct model_weight tok_embd;    /* [n_vocab][n_embd] */
    struct model_weight output;      /* [n_vocab][n_embd]; may alias tok_embd (then not freed twice) */
    float *output_norm;          /* [n_embd] */
    struct model_layer *layers;  /* [n_layer]; a block's pointers are NULL while it is not loaded */
    enum model_mode mode;
    bool streamed;               /* blocks load and release on demand (MODE_STREAMED, MODE_PACKED) */
    bool gemma;                  /* gemma2/3: embeddings · √n_embd, GeGLU, post norms (model/arch_gemma.h) */
    const struct model_src *src; /* where blocks are fetched from */
    model_fetch_fn fetch;        /* fp32 modes */
    void *fetch_ctx;
    model_rows_fn rows;          /* MODE_PACKED: a tile of rows as fp32 */
    void *rows_ctx;
    enum model_matmul matmul;    /* MODE_PACKED: fp32 tiles, or the backend's matmul_q8 where it has a kernel */
};

struct model_ctx {
    int64_t n_max;
    float *norm;                 /* [n_max][n_embd] */
    float *q, *k, *v, *attn;     /* [n_max][n_head*hd] / [n_max][n_kv*hd] */
    float *proj;                 /* [n_max][n_embd] */
    float *gate, *up;            /* [n_max][n_ff] */
    float *fused;                /* phi3: [n_max][max(q + 2·kv, 2·n_ff)], a fused product before its split; else NULL */
    float *moe_logits, *moe_w;   /* mixtral: [n_max][n_expert] router logits, [n_max][k] expert weights */
    int32_t *moe_sel;            /* [n_max][k] the experts of each row, largest weight first */
    int64_t *moe_rows;           /* [n_max] the rows routed to one expert */
    float *moe_x, *moe_out;      /* [n_max][n_embd] those rows' inputs; [n_max][k][n_embd] each slot's output */
    model_capture_fn capture;    /* or NULL */
    void *capture_ctx;
};

/* ---- loading ------------------------------------------------------------------------------ */

/* *t = tensor name of src with want_elems elements, or NULL when it is absent and not
 * required. Returns 0, or IG_EINVAL (a required one missing, or another size). */
static int find_tensor(const struct model_src *src, const char *name, int64_t want_elems, bool required,
                       const struct src_tensor **t)
{
    *t = model_src_find(src, name);
    if (!*t)
        return required ? ig_error_set(IG_EINVAL, "%s: tensor '%s' is missing", src->path, name) : 0;
    int64_t n = (*t)->ne[0] * (*t)->ne[1] * (*t)->ne[2] * (*t)->ne[3];
    if (n != want_elems)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' has %lld elements, the hyperparameters need %lld", src->path,
                            name, (long long)n, (long long)want_elems);
    return 0;
}

/* Fetch tensor name as fp32 if present; required ones missing are an error. */
static int load(struct model *m, const struct model_src *src, model_fetch_fn fetch, void *ctx, const char *name,
                int64_t want_elems, bool required, float **out)
{
    const struct src_tensor *t;
    *out = NULL;
    int rc = find_tensor(src, name, want_elems, required, &t);
    if (rc || !t)
        return rc;
    float *buf = ig_malloc((size_t)want_elems * sizeof *buf);
    if (!buf)
        return IG_ENOMEM;
    *out = buf;   /* owned by the model from here: model_destroy or layer_free frees it */
    rc = m->mode == MODE_PACKED ? m->rows(m->rows_ctx, t, 0, src_tensor_n_rows(t), buf) : fetch(ctx, t, buf);
    file_map_drop_pages(t->data, t->size_bytes);   /* the fp32 copy is what is used from here */
    return rc;
}

/* A weight matrix: fp32 through load, or (MODE_PACKED) a view of the file's bytes, checked for
 * its size here and for its values tile by tile as it is multiplied. */
static int load_weight(struct model *m, const struct model_src *src, model_fetch_fn fetch, void *ctx,
                       const char *name, int64_t want_elems, bool required, struct model_weight *w)
{
    w->t = NULL;
    if (m->mode != MODE_PACKED)
        return load(m, src, fetch, ctx, name, want_elems, required, &w->f32);
    w->f32 = NULL;
    return find_tensor(src, name, want_elems, required, &w->t);
}

/* Release what a weight holds: its fp32 copy, or the file pages a packed one touched. */
static void weight_free(struct model_weight *w)
{
    free(w->f32);
    if (w->t)
        file_map_drop_pages(w->t->data, w->t->size_bytes);
    w->f32 = NULL;
    w->t = NULL;
}

/* Free every buffer of a block and leave its pointers NULL. */
static void layer_free(struct model_layer *L)
{
    float **p[] = {&L->attn_norm, &L->bq, &L->bk, &L->bv, &L->ffn_norm, &L->q_norm, &L->k_norm,
                     &L->attn_post_norm, &L->ffn_post_norm};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        free(*p[i]);
        *p[i] = NULL;
    }
    struct model_weight *w[] = {&L->wq,           &L->wk,           &L->wv,       &L->wo,      &L->w_gate,
                                &L->w_up,         &L->w_down,       &L->wqkv,     &L->ffn_gate_inp,
                                &L->gate_exps,    &L->up_exps,      &L->down_exps};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        weight_free(w[i]);
    L->loaded = false;
}

static int load_layer(struct model *m, const struct model_src *src, model_fetch_fn fetch, void *ctx, int64_t l)
{
    const struct model_hparams *hp = &m->hp;
    struct model_layer *L = &m->layers[l];
    int64_t q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    bool bias = hp->attn_qkv_bias;
    /* phi3 keeps q/k/v fused and gate/up fused in ffn_up; mixtral has experts instead of one FFN */
    const bool phi3 = strcmp(hp->arch, "phi3") == 0, moe = hp->n_expert > 0;
    const int64_t qkv = q + 2 * kv, up_rows = phi3 ? 2 * hp->n_ff : hp->n_ff, ne = hp->n_expert;
    /* vectors (norms, biases) are always fp32; matrices (w != NULL) packed in MODE_PACKED */
    struct {
        const char *suffix;
        int64_t elems;
        bool required;
        float **dst;
        struct model_weight *w;
    } items[] = {
        {"attn_norm.weight", hp->n_embd, true, &L->attn_norm, NULL},
        {"attn_q.weight", q * hp->n_embd, !phi3, NULL, &L->wq},
        {"attn_k.weight", kv * hp->n_embd, !phi3, NULL, &L->wk},
        {"attn_v.weight", kv * hp->n_embd, !phi3, NULL, &L->wv},
        {"attn_output.weight", hp->n_embd * q, true, NULL, &L->wo},
        {"attn_q.bias", q, bias, &L->bq, NULL},
        {"attn_k.bias", kv, bias, &L->bk, NULL},
        {"attn_v.bias", kv, bias, &L->bv, NULL},
        {"attn_q_norm.weight", hp->head_dim, hp->attn_qk_norm, &L->q_norm, NULL},
        {"attn_k_norm.weight", hp->head_dim, hp->attn_qk_norm, &L->k_norm, NULL},
        {"ffn_norm.weight", hp->n_embd, true, &L->ffn_norm, NULL},
        {"post_attention_norm.weight", hp->n_embd, m->gemma, &L->attn_post_norm, NULL},
        {"post_ffw_norm.weight", hp->n_embd, m->gemma, &L->ffn_post_norm, NULL},
        {"ffn_gate.weight", hp->n_ff * hp->n_embd, !moe && !phi3, NULL, &L->w_gate},
        {"ffn_up.weight", up_rows * hp->n_embd, !moe, NULL, &L->w_up},
        {"ffn_down.weight", hp->n_embd * hp->n_ff, !moe, NULL, &L->w_down},
        {"attn_qkv.weight", qkv * hp->n_embd, phi3, NULL, &L->wqkv},
        {"ffn_gate_inp.weight", ne * hp->n_embd, moe, NULL, &L->ffn_gate_inp},
        {"ffn_gate_exps.weight", ne * hp->n_ff * hp->n_embd, moe, NULL, &L->gate_exps},
        {"ffn_up_exps.weight", ne * hp->n_ff * hp->n_embd, moe, NULL, &L->up_exps},
        {"ffn_down_exps.weight", ne * hp->n_embd * hp->n_ff, moe, NULL, &L->down_exps},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        char name[MODEL_NAME_MAX];
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, items[i].suffix);
        int rc = items[i].w ? load_weight(m, src, fetch, ctx, name, items[i].elems, items[i].required, items[i].w)
                            : load(m, src, fetch, ctx, name, items[i].elems, items[i].required, items[i].dst);
        if (rc)
            return rc;
    }
    L->loaded = true;
    return 0;
}

static int create(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx,
                  model_rows_fn rows, void *rows_ctx, enum model_mode mode)
{
    *out = NULL;
    const struct model_hparams *hp = &src->hp;
    const struct model_arch_info *arch = model_arch_find(hp->arch);
    char list[256];
    if (!arch)
        return ig_error_set(IG_EINVAL, "%s: architecture '%s' is not supported (supported: %s)", src->path, hp->arch,
                            model_arch_list(MODEL_ARCH_GGUF, list, sizeof list));
    /* phi3's longrope (128k variants): both factor tensors or neither, as llama.cpp picks one */
    if (!model_src_find(src, "rope_factors_long.weight") != !model_src_find(src, "rope_factors_short.weight"))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is missing (longrope needs both rope_factors_long.weight "
                            "and rope_factors_short.weight)", src->path,
                            model_src_find(src, "rope_factors_long.weight") ? "rope_factors_short.weight"
                                                                            : "rope_factors_long.weight");
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return ig_error_set(IG_EINVAL, "%s: rope dimension %lld with head size %lld is not supported", src->path,
                            (long long)hp->n_rot, (long long)hp->head_dim);
    struct model *m = ig_calloc(1, sizeof *m);
    if (!m)
        return IG_ENOMEM;
    m->hp = *hp;
    m->gemma = gemma_arch_is(hp->arch);
    m->rope_mode = arch->rope_neox ? ROPE_MODE_NEOX : ROPE_MODE_NORM;
    /* llama.cpp: rope_freq_scale_train = 1/factor, or 1 when the factor is 0 or absent */
    m->rope_freq_scale = strcmp(hp->rope_scaling_type, "linear") == 0 && hp->rope_scaling_factor > 0
                             ? 1.0f / hp->rope_scaling_factor
                             : 1.0f;
    /* llama_context: cparams.yarn_attn_factor (1) *= hparams.rope_attn_factor, whatever the context */
    m->rope_mscale = hp->rope_attn_factor > 0 ? hp->rope_attn_factor : 1.0f;
    m->mode = mode;
    m->streamed = mode != MODE_RESIDENT;
    m->src = src;
    m->fetch = fetch;
    m->fetch_ctx = fetch_ctx;
    m->rows = rows;
    m->rows_ctx = rows_ctx;
    const bool streamed = m->streamed, packed = mode == MODE_PACKED;
    m->layers = ig_calloc((size_t)hp->n_layer, sizeof *m->layers);
    int rc = m->layers ? 0 : IG_ENOMEM;
    int64_t vocab_elems = hp->n_vocab * hp->n_embd;
    if (!rc)
        rc = load_weight(m, src, fetch, fetch_ctx, "token_embd.weight", vocab_elems, true, &m->tok_embd);
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "output_norm.weight", hp->n_embd, true, &m->output_norm);
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs);
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "rope_factors_long.weight", hp->n_rot / 2, false, &m->rope_long);
    if (!rc)
        rc = load(m, src, fetch, fetch_ctx, "rope_factors_short.weight", hp->n_rot / 2, false, &m->rope_short);
    if (!rc && (!streamed || packed))
        rc = load_weight(m, src, fetch, fetch_ctx, "output.weight", vocab_elems, false, &m->output);
    if (!rc && (!streamed || packed) && !m->output.f32 && !m->output.t)
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
    return m->rope_freq_scale != 1.0f || m->rope_freqs != NULL || m->rope_long != NULL || m->rope_mscale != 1.0f;
}

void model_set_ctx_len(struct model *m, int64_t n_ctx)
{
    m->n_ctx_seq = n_ctx;
}

/* The frequency divisors RoPE applies (llama_model::get_rope_factors): rope_freqs when the file
 * has them, else longrope's long factors past the original context, its short ones up to it. */
static const float *rope_factors(const struct model *m)
{
    if (m->rope_freqs || !m->rope_long)
        return m->rope_freqs;
    const int64_t orig = m->hp.rope_scaling_orig_ctx > 0 ? m->hp.rope_scaling_orig_ctx : m->hp.n_ctx_train;
    return m->n_ctx_seq > orig ? m->rope_long : m->rope_short;
}

int model_create(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx)
{
    return create(out, src, fetch, fetch_ctx, NULL, NULL, MODE_RESIDENT);
}

int model_create_streamed(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx)
{
    return create(out, src, fetch, fetch_ctx, NULL, NULL, MODE_STREAMED);
}

int model_create_packed(struct model **out, const struct model_src *src, model_rows_fn rows, void *rows_ctx)
{
    return create(out, src, NULL, NULL, rows, rows_ctx, MODE_PACKED);
}

bool model_is_packed(const struct model *m)
{
    return m->mode == MODE_PACKED;
}

void model_set_matmul(struct model *m, enum model_matmul mode)
{
    m->matmul = mode;
}

bool model_weight_q8(const struct model *m, const struct src_tensor *t)
{
    const struct backend *be = backend_active();
    return m->mode == MODE_PACKED && m->matmul == MODEL_MATMUL_Q8 && be->matmul_q8 && !t->read_rows_f32 &&
           t->permute_n_head == 0 && be->matmul_q8_supports((int32_t)t->type);
}

uint64_t model_block_size_bytes(const struct model *m, int64_t l)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "blk.%lld.", (long long)l);
    uint64_t sum = 0;
    for (int64_t i = 0; i < m->src->n_tensors; i++) {
        const struct src_tensor *t = &m->src->tensors[i];
        if (l < 0 ? strcmp(t->name, "output.weight") == 0 : strncmp(t->name, prefix, (size_t)n) == 0)
            sum += t->size_bytes;
    }
    if (l < 0 && sum == 0) {   /* tied: the output projection is the embedding */
        const struct src_tensor *t = model_src_find(m->src, "token_embd.weight");
        sum = t ? t->size_bytes : 0;
    }
    return sum;
}

int model_layer_load(struct model *m, int64_t l)
{
    if (l < 0 || l >= m->hp.n_layer)
        return ig_error_set(IG_EINVAL, "model_layer_load: block %lld (the model has %lld)", (long long)l,
                            (long long)m->hp.n_layer);
    if (m->layers[l].loaded)
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
    if (m->output.f32 != m->tok_embd.f32 || m->output.t != m->tok_embd.t)
        weight_free(&m->output);
    weight_free(&m->tok_embd);
    free(m->output_norm);
    free(m->rope_freqs);
    free(m->rope_long);
    free(m->rope_short);
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
            {"attn_norm.weight", L->attn_norm, hp->n_embd},     {"attn_q.weight", L->wq.f32, q * hp->n_embd},
            {"attn_k.weight", L->wk.f32, kv * hp->n_embd},      {"attn_v.weight", L->wv.f32, kv * hp->n_embd},
            {"attn_output.weight", L->wo.f32, hp->n_embd * q},  {"ffn_norm.weight", L->ffn_norm, hp->n_embd},
            {"ffn_gate.weight", L->w_gate.f32, hp->n_ff * hp->n_embd},
            {"ffn_up.weight", L->w_up.f32, (strcmp(hp->arch, "phi3") == 0 ? 2 : 1) * hp->n_ff * hp->n_embd},
            {"attn_qkv.weight", L->wqkv.f32, (q + 2 * kv) * hp->n_embd},   /* phi3: q, k, v rows fused */
            {"ffn_down.weight", L->w_down.f32, hp->n_embd * hp->n_ff}, {"attn_q.bias", L->bq, q},
            /* mixtral: the expert stacks, expert e's rows after expert e - 1's */
            {"ffn_gate_exps.weight", L->gate_exps.f32, hp->n_expert * hp->n_ff * hp->n_embd},
            {"ffn_up_exps.weight", L->up_exps.f32, hp->n_expert * hp->n_ff * hp->n_embd},
            {"ffn_down_exps.weight", L->down_exps.f32, hp->n_expert * hp->n_embd * hp->n_ff},
            {"attn_k.bias", L->bk, kv},                         {"attn_v.bias", L->bv, kv},
            {"attn_q_norm.weight", L->q_norm, hp->head_dim}, {"attn_k_norm.weight", L->k_norm, hp->head_dim},
            {"post_attention_norm.weight", L->attn_post_norm, hp->n_embd},
            {"post_ffw_norm.weight", L->ffn_post_norm, hp->n_embd},
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

/* phi3's and mixtral's scratch (none for other architectures). Returns 0 or IG_ENOMEM. */
static int ctx_create_q3p(struct model_ctx *c, const struct model_hparams *hp, size_t n)
{
    const int64_t qkv = (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim, k = hp->n_expert_used;
    if (strcmp(hp->arch, "phi3") == 0) {
        const int64_t w = qkv > 2 * hp->n_ff ? qkv : 2 * hp->n_ff;
        if (!(c->fused = ig_malloc(n * (size_t)w * sizeof(float))))
            return IG_ENOMEM;
    }
    if (hp->n_expert == 0)
        return 0;
    c->moe_logits = ig_malloc(n * (size_t)hp->n_expert * sizeof(float));
    c->moe_w = ig_malloc(n * (size_t)k * sizeof(float));
    c->moe_sel = ig_malloc(n * (size_t)k * sizeof(int32_t));
    c->moe_rows = ig_malloc(n * sizeof(int64_t));
    c->moe_x = ig_malloc(n * (size_t)hp->n_embd * sizeof(float));
    c->moe_out = ig_malloc(n * (size_t)(k * hp->n_embd) * sizeof(float));
    return c->moe_logits && c->moe_w && c->moe_sel && c->moe_rows && c->moe_x && c->moe_out ? 0 : IG_ENOMEM;
}

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
    if (!c->norm || !c->q || !c->k || !c->v || !c->attn || !c->proj || !c->gate || !c->up || ctx_create_q3p(c, hp, n)) {
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
    free(c->fused);
    free(c->moe_logits);
    free(c->moe_w);
    free(c->moe_sel);
    free(c->moe_rows);
    free(c->moe_x);
    free(c->moe_out);
    free(c);
}

/* ---- the forward pass ----------------------------------------------------------------------- */

/* What matmul_rows asks for: a tile of a packed weight's rows, through the model's reader. */
struct packed_rows {
    const struct model *m;
    const struct src_tensor *t;
    int64_t row0;                /* an expert's first row in its stack, else 0 */
};

static int packed_rows_fill(void *ctx, int64_t row0, int64_t n_rows, float *dst)
{
    const struct packed_rows *p = ctx;
    return p->m->rows(p->m->rows_ctx, p->t, p->row0 + row0, n_rows, dst);
}

/* Y [n][m_out] = X [n][k] · Wᵀ (+ bias): the whole fp32 matrix, or a packed one a tile at a time
 * (the same bits: backend.h). */
static int linear(const struct model *m, const struct model_weight *w, const float *X, int64_t n, int64_t k,
                  int64_t m_out, const float *bias, float *Y)
{
    const struct backend *be = backend_active();
    if (w->f32)
        return be->matmul(X, n, k, w->f32 + w->row0 * k, m_out, bias, Y);
    if (!w->t)
        return ig_error_set(IG_EINVAL, "model: a weight of %lld x %lld is not loaded", (long long)m_out, (long long)k);
    if (w->t->n_dims < 3 && model_weight_q8(m, w->t)) {   /* --matmul q8: llama.cpp's integer products */
        if (w->t->ne[0] != k)
            return ig_error_set(IG_EINVAL, "%s: tensor '%s': rows of %lld, the product needs %lld", w->t->file,
                                w->t->name, (long long)w->t->ne[0], (long long)k);
        int rc = be->matmul_q8(X, n, k, (int32_t)w->t->type, w->t->data, m_out, bias, Y);
        return rc == IG_EINVAL ? ig_error_wrap(rc, "%s: tensor '%s'", w->t->file, w->t->name) : rc;
    }
    struct packed_rows p = {m, w->t, w->row0};
    return be->matmul_rows(X, n, k, packed_rows_fill, &p, m_out, bias, Y);
}

/* gemma: x[n][n_embd] · √n_embd (ggml_scale: one float product per element). */
static void embd_scale(const struct model *m, float *x, int64_t n)
{
    if (!m->gemma)
        return;
    const float s = gemma_embd_scale(&m->hp);
    for (int64_t i = 0; i < n * m->hp.n_embd; i++)
        x[i] *= s;
}

int model_embed(const struct model *m, const int32_t *tokens, int64_t n, float *x)
{
    const int64_t d = m->hp.n_embd;
    for (int64_t t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= m->hp.n_vocab)
            return ig_error_set(IG_EINVAL, "token id %d at position %lld is outside the vocabulary (0..%lld)",
                                tokens[t], (long long)t, (long long)m->hp.n_vocab - 1);
    if (m->tok_embd.f32) {
        for (int64_t t = 0; t < n; t++)
            memcpy(x + t * d, m->tok_embd.f32 + (int64_t)tokens[t] * d, sizeof(float) * (size_t)d);
        embd_scale(m, x, n);
        return 0;
    }
    /* packed: one row per token, read from the file's bytes */
    int rc = 0;
    for (int64_t t = 0; t < n && !rc; t++)
        rc = m->rows(m->rows_ctx, m->tok_embd.t, tokens[t], 1, x + t * d);
    file_map_drop_pages(m->tok_embd.t->data, m->tok_embd.t->size_bytes);
    if (!rc)
        embd_scale(m, x, n);
    return rc;
}

/* Row of x where sequence s of seq starts: seq[0] repeated (stride 0) or seq[0 .. n_seq). */
static int64_t seq_row0(const struct model_seq *seq, int64_t stride, int64_t s)
{
    if (stride == 0)
        return s * seq[0].n;
    int64_t r = 0;
    for (int64_t i = 0; i < s; i++)
        r += seq[i].n;
    return r;
}

/* RoPE and attention of one sequence's rows, its keys and values in c->k / c->v at row r0: with a
 * cache they are appended at pos0 and the rows attend to positions 0 .. pos0 + n - 1 of it,
 * without one to each other (pos0 = 0; attention is attention_rows with pos0 = 0, backend.h). */
static int seq_attend(const struct model *m, struct model_ctx *c, int64_t layer, const struct model_seq *sq,
                      int64_t r0)
{
    const struct backend *be = backend_active();
    const struct model_hparams *hp = &m->hp;
    const int64_t hd = hp->head_dim, q = hp->n_head * hd, kv = hp->n_head_kv * hd, n = sq->n;
    float *qs = c->q + r0 * q, *ks = c->k + r0 * kv, *vs = c->v + r0 * kv;
    /* gemma: per-block score scale, soft cap, window and RoPE base (model/arch_gemma.h) */
    struct backend_attn_opts ao;
    float base;
    bool scaled;
    model_block_attn(hp, layer, &ao, &base, &scaled);
    const float fs = scaled ? m->rope_freq_scale : 1.0f;
    const float *ff = scaled ? rope_factors(m) : NULL;
    const float ms = m->rope_mscale;
    int e = be->rope(qs, n, hp->n_head, hd, hp->n_rot, sq->pos0, base, fs, ff, ms, m->rope_mode);
    e = e ? e : be->rope(ks, n, hp->n_head_kv, hd, hp->n_rot, sq->pos0, base, fs, ff, ms, m->rope_mode);
    if (e)
        return e;
    const float *K = ks, *V = vs;
    if (sq->k_cache) {
        memcpy(sq->k_cache + sq->pos0 * kv, ks, sizeof(float) * (size_t)(n * kv));
        memcpy(sq->v_cache + sq->pos0 * kv, vs, sizeof(float) * (size_t)(n * kv));
        K = sq->k_cache;
        V = sq->v_cache;
    }
    if (model_attn_opts_any(&ao))
        return be->attention_rows_ext(qs, K, V, sq->pos0, n, hp->n_head, hp->n_head_kv, hd, &ao, c->attn + r0 * q);
    return be->attention_rows(qs, K, V, sq->pos0, n, hp->n_head, hp->n_head_kv, hd, c->attn + r0 * q);
}

/* ---- phi3 and mixtral ---- */

/* phi3: c->q, c->k, c->v from one product with attn_qkv, whose rows are q's, then k's, then v's
 * (llama.cpp keeps the HF qkv_proj fused and takes views of the product). */
static int qkv_fused(const struct model *m, struct model_ctx *c, const struct model_layer *L, int64_t rows)
{
    const struct model_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, q = hp->n_head * hp->head_dim, kv = hp->n_head_kv * hp->head_dim;
    const int64_t w = q + 2 * kv;
    int rc = linear(m, &L->wqkv, c->norm, rows, d, w, NULL, c->fused);
    for (int64_t r = 0; r < rows && !rc; r++) {
        memcpy(c->q + r * q, c->fused + r * w, sizeof(float) * (size_t)q);
        memcpy(c->k + r * kv, c->fused + r * w + q, sizeof(float) * (size_t)kv);
        memcpy(c->v + r * kv, c->fused + r * w + q + kv, sizeof(float) * (size_t)kv);
    }
    return rc;
}

/* phi3: c->gate, c->up from one product with ffn_up [2·n_ff][n_embd]: the first n_ff outputs are
 * the gate, the next the up projection (HF's gate_up_proj chunked in two; ggml_swiglu's halves). */
static int gate_up_fused(const struct model *m, struct model_ctx *c, const struct model_layer *L, int64_t rows)
{
    const int64_t d = m->hp.n_embd, ff = m->hp.n_ff;
    int rc = linear(m, &L->w_up, c->norm, rows, d, 2 * ff, NULL, c->fused);
    for (int64_t r = 0; r < rows && !rc; r++) {
        memcpy(c->gate + r * ff, c->fused + r * 2 * ff, sizeof(float) * (size_t)ff);
        memcpy(c->up + r * ff, c->fused + r * 2 * ff + ff, sizeof(float) * (size_t)ff);
    }
    return rc;
}

/* One expert of a stack [n_expert][rows][cols] as a weight of its own. */
static struct model_weight expert_view(const struct model_weight *w, int64_t e, int64_t rows)
{
    struct model_weight v = *w;
    v.row0 = e * rows;
    return v;
}

/* mixtral: x += Σ_j w_j · down_e(silu(gate_e(n2)) ⊙ up_e(n2)) over each row's top-k experts e
 * (moe.h), n2 = c->norm. Each expert multiplies only its rows, gathered; a row's result does not
 * depend on which other rows share its experts. */
static int moe_ffn(const struct model *m, struct model_ctx *c, const struct model_layer *L, int64_t layer, float *x,
                   int64_t rows)
{
    const struct backend *be = backend_active();
    const struct model_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, ff = hp->n_ff, k = hp->n_expert_used;
    int rc = linear(m, &L->ffn_gate_inp, c->norm, rows, d, hp->n_expert, NULL, c->moe_logits);
    if (rc)
        return rc;
    moe_route(c->moe_logits, rows, hp->n_expert, k, true, c->moe_sel, c->moe_w);
    for (int32_t e = 0; e < (int32_t)hp->n_expert && !rc; e++) {
        const int64_t n_e = moe_rows_of(c->moe_sel, rows, k, e, c->moe_rows);
        if (n_e == 0)
            continue;
        for (int64_t i = 0; i < n_e; i++)
            memcpy(c->moe_x + i * d, c->norm + c->moe_rows[i] * d, sizeof(float) * (size_t)d);
        const struct model_weight g = expert_view(&L->gate_exps, e, ff), u = expert_view(&L->up_exps, e, ff);
        const struct model_weight dn = expert_view(&L->down_exps, e, d);
        const enum model_linear_input in = (enum model_linear_input)(MODEL_IN_EXPERT + 2 * e);
        rc = c->capture ? c->capture(c->capture_ctx, layer, in, c->moe_x, n_e, d) : 0;
        rc = rc ? rc : linear(m, &g, c->moe_x, n_e, d, ff, NULL, c->gate);
        rc = rc ? rc : linear(m, &u, c->moe_x, n_e, d, ff, NULL, c->up);
        if (rc)
            break;
        be->swiglu(c->gate, c->up, n_e * ff);
        rc = c->capture ? c->capture(c->capture_ctx, layer, (enum model_linear_input)(in + 1), c->gate, n_e, ff) : 0;
        rc = rc ? rc : linear(m, &dn, c->gate, n_e, ff, d, NULL, c->proj);
        /* each routed row's output, scaled by its weight, into its slot */
        for (int64_t i = 0; i < n_e && !rc; i++) {
            const int64_t t = c->moe_rows[i];
            int64_t j = 0;
            while (c->moe_sel[t * k + j] != e)
                j++;
            float *dst = c->moe_out + (t * k + j) * d;
            for (int64_t a = 0; a < d; a++)
                dst[a] = c->proj[i * d + a] * c->moe_w[t * k + j];
        }
    }
    if (rc)
        return rc;
    /* slots summed in order (ggml_add of slot 0, 1, ...), then the residual */
    for (int64_t t = 0; t < rows; t++) {
        float *y = c->proj + t * d;
        memcpy(y, c->moe_out + t * k * d, sizeof(float) * (size_t)d);
        for (int64_t j = 1; j < k; j++)
            for (int64_t a = 0; a < d; a++)
                y[a] += c->moe_out[(t * k + j) * d + a];
    }
    be->add(x, c->proj, rows * d);
    return 0;
}

/* The one block sequence behind every public block call. Each step stops the block at the first
 * failure (rc is checked before every call). The sequences go through the linear layers together
 * (a row's result does not depend on the other rows, so a packed weight is dequantized once for
 * all of them), and through RoPE, attention and the capture function one at a time. */
static int block_forward(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_seq,
                         const struct model_seq *seq, int64_t stride)
{
    const struct backend *be = backend_active();
    const struct model_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, hd = hp->head_dim, ff = hp->n_ff;
    const int64_t q = hp->n_head * hd, kv = hp->n_head_kv * hd, rows = seq_row0(seq, stride, n_seq);
    if (layer < 0 || layer >= hp->n_layer || !m->layers[layer].loaded)
        return ig_error_set(IG_EINVAL, "model: block %lld is not loaded", (long long)layer);
    const struct model_layer *L = &m->layers[layer];
    if (rows > c->n_max)
        return ig_error_set(IG_EINVAL, "model: %lld sequences of %lld rows in all, scratch for %lld", (long long)n_seq,
                            (long long)rows, (long long)c->n_max);
    for (int64_t s = 0; s < n_seq; s++) {
        const struct model_seq *sq = &seq[s * stride];
        if (sq->n < 0 || sq->pos0 < 0 || (!sq->k_cache && sq->pos0 != 0) || (!sq->k_cache != !sq->v_cache))
            return ig_error_set(IG_EINVAL, "model: sequence %lld: %lld rows at position %lld, %s", (long long)s,
                                (long long)sq->n, (long long)sq->pos0,
                                sq->k_cache ? "with a key cache" : "without a key/value cache");
    }
    int rc = 0;
    /* attention */
    be->rms_norm(x, rows, d, L->attn_norm, hp->rms_eps, c->norm);
    for (int64_t s = 0; s < n_seq && c->capture && !rc; s++)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_ATTN, c->norm + seq_row0(seq, stride, s) * d,
                        seq[s * stride].n, d);
    if (L->wqkv.f32 || L->wqkv.t) {   /* phi3 */
        rc = rc ? rc : qkv_fused(m, c, L, rows);
    } else {
        rc = rc ? rc : linear(m, &L->wq, c->norm, rows, d, q, L->bq, c->q);
        rc = rc ? rc : linear(m, &L->wk, c->norm, rows, d, kv, L->bk, c->k);
        rc = rc ? rc : linear(m, &L->wv, c->norm, rows, d, kv, L->bv, c->v);
    }
    if (!rc && L->q_norm) {
        /* qwen3: each head of q and of k RMS-normed on its own (llama.cpp's build_norm over
         * [head_dim, n_head, n_tokens]), before RoPE; rows of head_dim, in place */
        be->rms_norm(c->q, rows * hp->n_head, hd, L->q_norm, hp->rms_eps, c->q);
        be->rms_norm(c->k, rows * hp->n_head_kv, hd, L->k_norm, hp->rms_eps, c->k);
    }
    if (!rc) {
        /* sequences side by side, one per thread (each operation's bits do not depend on its
         * thread count); a worker's message would die with its thread */
        struct ig_par_error pe;
        ig_par_error_init(&pe);
#pragma omp parallel for schedule(dynamic, 1) if (n_seq > 1)
        for (int64_t s = 0; s < n_seq; s++) {
            int e = seq_attend(m, c, layer, &seq[s * stride], seq_row0(seq, stride, s));
            if (e)
                ig_par_error_record(&pe, s, e);
        }
        rc = ig_par_error_raise(&pe);
    }
    for (int64_t s = 0; s < n_seq && c->capture && !rc; s++)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_ATTN_OUT, c->attn + seq_row0(seq, stride, s) * q,
                        seq[s * stride].n, q);
    rc = rc ? rc : linear(m, &L->wo, c->attn, rows, q, d, NULL, c->proj);
    if (rc)
        return rc;
    if (L->attn_post_norm)   /* gemma: the attention output is normed before the residual add */
        be->rms_norm(c->proj, rows, d, L->attn_post_norm, hp->rms_eps, c->proj);
    be->add(x, c->proj, rows * d);
    /* feed-forward */
    be->rms_norm(x, rows, d, L->ffn_norm, hp->rms_eps, c->norm);
    for (int64_t s = 0; s < n_seq && c->capture && !rc; s++)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_FFN, c->norm + seq_row0(seq, stride, s) * d,
                        seq[s * stride].n, d);
    if (hp->n_expert > 0)   /* mixtral: the sparse MoE feed-forward, added to x there */
        return rc ? rc : moe_ffn(m, c, L, layer, x, rows);
    if (L->w_gate.f32 || L->w_gate.t) {
        rc = rc ? rc : linear(m, &L->w_gate, c->norm, rows, d, ff, NULL, c->gate);
        rc = rc ? rc : linear(m, &L->w_up, c->norm, rows, d, ff, NULL, c->up);
    } else {   /* phi3: gate and up fused in ffn_up */
        rc = rc ? rc : gate_up_fused(m, c, L, rows);
    }
    if (rc)
        return rc;
    if (m->gemma)
        be->geglu(c->gate, c->up, rows * ff);   /* gelu_tanh(gate) ⊙ up */
    else
        be->swiglu(c->gate, c->up, rows * ff);
    for (int64_t s = 0; s < n_seq && c->capture && !rc; s++)
        rc = c->capture(c->capture_ctx, layer, MODEL_IN_FFN_DOWN, c->gate + seq_row0(seq, stride, s) * ff,
                        seq[s * stride].n, ff);
    rc = rc ? rc : linear(m, &L->w_down, c->gate, rows, ff, d, NULL, c->proj);
    if (rc)
        return rc;
    if (L->ffn_post_norm)   /* gemma: so is the FFN output */
        be->rms_norm(c->proj, rows, d, L->ffn_post_norm, hp->rms_eps, c->proj);
    be->add(x, c->proj, rows * d);
    return 0;
}

int model_block_forward_batch(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_seq,
                              int64_t n)
{
    const struct model_seq seq = {n, 0, NULL, NULL};
    return block_forward(m, c, layer, x, n_seq, &seq, 0);
}

int model_block_forward(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n)
{
    return model_block_forward_batch(m, c, layer, x, 1, n);
}

int model_block_forward_rows(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_new,
                             int64_t pos0, float *k_cache, float *v_cache)
{
    const struct model_seq seq = {n_new, pos0, k_cache, v_cache};
    return block_forward(m, c, layer, x, 1, &seq, 1);
}

int model_block_forward_seqs(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_seq,
                             const struct model_seq *seq)
{
    return block_forward(m, c, layer, x, n_seq, seq, 1);
}

int model_output(const struct model *m, struct model_ctx *c, const float *x, int64_t n, float *logits)
{
    const struct backend *be = backend_active();
    if (!m->output.f32 && !m->output.t)
        return ig_error_set(IG_EINVAL, "model_output: the model was created streamed (no output projection)");
    if (n > c->n_max)
        return ig_error_set(IG_EINVAL, "model_output: %lld rows, scratch for %lld", (long long)n, (long long)c->n_max);
    be->rms_norm(x, n, m->hp.n_embd, m->output_norm, m->hp.rms_eps, c->norm);
    int rc = linear(m, &m->output, c->norm, n, m->hp.n_embd, m->hp.n_vocab, NULL, logits);
    if (m->output.t)
        file_map_drop_pages(m->output.t->data, m->output.t->size_bytes);
    if (!rc && m->hp.final_softcap > 0)   /* gemma's final logit soft-capping */
        be->softcap(logits, n * m->hp.n_vocab, m->hp.final_softcap);
    return rc;
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
