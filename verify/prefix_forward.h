/* prefix_forward.h — the logits of several continuations that share a token prefix, with the
 * prefix evaluated once: what llama-perplexity gets from its KV cache when the four HellaSwag
 * endings share their context's cells.
 *
 * prefix_eval runs tokens[0 .. n_prefix) through every block and keeps each block's keys
 * (after RoPE) and values; prefix_eval_branch then runs only a continuation's tokens, at
 * positions n_prefix .., each block attending to the kept prefix and to the continuation
 * itself. The blocks are model/llama.c's (model_block_forward, same backend operations in the
 * same order; attention with the CPU reference's arithmetic), so each row's logits equal
 * model_forward's on the whole sequence on the CPU backend, up to GEMM rounding on another
 * (tests/verify/test_prefix_forward.c bounds the difference). Architectures or settings this file does not reproduce make prefix_ctx_create
 * return IG_EINVAL, and the caller falls back to model_forward.
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
 * Returns 0, IG_EINVAL (a model this file cannot reproduce: not "llama"/"qwen2", rope
 * scaling, a weight it cannot find) or IG_ENOMEM. */
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
