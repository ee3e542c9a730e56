/* test_awq.c — AWQ's scale search, clip search and final rounding (quantizers/awq.h) on
 * seeded synthetic data.
 *
 * The library scores everything on H = XᵀX / n_tok; the references here recompute every
 * error by the definition (mean over tokens of the squared output difference, in double,
 * no Gram matrix, no GEMM), from the type's own quantize-then-dequantize. Data: Gaussian inputs with a few 20x channels
 * (AWQ's salient channels), Gaussian weights with a few 10x entries (what clipping is for).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "quantizers/awq.h"
#include "quantizers/ext_types.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- seeded data ------------------------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

static uint64_t rng_next(void)  /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(void)  /* (0, 1] */
{
    return (double)((rng_next() >> 11) + 1) * 0x1.0p-53;
}

static float rng_normal(void)
{
    return (float)(sqrt(-2.0 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform()));
}

/* X [n_tok][n_in] ~ N(0, 1), with channels j ≡ 0 (mod outlier_every) times outlier
 * (outlier_every = 0: none). Caller frees. */
static float *make_inputs(int64_t n_tok, int64_t n_in, int64_t outlier_every, float outlier, uint64_t seed)
{
    float *X = malloc((size_t)(n_tok * n_in) * sizeof *X);
    cr_assert(X);
    rng_seed(seed);
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t j = 0; j < n_in; j++)
            X[t * n_in + j] = rng_normal() * (outlier_every && j % outlier_every == 3 ? outlier : 1.0f);
    return X;
}

/* W [m][n_in] ~ N(0, 0.02²), with one element in every `every` (random places) times
 * factor (every = 0: none). Caller frees. */
static float *make_weights(int64_t m, int64_t n_in, int64_t every, float factor, uint64_t seed)
{
    float *W = malloc((size_t)(m * n_in) * sizeof *W);
    cr_assert(W);
    rng_seed(seed);
    for (int64_t k = 0; k < m * n_in; k++)
        W[k] = 0.02f * rng_normal();
    for (int64_t k = 0; every && k < m * n_in / every; k++)
        W[rng_next() % (uint64_t)(m * n_in)] *= factor;
    return W;
}

/* ---- references ---------------------------------------------------------------------------- */

/* H [n_in][n_in] = XᵀX / n_tok in double, and x̄ [n_in] = mean |x|: what the driver
 * accumulates. Caller frees H. */
static double *gram(const float *X, int64_t n_tok, int64_t n_in, float *xbar)
{
    double *H = calloc((size_t)(n_in * n_in), sizeof *H);
    cr_assert(H);
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t a = 0; a < n_in; a++)
            for (int64_t b = 0; b < n_in; b++)
                H[a * n_in + b] += (double)X[t * n_in + a] * (double)X[t * n_in + b];
    for (int64_t k = 0; k < n_in * n_in; k++)
        H[k] /= (double)n_tok;
    for (int64_t j = 0; xbar && j < n_in; j++) {
        double acc = 0.0;
        for (int64_t t = 0; t < n_tok; t++)
            acc += fabs((double)X[t * n_in + j]);
        xbar[j] = (float)(acc / (double)n_tok);
    }
    return H;
}

/* Ŵ [m][n_in] = Q(W·diag(s))·diag(1/s) (s NULL: Q(W)), Q weighted by imp (NULL: none).
 * Caller frees. */
static float *round_trip(const float *W, int64_t m, int64_t n_in, int type, const float *s, const float *imp)
{
    const struct quant_type *qt = quant_type_get(type);
    cr_assert(qt);
    float *Wq = malloc((size_t)(m * n_in) * sizeof *Wq);
    uint8_t *packed = malloc(quant_row_size_bytes(qt, n_in));
    cr_assert(Wq && packed);
    for (int64_t r = 0; r < m; r++) {
        float *row = Wq + r * n_in;
        for (int64_t j = 0; j < n_in; j++)
            row[j] = s ? W[r * n_in + j] * s[j] : W[r * n_in + j];
        cr_assert_eq(qt->quantize_row_ref(row, packed, n_in, imp), 0);
        qt->dequantize_row_ref(packed, row, n_in);
        for (int64_t j = 0; s && j < n_in; j++)
            row[j] = row[j] / s[j];
    }
    free(packed);
    return Wq;
}

/* Mean over the tokens of Σ over the m rows of (x·w − x·ŵ)², in double. Columns [j0, j1)
 * only: a clip group, or the whole row. */
static double output_mse(const float *X, int64_t n_tok, int64_t n_in, const float *W, const float *Wq, int64_t m,
                         int64_t j0, int64_t j1)
{
    double sse = 0.0;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < m; r++) {
            double e = 0.0;
            for (int64_t j = j0; j < j1; j++)
                e += (double)X[t * n_in + j] * ((double)W[r * n_in + j] - (double)Wq[r * n_in + j]);
            sse += e * e;
        }
    return sse / (double)n_tok;
}

