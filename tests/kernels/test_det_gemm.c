/* test_det_gemm.c — the deterministic GEMM, XᵀX and Cholesky of kernels/cpu/det_gemm.c.
 *
 * The fast paths (tiled, threaded, AVX2 or portable micro-kernel) must equal the scalar
 * references bit for bit on shapes at the tile edges (1, tile − 1, tile, tile + 1, odd
 * counts), with 1, 2 and 3 threads and the AVX2 kernel forced on and off. The
 * factorisations are also checked against hand-computed matrices.
 */
#include "common/ig_error.h"
#include "kernels/backend.h"
#include "kernels/cpu/det_gemm.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEED 20261206u

/* Uniform in [-1, 1) from a 32-bit LCG (seeded per test; the seed is printed on failure). */
static float next_uniform(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((double)(*s >> 8) / (double)(1u << 23)) - 1.0f;
}

static float *random_floats(int64_t n, uint32_t *s)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = next_uniform(s);
    return x;
}

static double *random_doubles(int64_t n, uint32_t *s)
{
    double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (double)next_uniform(s) + (double)next_uniform(s) * 1e-8;
    return x;
}

static const int thread_counts[] = {1, 2, 3};
static const enum det_simd simd_modes[] = {DET_SIMD_OFF, DET_SIMD_ON};

/* Skip the AVX2 half, saying so, on a CPU without it. */
static bool simd_mode_runs(enum det_simd mode)
{
    if (mode == DET_SIMD_ON && !det_simd_available()) {
        cr_log_warn("this CPU has no AVX2/FMA: the forced-AVX2 runs are skipped");
        return false;
    }
    return true;
}

/* ---- GEMM -------------------------------------------------------------------------------------- */

static void check_sgemm(int64_t m, int64_t n, int64_t k, enum det_acc acc, bool upper)
{
    uint32_t s = SEED ^ (uint32_t)(m * 7919 + n * 131 + k);
    const int64_t lda = k + 3, ldb = k + 1, ldc = n + 2;   /* padded leading dimensions */
    float *A = random_floats(m * lda, &s), *B = random_floats(n * ldb, &s), *C0 = random_floats(m * ldc, &s);
    float *ref = malloc((size_t)(m * ldc) * sizeof *ref), *got = malloc((size_t)(m * ldc) * sizeof *got);
    memcpy(ref, C0, (size_t)(m * ldc) * sizeof *ref);
    det_sgemm_nt_ref(m, n, k, A, lda, B, ldb, ref, ldc, acc, upper);
    for (size_t sm = 0; sm < 2; sm++) {
        if (!simd_mode_runs(simd_modes[sm]))
            continue;
        det_simd_set(simd_modes[sm]);
        for (size_t t = 0; t < 3; t++) {
            omp_set_num_threads(thread_counts[t]);
            memcpy(got, C0, (size_t)(m * ldc) * sizeof *got);
            cr_assert_eq(det_sgemm_nt(m, n, k, A, lda, B, ldb, got, ldc, acc, upper), 0);
            int64_t bad = 0;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = upper ? i : 0; j < n; j++)
                    if (memcmp(&got[i * ldc + j], &ref[i * ldc + j], sizeof(float)) != 0 && bad++ == 0)
                        cr_expect(0, "sgemm %lldx%lldx%lld acc %d upper %d simd %d threads %d seed %u: C[%lld][%lld] "
                                  "= %a, reference %a", (long long)m, (long long)n, (long long)k, acc, upper,
                                  simd_modes[sm], thread_counts[t], SEED, (long long)i, (long long)j,
                                  (double)got[i * ldc + j], (double)ref[i * ldc + j]);
            /* the padding between rows is never written */
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = n; j < ldc; j++)
                    cr_expect(got[i * ldc + j] == C0[i * ldc + j], "sgemm wrote C[%lld][%lld] past n", (long long)i,
                              (long long)j);
        }
    }
    det_simd_set(DET_SIMD_AUTO);
    free(A);
    free(B);
    free(C0);
    free(ref);
    free(got);
}

