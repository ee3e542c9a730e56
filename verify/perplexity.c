/* perplexity.c — windows of tokens through the source and each container, side by side.
 *
 * Windows are independent, so they are evaluated in parallel, one window per thread with
 * single-threaded operations inside (like llama-perplexity's parallel sequences): for
 * small models this scales where splitting each small GEMM does not. Each window's
 * per-token figures are kept and accumulated afterwards in window order, so the results
 * do not depend on the thread count. Per thread: the source's logits for the scored half
 * and one container's, [n_ctx/2][n_vocab] each; nothing is written to disk.
 */
#include "verify.h"

#include "../common/ig_error.h"
#include "perplexity_impl.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker {
    struct model_ctx *ctx;
    int32_t *window;         /* [n_ctx] */
    float *src_logits;       /* [n_rows][n_vocab] */
    float *q_logits;         /* [n_rows][n_vocab] */
};

/* Per-window results, accumulated in order after the batch. */
struct window_result {
    double *nll_src;             /* [n_scored] */
    struct kld_token *cmp;       /* [n_targets][n_scored] */
    int rc;
};

int64_t verify_scored_per_chunk(int64_t n_ctx)
{
    return n_ctx - 1 - n_ctx / 2;
}

int64_t verify_n_chunks(int64_t n_tokens, const struct verify_opts *o)
{
    int64_t n = n_tokens / o->n_ctx;
    return o->max_chunks > 0 && o->max_chunks < n ? o->max_chunks : n;
}

int verify_check_inputs(const struct model *source, struct verify_target *targets, int n_targets, int64_t n_tokens,
                        const struct verify_opts *o)
{
    if (o->n_ctx < 4)
        return ig_error_set(IG_EINVAL, "verify: context of %lld tokens is too short (at least 4)", (long long)o->n_ctx);
    if (n_tokens < 2 * o->n_ctx)
        return ig_error_set(IG_EINVAL, "verify: the text has %lld tokens; perplexity needs at least 2 x ctx = %lld",
                            (long long)n_tokens, (long long)(2 * o->n_ctx));
    const struct model_hparams *s = model_hparams(source);
    for (int i = 0; i < n_targets; i++) {
        const struct model_hparams *t = model_hparams(targets[i].model);
        if (t->n_vocab != s->n_vocab || t->n_embd != s->n_embd || t->n_ff != s->n_ff || t->n_head != s->n_head ||
            t->n_head_kv != s->n_head_kv || t->head_dim != s->head_dim || t->n_layer != s->n_layer)
            return ig_error_set(IG_EINVAL,
                                "verify: container %d is not the source's model (vocab %lld, embd %lld, ff %lld, %lld blocks; the source: %lld, %lld, %lld, %lld)",
                                i + 1, (long long)t->n_vocab, (long long)t->n_embd, (long long)t->n_ff,
                                (long long)t->n_layer, (long long)s->n_vocab, (long long)s->n_embd, (long long)s->n_ff,
                                (long long)s->n_layer);
    }
    return 0;
}

/* ---- one window ---------------------------------------------------------------------------- */

int verify_check_logits(const float *logits, int64_t n_rows, int64_t n_vocab, int t, int64_t window, int64_t first)
{
    for (int64_t i = 0; i < n_rows * n_vocab; i++)
        if (!isfinite(logits[i])) {
            char who[32];
            snprintf(who, sizeof who, t < 0 ? "the source" : "container %d", t + 1);
            return ig_error_set(IG_EINVAL,
                                "verify: %s gives a logit of %s (window %lld, position %lld, token id %lld): an "
                                "activation overflowed, so no figure of it would be finite",
                                who, isnan(logits[i]) ? "NaN" : logits[i] > 0 ? "+Inf" : "-Inf", (long long)window,
                                (long long)(first + i / n_vocab), (long long)(i % n_vocab));
        }
    return 0;
}

static int score_window(const struct model *source, struct verify_target *targets, int n_targets, struct worker *w,
                        const int32_t *chunk, int64_t window, const struct verify_opts *o, struct window_result *r)
{
    const int64_t n_ctx = o->n_ctx, first = n_ctx / 2, n_vocab = model_hparams(source)->n_vocab;
    const int64_t n_scored = verify_scored_per_chunk(n_ctx);
    memcpy(w->window, chunk, (size_t)n_ctx * sizeof *w->window);
    if (o->bos >= 0)
        w->window[0] = o->bos;   /* llama-perplexity replaces, it does not insert */
    int rc = model_forward(source, w->ctx, w->window, n_ctx, first, w->src_logits);
    if (!rc)
        rc = verify_check_logits(w->src_logits, n_scored, n_vocab, -1, window, first);
    for (int64_t i = 0; i < n_scored && !rc; i++) {
        float max;
        double lse;
        const float *row = w->src_logits + i * n_vocab;
        verify_logsumexp(row, n_vocab, &max, &lse);
        r->nll_src[i] = lse - (double)(row[chunk[first + 1 + i]] - max);
    }
    for (int t = 0; t < n_targets && !rc; t++) {
        rc = model_forward(targets[t].model, w->ctx, w->window, n_ctx, first, w->q_logits);
        if (!rc)
            rc = verify_check_logits(w->q_logits, n_scored, n_vocab, t, window, first);
        for (int64_t i = 0; i < n_scored && !rc; i++)
            kld_token_compute(w->src_logits + i * n_vocab, w->q_logits + i * n_vocab, n_vocab, chunk[first + 1 + i],
                              &r->cmp[t * n_scored + i]);
    }
    return rc;
}