/* Relative distance, for errors that the library sums in float GEMMs and the test in double. */
static double rel_diff(double a, double b)
{
    return fabs(a - b) / fmax(fabs(b), 1e-300);
}

/* ---- folding ---------------------------------------------------------------------------------- */

/* (X·diag(1/s))·(W·diag(s))ᵀ = X·Wᵀ: each product x_j/s_j · w_j·s_j carries two float
 * roundings (≤ 2^-24 relative each) besides the exact x_j·w_j, so the folded output differs
 * by at most Σ_j |x_j w_j| · (2·2^-24 + 2^-48); the bound below uses 3·2^-24. */
Test(awq_fold, scales_cancel_in_the_output)
{
    enum { T = 17, N = 96, M = 11 };
    float *X = make_inputs(T, N, 7, 20.0f, 11), *W = make_weights(M, N, 13, 10.0f, 12);
    float s[N];
    rng_seed(13);
    for (int j = 0; j < N; j++)
        s[j] = (float)exp(4.6 * (2.0 * rng_uniform() - 1.0));  /* 1e-2 .. 1e2 */
    for (int t = 0; t < T; t++)
        for (int r = 0; r < M; r++) {
            double y = 0.0, y_fold = 0.0, bound = 0.0;
            for (int j = 0; j < N; j++) {
                float x = X[t * N + j], w = W[r * N + j];
                y += (double)x * w;
                y_fold += (double)(x / s[j]) * (double)(w * s[j]);
                bound += fabs((double)x * w) * 3.0 * 0x1.0p-24;
            }
            cr_expect(fabs(y_fold - y) <= bound, "token %d row %d: folded %.9g, plain %.9g (bound %.3g, seed 11/12/13)",
                      t, r, y_fold, y, bound);
        }
    free(X);
    free(W);
}

/* ---- the scale search --------------------------------------------------------------------- */

struct scale_case {
    int64_t n_tok, n_in;
    int64_t m[2];
    int64_t outlier_every;  /* 0: no outliers */
    uint64_t seed;
};

/* Run the scale search on a two-linear group and check every number it reports against
 * the references: err_plain is s = 1, err_best is what s_out gives; `weighted` rounds with
 * the importance diag(H)/s², as awq.h promises. */
static void run_scale(const struct scale_case *c, int type, bool weighted, float *s, struct awq_result *res)
{
    float *X = make_inputs(c->n_tok, c->n_in, c->outlier_every, 20.0f, c->seed);
    float *W0 = make_weights(c->m[0], c->n_in, 0, 1.0f, c->seed + 1);
    float *W1 = make_weights(c->m[1], c->n_in, 0, 1.0f, c->seed + 2);
    float *xbar = malloc((size_t)c->n_in * sizeof *xbar), *imp1 = malloc((size_t)c->n_in * sizeof *imp1);
    float *imp_s = malloc((size_t)c->n_in * sizeof *imp_s);
    cr_assert(xbar && imp1 && imp_s);
    double *H = gram(X, c->n_tok, c->n_in, xbar);
    struct awq_linear lin[2] = {{W0, c->m[0]}, {W1, c->m[1]}};
    int rc = awq_search_scale(H, xbar, c->n_in, lin, 2, type, 20, weighted, s, res);
    cr_assert_eq(rc, 0, "type %d: rc %d: %s", type, rc, ig_error_message());

    for (int64_t j = 0; j < c->n_in; j++) {
        imp1[j] = (float)H[j * c->n_in + j];
        imp_s[j] = (float)(H[j * c->n_in + j] / ((double)s[j] * (double)s[j]));
    }
    double count = (double)(c->m[0] + c->m[1]), plain = 0.0, best = 0.0;
    for (int l = 0; l < 2; l++) {
        float *Wq = round_trip(lin[l].W, lin[l].m, c->n_in, type, NULL, weighted ? imp1 : NULL);
        float *Ws = round_trip(lin[l].W, lin[l].m, c->n_in, type, s, weighted ? imp_s : NULL);
        plain += output_mse(X, c->n_tok, c->n_in, lin[l].W, Wq, lin[l].m, 0, c->n_in) / count;
        best += output_mse(X, c->n_tok, c->n_in, lin[l].W, Ws, lin[l].m, 0, c->n_in) / count;
        free(Wq);
        free(Ws);
    }
    /* float GEMM over n_in ≤ 512 products against a double sum: 1e-4 relative is ample */
    cr_expect(rel_diff(res->err_plain, plain) < 1e-4, "type %d seed %llu: err_plain %.9g, reference %.9g", type,
              (unsigned long long)c->seed, res->err_plain, plain);
    cr_expect(rel_diff(res->err_best, best) < 1e-4, "type %d seed %llu: err_best %.9g, reference with s_out %.9g",
              type, (unsigned long long)c->seed, res->err_best, best);
    free(X);
    free(W0);
    free(W1);
    free(H);
    free(xbar);
    free(imp1);
    free(imp_s);
}

