/* awq.h — AWQ's two searches (Lin et al., 2023, "AWQ: Activation-aware Weight Quantization
 * for LLM Compression and Acceleration"), as pure functions on float arrays, onto any grid
 * in the type table.
 *
 * The calibration driver captures, per transformer block, the input X [n_tok][n_in] that a
 * group of linears shares (q/k/v after the attention norm, gate/up after the MLP norm, ...),
 * and calls:
 *   1. awq_search_scale: per-input-channel scales s. The driver then folds them: the op
 *      that produces X divides its output channel j by s[j] (norm weight /= s), and every
 *      linear of the group multiplies its column j by s[j], so X·Wᵀ = (X/s)·(W·s)ᵀ and the
 *      float model is unchanged while the salient channels get finer quantization.
 *   2. awq_search_clip: per (output row, block) clipping of the scaled weights, with the
 *      scaled input X/s.
 *   3. the type's ordinary quantizer on the result.
 * Both searches use the type's reference quantize-then-dequantize ("Q", no importance
 * matrix) as the rounding, so what is searched is what an imatrix-free quantization
 * writes, k-quants included.
 *
 * Tokens: both searches score at most max_tokens rows of X, taken evenly strided,
 * X[0], X[k], X[2k], ... with k = ceil(n_tok / max_tokens), so there are ceil(n_tok / k)
 * <= max_tokens of them. AutoAWQ's clip search uses k = max(1, n_tok / 512), which can
 * keep up to 2·512 − 1 rows; ceil keeps the bound a bound. The channel statistic x̄ of the
 * scale search uses every token (it is cheap; AutoAWQ does the same).
 *
 * Threads: the rows are quantized in parallel (OpenMP), each by one thread, each chunk of
 * rows goes through its own cblas_sgemm on that thread, and every sum is taken in a fixed
 * order, so results do not depend on the thread count. As in kernels/cpu (cpu_set_threads),
 * OpenBLAS should be single-threaded: its spinning threads and OpenMP's slow each other
 * down many times over (the results are the same either way).
 */
#ifndef AWQ_H
#define AWQ_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One linear of a group that shares an input. */
struct awq_linear {
    const float *W;  /* [m][n_in], row-major (out x in), fp32; borrowed */
    int64_t m;       /* output rows */
};

/* What the scale search found. */
struct awq_result {
    float alpha;       /* the chosen exponent (0 = plain RTN won) */
    double err_best;   /* mean squared output error at alpha, over the scored tokens */
    double err_plain;  /* the same at alpha = 0 (s = 1: plain RTN) */
};

/* Search the per-input-channel scales s for a group of n_lin linears sharing the input X.
 *   X      [n_tok][n_in], row-major, fp32 (the group's input before scaling)
 *   s_out  [n_in], caller-owned: the chosen s (exactly 1 everywhere if alpha = 0 wins)
 * x̄_j = mean_t |X[t][j]| over all tokens. For alpha = i / n_grid, i = 0 .. n_grid − 1:
 * s_j = max(x̄_j^alpha, 1e-4) (llm-awq's guard: a dead channel does not get s = 0), then
 * s /= sqrt(max(s)·min(s)) (AutoAWQ's normalisation, in double so the product cannot
 * overflow). Each W becomes Q(W·diag(s))·diag(1/s), with Q the type's quantize-then-
 * dequantize row by row; the score is the mean over the scored tokens and all output
 * rows of all linears of (X·Wᵀ − X·Ŵᵀ)², computed as X·(W − Ŵ)ᵀ. The smallest score wins,
 * ties going to the smaller alpha, so err_best <= err_plain always. This is llm-awq's
 * formula, not AutoAWQ's default duo_scaling (which also divides by a weight statistic).
 * Returns 0; IG_EINVAL (unknown type, n_in not a whole number of the type's blocks,
 * n_grid < 1, n_tok, n_in, n_lin, some m or max_tokens < 1, a NULL array, or a non-finite
 * x̄ from NaN or Inf in X), naming the value; or IG_ENOMEM. */
int awq_search_scale(const float *X, int64_t n_tok, int64_t n_in, const struct awq_linear *lin, int n_lin,
                     int type, int n_grid, int64_t max_tokens, float *s_out, struct awq_result *res);

/* Clipping search for one linear (AutoAWQ auto_clip).
 *   X      [n_tok][n_in], row-major, fp32 (the input as the linear will see it, i.e. X/s
 *          after scaling)
 *   W      [m][n_in], row-major, fp32 (W·diag(s) after scaling)
 *   W_out  [m][n_in], caller-owned: the clipped weights; W_out == W clips in place (each
 *          row is read in full before its own row of W_out is written)
 * Groups are the type's blocks along the input (32; 256 for k-quants and NF4; 64/128 for
 * the wider INT groups). For each row r and group g with org_max = max |W[r][g]|, each
 * candidate max_val_i = org_max·(1 − i/n_grid), i = 0 .. n_steps − 1, clamps the group to
 * ±max_val_i (every group of the row at once, as AutoAWQ does) and the row is quantized
 * then dequantized to Ŵ; the group keeps the candidate minimising
 *   Σ_t (X[t][g]·W[r][g] − X[t][g]·Ŵ[r][g])²   over the scored tokens,
 * ties going to the smaller i (i = 0 is no clipping, so a group is clipped only when that
 * strictly helps). The types quantize each block on its own, so the chosen clips together
 * reach every group's minimum: the summed per-group error never exceeds the unclipped one.
 * W_out[r][g] = clamp(W[r][g], ±best max_val); unclipped groups are copied bit for bit.
 * n_grid = 20, n_steps = 10 is AutoAWQ's grid (down to 0.55·org_max).
 * Returns 0; IG_EINVAL (unknown type, n_in not a whole number of blocks, n_grid < 1,
 * n_steps outside 1..n_grid, n_tok, n_in, m or max_tokens < 1, a NULL array), naming the
 * value; or IG_ENOMEM. */
int awq_search_clip(const float *X, int64_t n_tok, int64_t n_in, const float *W, int64_t m, int type,
                    int n_grid, int n_steps, int64_t max_tokens, float *W_out);

#ifdef __cplusplus
}
#endif

#endif /* AWQ_H */
