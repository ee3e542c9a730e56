/* awq.c — AWQ's scale search, clip search and final rounding onto any grid in the type
 * table (see awq.h).
 *
 * Sits between the calibration driver (which captures each block's inputs and folds the
 * results into the model) and the type's reference quantizer, which every function calls
 * as its rounding. llm-awq awq/quantize/auto_scale.py and auto_clip.py, AutoAWQ
 * awq/quantize/quantizer.py _compute_best_scale / _compute_best_clip.
 *
 * Every score is a sum in a fixed order: the GEMMs go through the backend (kernels/backend.h,
 * deterministic on the CPU, not OpenBLAS, whose bits depend on its kernel), the small
 * matrix-vector products are plain loops here, and each row or chunk is one thread's. So
 * the chosen scales, clips and codes are the same whatever the thread count or machine.
 */
#include "awq.h"

#include "../common/ig_error.h"
#include "../kernels/backend.h"
#include "../kernels/cpu/det_math.h"
#include "quant_type.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define AWQ_SCALE_FLOOR 1e-4f  /* llm-awq: x̄^alpha clamped below, so a dead channel keeps s > 0 */
#define AWQ_SCALE_ROWS 32      /* output rows per GEMM (and per task) in the scale search */
#define AWQ_CLIP_GROUP 32      /* awq_round clips runs of this many columns (or a smaller block) */
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

/* The checks every function shares; n_steps < 0 skips the clip grid's check. Sets *qt. */
static int check_args(const char *fn, const double *H, const float *W, const void *out, int64_t m, int64_t n_in,
                      int type, int n_grid, int n_steps, const struct quant_type **qt)
{
    if (!H || !W || !out)
        return ig_error_set(IG_EINVAL, "%s: H, W or the output is NULL", fn);
    if (n_in < 1 || n_in > INT_MAX)
        return ig_error_set(IG_EINVAL, "%s: n_in = %lld (allowed: 1..%d)", fn, (long long)n_in, INT_MAX);
    if (m < 1)
        return ig_error_set(IG_EINVAL, "%s: m = %lld (allowed: >= 1)", fn, (long long)m);
    if (n_grid < 1)
        return ig_error_set(IG_EINVAL, "%s: n_grid = %d (allowed: >= 1)", fn, n_grid);
    if (n_steps >= 0 && (n_steps < 1 || n_steps > n_grid))
        return ig_error_set(IG_EINVAL, "%s: n_steps = %d (allowed: 1..n_grid = %d)", fn, n_steps, n_grid);
    return check_type(fn, type, n_in, qt);
}

/* Round row [n] to the type's grid in place (quantize into packed, dequantize back),
 * weighted by imp (NULL: none). */
static int round_trip_row(const struct quant_type *qt, float *row, int64_t n, const float *imp, uint8_t *packed)
{
    int rc = qt->quantize_row_ref(row, packed, n, imp);
    if (rc)
        return rc;
    qt->dequantize_row_ref(packed, row, n);
    return 0;
}

/* dᵀ H_bb d for the block of d that starts at column c0 and is gs long; H is [n][n] and
 * H_bb its diagonal block. v [gs] is scratch: v = H_bb d accumulated column by column
 * (each v[b] sums over a in order, which vectorizes without reassociating). */
