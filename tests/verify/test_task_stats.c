/* test_task_stats.c — paired statistics, McNemar, ECE and the temperature fit against a
 * reference computed once outside ingot, and mt19937 against the C++ standard.
 *
 * The figures below were printed by this pure-Python snippet (python3, no numpy), run once.
 * It replays the same seeded mt19937 and libstdc++ draw, so the bootstrap intervals must match
 * exactly; the calibration figures go through exp/log, so they are compared within 1e-12
 * (relative), far below anything a report prints.
 *
 * # Pure-Python reference for tests/verify/test_task_stats.c (no numpy). Run: python3 stats_ref.py
 * import math
 *
 * class MT:
 *     def __init__(s, seed):
 *         s.x = [0]*624; s.x[0] = seed & 0xffffffff
 *         for i in range(1, 624):
 *             s.x[i] = (1812433253 * (s.x[i-1] ^ (s.x[i-1] >> 30)) + i) & 0xffffffff
 *         s.i = 624
 *     def next(s):
 *         if s.i >= 624:
 *             for k in range(624):
 *                 y = (s.x[k] & 0x80000000) | (s.x[(k+1) % 624] & 0x7fffffff)
 *                 s.x[k] = s.x[(k+397) % 624] ^ (y >> 1) ^ (0x9908b0df if y & 1 else 0)
 *             s.i = 0
 *         z = s.x[s.i]; s.i += 1
 *         z ^= z >> 11; z ^= (z << 7) & 0x9d2c5680; z ^= (z << 15) & 0xefc60000; z ^= z >> 18
 *         return z & 0xffffffff
 *     def uniform(s, n):  # libstdc++ uniform_int_distribution<size_t>(0, n-1), Lemire
 *         p = s.next() * n; low = p & 0xffffffff
 *         if low < n:
 *             thr = ((1 << 32) - n) % n
 *             while low < thr:
 *                 p = s.next() * n; low = p & 0xffffffff
 *         return p >> 32
 *
 * def percentile(v, q):
 *     pos = q * (len(v) - 1); lo = math.floor(pos)
 *     if lo >= len(v) - 1: return v[-1]
 *     return v[lo] + (pos - lo) * (v[lo+1] - v[lo])
 *
 * def mcnemar(b, c):
 *     n = b + c
 *     if n == 0: return 1.0
 *     return min(1.0, 2.0 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2.0**n)
 *
 * def paired(a, b, B, seed):
 *     n = len(a); d = [bb - aa for aa, bb in zip(a, b)]
 *     g = MT(seed); ds = []
 *     for r in range(B):
 *         ds.append(sum(d[g.uniform(n)] for _ in range(n)) / n)
 *     ds.sort()
 *     return (sum(b) - sum(a)) / n, percentile(ds, 0.025), percentile(ds, 0.975), mcnemar(sum(1 for x, y in zip(a, b) if x and not y), sum(1 for x, y in zip(a, b) if y and not x))
 *
 * def view(s, g, T):
 *     best = max(range(len(s)), key=lambda j: (s[j], -j))
 *     tot = sum(math.exp((x - s[best]) / T) for x in s)
 *     return best, 1.0 / tot, math.log(tot) - (s[g] - s[best]) / T
 *
 * def nll(items, T): return sum(view(s, g, T)[2] for s, g in items) / len(items)
 *
 * def fit(items):
 *     phi = 0.5 * (math.sqrt(5.0) - 1.0); a, b = math.log(0.05), math.log(20.0)
 *     c, d = b - phi * (b - a), a + phi * (b - a); fc, fd = nll(items, math.exp(c)), nll(items, math.exp(d))
 *     for _ in range(60):
 *         if fc <= fd: b, d, fd = d, c, fc; c = b - phi * (b - a); fc = nll(items, math.exp(c))
 *         else: a, c, fc = c, d, fd; d = a + phi * (b - a); fd = nll(items, math.exp(d))
 *     T = math.exp(0.5 * (a + b)); f = nll(items, T); bound = 0
 *     if nll(items, 0.05) <= f: T, f, bound = 0.05, nll(items, 0.05), 1
 *     if nll(items, 20.0) < f: T, f, bound = 20.0, nll(items, 20.0), 1
 *     return T, bound
 *
 * def ece(items, T):
 *     cnt = [0]*15; cs = [0.0]*15; rt = [0]*15
 *     for s, g in items:
 *         p, conf, _ = view(s, g, T)
 *         m = min(14, max(0, math.ceil(conf * 15) - 1)); cnt[m] += 1; cs[m] += conf; rt[m] += p == g
 *     return sum(cnt[m] / len(items) * abs(rt[m] / cnt[m] - cs[m] / cnt[m]) for m in range(15) if cnt[m])
 *
 * # fixed vectors
 * a = [1 if (i * 7) % 10 < 6 else 0 for i in range(40)]
 * b = [1 if (i * 3) % 10 < 5 else 0 for i in range(40)]
 * g = MT(1); print("mt19937(1) first 3:", g.next(), g.next(), g.next())
 * g = MT(5489); [g.next() for _ in range(9999)]; print("mt19937(5489) 10000th:", g.next())
 * g = MT(1); print("uniform(10042) x5 seed 1:", [g.uniform(10042) for _ in range(5)])
 * print("paired mixed B=200 seed 42: delta %.17g lo %.17g hi %.17g p %.17g" % paired(a, b, 200, 42))
 * a2 = [1]*40; b2 = [1]*25 + [0]*15
 * print("paired 15 r->w B=1000 seed 7: delta %.17g lo %.17g hi %.17g p %.17g" % paired(a2, b2, 1000, 7))
 * print("mcnemar(5,3) %.17g mcnemar(15,0) %.17g mcnemar(0,0) %.17g mcnemar(40,45) %.17g" % (mcnemar(5,3), mcnemar(15,0), mcnemar(0,0), mcnemar(40,45)))
 * items = [([-1.0 - 0.37 * ((i * 5 + j * 3) % 7) + (1.5 if j == (i % 3) else 0.0) for j in range(3 + i % 2)], (i * 2) % (3 + i % 2) if i % 4 == 0 else i % 3) for i in range(30)]
 * T, bd = fit(items)
 * print("calib: ece@1 %.17g T %.17g bound %d ece@T %.17g nll@1 %.17g nll@T %.17g" % (ece(items, 1.0), T, bd, ece(items, T), nll(items, 1.0), nll(items, T)))
 * allright = [([0.0, -5.0 - i % 3, -7.0], 0) for i in range(10)]
 * T, bd = fit(allright); print("all right: T %.17g bound %d ece@1 %.17g" % (T, bd, ece(allright, 1.0)))
 * wrong = [([0.0, -1.0 - 0.1 * (i % 4)], 1) for i in range(10)]
 * T, bd = fit(wrong); print("gold lowest: T %.17g bound %d ece@1 %.17g ece@T %.17g" % (T, bd, ece(wrong, 1.0), ece(wrong, T)))
 * # halves (calib_report_compute, seed 3)
 * g = MT(3); perm = list(range(30))
 * for i in range(29, 0, -1):
 *     j = g.uniform(i + 1); perm[i], perm[j] = perm[j], perm[i]
 * A = sorted(perm[:15]); Bh = sorted(perm[15:])
 * TA, bA = fit([items[i] for i in A])
 * print("halves seed 3: A", A, "T_A %.17g ece_B@1 %.17g ece_B@T_A %.17g" % (TA, ece([items[i] for i in Bh], 1.0), ece([items[i] for i in Bh], TA)))
 *
 * Output:
 *   mt19937(1) first 3: 1791095845 4282876139 3093770124
 *   mt19937(5489) 10000th: 4123659995
 *   uniform(10042) x5 seed 1: [4187, 10013, 7233, 9364, 1]
 *   paired mixed B=200 seed 42: delta -0.10000000000000001 lo -0.375 hi 0.17499999999999999 p 0.61771931702969596
 *   paired 15 r->w B=1000 seed 7: delta -0.375 lo -0.52500000000000002 hi -0.22500000000000001 p 6.103515625e-05
 *   mcnemar(5,3) 0.7265625 mcnemar(15,0) 6.103515625e-05 mcnemar(0,0) 1 mcnemar(40,45) 0.6646454904132143
 *   calib: ece@1 0.29446667203265192 T 0.95820921361453837 bound 0 ece@T 0.26151324216540456 nll@1 0.84377723369374702 nll@T 0.84333510336452167
 *   all right: T 0.050000000000000003 bound 1 ece@1 0.0045965874785697247
 *   gold lowest: T 20 bound 1 ece@1 0.75526755857585193 ece@T 0.51412113595226605
 *   halves seed 3: A [1, 4, 5, 6, 8, 10, 11, 14, 15, 20, 21, 23, 25, 26, 29] T_A 1.2914309851320522 ece_B@1 0.30090795675664739 ece_B@T_A 0.3333896657375513
 */