static const int scale_types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K};

Test(awq_scale, outlier_channels_get_scaled)
{
    const struct scale_case c = {.n_tok = 300, .n_in = 512, .m = {48, 32}, .outlier_every = 64, .seed = 101};
    for (size_t k = 0; k < sizeof scale_types / sizeof scale_types[0]; k++) {
        float s[512];
        struct awq_result res;
        run_scale(&c, scale_types[k], false, s, &res);
        cr_expect(res.alpha > 0.0f, "%s: alpha %g", quant_type_get(scale_types[k])->name, (double)res.alpha);
        cr_expect(res.err_best < 0.8 * res.err_plain, "%s: err_best %.6g is not clearly below err_plain %.6g",
                  quant_type_get(scale_types[k])->name, res.err_best, res.err_plain);
        cr_log_info("awq_scale %s: alpha %.2f, err %.6g -> %.6g (%.1f%%)", quant_type_get(scale_types[k])->name,
                    (double)res.alpha, res.err_plain, res.err_best, 100.0 * (1.0 - res.err_best / res.err_plain));
        /* the outlier channels (j ≡ 3 mod 64) get the largest scales */
        cr_expect(s[3] > s[4] && s[67] > s[66], "%s: s[3] %g s[4] %g s[67] %g s[66] %g",
                  quant_type_get(scale_types[k])->name, (double)s[3], (double)s[4], (double)s[67], (double)s[66]);
    }
}

/* The importance-weighted rounding already protects the outlier channels, so scaling
 * gains less there than over plain rounding; it still must not lose, and its error is
 * what the weighted reference computes. */
Test(awq_scale, weighted_search_scores_the_weighted_rounding)
{
    const struct scale_case c = {.n_tok = 300, .n_in = 512, .m = {48, 32}, .outlier_every = 64, .seed = 111};
    for (size_t k = 0; k < sizeof scale_types / sizeof scale_types[0]; k++) {
        float s[512];
        struct awq_result res;
        run_scale(&c, scale_types[k], true, s, &res);
        cr_expect(res.err_best <= res.err_plain, "%s: err_best %.9g > err_plain %.9g",
                  quant_type_get(scale_types[k])->name, res.err_best, res.err_plain);
        cr_log_info("awq_scale weighted %s: alpha %.2f, err %.6g -> %.6g", quant_type_get(scale_types[k])->name,
                    (double)res.alpha, res.err_plain, res.err_best);
    }
}

Test(awq_scale, never_worse_than_plain_without_outliers)
{
    for (uint64_t seed = 201; seed < 204; seed++) {
        const struct scale_case c = {.n_tok = 64, .n_in = 256, .m = {24, 8}, .seed = seed};
        for (size_t k = 0; k < sizeof scale_types / sizeof scale_types[0]; k++) {
            float s[256];
            struct awq_result res;
            run_scale(&c, scale_types[k], false, s, &res);
            cr_expect(res.err_best <= res.err_plain, "%s seed %llu: err_best %.9g > err_plain %.9g",
                      quant_type_get(scale_types[k])->name, (unsigned long long)seed, res.err_best, res.err_plain);
            for (int j = 0; res.alpha == 0.0f && j < 256; j++)
                cr_expect_eq(s[j], 1.0f, "%s seed %llu: alpha 0 won but s[%d] = %.9g",
                             quant_type_get(scale_types[k])->name, (unsigned long long)seed, j, (double)s[j]);
        }
    }
}

/* With x̄_j = c_j, s_j = c_j^alpha / sqrt(max·min). */
Test(awq_scale, scales_follow_mean_abs_x_normalised)
{
    enum { T = 64, N = 128, M = 32 };
    float *X = malloc(T * N * sizeof *X), *W = make_weights(M, N, 0, 1.0f, 302), s[N];
    float c[N];
    cr_assert(X);
    rng_seed(301);
    for (int j = 0; j < N; j++)
        c[j] = j % 32 == 5 ? 20.0f : 0.5f + (float)(j % 7) * 0.25f;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < N; j++)
            X[t * N + j] = rng_next() & 1 ? c[j] : -c[j];
    double *H = gram(X, T, N, NULL);
    struct awq_linear lin = {W, M};
    struct awq_result res;
    cr_assert_eq(awq_search_scale(H, c, N, &lin, 1, GGML_TYPE_Q4_0, 20, false, s, &res), 0, "%s",
                 ig_error_message());
    cr_assert(res.alpha > 0.0f, "alpha %g (the 20x channels should win a scale)", (double)res.alpha);
    double norm = sqrt(pow(20.0, res.alpha) * pow(0.5, res.alpha));
    for (int j = 0; j < N; j++) {
        double want = pow(c[j], res.alpha) / norm;
        cr_expect(rel_diff(s[j], want) < 1e-5, "alpha %g: s[%d] = %.9g, want %.9g (c = %g)", (double)res.alpha, j,
                  (double)s[j], want, (double)c[j]);
    }
    free(X);
    free(W);
    free(H);
}

