/* test_quant_grid.c — per-element code grids (quantizers/quant_grid.h), checked against the
 * dequantizers rather than against quant_grid.c's own reading of the layouts.
 *
 * For every type with a grid, seeded rows are quantized with the type's reference quantizer;
 * then for every element j of every block and every code q of its grid, a copy of the block
 * gets quant_grid_set(j, q) and the type's dequantize_row_ref must give the grid value for
 * element j and the original bits for every other element. The grid must also contain what
 * the quantizer chose (nearest code of each dequantized value gives it back, and re-storing
 * those codes gives the original bytes), and quant_grid_nearest must agree with a brute-force
 * search on the real grids. Tolerance for value comparisons: none (float ==); quant_grid.c's
 * opening comment derives why a * t + b equals the dequantizer's float exactly (== also lets
 * +0 stand for the -0 a negative scale gives). Suites: quant_grid* (--filter 'quant_grid*').
 */
#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "quantizers/ext_types.h"
#include "quantizers/quant_grid.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------- */

#define MAX_BLOCK_ELEMS 256
#define MAX_BLOCK_BYTES 256
#define N_BLOCKS 2          /* per row */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1p-53;
}

/* Row kinds: 0 N(0, 0.02)-ish with one outlier x20 in 64; 1 all positive; 2 all negative;
 * 3 all zero (every scale 0, or AutoGPTQ's [-1, 1] range for the INT groups). */
#define N_KINDS 4

static void fill_row(float *x, int64_t n, uint64_t seed, int kind)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        double u = rng_uniform(&s), v = rng_uniform(&s);
        double r = 0.02 * sqrt(-2.0 * log(u + 0x1p-60)) * cos(6.283185307179586 * v);
        if (rng_next(&s) % 64 == 0)
            r *= 20;
        if (kind == 1)
            r = fabs(r) + 0.01;
        else if (kind == 2)
            r = -fabs(r) - 0.01;
        else if (kind == 3)
            r = 0;
        x[i] = (float)r;
    }
}

/* value(q) computed here, from the struct's fields, in two roundings as the header states. */
static float grid_value(const struct quant_grid *g, int q)
{
    const float t = g->table ? g->table[q] : (float)q;
    const float p = g->a * t;
    return p + g->b;
}

/* The code nearest to x by exhaustive search, ties to the smaller q. */
static int brute_nearest(const struct quant_grid *g, float x)
{
    int best_q = g->qmin;
    double best = fabs((double)x - grid_value(g, g->qmin));
    for (int q = g->qmin + 1; q <= g->qmax; q++) {
        const double d = fabs((double)x - grid_value(g, q));
        if (d < best) {
            best = d;
            best_q = q;
        }
    }
    return best_q;
}

static int grids_equal(const struct quant_grid *x, const struct quant_grid *y)
{
    return memcmp(&x->a, &y->a, sizeof x->a) == 0 && memcmp(&x->b, &y->b, sizeof x->b) == 0 &&
           x->qmin == y->qmin && x->qmax == y->qmax && x->table == y->table;
}

/* ---- every type: set, dequantize, compare ---------------------------------------------- */

struct grid_case {
    int id;
    int qmin, qmax;   /* expected code range, from the dequantizer formulas by hand */
};

ParameterizedTestParameters(quant_grid, set_matches_the_dequantizer)
{
    static struct grid_case cases[] = {
        {GGML_TYPE_Q4_0, 0, 15},    {GGML_TYPE_Q4_1, 0, 15},     {GGML_TYPE_Q5_0, 0, 31},
        {GGML_TYPE_Q5_1, 0, 31},    {GGML_TYPE_Q8_0, -128, 127}, {GGML_TYPE_IQ4_NL, 0, 15},
        {GGML_TYPE_Q2_K, 0, 3},     {GGML_TYPE_Q3_K, -4, 3},     {GGML_TYPE_Q4_K, 0, 15},
        {GGML_TYPE_Q5_K, 0, 31},    {GGML_TYPE_Q6_K, -32, 31},   {GGML_TYPE_NF4, 0, 15},
        {GGML_TYPE_NF4_F16, 0, 15}, {GGML_TYPE_I4_G32, 0, 15},   {GGML_TYPE_I4_G64, 0, 15},
        {GGML_TYPE_I4_G128, 0, 15}, {GGML_TYPE_I8_G32, 0, 255},  {GGML_TYPE_I8_G64, 0, 255},
        {GGML_TYPE_I8_G128, 0, 255},
    };
    return cr_make_param_array(struct grid_case, cases, sizeof cases / sizeof cases[0]);
}

/* Every code q of element j stored into a copy of blk: element j dequantizes to value(q),
 * every other element keeps its bits, and the grid read back is unchanged (scales intact). */