static double quad_form(const double *H, int64_t n, int64_t c0, const double *d, int64_t gs, double *v)
{
    memset(v, 0, (size_t)gs * sizeof *v);
    for (int64_t a = 0; a < gs; a++) {
        const double *Ha = H + (c0 + a) * n + c0;
        for (int64_t b = 0; b < gs; b++)
            v[b] += d[a] * Ha[b];
    }
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

/* row = w with each run of gs columns clamped to its own max·(1 − ratio_i/n_grid), with
 * ratio_i = i, or per group from per_group[] when it is not NULL. */
static void clip_row_into(const float *w, int64_t n, int64_t gs, int i, const int *per_group, int n_grid, float *row)
{
    for (int64_t g = 0; g < n / gs; g++) {
        float mv = clip_value(group_absmax(w + g * gs, gs), per_group ? per_group[g] : i, n_grid);
        for (int64_t j = g * gs; j < (g + 1) * gs; j++)
            row[j] = clamp_abs(w[j], mv);
    }
}

/* ---- the scale search ------------------------------------------------------------------- */

/* s [n_in] = max(x̄^alpha, floor) / sqrt(max(s)·min(s)). alpha = 0 gives exactly 1
 * (det_powf(x, 0) = 1 for every x, as powf, and then the norm is sqrt(1·1)). */
static void make_scales(const float *xbar, int64_t n_in, float alpha, float *s)
{
    float s_max = 0.0f, s_min = INFINITY;
    for (int64_t j = 0; j < n_in; j++) {
        s[j] = fmaxf(det_powf(xbar[j], alpha), AWQ_SCALE_FLOOR);   /* libm-independent bits */
        s_max = fmaxf(s_max, s[j]);
        s_min = fminf(s_min, s[j]);
    }
    double norm = sqrt((double)s_max * (double)s_min);  /* double: the product can pass FLT_MAX */
    for (int64_t j = 0; j < n_in; j++)
        s[j] = (float)((double)s[j] / norm);
}

/* Scratch of one scale search, sized up front. */
struct scale_work {
    const double *H;
    float *Hf;           /* [n][n] H in float, for the GEMM */
    const float *s;      /* [n] the candidate scales */
    const float *imp;    /* [n] importance of the scaled input, or NULL */
    uint8_t *scratch;    /* [n_threads][thread_bytes]: D, E, packed row */
    size_t thread_bytes;
    double *partial;     /* [max chunks of one linear] Σ dᵀHd per chunk */
};

/* Σ over rows [0, rows) of W [.][n] of dᵀ H d, d = w − Q(w·s)/s: the deltas D [rows][n]
 * go through one GEMM, E = D·H (= D·Hᵀ, H symmetric), then Σ D∘E. One thread runs it all. */
static int chunk_error(const struct scale_work *wk, const struct quant_type *qt, const float *W, int64_t rows,
                       int64_t n, uint8_t *scratch, double *sse)
{
    float *D = (float *)scratch, *E = D + AWQ_SCALE_ROWS * n;
    uint8_t *packed = (uint8_t *)(E + AWQ_SCALE_ROWS * n);
    for (int64_t r = 0; r < rows; r++) {
        const float *w = W + r * n;
        float *d = D + r * n;
        for (int64_t j = 0; j < n; j++)
            d[j] = w[j] * wk->s[j];
        int rc = round_trip_row(qt, d, n, wk->imp, packed);
        if (rc)
            return rc;
        for (int64_t j = 0; j < n; j++)
            d[j] = d[j] / wk->s[j] - w[j];
    }
    int rc = backend_active()->sgemm_nt(rows, n, n, D, n, wk->Hf, n, E, n, BACKEND_STORE);
    if (rc)
        return rc;
    double sum = 0.0;
    for (int64_t k = 0; k < rows * n; k++)
        sum += (double)D[k] * (double)E[k];
    *sse = sum;
    return 0;
}

/* Mean over every row of every linear of dᵀ H d. Chunks of AWQ_SCALE_ROWS rows run in
 * parallel; their sums are added in chunk order, so the result does not depend on the
 * thread count. */
static int group_error(const struct scale_work *wk, int64_t n, const struct awq_linear *lin, int n_lin,
                       const struct quant_type *qt, double *err)
{
    double sum = 0.0;
    int64_t count = 0;
    for (int l = 0; l < n_lin; l++) {
        int64_t n_chunks = (lin[l].m + AWQ_SCALE_ROWS - 1) / AWQ_SCALE_ROWS;
        struct ig_par_error pe;
        ig_par_error_init(&pe);
#pragma omp parallel for schedule(dynamic, 1) if (lin[l].m * n >= AWQ_PARALLEL_MIN)
        for (int64_t c = 0; c < n_chunks; c++) {
            if (ig_par_error_skip(&pe, c))
                continue;
            int64_t r0 = c * AWQ_SCALE_ROWS, rows = lin[l].m - r0 < AWQ_SCALE_ROWS ? lin[l].m - r0 : AWQ_SCALE_ROWS;
            uint8_t *scratch = wk->scratch + (size_t)omp_get_thread_num() * wk->thread_bytes;
            int rc = chunk_error(wk, qt, lin[l].W + r0 * n, rows, n, scratch, &wk->partial[c]);
            if (rc)
                ig_par_error_record(&pe, c, ig_error_wrap(rc, "awq_search_scale: type %s: linear %d, rows %lld..%lld",
                                                          qt->name, l, (long long)r0, (long long)(r0 + rows - 1)));
        }
        int rc = ig_par_error_raise(&pe);
        if (rc)
            return rc;
        for (int64_t c = 0; c < n_chunks; c++)
            sum += wk->partial[c];
        count += lin[l].m;
    }
    *err = sum / (double)count;
    return 0;
}

static int check_scale_args(const char *fn, const float *xbar, int64_t n_in, const struct awq_linear *lin, int n_lin,
                            int64_t *m_max)
{
    if (!lin || n_lin < 1)
        return ig_error_set(IG_EINVAL, "%s: n_lin = %d linears (allowed: >= 1, non-NULL)", fn, n_lin);
    *m_max = 0;
    for (int l = 0; l < n_lin; l++) {
        if (!lin[l].W || lin[l].m < 1)
            return ig_error_set(IG_EINVAL, "%s: linear %d: W %s, m = %lld (allowed: non-NULL, m >= 1)", fn, l,
                                lin[l].W ? "set" : "NULL", (long long)lin[l].m);
        *m_max = lin[l].m > *m_max ? lin[l].m : *m_max;
    }
    for (int64_t j = 0; xbar && j < n_in; j++)
        if (!isfinite(xbar[j]))
            return ig_error_set(IG_EINVAL, "%s: input channel %lld has mean |x| = %g (NaN or Inf in X)", fn,
                                (long long)j, (double)xbar[j]);
    return 0;
}

int awq_search_scale(const double *H, const float *xbar, int64_t n_in, const struct awq_linear *lin, int n_lin,
                     int type, int n_grid, bool weighted, float *s_out, struct awq_result *res)
{
    static const char fn[] = "awq_search_scale";
    const struct quant_type *qt = NULL;
    int64_t m_max = 0, n = n_in;
    int rc = check_args(fn, H, xbar, s_out, 1, n_in, type, n_grid, -1, &qt);
    if (!rc)
        rc = check_scale_args(fn, xbar, n_in, lin, n_lin, &m_max);
    if (!rc && !res)
        rc = ig_error_set(IG_EINVAL, "%s: res is NULL", fn);
    if (rc)
        return rc;

    size_t thread_bytes = (size_t)AWQ_SCALE_ROWS * (size_t)(2 * n) * sizeof(float) + quant_row_size_bytes(qt, n);
    struct scale_work wk = {.H = H, .thread_bytes = (thread_bytes + 63) / 64 * 64};
    float *s = ig_malloc((size_t)n * sizeof *s);
    float *imp = weighted ? ig_malloc((size_t)n * sizeof *imp) : NULL;
    wk.Hf = ig_malloc((size_t)(n * n) * sizeof *wk.Hf);
    wk.partial = ig_malloc((size_t)((m_max + AWQ_SCALE_ROWS - 1) / AWQ_SCALE_ROWS) * sizeof *wk.partial);
    wk.scratch = ig_malloc((size_t)omp_get_max_threads() * wk.thread_bytes);
    if (!s || (weighted && !imp) || !wk.Hf || !wk.partial || !wk.scratch) {
        rc = ig_error_set(IG_ENOMEM, "%s: out of memory for %lld channels", fn, (long long)n);
        goto out_free;
    }
    for (int64_t k = 0; k < n * n; k++)
        wk.Hf[k] = (float)H[k];
    wk.s = s;
    wk.imp = imp;

    double err_best = INFINITY;
    for (int i = 0; i < n_grid; i++) {
        float alpha = (float)i / (float)n_grid;
        double err = 0.0;
        make_scales(xbar, n, alpha, s);
        for (int64_t j = 0; imp && j < n; j++)
            imp[j] = (float)(H[j * n + j] / ((double)s[j] * (double)s[j]));
        rc = group_error(&wk, n, lin, n_lin, qt, &err);
        if (rc)
            goto out_free;
        if (i == 0)
            res->err_plain = err;
        if (i == 0 || err < err_best) {  /* strict: a tie (or a NaN) keeps the smaller alpha */
            err_best = err;
            res->alpha = alpha;
            memcpy(s_out, s, (size_t)n * sizeof *s);
        }
    }
    res->err_best = err_best;

out_free:
    free(wk.scratch);
    free(wk.partial);
    free(wk.Hf);
    free(imp);
    free(s);
    return rc;
}

/* ---- the clip search (before GPTQ) -------------------------------------------------------- */

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
        clip_row_into(w, n_in, gs, i, NULL, n_grid, sc->row);
        int rc = round_trip_row(qt, sc->row, n_in, NULL, sc->packed);
        if (rc)
            return rc;
        for (int64_t j = 0; j < n_in; j++)
            sc->d[j] = (double)w[j] - (double)sc->row[j];
        for (int64_t g = 0; g < n_groups; g++) {
            double e = quad_form(H, n_in, g * gs, sc->d + g * gs, gs, sc->v);
            if (i == 0 || e < sc->best[g]) {  /* strict: a tie keeps the milder clip */
                sc->best[g] = e;
                sc->best_i[g] = i;
            }
        }
    }
    clip_row_into(w, n_in, gs, 0, sc->best_i, n_grid, out);
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

