/* det_gemm.c — deterministic GEMM, XᵀX and Cholesky for the CPU backend (see det_gemm.h
 * for the summation rule and why ingot does not call OpenBLAS/LAPACKE here).
 *
 * Layout of a GEMM: the output is cut into fixed tiles (MC x NC); threads take whole tiles.
 * Per tile, for each depth block of DET_KC: A's rows and B's rows are packed into
 * micro-panels ([kc][MR] and [kc][NR], zero-padded), and an MR x NR micro-kernel runs one
 * fma chain per output element into the tile's accumulator (in the output's precision).
 * The padded rows and columns only feed accumulators that are never written out.
 */
#include "det_gemm.h"

#include "../../common/ig_error.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define S_MR 6   /* fp32 micro-tile: 6 rows x 16 columns = 12 ymm accumulators */
#define S_NR 16
#define D_MR 6   /* fp64 micro-tile: 6 x 8 = 12 ymm accumulators */
#define D_NR 8
/* Below this many multiply-adds a GEMM stays on one thread (the bits are the same). */
#define DET_PARALLEL_MIN (1 << 18)
/* A one-thread GEMM whose workspace fits in this many bytes uses the stack (AWQ's scoring
 * calls thousands of 40 x 32 x 32 GEMMs per row; a malloc each cost half their time). */
#define DET_STACK_WS_BYTES 32768

_Static_assert(DET_S_MC % S_MR == 0 && DET_S_NC % S_NR == 0, "fp32 tiles are whole micro-tiles");
_Static_assert(DET_D_MC % D_MR == 0 && DET_D_NC % D_NR == 0, "fp64 tiles are whole micro-tiles");

/* ---- dispatch --------------------------------------------------------------------------- */

static enum det_simd simd_mode = DET_SIMD_AUTO;

void det_simd_set(enum det_simd mode)
{
    simd_mode = mode;
}

bool det_simd_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static bool use_simd(void)
{
    return simd_mode != DET_SIMD_OFF && det_simd_available();
}

bool det_simd_active(void)
{
    return use_simd();
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- micro-kernels: c [MR][ldc] continues its chains over kc steps ------------------------
 * a[i] is row i of A at the block's first depth (A is read in place: its rows are read
 * sequentially and stay in L1 across a tile's micro-columns, so packing them only cost
 * time); b is a packed micro-panel [kc][NR]. `first`: the chains start from +0 (the tile's
 * accumulator is not read). */

/* Portable: fmaf/fma are exact (one rounding), whatever the CPU; on one without FMA glibc
 * emulates them, slowly but with the same bits. */
static void s_kernel_fma(int64_t kc, const float *const *a, const float *b, float *c, int64_t ldc, bool first)
{
    for (int i = 0; i < S_MR; i++)
        for (int j = 0; j < S_NR; j++) {
            float acc = first ? 0.0f : c[i * ldc + j];
            for (int64_t p = 0; p < kc; p++)
                acc = fmaf(a[i][p], b[p * S_NR + j], acc);
            c[i * ldc + j] = acc;
        }
}

static void d_kernel_fma(int64_t kc, const double *const *a, const double *b, double *c, int64_t ldc, bool first)
{
    for (int i = 0; i < D_MR; i++)
        for (int j = 0; j < D_NR; j++) {
            double acc = first ? 0.0 : c[i * ldc + j];
            for (int64_t p = 0; p < kc; p++)
                acc = fma(a[i][p], b[p * D_NR + j], acc);
            c[i * ldc + j] = acc;
        }
}

