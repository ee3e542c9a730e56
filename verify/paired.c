/* paired.c — Δacc, flips, McNemar's exact p, the paired bootstrap CI and the verdict
 * (formulas in paired.h). Consumed by tasks.c for every task and every tier.
 */
#include "paired.h"

#include "mt19937.h"

#include "../common/ig_error.h"

#include <math.h>
#include <stdlib.h>

/* ---- McNemar ----------------------------------------------------------------------------- */

double paired_mcnemar_p(int64_t b, int64_t c)
{
    const int64_t n = b + c, k_max = b < c ? b : c;
    if (n == 0)
        return 1.0;
    double tail = 0.0;
    if (n <= 1000) {
        /* t_k = C(n,k)·2^-n by t_{k+1} = t_k·(n−k)/(k+1): exact for small n, no underflow
         * (2^-1000 is a normal double) */
        double t = ldexp(1.0, (int)-n);
        for (int64_t k = 0; k <= k_max; k++) {
            tail += t;
            t = t * (double)(n - k) / (double)(k + 1);
        }
    } else {
        /* each term in logs, so n in the millions cannot underflow */
        const double log_half_n = -(double)n * log(2.0), lg_n1 = lgamma((double)n + 1.0);
        for (int64_t k = 0; k <= k_max; k++)
            tail += exp(lg_n1 - lgamma((double)k + 1.0) - lgamma((double)(n - k) + 1.0) + log_half_n);
    }
    double p = 2.0 * tail;
    return p < 1.0 ? p : 1.0;
}

/* ---- bootstrap ------------------------------------------------------------------------------ */

double paired_percentile(const double *sorted, int64_t n, double q)
{
    double pos = q * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

static int compare_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

/* Per item d_i = b_i − a_i ∈ {−1, 0, 1}; a resample's Δ is the mean of n drawn d_i. */
static int bootstrap_ci(const int8_t *d, int64_t n, const struct paired_opts *o, double *low, double *high)
{
    double *deltas = ig_malloc((size_t)o->n_bootstrap * sizeof *deltas);
    if (!deltas)
        return IG_ENOMEM;
    struct mt19937 g;
    mt19937_seed(&g, o->seed);
    for (int64_t r = 0; r < o->n_bootstrap; r++) {
        int64_t sum = 0;   /* integer sum: exact, whatever the order */
        for (int64_t i = 0; i < n; i++)
            sum += d[mt19937_uniform(&g, (uint64_t)n)];
        deltas[r] = (double)sum / (double)n;
    }
    qsort(deltas, (size_t)o->n_bootstrap, sizeof *deltas, compare_double);
    *low = paired_percentile(deltas, o->n_bootstrap, 0.025);
    *high = paired_percentile(deltas, o->n_bootstrap, 0.975);
    free(deltas);
    return 0;
}

/* ---- one comparison ---------------------------------------------------------------------- */

int paired_compare(const uint8_t *correct_a, const uint8_t *correct_b, const int64_t *idx, int64_t n,
                   const struct paired_opts *o, struct paired_result *out)
{
    *out = (struct paired_result){.n = n, .mcnemar_p = 1.0, .verdict = PAIRED_NO_CHANGE};
    if (n == 0)
        return 0;
    int8_t *d = ig_malloc((size_t)n * sizeof *d);
    if (!d)
        return IG_ENOMEM;
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx ? idx[k] : k;
        int a = correct_a[i] != 0, b = correct_b[i] != 0;
        out->n_right_a += a;
        out->n_right_b += b;
        out->right_to_wrong += a && !b;
        out->wrong_to_right += !a && b;
        d[k] = (int8_t)(b - a);
    }
    out->acc_a = (double)out->n_right_a / (double)n;
    out->acc_b = (double)out->n_right_b / (double)n;
    out->delta = (double)(out->n_right_b - out->n_right_a) / (double)n;
    out->mcnemar_p = paired_mcnemar_p(out->right_to_wrong, out->wrong_to_right);
    int rc = 0;
    if (o->n_bootstrap > 0) {
        rc = bootstrap_ci(d, n, o, &out->ci_low, &out->ci_high);
        out->has_ci = rc == 0;
    }
    if (out->has_ci && (out->ci_low > 0.0 || out->ci_high < 0.0))
        out->verdict = out->right_to_wrong + out->wrong_to_right >= o->min_flips ? PAIRED_REAL : PAIRED_DIRECTIONAL;
    free(d);
    return rc;
}

const char *paired_verdict_name(enum paired_verdict v)
{
    switch (v) {
    case PAIRED_REAL: return "real";
    case PAIRED_DIRECTIONAL: return "directional";
    default: return "no change";
    }
}