#include "verify/calibration.h"
#include "verify/mt19937.h"
#include "verify/paired.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Calibration figures go through exp/log: 1e-12 relative (see the opening comment). */
#define CALIB_REL_TOL 1e-12
/* The fitted T sits at a flat minimum of NLL(T): NLL values that differ in their last bits
 * (ingot's det_exp/det_log against Python's libm) move the golden-section search's answer by
 * about sqrt(1e-16) ≈ 1e-8, and every figure taken at that T by as much times its slope. */
#define CALIB_T_TOL 1e-7
#define CALIB_AT_T_REL_TOL 1e-8

static void expect_rel_at_t(double got, double want, const char *what)
{
    cr_expect_leq(fabs(got - want), CALIB_AT_T_REL_TOL * fmax(1.0, fabs(want)), "%s: %.17g, reference %.17g", what,
                  got, want);
}

static void expect_rel(double got, double want, const char *what)
{
    cr_expect_leq(fabs(got - want), CALIB_REL_TOL * fmax(1.0, fabs(want)), "%s: %.17g, reference %.17g", what, got, want);
}

/* ---- mt19937 ------------------------------------------------------------------------------------- */

Test(mt19937, matches_the_cpp_standard)
{
    struct mt19937 g;
    mt19937_seed(&g, 5489);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++)
        x = mt19937_next(&g);
    cr_expect_eq(x, 4123659995u, "the 10000th output of a default-constructed std::mt19937 is 4123659995 (C++11 26.5.5), got %u", x);
    mt19937_seed(&g, 1);
    uint32_t a = mt19937_next(&g), b = mt19937_next(&g), c = mt19937_next(&g);
    cr_expect(a == 1791095845u && b == 4282876139u && c == 3093770124u, "mt19937(1): %u %u %u", a, b, c);
}