/* AVX2: each lane of vfmadd is the same single-rounding fma as fmaf, so the bits match. */
__attribute__((target("avx2,fma"))) static void s_kernel_avx2(int64_t kc, const float *const *a, const float *b,
                                                              float *c, int64_t ldc, bool first)
{
    __m256 acc[S_MR][2];
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
#pragma GCC unroll 6
    for (int i = 0; i < S_MR; i++) {
        acc[i][0] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + i * ldc);
        acc[i][1] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + i * ldc + 8);
    }
    for (int64_t p = 0; p < kc; p++) {
        const __m256 b0 = _mm256_loadu_ps(b + p * S_NR), b1 = _mm256_loadu_ps(b + p * S_NR + 8);
        __m256 ai;
#define S_ROW(i, ap)                                                                                                  \
        ai = _mm256_broadcast_ss(ap + p);                                                                             \
        acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);                                                               \
        acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        S_ROW(0, a0) S_ROW(1, a1) S_ROW(2, a2) S_ROW(3, a3) S_ROW(4, a4) S_ROW(5, a5)
#undef S_ROW
    }
#pragma GCC unroll 6
    for (int i = 0; i < S_MR; i++) {
        _mm256_storeu_ps(c + i * ldc, acc[i][0]);
        _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
    }
}

__attribute__((target("avx2,fma"))) static void d_kernel_avx2(int64_t kc, const double *const *a, const double *b,
                                                              double *c, int64_t ldc, bool first)
{
    __m256d acc[D_MR][2];
    const double *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
#pragma GCC unroll 6
    for (int i = 0; i < D_MR; i++) {
        acc[i][0] = first ? _mm256_setzero_pd() : _mm256_loadu_pd(c + i * ldc);
        acc[i][1] = first ? _mm256_setzero_pd() : _mm256_loadu_pd(c + i * ldc + 4);
    }
    for (int64_t p = 0; p < kc; p++) {
        const __m256d b0 = _mm256_loadu_pd(b + p * D_NR), b1 = _mm256_loadu_pd(b + p * D_NR + 4);
        __m256d ai;
#define D_ROW(i, ap)                                                                                                  \
        ai = _mm256_broadcast_sd(ap + p);                                                                             \
        acc[i][0] = _mm256_fmadd_pd(ai, b0, acc[i][0]);                                                               \
        acc[i][1] = _mm256_fmadd_pd(ai, b1, acc[i][1]);
        D_ROW(0, a0) D_ROW(1, a1) D_ROW(2, a2) D_ROW(3, a3) D_ROW(4, a4) D_ROW(5, a5)
#undef D_ROW
    }
#pragma GCC unroll 6
    for (int i = 0; i < D_MR; i++) {
        _mm256_storeu_pd(c + i * ldc, acc[i][0]);
        _mm256_storeu_pd(c + i * ldc + 4, acc[i][1]);
    }
}

_Static_assert(S_MR == 6 && D_MR == 6, "the AVX2 kernels name six rows");

/* ---- tiles and the threaded driver, once per precision -------------------------------------
 * GEMM_DEFINE(T, s|d, ...) writes pack, tile and det_Xgemm_nt for element type T.
 * A tile is up to MC rows (the rows are split evenly over as few tiles as MC allows, so
 * that B's panel, packed once per tile and depth block, serves as many rows as possible)
 * by NC columns; how the output is tiled changes no bit (each element is one chain). */

