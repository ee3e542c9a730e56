/* driver.c — the sequential block-by-block calibration driver (see calib.h).
 *
 * Per block, per group of linears (q/k/v, o, gate/up, down): capture the group's input on
 * every sample, accumulate H = XᵀX/N, optionally fold AWQ scales and clip, quantize, and
 * put the dequantized weights back into the model before the next group runs. XᵀX goes
 * through the backend (backend.h), whose sums have a fixed order, so H, and every byte
 * that follows from it, is the same whatever the thread count or the machine.
 */
#include "calib.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../kernels/backend.h"
#include "../quantizers/awq.h"
#include "../quantizers/quant_type.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* awq_round's coordinate-descent passes; on tl3m Q4_0, 3 reach all but 0.4% of what 10 do */
#define AWQ_ROUND_SWEEPS 3

/* The groups of a block, in the order the block computes their inputs. */
static const struct {
    enum model_linear_input input;
    const char *linears[3];
} groups[] = {
    {MODEL_IN_ATTN, {"attn_q.weight", "attn_k.weight", "attn_v.weight"}},
    {MODEL_IN_ATTN_OUT, {"attn_output.weight", NULL, NULL}},
    {MODEL_IN_FFN, {"ffn_gate.weight", "ffn_up.weight", NULL}},
    {MODEL_IN_FFN_DOWN, {"ffn_down.weight", NULL, NULL}},
};

/* The linears of group gi: phi3 keeps q/k/v fused in attn_qkv and gate/up fused in ffn_up
 * (as llama.cpp keeps them), so its groups have one linear each. NULL past the
 * group's last. */
static const char *group_linear(const struct model_hparams *hp, int gi, int k)
{
    static const char *const phi3[4] = {"attn_qkv.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight"};
    if (strcmp(hp->arch, "phi3") == 0)
        return k == 0 ? phi3[gi] : NULL;
    return groups[gi].linears[k];
}

/* Row offset of the rows that produce group gi's input inside the fused producer (phi3: v's
 * rows after q's and k's in attn_qkv, up's after gate's in ffn_up), else 0. */
static int64_t fused_row0(const struct model_hparams *hp, enum model_linear_input in)
{
    if (strcmp(hp->arch, "phi3") != 0)
        return 0;
    return in == MODEL_IN_ATTN_OUT ? (hp->n_head + hp->n_head_kv) * hp->head_dim
           : in == MODEL_IN_FFN_DOWN ? hp->n_ff : 0;
}

/* ---- the block arena ------------------------------------------------------------------------- */

/* A block's working memory: one allocation sized up front for the widest group input
 * (dim_max) and the largest linear, carved into named fields, freed in one call. Every
 * block has the same shapes, so one arena serves them all. */
struct block_arena {
    void *base;
    size_t size_bytes;
    double *H;            /* [dim_max][dim_max] the group's XᵀX/N */
    double *abs_sum;      /* [dim_max] Σ |x| per channel (AWQ's x̄) */
    float *Hs;            /* [dim_max][dim_max] one window's XᵀX (float; summed into H in double) */
    float *s, *xbar;      /* [dim_max] AWQ's scales and mean |x| */
    float *imp;           /* [dim_max] importance of the linear being quantized */
    float *orig;          /* [max linear elements] its weights before quantization */
};

static int arena_create(struct block_arena *a, const struct model_hparams *hp)
{
    const int64_t q = hp->n_head * hp->head_dim;
    int64_t dim = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
    dim = q > dim ? q : dim;
    int64_t rows_max = hp->n_ff > q ? hp->n_ff : q;
    if (strcmp(hp->arch, "phi3") == 0) {   /* fused: attn_qkv and gate/up in ffn_up */
        const int64_t qkv = q + 2 * hp->n_head_kv * hp->head_dim;
        rows_max = 2 * hp->n_ff > qkv ? 2 * hp->n_ff : qkv;
    }
    const int64_t lin_max = rows_max * hp->n_embd;
    const size_t dd = (size_t)(dim * dim), d = (size_t)dim;
    /* doubles first, then floats: every field stays aligned to its type */
    a->size_bytes = (dd + d) * sizeof(double) + (dd + 3 * d + (size_t)lin_max) * sizeof(float);
    a->base = ig_malloc(a->size_bytes);
    if (!a->base)
        return ig_error_wrap(IG_ENOMEM, "calib: block arena of %zu bytes (inputs up to %lld wide)", a->size_bytes,
                             (long long)dim);
    a->H = a->base;
    a->abs_sum = a->H + dd;
    a->Hs = (float *)(a->abs_sum + d);
    a->s = a->Hs + dd;
    a->xbar = a->s + d;
    a->imp = a->xbar + d;
    a->orig = a->imp + d;
    return 0;
}

