/* gptq.c — GPTQ onto any ggml / ingot grid (see gptq.h for the algorithm and the choice
 * of block scales). The sweep is a straight run of the paper's Algorithm 1, so it is
 * longer than most functions here.
 *
 * The heavy algebra (the inverse Hessian's factor, the lazy-batch update, the relative
 * error) goes through the backend (kernels/backend.h), not OpenBLAS/LAPACKE: the CPU
 * backend sums in a fixed order, so the packed bytes are the same whatever the thread
 * count, the BLAS build or the machine. Everything else is per row, on one thread. */
#include "gptq.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../kernels/backend.h"
#include "quant_grid.h"
#include "quant_type.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GPTQ_MAX_DAMP_RAISES 6
#define GPTQ_ERR_ROWS 64   /* rows per GEMM in gptq_relative_error */

/* ---- the inverse Hessian's Cholesky factor ------------------------------------------------ */

/* Damp H and factor it into U = chol(H⁻¹) (upper), raising the damping until the
 * factorisation succeeds. */
static int prepare_hessian(const struct backend *be, const double *H, int64_t n, const uint8_t *dead,
                           const struct gptq_opts *o, double *U, struct gptq_report *rep)
{
    double *Hd = ig_malloc((size_t)(n * n) * sizeof *Hd);
    if (!Hd)
        return ig_error_wrap(IG_ENOMEM, "gptq: the damped %lld x %lld Hessian", (long long)n, (long long)n);
    double mean = 0.0;
    for (int64_t j = 0; j < n; j++)
        mean += dead[j] ? 1.0 : H[j * n + j];
    mean /= (double)n;
    double damp = o->damp > 0 ? o->damp : 0.01;
    int rc = IG_EINVAL;
    for (int k = 0; k <= GPTQ_MAX_DAMP_RAISES && rc == IG_EINVAL; k++, damp *= 10.0) {
        memcpy(Hd, H, (size_t)(n * n) * sizeof *Hd);
        for (int64_t j = 0; j < n; j++) {
            if (dead[j]) {
                for (int64_t i = 0; i < n; i++)
                    Hd[i * n + j] = Hd[j * n + i] = 0.0;
                Hd[j * n + j] = 1.0;
            }
            Hd[j * n + j] += damp * mean;
        }
        rc = be->inverse_cholesky_upper(Hd, n, U);   /* IG_EINVAL: not positive definite */
        if (!rc) {
            rep->damp_used = (float)damp;
            rep->damp_raised = k;
        }
    }
    free(Hd);
    if (rc == IG_EINVAL)
        return ig_error_set(IG_EINVAL, "gptq: the Hessian is not positive definite even with damping %g",
                            damp / 10.0);
    return rc;
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
    float *UblkT = ig_malloc((size_t)(batch * n) * sizeof *UblkT);
    float *upd = ig_malloc((size_t)(m * n) * sizeof *upd);
    const struct backend *be = backend_active();
    struct ig_par_error pe;
    int rc = dead && U && perm && imp && err && UblkT && upd
                 ? 0
                 : ig_error_wrap(IG_ENOMEM, "gptq: scratch for a %lld x %lld layer", (long long)m, (long long)n);
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
            rc = ig_error_wrap(IG_ENOMEM, "gptq: the permuted %lld x %lld Hessian", (long long)n, (long long)n);
            goto out_free;
        }
        for (int64_t i = 0; i < n; i++) {
            dp[i] = dead[perm[i]];
            for (int64_t j = 0; j < n; j++)
                Hp[i * n + j] = H[perm[i] * n + perm[j]];
        }
        rc = prepare_hessian(be, Hp, n, dp, o, U, rep);
        free(Hp);
        free(dp);
        if (rc)
            goto out_free;
    }
    for (int64_t i1 = 0; i1 < n; i1 += batch) {
        const int64_t i2 = i1 + batch < n ? i1 + batch : n, cnt = i2 - i1;
        /* each row is swept by one thread; the first failing row's message survives the loop */
        ig_par_error_init(&pe);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < m; r++) {
            if (ig_par_error_skip(&pe, r))
                continue;
            float *w = W + r * n;
            uint8_t *row = (uint8_t *)dst + (size_t)r * row_bytes;
            for (int64_t i = 0; i < cnt; i++) {
                const int64_t c = perm[i1 + i];           /* the column being quantized */
                const int64_t b = c / B;
                uint8_t *block = row + (size_t)b * qt->block_bytes;
                if (!act_order && c % B == 0) {            /* sequential: scales from updated values */
                    int rc_row = fix_block(qt, w + c, imp + c, block);
                    if (rc_row) {
                        ig_par_error_record(&pe, r, ig_error_wrap(rc_row, "gptq: row %lld, block %lld", (long long)r,
                                                                  (long long)b));
                        break;
                    }
                }
                const float q = round_on_grid(type, block, (int)(c % B), w[c]);
                const float e = (w[c] - q) / (float)U[(i1 + i) * n + (i1 + i)];
                err[r * batch + i] = e;
                w[c] = q;
                for (int64_t k = i + 1; k < cnt; k++)       /* within the batch, column by column */
                    w[perm[i1 + k]] -= e * (float)U[(i1 + i) * n + (i1 + k)];
            }
        }
        rc = ig_par_error_raise(&pe);
        if (rc || i2 == n)
            break;
        /* W[:, rest] -= Err · U[batch, rest]: one GEMM for the lazy update, with U's block
         * transposed (UblkT [rest][cnt]) so both operands run along the sum */
        const int64_t rest = n - i2;
        for (int64_t k = 0; k < rest; k++)
            for (int64_t i = 0; i < cnt; i++)
                UblkT[k * cnt + i] = (float)U[(i1 + i) * n + (i2 + k)];
        rc = be->sgemm_nt(m, rest, cnt, err, batch, UblkT, cnt, upd, rest, BACKEND_STORE);
        if (rc)
            break;
        for (int64_t r = 0; r < m; r++)
            for (int64_t k = 0; k < rest; k++)
                W[r * n + perm[i2 + k]] -= upd[r * rest + k];
    }
