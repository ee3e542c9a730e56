/* verify.h — how far a container drifted from its source: perplexity, KL divergence,
 * top-token agreement, computed the way llama.cpp's llama-perplexity computes them.
 *
 * Perplexity (llama-perplexity's perplexity()): the whole text is tokenized once with BOS;
 * chunk k is tokens [k·n_ctx, (k+1)·n_ctx) with its first token replaced by BOS; only the
 * second half is scored: logits at positions n_ctx/2 .. n_ctx-2 predict the next token.
 * PPL = exp(mean NLL), ± = PPL·sqrt(var(NLL)/(N-1)).
 * KL divergence, per scored token: Σ_i p_src(i) (log p_src(i) − log p_q(i)) in double,
 * over the full vocabulary (llama.cpp stores the source log-probs as 16-bit codes clamped
 * 16 nats below the top; ingot keeps them exact — the source logits of one chunk are
 * computed next to each container's, so nothing is written to disk).
 */
#ifndef VERIFY_H
#define VERIFY_H

#include "../formats/model_src.h"
#include "../model/llama.h"
#include "../model/tensor_f32.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Running statistics of one model over the scored tokens. */
struct ppl_stats {
    double nll_sum, nll2_sum;   /* Σ nll, Σ nll² */
    int64_t n;                  /* scored tokens */
};

/* Per-container comparison with the source. */
struct kld_stats {
    struct ppl_stats ppl;
    double kld_sum, kld2_sum;
    double dp_sum, dp2_sum;     /* Δp = p_q(correct) − p_src(correct) */
    int64_t same_top;
    float *kld;                 /* [capacity] per-token KLD, for median and percentiles */
    int64_t capacity;
    /* llama.cpp's ln(PPL ratio) covariance terms */
    double nll_src_sum, nll_src2_sum, nll_cross_sum;
};

/* The summary a report prints. */
struct kld_summary {
    double ppl, ppl_stderr, ppl_ratio, ppl_ratio_stderr;
    double kld_mean, kld_mean_stderr, kld_median, kld_p99, kld_max;
    double same_top_pct, same_top_stderr_pct;
    double dp_rms, dp_mean;
};

/* log-softmax helpers over one row of n_vocab logits: returns max and log Σ exp(l - max). */
void verify_logsumexp(const float *logits, int64_t n_vocab, float *max_out, double *lse_out);

/* Accumulate one scored token of the source model. */
void ppl_stats_add(struct ppl_stats *s, double nll);
/* PPL and its ± (delta method, as llama-perplexity). */
void ppl_stats_result(const struct ppl_stats *s, double *ppl, double *stderr_out);

int kld_stats_init(struct kld_stats *s, int64_t capacity);
void kld_stats_free(struct kld_stats *s);
/* One scored position compared: what kld_stats accumulates. */
struct kld_token {
    double nll_q, nll_src;    /* −log p of the correct token */
    double kld;               /* Σ p_src (log p_src − log p_q) */
    double dp;                /* p_q(correct) − p_src(correct) */
    int same_top;             /* argmax equal */
};

/* Compare one position: source and container logits rows, correct next token tok. */
void kld_token_compute(const float *src_logits, const float *q_logits, int64_t n_vocab, int32_t tok,
                       struct kld_token *out);
/* Accumulate one compared position (in a fixed order, so sums do not depend on threads). */
void kld_stats_push(struct kld_stats *s, const struct kld_token *t);
/* kld_token_compute followed by kld_stats_push. */
void kld_stats_add(struct kld_stats *s, const float *src_logits, const float *q_logits, int64_t n_vocab, int32_t tok);
void kld_stats_summarize(struct kld_stats *s, struct kld_summary *out);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_H */