int awq_search_clip(const double *H, int64_t n_in, const float *W, int64_t m, int type, int n_grid, int n_steps,
                    float *W_out)
{
    static const char fn[] = "awq_search_clip";
    const struct quant_type *qt = NULL;
    int rc = check_args(fn, H, W, W_out, m, n_in, type, n_grid, n_steps, &qt);
    if (rc)
        return rc;

    int64_t gs = qt->block_elems;
    size_t sc_bytes = clip_scratch_bytes(n_in, gs, quant_row_size_bytes(qt, n_in));
    uint8_t *scratch = ig_malloc((size_t)omp_get_max_threads() * sc_bytes);
    if (!scratch)
        return ig_error_set(IG_ENOMEM, "%s: out of memory for %lld channels in groups of %lld", fn, (long long)n_in,
                            (long long)gs);
    struct ig_par_error pe;
    ig_par_error_init(&pe);
#pragma omp parallel for schedule(dynamic, 4) if (m * n_in >= AWQ_PARALLEL_MIN)
    for (int64_t r = 0; r < m; r++) {
        if (ig_par_error_skip(&pe, r))
            continue;
        struct clip_scratch sc = clip_scratch_at(scratch + (size_t)omp_get_thread_num() * sc_bytes, n_in, gs);
        int rc_row = clip_row(qt, W + r * n_in, n_in, H, n_grid, n_steps, &sc, W_out + r * n_in);
        if (rc_row)
            ig_par_error_record(&pe, r, ig_error_wrap(rc_row, "%s: type %s: row %lld", fn, qt->name, (long long)r));
    }
    free(scratch);
    return ig_par_error_raise(&pe);
}