/* A dead channel (x̄ = 0, an all-zero column of X) gets the 1e-4 floor before
 * normalisation, not 0. */
Test(awq_scale, dead_channel_keeps_a_positive_scale)
{
    enum { T = 40, N = 64, M = 16 };
    float *X = make_inputs(T, N, 16, 20.0f, 401), *W = make_weights(M, N, 0, 1.0f, 402), s[N], xbar[N];
    for (int t = 0; t < T; t++)
        X[t * N + 10] = 0.0f;
    double *H = gram(X, T, N, xbar);
    struct awq_linear lin = {W, M};
    struct awq_result res;
    cr_assert_eq(awq_search_scale(H, xbar, N, &lin, 1, GGML_TYPE_Q4_0, 20, true, s, &res), 0, "%s",
                 ig_error_message());
    for (int j = 0; j < N; j++)
        cr_expect(isfinite(s[j]) && s[j] > 0.0f, "alpha %g: s[%d] = %g", (double)res.alpha, j, (double)s[j]);
    free(X);
    free(W);
    free(H);
}

/* ---- the clip search --------------------------------------------------------------------- */

struct clip_check {
    double sum_clipped, sum_plain;  /* Σ over rows and groups of the per-group objective */
    double out_clipped, out_plain;  /* whole-row output SSE */
    int64_t n_clipped;              /* groups that changed */
};

/* Check W_out against W for one type: each group is either untouched (bit for bit) or
 * clamped to ±mv for one mv < max |w|, and no group's objective went up. */
static void check_clip(const float *X, int64_t n_tok, int64_t n_in, const float *W,
                       const float *W_out, int64_t m, int type, struct clip_check *cc)
{
    const struct quant_type *qt = quant_type_get(type);
    int64_t gs = qt->block_elems;
    float *Wq = round_trip(W, m, n_in, type, NULL, NULL), *Wc = round_trip(W_out, m, n_in, type, NULL, NULL);
    memset(cc, 0, sizeof *cc);
    for (int64_t r = 0; r < m; r++) {
        for (int64_t j0 = 0; j0 < n_in; j0 += gs) {
            const float *w = W + r * n_in, *wo = W_out + r * n_in;
            float org = 0.0f, mv = 0.0f;
            for (int64_t j = j0; j < j0 + gs; j++) {
                org = fmaxf(org, fabsf(w[j]));
                mv = fmaxf(mv, fabsf(wo[j]));
            }
            int changed = memcmp(w + j0, wo + j0, (size_t)gs * sizeof *w) != 0;
            cc->n_clipped += changed;
            for (int64_t j = j0; j < j0 + gs; j++)
                cr_expect(wo[j] == (fabsf(w[j]) > mv ? copysignf(mv, w[j]) : w[j]),
                          "%s row %lld col %lld: %.9g -> %.9g, not a clamp to %.9g", qt->name, (long long)r,
                          (long long)j, (double)w[j], (double)wo[j], (double)mv);
            cr_expect(!changed || mv < org, "%s row %lld group %lld: changed but max %.9g >= %.9g", qt->name,
                      (long long)r, (long long)(j0 / gs), (double)mv, (double)org);
            /* the per-group objective, from the original weights */
            double e_plain = output_mse(X, n_tok, n_in, w, Wq + r * n_in, 1, j0, j0 + gs);
            double e_clip = output_mse(X, n_tok, n_in, w, Wc + r * n_in, 1, j0, j0 + gs);
            /* the library sums dᵀHd, the test Σ_t (x·d)² / T: both double, 1e-9 relative covers it */
            cr_expect(e_clip <= e_plain * (1.0 + 1e-9), "%s row %lld group %lld: clipped error %.12g > plain %.12g",
                      qt->name, (long long)r, (long long)(j0 / gs), e_clip, e_plain);
            cc->sum_clipped += e_clip;
            cc->sum_plain += e_plain;
        }
    }
    cc->out_plain = output_mse(X, n_tok, n_in, W, Wq, m, 0, n_in);
    cc->out_clipped = output_mse(X, n_tok, n_in, W, Wc, m, 0, n_in);
    free(Wq);
    free(Wc);
}

static const int clip_types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_I4_G128, GGML_TYPE_NF4};

