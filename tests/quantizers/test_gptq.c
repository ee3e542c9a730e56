/* test_gptq.c — GPTQ on small matrices with known Hessians.
 *
 * References: (1) round-to-nearest with the type's reference quantizer, which GPTQ must beat
 * on output error tr(ΔW H ΔWᵀ); (2) a straightforward implementation written here from the
 * paper's Algorithm 1 without lazy batches: every column's error is propagated to every
 * later column at once, in double precision. The two differ only in the order of float
 * sums, so their results agree to rounding and their codes agree except where a value
 * lands within rounding of a grid midpoint.
 */
#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "quantizers/gptq.h"
#include "quantizers/quant_grid.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <lapacke.h>
#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

/* H = XᵀX/N for N correlated samples with a few loud channels (like real activations). */
static void make_problem(int64_t m, int64_t n, float *W, double *H)
{
    int64_t N = 4 * n;
    double *X = malloc(sizeof(double) * (size_t)(N * n));
    for (int64_t t = 0; t < N; t++) {
        double common = gauss();
        for (int64_t j = 0; j < n; j++)
            X[t * n + j] = (0.6 * gauss() + 0.4 * common) * (j % 17 == 3 ? 8.0 : 1.0);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t t = 0; t < N; t++)
                s += X[t * n + i] * X[t * n + j];
            H[i * n + j] = s / (double)N;
        }
    for (int64_t i = 0; i < m * n; i++)
        W[i] = (float)(0.05 * gauss());
    free(X);
}

static double output_error(const float *W, const float *Wq, int64_t m, int64_t n, const double *H)
{
    double e = 0;
    for (int64_t r = 0; r < m; r++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                e += ((double)W[r * n + i] - Wq[r * n + i]) * H[i * n + j] * ((double)W[r * n + j] - Wq[r * n + j]);
    return e;
}

static void dequantize(int type, const uint8_t *packed, int64_t m, int64_t n, float *out)
{
    const struct quant_type *qt = quant_type_get(type);
    size_t rb = quant_row_size_bytes(qt, n);
    for (int64_t r = 0; r < m; r++)
        qt->dequantize_row_ref(packed + (size_t)r * rb, out + r * n, n);
}

/* The paper's Algorithm 1, column by column, double precision, same grid policy. */
static void slow_gptq(const float *W0, int64_t m, int64_t n, const double *H, int type, float damp, uint8_t *dst)
{
    const struct quant_type *qt = quant_type_get(type);
    const int64_t B = qt->block_elems;
    const size_t rb = quant_row_size_bytes(qt, n);
    double *U = malloc(sizeof(double) * (size_t)(n * n));
    double mean = 0;
    for (int64_t j = 0; j < n; j++)
        mean += H[j * n + j] / (double)n;
    memcpy(U, H, sizeof(double) * (size_t)(n * n));
    for (int64_t j = 0; j < n; j++)
        U[j * n + j] += damp * mean;
    /* U = chol(inv(H)) upper, via LAPACK as a column-major matrix */
    LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (int)n, U, (int)n);
    LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', (int)n, U, (int)n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            U[j * n + i] = U[i * n + j];   /* fill the other triangle (symmetric) */
    LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (int)n, U, (int)n);
    float imp[1024];
    for (int64_t j = 0; j < n; j++)
        imp[j] = (float)H[j * n + j];
    double *w = malloc(sizeof(double) * (size_t)n);
    float wf[256];
    for (int64_t r = 0; r < m; r++) {
        for (int64_t j = 0; j < n; j++)
            w[j] = W0[r * n + j];
        uint8_t *row = dst + (size_t)r * rb;
        for (int64_t c = 0; c < n; c++) {
            uint8_t *block = row + (size_t)(c / B) * qt->block_bytes;
            if (c % B == 0) {
                for (int64_t k = 0; k < B; k++)
                    wf[k] = (float)w[c + k];
                qt->quantize_row_ref(wf, block, B, imp + c);
            }
            struct quant_grid g;
            quant_grid_of(type, block, (int)(c % B), &g);
            int q = quant_grid_nearest(&g, (float)w[c]);
            quant_grid_set(type, block, (int)(c % B), q);
            double val = quant_grid_value(&g, q);
            double e = (w[c] - val) / U[c * n + c];
            for (int64_t k = c + 1; k < n; k++)
                w[k] -= e * U[c * n + k];
        }
    }
    free(U);
    free(w);
}

