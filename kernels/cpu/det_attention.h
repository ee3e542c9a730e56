/* det_attention.h — causal multi-head attention for the CPU backend, with bits that do not
 * depend on the thread count, on AVX2 being there, or on how the rows are split into calls.
 *
 * Why its own file: attention was a scalar loop of dependent float adds, a third of the
 * forward pass on small models. Here each figure is one fma chain in a fixed order, which
 * AVX2 lanes and the portable fmaf loop compute identically:
 *   score[s] = (Σ_i fma q_i·k_s,i, i = 0 .. head_dim−1, from +0) · (1/√head_dim)
 *   p[s]     = det_expf(score[s] − max_s' score[s']),  s <= t (row t sees keys 0 .. t)
 *   w[s]     = p[s] · (float)(1 / Σ_s p[s]),  the sum in double, s in order
 *   out_i    = Σ_s fma w[s]·v_s,i, s = 0 .. t, from +0
 * Every figure of row t depends only on t, q's row and keys/values 0 .. t, so a row's bits
 * are the same whether it is computed with its whole window or appended to a cached prefix.
 */
#ifndef DET_ATTENTION_H
#define DET_ATTENTION_H

#include "../backend.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rows pos0 .. pos0 + n_new − 1 of causal attention (the backend's attention_rows): q
 * [n_new][n_head][head_dim], k and v [pos0 + n_new][n_head_kv][head_dim], out
 * [n_new][n_head][head_dim]; head h reads kv head h / (n_head / n_head_kv). Parallel over
 * (row, head) pairs with OpenMP when large and not already inside a team. Returns 0 or
 * IG_ENOMEM. */
int det_attention_rows(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new, int64_t n_head,
                       int64_t n_head_kv, int64_t head_dim, float *out);

/* The same figures in plain scalar loops, one thread (the definition the tests compare
 * against). Returns 0 or IG_ENOMEM. */
int det_attention_rows_ref(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                           int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *out);

/* Both with gemma's options (backend.h, struct backend_attn_opts; NULL: the functions above,
 * bit for bit): scores scaled by opts->scale instead of 1/√head_dim, then, with a soft cap c,
 *   score[s] = det_softcapf(score[s], c)   (c·tanh(score/c), kernels/cpu/det_act.h)
 * and with a window w only keys s0 = max(0, t − w + 1) .. t enter the max, the sum and the
 * weighted sum, in the same order as above from s0. */
int det_attention_rows_ext(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new, int64_t n_head,
                           int64_t n_head_kv, int64_t head_dim, const struct backend_attn_opts *opts, float *out);
int det_attention_rows_ext_ref(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                               int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                               const struct backend_attn_opts *opts, float *out);

#ifdef __cplusplus
}
#endif

#endif /* DET_ATTENTION_H */
