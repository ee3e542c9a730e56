/* moe.h — the routing of a sparse mixture-of-experts feed-forward (Mixtral), as llama.cpp's
 * build_moe_ffn does it with softmax gating and normalised top-k weights (model/ only).
 *
 * For each row t with router logits r[t] = W_gate_inp · x[t] ([n_expert]):
 *   p = softmax(r)                         ggml_soft_max: exp(r - max) summed in double, times 1/sum
 *   sel[t][0..k) = the k experts of largest p, largest first (ties: the lower index first)
 *   w[t][j] = p[sel[t][j]] / Σ_j p[sel[t][j]]          (norm: Mixtral; the sum in float, slot order)
 * and the block's FFN output is Σ_j w[t][j] · expert_{sel[t][j]}(x[t]), the products added in
 * slot order (ggml_mul by the weights, then ggml_add of slot 0, 1, ...).
 */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include <stdbool.h>
#include <stdint.h>

/* Route n rows: logits [n][n_expert] -> sel [n][k] and w [n][k]. */
void moe_route(const float *logits, int64_t n, int64_t n_expert, int64_t k, bool norm, int32_t *sel, float *w);

/* The rows routed to expert e, in row order: rows[0 .. return) of [n] (sel [n][k]). */
int64_t moe_rows_of(const int32_t *sel, int64_t n, int64_t k, int32_t e, int64_t *rows);

#endif /* MODEL_MOE_H */