static void check_dgemm(int64_t m, int64_t n, int64_t k, enum det_acc acc)
{
    uint32_t s = SEED ^ (uint32_t)(m * 7919 + n * 131 + k);
    const int64_t lda = k + 1, ldb = k + 2, ldc = n + 1;
    double *A = random_doubles(m * lda, &s), *B = random_doubles(n * ldb, &s), *C0 = random_doubles(m * ldc, &s);
    double *ref = malloc((size_t)(m * ldc) * sizeof *ref), *got = malloc((size_t)(m * ldc) * sizeof *got);
    memcpy(ref, C0, (size_t)(m * ldc) * sizeof *ref);
    det_dgemm_nt_ref(m, n, k, A, lda, B, ldb, ref, ldc, acc, false);
    for (size_t sm = 0; sm < 2; sm++) {
        if (!simd_mode_runs(simd_modes[sm]))
            continue;
        det_simd_set(simd_modes[sm]);
        for (size_t t = 0; t < 3; t++) {
            omp_set_num_threads(thread_counts[t]);
            memcpy(got, C0, (size_t)(m * ldc) * sizeof *got);
            cr_assert_eq(det_dgemm_nt(m, n, k, A, lda, B, ldb, got, ldc, acc, false), 0);
            int64_t first = -1;
            for (int64_t i = 0; i < m * ldc && first < 0; i++)
                if (memcmp(&got[i], &ref[i], sizeof(double)) != 0)
                    first = i;
            cr_expect(first < 0, "dgemm %lldx%lldx%lld acc %d simd %d threads %d seed %u: element %lld = %a, reference %a",
                      (long long)m, (long long)n, (long long)k, acc, simd_modes[sm], thread_counts[t], SEED,
                      (long long)first, first < 0 ? 0.0 : got[first], first < 0 ? 0.0 : ref[first]);
        }
    }
    det_simd_set(DET_SIMD_AUTO);
    free(A);
    free(B);
    free(C0);
    free(ref);
    free(got);
}

Test(det_gemm, sgemm_equals_the_reference_at_tile_edges, .timeout = 120)
{
    const int64_t ms[] = {1, 7, DET_S_MC - 1, DET_S_MC, DET_S_MC + 1, 2 * DET_S_MC + 5};
    const int64_t ns[] = {1, 17, DET_S_NC - 1, DET_S_NC, DET_S_NC + 1};
    const int64_t ks[] = {1, 5, DET_KC - 1, DET_KC, DET_KC + 1};
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
                check_sgemm(ms[a], ns[b], ks[c], (a + b + c) % 2 ? DET_SUB : DET_STORE, false);
}

Test(det_gemm, sgemm_upper_and_large_shapes_equal_the_reference, .timeout = 120)
{
    check_sgemm(131, 131, 77, DET_STORE, true);            /* XᵀX's shape: square, upper */
    check_sgemm(3 * DET_S_MC + 1, 2 * DET_S_NC + 3, 2 * DET_KC + 9, DET_STORE, false);   /* several threads' tiles */
    check_sgemm(257, 300, 129, DET_SUB, false);
    check_sgemm(5, 3, 0, DET_STORE, false);                /* k = 0: C = 0 */
}

Test(det_gemm, dgemm_equals_the_reference_at_tile_edges, .timeout = 120)
{
    const int64_t ms[] = {1, DET_D_MC - 1, DET_D_MC, DET_D_MC + 1, 101};
    const int64_t ns[] = {1, DET_D_NC - 1, DET_D_NC, DET_D_NC + 1, 70};
    const int64_t ks[] = {1, 33, DET_KC - 1, DET_KC, DET_KC + 1};
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
                check_dgemm(ms[a], ns[b], ks[c], (a + b + c) % 2 ? DET_SUB : DET_STORE);
}

Test(det_gemm, syrk_is_the_ordered_sum_over_rows)
{
    const int64_t rows[] = {1, 63, 128, 129}, dims[] = {1, 17, 64, 65, 130};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 5; b++) {
            const int64_t n = rows[a], d = dims[b];
            uint32_t s = SEED + (uint32_t)(n * 1000 + d);
            float *X = random_floats(n * d, &s), *C = malloc((size_t)(d * d) * sizeof *C);
            for (size_t t = 0; t < 3; t++) {
                omp_set_num_threads(thread_counts[t]);
                cr_assert_eq(det_ssyrk_upper(X, n, d, C), 0);
                for (int64_t i = 0; i < d; i++)
                    for (int64_t j = i; j < d; j++) {
                        float acc = 0.0f;
                        for (int64_t r = 0; r < n; r++)
                            acc = fmaf(X[r * d + i], X[r * d + j], acc);
                        cr_expect(memcmp(&acc, &C[i * d + j], sizeof acc) == 0,
                                  "syrk %lld x %lld threads %d seed %u: C[%lld][%lld] = %a, ordered sum %a", (long long)n,
                                  (long long)d, thread_counts[t], SEED, (long long)i, (long long)j, (double)C[i * d + j],
                                  (double)acc);
                    }
            }
            free(X);
            free(C);
        }
}