#ifndef VERIFY_RUN_DECLS
#define VERIFY_RUN_DECLS
#ifdef __cplusplus
extern "C" {
#endif

/* One container under test. */
struct verify_target {
    struct model *model;        /* borrowed */
    struct kld_stats stats;     /* filled by verify_perplexity */
};

struct verify_opts {
    int64_t n_ctx;              /* window length (llama-perplexity -c) */
    int64_t max_chunks;         /* <= 0: every whole window of the text */
    int32_t bos;                /* replaces the first token of each window; < 0: no BOS */
    void (*on_chunk)(void *ctx, int64_t done, int64_t total);  /* progress, or NULL */
    void *on_chunk_ctx;
    /* The streamed path also calls this (with on_chunk_ctx) after each block of a batch:
     * windows_done counts the batch's windows by the share of blocks done, so a display moves
     * while one batch holds every window; block is 1 .. n_blocks. NULL: not called. */
    void (*on_block)(void *ctx, double windows_done, int64_t total, int64_t block, int64_t n_blocks);
};

/* Number of windows verify_perplexity will score for n_tokens tokens. */
int64_t verify_n_chunks(int64_t n_tokens, const struct verify_opts *o);

/* Score the source and every target on the same windows of tokens. The targets' stats
 * must be initialised by the caller (kld_stats_init with capacity >= scored tokens).
 * Returns 0, IG_EINVAL (fewer than 2 windows of text, vocabularies that differ, a token
 * outside a vocabulary) or IG_ENOMEM. */
int verify_perplexity(const struct model *source, struct ppl_stats *source_stats, struct verify_target *targets,
                      int n_targets, const int32_t *tokens, int64_t n_tokens, const struct verify_opts *o);

/* Tokens scored per window: n_ctx - 1 - n_ctx/2. */
int64_t verify_scored_per_chunk(int64_t n_ctx);

/* ---- the block-streamed path (stream.c) ----
 * The same figures as verify_perplexity, bit for bit, with the models' weights packed
 * (model_create_packed): the windows of a batch advance through the model one block at a
 * time; block l of the source is loaded, run on every window of the batch, released, then
 * block l of each container, so the source's and each container's hidden states are carried
 * side by side and each block's file pages are read once per batch. Memory: the batch's
 * activations plus one block's packed bytes and a few tiles. */

/* How much memory the streamed path needs: fixed_bytes whatever the batch (the largest block
 * or output projection of any model, the tiles), per_window_bytes for each window of a batch
 * (hidden states of every model, scratch, two models' logits of the scored rows). */
struct verify_mem_plan {
    uint64_t fixed_bytes, per_window_bytes, budget_bytes;
    int64_t window_batch;        /* windows per batch: as many as the budget holds, 1 .. n_chunks */
};

/* Fill p for a budget of budget_bytes and n_chunks windows. */
void verify_mem_plan_make(struct verify_mem_plan *p, const struct model *source, const struct verify_target *targets,
                          int n_targets, int64_t n_ctx, int64_t n_chunks, uint64_t budget_bytes);

/* "2G", "512M", "1.5G", "300000K", "4096" (bytes; K, M, G, T are powers of 1024, an optional
 * trailing B or iB) into *out. Returns 0, or IG_EINVAL naming the text. */
int verify_mem_budget_parse(const char *text, uint64_t *out);

/* The default budget: half of MemAvailable in /proc/meminfo, at most 64 GiB (4 GiB when it
 * cannot be read). */
uint64_t verify_mem_budget_default(void);

/* Rows (prefix and continuation tokens, all items together) per batch of the block-streamed
 * task scorer (task_stream.c), from a memory budget as verify_mem_plan_make sizes windows:
 * 0 (the default) keeps 1024 rows per batch. Process-wide; set before scoring. */
void verify_task_mem_budget_set(uint64_t budget_bytes);

/* verify_perplexity on packed models (source and every targets[i].model from
 * model_create_packed), window_batch windows at a time. Returns as verify_perplexity. */
int verify_perplexity_streamed(struct model *source, struct ppl_stats *source_stats, struct verify_target *targets,
                               int n_targets, const int32_t *tokens, int64_t n_tokens, const struct verify_opts *o,
                               int64_t window_batch);

#ifdef __cplusplus
}
#endif
#endif