static void check_type(int type, int64_t m, int64_t n, uint64_t seed)
{
    rng_state = seed;
    const struct quant_type *qt = quant_type_get(type);
    size_t rb = quant_row_size_bytes(qt, n);
    float *W = malloc(sizeof(float) * (size_t)(m * n)), *Wg = malloc(sizeof(float) * (size_t)(m * n));
    float *Wq = malloc(sizeof(float) * (size_t)(m * n)), *Wr = malloc(sizeof(float) * (size_t)(m * n));
    float *Ws = malloc(sizeof(float) * (size_t)(m * n));
    double *H = malloc(sizeof(double) * (size_t)(n * n));
    uint8_t *pg = malloc(rb * (size_t)m), *pr = malloc(rb * (size_t)m), *ps = malloc(rb * (size_t)m);
    make_problem(m, n, W, H);
    /* round to nearest, weighted by diag(H) as an imatrix: the baseline */
    float imp[1024];
    for (int64_t j = 0; j < n; j++)
        imp[j] = (float)H[j * n + j];
    for (int64_t r = 0; r < m; r++)
        qt->quantize_row_ref(W + r * n, pr + (size_t)r * rb, n, imp);
    dequantize(type, pr, m, n, Wr);
    memcpy(Wg, W, sizeof(float) * (size_t)(m * n));
    struct gptq_opts o = {0.01f, GPTQ_DEFAULT, 128};
    struct gptq_report rep;
    cr_assert_eq(gptq_quantize(Wg, m, n, H, type, &o, pg, &rep), 0, "%s", ig_error_message());
    dequantize(type, pg, m, n, Wq);
    double e_rtn = output_error(W, Wr, m, n, H), e_gptq = output_error(W, Wq, m, n, H);
    cr_expect_lt(e_gptq, 0.9 * e_rtn, "%s (seed %llu): GPTQ error %g, RTN %g", ggml_type_name(type),
                 (unsigned long long)seed, e_gptq, e_rtn);
    /* the relative error helper agrees with the direct computation */
    double rel = gptq_relative_error(W, Wq, m, n, H), den = output_error(W, (float[1]){0}, 0, n, H);
    (void)den;
    cr_expect(rel > 0 && rel < 1, "%s: relative error %g", ggml_type_name(type), rel);
    slow_gptq(W, m, n, H, type, 0.01f, ps);
    dequantize(type, ps, m, n, Ws);
    double e_slow = output_error(W, Ws, m, n, H);
    cr_expect_leq(fabs(e_gptq - e_slow), 0.02 * e_slow, "%s: lazy-batch GPTQ %g vs straightforward %g",
                  ggml_type_name(type), e_gptq, e_slow);
    int64_t differ = 0;
    for (int64_t i = 0; i < m * n; i++)
        differ += Wq[i] != Ws[i];
    /* float lazy batches vs double column updates: once one rounding goes the other way the
     * later columns see different errors, so a few percent of codes may differ; the output
     * error above is the quantity that must agree */
    cr_expect_leq(differ, m * n / 20, "%s: %lld of %lld weights differ from the straightforward GPTQ",
                  ggml_type_name(type), (long long)differ, (long long)(m * n));
    free(W);
    free(Wg);
    free(Wq);
    free(Wr);
    free(Ws);
    free(H);
    free(pg);
    free(pr);
    free(ps);
}