static void arena_destroy(struct block_arena *a)
{
    free(a->base);
    a->base = NULL;
}

/* ---- capture ---------------------------------------------------------------------------------- */

/* What the capture callback collects for the group being calibrated. */
struct capture {
    enum model_linear_input want;
    int64_t layer, dim;
    double *H;            /* [dim][dim], upper triangle accumulated (borrowed: the arena) */
    float *Hs;            /* [dim][dim] one sample's XᵀX (borrowed: the arena) */
    double *abs_sum;      /* [dim] Σ |x| per channel (AWQ's x̄), or NULL (borrowed: the arena) */
    int64_t rows;
};

static int capture_fn(void *ctx, int64_t layer, enum model_linear_input which, const float *X, int64_t n, int64_t dim)
{
    struct capture *c = ctx;
    if (which != c->want || layer != c->layer)
        return 0;
    /* one window's XᵀX in float (a few hundred rows), accumulated across windows in double */
    int rc = backend_active()->syrk_upper(X, n, dim, c->Hs);
    if (rc)
        return rc;
    for (int64_t i = 0; i < dim; i++)
        for (int64_t j = i; j < dim; j++)
            c->H[i * dim + j] += c->Hs[i * dim + j];
    for (int64_t t = 0; c->abs_sum && t < n; t++)
        for (int64_t j = 0; j < dim; j++)
            c->abs_sum[j] += fabs((double)X[t * dim + j]);
    c->rows += n;
    return 0;
}

/* ---- results ------------------------------------------------------------------------------- */

static struct calib_tensor *add_result(struct calib_result *res, const char *name)
{
    struct calib_tensor *v = ig_realloc(res->tensors, (size_t)(res->n_tensors + 1) * sizeof *v);
    if (!v)
        return NULL;
    res->tensors = v;
    struct calib_tensor *t = &v[res->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rel_error = -1;
    t->awq_alpha = -1;
    return t;
}

const struct calib_tensor *calib_result_find(const struct calib_result *res, const char *name)
{
    for (int64_t i = 0; i < res->n_tensors; i++)
        if (strcmp(res->tensors[i].name, name) == 0)
            return &res->tensors[i];
    return NULL;
}

void calib_result_free(struct calib_result *res)
{
    for (int64_t i = 0; res && i < res->n_tensors; i++)
        free(res->tensors[i].data);
    if (res) {
        free(res->tensors);
        memset(res, 0, sizeof *res);
    }
}

/* ---- AWQ folding ------------------------------------------------------------------------------- */

/* Scale the input columns of W [m][n] by s and the inputs' producer by 1/s, so the
 * block computes the same function (the test in tests/quantizers/test_awq.c). */
static void scale_columns(float *W, int64_t m, int64_t n, const float *s)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            W[r * n + j] *= s[j];
}

/* Divide row j of W [rows][cols] by s[j]: the producer's output j then carries x_j / s_j. */
static void unscale_rows(float *W, int64_t rows, int64_t cols, const float *s)
{
    for (int64_t j = 0; j < rows; j++)
        for (int64_t i = 0; i < cols; i++)
            W[j * cols + i] /= s[j];
}

/* Fold s into the layer that produces the group's input; false if it cannot be folded
 * (attention output under grouped-query attention: one v row feeds several heads). */
