/* awq.c — AWQ's scale search and clip search onto any grid in the type table (see awq.h).
 *
 * Sits between the calibration driver (which captures each block's inputs and folds the
 * results into the model) and the type's reference quantizer, which both searches call as
 * their rounding. llm-awq awq/quantize/auto_scale.py and auto_clip.py, AutoAWQ
 * awq/quantize/quantizer.py _compute_best_scale / _compute_best_clip.
 */
#include "awq.h"

#include "../common/ig_error.h"
#include "quant_type.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define AWQ_SCALE_FLOOR 1e-4f  /* llm-awq: x̄^alpha clamped below, so a dead channel keeps s > 0 */
#define AWQ_SCALE_ROWS 32      /* output rows per GEMM (and per task) in the scale search */
#define AWQ_MEAN_BAND 256      /* channels per task when averaging |x| */
/* Below this many elements a loop stays on one thread: waking the team costs more (and on
 * a loaded machine, spinning threads cost far more). Results are the same either way. */
#define AWQ_PARALLEL_MIN (1 << 16)

/* ---- shared helpers --------------------------------------------------------------------- */

/* The type's row, after checking that n_in is a whole number of its blocks. */
static int check_type(const char *fn, int type, int64_t n_in, const struct quant_type **qt_out)
{
    const struct quant_type *qt = quant_type_get(type);
    if (!qt)
        return ig_error_set(IG_EINVAL, "%s: type id %d is not in the type table", fn, type);
    if (n_in % qt->block_elems != 0)
        return ig_error_set(IG_EINVAL, "%s: type %s: row length n_in = %lld is not a multiple of its block (%lld)",
                            fn, qt->name, (long long)n_in, (long long)qt->block_elems);
    *qt_out = qt;
    return 0;
}

/* The checks both searches share; GEMM sizes are int, so the dimensions must fit one. */
static int check_dims(const char *fn, const float *X, int64_t n_tok, int64_t n_in, int n_grid, int64_t max_tokens)
{
    if (!X)
        return ig_error_set(IG_EINVAL, "%s: X is NULL", fn);
    if (n_tok < 1 || n_tok > INT_MAX)
        return ig_error_set(IG_EINVAL, "%s: n_tok = %lld (allowed: 1..%d)", fn, (long long)n_tok, INT_MAX);
    if (n_in < 1 || n_in > INT_MAX)
        return ig_error_set(IG_EINVAL, "%s: n_in = %lld (allowed: 1..%d)", fn, (long long)n_in, INT_MAX);
    if (n_grid < 1)
        return ig_error_set(IG_EINVAL, "%s: n_grid = %d (allowed: >= 1)", fn, n_grid);
    if (max_tokens < 1)
        return ig_error_set(IG_EINVAL, "%s: max_tokens = %lld (allowed: >= 1)", fn, (long long)max_tokens);
    return 0;
}

/* Copy the scored tokens X[0], X[k], X[2k], ... with k = ceil(n_tok / max_tokens) into a new
 * [*n_used][n_in] array (ig_malloc; NULL on failure). ceil keeps *n_used <= max_tokens. */
static float *sample_tokens(const float *X, int64_t n_tok, int64_t n_in, int64_t max_tokens, int64_t *n_used)
{
    int64_t stride = (n_tok + max_tokens - 1) / max_tokens;
    int64_t n = (n_tok + stride - 1) / stride;
    float *Xs = ig_malloc((size_t)n * (size_t)n_in * sizeof *Xs);
    if (!Xs)
        return NULL;
    for (int64_t t = 0; t < n; t++)
        memcpy(Xs + t * n_in, X + t * stride * n_in, (size_t)n_in * sizeof *Xs);
    *n_used = n;
    return Xs;
}

/* Round row [n] to the type's grid in place: quantize into packed, dequantize back. */
static int round_trip_row(const struct quant_type *qt, float *row, int64_t n, uint8_t *packed)
{
    int rc = qt->quantize_row_ref(row, packed, n, NULL);
    if (rc)
        return rc;
    qt->dequantize_row_ref(packed, row, n);
    return 0;
}

/* ---- the scale search ------------------------------------------------------------------- */

/* x̄ [n_in] = mean over all tokens of |X[t][j]|, summed in double in token order; one
 * thread per band of channels. */
