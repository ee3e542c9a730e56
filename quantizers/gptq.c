/* gptq.c — GPTQ onto any ggml / ingot grid (see gptq.h for the algorithm and the choice
 * of block scales). The sweep is a straight run of the paper's Algorithm 1, so it is
 * longer than most functions here. */
#include "gptq.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "quant_grid.h"
#include "quant_type.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GPTQ_MAX_DAMP_RAISES 6

/* ---- the inverse Hessian's Cholesky factor ------------------------------------------------ */

/* U = chol(H⁻¹) upper, in place in A [n][n] (row-major, double). */
static int inverse_cholesky(double *A, int64_t n)
{
    /* LAPACK sees row-major A as column-major Aᵀ = A (symmetric): 'L' here is its lower */
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, A, (lapack_int)n) != 0)
        return -1;
    if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, A, (lapack_int)n) != 0)
        return -1;
    for (int64_t i = 0; i < n; i++)          /* dpotri fills one triangle: mirror it */
        for (int64_t j = i + 1; j < n; j++)
            A[i * n + j] = A[j * n + i];
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n) != 0)
        return -1;
    for (int64_t i = 0; i < n; i++)          /* keep the upper factor only */
        for (int64_t j = 0; j < i; j++)
            A[i * n + j] = 0.0;
    return 0;
}

/* Damp H into U and factor it, raising the damping until the factorisation succeeds. */
static int prepare_hessian(const double *H, int64_t n, const uint8_t *dead, const struct gptq_opts *o, double *U,
                           struct gptq_report *rep)
{
    double mean = 0.0;
    for (int64_t j = 0; j < n; j++)
        mean += dead[j] ? 1.0 : H[j * n + j];
    mean /= (double)n;
    double damp = o->damp > 0 ? o->damp : 0.01;
    for (int k = 0; k <= GPTQ_MAX_DAMP_RAISES; k++) {
        memcpy(U, H, (size_t)(n * n) * sizeof *U);
        for (int64_t j = 0; j < n; j++) {
            if (dead[j]) {
                for (int64_t i = 0; i < n; i++)
                    U[i * n + j] = U[j * n + i] = 0.0;
                U[j * n + j] = 1.0;
            }
            U[j * n + j] += damp * mean;
        }
        if (inverse_cholesky(U, n) == 0) {
            rep->damp_used = (float)damp;
            rep->damp_raised = k;
            return 0;
        }
        damp *= 10.0;
    }
    return ig_error_set(IG_EINVAL, "gptq: the Hessian is not positive definite even with damping %g", damp / 10.0);
}

/* ---- grids ---------------------------------------------------------------------------------- */

/* Fix the scales of block b of row r from the row's current values (weighted by diag H). */
static int fix_block(const struct quant_type *qt, const float *w_block, const float *importance, uint8_t *block)
{
    return qt->quantize_row_ref(w_block, block, qt->block_elems, importance);
}

/* Round w to the grid of element j of a packed block and store the code; returns the value. */
static float round_on_grid(int type, uint8_t *block, int j, float w)
{
    struct quant_grid g;
    quant_grid_of(type, block, j, &g);
    int q = quant_grid_nearest(&g, w);
    quant_grid_set(type, block, j, q);
    return g.a * (g.table ? g.table[q] : (float)q) + g.b;
}

/* ---- the sweep --------------------------------------------------------------------------------- */

int gptq_quantize(float *W, int64_t m, int64_t n, const double *H, int type, const struct gptq_opts *o, void *dst,
                  struct gptq_report *rep)
{
    const struct quant_type *qt = quant_type_get(type);
    struct quant_grid probe;
    uint8_t probe_block[512] = {0};
    memset(rep, 0, sizeof *rep);
    if (!qt || qt->block_elems <= 1 || quant_grid_of(type, probe_block, 0, &probe) != 0)
        return ig_error_set(IG_EINVAL, "gptq: type %s has no quantization grid", ggml_type_name(type));
    const int64_t B = qt->block_elems;
    if (n % B != 0)
        return ig_error_set(IG_EINVAL, "gptq: %lld columns are not whole %s blocks of %lld", (long long)n,
                            ggml_type_name(type), (long long)B);
    const int64_t nb = n / B;
    const size_t row_bytes = quant_row_size_bytes(qt, n);
    int64_t batch = o->batch > 0 ? o->batch : 128;
    batch = (batch + B - 1) / B * B;
    const bool act_order = (o->flags & GPTQ_ACT_ORDER) != 0;

