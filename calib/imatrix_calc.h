/* imatrix_calc.h — the importance matrix of a model over calibration text: for every
 * weight of every block, the mean squared activation of each input column (diag(XᵀX)/N),
 * computed the way llama-imatrix does: the text tokenized with BOS, cut into windows of
 * n_ctx tokens whose first token is replaced by BOS, every row of every window counted.
 * q/k/v share one input, as do gate/up; each weight still gets its own entry, as in
 * llama.cpp's files. The windows go through the model window_batch at a time, block by block
 * (model_layer_load / model_layer_release around each block), so a model from
 * model_create_packed holds one block's packed bytes; the statistics are added window by
 * window in order whatever the batch, so the bytes do not depend on it.
 * mixtral: the router (ffn_gate_inp) gets a plain entry over every row of the FFN input; the
 * stacks ffn_gate_exps / ffn_up_exps / ffn_down_exps get n_in · n_expert values and a count
 * per expert, each expert's sums over exactly the rows the router sent it (the model's own
 * routing, seen through its capture hook: MODEL_IN_EXPERT + 2e, + 2e + 1), as llama-imatrix
 * collects a MUL_MAT_ID. An expert no row reached keeps count 0 (imatrix.h: importance 1).
 */
#ifndef IMATRIX_CALC_H
#define IMATRIX_CALC_H

#include "../formats/imatrix.h"
#include "../model/llama.h"

#include <stdint.h>

struct imatrix_calc_opts {
    int64_t n_ctx;
    int64_t max_chunks;      /* <= 0: all whole windows */
    int32_t bos;             /* < 0: no replacement */
    int64_t window_batch;    /* windows per pass through the blocks; <= 0: 1 */
    void (*on_chunk)(void *ctx, int64_t done, int64_t total);
    void *on_chunk_ctx;
};

/* Run the model over tokens and fill im (initially empty). Returns 0, IG_EINVAL (text
 * shorter than one window), a weight's error (packed: a NaN) or IG_ENOMEM. */
int imatrix_compute(struct imatrix *im, struct model *m, const int32_t *tokens, int64_t n_tokens,
                    const struct imatrix_calc_opts *o);

#endif /* IMATRIX_CALC_H */