static void check_every_code(const struct quant_type *qt, const uint8_t *blk, const float *y0,
                             int j, const struct quant_grid *g, const char *where)
{
    const int n = (int)qt->block_elems;
    uint8_t copy[MAX_BLOCK_BYTES];
    float y[MAX_BLOCK_ELEMS];
    for (int q = g->qmin; q <= g->qmax; q++) {
        memcpy(copy, blk, qt->block_bytes);
        cr_assert_eq(quant_grid_set(qt->id, copy, j, q), 0, "%s j %d q %d: %s", where, j, q,
                     ig_error_message());
        qt->dequantize_row_ref(copy, y, n);
        const float want = grid_value(g, q);
        cr_expect(y[j] == want, "%s j %d q %d: dequantized %.9g, grid a %.9g b %.9g gives %.9g",
                  where, j, q, (double)y[j], (double)g->a, (double)g->b, (double)want);
        cr_expect(quant_grid_value(g, q) == want, "%s j %d q %d: quant_grid_value %.9g, want %.9g",
                  where, j, q, (double)quant_grid_value(g, q), (double)want);
        for (int k = 0; k < n; k++)
            if (k != j && memcmp(&y[k], &y0[k], sizeof y[k]) != 0)
                cr_expect_fail("%s j %d q %d: element %d changed from %.9g to %.9g", where, j, q,
                               k, (double)y0[k], (double)y[k]);
        struct quant_grid g2;
        cr_assert_eq(quant_grid_of(qt->id, copy, j, &g2), 0);
        cr_expect(grids_equal(g, &g2), "%s j %d q %d: the grid changed after the store", where, j,
                  q);
    }
}

/* What the quantizer chose is on the grid: the nearest code of each dequantized value gives
 * the value back, agrees with brute force, and re-storing it leaves the bytes as they were
 * (skipped where another code has the same value: a zero scale, so the choice is ambiguous). */
static void check_recovered_codes(const struct quant_type *qt, const uint8_t *blk, const float *y0,
                                  const char *where)
{
    uint8_t copy[MAX_BLOCK_BYTES];
    memcpy(copy, blk, qt->block_bytes);
    for (int j = 0; j < qt->block_elems; j++) {
        struct quant_grid g;
        cr_assert_eq(quant_grid_of(qt->id, blk, j, &g), 0);
        const int q = quant_grid_nearest(&g, y0[j]);
        cr_expect(q >= g.qmin && q <= g.qmax, "%s j %d: code %d", where, j, q);
        cr_expect(grid_value(&g, q) == y0[j], "%s j %d: code %d gives %.9g, dequantized %.9g",
                  where, j, q, (double)grid_value(&g, q), (double)y0[j]);
        const int ambiguous = (q > g.qmin && grid_value(&g, q - 1) == grid_value(&g, q)) ||
                              (q < g.qmax && grid_value(&g, q + 1) == grid_value(&g, q));
        if (!ambiguous)
            cr_expect_eq(quant_grid_set(qt->id, copy, j, q), 0);
    }
    for (size_t i = 0; i < qt->block_bytes; i++)
        cr_expect_eq(copy[i], blk[i], "%s: re-storing the recovered codes changed byte %zu from "
                     "0x%02x to 0x%02x", where, i, blk[i], copy[i]);
}

/* quant_grid_nearest against brute force on one real grid: random x over the grid's span and
 * a little beyond, and each midpoint between neighbouring values (a tie when representable). */
static void check_nearest_on(const struct quant_grid *g, uint64_t *s, const char *where, int j)
{
    const float v0 = grid_value(g, g->qmin), v1 = grid_value(g, g->qmax);
    const double lo = fmin(v0, v1), hi = fmax(v0, v1), pad = 0.1 * (hi - lo) + 1e-6;
    for (int i = 0; i < 16; i++) {
        const float x = (float)(lo - pad + (hi - lo + 2 * pad) * rng_uniform(s));
        cr_expect_eq(quant_grid_nearest(g, x), brute_nearest(g, x), "%s j %d: x %.9g", where, j,
                     (double)x);
    }
    for (int q = g->qmin; q < g->qmax; q++) {
        const float x = (float)(0.5 * ((double)grid_value(g, q) + grid_value(g, q + 1)));
        cr_expect_eq(quant_grid_nearest(g, x), brute_nearest(g, x), "%s j %d: midpoint %.9g of "
                     "codes %d and %d", where, j, (double)x, q, q + 1);
    }
}

