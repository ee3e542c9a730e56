/* paired.h — is a container's accuracy really different from the source's on the same items?
 *
 * Each item is scored right (1) or wrong (0) by the source (a) and by the container (b).
 *   Δacc = mean(b) − mean(a).
 *   Flips: right→wrong = #{a = 1, b = 0}, wrong→right = #{a = 0, b = 1} (the discordant pairs).
 *   McNemar's exact test: under "no change" each discordant pair goes either way with
 *     probability ½, so p = min(1, 2·Σ_{k ≤ min(r→w, w→r)} C(n, k)·2^−n), n = the discordant pairs
 *     (p = 1 when n = 0).
 *   Paired bootstrap: B resamples of the n items with replacement, the same items for a and b,
 *     drawn with mt19937(seed) and uniform(0, n−1) (mt19937.h), Δ of each resample; the 95% CI is
 *     the 2.5th and 97.5th percentiles of the B values (linear interpolation at q·(B − 1) in
 *     the sorted values, numpy's default).
 *   Verdict: "real" when the CI excludes 0 and the discordant pairs reach min_flips;
 *     "directional" when the CI excludes 0 on fewer; otherwise "no change".
 * Everything here is serial and in item order, so the figures do not depend on threads.
 */
#ifndef VERIFY_PAIRED_H
#define VERIFY_PAIRED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum paired_verdict {
    PAIRED_NO_CHANGE = 0,
    PAIRED_DIRECTIONAL = 1,
    PAIRED_REAL = 2,
};

struct paired_opts {
    int64_t n_bootstrap;   /* resamples B (the CLI's --bootstrap, default 1000); 0: no CI */
    uint32_t seed;         /* mt19937 seed of the resampling */
    int64_t min_flips;     /* discordant pairs needed for "real" (default 10) */
};

/* Plain data. Figures that do not exist (no items, no resamples) have has_* = 0. */
struct paired_result {
    int64_t n;                       /* items compared */
    int64_t n_right_a, n_right_b;    /* correct items of the source and of the container */
    double acc_a, acc_b, delta;      /* fractions; valid when n > 0 */
    int64_t right_to_wrong, wrong_to_right;
    double mcnemar_p;                /* valid when n > 0 */
    int has_ci;                      /* n > 0 and n_bootstrap > 0 */
    double ci_low, ci_high;          /* 95% percentile interval of Δacc */
    enum paired_verdict verdict;
};

/* McNemar's exact two-sided p for b and c discordant pairs (each >= 0); 1 when b + c = 0. */
double paired_mcnemar_p(int64_t b, int64_t c);

/* The value at fraction q of sorted[0..n) (n >= 1), interpolated linearly at q·(n − 1). */
double paired_percentile(const double *sorted, int64_t n, double q);

/* Compare correct_a and correct_b ([n], 0 or 1) over the items listed in idx[0..n)
 * (idx NULL: items 0..n-1). Returns 0, or IG_ENOMEM (bootstrap buffer). */
int paired_compare(const uint8_t *correct_a, const uint8_t *correct_b, const int64_t *idx, int64_t n,
                   const struct paired_opts *o, struct paired_result *out);

/* "real", "directional", "no change". */
const char *paired_verdict_name(enum paired_verdict v);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_PAIRED_H */