Test(awq_clip, clips_heavy_tails_and_never_raises_the_error)
{
    enum { T = 96, N = 512, M = 24 };
    float *X = make_inputs(T, N, 0, 1.0f, 501), *W = make_weights(M, N, 64, 10.0f, 502);
    float *W_out = malloc(M * N * sizeof *W_out);
    double *H = gram(X, T, N, NULL);
    cr_assert(W_out);
    for (size_t k = 0; k < sizeof clip_types / sizeof clip_types[0]; k++) {
        const char *name = quant_type_get(clip_types[k])->name;
        struct clip_check cc;
        int rc = awq_search_clip(H, N, W, M, clip_types[k], 20, 10, W_out);
        cr_assert_eq(rc, 0, "%s: rc %d: %s", name, rc, ig_error_message());
        check_clip(X, T, N, W, W_out, M, clip_types[k], &cc);
        cr_expect(cc.n_clipped > 0, "%s: no group was clipped (seed 501/502)", name);
        cr_expect(cc.sum_clipped <= cc.sum_plain, "%s: summed group error %.9g > %.9g", name, cc.sum_clipped,
                  cc.sum_plain);
        /* not guaranteed (the objective ignores cross-group terms), but expected here */
        cr_expect(cc.out_clipped < cc.out_plain, "%s: output SSE %.9g, unclipped %.9g", name, cc.out_clipped,
                  cc.out_plain);
        cr_log_info("awq_clip %s: %lld of %d groups clipped, output SSE %.6g -> %.6g", name, (long long)cc.n_clipped,
                    M * N / (int)quant_type_get(clip_types[k])->block_elems, cc.out_plain, cc.out_clipped);
    }
    free(X);
    free(W);
    free(W_out);
    free(H);
}

/* Without outliers in W, every group's objective still does not rise. */
Test(awq_clip, gaussian_weights_never_get_worse)
{
    enum { T = 50, N = 256, M = 9 };
    float *X = make_inputs(T, N, 64, 20.0f, 511), *W = make_weights(M, N, 0, 1.0f, 512);
    float *W_out = malloc(M * N * sizeof *W_out);
    double *H = gram(X, T, N, NULL);
    cr_assert(W_out);
    for (size_t k = 0; k < sizeof clip_types / sizeof clip_types[0]; k++) {
        struct clip_check cc;
        cr_assert_eq(awq_search_clip(H, N, W, M, clip_types[k], 20, 10, W_out), 0, "%s", ig_error_message());
        check_clip(X, T, N, W, W_out, M, clip_types[k], &cc);
    }
    free(X);
    free(W);
    free(W_out);
    free(H);
}

Test(awq_clip, in_place_equals_out_of_place)
{
    enum { T = 40, N = 256, M = 12 };
    float *X = make_inputs(T, N, 32, 20.0f, 531), *W = make_weights(M, N, 16, 10.0f, 532);
    float *W_out = malloc(M * N * sizeof *W_out), *W_in = malloc(M * N * sizeof *W_in);
    cr_assert(W_out && W_in);
    double *H = gram(X, T, N, NULL);
    memcpy(W_in, W, M * N * sizeof *W);
    cr_assert_eq(awq_search_clip(H, N, W, M, GGML_TYPE_Q4_K, 20, 10, W_out), 0, "%s", ig_error_message());
    cr_assert_eq(awq_search_clip(H, N, W_in, M, GGML_TYPE_Q4_K, 20, 10, W_in), 0, "%s", ig_error_message());
    cr_expect(memcmp(W_in, W_out, M * N * sizeof *W) == 0, "clipping in place differs from clipping into a copy");
    cr_expect(memcmp(W, W_out, M * N * sizeof *W) != 0, "nothing was clipped (seed 531/532): the test shows nothing");
    free(X);
    free(W);
    free(W_out);
    free(W_in);
    free(H);
}

/* ---- the final rounding (awq_round) --------------------------------------------------------- */

/* Dequantize m packed rows of out into Wq [m][n]. */
static void unpack_rows(int type, const uint8_t *out, int64_t m, int64_t n, float *Wq)
{
    const struct quant_type *qt = quant_type_get(type);
    for (int64_t r = 0; r < m; r++)
        qt->dequantize_row_ref(out + (size_t)r * quant_row_size_bytes(qt, n), Wq + r * n, n);
}

static const int round_types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, GGML_TYPE_Q2_K, GGML_TYPE_Q6_K,
                                  GGML_TYPE_I4_G128, GGML_TYPE_NF4};

/* awq.h's promise: every row's output error is at most that of the type's quantizer
 * weighted by the same importance (llama-quantize's rounding with an imatrix), measured
 * here on the tokens themselves; and the sum is clearly lower on inputs with outliers. */