ParameterizedTest(struct grid_case *p, quant_grid, set_matches_the_dequantizer)
{
    const struct quant_type *qt = quant_type_get(p->id);
    cr_assert(qt, "type id %d is not in the table", p->id);
    cr_assert(qt->block_elems <= MAX_BLOCK_ELEMS && qt->block_bytes <= MAX_BLOCK_BYTES);
    const int64_t n = N_BLOCKS * qt->block_elems;
    float x[N_BLOCKS * MAX_BLOCK_ELEMS], y[N_BLOCKS * MAX_BLOCK_ELEMS];
    uint8_t row[N_BLOCKS * MAX_BLOCK_BYTES];
    for (int kind = 0; kind < N_KINDS; kind++) {
        const uint64_t seed = 1000u * (uint64_t)p->id + (uint64_t)kind;
        fill_row(x, n, seed, kind);
        cr_assert_eq(qt->quantize_row_ref(x, row, n, NULL), 0, "%s seed %llu: %s", qt->name,
                     (unsigned long long)seed, ig_error_message());
        qt->dequantize_row_ref(row, y, n);
        uint64_t s = seed + 77;
        for (int b = 0; b < N_BLOCKS; b++) {
            char where[96];
            snprintf(where, sizeof where, "%s seed %llu kind %d block %d", qt->name,
                     (unsigned long long)seed, kind, b);
            const uint8_t *blk = row + (size_t)b * qt->block_bytes;
            const float *y0 = y + b * qt->block_elems;
            for (int j = 0; j < qt->block_elems; j++) {
                struct quant_grid g;
                cr_assert_eq(quant_grid_of(p->id, blk, j, &g), 0, "%s j %d: %s", where, j,
                             ig_error_message());
                cr_assert(g.qmin == p->qmin && g.qmax == p->qmax, "%s j %d: codes %d..%d, want "
                          "%d..%d", where, j, g.qmin, g.qmax, p->qmin, p->qmax);
                check_every_code(qt, blk, y0, j, &g, where);
                check_nearest_on(&g, &s, where, j);
            }
            check_recovered_codes(qt, blk, y0, where);
        }
    }
}

/* ---- quant_grid_nearest on hand-made grids --------------------------------------------- */

Test(quant_grid_nearest, ties_go_to_the_smaller_code)
{
    const struct quant_grid up = {1.0f, 0.0f, 0, 15, NULL};       /* values 0..15 */
    const struct quant_grid down = {-1.0f, 0.0f, -4, 3, NULL};    /* q -4..3: values 4..-3 */
    static const float tab[4] = {-1.0f, 0.0f, 2.0f, 4.0f};
    const struct quant_grid table = {1.0f, 0.0f, 0, 3, tab};
    cr_expect_eq(quant_grid_nearest(&up, 2.5f), 2);
    cr_expect_eq(quant_grid_nearest(&up, 0.5f), 0);
    cr_expect_eq(quant_grid_nearest(&up, 14.5f), 14);
    cr_expect_eq(quant_grid_nearest(&up, nextafterf(2.5f, 3.0f)), 3);
    cr_expect_eq(quant_grid_nearest(&down, -0.5f), 0, "between q 0 (0) and q 1 (-1)");
    cr_expect_eq(quant_grid_nearest(&down, 0.5f), -1, "between q -1 (1) and q 0 (0)");
    cr_expect_eq(quant_grid_nearest(&down, 3.5f), -4, "between q -4 (4) and q -3 (3)");
    cr_expect_eq(quant_grid_nearest(&table, -0.5f), 0);
    cr_expect_eq(quant_grid_nearest(&table, 1.0f), 1);
    cr_expect_eq(quant_grid_nearest(&table, 3.0f), 2);
    cr_expect_eq(quant_grid_nearest(&table, nextafterf(3.0f, 4.0f)), 3);
    /* an affine grid with b: values 0.25 q - 1 (Q4_1-like), tie at -0.875 */
    const struct quant_grid aff = {0.25f, -1.0f, 0, 15, NULL};
    cr_expect_eq(quant_grid_nearest(&aff, -0.875f), 0);
    cr_expect_eq(quant_grid_nearest(&aff, 0.125f), 4);
}

/* a = 1e-8 next to b = 1 (ulp 2^-23): 1 + 1e-8 q rounds to 1 for q <= 5 and to 1 + 2^-23
 * for q >= 6, so every code from 6 up ties for x = 1 + 2^-23 and the answer is 6. */
Test(quant_grid_nearest, a_collapsed_grid_gives_the_smallest_tied_code)
{
    const struct quant_grid g = {1e-8f, 1.0f, 0, 15, NULL};
    const float top = 1.0f + 0x1p-23f;
    cr_assert(grid_value(&g, 5) == 1.0f && grid_value(&g, 6) == top && grid_value(&g, 15) == top,
              "the grid does not collapse as the comment derives");
    cr_expect_eq(quant_grid_nearest(&g, top), 6);
    cr_expect_eq(quant_grid_nearest(&g, 1.0f), 0);
    const struct quant_grid down = {-1e-8f, 1.0f, 0, 15, NULL};   /* 1 - 1e-8 q, ulp 2^-24 */
    for (float x = 1.0f; x > 1.0f - 2e-7f; x = nextafterf(x, 0.0f))
        cr_expect_eq(quant_grid_nearest(&down, x), brute_nearest(&down, x), "x %.9g", (double)x);
}

