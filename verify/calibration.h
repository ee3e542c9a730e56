/* calibration.h — can a model's confidence in its chosen answer be trusted, before and after
 * temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017)?
 *
 * An item has n_options scores s_j (log-likelihoods) and a gold option g. With temperature T:
 *   p_j = softmax(s / T)_j;  prediction = first argmax of s;  confidence = p_prediction.
 *   ECE: 15 equal-width bins of confidence, bin m = ((m−1)/15, m/15] (confidence 0 goes to bin 1);
 *     ECE = Σ_m (n_m / n)·|acc_m − conf_m|.
 *   NLL(T) = mean over items of −log p_g; T minimises it over [CALIB_T_MIN, CALIB_T_MAX] by
 *     golden-section search on u = ln T (NLL is convex in 1/T; it is unimodal in u), then the
 *     two bounds are tried too, so a minimum at a bound is found exactly and flagged.
 *   Honest figure: the items are shuffled with mt19937(seed) (Fisher–Yates, j = uniform(i+1)
 *     for i = n−1 .. 1); half A (the first ⌊n/2⌋ shuffled items) fits T, half B is scored with it.
 * Sums run in item order, so the figures do not depend on threads.
 */
#ifndef VERIFY_CALIBRATION_H
#define VERIFY_CALIBRATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CALIB_N_BINS 15
#define CALIB_T_MIN 0.05
#define CALIB_T_MAX 20.0

/* The items (borrowed arrays). Item i's scores are scores[offset[i] .. offset[i+1]). */
struct calib_items {
    int64_t n;
    const int64_t *offset;   /* [n + 1] */
    const double *scores;    /* [offset[n]] log-likelihoods */
    const int32_t *gold;     /* [n] */
};

/* One reliability-diagram bin. conf_mean and acc are valid when count > 0. */
struct calib_bin {
    double lo, hi;           /* (lo, hi] */
    int64_t count;
    double conf_mean, acc;
};

struct calib_ece {
    int64_t n;               /* items; ece is valid when n > 0 */
    double ece;
    struct calib_bin bins[CALIB_N_BINS];
};

struct calib_temperature {
    int64_t n;               /* items it was fit on */
    double T;                /* valid when n > 0 */
    int at_bound;            /* T is CALIB_T_MIN or CALIB_T_MAX */
    double nll_at_1, nll_at_T;
};

/* Everything a report gives for one model on one task. */
struct calib_report {
    struct calib_ece ece;                /* T = 1, all items */
    struct calib_temperature fit_all;    /* T fit on all items */
    struct calib_ece ece_post_t;         /* all items at fit_all.T (in-sample) */
    struct calib_temperature fit_a;      /* T fit on half A */
    struct calib_ece ece_b;              /* half B at T = 1 */
    struct calib_ece ece_b_post_t;       /* half B at fit_a.T (the honest figure) */
};

/* Mean NLL of the gold options at temperature T over items idx[0..n_idx) (idx NULL: all). */
double calib_nll(const struct calib_items *it, const int64_t *idx, int64_t n_idx, double T);

/* Fit T on items idx[0..n_idx) (idx NULL: all). */
void calib_fit_temperature(const struct calib_items *it, const int64_t *idx, int64_t n_idx,
                           struct calib_temperature *out);

/* ECE and its bins at temperature T over items idx[0..n_idx) (idx NULL: all). */
void calib_ece_compute(const struct calib_items *it, const int64_t *idx, int64_t n_idx, double T,
                       struct calib_ece *out);

/* The whole report; seed picks the halves. Returns 0 or IG_ENOMEM. */
int calib_report_compute(const struct calib_items *it, uint32_t seed, struct calib_report *out);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_CALIBRATION_H */
