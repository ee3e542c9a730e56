/* prefix_forward.c — llama blocks with a key/value cache, so a shared prefix is evaluated once
 * (prefix_forward.h). Each block is model/llama.c's model_block_forward_rows on the new rows only:
 * the same call sequence as the whole window's, attention over the cached keys and values.
 */
#include "prefix_forward.h"

#include "../common/ig_error.h"

#include <stdlib.h>

struct prefix_ctx {
    const struct model *m;
    struct model_ctx *mc;          /* the blocks' and model_output's scratch */
    int64_t n_max;
    float **K, **V;                /* [n_layer] x [n_max][n_head_kv·head_dim], keys after RoPE */
    float *x;                      /* [n_max][n_embd] */
};

/* ---- set-up ---------------------------------------------------------------------------------- */

int prefix_ctx_create(struct prefix_ctx **out, const struct model *m, int64_t n_max)
{
    *out = NULL;
    const struct model_hparams *hp = model_hparams(m);
    struct prefix_ctx *p = ig_calloc(1, sizeof *p);
    if (!p)
        return IG_ENOMEM;
    p->m = m;
    p->n_max = n_max;
    const size_t n = (size_t)n_max, kv = (size_t)(hp->n_head_kv * hp->head_dim);
    p->K = ig_calloc((size_t)hp->n_layer, sizeof *p->K);
    p->V = ig_calloc((size_t)hp->n_layer, sizeof *p->V);
    p->x = ig_malloc(n * (size_t)hp->n_embd * sizeof(float));
    int rc = p->K && p->V && p->x ? 0 : IG_ENOMEM;
    for (int64_t l = 0; l < hp->n_layer && !rc; l++)
        if (!(p->K[l] = ig_malloc(n * kv * sizeof(float))) || !(p->V[l] = ig_malloc(n * kv * sizeof(float))))
            rc = IG_ENOMEM;
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
    for (int64_t l = 0; l < model_hparams(p->m)->n_layer; l++) {
        free(p->K ? p->K[l] : NULL);
        free(p->V ? p->V[l] : NULL);
    }
    free(p->K);
    free(p->V);
    model_ctx_destroy(p->mc);
    free(p->x);
    free(p);
}

/* ---- rows pos0 .. pos0 + n_new through every block ------------------------------------------------ */

static int run(struct prefix_ctx *p, const int32_t *tokens, int64_t pos0, int64_t n_new)
{
    int rc = model_embed(p->m, tokens + pos0, n_new, p->x);
    for (int64_t l = 0; l < model_hparams(p->m)->n_layer && !rc; l++)
        rc = model_block_forward_rows(p->m, p->mc, l, p->x, n_new, pos0, p->K[l], p->V[l]);
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
