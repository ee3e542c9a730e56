/* backend.h — the compute operations the forward pass needs, one small interface.
 *
 * kernels/cpu implements each with OpenBLAS (GEMM) and OpenMP (everything else); it is the
 * reference. kernels/cuda will implement the same table. All tensors are fp32, row-major,
 * one row per token: X is [n_tokens][dim]. Weight matrices are [n_out][n_in], as GGUF
 * stores them (ne[0] = n_in contiguous), so Y = X Wᵀ.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rope_mode {
    ROPE_MODE_NORM = 0,   /* llama: rotate adjacent pairs (2i, 2i+1) */
    ROPE_MODE_NEOX = 2,   /* qwen2, HF layout: rotate (i, i + n_rot/2) */
};

/* Y[n][m] = X[n][k] · W[m][k]ᵀ (+ bias[m] when not NULL). */
void cpu_matmul(const float *X, int64_t n, int64_t k, const float *W, int64_t m, const float *bias, float *Y);

/* out[t] = x[t] / sqrt(mean(x[t]²) + eps) * w, for each of n rows of dim (ggml_rms_norm
 * then ggml_mul: the mean is accumulated in double). out may equal x. */
void cpu_rms_norm(const float *x, int64_t n, int64_t dim, const float *w, float eps, float *out);

/* Rotate the first n_rot dims of each head of x ([n][n_head][head_dim]) in place;
 * token t sits at position pos0 + t; frequency of pair i is theta_base^(-2i/n_rot). */
void cpu_rope(float *x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0,
              float theta_base, enum rope_mode mode);

/* Causal attention: out[t][h] = softmax_s≤t(q[t][h]·k[s][g] / sqrt(head_dim)) · v[s][g], with
 * g = h / (n_head / n_head_kv). q, out: [n][n_head][head_dim]; k, v: [n][n_head_kv][head_dim]. */
void cpu_attention(const float *q, const float *k, const float *v, int64_t n, int64_t n_head, int64_t n_head_kv,
                   int64_t head_dim, float *out);

/* gate[i] = silu(gate[i]) * up[i] for n elements (SwiGLU). */
void cpu_swiglu(float *gate, const float *up, int64_t n);

/* x[i] += y[i]. */
void cpu_add(float *x, const float *y, int64_t n);

/* Use n_threads for the backend's loops (0: all cores). Call once before computing. */
void cpu_set_threads(int n_threads);

#ifdef __cplusplus
}
#endif

#endif /* BACKEND_H */