Test(awq_round, never_worse_than_the_importance_weighted_quantizer)
{
    enum { T = 200, N = 512, M = 12 };
    float *X = make_inputs(T, N, 64, 20.0f, 801), *W = make_weights(M, N, 64, 10.0f, 802), imp[N];
    float *Wq = malloc(M * N * sizeof *Wq);
    uint8_t *out = malloc((size_t)M * N * 2);
    double *H = gram(X, T, N, NULL);
    cr_assert(Wq && out);
    for (int j = 0; j < N; j++)
        imp[j] = (float)H[j * N + j];
    for (size_t k = 0; k < sizeof round_types / sizeof round_types[0]; k++) {
        const char *name = quant_type_get(round_types[k])->name;
        cr_assert_eq(awq_round(H, W, M, N, imp, round_types[k], 20, 10, 3, out), 0, "%s: %s", name,
                     ig_error_message());
        unpack_rows(round_types[k], out, M, N, Wq);
        float *Wr = round_trip(W, M, N, round_types[k], NULL, imp);
        double sum_awq = 0.0, sum_rtn = 0.0;
        for (int r = 0; r < M; r++) {
            double e_awq = output_mse(X, T, N, W + r * N, Wq + r * N, 1, 0, N);
            double e_rtn = output_mse(X, T, N, W + r * N, Wr + r * N, 1, 0, N);
            cr_expect(e_awq <= e_rtn * (1.0 + 1e-9), "%s row %d: error %.12g > the weighted quantizer's %.12g", name,
                      r, e_awq, e_rtn);
            sum_awq += e_awq;
            sum_rtn += e_rtn;
        }
        cr_expect(sum_awq < 0.97 * sum_rtn, "%s: error %.6g is not clearly below the weighted quantizer's %.6g", name,
                  sum_awq, sum_rtn);
        cr_log_info("awq_round %s: output MSE %.6g -> %.6g (%.1f%%)", name, sum_rtn, sum_awq,
                    100.0 * (1.0 - sum_awq / sum_rtn));
        free(Wr);
    }
    free(X);
    free(W);
    free(Wq);
    free(out);
    free(H);
}

/* With one candidate (no clipping steps, no importance) the result is the type's own
 * quantization byte for byte: the per-block assembly copies the right bytes. Q4_K also
 * has its mixed-clip candidate, which with a single step clips nothing either. */
Test(awq_round, one_candidate_is_the_plain_quantizer)
{
    enum { T = 30, N = 512, M = 5 };
    float *X = make_inputs(T, N, 64, 20.0f, 811), *W = make_weights(M, N, 64, 10.0f, 812);
    double *H = gram(X, T, N, NULL);
    for (size_t k = 0; k < sizeof round_types / sizeof round_types[0]; k++) {
        const struct quant_type *qt = quant_type_get(round_types[k]);
        size_t row_bytes = quant_row_size_bytes(qt, N);
        uint8_t *out = malloc(M * row_bytes), *want = malloc(M * row_bytes);
        cr_assert(out && want);
        for (int r = 0; r < M; r++)
            cr_assert_eq(qt->quantize_row_ref(W + r * N, want + r * row_bytes, N, NULL), 0);
        cr_assert_eq(awq_round(H, W, M, N, NULL, round_types[k], 20, 1, 3, out), 0, "%s", ig_error_message());
        cr_expect(memcmp(out, want, M * row_bytes) == 0, "%s: differs from quantize_row_ref", qt->name);
        free(out);
        free(want);
    }
    free(X);
    free(W);
    free(H);
}

/* The descent only ever lowers the full error: with it, the total is no higher than the
 * per-block choice alone, and here (correlated blocks) lower. */
Test(awq_round, descent_lowers_the_full_error)
{
    enum { T = 64, N = 768, M = 8 };
    float *X = make_inputs(T, N, 64, 20.0f, 821), *W = make_weights(M, N, 64, 10.0f, 822), imp[N];
    for (int t = 0; t < T; t++)  /* correlate the blocks: column j + 32 follows column j */
        for (int j = 32; j < N; j++)
            X[t * N + j] = 0.6f * X[t * N + j - 32] + 0.8f * X[t * N + j];
    double *H = gram(X, T, N, NULL);
    for (int j = 0; j < N; j++)
        imp[j] = (float)H[j * N + j];
    float *Wq = malloc(M * N * sizeof *Wq);
    uint8_t *out = malloc((size_t)M * N);
    cr_assert(Wq && out);
    double err[2];
    for (int sweeps = 0; sweeps <= 1; sweeps++) {
        cr_assert_eq(awq_round(H, W, M, N, imp, GGML_TYPE_Q4_0, 20, 10, sweeps * 3, out), 0, "%s",
                     ig_error_message());
        unpack_rows(GGML_TYPE_Q4_0, out, M, N, Wq);
        err[sweeps] = output_mse(X, T, N, W, Wq, M, 0, N);
    }
    cr_expect(err[1] < err[0], "descent: error %.9g, without %.9g", err[1], err[0]);
    cr_log_info("awq_round descent: %.6g -> %.6g", err[0], err[1]);
    free(X);
    free(W);
    free(H);
    free(Wq);
    free(out);
}

/* ---- errors ---------------------------------------------------------------------------------- */