    uint8_t *dead = ig_calloc((size_t)n, 1);
    double *U = ig_malloc((size_t)(n * n) * sizeof *U);
    int64_t *perm = ig_malloc((size_t)n * sizeof *perm);
    float *imp = ig_malloc((size_t)n * sizeof *imp);
    float *err = ig_malloc((size_t)(m * batch) * sizeof *err);
    float *Ublk = ig_malloc((size_t)(batch * n) * sizeof *Ublk);
    int rc = dead && U && perm && imp && err && Ublk ? 0 : IG_ENOMEM;
    if (rc)
        goto out_free;
    for (int64_t j = 0; j < n; j++) {
        dead[j] = H[j * n + j] == 0.0;
        imp[j] = (float)H[j * n + j];
        perm[j] = j;
        if (dead[j]) {
            rep->dead_cols++;
            for (int64_t r = 0; r < m; r++)
                W[r * n + j] = 0.0f;
        }
    }
    if (act_order) {
        /* columns by descending diag(H); insertion of indices keeps the order deterministic */
        for (int64_t i = 1; i < n; i++)
            for (int64_t k = i; k > 0 && H[perm[k] * n + perm[k]] > H[perm[k - 1] * n + perm[k - 1]]; k--) {
                int64_t t = perm[k];
                perm[k] = perm[k - 1];
                perm[k - 1] = t;
            }
        /* static groups: every block's scales from the unmodified weights */
        for (int64_t r = 0; r < m; r++)
            for (int64_t b = 0; b < nb && !rc; b++)
                rc = fix_block(qt, W + r * n + b * B, imp + b * B, (uint8_t *)dst + (size_t)r * row_bytes + (size_t)b * qt->block_bytes);
        if (rc)
            goto out_free;
    }
    /* H in sweep order, then its inverse's Cholesky factor */
    {
        double *Hp = ig_malloc((size_t)(n * n) * sizeof *Hp);
        uint8_t *dp = ig_malloc((size_t)n);
        if (!Hp || !dp) {
            free(Hp);
            free(dp);
            rc = IG_ENOMEM;
            goto out_free;
        }
        for (int64_t i = 0; i < n; i++) {
            dp[i] = dead[perm[i]];
            for (int64_t j = 0; j < n; j++)
                Hp[i * n + j] = H[perm[i] * n + perm[j]];
        }
        rc = prepare_hessian(Hp, n, dp, o, U, rep);
        free(Hp);
        free(dp);
        if (rc)
            goto out_free;
    }
    for (int64_t i1 = 0; i1 < n; i1 += batch) {
        const int64_t i2 = i1 + batch < n ? i1 + batch : n, cnt = i2 - i1;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < m; r++) {
            float *w = W + r * n;
            uint8_t *row = (uint8_t *)dst + (size_t)r * row_bytes;
            for (int64_t i = 0; i < cnt; i++) {
                const int64_t c = perm[i1 + i];           /* the column being quantized */
                const int64_t b = c / B;
                uint8_t *block = row + (size_t)b * qt->block_bytes;
                if (!act_order && c % B == 0)
                    fix_block(qt, w + c, imp + c, block);   /* sequential: scales from updated values */
                const float q = round_on_grid(type, block, (int)(c % B), w[c]);
                const float e = (w[c] - q) / (float)U[(i1 + i) * n + (i1 + i)];
                err[r * batch + i] = e;
                w[c] = q;
                for (int64_t k = i + 1; k < cnt; k++)       /* within the batch, column by column */
                    w[perm[i1 + k]] -= e * (float)U[(i1 + i) * n + (i1 + k)];
            }
        }
        if (i2 == n)
            break;
        /* W[:, rest] -= Err · U[batch, rest]: one GEMM for the lazy update */
        const int64_t rest = n - i2;
        for (int64_t i = 0; i < cnt; i++)
            for (int64_t k = 0; k < rest; k++)
                Ublk[i * rest + k] = (float)U[(i1 + i) * n + (i2 + k)];
        float *upd = ig_malloc((size_t)(m * rest) * sizeof *upd);
        if (!upd) {
            rc = IG_ENOMEM;
            goto out_free;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)rest, (int)cnt, 1.0f, err, (int)batch,
                    Ublk, (int)rest, 0.0f, upd, (int)rest);
        for (int64_t r = 0; r < m; r++)
            for (int64_t k = 0; k < rest; k++)
                W[r * n + perm[i2 + k]] -= upd[r * rest + k];
        free(upd);
    }
out_free:
    free(dead);
    free(U);
    free(perm);
    free(imp);
    free(err);
    free(Ublk);
    return rc;
}

double gptq_relative_error(const float *W, const float *Wq, int64_t m, int64_t n, const double *H)
{
    double num = 0.0, den = 0.0;
    double *d = malloc((size_t)n * sizeof *d), *w = malloc((size_t)n * sizeof *w);
    double *Hd = malloc((size_t)n * sizeof *Hd), *Hw = malloc((size_t)n * sizeof *Hw);
    if (!d || !w || !Hd || !Hw) {
        free(d);
        free(w);
        free(Hd);
        free(Hw);
        return NAN;
    }
    for (int64_t r = 0; r < m; r++) {
        for (int64_t j = 0; j < n; j++) {
            w[j] = W[r * n + j];
            d[j] = (double)W[r * n + j] - (double)Wq[r * n + j];
        }
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)n, 1.0, H, (int)n, d, 1, 0.0, Hd, 1);
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)n, 1.0, H, (int)n, w, 1, 0.0, Hw, 1);
        num += cblas_ddot((int)n, d, 1, Hd, 1);
        den += cblas_ddot((int)n, w, 1, Hw, 1);
    }
    free(d);
    free(w);
    free(Hd);
    free(Hw);
    return den > 0 ? sqrt(num / den) : 0.0;
}