#define GEMM_DEFINE(T, X, MR, NR, MC, NC)                                                                             \
    /* P [ceil(rows/R)][kc][R] = rows of M [rows][kc] (ldm), zero-padded to whole panels */                          \
    static void X##_pack(const T *M, int64_t ldm, int64_t rows, int64_t kc, int R, T *P)                             \
    {                                                                                                                 \
        for (int64_t r0 = 0; r0 < rows; r0 += R) {                                                                    \
            if (r0 + R <= rows) {                                                                                     \
                const T *m0 = M + r0 * ldm;                                                                           \
                for (int64_t p = 0; p < kc; p++)                                                                      \
                    for (int i = 0; i < R; i++)                                                                       \
                        *P++ = m0[i * ldm + p];                                                                       \
            } else {                                                                                                  \
                for (int64_t p = 0; p < kc; p++)                                                                      \
                    for (int i = 0; i < R; i++)                                                                       \
                        *P++ = r0 + i < rows ? M[(r0 + i) * ldm + p] : (T)0;                                          \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
                                                                                                                      \
    struct X##_gemm {                                                                                                 \
        int64_t m, n, k, lda, ldb, ldc, mc; /* mc: rows per tile (a multiple of MR, at most MC) */                  \
        const T *A, *B;                                                                                               \
        T *C;                                                                                                         \
        enum det_acc acc;                                                                                             \
        bool simd;                                                                                                    \
        size_t ws_elems;                                                                                              \
    };                                                                                                                \
                                                                                                                      \
    /* The tile at (i0, j0); ws holds B's packed panel and the accumulators [mc][NC]. With DET_STORE */ \
    /* the whole micro-tiles accumulate in C itself (the same chains, stored in T between depth */    \
    /* blocks either way) and only the edge ones go through ws, which saves copying the tile out. */  \
    static void X##_tile(const struct X##_gemm *g, int64_t i0, int64_t j0, T *ws)                                     \
    {                                                                                                                 \
        const int64_t mc = min64(g->mc, g->m - i0), nc = min64(NC, g->n - j0);                                        \
        const bool direct = g->acc == DET_STORE && g->k > 0;                                                          \
        const int64_t full_r = direct ? mc / MR * MR : 0, full_c = direct ? nc / NR * NR : 0;                         \
        T *Ct = ws, *Bp = Ct + g->mc * NC;                                                                            \
        const T *a[MR];                                                                                               \
        if (g->k <= 0)                                                                                                \
            memset(Ct, 0, sizeof(T) * (size_t)(g->mc * NC));                                                          \
        for (int64_t p0 = 0; p0 < g->k; p0 += DET_KC) {                                                               \
            const int64_t kc = min64(DET_KC, g->k - p0);                                                              \
            X##_pack(g->B + j0 * g->ldb + p0, g->ldb, nc, kc, NR, Bp);                                                \
            for (int64_t ir = 0; ir < mc; ir += MR) {                                                                 \
                for (int i = 0; i < MR; i++) /* rows past the end repeat the last; never written out */             \
                    a[i] = g->A + (i0 + min64(ir + i, mc - 1)) * g->lda + p0;                                         \
                for (int64_t jr = 0; jr < nc; jr += NR) {                                                             \
                    const bool in_c = ir < full_r && jr < full_c;                                                     \
                    T *c = in_c ? g->C + (i0 + ir) * g->ldc + j0 + jr : Ct + ir * NC + jr;                            \
                    const int64_t ldc = in_c ? g->ldc : NC;                                                           \
                    if (g->simd)                                                                                      \
                        X##_kernel_avx2(kc, a, Bp + jr * kc, c, ldc, p0 == 0);                                        \
                    else                                                                                              \
                        X##_kernel_fma(kc, a, Bp + jr * kc, c, ldc, p0 == 0);                                         \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
        for (int64_t i = 0; i < mc; i++) {                                                                            \
            T *c = g->C + (i0 + i) * g->ldc + j0;                                                                     \
            const T *ct = Ct + i * NC;                                                                                \
            const int64_t j_from = i < full_r ? full_c : 0; /* columns before it are in C already */                \
            if (g->acc == DET_SUB)                                                                                    \
                for (int64_t j = 0; j < nc; j++)                                                                      \
                    c[j] = c[j] - ct[j];                                                                              \
            else if (j_from < nc)                                                                                     \
                memcpy(c + j_from, ct + j_from, sizeof(T) * (size_t)(nc - j_from));                                   \
        }                                                                                                             \
    }                                                                                                                 \
                                                                                                                      \
    /* Tile t of the n_tj-wide grid, unless `upper` skips it. */                                                   \
    static void X##_tile_at(const struct X##_gemm *g, int64_t t, int64_t n_tj, bool upper, T *ws)                     \
    {                                                                                                                 \
        const int64_t i0 = t / n_tj * g->mc, j0 = t % n_tj * NC;                                                      \
        if (upper && j0 + NC <= i0)                                                                                   \
            return; /* every column of the tile is left of every row's diagonal */                                    \
        X##_tile(g, i0, j0, ws);                                                                                      \
    }                                                                                                                 \
                                                                                                                      \
    int det_##X##gemm_nt(int64_t m, int64_t n, int64_t k, const T *A, int64_t lda, const T *B, int64_t ldb, T *C,     \
                         int64_t ldc, enum det_acc acc, bool upper)                                                   \
    {                                                                                                                 \
        if (m <= 0 || n <= 0)                                                                                         \
            return 0;                                                                                                 \
        const int64_t n_ti = (m + MC - 1) / MC, n_tj = (n + NC - 1) / NC, kmax = min64(DET_KC, k);                    \
        struct X##_gemm g = {m, n, k, lda, ldb, ldc, 0, A, B, C, acc, use_simd(), 0};                                 \
        g.mc = ((m + n_ti - 1) / n_ti + MR - 1) / MR * MR; /* <= MC: MC is a multiple of MR */                       \
        int nt = omp_in_parallel() || m * n * k < DET_PARALLEL_MIN ? 1 : omp_get_max_threads();                       \
        if (nt > n_ti * n_tj)                                                                                         \
            nt = (int)(n_ti * n_tj);                                                                                  \
        g.ws_elems = (size_t)(g.mc * NC + (min64(n, NC) + NR - 1) / NR * NR * (kmax > 0 ? kmax : 1));                 \
        g.ws_elems = (g.ws_elems + 15) / 16 * 16; /* 64-byte strides between threads */                              \
        _Alignas(64) T small[DET_STACK_WS_BYTES / sizeof(T)];                                                         \
        T *ws = nt == 1 && g.ws_elems <= sizeof small / sizeof *small ? small                                         \
                                                                      : ig_malloc((size_t)nt * g.ws_elems * sizeof(T)); \
        if (!ws)                                                                                                      \
            return ig_error_set(IG_ENOMEM, "det_" #X "gemm_nt: no workspace for %d threads (%lld x %lld x %lld)", nt, \
                                (long long)m, (long long)n, (long long)k);                                            \
        if (nt == 1) { /* no team: entering even a one-thread region costs a small GEMM's time */                    \
            for (int64_t t = 0; t < n_ti * n_tj; t++)                                                                 \
                X##_tile_at(&g, t, n_tj, upper, ws);                                                                  \
        } else {                                                                                                      \
            _Pragma("omp parallel for num_threads(nt) schedule(dynamic, 1)")                                          \
            for (int64_t t = 0; t < n_ti * n_tj; t++)                                                                 \
                X##_tile_at(&g, t, n_tj, upper, ws + (size_t)omp_get_thread_num() * g.ws_elems);                      \
        }                                                                                                             \
        if (ws != small)                                                                                              \
            free(ws);                                                                                                 \
        return 0;                                                                                                     \
    }                                                                                                                 \
                                                                                                                      \
    /* The reference: one chain per element, in plain loops. */                                                      \
    void det_##X##gemm_nt_ref(int64_t m, int64_t n, int64_t k, const T *A, int64_t lda, const T *B, int64_t ldb,     \
                              T *C, int64_t ldc, enum det_acc acc, bool upper)                                        \
    {                                                                                                                 \
        for (int64_t i = 0; i < m; i++)                                                                               \
            for (int64_t j = upper ? i : 0; j < n; j++) {                                                             \
                T s = 0;                                                                                              \
                for (int64_t p = 0; p < k; p++)                                                                       \
                    s = X##_fma(A[i * lda + p], B[j * ldb + p], s);                                                   \
                C[i * ldc + j] = acc == DET_SUB ? C[i * ldc + j] - s : s;                                             \
            }                                                                                                         \
    }

static inline float s_fma(float a, float b, float c)
{
    return fmaf(a, b, c);
}

static inline double d_fma(double a, double b, double c)
{
    return fma(a, b, c);
}

GEMM_DEFINE(float, s, S_MR, S_NR, DET_S_MC, DET_S_NC)
GEMM_DEFINE(double, d, D_MR, D_NR, DET_D_MC, DET_D_NC)

/* ---- XᵀX ------------------------------------------------------------------------------------ */

int det_ssyrk_upper(const float *X, int64_t n_rows, int64_t dim, float *C)
{
    float *Xt = ig_malloc((size_t)(dim * n_rows > 0 ? dim * n_rows : 1) * sizeof *Xt);
    if (!Xt)
        return ig_error_set(IG_ENOMEM, "det_ssyrk_upper: no room to transpose %lld x %lld", (long long)n_rows,
                            (long long)dim);
    for (int64_t t = 0; t < n_rows; t++)
        for (int64_t i = 0; i < dim; i++)
            Xt[i * n_rows + t] = X[t * dim + i];
    int rc = det_sgemm_nt(dim, dim, n_rows, Xt, n_rows, Xt, n_rows, C, dim, DET_STORE, true);
    free(Xt);
    return rc;
}

/* ---- Cholesky ----------------------------------------------------------------------------------- */

typedef int (*dgemm_fn)(int64_t m, int64_t n, int64_t k, const double *A, int64_t lda, const double *B, int64_t ldb,
                        double *C, int64_t ldc, enum det_acc acc, bool upper);

static int dgemm_ref(int64_t m, int64_t n, int64_t k, const double *A, int64_t lda, const double *B, int64_t ldb,
                     double *C, int64_t ldc, enum det_acc acc, bool upper)
{
    det_dgemm_nt_ref(m, n, k, A, lda, B, ldb, C, ldc, acc, upper);
    return 0;
}

/* The scalar chains below call fma(); a clone built for FMA hardware inlines it as one
 * instruction (same single rounding, same bits), the default one calls libm's. */
#define FMA_CLONES __attribute__((target_clones("fma", "default")))

/* Row i's part of the panel [j0, j0 + b), after the panel update: L_ij for j0 <= j < min(i,
 * j0 + b), then L_ii when i is in the panel's diagonal block. Returns the pivot (> 0 unless
 * A is not positive definite), or 1 when the row has no diagonal here. */
FMA_CLONES static double chol_row(double *A, int64_t lda, int64_t i, int64_t j0, int64_t b)
{
    double *Ai = A + i * lda;
    for (int64_t j = j0; j < min64(i, j0 + b); j++) {
        const double *Aj = A + j * lda;
        double s = 0.0;
        for (int64_t p = j0; p < j; p++)
            s = fma(Ai[p], Aj[p], s);
        Ai[j] = (Ai[j] - s) / Aj[j];
    }
    if (i >= j0 + b)
        return 1.0;
    double s = 0.0;
    for (int64_t p = j0; p < i; p++)
        s = fma(Ai[p], Ai[p], s);
    const double d = Ai[i] - s;
    if (d > 0.0)
        Ai[i] = sqrt(d);
    return d;
}

/* Left-looking blocked Cholesky: each panel first takes the whole update from the columns
 * left of it (one GEMM), then is factored row by row; rows below the diagonal block are
 * independent and run in parallel. */
static int chol_lower(double *A, int64_t n, int64_t lda, dgemm_fn gemm, bool parallel)
{
    for (int64_t j0 = 0; j0 < n; j0 += DET_CHOL_NB) {
        const int64_t b = min64(DET_CHOL_NB, n - j0);
        if (j0 > 0) {
            int rc = gemm(n - j0, b, j0, A + j0 * lda, lda, A + j0 * lda, lda, A + j0 * lda + j0, lda, DET_SUB, false);
            if (rc)
                return rc;
        }
        for (int64_t i = j0; i < j0 + b; i++) {
            const double d = chol_row(A, lda, i, j0, b);
            if (!(d > 0.0))
                return ig_error_set(IG_EINVAL, "det_dpotrf_lower: the %lld x %lld matrix is not positive definite "
                                    "(pivot %lld is %g)", (long long)n, (long long)n, (long long)i, d);
        }
#pragma omp parallel for schedule(static) if (parallel && (n - j0 - b) * b * b >= DET_PARALLEL_MIN)
        for (int64_t i = j0 + b; i < n; i++)
            chol_row(A, lda, i, j0, b);
    }
    return 0;
}

int det_dpotrf_lower(double *A, int64_t n, int64_t lda)
{
    return chol_lower(A, n, lda, det_dgemm_nt, true);
}

int det_dpotrf_lower_ref(double *A, int64_t n, int64_t lda)
{
    return chol_lower(A, n, lda, dgemm_ref, false);
}

/* ---- the inverse's upper Cholesky factor --------------------------------------------------------- */

/* Column j of X = L⁻¹ over the row block [r0, r0 + b): x is row j of Xᵀ (x[i] = X_ij), and
 * T [b][r0] holds Σ_{p<r0} L_ip X_pj for the block's rows. Forward substitution:
 * X_ij = (δ_ij − T_ij − Σ_{max(r0,j)<=p<i} L_ip X_pj) / L_ii. */
FMA_CLONES static void inverse_column(const double *L, int64_t n, double *x, const double *T, int64_t r0, int64_t b, int64_t j)
{
    const int64_t p0 = j > r0 ? j : r0;
    for (int64_t i = p0; i < r0 + b; i++) {
        const double *Li = L + i * n;
        double s = 0.0;
        for (int64_t p = p0; p < i; p++)
            s = fma(Li[p], x[p], s);
        const double rhs = (i == j ? 1.0 : 0.0) - (j < r0 ? T[(i - r0) * r0 + j] : 0.0);
        x[i] = (rhs - s) / Li[i];
    }
}

static int inverse_cholesky_upper(const double *A, int64_t n, double *U, dgemm_fn gemm, bool parallel)
{
    double *L = ig_malloc((size_t)(n * n) * sizeof *L);
    double *Xt = ig_calloc((size_t)(n * n), sizeof *Xt);   /* Xᵀ: zeros above X's diagonal */
    double *T = ig_malloc((size_t)(DET_CHOL_NB * n) * sizeof *T);
    int rc = L && Xt && T ? 0 : ig_error_set(IG_ENOMEM, "det_inverse_cholesky_upper: n = %lld", (long long)n);
    for (int64_t i = 0; i < n && !rc; i++)           /* L = J A J, then factored */
        for (int64_t j = 0; j < n; j++)
            L[i * n + j] = A[(n - 1 - i) * n + (n - 1 - j)];
    if (!rc)
        rc = chol_lower(L, n, n, gemm, parallel);
    for (int64_t r0 = 0; r0 < n && !rc; r0 += DET_CHOL_NB) {
        const int64_t b = min64(DET_CHOL_NB, n - r0);
        if (r0 > 0)
            rc = gemm(b, r0, r0, L + r0 * n, n, Xt, n, T, r0, DET_STORE, false);
        if (rc)
            break;
#pragma omp parallel for schedule(static) if (parallel && (r0 + b) * b * b >= DET_PARALLEL_MIN)
        for (int64_t j = 0; j < r0 + b; j++)
            inverse_column(L, n, Xt + j * n, T, r0, b, j);
    }
    for (int64_t i = 0; i < n && !rc; i++)           /* U = J X J: U_ij = X_{n-1-i, n-1-j} */
        for (int64_t j = 0; j < n; j++)
            U[i * n + j] = j >= i ? Xt[(n - 1 - j) * n + (n - 1 - i)] : 0.0;
    free(L);
    free(Xt);
    free(T);
    return rc;
}

int det_inverse_cholesky_upper(const double *A, int64_t n, double *U)
{
    return inverse_cholesky_upper(A, n, U, det_dgemm_nt, true);
}

int det_inverse_cholesky_upper_ref(const double *A, int64_t n, double *U)
{
    return inverse_cholesky_upper(A, n, U, dgemm_ref, false);
}