Test(awq_errors, row_length_not_a_whole_number_of_blocks)
{
    enum { T = 8, N = 288, M = 4 };  /* 9 blocks of 32, not a whole number of 256 */
    float *X = make_inputs(T, N, 0, 1.0f, 601), *W = make_weights(M, N, 0, 1.0f, 602), s[N], xbar[N], W_out[M * N];
    double *H = gram(X, T, N, xbar);
    uint8_t out[M * N];
    struct awq_linear lin = {W, M};
    struct awq_result res;
    cr_expect_eq(awq_search_scale(H, xbar, N, &lin, 1, GGML_TYPE_Q4_K, 20, true, s, &res), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "Q4_K") && strstr(ig_error_message(), "288"), "message: %s",
              ig_error_message());
    cr_expect_eq(awq_search_clip(H, N, W, M, GGML_TYPE_I4_G128, 20, 10, W_out), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "I4_G128") && strstr(ig_error_message(), "awq_search_clip"), "message: %s",
              ig_error_message());
    cr_expect_eq(awq_round(H, W, M, N, NULL, GGML_TYPE_Q2_K, 20, 10, 3, out), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "Q2_K") && strstr(ig_error_message(), "awq_round"), "message: %s",
              ig_error_message());
    cr_expect_eq(awq_search_scale(H, xbar, N, &lin, 1, GGML_TYPE_Q4_0, 20, true, s, &res), 0, "%s",
                 ig_error_message());
    free(X);
    free(W);
    free(H);
}

Test(awq_errors, bad_arguments_name_the_value)
{
    enum { T = 8, N = 64, M = 4 };
    float *X = make_inputs(T, N, 0, 1.0f, 611), *W = make_weights(M, N, 0, 1.0f, 612), s[N], xbar[N], W_out[M * N];
    double *H = gram(X, T, N, xbar);
    uint8_t out[M * N];
    struct awq_linear lin = {W, M}, bad = {W, 0};
    struct awq_result res;
    struct {
        int rc;
        const char *needle;
    } got[] = {
        {awq_search_scale(H, xbar, N, &lin, 1, GGML_TYPE_Q4_0, 0, false, s, &res), "n_grid = 0"},
        {awq_search_scale(H, xbar, N, &lin, 1, 9999, 20, false, s, &res), "9999"},
        {awq_search_scale(H, xbar, 0, &lin, 1, GGML_TYPE_Q4_0, 20, false, s, &res), "n_in = 0"},
        {awq_search_scale(NULL, xbar, N, &lin, 1, GGML_TYPE_Q4_0, 20, false, s, &res), "NULL"},
        {awq_search_scale(H, xbar, N, &bad, 1, GGML_TYPE_Q4_0, 20, false, s, &res), "m = 0"},
        {awq_search_scale(H, xbar, N, &lin, 0, GGML_TYPE_Q4_0, 20, false, s, &res), "n_lin = 0"},
        {awq_search_clip(H, N, W, M, GGML_TYPE_Q4_0, 20, 21, W_out), "n_steps = 21"},
        {awq_search_clip(H, N, W, M, GGML_TYPE_Q4_0, 20, 0, W_out), "n_steps = 0"},
        {awq_search_clip(H, N, W, M, GGML_TYPE_Q4_0, 0, 1, W_out), "n_grid = 0"},
        {awq_search_clip(H, N, W, 0, GGML_TYPE_Q4_0, 20, 10, W_out), "m = 0"},
        {awq_round(H, W, M, N, NULL, GGML_TYPE_Q4_0, 20, 10, -1, out), "n_sweeps = -1"},
        {awq_round(H, W, M, N, NULL, GGML_TYPE_Q4_0, 20, 30, 3, out), "n_steps = 30"},
        {awq_round(H, NULL, M, N, NULL, GGML_TYPE_Q4_0, 20, 10, 3, out), "NULL"},
    };
    /* the message is the last call's: the texts are checked on a few calls re-run alone */
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        cr_expect_eq(got[i].rc, IG_EINVAL, "case %zu (%s): rc %d", i, got[i].needle, got[i].rc);
    cr_expect_eq(awq_search_clip(H, N, W, M, GGML_TYPE_Q4_0, 20, 21, W_out), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "n_steps = 21"), "message: %s", ig_error_message());
    cr_expect_eq(awq_round(H, W, M, N, NULL, GGML_TYPE_Q4_0, 20, 10, -1, out), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "n_sweeps = -1"), "message: %s", ig_error_message());
    cr_expect_eq(awq_search_scale(H, xbar, N, &bad, 1, GGML_TYPE_Q4_0, 20, false, s, &res), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "linear 0") && strstr(ig_error_message(), "m = 0"), "message: %s",
              ig_error_message());
    xbar[17] = NAN;
    cr_expect_eq(awq_search_scale(H, xbar, N, &lin, 1, GGML_TYPE_Q4_0, 20, false, s, &res), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "channel 17"), "message: %s", ig_error_message());
    free(X);
    free(W);
    free(H);
}

