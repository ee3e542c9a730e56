/* stream.c — perplexity and KL divergence with the models' weights packed, block by block
 * (verify.h: the block-streamed path).
 *
 * Per batch of windows: every model embeds the windows (one embedding row per token from the
 * file); then for each block l, the source's block l is loaded, run on all windows of the
 * batch at once (model_block_forward_batch: a packed weight is dequantized once per batch),
 * released (its file pages given back), then each container's. At the end the scored rows of
 * every window go through the final norm and the output projection together, and the per-token
 * NLL / KLD are computed exactly as perplexity.c computes them and accumulated in window order.
 * Every operation's bits are independent of how rows are grouped and of the thread count, so
 * the figures equal the resident path's.
 */
#include "verify.h"

#include "../common/ig_error.h"
#include "perplexity_impl.h"

#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* det_gemm's W-row tile in matmul_rows (kernels/cpu/cpu_ops.c), for the memory plan */
#define PLAN_TILE_ROWS 64

/* ---- memory ------------------------------------------------------------------------------ */

int verify_mem_budget_parse(const char *text, uint64_t *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (!end || end == text || !isfinite(v) || v <= 0 || !isdigit((unsigned char)text[0]))
        return ig_error_set(IG_EINVAL, "--mem-budget '%s': expected a size such as 2G, 512M or 1500000000", text);
    double unit = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': unit = 1024.0; end++; break;
    case 'M': unit = 1024.0 * 1024; end++; break;
    case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
    case 'T': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (unit > 1 && toupper((unsigned char)end[0]) == 'I' && toupper((unsigned char)end[1]) == 'B')
        end += 2;
    else if (toupper((unsigned char)*end) == 'B')
        end++;
    if (*end != '\0' || v * unit < 1 || v * unit > 1e18)
        return ig_error_set(IG_EINVAL, "--mem-budget '%s': expected a size such as 2G, 512M or 1500000000", text);
    *out = (uint64_t)(v * unit);
    return 0;
}

uint64_t verify_mem_budget_default(void)
{
    const uint64_t cap = 64ull << 30, fallback = 4ull << 30;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return fallback;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    if (kb == 0)
        return fallback;
    uint64_t half = (uint64_t)kb * 1024 / 2;
    return half < cap ? half : cap;
}

void verify_mem_plan_make(struct verify_mem_plan *p, const struct model *source, const struct verify_target *targets,
                          int n_targets, int64_t n_ctx, int64_t n_chunks, uint64_t budget_bytes)
{
    const struct model_hparams *hp = model_hparams(source);
    const uint64_t d = (uint64_t)hp->n_embd, ff = (uint64_t)hp->n_ff, V = (uint64_t)hp->n_vocab;
    const uint64_t q = (uint64_t)(hp->n_head * hp->head_dim), kv = (uint64_t)(hp->n_head_kv * hp->head_dim);
    const uint64_t n = (uint64_t)n_ctx, scored = (uint64_t)verify_scored_per_chunk(n_ctx);
    uint64_t block = 0;
    for (int i = -1; i < n_targets; i++) {
        const struct model *m = i < 0 ? source : targets[i].model;
        for (int64_t l = -1; l < hp->n_layer; l++) {
            uint64_t b = model_block_size_bytes(m, l);
            block = b > block ? b : block;
        }
    }
    const uint64_t widest = ff > d ? ff : d;
    p->fixed_bytes = block + (uint64_t)omp_get_max_threads() * PLAN_TILE_ROWS * widest * sizeof(float);
    p->per_window_bytes = sizeof(float) * ((uint64_t)(1 + n_targets) * n * d   /* hidden states */
                                           + n * (2 * d + 2 * q + 2 * kv + 2 * ff)   /* block scratch */
                                           + 2 * scored * V + scored * d)            /* logits, rows */
                          + scored * (sizeof(double) + (uint64_t)n_targets * sizeof(struct kld_token)) +
                          n * sizeof(int32_t);
    p->budget_bytes = budget_bytes;
    uint64_t room = budget_bytes > p->fixed_bytes ? budget_bytes - p->fixed_bytes : 0;
    int64_t b = (int64_t)(room / p->per_window_bytes);
    p->window_batch = b < 1 ? 1 : b > n_chunks ? n_chunks : b;
}

/* ---- one batch ------------------------------------------------------------------------------ */

/* The buffers of one batch of nb windows, carved at the largest batch. */
struct batch {
    int n_models;                /* the source (0) and the targets (1 ..) */
    struct model **models;       /* [n_models] borrowed */
    struct model_ctx *ctx;       /* scratch for window_batch x n_ctx rows (shapes are the source's) */
    int32_t *windows;            /* [window_batch][n_ctx], BOS first */
    float **x;                   /* [n_models] -> [window_batch][n_ctx][n_embd] hidden states */
    float *rows;                 /* [window_batch][n_scored][n_embd] the scored rows of one model */
    float *src_logits, *q_logits;   /* [window_batch][n_scored][n_vocab] */
    double *nll_src;             /* [window_batch][n_scored] */
    struct kld_token *cmp;       /* [window_batch][n_targets][n_scored] */
    int *win_rc;                 /* [window_batch] a bad logit's failure, per window */
    char (*win_msg)[IG_ERROR_MAX];
};