/* ---- the final rounding of --method awq --------------------------------------------------- */

/* The errors are all quadratic forms in H's diagonal blocks, so they go through a GEMM:
 * for block b, E = D_b·H_bb with D_b [n_cand][gs] every candidate's slice of d = w − ŵ,
 * and candidate c's block error is the dot product of row c of E with row c of D_b. */

/* One row's search setup, shared by every row. */
struct round_work {
    const struct quant_type *qt;
    const double *H;
    const float *imp;
    int64_t n, gs, cg;           /* row length, block length, clip group length */
    int n_grid, n_steps, n_sets, n_plain, n_cand, n_sweeps;
    size_t row_bytes;
};

/* Per-thread scratch of awq_round, carved by round_scratch_at. */
struct round_scratch {
    double *D;                   /* [n_cand][n] d = w − ŵ of every candidate */
    double *E;                   /* [n_cand][gs] D_b·H_bb */
    double *err;                 /* [n_cand][n_blocks] block errors d_bᵀ H_bb d_b */
    double *d, *v;               /* [n] the current rounding's d and H d */
    double *u;                   /* [gs] H_bb d_b of the block being moved */
    double *group_err;           /* [n_plain] one group's errors, for the mixed clip */
    int *choice;                 /* [n_blocks] */
    int *group_i;                /* [n_sets][n_groups] the mixed clip's ratio per group */
    float *row;                  /* [n] the clipped row, then its rounding */
    uint8_t *packed;             /* [n_cand][row_bytes] */
};

