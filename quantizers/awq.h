/* awq.h — AWQ (Lin et al., 2023, "AWQ: Activation-aware Weight Quantization for LLM
 * Compression and Acceleration") as pure functions on float arrays, onto any grid in the
 * type table.
 *
 * Everything is scored on the Gram matrix of the input a group of linears shares,
 * H = XᵀX / n_tok [n_in][n_in] (q/k/v after the attention norm, gate/up after the MLP
 * norm, ...): for a weight row w and its rounding ŵ, the mean squared output error over
 * the calibration tokens is exactly dᵀ H d with d = w − ŵ. The calibration driver
 * accumulates H over every token (in double) and calls:
 *   1. awq_search_scale: per-input-channel scales s. The driver then folds them: the op
 *      that produces X divides its output channel j by s[j] (norm weight /= s), and every
 *      linear of the group multiplies its column j by s[j], so X·Wᵀ = (X/s)·(W·s)ᵀ and the
 *      float model is unchanged while the salient channels get finer quantization. The
 *      input is then X/s, whose Gram matrix is diag(1/s)·H·diag(1/s).
 *   2. for `--method awq`, awq_round: the final rounding, a per-block choice among clipped
 *      roundings of each row that minimises the row's output error (AWQ's clip search,
 *      made exact for the final quantizer); for `--method awq+gptq`, awq_search_clip
 *      (AutoAWQ's clip search on the weights) and then GPTQ.
 *
 * Threads: rows are processed in parallel (OpenMP), each by one thread, and every sum is
 * taken in a fixed order (the GEMMs on the backend, kernels/backend.h, whose CPU sums do not
 * depend on tiling, threads or the machine), so results do not depend on the thread count,
 * the BLAS build or the x86-64 machine. A failing row's message survives the threads
 * (struct ig_par_error: the lowest failing row's).
 */
#ifndef AWQ_H
#define AWQ_H

#include <stdbool.h>
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
    float alpha;       /* the chosen exponent (0 = no scaling won) */
    double err_best;   /* mean over all output rows of dᵀ H d at alpha */
    double err_plain;  /* the same at alpha = 0 (s = 1) */
};

/* Search the per-input-channel scales s for a group of n_lin linears sharing one input.
 *   H      [n_in][n_in] the input's Gram matrix XᵀX / n_tok (both triangles)
 *   xbar   [n_in] mean over the tokens of |X[t][j]|
 *   s_out  [n_in], caller-owned: the chosen s (exactly 1 everywhere if alpha = 0 wins)
 * For alpha = i / n_grid, i = 0 .. n_grid − 1: s_j = max(x̄_j^alpha, 1e-4) (llm-awq's
 * guard: a dead channel does not get s = 0), then s /= sqrt(max(s)·min(s)) (AutoAWQ's
 * normalisation, in double so the product cannot overflow). Each row w becomes
 * ŵ = Q(w·s)/s, with Q the type's quantize-then-dequantize, and the score is the mean over
 * every row of every linear of dᵀ H d, d = w − ŵ. With `weighted`, Q is the quantizer the
 * final rounding uses, weighted by the importance of the scaled input, diag(H)_j / s_j²
 * (what llama-quantize does with an imatrix); without, Q uses no importance (what GPTQ's
 * grid sees). The smallest score wins, ties going to the smaller alpha, so
 * err_best <= err_plain always. llm-awq's formula, not AutoAWQ's default duo_scaling.
 * Returns 0; IG_EINVAL (unknown type, n_in not a whole number of the type's blocks,
 * n_grid < 1, n_in, n_lin or some m < 1, a NULL array, or a non-finite x̄), naming the
 * value; or IG_ENOMEM. */
int awq_search_scale(const double *H, const float *xbar, int64_t n_in, const struct awq_linear *lin, int n_lin,
                     int type, int n_grid, bool weighted, float *s_out, struct awq_result *res);

/* Clipping search for one linear (AutoAWQ auto_clip), before GPTQ.
 *   H      [n_in][n_in] Gram matrix of the input as the linear sees it (after scaling)
 *   W      [m][n_in], row-major, fp32 (W·diag(s) after scaling)
 *   W_out  [m][n_in], caller-owned: the clipped weights; W_out == W clips in place (each
 *          row is read in full before its own row of W_out is written)
 * Groups are the type's blocks along the input (32; 256 for k-quants and NF4; 64/128 for
 * the wider INT groups). For each row r and group g with org_max = max |W[r][g]|, each
 * candidate max_val_i = org_max·(1 − i/n_grid), i = 0 .. n_steps − 1, clamps the group to
 * ±max_val_i (every group of the row at once, as AutoAWQ does) and the row is quantized
 * (no importance) then dequantized to Ŵ; the group keeps the candidate minimising
 * d_gᵀ H_gg d_g, d = W[r] − Ŵ[r] restricted to the group and H_gg its diagonal block,
 * ties going to the smaller i (i = 0 is no clipping, so a group is clipped only when that
 * strictly helps). W_out[r][g] = clamp(W[r][g], ±best max_val); unclipped groups are
 * copied bit for bit. n_grid = 20, n_steps = 10 is AutoAWQ's grid (down to 0.55·org_max).
 * Returns 0; IG_EINVAL (unknown type, n_in not a whole number of blocks, n_grid < 1,
 * n_steps outside 1..n_grid, n_in or m < 1, a NULL array), naming the value; or
 * IG_ENOMEM. */
int awq_search_clip(const double *H, int64_t n_in, const float *W, int64_t m, int type, int n_grid, int n_steps,
                    float *W_out);

/* The final rounding of `--method awq`: packs W [m][n_in] (the scaled weights) into out
 * (m rows of the type, caller-owned), choosing for each block the rounding that lowers the
 * row's output error dᵀ H d most.
 * Candidates per row, each a whole row quantized by the type's reference quantizer:
 *   - the row clipped per 32 columns (per block when blocks are smaller) to
 *     max·(1 − i/n_grid), i = 0 .. n_steps − 1, quantized with importance imp, and again
 *     with no importance (imp NULL: the second set only);
 *   - for types whose blocks hold several 32-column groups (k-quants, NF4, wide INT), one
 *     more per importance setting: each group clipped by its own best ratio under its
 *     diagonal block of H, so the block's shared scales are fitted to the mixed clip.
 * Choice: each block takes the candidate minimising its diagonal-block error; if the row's
 * full error is larger than that of candidate 0 (no clipping: exactly what llama-quantize
 * writes with this importance), the row starts from candidate 0 instead; then up to
 * n_sweeps passes of coordinate descent over the blocks, each move to the candidate block
 * that lowers the full dᵀ H d most, cross-block terms included. So for every row, the
 * written rounding's dᵀ H d is at most candidate 0's.
 * Returns 0; IG_EINVAL (unknown type, n_in not a whole number of blocks, n_grid < 1,
 * n_steps outside 1..n_grid, n_sweeps < 0, m or n_in < 1, a NULL array), naming the value;
 * or IG_ENOMEM. */
int awq_round(const double *H, const float *W, int64_t m, int64_t n_in, const float *imp, int type, int n_grid,
              int n_steps, int n_sweeps, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* AWQ_H */
