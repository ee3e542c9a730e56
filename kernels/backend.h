/* backend.h — the compute backend: one table of function pointers that model/ (the forward
 * pass), calib/ (XᵀX), quantizers/gptq.c (the inverse Hessian's factor, the lazy update) and
 * quantizers/awq.c (candidate scoring) call, so a CUDA backend can replace the CPU one without
 * touching the algorithms.
 *
 * kernels/cpu is the reference (backend_cpu()): deterministic GEMM and Cholesky of its own
 * (kernels/cpu/det_gemm.h — not OpenBLAS, whose bits depend on its run-time kernel and on how
 * work is split) and plain OpenMP loops, every output element computed by one thread in a
 * fixed order, so results do not depend on the thread count or the machine.
 * All tensors are fp32, row-major, one row per token: X is [n_tokens][dim]. Weight matrices
 * are [n_out][n_in], as GGUF stores them (ne[0] = n_in contiguous), so Y = X Wᵀ. Functions
 * that return int return 0 or IG_ENOMEM (with a message); memory is host memory.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum rope_mode {
    ROPE_MODE_NORM = 0,   /* llama: rotate adjacent pairs (2i, 2i+1) */
    ROPE_MODE_NEOX = 2,   /* qwen2, HF layout: rotate (i, i + n_rot/2) */
};

/* What a GEMM does with its output C. */
enum backend_acc {
    BACKEND_STORE = 0,    /* C = A·Bᵀ */
    BACKEND_SUB = 1,      /* C = C − A·Bᵀ (the product rounded, then one subtraction) */
};

/* What attention_rows_ext does beyond plain causal attention (gemma2 and gemma3). */
struct backend_attn_opts {
    float scale;       /* scores are (q·k)·scale; 0: 1/sqrt(head_dim) */
    float softcap;     /* > 0: score -> softcap·tanh(score / softcap) before the softmax (gemma2's
                        * attn_logit_softcapping); 0: none */
    int64_t window;    /* > 0: the row at position t sees keys t - window + 1 .. t only (llama.cpp's
                        * standard sliding window: key s is masked when t - s >= window); 0: 0 .. t */
};

/* Fill dst [n_rows][k] with rows row0 .. row0 + n_rows - 1 of a weight matrix as fp32 (a packed
 * weight dequantizes them; the caller of matmul_rows owns what ctx points to). Returns 0 or an
 * IG_E... code with its message recorded on the calling thread. */
typedef int (*backend_rows_fn)(void *ctx, int64_t row0, int64_t n_rows, float *dst);

struct backend {
    const char *name;     /* "cpu" */

    /* Use n_threads for the backend's loops (0: all cores). Call once before computing. */
    void (*set_threads)(int n_threads);

    /* ---- the forward pass ---- */

    /* Y[n][m] = X[n][k] · W[m][k]ᵀ (+ bias[m] when not NULL, added after the sum). */
    int (*matmul)(const float *X, int64_t n, int64_t k, const float *W, int64_t m, const float *bias, float *Y);

    /* The same product for a weight W [m][k] that is never whole in memory: rows(rows_ctx, ...)
     * fills one tile of W's rows at a time into a small buffer, which is multiplied and dropped.
     * Y equals matmul's with the whole W bit for bit (each Y element is the same fma chain over k,
     * whatever the tile). A failing rows call stops it: the failure of the lowest row is returned,
     * with its message, whatever the thread count. Returns 0, rows' code, or IG_ENOMEM. */
    int (*matmul_rows)(const float *X, int64_t n, int64_t k, backend_rows_fn rows, void *rows_ctx, int64_t m,
                       const float *bias, float *Y);

    /* `ingot verify --matmul q8`: Y[n][m] = X[n][k] · Wᵀ (+ bias) for a packed weight W of ggml
     * type `type` (the file's bytes, m rows of k), in llama.cpp's CPU arithmetic: X rounded to
     * Q8_K per 256 (k-quants) or Q8_0 per 32 (Q4_0, Q5_0, Q8_0), exact integer dot products per
     * block, one fixed float chain per output (kernels/cpu/q8_dot.h). Other bits than matmul's, but the same whatever the thread count
     * or SIMD. Returns 0; IG_EINVAL (no kernel for type, k not whole blocks, a non-finite fp16
     * scale: "row R, block B: ..."); IG_ENOMEM. matmul_q8_supports says which types have one. */
    int (*matmul_q8)(const float *X, int64_t n, int64_t k, int32_t type, const void *W, int64_t m, const float *bias,
                     float *Y);
    bool (*matmul_q8_supports)(int32_t type);