/* ---- buffers -------------------------------------------------------------------------------- */

static void free_workers(struct worker *w, struct window_result *r, int n)
{
    for (int i = 0; w && i < n; i++) {
        model_ctx_destroy(w[i].ctx);
        free(w[i].window);
        free(w[i].src_logits);
        free(w[i].q_logits);
        free(r[i].nll_src);
        free(r[i].cmp);
    }
    free(w);
    free(r);
}

static int alloc_workers(const struct model *source, int n_targets, const struct verify_opts *o, int n,
                         struct worker **wp, struct window_result **rp)
{
    const int64_t n_rows = o->n_ctx - o->n_ctx / 2, n_vocab = model_hparams(source)->n_vocab;
    const int64_t n_scored = verify_scored_per_chunk(o->n_ctx);
    struct worker *w = ig_calloc((size_t)n, sizeof *w);
    struct window_result *r = ig_calloc((size_t)n, sizeof *r);
    int rc = w && r ? 0 : IG_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        w[i].window = ig_malloc((size_t)o->n_ctx * sizeof(int32_t));
        w[i].src_logits = ig_malloc((size_t)(n_rows * n_vocab) * sizeof(float));
        w[i].q_logits = ig_malloc((size_t)(n_rows * n_vocab) * sizeof(float));
        r[i].nll_src = ig_malloc((size_t)n_scored * sizeof(double));
        r[i].cmp = ig_malloc((size_t)(n_scored * (n_targets ? n_targets : 1)) * sizeof(struct kld_token));
        rc = w[i].window && w[i].src_logits && w[i].q_logits && r[i].nll_src && r[i].cmp
                 ? model_ctx_create(&w[i].ctx, source, o->n_ctx)
                 : IG_ENOMEM;
    }
    *wp = w;
    *rp = r;
    return rc;
}

/* ---- all windows --------------------------------------------------------------------------------- */

int verify_perplexity(const struct model *source, struct ppl_stats *source_stats, struct verify_target *targets,
                      int n_targets, const int32_t *tokens, int64_t n_tokens, const struct verify_opts *o)
{
    int rc = verify_check_inputs(source, targets, n_targets, n_tokens, o);
    if (rc)
        return rc;
    const int64_t n_scored = verify_scored_per_chunk(o->n_ctx), n_chunks = verify_n_chunks(n_tokens, o);
    int n_workers = omp_get_max_threads();
    if (n_workers > n_chunks)
        n_workers = (int)n_chunks;
    struct worker *w = NULL;
    struct window_result *r = NULL;
    rc = alloc_workers(source, n_targets, o, n_workers, &w, &r);
    memset(source_stats, 0, sizeof *source_stats);
    for (int64_t k0 = 0; k0 < n_chunks && !rc; k0 += n_workers) {
        int nb = n_chunks - k0 < n_workers ? (int)(n_chunks - k0) : n_workers;
        struct ig_par_error pe;   /* a worker's message would die with its thread */
        ig_par_error_init(&pe);
#pragma omp parallel for num_threads(nb) schedule(static, 1)
        for (int b = 0; b < nb; b++) {
            r[b].rc = score_window(source, targets, n_targets, &w[b], tokens + (k0 + b) * o->n_ctx, k0 + b, o, &r[b]);
            if (r[b].rc)
                ig_par_error_record(&pe, b, r[b].rc);
        }
        for (int b = 0; b < nb && !rc; b++) {
            rc = r[b].rc ? ig_par_error_raise(&pe) : 0;
            for (int64_t i = 0; i < n_scored && !rc; i++)
                ppl_stats_add(source_stats, r[b].nll_src[i]);
            for (int t = 0; t < n_targets && !rc; t++)
                for (int64_t i = 0; i < n_scored; i++)
                    kld_stats_push(&targets[t].stats, &r[b].cmp[t * n_scored + i]);
        }
        if (o->on_chunk)
            for (int b = 0; b < nb; b++)
                o->on_chunk(o->on_chunk_ctx, k0 + b + 1, n_chunks);
    }
    free_workers(w, r, n_workers);
    return rc;
}