static size_t round_scratch_bytes(const struct round_work *rw)
{
    size_t n = (size_t)rw->n, nb = n / (size_t)rw->gs, ng = n / (size_t)rw->cg, nc = (size_t)rw->n_cand;
    size_t bytes = (nc * n + nc * (size_t)rw->gs + nc * nb + 2 * n + (size_t)rw->gs + (size_t)rw->n_plain) * sizeof(double) +
                   (nb + (size_t)rw->n_sets * ng) * sizeof(int) + n * sizeof(float) + nc * rw->row_bytes;
    return (bytes + 63) / 64 * 64;
}

static struct round_scratch round_scratch_at(uint8_t *base, const struct round_work *rw)
{
    struct round_scratch sc;
    int64_t n = rw->n, nb = n / rw->gs, ng = n / rw->cg;
    sc.D = (double *)base;
    sc.E = sc.D + rw->n_cand * n;
    sc.err = sc.E + rw->n_cand * rw->gs;
    sc.d = sc.err + rw->n_cand * nb;
    sc.v = sc.d + n;
    sc.u = sc.v + n;
    sc.group_err = sc.u + rw->gs;
    sc.choice = (int *)(sc.group_err + rw->n_plain);
    sc.group_i = sc.choice + nb;
    sc.row = (float *)(sc.group_i + rw->n_sets * ng);
    sc.packed = (uint8_t *)(sc.row + n);
    return sc;
}

/* out[c] = D[c][c0 .. c0+len)ᵀ H_bb D[c][c0 .. c0+len) for candidates [0, n_rows), with
 * H_bb the diagonal block of H at c0; one GEMM (E = D_b·H_bb = D_b·H_bbᵀ), then row-wise
 * dot products. Returns 0 or the backend's IG_ENOMEM. */
static int block_errors(const struct round_work *rw, const struct round_scratch *sc, int n_rows, int64_t c0,
                        int64_t len, double *out, int64_t out_stride)
{
    const int64_t n = rw->n;
    int rc = backend_active()->dgemm_nt(n_rows, len, len, sc->D + c0, n, rw->H + c0 * n + c0, n, sc->E, len,
                                        BACKEND_STORE);
    if (rc)
        return rc;
    for (int c = 0; c < n_rows; c++) {
        const double *dc = sc->D + (size_t)c * (size_t)n + (size_t)c0, *ec = sc->E + (size_t)c * (size_t)len;
        double e = 0.0;
        for (int64_t k = 0; k < len; k++)
            e += dc[k] * ec[k];
        out[(size_t)c * (size_t)out_stride] = e;
    }
    return 0;
}

/* Quantize candidate c of row w into its packed slot and its row of D: clip set
 * c / n_steps at ratio c % n_steps, or (c >= n_plain) set c − n_plain's mixed clip. */
static int round_candidate(const struct round_work *rw, const struct round_scratch *sc, const float *w, int c)
{
    const int64_t n = rw->n, ng = n / rw->cg;
    const int set = c < rw->n_plain ? c / rw->n_steps : c - rw->n_plain, i = c % rw->n_steps;
    uint8_t *packed = sc->packed + (size_t)c * rw->row_bytes;
    double *d = sc->D + (size_t)c * (size_t)n;
    clip_row_into(w, n, rw->cg, i, c < rw->n_plain ? NULL : sc->group_i + set * ng, rw->n_grid, sc->row);
    int rc = rw->qt->quantize_row_ref(sc->row, packed, n, set == 0 ? rw->imp : NULL);
    if (rc)
        return rc;
    rw->qt->dequantize_row_ref(packed, sc->row, n);
    for (int64_t j = 0; j < n; j++)
        d[j] = (double)w[j] - (double)sc->row[j];
    return 0;
}

/* The mixed clip of each set: per clip group, the ratio whose plain candidate has the
 * smallest error on that group's diagonal block (ties: the milder clip). */
static int mixed_clips(const struct round_work *rw, const struct round_scratch *sc)
{
    const int64_t ng = rw->n / rw->cg;
    for (int64_t g = 0; g < ng; g++) {
        int rc = block_errors(rw, sc, rw->n_plain, g * rw->cg, rw->cg, sc->group_err, 1);
        if (rc)
            return rc;
        for (int set = 0; set < rw->n_sets; set++) {
            int best = 0;
            for (int i = 1; i < rw->n_steps; i++)
                if (sc->group_err[set * rw->n_steps + i] < sc->group_err[set * rw->n_steps + best])
                    best = i;
            sc->group_i[set * ng + g] = best;
        }
    }
    return 0;
}