Test(mt19937, uniform_draw_matches_libstdcxx)
{
    static const uint64_t want[5] = {4187, 10013, 7233, 9364, 1};
    struct mt19937 g;
    mt19937_seed(&g, 1);
    for (int i = 0; i < 5; i++) {
        uint64_t u = mt19937_uniform(&g, 10042);
        cr_expect_eq(u, want[i], "draw %d: %llu, reference %llu", i, (unsigned long long)u, (unsigned long long)want[i]);
    }
}

/* ---- paired ------------------------------------------------------------------------------------------ */

static void vectors(uint8_t *a, uint8_t *b)
{
    for (int i = 0; i < 40; i++) {
        a[i] = (i * 7) % 10 < 6;
        b[i] = (i * 3) % 10 < 5;
    }
}

Test(paired, bootstrap_matches_reference_exactly)
{
    uint8_t a[40], b[40];
    vectors(a, b);
    struct paired_opts o = {.n_bootstrap = 200, .seed = 42, .min_flips = 10};
    struct paired_result r;
    cr_assert_eq(paired_compare(a, b, NULL, 40, &o, &r), 0);
    cr_expect_eq(r.delta, -0.10000000000000001, "delta %.17g", r.delta);
    cr_expect_eq(r.ci_low, -0.375, "ci_low %.17g", r.ci_low);
    cr_expect_eq(r.ci_high, 0.17499999999999999, "ci_high %.17g", r.ci_high);
    expect_rel(r.mcnemar_p, 0.61771931702969596, "mcnemar_p");
    cr_expect_eq(r.verdict, PAIRED_NO_CHANGE);
}