Test(det_gemm, backend_matmul_adds_the_bias_after_the_sum)
{
    uint32_t s = SEED;
    const int64_t n = 9, k = 70, m = 33;
    float *X = random_floats(n * k, &s), *W = random_floats(m * k, &s), *bias = random_floats(m, &s);
    float Y[9 * 33], ref[9 * 33];
    cr_assert_eq(backend_cpu()->matmul(X, n, k, W, m, bias, Y), 0);
    det_sgemm_nt_ref(n, m, k, X, k, W, k, ref, m, DET_STORE, false);
    for (int64_t i = 0; i < n * m; i++) {
        const float want = ref[i] + bias[i % m];
        cr_expect(memcmp(&Y[i], &want, sizeof want) == 0, "Y[%lld] = %a, want %a", (long long)i, (double)Y[i],
                  (double)want);
    }
    free(X);
    free(W);
    free(bias);
}

/* attention_rows on the rows past a cached prefix gives attention()'s rows bit for bit, with 1 and 3
 * threads (the task scorer evaluates a shared context once and relies on it). */
Test(det_gemm, attention_rows_past_a_prefix_equal_the_whole_windows_rows)
{
    uint32_t s = SEED;
    const int64_t n = 23, n_head = 4, n_head_kv = 2, hd = 8, pos0 = 17, n_new = n - pos0;
    float *q = random_floats(n * n_head * hd, &s), *k = random_floats(n * n_head_kv * hd, &s);
    float *v = random_floats(n * n_head_kv * hd, &s);
    float *whole = malloc((size_t)(n * n_head * hd) * sizeof *whole);
    float *rows = malloc((size_t)(n_new * n_head * hd) * sizeof *rows);
    for (int threads = 1; threads <= 3; threads += 2) {
        omp_set_num_threads(threads);
        cr_assert_eq(backend_cpu()->attention(q, k, v, n, n_head, n_head_kv, hd, whole), 0);
        cr_assert_eq(backend_cpu()->attention_rows(q + pos0 * n_head * hd, k, v, pos0, n_new, n_head, n_head_kv, hd,
                                                   rows), 0);
        cr_expect(memcmp(rows, whole + pos0 * n_head * hd, (size_t)(n_new * n_head * hd) * sizeof *rows) == 0,
                  "%d threads: rows %lld.. differ from the whole window's", threads, (long long)pos0);
    }
    free(q);
    free(k);
    free(v);
    free(whole);
    free(rows);
}

/* ---- Cholesky ------------------------------------------------------------------------------------ */

/* A = B·Bᵀ/k + I: symmetric positive definite, well conditioned. */
static double *random_spd(int64_t n, uint32_t seed)
{
    uint32_t s = seed;
    double *B = random_doubles(n * n, &s), *A = malloc((size_t)(n * n) * sizeof *A);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < n; p++)
                acc += B[i * n + p] * B[j * n + p];
            A[i * n + j] = acc / (double)n + (i == j ? 1.0 : 0.0);
        }
    free(B);
    return A;
}

Test(det_cholesky, factor_of_a_hand_checked_matrix)
{
    /* the textbook example: every entry of L is a small integer, exact in double */
    double A[9] = {4, 12, -16, 12, 37, -43, -16, -43, 98};
    const double L[9] = {2, 0, 0, 6, 1, 0, -8, 5, 3};
    cr_assert_eq(det_dpotrf_lower(A, 3, 3), 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j <= i; j++)
            cr_expect_eq(A[i * 3 + j], L[i * 3 + j], "L[%d][%d] = %.17g, want %g", i, j, A[i * 3 + j], L[i * 3 + j]);
}

Test(det_cholesky, inverse_factor_of_a_hand_checked_matrix)
{
    /* A = [[4, 2], [2, 2]]: A⁻¹ = [[1/2, -1/2], [-1/2, 1]] = UᵀU with
     * U = [[√½, −√½], [0, √½]]. Tolerance: a few ulp of 1 (two divisions and square roots). */
    const double A[4] = {4, 2, 2, 2}, r = sqrt(0.5);
    const double want[4] = {r, -r, 0, r};
    double U[4];
    cr_assert_eq(det_inverse_cholesky_upper(A, 2, U), 0);
    for (int i = 0; i < 4; i++)
        cr_expect(fabs(U[i] - want[i]) <= 4e-16, "U[%d] = %.17g, want %.17g", i, U[i], want[i]);
}