static int channel_means(const float *X, int64_t n_tok, int64_t n_in, float *xbar)
{
    double *acc = ig_calloc((size_t)n_in, sizeof *acc);
    if (!acc)
        return IG_ENOMEM;
#pragma omp parallel for schedule(static) if (n_tok * n_in >= AWQ_PARALLEL_MIN)
    for (int64_t j0 = 0; j0 < n_in; j0 += AWQ_MEAN_BAND) {
        int64_t j1 = n_in - j0 < AWQ_MEAN_BAND ? n_in : j0 + AWQ_MEAN_BAND;
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t j = j0; j < j1; j++)
                acc[j] += fabs((double)X[t * n_in + j]);
    }
    int rc = 0;
    for (int64_t j = 0; j < n_in; j++) {
        xbar[j] = (float)(acc[j] / (double)n_tok);
        if (!isfinite(xbar[j]) && !rc)
            rc = ig_error_set(IG_EINVAL, "awq_search_scale: input channel %lld has mean |x| = %g (NaN or Inf in X)",
                              (long long)j, (double)xbar[j]);
    }
    free(acc);
    return rc;
}

/* s [n_in] = max(x̄^alpha, floor) / sqrt(max(s)·min(s)). alpha = 0 gives exactly 1
 * (powf(x, 0) = 1 for every x, and then the norm is sqrt(1·1)). */
static void make_scales(const float *xbar, int64_t n_in, float alpha, float *s)
{
    float s_max = 0.0f, s_min = INFINITY;
    for (int64_t j = 0; j < n_in; j++) {
        s[j] = fmaxf(powf(xbar[j], alpha), AWQ_SCALE_FLOOR);
        s_max = fmaxf(s_max, s[j]);
        s_min = fminf(s_min, s[j]);
    }
    double norm = sqrt((double)s_max * (double)s_min);  /* double: the product can pass FLT_MAX */
    for (int64_t j = 0; j < n_in; j++)
        s[j] = (float)((double)s[j] / norm);
}

/* Scratch of one scale search, sized up front. */
struct scale_work {
    float *Xs;           /* [T][n_in] the scored tokens */
    int64_t T;
    uint8_t *scratch;    /* [n_threads][thread_bytes]: D, E, packed row (scale_scratch_at) */
    size_t thread_bytes;
    size_t row_bytes;    /* one packed row of the type */
    double *partial;     /* [max chunks of one linear] Σ of squares per chunk */
};

static size_t scale_thread_bytes(int64_t T, int64_t n_in, size_t row_bytes)
{
    size_t bytes = (size_t)AWQ_SCALE_ROWS * (size_t)(n_in + T) * sizeof(float) + row_bytes;
    return (bytes + 63) / 64 * 64;  /* each thread's block starts on its own cache line */
}

/* Σ over the tokens and rows [r0, r0 + rows) of W [m][n_in] of (x·(ŵ − w))², with
 * ŵ = Q(w·s)/s: the deltas D [rows][n_in] go through one GEMM, E [T][rows] = Xs·Dᵀ.
 * One thread runs it all, with OpenBLAS single-threaded (see awq.h). */
static int chunk_error(const struct scale_work *wk, const struct quant_type *qt, const float *W, int64_t rows,
                       int64_t n_in, const float *s, uint8_t *scratch, double *sse)
{
    float *D = (float *)scratch, *E = D + AWQ_SCALE_ROWS * n_in;
    uint8_t *packed = (uint8_t *)(E + AWQ_SCALE_ROWS * wk->T);
    for (int64_t r = 0; r < rows; r++) {
        const float *w = W + r * n_in;
        float *d = D + r * n_in;
        for (int64_t j = 0; j < n_in; j++)
            d[j] = w[j] * s[j];
        int rc = round_trip_row(qt, d, n_in, packed);
        if (rc)
            return rc;
        for (int64_t j = 0; j < n_in; j++)
            d[j] = d[j] / s[j] - w[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)wk->T, (int)rows, (int)n_in, 1.0f, wk->Xs, (int)n_in, D,
                (int)n_in, 0.0f, E, (int)rows);
    double sum = 0.0;
    for (int64_t k = 0; k < wk->T * rows; k++)
        sum += (double)E[k] * (double)E[k];
    *sse = sum;
    return 0;
}

/* Mean over the scored tokens and every output of every linear of (X·(Ŵ − W)ᵀ)², with
 * Ŵ = Q(W·diag(s))·diag(1/s). Chunks of AWQ_SCALE_ROWS rows run in parallel; their sums
 * are added in chunk order, so the result does not depend on the thread count. */
