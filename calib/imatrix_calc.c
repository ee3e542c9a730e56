/* imatrix_calc.c — Σx² per input column of every block weight (see imatrix_calc.h).
 * Sums are kept in double and stored as float, so the order of accumulation does not
 * matter to the result's precision. */
#include "imatrix_calc.h"

#include "../common/ig_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weights fed by each linear input (model_linear_input order). */
static const char *const weights_of[4][3] = {
    {"attn_q.weight", "attn_k.weight", "attn_v.weight"},
    {"attn_output.weight", NULL, NULL},
    {"ffn_gate.weight", "ffn_up.weight", NULL},
    {"ffn_down.weight", NULL, NULL},
};

/* phi3 keeps q/k/v and gate/up fused (attn_qkv, ffn_up), one weight per input. */
static const char *const phi3_weights_of[4] = {"attn_qkv.weight", "attn_output.weight", "ffn_up.weight",
                                               "ffn_down.weight"};

/* mixtral's stacks: the gate/up input feeds ffn_gate_exps and ffn_up_exps, the down input
 * ffn_down_exps; each expert's slice sums the rows the router sent it. The router itself
 * (ffn_gate_inp) is a plain weight over every row of the FFN input, as llama-imatrix collects
 * it (a MUL_MAT over all tokens). */
static const char *const expert_weights_of[2][2] = {
    {"ffn_gate_exps.weight", "ffn_up_exps.weight"},
    {"ffn_down_exps.weight", NULL},
};

struct accum {
    int64_t n_layer;
    int64_t dim[4];          /* columns of each input */
    double *sum2[4];         /* [n_layer][dim] per input kind */
    int64_t rows;            /* rows seen per weight (the same for all) */
    bool phi3;
    int64_t n_expert;        /* mixtral: experts per block; 0 for a dense model */
    int64_t xdim[2];         /* columns of an expert's gate/up input and of its down input */
    double *xsum2[2];        /* [n_layer][n_expert][xdim] */
    int64_t *xrows[2];       /* [n_layer][n_expert]: rows routed to each expert */
};

/* An expert's input: the rows routed to it, added to its sums one row at a time in row order
 * (a window batch hands over several windows' rows in one call, in window order, so the
 * additions are the same whatever the batch), each column by one thread. */
static void capture_expert(struct accum *a, int64_t layer, int which, const float *X, int64_t n, int64_t dim)
{
    const int64_t e = (which - MODEL_IN_EXPERT) / 2, part = (which - MODEL_IN_EXPERT) % 2;
    double *s = a->xsum2[part] + (layer * a->n_expert + e) * dim;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < dim; j++)
        for (int64_t t = 0; t < n; t++)
            s[j] += (double)X[t * dim + j] * (double)X[t * dim + j];
    a->xrows[part][layer * a->n_expert + e] += n;
}

/* Each column's sum is taken by one thread over the rows in order: the figures do not
 * depend on the thread count (and X itself comes from the backend's fixed-order GEMM). */
static int capture(void *ctx, int64_t layer, enum model_linear_input which, const float *X, int64_t n, int64_t dim)
{
    struct accum *a = ctx;
    if ((int)which >= MODEL_IN_EXPERT) {
        if ((int)which - MODEL_IN_EXPERT >= 2 * a->n_expert || dim != a->xdim[((int)which - MODEL_IN_EXPERT) % 2])
            return ig_error_set(IG_EINVAL, "imatrix: block %lld: an expert input (%d) of %lld columns that the model "
                                "does not have", (long long)layer, (int)which, (long long)dim);
        capture_expert(a, layer, (int)which, X, n, dim);
        return 0;
    }
    double *s = a->sum2[which] + layer * dim;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < dim; j++) {
        double acc = 0.0;
        for (int64_t t = 0; t < n; t++)
            acc += (double)X[t * dim + j] * (double)X[t * dim + j];
        s[j] += acc;
    }
    if (layer == 0 && which == MODEL_IN_ATTN)
        a->rows += n;
    return 0;
}

/* Layer l's stacks of experts: sum2 [n_expert][xdim] and a count per expert. */
static int export_experts(struct imatrix *im, const struct accum *a, int64_t l, float *tmp, float *counts)
{
    int rc = 0;
    for (int part = 0; part < 2 && !rc; part++) {
        const int64_t dim = a->xdim[part], n = a->n_expert * dim;
        for (int64_t i = 0; i < n; i++)
            tmp[i] = (float)a->xsum2[part][l * n + i];
        for (int64_t e = 0; e < a->n_expert; e++)
            counts[e] = (float)a->xrows[part][l * a->n_expert + e];
        for (int w = 0; w < 2 && expert_weights_of[part][w] && !rc; w++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, expert_weights_of[part][w]);
            rc = imatrix_add_stack(im, name, tmp, dim, a->n_expert, counts);
        }
    }
    return rc;
}