static bool fold_producer(struct model *m, int64_t l, enum model_linear_input in, const float *s, int64_t dim)
{
    const struct model_hparams *hp = model_hparams(m);
    char name[64];
    int64_t n = 0;
    float *p;
    switch (in) {
    case MODEL_IN_ATTN:
    case MODEL_IN_FFN:
        /* gemma's norms are held as GGUF stores them, 1 + w already: dividing that by s is exact
         * too (no "+1, /s, −1" as on HF's weights) */
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, in == MODEL_IN_ATTN ? "attn_norm.weight" : "ffn_norm.weight");
        p = model_tensor_data(m, name, &n);
        for (int64_t j = 0; j < dim; j++)
            p[j] /= s[j];
        return true;
    case MODEL_IN_FFN_DOWN:   /* up's output row j feeds down's column j (gate's silu does not commute) */
        snprintf(name, sizeof name, "blk.%lld.ffn_up.weight", (long long)l);
        unscale_rows(model_tensor_data(m, name, &n) + fused_row0(hp, in) * hp->n_embd, dim, hp->n_embd, s);
        return true;
    case MODEL_IN_ATTN_OUT:
        if (hp->n_head != hp->n_head_kv)
            return false;
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, fused_row0(hp, in) ? "attn_qkv.weight" : "attn_v.weight");
        unscale_rows(model_tensor_data(m, name, &n) + fused_row0(hp, in) * hp->n_embd, dim, hp->n_embd, s);
        snprintf(name, sizeof name, "blk.%lld.attn_v.bias", (long long)l);   /* qwen2 */
        p = model_tensor_data(m, name, &n);
        for (int64_t j = 0; p && j < dim; j++)
            p[j] /= s[j];
        return true;
    case MODEL_IN_EXPERT:   /* mixtral's experts share ffn_norm with the router: not folded */
        return false;
    }
    return false;
}

/* ---- one group ----------------------------------------------------------------------------------- */

struct group_ctx {
    struct model *m;
    const struct calib_opts *o;
    struct calib_result *res;
    int64_t layer;
    int64_t step, n_steps;   /* progress within the block (calib_opts.on_step) */
    struct block_arena *arena;
};

/* Plain rounding of W [m][n] with importance imp into dst; each row by one thread. */
static int quantize_rows(const struct quant_type *qt, const char *name, const float *W, int64_t m, int64_t n,
                         const float *imp, uint8_t *dst)
{
    const size_t row_bytes = quant_row_size_bytes(qt, n);
    struct ig_par_error pe;
    ig_par_error_init(&pe);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < m; r++) {
        if (ig_par_error_skip(&pe, r))
            continue;
        int rc = qt->quantize_row_ref(W + r * n, dst + (size_t)r * row_bytes, n, imp);
        if (rc)
            ig_par_error_record(&pe, r, ig_error_wrap(rc, "calib: tensor '%s' row %lld", name, (long long)r));
    }
    return ig_par_error_raise(&pe);
}

/* One unit of the block's work is done: tell the caller (progress display), if it asked. */
static void report_step(struct group_ctx *g, const char *stage)
{
    g->step++;
    if (g->o->on_step)
        g->o->on_step(g->o->on_step_ctx, g->layer, g->step, g->n_steps, stage);
}

/* Quantize one linear W (in the model) of the group with statistics H; store the result. */
/* Quantize rows [row0, row0 + n_rows) of linear `name` (in the model; n_rows < 0: all of them)
 * with statistics H of its input; the result holds the whole tensor (mixtral's expert stacks are
 * quantized one expert's rows at a time, each with its own H). */
