/* prefix_forward.h — the logits of several continuations that share a token prefix, with the
 * prefix evaluated once: what llama-perplexity gets from its KV cache when the four HellaSwag
 * endings share their context's cells.
 *
 * prefix_eval runs tokens[0 .. n_prefix) through every block and keeps each block's keys
 * (after RoPE) and values; prefix_eval_branch then runs only a continuation's tokens, at
 * positions n_prefix .., each block attending to the kept prefix and to the continuation
 * itself. Each block is model/llama.c's model_block_forward_rows (model_block_forward's call
 * sequence on the new rows, over cached keys and values; resident or packed weights), so each
 * row's logits equal model_forward's on the whole sequence bit for bit on the CPU backend
 * (tests/verify/test_prefix_forward.c). On a packed or streamed model every block must be loaded
 * (model_layer_load) while a prefix_ctx evaluates.
 */
#ifndef VERIFY_PREFIX_FORWARD_H
#define VERIFY_PREFIX_FORWARD_H

#include "../model/llama.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct prefix_ctx;   /* opaque: per-block key/value cache and scratch for one thread */

/* Scratch for sequences of up to n_max tokens on model m (borrowed; must outlive it).
 * Returns 0 or IG_ENOMEM. */
int prefix_ctx_create(struct prefix_ctx **out, const struct model *m, int64_t n_max);
void prefix_ctx_destroy(struct prefix_ctx *p);

/* Evaluate tokens[0 .. n_prefix) (1 <= n_prefix < n_max) and keep its keys and values;
 * logits_last [n_vocab] = the logits of row n_prefix − 1. Returns 0, IG_EINVAL (bad token)
 * or the backend's error. */
int prefix_eval(struct prefix_ctx *p, const int32_t *tokens, int64_t n_prefix, float *logits_last);

/* After prefix_eval with the same n_prefix: evaluate tokens[n_prefix .. n) (n <= n_max) and
 * set logits [n − n_prefix][n_vocab] to the logits of rows n_prefix .. n−1. tokens[0 .. n_prefix)
 * must be the prefix evaluated. Branches may follow one another; the prefix stays. */
int prefix_eval_branch(struct prefix_ctx *p, const int32_t *tokens, int64_t n_prefix, int64_t n, float *logits);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_PREFIX_FORWARD_H */