static int export_entries(struct imatrix *im, const struct accum *a)
{
    int64_t max_dim = 0;
    for (int k = 0; k < 4; k++)
        max_dim = a->dim[k] > max_dim ? a->dim[k] : max_dim;
    for (int part = 0; part < 2 && a->n_expert > 0; part++)
        max_dim = a->n_expert * a->xdim[part] > max_dim ? a->n_expert * a->xdim[part] : max_dim;
    float *tmp = ig_malloc((size_t)max_dim * sizeof *tmp);
    float *counts = ig_malloc((size_t)(a->n_expert > 0 ? a->n_expert : 1) * sizeof *counts);
    int rc = tmp && counts ? 0 : IG_ENOMEM;
    for (int64_t l = 0; l < a->n_layer && !rc; l++) {
        /* a model with experts has no dense FFN: its FFN input feeds the router alone */
        for (int k = 0; k < (a->n_expert > 0 ? 3 : 4) && !rc; k++) {
            for (int64_t j = 0; j < a->dim[k]; j++)
                tmp[j] = (float)a->sum2[k][l * a->dim[k] + j];
            for (int w = 0; w < (a->phi3 ? 1 : 3) && weights_of[k][w] && !rc; w++) {
                char name[96];
                const char *wname = a->phi3 ? phi3_weights_of[k] : weights_of[k][w];
                if (a->n_expert > 0 && k == MODEL_IN_FFN)
                    wname = w == 0 ? "ffn_gate_inp.weight" : NULL;
                if (!wname)
                    break;
                snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, wname);
                rc = imatrix_add(im, name, tmp, a->dim[k], (float)a->rows);
            }
        }
        if (!rc && a->n_expert > 0)
            rc = export_experts(im, a, l, tmp, counts);
    }
    free(tmp);
    free(counts);
    return rc;
}

int imatrix_compute(struct imatrix *im, struct model *m, const int32_t *tokens, int64_t n_tokens,
                    const struct imatrix_calc_opts *o)
{
    const struct model_hparams *hp = model_hparams(m);
    int64_t n_chunks = n_tokens / o->n_ctx;
    if (o->max_chunks > 0 && o->max_chunks < n_chunks)
        n_chunks = o->max_chunks;
    if (n_chunks < 1)
        return ig_error_set(IG_EINVAL, "imatrix: the text has %lld tokens, fewer than one window of %lld",
                            (long long)n_tokens, (long long)o->n_ctx);
    struct accum a = {hp->n_layer, {hp->n_embd, hp->n_head * hp->head_dim, hp->n_embd, hp->n_ff}, {0}, 0,
                      strcmp(hp->arch, "phi3") == 0, hp->n_expert > 0 ? hp->n_expert : 0, {hp->n_embd, hp->n_ff},
                      {0}, {0}};
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        a.sum2[k] = ig_calloc((size_t)(hp->n_layer * a.dim[k]), sizeof(double));
        rc = a.sum2[k] ? 0 : IG_ENOMEM;
    }
    for (int part = 0; part < 2 && a.n_expert > 0 && !rc; part++) {
        a.xsum2[part] = ig_calloc((size_t)(hp->n_layer * a.n_expert * a.xdim[part]), sizeof(double));
        a.xrows[part] = ig_calloc((size_t)(hp->n_layer * a.n_expert), sizeof(int64_t));
        rc = a.xsum2[part] && a.xrows[part] ? 0 : IG_ENOMEM;
    }
    const int64_t wb = o->window_batch < 1 ? 1 : o->window_batch > n_chunks ? n_chunks : o->window_batch;
    const int64_t n = o->n_ctx, d = hp->n_embd;
    struct model_ctx *c = NULL;
    int32_t *window = ig_malloc((size_t)n * sizeof *window);
    float *x = ig_malloc((size_t)(wb * n * d) * sizeof *x);   /* [wb][n][d] */
    if (!rc)
        rc = window && x ? model_ctx_create(&c, m, wb * n) : IG_ENOMEM;
    if (!rc)
        model_ctx_set_capture(c, capture, &a);
    for (int64_t k0 = 0; k0 < n_chunks && !rc; k0 += wb) {
        const int64_t nb = n_chunks - k0 < wb ? n_chunks - k0 : wb;
        for (int64_t w = 0; w < nb && !rc; w++) {
            memcpy(window, tokens + (k0 + w) * n, (size_t)n * sizeof *window);
            if (o->bos >= 0)
                window[0] = o->bos;
            rc = model_embed(m, window, n, x + w * n * d);
        }
        /* per block: every window of the batch, capture in window order */
        for (int64_t l = 0; l < hp->n_layer && !rc; l++) {
            rc = model_layer_load(m, l);
            rc = rc ? rc : model_block_forward_batch(m, c, l, x, nb, n);
            model_layer_release(m, l);
        }
        for (int64_t w = 0; w < nb && o->on_chunk; w++)
            o->on_chunk(o->on_chunk_ctx, k0 + w + 1, n_chunks);
    }
    if (!rc) {
        im->chunk_count = n_chunks;
        im->chunk_size = o->n_ctx;
        rc = export_entries(im, &a);
    }
    model_ctx_destroy(c);
    free(window);
    free(x);
    for (int k = 0; k < 4; k++)
        free(a.sum2[k]);
    for (int part = 0; part < 2; part++) {
        free(a.xsum2[part]);
        free(a.xrows[part]);
    }
    return rc;
}