/* v [len] += Σ_a x[a]·H[a][c0 ..) over a in [a0, a0 + n_x), in a's order: row a of the
 * symmetric H is its column a, so this is v += H[c0.., a0..]·x, each v[i] one fixed chain
 * (it vectorizes across i without reassociating). */
static void symv_add(const double *H, int64_t ldh, int64_t a0, int64_t n_x, int64_t c0, int64_t len, const double *x,
                     double *v)
{
    for (int64_t a = 0; a < n_x; a++) {
        const double *Ha = H + (a0 + a) * ldh + c0;
        const double xa = x[a];
        for (int64_t i = 0; i < len; i++)
            v[i] += xa * Ha[i];
    }
}

/* d = the rounding that takes candidate choice[b] in each block b, v = H d; returns dᵀ H d. */
static double row_error(const struct round_work *rw, const struct round_scratch *sc, const int *choice)
{
    const int64_t n = rw->n;
    for (int64_t j = 0; j < n; j++)
        sc->d[j] = sc->D[(size_t)choice[j / rw->gs] * (size_t)n + (size_t)j];
    memset(sc->v, 0, (size_t)n * sizeof *sc->v);
    symv_add(rw->H, n, 0, n, 0, n, sc->d, sc->v);
    double e = 0.0;
    for (int64_t j = 0; j < n; j++)
        e += sc->d[j] * sc->v[j];
    return e;
}

/* Coordinate descent over the blocks on the full dᵀ H d, from sc->choice with d and
 * v = H d set by row_error. Moving block b from d_b to candidate c's slice changes the
 * error by 2 δᵀ v_b + δᵀ H_bb δ with δ = d_c − d_b, and
 * δᵀ H_bb δ = err[c][b] − 2 d_cᵀ u + d_bᵀ u, u = H_bb d_b; each block takes the move that
 * lowers the error most (if any does). Stops after n_sweeps passes or a pass with no move. */
static void descend(const struct round_work *rw, const struct round_scratch *sc)
{
    const int64_t n = rw->n, gs = rw->gs, nb = n / gs;
    for (int sweep = 0; sweep < rw->n_sweeps; sweep++) {
        bool moved = false;
        for (int64_t b = 0; b < nb; b++) {
            const int64_t c0 = b * gs;
            const double *db = sc->d + c0, *vb = sc->v + c0;
            memset(sc->u, 0, (size_t)gs * sizeof *sc->u);
            symv_add(rw->H, n, c0, gs, c0, gs, db, sc->u);
            double dbu = 0.0, dbv = 0.0;
            for (int64_t k = 0; k < gs; k++) {
                dbu += db[k] * sc->u[k];
                dbv += db[k] * vb[k];
            }
            double best_gain = 0.0;
            int best_c = -1;
            for (int c = 0; c < rw->n_cand; c++) {
                if (c == sc->choice[b])
                    continue;
                const double *dc = sc->D + (size_t)c * (size_t)n + (size_t)c0;
                double dcu = 0.0, dcv = 0.0;
                for (int64_t k = 0; k < gs; k++) {
                    dcu += dc[k] * sc->u[k];
                    dcv += dc[k] * vb[k];
                }
                double gain = 2.0 * (dcv - dbv) + sc->err[(size_t)c * (size_t)nb + (size_t)b] - 2.0 * dcu + dbu;
                if (gain < best_gain) {
                    best_gain = gain;
                    best_c = c;
                }
            }
            if (best_c < 0)
                continue;
            const double *dc = sc->D + (size_t)best_c * (size_t)n + (size_t)c0;
            for (int64_t k = 0; k < gs; k++)
                sc->u[k] = dc[k] - db[k];   /* u is spent: reuse it for δ */
            symv_add(rw->H, n, c0, gs, 0, n, sc->u, sc->v);   /* v += H[:, block]·δ */
            memcpy(sc->d + c0, dc, (size_t)gs * sizeof *dc);
            sc->choice[b] = best_c;
            moved = true;
        }
        if (!moved)
            break;
    }
}