Test(det_cholesky, inverse_factor_inverts_within_tolerance)
{
    /* ‖UᵀU·A − I‖_max: A = BBᵀ/n + I has condition number below ~5, so the error is a small
     * multiple of n·ε; 1e-12 leaves two orders of magnitude. */
    const int64_t n = 150;
    double *A = random_spd(n, SEED), *U = malloc((size_t)(n * n) * sizeof *U);
    cr_assert_eq(det_inverse_cholesky_upper(A, n, U), 0);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;   /* (UᵀU A)[i][j] = Σ_p (UᵀU)[i][p] A[p][j] */
            for (int64_t p = 0; p < n; p++) {
                double inv = 0.0;
                for (int64_t q = 0; q <= (i < p ? i : p); q++)
                    inv += U[q * n + i] * U[q * n + p];
                acc += inv * A[p * n + j];
            }
            worst = fmax(worst, fabs(acc - (i == j ? 1.0 : 0.0)));
        }
    cr_expect_lt(worst, 1e-12, "max |UᵀU·A − I| = %g (seed %u)", worst, SEED);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            cr_expect_eq(U[i * n + j], 0.0, "U[%lld][%lld] below the diagonal is not zero", (long long)i, (long long)j);
    free(A);
    free(U);
}

Test(det_cholesky, fast_equals_reference_at_block_edges, .timeout = 120)
{
    const int64_t sizes[] = {1, 2, DET_CHOL_NB - 1, DET_CHOL_NB, DET_CHOL_NB + 1, 3 * DET_CHOL_NB + 7};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
        const int64_t n = sizes[a];
        double *A = random_spd(n, SEED + (uint32_t)n);
        double *ref = malloc((size_t)(n * n) * sizeof *ref), *got = malloc((size_t)(n * n) * sizeof *got);
        double *Uref = malloc((size_t)(n * n) * sizeof *Uref), *Ugot = malloc((size_t)(n * n) * sizeof *Ugot);
        memcpy(ref, A, (size_t)(n * n) * sizeof *ref);
        cr_assert_eq(det_dpotrf_lower_ref(ref, n, n), 0);
        cr_assert_eq(det_inverse_cholesky_upper_ref(A, n, Uref), 0);
        for (size_t sm = 0; sm < 2; sm++) {
            if (!simd_mode_runs(simd_modes[sm]))
                continue;
            det_simd_set(simd_modes[sm]);
            for (size_t t = 0; t < 3; t++) {
                omp_set_num_threads(thread_counts[t]);
                memcpy(got, A, (size_t)(n * n) * sizeof *got);
                cr_assert_eq(det_dpotrf_lower(got, n, n), 0);
                cr_assert_eq(det_inverse_cholesky_upper(A, n, Ugot), 0);
                int64_t bad_l = 0, bad_u = 0;
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j <= i; j++)
                        bad_l += memcmp(&got[i * n + j], &ref[i * n + j], sizeof(double)) != 0;
                bad_u = memcmp(Ugot, Uref, (size_t)(n * n) * sizeof *Ugot) != 0;
                cr_expect(bad_l == 0 && bad_u == 0, "n %lld simd %d threads %d seed %u: %lld entries of L and %s U differ",
                          (long long)n, simd_modes[sm], thread_counts[t], SEED + (uint32_t)n, (long long)bad_l,
                          bad_u ? "some of" : "none of");
            }
        }
        det_simd_set(DET_SIMD_AUTO);
        free(A);
        free(ref);
        free(got);
        free(Uref);
        free(Ugot);
    }
}

Test(det_cholesky, rejects_an_indefinite_matrix_naming_the_pivot)
{
    double A[9] = {1, 2, 0, 2, 1, 0, 0, 0, 1};   /* eigenvalues 3, -1, 1 */
    double U[9];
    cr_expect_eq(det_dpotrf_lower(A, 3, 3), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "pivot 1"), "message: %s", ig_error_message());
    const double B[4] = {1, 2, 2, 1};
    cr_expect_eq(det_inverse_cholesky_upper(B, 2, U), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "not positive definite"), "message: %s", ig_error_message());
}
