/* perplexity.c — windows of tokens through the source and each container, side by side.
 *
 * For each window the source's logits for the scored half are computed once and compared
 * with every container's before the next window, so memory is two logit blocks of
 * [n_ctx/2][n_vocab] and nothing is written to disk.
 */
#include "verify.h"

#include "../common/ig_error.h"

#include <stdlib.h>
#include <string.h>

int64_t verify_scored_per_chunk(int64_t n_ctx)
{
    return n_ctx - 1 - n_ctx / 2;
}

int64_t verify_n_chunks(int64_t n_tokens, const struct verify_opts *o)
{
    int64_t n = n_tokens / o->n_ctx;
    return o->max_chunks > 0 && o->max_chunks < n ? o->max_chunks : n;
}

static int check_inputs(const struct model *source, struct verify_target *targets, int n_targets, int64_t n_tokens,
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

int verify_perplexity(const struct model *source, struct ppl_stats *source_stats, struct verify_target *targets,
                      int n_targets, const int32_t *tokens, int64_t n_tokens, const struct verify_opts *o)
{
    int rc = check_inputs(source, targets, n_targets, n_tokens, o);
    if (rc)
        return rc;
    const int64_t n_ctx = o->n_ctx, first = n_ctx / 2, n_vocab = model_hparams(source)->n_vocab;
    const int64_t n_rows = n_ctx - first, n_scored = verify_scored_per_chunk(n_ctx);
    const int64_t n_chunks = verify_n_chunks(n_tokens, o);
    struct model_ctx *ctx = NULL;
    int32_t *window = ig_malloc((size_t)n_ctx * sizeof *window);
    float *src_logits = ig_malloc((size_t)(n_rows * n_vocab) * sizeof(float));
    float *q_logits = ig_malloc((size_t)(n_rows * n_vocab) * sizeof(float));
    rc = window && src_logits && q_logits ? model_ctx_create(&ctx, source, n_ctx) : IG_ENOMEM;
    memset(source_stats, 0, sizeof *source_stats);
    for (int64_t k = 0; k < n_chunks && !rc; k++) {
        const int32_t *chunk = tokens + k * n_ctx;
        memcpy(window, chunk, (size_t)n_ctx * sizeof *window);
        if (o->bos >= 0)
            window[0] = o->bos;   /* llama-perplexity replaces, it does not insert */
        if ((rc = model_forward(source, ctx, window, n_ctx, first, src_logits)))
            break;
        for (int64_t i = 0; i < n_scored; i++) {
            float max;
            double lse;
            const float *row = src_logits + i * n_vocab;
            verify_logsumexp(row, n_vocab, &max, &lse);
            ppl_stats_add(source_stats, lse - (double)(row[chunk[first + 1 + i]] - max));
        }
        for (int t = 0; t < n_targets && !rc; t++) {
            if ((rc = model_forward(targets[t].model, ctx, window, n_ctx, first, q_logits)))
                break;
            for (int64_t i = 0; i < n_scored; i++)
                kld_stats_add(&targets[t].stats, src_logits + i * n_vocab, q_logits + i * n_vocab, n_vocab,
                              chunk[first + 1 + i]);
        }
        if (o->on_chunk)
            o->on_chunk(o->on_chunk_ctx, k + 1, n_chunks);
    }
    model_ctx_destroy(ctx);
    free(window);
    free(src_logits);
    free(q_logits);
    return rc;
}
