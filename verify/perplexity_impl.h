/* perplexity_impl.h — what perplexity.c (the resident path) and stream.c (the block-streamed
 * path) share, so both refuse the same inputs and name the same bad logit. verify/ only. */
#ifndef VERIFY_PERPLEXITY_IMPL_H
#define VERIFY_PERPLEXITY_IMPL_H

#include "verify.h"

/* Context long enough, text of at least two windows, every target the source's shape.
 * Returns 0 or IG_EINVAL with the message. */
int verify_check_inputs(const struct model *source, struct verify_target *targets, int n_targets, int64_t n_tokens,
                        const struct verify_opts *o);

/* A NaN or Inf logit would turn every figure into NaN: name the first one of logits
 * [n_rows][n_vocab] (t < 0: the source, else container t + 1, as verify_check_inputs counts
 * them; rows are positions first.. of window). Returns 0 or IG_EINVAL. */
int verify_check_logits(const float *logits, int64_t n_rows, int64_t n_vocab, int t, int64_t window, int64_t first);

#endif /* VERIFY_PERPLEXITY_IMPL_H */
