/* calib.h — calibration: the corpus, its seeded windows, and the sequential block-by-block
 * driver that GPTQ and AWQ run in.
 *
 * The driver follows GPTQ's reference: the samples are embedded once; then for each block,
 * for each group of its linear layers in the order the block uses them (q/k/v, o,
 * gate/up, down: "true sequential"), the block is run on every sample to capture that
 * group's input X, XᵀX is accumulated (fp64), AWQ (if asked) searches and folds its
 * scales and clips, and the group is quantized (GPTQ, or the type's reference quantizer
 * weighted by diag(XᵀX)); the quantized weights replace the float ones, so the next group
 * and the next block see the outputs of the *quantized* model. Memory: with a model from
 * model_create_streamed, the embeddings, one block's fp32 weights (loaded before the block,
 * released after it), the samples' hidden states, one group's XᵀX and the packed results.
 * Architectures: phi3's groups are its fused linears (attn_qkv, attn_output, ffn_up holding
 * gate and up, ffn_down; AWQ folds into the v and up rows of the fused producers); mixtral's
 * FFN is its experts, each calibrated on the rows the router sends it (gate/up, then down),
 * with no AWQ folding (ffn_norm feeds the router and every expert).
 */
#ifndef CALIB_H
#define CALIB_H

#include "../formats/imatrix.h"
#include "../formats/vocab.h"
#include "../model/llama.h"
#include "../quantizers/gptq.h"

#include <stdint.h>

/* ---- corpus --------------------------------------------------------------------------------- */

struct calib_corpus {
    int32_t *tokens;       /* [n_tokens] owned: the whole text, tokenized without BOS */
    int64_t n_tokens;
    uint64_t xxh3;         /* xxh3-64 of the corpus bytes (files concatenated in name order) */
    uint64_t n_bytes;
    int n_files;
};

/* Read a text file, or every .txt file of a folder in name order, and tokenize it with v.
 * Returns 0 or IG_EINVAL (missing, empty, no .txt files) / IG_ENOMEM. */
int calib_corpus_load(struct calib_corpus *c, const char *path, const struct vocab *v);
void calib_corpus_free(struct calib_corpus *c);

/* n_samples windows of seq_len tokens at offsets drawn with a seeded generator
 * (splitmix64), as GPTQ's reference draws them; the first token of each window is
 * replaced by bos when bos >= 0. samples is [n_samples][seq_len], caller-owned.
 * Returns IG_EINVAL if the corpus is shorter than one window. */
int calib_corpus_sample(const struct calib_corpus *c, int64_t n_samples, int64_t seq_len, uint64_t seed,
                        int32_t bos, int32_t *samples);

/* ---- the driver --------------------------------------------------------------------------- */

enum calib_method {
    CALIB_GPTQ = 1,        /* GPTQ onto the planned type */
    CALIB_AWQ = 2,         /* AWQ scales, then awq_round (clip candidates chosen on XᵀX) */
    CALIB_AWQ_GPTQ = 3,    /* AWQ scales and AutoAWQ's clipping, then GPTQ */
    CALIB_RTN = 4,         /* the reference quantizer weighted by `imatrix` (or diag(XᵀX)):
                              what llama-quantize writes with that imatrix, plus the report */
};

/* The planned ggml type of a block tensor (e.g. "blk.0.ffn_down.weight"), or -1. */
typedef int (*calib_type_fn)(void *ctx, const char *name);

struct calib_opts {
    int method;                      /* enum calib_method */
    struct gptq_opts gptq;
    int awq_grid;                    /* scale grid points (20) */
    int awq_fold_only;               /* AWQ: search and fold the scales, then stop (no clipping,
                                        no quantization): the model must compute what it did */
    const struct imatrix *imatrix;   /* CALIB_RTN: the importance per tensor, or NULL */
    calib_type_fn type_of;
    void *type_ctx;
    void (*on_block)(void *ctx, int64_t done, int64_t total);
    void *on_block_ctx;
    /* Progress within block `layer`, on the calling thread: step done of total (window
     * forwards and linear quantizations), stage says what just ran. NULL: none. */
    void (*on_step)(void *ctx, int64_t layer, int64_t done, int64_t total, const char *stage);
    void *on_step_ctx;
};

/* What the driver produced for one tensor. */
struct calib_tensor {
    char name[64];
    int type;                        /* ggml type of data */
    uint8_t *data;                   /* owned: packed rows (or fp32 for folded norms) */
    size_t size_bytes;
    double rel_error;                /* ‖WX − ŴX‖/‖WX‖ on the calibration inputs; -1 for norms */
    float damp_used;                 /* GPTQ's damping (0 for other methods) */
    float awq_alpha;                 /* AWQ's chosen exponent (-1 when not searched) */
};

struct calib_result {
    int64_t n_tensors;
    struct calib_tensor *tensors;    /* owned */
    int64_t damp_raised;             /* GPTQ factorisations that needed more damping */
};

/* Run the driver over samples [n_samples][seq_len] on m (whose weights it modifies).
 * Returns 0, IG_EINVAL (a planned type without a grid, ...), IG_ENOMEM. */
int calib_run(struct model *m, const int32_t *samples, int64_t n_samples, int64_t seq_len, const struct calib_opts *o,
              struct calib_result *res);

/* The tensor named name, or NULL. */
const struct calib_tensor *calib_result_find(const struct calib_result *res, const char *name);

void calib_result_free(struct calib_result *res);

#endif /* CALIB_H */