Test(paired, real_needs_the_flips)
{
    uint8_t a[40], b[40];
    for (int i = 0; i < 40; i++)
        a[i] = 1, b[i] = i < 25;
    struct paired_opts o = {.n_bootstrap = 1000, .seed = 7, .min_flips = 10};
    struct paired_result r;
    cr_assert_eq(paired_compare(a, b, NULL, 40, &o, &r), 0);
    cr_expect_eq(r.delta, -0.375);
    cr_expect_eq(r.ci_low, -0.52500000000000002, "ci_low %.17g", r.ci_low);
    cr_expect_eq(r.ci_high, -0.22500000000000001, "ci_high %.17g", r.ci_high);
    cr_expect_eq(r.right_to_wrong, 15);
    cr_expect_eq(r.wrong_to_right, 0);
    cr_expect_eq(r.mcnemar_p, 6.103515625e-05, "p %.17g", r.mcnemar_p);
    cr_expect_eq(r.verdict, PAIRED_REAL, "15 flips, CI below 0: real");
    o.min_flips = 20;
    cr_assert_eq(paired_compare(a, b, NULL, 40, &o, &r), 0);
    cr_expect_eq(r.verdict, PAIRED_DIRECTIONAL, "15 flips < 20: directional");
}

Test(paired, all_correct_and_no_flips)
{
    uint8_t a[40], b[40];
    for (int i = 0; i < 40; i++)
        a[i] = b[i] = 1;
    struct paired_opts o = {.n_bootstrap = 1000, .seed = 1, .min_flips = 10};
    struct paired_result r;
    cr_assert_eq(paired_compare(a, b, NULL, 40, &o, &r), 0);
    cr_expect(r.delta == 0 && r.ci_low == 0 && r.ci_high == 0 && r.mcnemar_p == 1.0, "all correct: Δ 0, CI [0, 0], p 1");
    cr_expect_eq(r.verdict, PAIRED_NO_CHANGE);
    for (int i = 0; i < 40; i++)
        a[i] = b[i] = i % 3 == 0;   /* same answers, some wrong: no flips */
    cr_assert_eq(paired_compare(a, b, NULL, 40, &o, &r), 0);
    cr_expect(r.right_to_wrong == 0 && r.wrong_to_right == 0 && r.ci_low == 0 && r.ci_high == 0, "no flips");
    cr_expect_eq(r.verdict, PAIRED_NO_CHANGE);
}

Test(paired, empty_and_subset)
{
    uint8_t a[4] = {1, 0, 1, 1}, b[4] = {0, 0, 1, 1};
    struct paired_opts o = {.n_bootstrap = 100, .seed = 1, .min_flips = 10};
    struct paired_result r;
    cr_assert_eq(paired_compare(a, b, NULL, 0, &o, &r), 0);
    cr_expect(!r.has_ci && r.n == 0, "no items: no CI");
    int64_t idx[2] = {2, 3};
    cr_assert_eq(paired_compare(a, b, idx, 2, &o, &r), 0);
    cr_expect(r.n == 2 && r.delta == 0 && r.right_to_wrong == 0, "only items 2 and 3 are compared");
}

Test(paired, mcnemar_exact_values)
{
    cr_expect_eq(paired_mcnemar_p(5, 3), 0.7265625);
    cr_expect_eq(paired_mcnemar_p(3, 5), 0.7265625);
    cr_expect_eq(paired_mcnemar_p(15, 0), 6.103515625e-05);
    cr_expect_eq(paired_mcnemar_p(0, 0), 1.0);
    expect_rel(paired_mcnemar_p(40, 45), 0.6646454904132143, "mcnemar(40, 45)");
}

/* ---- calibration ---------------------------------------------------------------------------------------- */

/* The snippet's `items`: 30 items with 3 or 4 options. */
struct fixed_items {
    int64_t offset[31];
    double scores[120];
    int32_t gold[30];
    struct calib_items it;
};