Test(gptq, beats_rtn_and_matches_the_slow_algorithm_q4_0) { check_type(GGML_TYPE_Q4_0, 24, 256, 1); }
Test(gptq, beats_rtn_and_matches_the_slow_algorithm_q8_0) { check_type(GGML_TYPE_Q8_0, 16, 256, 2); }
Test(gptq, beats_rtn_and_matches_the_slow_algorithm_q4_k) { check_type(GGML_TYPE_Q4_K, 16, 512, 3); }
Test(gptq, beats_rtn_and_matches_the_slow_algorithm_q2_k) { check_type(GGML_TYPE_Q2_K, 16, 512, 4); }
Test(gptq, beats_rtn_and_matches_the_slow_algorithm_q6_k) { check_type(GGML_TYPE_Q6_K, 16, 256, 5); }
Test(gptq, beats_rtn_and_matches_the_slow_algorithm_i4_g128) { check_type(GGML_TYPE_I4_G128, 16, 256, 6); }

Test(gptq, same_result_with_one_and_two_threads)
{
    rng_state = 7;
    int64_t m = 32, n = 256;
    float *W = malloc(sizeof(float) * (size_t)(m * n)), *W1 = malloc(sizeof(float) * (size_t)(m * n));
    double *H = malloc(sizeof(double) * (size_t)(n * n));
    make_problem(m, n, W, H);
    size_t bytes = quant_row_size_bytes(quant_type_get(GGML_TYPE_Q4_K), n) * (size_t)m;
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    struct gptq_opts o = {0.01f, GPTQ_ACT_ORDER, 128};
    struct gptq_report rep;
    memcpy(W1, W, sizeof(float) * (size_t)(m * n));
    omp_set_num_threads(1);
    cr_assert_eq(gptq_quantize(W1, m, n, H, GGML_TYPE_Q4_K, &o, a, &rep), 0);
    memcpy(W1, W, sizeof(float) * (size_t)(m * n));
    omp_set_num_threads(2);
    cr_assert_eq(gptq_quantize(W1, m, n, H, GGML_TYPE_Q4_K, &o, b, &rep), 0);
    cr_expect_eq(memcmp(a, b, bytes), 0, "act-order Q4_K bytes depend on the thread count");
    free(W);
    free(W1);
    free(H);
    free(a);
    free(b);
}

Test(gptq, raises_damping_for_an_indefinite_hessian)
{
    int64_t m = 4, n = 32;
    float W[4 * 32];
    double H[32 * 32] = {0};
    for (int i = 0; i < m * n; i++)
        W[i] = (float)((i % 7) - 3) * 0.01f;
    /* identity, but columns 0 and 1 coupled by 2 (eigenvalues -1 and 3: not positive
     * definite until the damping exceeds 1) and column 5 never active (dead) */
    for (int i = 0; i < n; i++)
        H[i * n + i] = i == 5 ? 0.0 : 1.0;
    H[0 * n + 1] = H[1 * n + 0] = 2.0;
    uint8_t out[4 * 34];
    struct gptq_opts o = {0.01f, GPTQ_DEFAULT, 128};
    struct gptq_report rep;
    cr_assert_eq(gptq_quantize(W, m, n, H, GGML_TYPE_Q8_0, &o, out, &rep), 0, "%s", ig_error_message());
    cr_expect_eq(rep.dead_cols, 1);
    cr_expect_geq(rep.damp_raised, 2, "raised %d times", rep.damp_raised);
    cr_expect_gt(rep.damp_used, 1.0f, "damping %g", (double)rep.damp_used);
}

Test(gptq, rejects_types_without_a_grid)
{
    float W[32] = {0};
    double H[32 * 32] = {0};
    uint8_t out[128];
    struct gptq_opts o = {0.01f, GPTQ_DEFAULT, 128};
    struct gptq_report rep;
    cr_expect_eq(gptq_quantize(W, 1, 32, H, GGML_TYPE_F16, &o, out, &rep), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "F16"), "%s", ig_error_message());
}