static int quantize_slice(struct group_ctx *g, const char *name, int64_t row0, int64_t n_rows, const double *H,
                          int64_t dim, float alpha)
{
    int64_t n_elems = 0;
    float *W = model_tensor_data(g->m, name, &n_elems);
    int type = g->o->type_of(g->o->type_ctx, name);
    const struct quant_type *qt = quant_type_get(type);
    if (!W || !qt)
        return ig_error_set(IG_EINVAL, "calib: tensor '%s' has no planned quantized type", name);
    /* a float fallback (rows that are no whole block, as llama-quantize's F16) is converted
     * as it is; GPTQ needs a grid */
    const int64_t n = dim, m = n_rows < 0 ? n_elems / dim : n_rows;
    const size_t row_bytes = quant_row_size_bytes(qt, n);
    struct calib_tensor *t = (struct calib_tensor *)calib_result_find(g->res, name);
    float *orig = g->arena->orig, *imp = g->arena->imp;
    if (!t && (t = add_result(g->res, name))) {
        t->type = type;
        t->size_bytes = row_bytes * (size_t)(n_elems / dim);
        t->data = ig_malloc(t->size_bytes);
        t->awq_alpha = alpha;
    }
    if (!t)
        return ig_error_wrap(IG_ENOMEM, "calib: tensor '%s'", name);
    int rc = t->data ? 0 : ig_error_wrap(IG_ENOMEM, "calib: tensor '%s' (%zu bytes)", name, t->size_bytes);
    uint8_t *dst = t->data + (size_t)row0 * row_bytes;
    W += row0 * n;
    n_elems = m * n;
    memcpy(orig, W, (size_t)n_elems * sizeof *orig);
    /* a stack's imatrix entry holds every expert's slice: this one's starts at (row0 / m)·n */
    const int64_t n_mat = (int64_t)(t->size_bytes / row_bytes) / m;
    const float *given = g->o->method == CALIB_RTN && g->o->imatrix ? imatrix_find(g->o->imatrix, name, n * n_mat)
                                                                    : NULL;
    given = given ? given + row0 / m * n : NULL;
    for (int64_t j = 0; j < n; j++)
        imp[j] = given ? given[j] : (float)H[j * n + j];
    const bool gptq = g->o->method == CALIB_GPTQ || g->o->method == CALIB_AWQ_GPTQ;
    if (!rc && gptq && qt->block_elems > 1) {
        struct gptq_report rep;
        rc = gptq_quantize(W, m, n, H, type, &g->o->gptq, dst, &rep);
        t->damp_used = rep.damp_used;
        g->res->damp_raised += rep.damp_raised;
    } else if (!rc && g->o->method == CALIB_AWQ && qt->block_elems > 1) {
        rc = awq_round(H, orig, m, n, imp, type, 20, 10, AWQ_ROUND_SWEEPS, dst);
    } else if (!rc) {
        rc = quantize_rows(qt, name, orig, m, n, imp, dst);
    }
    if (rc && (gptq || g->o->method == CALIB_AWQ) && qt->block_elems > 1)
        rc = ig_error_wrap(rc, "tensor '%s'", name);   /* GPTQ and awq_round do not know it */
    if (!rc) {
        /* the model continues with the dequantized weights */
        for (int64_t r = 0; r < m; r++)
            qt->dequantize_row_ref(dst + (size_t)r * row_bytes, W + r * n, n);
        /* a stack's figure is its worst expert's */
        const double e = gptq_relative_error(orig, W, m, n, H);
        t->rel_error = row0 == 0 || e > t->rel_error ? e : t->rel_error;
    }
    return rc;
}

static int quantize_linear(struct group_ctx *g, const char *name, const double *H, int64_t dim, float alpha)
{
    return quantize_slice(g, name, 0, -1, H, dim, alpha);
}

static int64_t group_dim(const struct model_hparams *hp, int gi)
{
    return groups[gi].input == MODEL_IN_FFN_DOWN ? hp->n_ff
           : groups[gi].input == MODEL_IN_ATTN_OUT ? hp->n_head * hp->head_dim : hp->n_embd;
}

/* Run the block on every sample and collect group gi's input: H = XᵀX / N (both
 * triangles) and, with abs_sums, Σ |x| per channel. */
static int capture_input(struct group_ctx *g, enum model_linear_input input, int64_t dim, const char *stage,
                         const float *hidden, int64_t n_samples, int64_t seq_len, struct model_ctx *ctx, float *x,
                         bool abs_sums, struct capture *c);

static int capture_group(struct group_ctx *g, int gi, const float *hidden, int64_t n_samples, int64_t seq_len,
                         struct model_ctx *ctx, float *x, bool abs_sums, struct capture *c)
{
    const struct model_hparams *hp = model_hparams(g->m);
    char stage[96];
    snprintf(stage, sizeof stage, "capturing the input of %s%s", group_linear(hp, gi, 0),
             group_linear(hp, gi, 1) ? " and its group" : "");
    return capture_input(g, groups[gi].input, group_dim(hp, gi), stage, hidden, n_samples, seq_len, ctx, x, abs_sums,
                         c);
}

