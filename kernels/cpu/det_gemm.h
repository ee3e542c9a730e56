/* det_gemm.h — deterministic dense linear algebra for the CPU backend: GEMM, XᵀX and the
 * Cholesky factorisations GPTQ needs, with bits that do not depend on the thread count,
 * the tiling, the SIMD width or the machine.
 *
 * Why not OpenBLAS: ingot promises the same output bytes whatever the thread count, the
 * BLAS build or the x86-64 machine. OpenBLAS picks its kernel at run time
 * (OPENBLAS_CORETYPE, the CPU), and its kernels sum in different orders (Haswell and Zen
 * give different bits at the edges of a split, even on one thread), so every figure that
 * decides a byte (the forward pass, XᵀX, GPTQ's factor and update, AWQ's scores) is
 * computed here instead.
 *
 * The rule: every output element is one chain acc = fma(a_p, b_p, acc), p = 0 .. k−1,
 * started from +0 and rounded once per step (fmaf / fma: exact, correctly rounded, so the
 * same on every IEEE machine). Threads split only over output tiles; a
 * tile's k loop is blocked, but the accumulator goes to memory in its own precision between
 * blocks, which changes nothing. The AVX2/FMA micro-kernel runs each lane as its own chain,
 * so its bits equal the scalar fallback's; *_ref are plain loops that define the bits.
 * Matrices are row-major with leading dimensions (elements, not bytes).
 */
#ifndef DET_GEMM_H
#define DET_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a GEMM does with C. */
enum det_acc {
    DET_STORE = 0,   /* C = A·Bᵀ */
    DET_SUB = 1,     /* C = C − A·Bᵀ (the product rounded first, then one subtraction) */
};

/* Which micro-kernel runs (tests force each; the bits are the same). */
enum det_simd {
    DET_SIMD_AUTO = 0,   /* AVX2/FMA when the CPU has it */
    DET_SIMD_OFF = 1,    /* the portable fmaf/fma kernel */
    DET_SIMD_ON = 2,     /* AVX2/FMA (ignored, falling back, when the CPU lacks it) */
};

/* Select the micro-kernel for every later call (process-wide; tests only). */
void det_simd_set(enum det_simd mode);

/* True when the CPU runs the AVX2/FMA kernel. */
bool det_simd_available(void);

/* True when the AVX2 paths run now (available, and not forced off): det_math.c's and
 * det_attention.c's vector paths follow the same switch. */
bool det_simd_active(void);

/* Tile sizes: exposed so the tests can aim at their edges. */
#define DET_S_MC 264   /* fp32 output rows per tile, at most (a 256-token window is one tile) */
#define DET_S_NC 64    /* fp32 output columns per tile */
#define DET_D_MC 96    /* fp64 */
#define DET_D_NC 32
#define DET_KC 256     /* depth per packed block */
#define DET_CHOL_NB 64 /* Cholesky / inverse block */

/* C[i][j] (i < m, j < n) = Σ_{p<k} A[i][p]·B[j][p] (acc as above). With `upper`, tiles wholly
 * below the diagonal (every j < i) are skipped: the caller reads j >= i only. Returns 0 or
 * IG_ENOMEM (workspace). A, B: [m][k], [n][k] with lda, ldb; C: [m][n] with ldc. */
int det_sgemm_nt(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                 int64_t ldc, enum det_acc acc, bool upper);
int det_dgemm_nt(int64_t m, int64_t n, int64_t k, const double *A, int64_t lda, const double *B, int64_t ldb,
                 double *C, int64_t ldc, enum det_acc acc, bool upper);

/* The scalar references: the same chains, in plain loops. */
void det_sgemm_nt_ref(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float *C, int64_t ldc, enum det_acc acc, bool upper);
void det_dgemm_nt_ref(int64_t m, int64_t n, int64_t k, const double *A, int64_t lda, const double *B, int64_t ldb,
                      double *C, int64_t ldc, enum det_acc acc, bool upper);

/* C [dim][dim] upper triangle (j >= i) = XᵀX for X [n_rows][dim]: C[i][j] = Σ_t X[t][i]·X[t][j]
 * in t order (through a transposed copy and det_sgemm_nt). Entries below the diagonal are
 * unspecified. Returns 0 or IG_ENOMEM. */
int det_ssyrk_upper(const float *X, int64_t n_rows, int64_t dim, float *C);

/* A [n][n] (lda) = L, lower, with L·Lᵀ = A, in place (the strict upper triangle is left as
 * it was). Left-looking, in blocks of DET_CHOL_NB columns: entry (i, j) is
 * (A_ij − Σ_{p<j0} L_ip L_jp − Σ_{j0<=p<j} L_ip L_jp) / L_jj, j0 the start of j's block, each
 * Σ one fma chain. Returns 0, or IG_EINVAL (message names the pivot) when A is not positive
 * definite, or IG_ENOMEM. */
int det_dpotrf_lower(double *A, int64_t n, int64_t lda);
int det_dpotrf_lower_ref(double *A, int64_t n, int64_t lda);

/* U [n][n] (upper, zeros below) with A⁻¹ = UᵀU, for A [n][n] symmetric positive definite
 * (read in full, not modified): GPTQ's chol(H⁻¹). With J the reversal (i -> n−1−i):
 * J A J = L Lᵀ, and U = J L⁻¹ J — one factorisation and one triangular inverse, no
 * explicit A⁻¹. Returns 0, IG_EINVAL (not positive definite) or IG_ENOMEM. */
int det_inverse_cholesky_upper(const double *A, int64_t n, double *U);
int det_inverse_cholesky_upper_ref(const double *A, int64_t n, double *U);

#ifdef __cplusplus
}
#endif

#endif /* DET_GEMM_H */