/* Every allocation failure returns IG_ENOMEM and leaks nothing (asan checks the latter). */
Test(awq_errors, each_allocation_failure_is_reported)
{
    enum { T = 16, N = 64, M = 8 };
    float *X = make_inputs(T, N, 16, 20.0f, 621), *W = make_weights(M, N, 16, 10.0f, 622), s[N], xbar[N], W_out[M * N];
    double *H = gram(X, T, N, xbar);
    uint8_t out[M * N];
    struct awq_linear lin = {W, M};
    struct awq_result res;
    int n_fail = 0, rc = IG_ENOMEM;
    for (long n = 1; rc == IG_ENOMEM && n < 50; n++, n_fail++) {
        ig_alloc_fail_after(n);
        rc = awq_search_scale(H, xbar, N, &lin, 1, GGML_TYPE_Q4_0, 20, true, s, &res);
    }
    cr_expect_eq(rc, 0, "scale search after %d failures: rc %d: %s", n_fail, rc, ig_error_message());
    cr_expect(n_fail >= 6, "scale search: only %d allocations walked", n_fail);
    rc = IG_ENOMEM;
    for (long n = 1; rc == IG_ENOMEM && n < 50; n++) {
        ig_alloc_fail_after(n);
        rc = awq_search_clip(H, N, W, M, GGML_TYPE_Q4_0, 20, 10, W_out);
    }
    cr_expect_eq(rc, 0, "clip search: rc %d: %s", rc, ig_error_message());
    rc = IG_ENOMEM;
    for (long n = 1; rc == IG_ENOMEM && n < 50; n++) {
        ig_alloc_fail_after(n);
        rc = awq_round(H, W, M, N, xbar, GGML_TYPE_Q4_0, 20, 10, 3, out);
    }
    cr_expect_eq(rc, 0, "final rounding: rc %d: %s", rc, ig_error_message());
    ig_alloc_fail_after(0);
    free(X);
    free(W);
    free(H);
}

/* ---- determinism --------------------------------------------------------------------------- */

/* Sizes above awq.c's one-thread cut-off (2^16 elements per loop), so the teams run. */
Test(awq_threads, one_and_two_threads_agree_bit_for_bit)
{
    enum { T = 70, N = 512, M = 256 };
    float *X = make_inputs(T, N, 64, 20.0f, 701), *W = make_weights(M, N, 64, 10.0f, 702), xbar[N], imp[N];
    double *H = gram(X, T, N, xbar);
    float *W_out[2] = {malloc(M * N * sizeof(float)), malloc(M * N * sizeof(float))};
    uint8_t *out[2] = {malloc((size_t)M * N), malloc((size_t)M * N)};
    float s[2][N];
    struct awq_result res[2];
    struct awq_linear lin[2] = {{W, 128}, {W + 128 * N, M - 128}};
    cr_assert(W_out[0] && W_out[1] && out[0] && out[1]);
    for (int j = 0; j < N; j++)
        imp[j] = (float)H[j * N + j];
    for (int k = 0; k < 2; k++) {
        int type = k ? GGML_TYPE_Q4_K : GGML_TYPE_Q4_0;
        size_t bytes = quant_row_size_bytes(quant_type_get(type), N) * M;
        for (int n_threads = 1; n_threads <= 2; n_threads++) {
            omp_set_num_threads(n_threads);
            memset(&res[n_threads - 1], 0, sizeof res[0]);
            cr_assert_eq(awq_search_scale(H, xbar, N, lin, 2, type, 20, true, s[n_threads - 1], &res[n_threads - 1]),
                         0, "%s", ig_error_message());
            cr_assert_eq(awq_search_clip(H, N, W, M, type, 20, 10, W_out[n_threads - 1]), 0, "%s",
                         ig_error_message());
            cr_assert_eq(awq_round(H, W, M, N, imp, type, 20, 10, 3, out[n_threads - 1]), 0, "%s",
                         ig_error_message());
        }
        cr_expect(memcmp(&res[0], &res[1], sizeof res[0]) == 0, "type %d: alpha %g/%g, err %.17g/%.17g", type,
                  (double)res[0].alpha, (double)res[1].alpha, res[0].err_best, res[1].err_best);
        cr_expect(memcmp(s[0], s[1], sizeof s[0]) == 0, "type %d: s differs between 1 and 2 threads", type);
        cr_expect(memcmp(W_out[0], W_out[1], M * N * sizeof(float)) == 0, "type %d: clipped W differs", type);
        cr_expect(memcmp(out[0], out[1], bytes) == 0, "type %d: awq_round's bytes differ", type);
    }
    free(X);
    free(W);
    free(H);
    free(W_out[0]);
    free(W_out[1]);
    free(out[0]);
    free(out[1]);
}