Test(quant_grid_nearest, values_beyond_the_ends_clamp)
{
    const struct quant_grid up = {0.01f, -0.08f, 0, 15, NULL};
    const struct quant_grid down = {-0.01f, 0.0f, -32, 31, NULL};
    const struct quant_grid nf4 = {1e-3f, 0.0f, 0, 15, nf4_code};
    const float far[] = {1.0f, 1e30f, INFINITY};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        cr_expect_eq(quant_grid_nearest(&up, far[i]), 15, "x %g", (double)far[i]);
        cr_expect_eq(quant_grid_nearest(&up, -far[i]), 0, "x %g", (double)-far[i]);
        cr_expect_eq(quant_grid_nearest(&down, far[i]), -32, "x %g", (double)far[i]);
        cr_expect_eq(quant_grid_nearest(&down, -far[i]), 31, "x %g", (double)-far[i]);
        cr_expect_eq(quant_grid_nearest(&nf4, far[i]), 15, "x %g", (double)far[i]);
        cr_expect_eq(quant_grid_nearest(&nf4, -far[i]), 0, "x %g", (double)-far[i]);
    }
    /* exactly on an end value */
    cr_expect_eq(quant_grid_nearest(&up, grid_value(&up, 15)), 15);
    cr_expect_eq(quant_grid_nearest(&up, grid_value(&up, 0)), 0);
}

Test(quant_grid_nearest, nan_and_a_zero_scale_give_qmin)
{
    const struct quant_grid up = {0.5f, 0.0f, -128, 127, NULL};
    const struct quant_grid zero = {0.0f, 0.25f, 0, 15, NULL};
    const struct quant_grid zero_tab = {0.0f, 0.0f, 0, 15, nf4_code};
    cr_expect_eq(quant_grid_nearest(&up, NAN), -128);
    cr_expect_eq(quant_grid_nearest(&zero, 7.0f), 0);
    cr_expect_eq(quant_grid_nearest(&zero, -7.0f), 0);
    cr_expect_eq(quant_grid_nearest(&zero_tab, 0.3f), 0);
}

/* ---- refusals -------------------------------------------------------------------------- */

Test(quant_grid_errors, float_and_unknown_types_have_no_grid)
{
    uint8_t blk[MAX_BLOCK_BYTES] = {0};
    struct quant_grid g = {9.0f, 9.0f, 9, 9, NULL};
    const int ids[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_1, 12345};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        cr_expect_eq(quant_grid_of(ids[i], blk, 0, &g), IG_EINVAL, "type id %d", ids[i]);
        cr_expect_eq(quant_grid_set(ids[i], blk, 0, 0), IG_EINVAL, "type id %d", ids[i]);
    }
    cr_expect(g.a == 9.0f && g.qmin == 9, "*g was written on failure");
    cr_expect(strstr(ig_error_message(), "12345") != NULL, "message: %s", ig_error_message());
}

Test(quant_grid_errors, element_and_code_out_of_range)
{
    const struct quant_type *qt = quant_type_get(GGML_TYPE_Q6_K);
    cr_assert(qt);
    float x[256];
    fill_row(x, 256, 5, 0);
    uint8_t blk[MAX_BLOCK_BYTES], before[MAX_BLOCK_BYTES];
    cr_assert_eq(qt->quantize_row_ref(x, blk, 256, NULL), 0);
    memcpy(before, blk, qt->block_bytes);
    struct quant_grid g;
    cr_expect_eq(quant_grid_of(GGML_TYPE_Q6_K, blk, -1, &g), IG_EINVAL);
    cr_expect_eq(quant_grid_of(GGML_TYPE_Q6_K, blk, 256, &g), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "256") != NULL, "message: %s", ig_error_message());
    cr_expect_eq(quant_grid_set(GGML_TYPE_Q6_K, blk, 256, 0), IG_EINVAL);
    cr_expect_eq(quant_grid_set(GGML_TYPE_Q6_K, blk, 3, 32), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "-32..31") != NULL, "message: %s", ig_error_message());
    cr_expect_eq(quant_grid_set(GGML_TYPE_Q6_K, blk, 3, -33), IG_EINVAL);
    cr_expect_eq(quant_grid_set(GGML_TYPE_I4_G32, blk, 0, 16), IG_EINVAL);
    cr_expect_eq(quant_grid_set(GGML_TYPE_I4_G32, blk, 32, 0), IG_EINVAL);
    cr_expect_eq(memcmp(blk, before, qt->block_bytes), 0, "a refused store changed the block");
}