/* The same for any input of the block (an expert's), dim wide. A mixtral expert no sample routes
 * a row to keeps H = 0 and c->rows = 0. */
static int capture_input(struct group_ctx *g, enum model_linear_input input, int64_t dim, const char *stage,
                         const float *hidden, int64_t n_samples, int64_t seq_len, struct model_ctx *ctx, float *x,
                         bool abs_sums, struct capture *c)
{
    const struct model_hparams *hp = model_hparams(g->m);
    struct block_arena *a = g->arena;
    *c = (struct capture){input, g->layer, dim, a->H, a->Hs, abs_sums ? a->abs_sum : NULL, 0};
    memset(c->H, 0, (size_t)(dim * dim) * sizeof *c->H);
    if (c->abs_sum)
        memset(c->abs_sum, 0, (size_t)dim * sizeof *c->abs_sum);
    model_ctx_set_capture(ctx, capture_fn, c);
    int rc = 0;
    for (int64_t k = 0; k < n_samples && !rc; k++) {
        memcpy(x, hidden + k * seq_len * hp->n_embd, (size_t)(seq_len * hp->n_embd) * sizeof *x);
        rc = model_block_forward(g->m, ctx, g->layer, x, seq_len);
        report_step(g, stage);
    }
    model_ctx_set_capture(ctx, NULL, NULL);
    if (rc)
        return ig_error_wrap(rc, "calib: block %lld", (long long)g->layer);
    for (int64_t i = 0; i < dim && c->rows > 0; i++)
        for (int64_t j = i; j < dim; j++)
            c->H[j * dim + i] = c->H[i * dim + j] /= (double)c->rows;
    return 0;
}

static const char *linear_name(const struct model *m, char *buf, size_t size, int64_t layer, int gi, int k)
{
    snprintf(buf, size, "blk.%lld.%s", (long long)layer, group_linear(model_hparams(m), gi, k));
    return buf;
}

/* AWQ for group gi on the float model: search and fold the scales, then (before GPTQ)
 * clip. Returns the chosen exponent in *alpha (-1 when the scales cannot be folded). */
static int awq_group(struct group_ctx *g, int gi, struct capture *c, float *alpha)
{
    struct model *m = g->m;
    const int64_t dim = c->dim;
    struct awq_linear lin[3];
    int n_lin = 0, rc = 0;
    char name[64];
    for (int k = 0; k < 3 && group_linear(model_hparams(m), gi, k); k++) {
        int64_t ne = 0;
        lin[n_lin].W = model_tensor_data(m, linear_name(m, name, sizeof name, g->layer, gi, k), &ne);
        lin[n_lin].m = ne / dim;
        n_lin++;
    }
    float *s = g->arena->s, *xbar = g->arena->xbar;
    for (int64_t j = 0; j < dim; j++)
        xbar[j] = (float)(c->abs_sum[j] / (double)c->rows);
    int type = g->o->type_of(g->o->type_ctx, linear_name(m, name, sizeof name, g->layer, gi, 0));
    struct awq_result ar;
    *alpha = -1.0f;
    /* `awq` ends in the importance-weighted rounding, `awq+gptq` in GPTQ's plain grid */
    rc = awq_search_scale(c->H, xbar, dim, lin, n_lin, type, g->o->awq_grid > 0 ? g->o->awq_grid : 20,
                          g->o->method == CALIB_AWQ, s, &ar);
    if (rc)   /* the search names a channel of the group's input: name the group's first linear */
        rc = ig_error_wrap(rc, "tensor '%s'", linear_name(m, name, sizeof name, g->layer, gi, 0));
    if (!rc && fold_producer(m, g->layer, groups[gi].input, s, dim)) {
        *alpha = ar.alpha;
        for (int k = 0; k < n_lin; k++)
            scale_columns((float *)lin[k].W, lin[k].m, dim, s);
        for (int64_t i = 0; i < dim; i++)      /* the input is now X / s */
            for (int64_t j = 0; j < dim; j++)
                c->H[i * dim + j] /= (double)s[i] * (double)s[j];
    }
    /* clipping before GPTQ, except for q and k, whose errors the softmax amplifies
     * (AutoAWQ); `awq` clips inside its final rounding (awq_round) */
    for (int k = 0; k < n_lin && !rc && g->o->method == CALIB_AWQ_GPTQ && !g->o->awq_fold_only; k++) {
        if (groups[gi].input == MODEL_IN_ATTN && k < 2)
            continue;
        type = g->o->type_of(g->o->type_ctx, linear_name(m, name, sizeof name, g->layer, gi, k));
        rc = awq_search_clip(c->H, dim, lin[k].W, lin[k].m, type, 20, 10, (float *)lin[k].W);
        if (rc)
            rc = ig_error_wrap(rc, "tensor '%s'", name);
    }
    return rc;
}

