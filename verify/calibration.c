/* calibration.c — ECE, reliability bins and the temperature fit (definitions in calibration.h).
 * Consumed by tasks.c, once per model and task, on the choice log-likelihoods it computed.
 */
#include "calibration.h"

#include "mt19937.h"

#include "../common/ig_error.h"
#include "../kernels/cpu/det_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- one item ----------------------------------------------------------------------------- */

/* First argmax of s[0..k), the max-subtracted log-sum-exp of s/T, and the item's gold NLL. */
struct item_view {
    int32_t pred;
    double conf, nll;
};

static struct item_view view_item(const struct calib_items *it, int64_t i, double T)
{
    const double *s = it->scores + it->offset[i];
    const int64_t k = it->offset[i + 1] - it->offset[i];
    int32_t best = 0;
    for (int64_t j = 1; j < k; j++)
        if (s[j] > s[best])
            best = (int32_t)j;
    double sum = 0.0;   /* Σ exp((s_j − s_max)/T) >= 1 */
    for (int64_t j = 0; j < k; j++)
        sum += det_exp((s[j] - s[best]) / T);
    struct item_view v;
    v.pred = best;
    v.conf = 1.0 / sum;
    v.nll = det_log(sum) - (s[it->gold[i]] - s[best]) / T;
    return v;
}

/* ---- NLL and the temperature ------------------------------------------------------------- */

double calib_nll(const struct calib_items *it, const int64_t *idx, int64_t n_idx, double T)
{
    double sum = 0.0;
    for (int64_t k = 0; k < n_idx; k++)
        sum += view_item(it, idx ? idx[k] : k, T).nll;
    return n_idx > 0 ? sum / (double)n_idx : 0.0;
}

void calib_fit_temperature(const struct calib_items *it, const int64_t *idx, int64_t n_idx,
                           struct calib_temperature *out)
{
    const double phi = 0.5 * (sqrt(5.0) - 1.0);   /* 1/golden ratio */
    double a = det_log(CALIB_T_MIN), b = det_log(CALIB_T_MAX);
    double c = b - phi * (b - a), d = a + phi * (b - a);
    double fc = calib_nll(it, idx, n_idx, det_exp(c)), fd = calib_nll(it, idx, n_idx, det_exp(d));
    /* 60 steps shrink the bracket of width ln 400 ≈ 6 by phi^60 ≈ 3e-13 */
    for (int step = 0; step < 60; step++) {
        if (fc <= fd) {
            b = d, d = c, fd = fc;
            c = b - phi * (b - a);
            fc = calib_nll(it, idx, n_idx, det_exp(c));
        } else {
            a = c, c = d, fc = fd;
            d = a + phi * (b - a);
            fd = calib_nll(it, idx, n_idx, det_exp(d));
        }
    }
    double T = det_exp(0.5 * (a + b)), f = calib_nll(it, idx, n_idx, T);
    double f_lo = calib_nll(it, idx, n_idx, CALIB_T_MIN), f_hi = calib_nll(it, idx, n_idx, CALIB_T_MAX);
    out->n = n_idx;
    out->at_bound = 0;
    if (f_lo <= f) {
        T = CALIB_T_MIN, f = f_lo, out->at_bound = 1;
    }
    if (f_hi < f) {
        T = CALIB_T_MAX, f = f_hi, out->at_bound = 1;
    }
    out->T = T;
    out->nll_at_T = f;
    out->nll_at_1 = calib_nll(it, idx, n_idx, 1.0);
}

/* ---- ECE ------------------------------------------------------------------------------------- */

void calib_ece_compute(const struct calib_items *it, const int64_t *idx, int64_t n_idx, double T,
                       struct calib_ece *out)
{
    double conf_sum[CALIB_N_BINS] = {0}, right[CALIB_N_BINS] = {0};
    memset(out, 0, sizeof *out);
    out->n = n_idx;
    for (int64_t k = 0; k < n_idx; k++) {
        int64_t i = idx ? idx[k] : k;
        struct item_view v = view_item(it, i, T);
        int m = (int)ceil(v.conf * CALIB_N_BINS) - 1;   /* bin m holds (m/15, (m+1)/15] */
        m = m < 0 ? 0 : m >= CALIB_N_BINS ? CALIB_N_BINS - 1 : m;
        out->bins[m].count++;
        conf_sum[m] += v.conf;
        right[m] += v.pred == it->gold[i];
    }
    for (int m = 0; m < CALIB_N_BINS; m++) {
        struct calib_bin *bin = &out->bins[m];
        bin->lo = (double)m / CALIB_N_BINS;
        bin->hi = (double)(m + 1) / CALIB_N_BINS;
        if (bin->count == 0)
            continue;
        bin->conf_mean = conf_sum[m] / (double)bin->count;
        bin->acc = right[m] / (double)bin->count;
        out->ece += (double)bin->count / (double)n_idx * fabs(bin->acc - bin->conf_mean);
    }
}

/* ---- the report ------------------------------------------------------------------------------ */

static int compare_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

int calib_report_compute(const struct calib_items *it, uint32_t seed, struct calib_report *out)
{
    memset(out, 0, sizeof *out);
    const int64_t n = it->n, n_a = n / 2;
    int64_t *perm = ig_malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    if (!perm)
        return IG_ENOMEM;
    calib_ece_compute(it, NULL, n, 1.0, &out->ece);
    calib_fit_temperature(it, NULL, n, &out->fit_all);
    calib_ece_compute(it, NULL, n, out->fit_all.T, &out->ece_post_t);
    struct mt19937 g;
    mt19937_seed(&g, seed);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)mt19937_uniform(&g, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    /* each half back in item order, so its sums run in a fixed order */
    qsort(perm, (size_t)n_a, sizeof *perm, compare_i64);
    qsort(perm + n_a, (size_t)(n - n_a), sizeof *perm, compare_i64);
    calib_fit_temperature(it, perm, n_a, &out->fit_a);
    calib_ece_compute(it, perm + n_a, n - n_a, 1.0, &out->ece_b);
    calib_ece_compute(it, perm + n_a, n - n_a, out->fit_a.T, &out->ece_b_post_t);
    free(perm);
    return 0;
}