static void batch_free(struct batch *b)
{
    model_ctx_destroy(b->ctx);
    for (int i = 0; b->x && i < b->n_models; i++)
        free(b->x[i]);
    free(b->x);
    free(b->windows);
    free(b->rows);
    free(b->src_logits);
    free(b->q_logits);
    free(b->nll_src);
    free(b->cmp);
    free(b->win_rc);
    free(b->win_msg);
    free(b->models);
}

static int batch_alloc(struct batch *b, struct model *source, struct verify_target *targets, int n_targets,
                       int64_t n_ctx, int64_t wb)
{
    const struct model_hparams *hp = model_hparams(source);
    const size_t ns = (size_t)verify_scored_per_chunk(n_ctx), w = (size_t)wb, n = (size_t)n_ctx;
    memset(b, 0, sizeof *b);
    b->n_models = 1 + n_targets;
    b->models = ig_calloc((size_t)b->n_models, sizeof *b->models);
    b->x = ig_calloc((size_t)b->n_models, sizeof *b->x);
    if (!b->models || !b->x)
        return IG_ENOMEM;
    b->models[0] = source;
    for (int i = 0; i < n_targets; i++)
        b->models[1 + i] = targets[i].model;
    for (int i = 0; i < b->n_models; i++)
        if (!(b->x[i] = ig_malloc(w * n * (size_t)hp->n_embd * sizeof(float))))
            return IG_ENOMEM;
    b->windows = ig_malloc(w * n * sizeof *b->windows);
    b->rows = ig_malloc(w * ns * (size_t)hp->n_embd * sizeof *b->rows);
    b->src_logits = ig_malloc(w * ns * (size_t)hp->n_vocab * sizeof(float));
    b->q_logits = ig_malloc(w * ns * (size_t)hp->n_vocab * sizeof(float));
    b->nll_src = ig_malloc(w * ns * sizeof *b->nll_src);
    b->cmp = ig_malloc(w * ns * (size_t)(n_targets ? n_targets : 1) * sizeof *b->cmp);
    b->win_rc = ig_calloc(w, sizeof *b->win_rc);
    b->win_msg = ig_calloc(w, sizeof *b->win_msg);
    if (!b->windows || !b->rows || !b->src_logits || !b->q_logits || !b->nll_src || !b->cmp || !b->win_rc ||
        !b->win_msg)
        return IG_ENOMEM;
    return model_ctx_create(&b->ctx, source, wb * n_ctx);
}

/* Every model's hidden states of the nb windows from window k0 on, through every block, one block
 * in memory, telling o's on_block after each block. */
static int batch_forward(struct batch *b, int64_t k0, int64_t nb, int64_t n_ctx, int64_t n_chunks,
                         const struct verify_opts *o)
{
    const struct model_hparams *hp = model_hparams(b->models[0]);
    const int64_t d = hp->n_embd;
    int rc = 0;
    for (int i = 0; i < b->n_models && !rc; i++)
        for (int64_t w = 0; w < nb && !rc; w++)
            rc = model_embed(b->models[i], b->windows + w * n_ctx, n_ctx, b->x[i] + w * n_ctx * d);
    for (int64_t l = 0; l < hp->n_layer && !rc; l++)
        for (int i = 0; i < b->n_models && !rc; i++) {
            rc = model_layer_load(b->models[i], l);
            rc = rc ? rc : model_block_forward_batch(b->models[i], b->ctx, l, b->x[i], nb, n_ctx);
            model_layer_release(b->models[i], l);
            /* the output projection and scoring count as one more block's share */
            if (!rc && i == b->n_models - 1 && o->on_block)
                o->on_block(o->on_chunk_ctx, (double)k0 + (double)nb * (double)(l + 1) / (double)(hp->n_layer + 1),
                            n_chunks, l + 1, hp->n_layer);
        }
    return rc;
}

/* The scored rows of model i's nb windows through its final norm and output projection. */
static int batch_logits(struct batch *b, int i, int64_t nb, int64_t n_ctx, float *logits)
{
    const int64_t d = model_hparams(b->models[0])->n_embd, first = n_ctx / 2, ns = verify_scored_per_chunk(n_ctx);
    for (int64_t w = 0; w < nb; w++)
        memcpy(b->rows + w * ns * d, b->x[i] + (w * n_ctx + first) * d, (size_t)(ns * d) * sizeof(float));
    return model_output(b->models[i], b->ctx, b->rows, nb * ns, logits);
}

/* Keep window w's first bad logit (source first, then the containers in order, as the resident
 * path checks them). */