static void fixed_items(struct fixed_items *f)
{
    f->offset[0] = 0;
    for (int i = 0; i < 30; i++) {
        int k = 3 + i % 2;
        for (int j = 0; j < k; j++)
            f->scores[f->offset[i] + j] = -1.0 - 0.37 * ((i * 5 + j * 3) % 7) + (j == i % 3 ? 1.5 : 0.0);
        f->gold[i] = i % 4 == 0 ? (i * 2) % k : i % 3;
        f->offset[i + 1] = f->offset[i] + k;
    }
    f->it = (struct calib_items){.n = 30, .offset = f->offset, .scores = f->scores, .gold = f->gold};
}

Test(calibration, ece_and_temperature_match_reference)
{
    struct fixed_items f;
    fixed_items(&f);
    struct calib_ece e;
    calib_ece_compute(&f.it, NULL, 30, 1.0, &e);
    expect_rel(e.ece, 0.29446667203265192, "ECE at T = 1");
    struct calib_temperature t;
    calib_fit_temperature(&f.it, NULL, 30, &t);
    cr_expect_leq(fabs(t.T - 0.95820921361453837), CALIB_T_TOL, "T %.17g", t.T);
    cr_expect_eq(t.at_bound, 0);
    expect_rel(t.nll_at_1, 0.84377723369374702, "NLL at 1");
    expect_rel(t.nll_at_T, 0.84333510336452167, "NLL at T");
    calib_ece_compute(&f.it, NULL, 30, t.T, &e);
    expect_rel_at_t(e.ece, 0.26151324216540456, "ECE at T");
    int64_t count = 0;
    for (int m = 0; m < CALIB_N_BINS; m++)
        count += e.bins[m].count;
    cr_expect_eq(count, 30, "the bins hold every item");
}

Test(calibration, halves_match_reference)
{
    struct fixed_items f;
    fixed_items(&f);
    struct calib_report r;
    cr_assert_eq(calib_report_compute(&f.it, 3, &r), 0);
    cr_expect_eq(r.fit_a.n, 15);
    cr_expect_leq(fabs(r.fit_a.T - 1.2914309851320522), CALIB_T_TOL, "T on half A %.17g", r.fit_a.T);
    expect_rel(r.ece_b.ece, 0.30090795675664739, "ECE of half B at T = 1");
    expect_rel_at_t(r.ece_b_post_t.ece, 0.3333896657375513, "ECE of half B at T_A");
}

Test(calibration, temperature_at_the_lower_bound)
{
    int64_t offset[11];
    double s[30];
    int32_t gold[10];
    for (int i = 0; i < 10; i++) {
        offset[i] = 3 * i;
        s[3 * i] = 0.0, s[3 * i + 1] = -5.0 - i % 3, s[3 * i + 2] = -7.0;
        gold[i] = 0;
    }
    offset[10] = 30;
    struct calib_items it = {.n = 10, .offset = offset, .scores = s, .gold = gold};
    struct calib_temperature t;
    calib_fit_temperature(&it, NULL, 10, &t);
    cr_expect(t.T == CALIB_T_MIN && t.at_bound, "every answer right: sharper is always better, T %.17g", t.T);
    struct calib_ece e;
    calib_ece_compute(&it, NULL, 10, 1.0, &e);
    expect_rel(e.ece, 0.0045965874785697247, "ECE");
}

Test(calibration, temperature_at_the_upper_bound)
{
    int64_t offset[11];
    double s[20];
    int32_t gold[10];
    for (int i = 0; i < 10; i++) {
        offset[i] = 2 * i;
        s[2 * i] = 0.0, s[2 * i + 1] = -1.0 - 0.1 * (i % 4);
        gold[i] = 1;
    }
    offset[10] = 20;
    struct calib_items it = {.n = 10, .offset = offset, .scores = s, .gold = gold};
    struct calib_temperature t;
    calib_fit_temperature(&it, NULL, 10, &t);
    cr_expect(t.T == CALIB_T_MAX && t.at_bound, "every answer wrong: flatter is always better, T %.17g", t.T);
    struct calib_ece e;
    calib_ece_compute(&it, NULL, 10, 1.0, &e);
    expect_rel(e.ece, 0.75526755857585193, "ECE at 1");
    calib_ece_compute(&it, NULL, 10, t.T, &e);
    expect_rel(e.ece, 0.51412113595226605, "ECE at T");
}