/* One block: AWQ over all groups on the float weights (when asked), then each group
 * captured again and quantized in order, so later groups see the quantized earlier ones. */
/* mixtral's experts, after the attention groups: for each expert e, its gate and up rows with
 * the statistics of the rows routed to it, then its down rows with those of its own down input
 * (which its quantized gate and up produced). No AWQ folding: ffn_norm feeds the router and
 * every expert, so one expert's scales cannot go into it; AWQ's rounding still weighs the
 * channels by the expert's own statistics. An expert no sample reaches is rounded plainly. */
static int run_experts(struct group_ctx *g, const float *hidden, int64_t n_samples, int64_t seq_len,
                       struct model_ctx *ctx, float *x)
{
    const struct model_hparams *hp = model_hparams(g->m);
    static const char *const kinds[3] = {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"};
    int rc = 0;
    for (int64_t e = 0; e < hp->n_expert && !rc; e++) {
        for (int part = 0; part < 2 && !rc; part++) {   /* 0: gate and up, 1: down */
            const int64_t dim = part == 0 ? hp->n_embd : hp->n_ff, rows = part == 0 ? hp->n_ff : hp->n_embd;
            char stage[96], name[64];
            snprintf(stage, sizeof stage, "capturing expert %lld's %s input", (long long)e, part ? "down" : "gate/up");
            struct capture c;
            rc = capture_input(g, (enum model_linear_input)(MODEL_IN_EXPERT + 2 * e + part), dim, stage, hidden,
                               n_samples, seq_len, ctx, x, false, &c);
            struct calib_opts plain = *g->o;
            struct group_ctx gp = *g;
            /* no statistics: round to nearest (rtn keeps its imatrix's slice, as write_tensor would) */
            if (c.rows == 0 && !(g->o->method == CALIB_RTN && g->o->imatrix)) {
                plain.method = CALIB_RTN;
                plain.imatrix = NULL;
                gp.o = &plain;
            }
            for (int k = part == 0 ? 0 : 2; k < (part == 0 ? 2 : 3) && !rc; k++) {
                snprintf(name, sizeof name, "blk.%lld.%s", (long long)g->layer, kinds[k]);
                rc = quantize_slice(&gp, name, e * rows, rows, c.H, dim, -1.0f);
            }
        }
        report_step(g, "quantized an expert");
    }
    return rc;
}

static int run_block(struct group_ctx *g, const float *hidden, int64_t n_samples, int64_t seq_len,
                     struct model_ctx *ctx, float *x)
{
    const bool awq = g->o->method == CALIB_AWQ || g->o->method == CALIB_AWQ_GPTQ;
    /* mixtral: the dense FFN groups are its experts (run_experts) */
    const int n_groups = model_hparams(g->m)->n_expert > 0 ? 2 : 4;
    float alpha[4] = {-1, -1, -1, -1};
    int rc = 0;
    for (int gi = 0; gi < n_groups && awq && !rc; gi++) {
        struct capture c;
        rc = capture_group(g, gi, hidden, n_samples, seq_len, ctx, x, true, &c);
        if (!rc)
            rc = awq_group(g, gi, &c, &alpha[gi]);
    }
    for (int gi = 0; gi < n_groups && !rc && !g->o->awq_fold_only; gi++) {
        struct capture c;
        rc = capture_group(g, gi, hidden, n_samples, seq_len, ctx, x, false, &c);
        for (int k = 0; k < 3 && group_linear(model_hparams(g->m), gi, k) && !rc; k++) {
            char name[64];
            rc = quantize_linear(g, linear_name(g->m, name, sizeof name, g->layer, gi, k), c.H, c.dim, alpha[gi]);
            report_step(g, name);
        }
    }
    if (!rc && n_groups == 2 && !g->o->awq_fold_only)
        rc = run_experts(g, hidden, n_samples, seq_len, ctx, x);
    return rc;
}

/* The float tensors AWQ's folding changed (the norms, and v's bias when o's scales went
 * into v) are written as F32 tensors of the result. */
static int export_folded(struct model *m, int64_t l, struct calib_result *res)
{
    static const char *folded[] = {"attn_norm.weight", "ffn_norm.weight", "attn_v.bias"};
    for (int k = 0; k < 3; k++) {
        char name[64];
        int64_t n = 0;
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, folded[k]);
        float *p = model_tensor_data(m, name, &n);
        if (!p)
            continue;   /* no bias */
        struct calib_tensor *t = add_result(res, name);
        if (!t)
            return IG_ENOMEM;
        t->type = GGML_TYPE_F32;
        t->size_bytes = (size_t)n * sizeof(float);
        t->data = ig_malloc(t->size_bytes);
        if (!t->data)
            return IG_ENOMEM;
        memcpy(t->data, p, t->size_bytes);
    }
    return 0;
}