out_free:
    free(dead);
    free(U);
    free(perm);
    free(imp);
    free(err);
    free(UblkT);
    free(upd);
    return rc;
}

/* Σ_r d_rᵀ H d_r over rows [0, rows) of D [rows][n], E = D·H [rows][n] (given), row by row
 * in order. */
static double sum_quad(const double *D, const double *E, int64_t rows, int64_t n)
{
    double sum = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        double dot = 0.0;
        for (int64_t j = 0; j < n; j++)
            dot += D[r * n + j] * E[r * n + j];
        sum += dot;
    }
    return sum;
}

double gptq_relative_error(const float *W, const float *Wq, int64_t m, int64_t n, const double *H)
{
    const struct backend *be = backend_active();
    double num = 0.0, den = 0.0;
    /* Hf: H's upper triangle mirrored (H is read as upper); D: ΔW's rows, then W's, of one
     * chunk; E = D·Hf, one GEMM per chunk */
    double *Hf = malloc((size_t)(n * n) * sizeof *Hf);
    double *D = malloc((size_t)(2 * GPTQ_ERR_ROWS * n) * sizeof *D);
    double *E = malloc((size_t)(2 * GPTQ_ERR_ROWS * n) * sizeof *E);
    int rc = Hf && D && E ? 0 : IG_ENOMEM;
    for (int64_t i = 0; i < n && !rc; i++)
        for (int64_t j = 0; j < n; j++)
            Hf[i * n + j] = j >= i ? H[i * n + j] : H[j * n + i];
    for (int64_t r0 = 0; r0 < m && !rc; r0 += GPTQ_ERR_ROWS) {
        const int64_t rows = m - r0 < GPTQ_ERR_ROWS ? m - r0 : GPTQ_ERR_ROWS;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < n; j++) {
                const float w = W[(r0 + r) * n + j];
                D[r * n + j] = (double)w - (double)Wq[(r0 + r) * n + j];
                D[(rows + r) * n + j] = w;
            }
        rc = be->dgemm_nt(2 * rows, n, n, D, n, Hf, n, E, n, BACKEND_STORE);   /* Hf = Hfᵀ */
        if (!rc) {
            num += sum_quad(D, E, rows, n);
            den += sum_quad(D + rows * n, E + rows * n, rows, n);
        }
    }
    free(Hf);
    free(D);
    free(E);
    if (rc)
        return NAN;
    return den > 0 ? sqrt(num / den) : 0.0;
}