    /* out[t] = x[t] / sqrt(mean(x[t]²) + eps) * w, for each of n rows of dim (ggml_rms_norm
     * then ggml_mul: the mean is accumulated in double). out may equal x. */
    void (*rms_norm)(const float *x, int64_t n, int64_t dim, const float *w, float eps, float *out);

    /* Rotate the first n_rot dims of each head of x ([n][n_head][head_dim]) in place;
     * token t sits at position p = pos0 + t; pair i turns by freq_scale · (p·theta_base^(-2i/n_rot)
     * / freq_factors[i]) (ggml_rope_ext without YaRN: linear scaling is freq_scale = 1/factor,
     * Llama 3.1's rope_freqs.weight is freq_factors [n_rot/2]; 1 and NULL for none). cos and sin
     * are multiplied by mscale first (ggml's rope_yarn mscale: llama.cpp's attn_factor, phi3
     * longrope's rope.scaling.attn_factor; 1 for none); dims past n_rot stay as they are. */
    int (*rope)(float *x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0, float theta_base,
                float freq_scale, const float *freq_factors, float mscale, enum rope_mode mode);

    /* Causal attention: out[t][h] = softmax_s≤t(q[t][h]·k[s][g] / sqrt(head_dim)) · v[s][g], with
     * g = h / (n_head / n_head_kv). q, out: [n][n_head][head_dim]; k, v: [n][n_head_kv][head_dim]. */
    int (*attention)(const float *q, const float *k, const float *v, int64_t n, int64_t n_head, int64_t n_head_kv,
                     int64_t head_dim, float *out);

    /* The same for the n_new rows at positions pos0 .. pos0 + n_new - 1 only, over cached keys and
     * values: q, out: [n_new][n_head][head_dim] (row r is position pos0 + r); k, v:
     * [pos0 + n_new][n_head_kv][head_dim]. Row r's output equals attention()'s row pos0 + r bit for
     * bit (attention is attention_rows with pos0 = 0), so a prefix shared by several continuations
     * is computed once. */
    int (*attention_rows)(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                          int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *out);

    /* gate[i] = silu(gate[i]) * up[i] for n elements (SwiGLU). */
    void (*swiglu)(float *gate, const float *up, int64_t n);

    /* attention_rows with a score scale, soft-capping and a sliding window (opts NULL, or all
     * fields 0: attention_rows, bit for bit). Row r still equals the whole window's row pos0 + r. */
    int (*attention_rows_ext)(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                              int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                              const struct backend_attn_opts *opts, float *out);

    /* gate[i] = gelu_tanh(gate[i]) * up[i] for n elements (GeGLU, gemma; kernels/cpu/det_act.h). */
    void (*geglu)(float *gate, const float *up, int64_t n);

    /* x[i] = cap · tanh(x[i] / cap) for n elements, cap > 0 (gemma's logit soft-capping). */
    void (*softcap)(float *x, int64_t n, float cap);

    /* x[i] += y[i]. */
    void (*add)(float *x, const float *y, int64_t n);

    /* ---- linear algebra for calibration and the quantizers ---- */

    /* C[i][j] (i < m, j < n) = Σ_{p<k} A[i][p]·B[j][p] (BACKEND_STORE) or C − that sum
     * (BACKEND_SUB); A [m][k] (lda), B [n][k] (ldb), C [m][n] (ldc). Same for doubles. */
    int (*sgemm_nt)(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, enum backend_acc acc);
    int (*dgemm_nt)(int64_t m, int64_t n, int64_t k, const double *A, int64_t lda, const double *B, int64_t ldb,
                    double *C, int64_t ldc, enum backend_acc acc);

    /* C [dim][dim] upper triangle (j >= i) = XᵀX of X [n_rows][dim], summed over rows in
     * order; entries below the diagonal are unspecified. */
    int (*syrk_upper)(const float *X, int64_t n_rows, int64_t dim, float *C);

    /* U [n][n] upper (zeros below) with A⁻¹ = UᵀU for A [n][n] symmetric positive definite
     * (read in full, not modified). Returns 0, IG_EINVAL (not positive definite; message
     * names the pivot) or IG_ENOMEM. */
    int (*inverse_cholesky_upper)(const double *A, int64_t n, double *U);
};

/* The CPU backend (the reference). Never NULL. */
const struct backend *backend_cpu(void);

/* The backend the library computes on: backend_cpu() unless backend_select() chose another.
 * One per process, chosen by convert/ before any computation. */
const struct backend *backend_active(void);
void backend_select(const struct backend *be);

/* backend_cpu()->set_threads, kept under its old name for convert/. */
void cpu_set_threads(int n_threads);

#ifdef __cplusplus
}
#endif

#endif /* BACKEND_H */