static int round_row(const struct round_work *rw, const struct round_scratch *sc, const float *w, uint8_t *dst)
{
    const int64_t nb = rw->n / rw->gs;
    int rc = 0;
    for (int c = 0; c < rw->n_plain && !rc; c++)
        rc = round_candidate(rw, sc, w, c);
    if (!rc && rw->n_cand > rw->n_plain) {
        rc = mixed_clips(rw, sc);
        for (int c = rw->n_plain; c < rw->n_cand && !rc; c++)
            rc = round_candidate(rw, sc, w, c);
    }
    if (rc)
        return rc;
    for (int64_t b = 0; b < nb; b++) {
        rc = block_errors(rw, sc, rw->n_cand, b * rw->gs, rw->gs, sc->err + b, nb);
        if (rc)
            return rc;
        sc->choice[b] = 0;
        for (int c = 1; c < rw->n_cand; c++)   /* strict: a tie keeps the earlier candidate */
            if (sc->err[(size_t)c * (size_t)nb + (size_t)b] < sc->err[(size_t)sc->choice[b] * (size_t)nb + (size_t)b])
                sc->choice[b] = c;
    }
    /* the per-block choice ignores cross-block terms: fall back to candidate 0 if they
     * make it worse, so the descent starts no higher than llama-quantize's rounding */
    double e_choice = row_error(rw, sc, sc->choice);
    memset(sc->group_i, 0, (size_t)nb * sizeof(int));  /* group_i is spent: reuse it as all-zero */
    if (row_error(rw, sc, sc->group_i) <= e_choice)
        memset(sc->choice, 0, (size_t)nb * sizeof(int));
    else
        row_error(rw, sc, sc->choice);
    descend(rw, sc);
    for (int64_t b = 0; b < nb; b++)
        memcpy(dst + (size_t)b * rw->qt->block_bytes,
               sc->packed + (size_t)sc->choice[b] * rw->row_bytes + (size_t)b * rw->qt->block_bytes,
               rw->qt->block_bytes);
    return 0;
}

int awq_round(const double *H, const float *W, int64_t m, int64_t n_in, const float *imp, int type, int n_grid,
              int n_steps, int n_sweeps, uint8_t *out)
{
    static const char fn[] = "awq_round";
    const struct quant_type *qt = NULL;
    int rc = check_args(fn, H, W, out, m, n_in, type, n_grid, n_steps, &qt);
    if (!rc && n_sweeps < 0)
        rc = ig_error_set(IG_EINVAL, "%s: n_sweeps = %d (allowed: >= 0)", fn, n_sweeps);
    if (rc)
        return rc;

    struct round_work rw = {.qt = qt, .H = H, .imp = imp, .n = n_in, .gs = qt->block_elems, .n_grid = n_grid,
                            .n_steps = n_steps, .n_sweeps = n_sweeps, .row_bytes = quant_row_size_bytes(qt, n_in)};
    rw.cg = rw.gs < AWQ_CLIP_GROUP ? rw.gs : AWQ_CLIP_GROUP;
    rw.n_sets = imp ? 2 : 1;
    rw.n_plain = rw.n_sets * n_steps;
    rw.n_cand = rw.n_plain + (rw.gs > rw.cg ? rw.n_sets : 0);
    size_t sc_bytes = round_scratch_bytes(&rw);
    uint8_t *scratch = ig_malloc((size_t)omp_get_max_threads() * sc_bytes);
    if (!scratch)
        return ig_error_set(IG_ENOMEM, "%s: out of memory for %d candidates of %lld columns", fn, rw.n_cand,
                            (long long)n_in);
    struct ig_par_error pe;
    ig_par_error_init(&pe);
#pragma omp parallel for schedule(dynamic, 4) if (m * n_in >= AWQ_PARALLEL_MIN)
    for (int64_t r = 0; r < m; r++) {
        if (ig_par_error_skip(&pe, r))
            continue;
        struct round_scratch sc = round_scratch_at(scratch + (size_t)omp_get_thread_num() * sc_bytes, &rw);
        int rc_row = round_row(&rw, &sc, W + r * n_in, out + (size_t)r * rw.row_bytes);
        if (rc_row)
            ig_par_error_record(&pe, r, ig_error_wrap(rc_row, "%s: type %s: row %lld", fn, qt->name, (long long)r));
    }
    free(scratch);
    return ig_par_error_raise(&pe);
}