static int group_error(const struct scale_work *wk, int64_t n_in, const struct awq_linear *lin, int n_lin,
                       const struct quant_type *qt, const float *s, double *err)
{
    double sum = 0.0;
    int64_t count = 0;
    for (int l = 0; l < n_lin; l++) {
        int64_t n_chunks = (lin[l].m + AWQ_SCALE_ROWS - 1) / AWQ_SCALE_ROWS;
        int rc = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(min : rc) if (lin[l].m * n_in >= AWQ_PARALLEL_MIN)
        for (int64_t c = 0; c < n_chunks; c++) {
            int64_t r0 = c * AWQ_SCALE_ROWS, rows = lin[l].m - r0 < AWQ_SCALE_ROWS ? lin[l].m - r0 : AWQ_SCALE_ROWS;
            uint8_t *scratch = wk->scratch + (size_t)omp_get_thread_num() * wk->thread_bytes;
            int rc_chunk = chunk_error(wk, qt, lin[l].W + r0 * n_in, rows, n_in, s, scratch, &wk->partial[c]);
            rc = rc_chunk < rc ? rc_chunk : rc;
        }
        if (rc)
            return ig_error_set(rc, "awq_search_scale: type %s: quantizing linear %d failed", qt->name, l);
        for (int64_t c = 0; c < n_chunks; c++)
            sum += wk->partial[c];
        count += wk->T * lin[l].m;
    }
    *err = sum / (double)count;
    return 0;
}

static int check_linears(const struct awq_linear *lin, int n_lin, int64_t *m_max)
{
    if (!lin || n_lin < 1)
        return ig_error_set(IG_EINVAL, "awq_search_scale: n_lin = %d linears (allowed: >= 1, non-NULL)", n_lin);
    *m_max = 0;
    for (int l = 0; l < n_lin; l++) {
        if (!lin[l].W || lin[l].m < 1)
            return ig_error_set(IG_EINVAL, "awq_search_scale: linear %d: W %s, m = %lld (allowed: non-NULL, m >= 1)", l,
                                lin[l].W ? "set" : "NULL", (long long)lin[l].m);
        *m_max = lin[l].m > *m_max ? lin[l].m : *m_max;
    }
    return 0;
}

int awq_search_scale(const float *X, int64_t n_tok, int64_t n_in, const struct awq_linear *lin, int n_lin,
                     int type, int n_grid, int64_t max_tokens, float *s_out, struct awq_result *res)
{
    static const char fn[] = "awq_search_scale";
    const struct quant_type *qt = NULL;
    int64_t m_max = 0;
    int rc = check_dims(fn, X, n_tok, n_in, n_grid, max_tokens);
    if (!rc)
        rc = check_type(fn, type, n_in, &qt);
    if (!rc)
        rc = check_linears(lin, n_lin, &m_max);
    if (rc)
        return rc;
    if (!s_out || !res)
        return ig_error_set(IG_EINVAL, "%s: s_out or res is NULL", fn);

    struct scale_work wk = {.row_bytes = quant_row_size_bytes(qt, n_in)};
    float *xbar = ig_malloc((size_t)n_in * sizeof *xbar);
    float *s = ig_malloc((size_t)n_in * sizeof *s);
    wk.Xs = sample_tokens(X, n_tok, n_in, max_tokens, &wk.T);
    wk.partial = ig_malloc((size_t)((m_max + AWQ_SCALE_ROWS - 1) / AWQ_SCALE_ROWS) * sizeof *wk.partial);
    if (wk.Xs) {
        wk.thread_bytes = scale_thread_bytes(wk.T, n_in, wk.row_bytes);
        wk.scratch = ig_malloc((size_t)omp_get_max_threads() * wk.thread_bytes);
    }
    if (!xbar || !s || !wk.Xs || !wk.partial || !wk.scratch) {
        rc = ig_error_set(IG_ENOMEM, "%s: out of memory for %lld tokens x %lld channels", fn, (long long)n_tok,
                          (long long)n_in);
        goto out_free;
    }
    rc = channel_means(X, n_tok, n_in, xbar);
    if (rc)
        goto out_free;

    double err_best = INFINITY;
    for (int i = 0; i < n_grid; i++) {
        float alpha = (float)i / (float)n_grid;
        double err = 0.0;
        make_scales(xbar, n_in, alpha, s);
        rc = group_error(&wk, n_in, lin, n_lin, qt, s, &err);
        if (rc)
            goto out_free;
        if (i == 0)
            res->err_plain = err;
        if (i == 0 || err < err_best) {  /* strict: a tie (or a NaN) keeps the smaller alpha */
            err_best = err;
            res->alpha = alpha;
            memcpy(s_out, s, (size_t)n_in * sizeof *s);
        }
    }
    res->err_best = err_best;

out_free:
    free(wk.scratch);
    free(wk.partial);
    free(wk.Xs);
    free(s);
    free(xbar);
    return rc;
}