/* ---- the driver ------------------------------------------------------------------------------------ */

int calib_run(struct model *m, const int32_t *samples, int64_t n_samples, int64_t seq_len, const struct calib_opts *o,
              struct calib_result *res)
{
    const struct model_hparams *hp = model_hparams(m);
    memset(res, 0, sizeof *res);
    struct model_ctx *ctx = NULL;
    struct block_arena arena = {0};
    float *hidden = ig_malloc((size_t)(n_samples * seq_len * hp->n_embd) * sizeof *hidden);
    float *x = ig_malloc((size_t)(seq_len * hp->n_embd) * sizeof *x);
    int rc = hidden && x ? model_ctx_create(&ctx, m, seq_len) : IG_ENOMEM;
    if (!rc)
        rc = arena_create(&arena, hp);
    for (int64_t k = 0; k < n_samples && !rc; k++)
        rc = model_embed(m, samples + k * seq_len, seq_len, hidden + k * seq_len * hp->n_embd);
    struct group_ctx g = {m, o, res, 0, 0, 0, &arena};
    const bool awq = o->method == CALIB_AWQ || o->method == CALIB_AWQ_GPTQ;
    /* a block's steps: every window through each capture pass (AWQ's search adds one pass per
     * group), the 7 linears, and the windows through the quantized block */
    const int64_t n_linears = hp->n_expert > 0 ? 4 + hp->n_expert : strcmp(hp->arch, "phi3") == 0 ? 4 : 7;
    /* mixtral: the attention groups' passes (AWQ's too), then two per expert */
    const int64_t n_passes = hp->n_expert > 0 ? (o->awq_fold_only ? 2 : awq ? 4 : 2) + (o->awq_fold_only ? 0 : 2 * hp->n_expert)
                             : o->awq_fold_only ? 4 : awq ? 8 : 4;
    for (int64_t l = 0; l < hp->n_layer && !rc; l++) {
        g.layer = l;
        g.step = 0;
        g.n_steps = n_passes * n_samples + (o->awq_fold_only ? 0 : n_linears) + n_samples;
        rc = model_layer_load(m, l);
        if (!rc)
            rc = run_block(&g, hidden, n_samples, seq_len, ctx, x);
        if (!rc && awq)
            rc = export_folded(m, l, res);
        /* the next block's input: this block's output with its quantized weights */
        for (int64_t k = 0; k < n_samples && !rc; k++) {
            rc = model_block_forward(m, ctx, l, hidden + k * seq_len * hp->n_embd, seq_len);
            report_step(&g, "running the windows through the quantized block");
        }
        model_layer_release(m, l);   /* its packed rows are in res now */
        if (o->on_block)
            o->on_block(o->on_block_ctx, l + 1, hp->n_layer);
    }
    model_ctx_destroy(ctx);
    arena_destroy(&arena);
    free(hidden);
    free(x);
    if (rc)
        calib_result_free(res);
    return rc;
}
