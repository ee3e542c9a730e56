/* tasks.h — score every option of every task item with one model: the log-likelihood of the
 * option's continuation given its context, as llama-perplexity and lm-eval-harness compute it.
 *
 * Each option is tokenized once, as one text: ids = tokenize(context + continuation) with the
 * vocabulary's BOS (llama_tokenize with add_special). Two ways to cut it:
 *   lm-eval: the continuation is ids[n_ctx ..), n_ctx = |tokenize(context)| (its _encode_pair);
 *     ll_sum = Σ log p(ids[i] | ids[..i)) over those tokens. acc uses ll_sum, its acc_norm
 *     uses ll_sum / continuation bytes, and the greedy flag (every continuation token is the
 *     first argmax) decides LAMBADA.
 *   llama-perplexity (HellaSwag): cp = the longest token prefix shared by every option of the
 *     item; ll_cp_mean = the mean of log p over ids[cp ..) (its acc_norm).
 * The tokens every option of an item shares are evaluated once (prefix_forward.h: a key/value
 * cache, as llama.cpp's unified KV cache shares them), then each option's own tokens; models
 * prefix_forward does not reproduce get one model_forward per option instead. Either way each
 * option sees only itself and the shared prefix, as each of llama.cpp's sequences does. Items
 * run in parallel, one item per thread with single-threaded operations inside; each item's
 * figures land in its own slot, so nothing depends on the thread count. The source's scores are computed once and reused for every
 *   container (task_metrics.h compares them).
 */
#ifndef VERIFY_TASKS_H
#define VERIFY_TASKS_H

#include "task_files.h"

#include "../model/llama.h"
#include "../tokenizer/tokenize.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One option, tokenized. */
struct task_tokens {
    int32_t *ids;       /* [n] BOS + context + continuation, owned */
    int64_t n;
    int64_t n_ctx;      /* lm-eval's split: continuation = ids[n_ctx .. n), 1 <= n_ctx < n */
    int64_t n_bytes;    /* bytes of the continuation text */
};

/* A task set tokenized once for every model (they share the source's tokenizer). */
struct task_prepared {
    const struct task_set *set;        /* borrowed */
    int64_t *offset;                   /* [n_items + 1]: item i's options are opts[offset[i] .. offset[i+1]) */
    struct task_tokens *opts;          /* [offset[n_items]] */
    int64_t *cp;                       /* [n_items] llama.cpp's common prefix, 1 <= cp < every n */
    int64_t max_len;                   /* longest option, in tokens */
};

/* One option's scores under one model. */
struct task_option_score {
    double ll_sum;       /* Σ log p over ids[n_ctx .. n) */
    double ll_cp_mean;   /* mean log p over ids[cp .. n) */
    int greedy;          /* every token of ids[n_ctx .. n) is the first argmax of its row */
};

/* Scores of every option of a prepared set under one model. */
struct task_scores {
    int64_t n_opts;
    struct task_option_score *opt;   /* [n_opts], parallel to task_prepared.opts */
};

/* Tokenize every option of set with tok (add_special). Returns 0, IG_EINVAL naming the file,
 * line and option when a continuation has no token of its own, or IG_ENOMEM. */
int task_prepare(struct task_prepared **out, const struct task_set *set, const struct tokenizer *tok);
void task_prepared_destroy(struct task_prepared *p);

/* Progress callback: items done of total (called on the calling thread, in order). */
typedef void (*task_progress_fn)(void *ctx, int64_t done, int64_t total);

/* Score every option with model m (uses omp_get_max_threads() threads). Resident: items side by
 * side, one per thread. Packed: batches of items advance block by block, each block's file pages
 * given back after it (task_stream.c). The figures are the same bit for bit either way. out->opt is allocated here; free with
 * task_scores_free. Returns 0, or IG_EINVAL (a token outside the model's vocabulary, a block
 * that does not load) or IG_ENOMEM, with the message of the lowest failing item. */
int task_score_model(struct model *m, const struct task_prepared *p, struct task_scores *out,
                     task_progress_fn progress, void *progress_ctx);
void task_scores_free(struct task_scores *s);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_TASKS_H */