/* ---- the clip search -------------------------------------------------------------------- */

/* The per-group error of a weight delta d over the scored tokens is
 *   Σ_t (x_t·d)² = dᵀ (Xᵀ X) d = dᵀ H d,   x_t, d restricted to the group,
 * so the search needs only H_g = X_gᵀ X_g [gs][gs] per group, summed once (in double),
 * and then costs gs² per candidate instead of n_tok·gs: the token count drops out. */

/* H [n_groups][gs][gs] (double) from Xs [T][n_in]; one thread per group, tokens in order. */
static void group_grams(const float *Xs, int64_t T, int64_t n_in, int64_t gs, double *H)
{
    int64_t n_groups = n_in / gs;
#pragma omp parallel for schedule(static) if (T * n_in >= AWQ_PARALLEL_MIN)
    for (int64_t g = 0; g < n_groups; g++) {
        double *Hg = H + g * gs * gs;
        memset(Hg, 0, (size_t)(gs * gs) * sizeof *Hg);
        for (int64_t t = 0; t < T; t++) {
            const float *x = Xs + t * n_in + g * gs;
            for (int64_t a = 0; a < gs; a++)
                for (int64_t b = 0; b < gs; b++)
                    Hg[a * gs + b] += (double)x[a] * (double)x[b];
        }
    }
}

/* dᵀ H d for one group: v = H d accumulated column by column (each v[b] sums over a in
 * order, which vectorizes without reassociating), then the dot product. */
static double quad_form(const double *Hg, const double *d, int64_t gs, double *v)
{
    memset(v, 0, (size_t)gs * sizeof *v);
    for (int64_t a = 0; a < gs; a++)
        for (int64_t b = 0; b < gs; b++)
            v[b] += d[a] * Hg[a * gs + b];
    double e = 0.0;
    for (int64_t b = 0; b < gs; b++)
        e += d[b] * v[b];
    return e;
}

static float group_absmax(const float *w, int64_t gs)
{
    float mx = 0.0f;
    for (int64_t j = 0; j < gs; j++)
        mx = fmaxf(mx, fabsf(w[j]));
    return mx;
}

/* Candidate i's clip value, computed the same way wherever it is needed. */
static float clip_value(float org_max, int i, int n_grid)
{
    return org_max * (1.0f - (float)i / (float)n_grid);
}

/* Clamp to ±mv, keeping NaN (the quantizer sets the policy for it) and every value inside
 * bit for bit (so candidate 0, mv = max |w|, changes nothing, -0.0 included). */
static float clamp_abs(float w, float mv)
{
    return w > mv ? mv : w < -mv ? -mv : w;
}

/* Per-thread scratch of the clip search. */
struct clip_scratch {
    float *row;       /* [n_in] clamped, then rounded, weights */
    double *d;        /* [n_in] W − Ŵ */
    double *v;        /* [gs] H d */
    double *best;     /* [n_groups] smallest error so far */
    int *best_i;      /* [n_groups] its candidate */
    uint8_t *packed;  /* [row_bytes] */
};

/* Search one row w [n_in] and write its clipped copy to out [n_in]. */
static int clip_row(const struct quant_type *qt, const float *w, int64_t n_in, const double *H, int n_grid,
                    int n_steps, const struct clip_scratch *sc, float *out)
{
    int64_t gs = qt->block_elems, n_groups = n_in / gs;
    for (int i = 0; i < n_steps; i++) {
        for (int64_t g = 0; g < n_groups; g++) {
            float mv = clip_value(group_absmax(w + g * gs, gs), i, n_grid);
            for (int64_t j = g * gs; j < (g + 1) * gs; j++)
                sc->row[j] = clamp_abs(w[j], mv);
        }
        int rc = round_trip_row(qt, sc->row, n_in, sc->packed);
        if (rc)
            return rc;
        for (int64_t j = 0; j < n_in; j++)
            sc->d[j] = (double)w[j] - (double)sc->row[j];
        for (int64_t g = 0; g < n_groups; g++) {
            double e = quad_form(H + g * gs * gs, sc->d + g * gs, gs, sc->v);
            if (i == 0 || e < sc->best[g]) {  /* strict: a tie keeps the milder clip */
                sc->best[g] = e;
                sc->best_i[g] = i;
            }
        }
    }
    for (int64_t g = 0; g < n_groups; g++) {
        float mv = clip_value(group_absmax(w + g * gs, gs), sc->best_i[g], n_grid);
        for (int64_t j = g * gs; j < (g + 1) * gs; j++)
            out[j] = clamp_abs(w[j], mv);
    }
    return 0;
}

