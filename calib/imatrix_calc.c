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

/* phi3 keeps q/k/v and gate/up fused (attn_qkv, ffn_up), one weight per input (engineer q3p). */
static const char *const phi3_weights_of[4] = {"attn_qkv.weight", "attn_output.weight", "ffn_up.weight",
                                               "ffn_down.weight"};

struct accum {
    int64_t n_layer;
    int64_t dim[4];          /* columns of each input */
    double *sum2[4];         /* [n_layer][dim] per input kind */
    int64_t rows;            /* rows seen per weight (the same for all) */
    bool phi3;
};

/* Each column's sum is taken by one thread over the rows in order: the figures do not
 * depend on the thread count (and X itself comes from the backend's fixed-order GEMM). */
static int capture(void *ctx, int64_t layer, enum model_linear_input which, const float *X, int64_t n, int64_t dim)
{
    struct accum *a = ctx;
    if ((int)which > MODEL_IN_FFN_DOWN)   /* an expert's input: models with experts are refused */
        return 0;
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

static int export_entries(struct imatrix *im, const struct accum *a)
{
    int64_t max_dim = 0;
    for (int k = 0; k < 4; k++)
        max_dim = a->dim[k] > max_dim ? a->dim[k] : max_dim;
    float *tmp = ig_malloc((size_t)max_dim * sizeof *tmp);
    int rc = tmp ? 0 : IG_ENOMEM;
    for (int64_t l = 0; l < a->n_layer && !rc; l++) {
        for (int k = 0; k < 4 && !rc; k++) {
            for (int64_t j = 0; j < a->dim[k]; j++)
                tmp[j] = (float)a->sum2[k][l * a->dim[k] + j];
            for (int w = 0; w < (a->phi3 ? 1 : 3) && weights_of[k][w] && !rc; w++) {
                char name[96];
                snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, a->phi3 ? phi3_weights_of[k] : weights_of[k][w]);
                rc = imatrix_add(im, name, tmp, a->dim[k], (float)a->rows);
            }
        }
    }
    free(tmp);
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
    if (hp->n_expert > 0)   /* mixtral: each expert's sums would need the rows routed to it */
        return ig_error_set(IG_EINVAL, "imatrix: a model with %lld experts per block (mixtral) is not supported yet: "
                            "its importance matrix needs per-expert statistics", (long long)hp->n_expert);
    struct accum a = {hp->n_layer, {hp->n_embd, hp->n_head * hp->head_dim, hp->n_embd, hp->n_ff}, {0}, 0,
                      strcmp(hp->arch, "phi3") == 0};
    int rc = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        a.sum2[k] = ig_calloc((size_t)(hp->n_layer * a.dim[k]), sizeof(double));
        rc = a.sum2[k] ? 0 : IG_ENOMEM;
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
    return rc;
}
