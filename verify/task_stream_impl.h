/* task_stream_impl.h — verify/ only: the block-streamed task scorer (task_stream.c) and the
 * per-option scoring it shares with tasks.c. */
#ifndef VERIFY_TASK_STREAM_IMPL_H
#define VERIFY_TASK_STREAM_IMPL_H

#include "tasks.h"

/* Accumulate option o's scores from its logits rows: row(pos) predicts ids[pos + 1], for pos in
 * first .. n−2; rows before rows_from are `last`, rows[0] is position rows_from. (tasks.c) */
void task_score_rows(const struct task_tokens *o, int64_t cp, int64_t n_vocab, const float *last, const float *rows,
                     int64_t first, int64_t rows_from, struct task_option_score *s);

/* The shared-prefix length of item i: min(cp, every option's n_ctx). (tasks.c) */
int64_t task_item_prefix(const struct task_prepared *p, int64_t i);

/* Score every item of p on packed model m with items in batches advancing through the blocks
 * together: each block is loaded once per batch, runs the batch's shared prefixes and then
 * every option's rest over the prefix's keys and values (model_block_forward_seqs), and is
 * released (its file pages given back); then the output rows. The same bits as the per-item
 * scorer. out->opt must be allocated. Returns 0 or the first error (lowest item first). */
int task_score_streamed(struct model *m, const struct task_prepared *p, struct task_scores *out,
                        task_progress_fn progress, void *progress_ctx);

#endif /* VERIFY_TASK_STREAM_IMPL_H */