static void check_window(struct batch *b, const float *logits, int64_t w, int t, int64_t k0, int64_t n_ctx)
{
    const int64_t n_vocab = model_hparams(b->models[0])->n_vocab, ns = verify_scored_per_chunk(n_ctx);
    if (b->win_rc[w])
        return;
    b->win_rc[w] = verify_check_logits(logits + w * ns * n_vocab, ns, n_vocab, t, k0 + w, n_ctx / 2);
    if (b->win_rc[w])
        snprintf(b->win_msg[w], IG_ERROR_MAX, "%s", ig_error_message());
}

/* Per-token figures of the nb windows, in slots (each token by one thread: no shared sums). */
static int batch_score(struct batch *b, const int32_t *tokens, int64_t k0, int64_t nb, int64_t n_ctx)
{
    const int64_t n_vocab = model_hparams(b->models[0])->n_vocab, first = n_ctx / 2;
    const int64_t ns = verify_scored_per_chunk(n_ctx), n_targets = b->n_models - 1;
    int rc = batch_logits(b, 0, nb, n_ctx, b->src_logits);
    for (int64_t w = 0; w < nb && !rc; w++)
        check_window(b, b->src_logits, w, -1, k0, n_ctx);
#pragma omp parallel for schedule(static) if (!rc)
    for (int64_t r = 0; r < nb * ns; r++) {
        const int64_t w = r / ns, i = r % ns;
        const float *row = b->src_logits + r * n_vocab;
        float max;
        double lse;
        verify_logsumexp(row, n_vocab, &max, &lse);
        b->nll_src[r] = lse - (double)(row[tokens[(k0 + w) * n_ctx + first + 1 + i]] - max);
    }
    for (int t = 0; t < n_targets && !rc; t++) {
        rc = batch_logits(b, 1 + t, nb, n_ctx, b->q_logits);
        for (int64_t w = 0; w < nb && !rc; w++)
            check_window(b, b->q_logits, w, t, k0, n_ctx);
#pragma omp parallel for schedule(static) if (!rc)
        for (int64_t r = 0; r < nb * ns; r++) {
            const int64_t w = r / ns, i = r % ns;
            if (b->win_rc[w])
                continue;
            kld_token_compute(b->src_logits + r * n_vocab, b->q_logits + r * n_vocab, n_vocab,
                              tokens[(k0 + w) * n_ctx + first + 1 + i], &b->cmp[(w * n_targets + t) * ns + i]);
        }
    }
    for (int64_t w = 0; w < nb && !rc; w++)
        if (b->win_rc[w])
            rc = ig_error_set(b->win_rc[w], "%s", b->win_msg[w]);
    return rc;
}

/* ---- all windows ------------------------------------------------------------------------------ */

int verify_perplexity_streamed(struct model *source, struct ppl_stats *source_stats, struct verify_target *targets,
                               int n_targets, const int32_t *tokens, int64_t n_tokens, const struct verify_opts *o,
                               int64_t window_batch)
{
    int rc = verify_check_inputs(source, targets, n_targets, n_tokens, o);
    if (rc)
        return rc;
    const int64_t n_ctx = o->n_ctx, ns = verify_scored_per_chunk(n_ctx), n_chunks = verify_n_chunks(n_tokens, o);
    const int64_t wb = window_batch < 1 ? 1 : window_batch > n_chunks ? n_chunks : window_batch;
    struct batch b;
    rc = batch_alloc(&b, source, targets, n_targets, n_ctx, wb);
    memset(source_stats, 0, sizeof *source_stats);
    for (int64_t k0 = 0; k0 < n_chunks && !rc; k0 += wb) {
        const int64_t nb = n_chunks - k0 < wb ? n_chunks - k0 : wb;
        memcpy(b.windows, tokens + k0 * n_ctx, (size_t)(nb * n_ctx) * sizeof *b.windows);
        for (int64_t w = 0; w < nb; w++) {
            if (o->bos >= 0)
                b.windows[w * n_ctx] = o->bos;   /* llama-perplexity replaces, it does not insert */
            b.win_rc[w] = 0;
        }
        rc = batch_forward(&b, k0, nb, n_ctx, n_chunks, o);
        rc = rc ? rc : batch_score(&b, tokens, k0, nb, n_ctx);
        /* accumulated in window order, as verify_perplexity does */
        for (int64_t w = 0; w < nb && !rc; w++) {
            for (int64_t i = 0; i < ns; i++)
                ppl_stats_add(source_stats, b.nll_src[w * ns + i]);
            for (int t = 0; t < n_targets; t++)
                for (int64_t i = 0; i < ns; i++)
                    kld_stats_push(&targets[t].stats, &b.cmp[(w * n_targets + t) * ns + i]);
        }
        if (o->on_chunk)
            for (int64_t w = 0; w < nb && !rc; w++)
                o->on_chunk(o->on_chunk_ctx, k0 + w + 1, n_chunks);
    }
    batch_free(&b);
    return rc;
}