/* One block of scratch per thread, carved into a clip_scratch by clip_scratch_at. */
static size_t clip_scratch_bytes(int64_t n_in, int64_t gs, size_t row_bytes)
{
    size_t n = (size_t)n_in, n_groups = (size_t)(n_in / gs);
    size_t bytes = n * sizeof(double) + (size_t)gs * sizeof(double) + n_groups * sizeof(double)  /* d, v, best */
                   + n * sizeof(float) + n_groups * sizeof(int) + row_bytes;                    /* row, best_i, packed */
    return (bytes + 63) / 64 * 64;  /* keeps every thread's doubles aligned and off its neighbour's lines */
}

static struct clip_scratch clip_scratch_at(uint8_t *base, int64_t n_in, int64_t gs)
{
    struct clip_scratch sc;
    size_t n_groups = (size_t)(n_in / gs);
    sc.d = (double *)base;
    sc.v = sc.d + n_in;
    sc.best = sc.v + gs;
    sc.row = (float *)(sc.best + n_groups);
    sc.best_i = (int *)(sc.row + n_in);
    sc.packed = (uint8_t *)(sc.best_i + n_groups);
    return sc;
}

int awq_search_clip(const float *X, int64_t n_tok, int64_t n_in, const float *W, int64_t m, int type,
                    int n_grid, int n_steps, int64_t max_tokens, float *W_out)
{
    static const char fn[] = "awq_search_clip";
    const struct quant_type *qt = NULL;
    int rc = check_dims(fn, X, n_tok, n_in, n_grid, max_tokens);
    if (!rc)
        rc = check_type(fn, type, n_in, &qt);
    if (rc)
        return rc;
    if (n_steps < 1 || n_steps > n_grid)
        return ig_error_set(IG_EINVAL, "%s: n_steps = %d (allowed: 1..n_grid = %d)", fn, n_steps, n_grid);
    if (!W || !W_out || m < 1)
        return ig_error_set(IG_EINVAL, "%s: W %s, W_out %s, m = %lld (allowed: non-NULL, m >= 1)", fn,
                            W ? "set" : "NULL", W_out ? "set" : "NULL", (long long)m);

    int64_t gs = qt->block_elems, T;
    size_t sc_bytes = clip_scratch_bytes(n_in, gs, quant_row_size_bytes(qt, n_in));
    float *Xs = sample_tokens(X, n_tok, n_in, max_tokens, &T);
    double *H = ig_malloc((size_t)n_in * (size_t)gs * sizeof *H);
    uint8_t *scratch = ig_malloc((size_t)omp_get_max_threads() * sc_bytes);
    if (!Xs || !H || !scratch) {
        rc = ig_error_set(IG_ENOMEM, "%s: out of memory for %lld channels in groups of %lld", fn, (long long)n_in,
                          (long long)gs);
        goto out_free;
    }
    group_grams(Xs, T, n_in, gs, H);

#pragma omp parallel for schedule(dynamic, 4) reduction(min : rc) if (m * n_in >= AWQ_PARALLEL_MIN)
    for (int64_t r = 0; r < m; r++) {
        struct clip_scratch sc = clip_scratch_at(scratch + (size_t)omp_get_thread_num() * sc_bytes, n_in, gs);
        int rc_row = clip_row(qt, W + r * n_in, n_in, H, n_grid, n_steps, &sc, W_out + r * n_in);
        rc = rc_row < rc ? rc_row : rc;
    }
    if (rc)
        rc = ig_error_set(rc, "%s: type %s: quantizing a row failed", fn, qt->name);

out_free:
    free(scratch);
    free(H);
    free(Xs);
    return rc;
}
