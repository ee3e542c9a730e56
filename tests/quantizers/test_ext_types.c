/* test_ext_types.c — ingot's extension types: NF4, NF4_F16 and the asymmetric INT groups.
 *
 * Where the expected numbers come from:
 *   - the NF4 code values and the 15 midpoints of the decision tree are bitsandbytes'
 *     published constants (functional.py get_4bit_type; csrc dQuantizeNF4), typed here
 *     from peers-facts.md section 3.1 and the kernel source, independently of nf4.c;
 *   - the index a midpoint goes to is read off the tree's strict ">" tests by hand (table
 *     midpoints[] below), and the whole tree is also checked against a second, independent
 *     formulation: "the first midpoint x does not exceed" (bucketize, right=False);
 *   - bytes of hand-worked blocks (fp16 bits, zero points, nibbles) are derived in the
 *     comment beside each; fp16 bit patterns were checked with Python's struct 'e' format;
 *   - everything else is a bound derived from the format (comment at each bound).
 * Seeds are fixed and printed on failure.
 */
#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/ggml_type.h"
#include "quantizers/ext_types.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------- */

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

static double rng_gauss(uint64_t *s)
{
    double u = rng_uniform(s), v = rng_uniform(s);
    return sqrt(-2.0 * log(u + 0x1p-60)) * cos(6.283185307179586 * v);
}

/* n weights like a trained layer's: N(0, 0.02), one in 64 an outlier x20; kind 1 shifts
 * everything positive, kind 2 negative. */
static void fill_row(float *x, int64_t n, uint64_t seed, int kind)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        double v = 0.02 * rng_gauss(&s);
        if (rng_next(&s) % 64 == 0)
            v *= 20;
        if (kind == 1)
            v = fabs(v) + 0.01;
        else if (kind == 2)
            v = -fabs(v) - 0.01;
        x[i] = (float)v;
    }
}

static uint16_t blk_u16(const uint8_t *blk)
{
    return (uint16_t)(blk[0] | blk[1] << 8);
}

static void hex_bytes(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- ext_registry: geometry handed to formats/ ---------------------------------------- */

struct ext_row {
    int id;               /* the file format's number, typed as one on purpose */
    const char *name;
    int64_t block_elems;
    size_t block_bytes;   /* from the layouts in ext_types.h, by hand */
};

static const struct ext_row ext_rows[] = {
    {4096, "NF4", 256, 134},       /* 2 + 4 + 128 */
    {4097, "NF4_F16", 64, 34},     /* 2 + 32 */
    {4098, "I4_G32", 32, 20},      /* 4 + 16 */
    {4099, "I4_G64", 64, 36},      /* 4 + 32 */
    {4100, "I4_G128", 128, 68},    /* 4 + 64 */
    {4101, "I8_G32", 32, 36},      /* 4 + 32 */
    {4102, "I8_G64", 64, 68},      /* 4 + 64 */
    {4103, "I8_G128", 128, 132},   /* 4 + 128 */
};
#define N_EXT_ROWS (sizeof ext_rows / sizeof ext_rows[0])

Test(ext_registry, every_type_has_its_geometry)
{
    for (size_t i = 0; i < N_EXT_ROWS; i++) {
        const struct ext_row *r = &ext_rows[i];
        const struct ggml_type_info *t = ggml_type_info_get(r->id);
        cr_assert(t, "type id %d (%s) is not registered", r->id, r->name);
        cr_expect_str_eq(t->name, r->name, "id %d", r->id);
        cr_expect_eq(t->block_elems, r->block_elems, "%s: block_elems %lld", r->name,
                     (long long)t->block_elems);
        cr_expect_eq(t->block_bytes, r->block_bytes, "%s: block_bytes %zu", r->name, t->block_bytes);
        char lower[16];
        for (size_t c = 0; c <= strlen(r->name); c++)
            lower[c] = (char)(r->name[c] >= 'A' && r->name[c] <= 'Z' ? r->name[c] + 32 : r->name[c]);
        cr_expect_eq(ggml_type_from_name(lower), r->id, "'%s'", lower);
        uint64_t size = 0;
        cr_expect(ggml_type_row_bytes(r->id, 3 * r->block_elems, &size) && size == 3 * r->block_bytes,
                  "%s: 3 blocks take %llu bytes", r->name, (unsigned long long)size);
        cr_expect(!ggml_type_row_bytes(r->id, r->block_elems + 1, &size),
                  "%s: a row of block + 1 elements was accepted", r->name);
    }
}

Test(ext_registry, block_structs_match_the_layouts)
{
    cr_expect_eq(sizeof(block_nf4), 134);
    cr_expect_eq(sizeof(block_nf4_f16), 34);
    cr_expect_eq(sizeof(block_i4_g32), 20);
    cr_expect_eq(sizeof(block_i4_g64), 36);
    cr_expect_eq(sizeof(block_i4_g128), 68);
    cr_expect_eq(sizeof(block_i8_g32), 36);
    cr_expect_eq(sizeof(block_i8_g64), 68);
    cr_expect_eq(sizeof(block_i8_g128), 132);
    cr_expect_eq(offsetof(block_nf4, scales), 2);
    cr_expect_eq(offsetof(block_nf4, qs), 6);
    cr_expect_eq(offsetof(block_i4_g32, zero), 2);
    cr_expect_eq(offsetof(block_i4_g32, qs), 4);
    cr_expect_eq(int_group_block_bytes(128, 4), 68);
    cr_expect_eq(int_group_block_bytes(32, 8), 36);
}

Test(ext_registry, formats_and_quantizers_agree_and_unknown_ids_are_refused)
{
    for (size_t i = 0; i < N_EXT_ROWS; i++) {
        const struct quant_type *q = quant_type_get(ext_rows[i].id);
        const struct ggml_type_info *g = ggml_type_info_get(ext_rows[i].id);
        cr_assert(q && g, "%s", ext_rows[i].name);
        cr_expect(q->block_elems == g->block_elems && q->block_bytes == g->block_bytes,
                  "%s: quant_type.c and ggml_type.c disagree", ext_rows[i].name);
    }
    const struct ggml_type_info *t = ggml_type_info_get(4096);
    cr_assert(t);
    cr_expect_str_eq(t->name, "NF4");
    cr_expect_null(ggml_type_info_get(4104), "id 4104 should not exist");
}

/* ---- ext_nf4: the code and the decision tree ------------------------------------------ */

/* bitsandbytes' NF4 code (peers-facts.md 3.1 / functional.py get_4bit_type). */
static const float bnb_nf4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

/* The tree's thresholds (csrc dQuantizeNF4) in ascending order, with the index the tree
 * gives a value exactly on the threshold (every test is "x > t", so it fails and the
 * lower side is taken) and just above it. Walked by hand, e.g. for 0.3893125355243683:
 * x > 0.0398 yes; x > 0.3893 no; x > 0.2035 yes; x > 0.2920 yes -> 0b1011 = 11. */
static const struct {
    float t;
    int at;
    int above;
} midpoints[15] = {
    {-0.8480964004993439f, 0, 1},  {-0.6106329262256622f, 1, 2},  {-0.4599952697753906f, 2, 3},
    {-0.33967943489551544f, 3, 4}, {-0.23460740596055984f, 4, 5}, {-0.13791173323988914f, 5, 6},
    {-0.045525018125772476f, 6, 7}, {0.03979014977812767f, 7, 8},  {0.1202552504837513f, 8, 9},
    {0.2035212516784668f, 9, 10},  {0.2920137718319893f, 10, 11},  {0.3893125355243683f, 11, 12},
    {0.5016634166240692f, 12, 13}, {0.6427869200706482f, 13, 14},  {0.8614784181118011f, 14, 15},
};

/* Second formulation of the tree: the first threshold x does not exceed gives its index
 * (torch.bucketize with right=False). NaN exceeds no threshold, so this gives it 0 while
 * the tree, failing its first test and every one after, also ends at 0. */
static int bucketize(float x)
{
    for (int i = 0; i < 15; i++)
        if (!(x > midpoints[i].t))
            return i;
    return 15;
}

Test(ext_nf4, code_table_is_bitsandbytes)
{
    for (int i = 0; i < 16; i++)
        cr_expect(nf4_code[i] == bnb_nf4[i], "nf4_code[%d] = %.9g, bitsandbytes %.9g", i,
                  (double)nf4_code[i], (double)bnb_nf4[i]);
    cr_expect(nf4_code[7] == 0.0f && !signbit(nf4_code[7]), "index 7 must be +0");
}

Test(ext_nf4, thresholds_are_the_midpoints)
{
    /* bitsandbytes generated the tree from the code (test_normal_map_tree): each threshold
     * is (c[i] + c[i+1]) / 2 rounded to fp32, so it is within half an fp32 ulp of it */
    for (int i = 0; i < 15; i++) {
        double mid = ((double)bnb_nf4[i] + (double)bnb_nf4[i + 1]) / 2;
        cr_expect(fabs((double)midpoints[i].t - mid) <= fabs(mid) * 0x1p-24 + 0x1p-40,
                  "threshold %d: %.17g vs midpoint %.17g", i, (double)midpoints[i].t, mid);
    }
}

Test(ext_nf4, every_code_value_maps_to_its_index)
{
    for (int i = 0; i < 16; i++)
        cr_expect_eq(nf4_code_index(bnb_nf4[i]), i, "code value %.9g", (double)bnb_nf4[i]);
    cr_expect_eq(nf4_code_index(-0.0f), 7, "-0 is zero");
    cr_expect_eq(nf4_code_index(1.5f), 15, "past +1 clamps to 15");
    cr_expect_eq(nf4_code_index(-1.5f), 0, "past -1 clamps to 0");
    cr_expect_eq(nf4_code_index(NAN), 0, "NaN fails every test of the tree");
}

Test(ext_nf4, midpoint_ties_go_where_the_tree_sends_them)
{
    for (int i = 0; i < 15; i++) {
        float t = midpoints[i].t;
        cr_expect_eq(nf4_code_index(t), midpoints[i].at, "exactly on %.17g", (double)t);
        cr_expect_eq(nf4_code_index(nextafterf(t, 2.0f)), midpoints[i].above, "just above %.17g",
                     (double)t);
        cr_expect_eq(nf4_code_index(nextafterf(t, -2.0f)), midpoints[i].at, "just below %.17g",
                     (double)t);
    }
}

Test(ext_nf4, tree_equals_bucketize_everywhere)
{
    /* a dense sweep of [-1.25, 1.25] plus 64 fp32 neighbours of every threshold */
    int n_bad = 0;
    for (int k = -250000; k <= 250000 && n_bad < 10; k++) {
        float x = (float)k * 5e-6f;
        if (nf4_code_index(x) != bucketize(x)) {
            n_bad++;
            cr_expect(0, "x = %.9g: tree %d, bucketize %d", (double)x, nf4_code_index(x), bucketize(x));
        }
    }
    for (int i = 0; i < 15; i++) {
        float x = midpoints[i].t;
        for (int s = 0; s < 32; s++)
            x = nextafterf(x, -2.0f);
        for (int s = 0; s < 64; s++, x = nextafterf(x, 2.0f))
            cr_expect_eq(nf4_code_index(x), bucketize(x), "x = %.9g", (double)x);
    }
}

/* ---- ext_nf4: blocks ------------------------------------------------------------------ */

/* The nibble of element j of a 64-block's qs: even j in the high nibble. */
static int nf4_nibble(const uint8_t *qs, int j)
{
    return j % 2 == 0 ? qs[j / 2] >> 4 : qs[j / 2] & 0x0F;
}

/* Quantize one 256-weight row both ways (NF4 and 4 blocks of NF4_F16), dequantize both. */
struct nf4_both {
    block_nf4 super;
    block_nf4_f16 plain[4];
    float y_super[256];
    float y_plain[256];
};

static void nf4_both_run(const float *x, struct nf4_both *r)
{
    cr_assert_eq(nf4_quantize_row_ref(x, &r->super, 256, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(nf4_f16_quantize_row_ref(x, r->plain, 256, NULL), 0, "%s", ig_error_message());
    nf4_dequantize_row_ref(&r->super, r->y_super, 256);
    nf4_f16_dequantize_row_ref(r->plain, r->y_plain, 256);
}

struct nf4_scale_case {
    float absmax;
    int exact;   /* absmax is an fp16 value, so code * absmax must come back bit for bit */
};

ParameterizedTestParameters(ext_nf4, every_code_times_a_scale_round_trips)
{
    static struct nf4_scale_case cases[] = {
        {1.0f, 1}, {0.5f, 1}, {3.0f, 1}, {0.0625f, 1}, {65504.0f, 1}, {0x1p-14f, 1},
        {0.7f, 0}, {0.0123f, 0},
    };
    return cr_make_param_array(struct nf4_scale_case, cases, sizeof cases / sizeof cases[0]);
}

/* Element j of every 64-block is nf4_code[j % 16] * absmax, so each block holds -absmax
 * and +absmax and its absmax is exactly absmax. x * (1/absmax) lands within a few ulps of
 * the code value, far from any threshold, so the index must be j % 16; with absmax an fp16
 * value, NF4_F16's d is absmax and NF4's four scales are 255 (a_s = d * 255 / 255 = d), so
 * the values come back as the same fp32 product. */
ParameterizedTest(struct nf4_scale_case *p, ext_nf4, every_code_times_a_scale_round_trips)
{
    float x[256];
    for (int j = 0; j < 256; j++)
        x[j] = bnb_nf4[j % 16] * p->absmax;
    struct nf4_both r;
    nf4_both_run(x, &r);
    for (int j = 0; j < 256; j++) {
        cr_expect_eq(nf4_nibble(r.super.qs + 32 * (j / 64), j % 64), j % 16, "absmax %g: NF4 element %d",
                     (double)p->absmax, j);
        cr_expect_eq(nf4_nibble(r.plain[j / 64].qs, j % 64), j % 16, "absmax %g: NF4_F16 element %d",
                     (double)p->absmax, j);
        if (p->exact) {
            cr_expect(r.y_super[j] == x[j], "absmax %g: NF4 element %d: %.9g, want %.9g",
                      (double)p->absmax, j, (double)r.y_super[j], (double)x[j]);
            cr_expect(r.y_plain[j] == x[j], "absmax %g: NF4_F16 element %d: %.9g, want %.9g",
                      (double)p->absmax, j, (double)r.y_plain[j], (double)x[j]);
        }
    }
    for (int s = 0; s < 4; s++)
        cr_expect_eq(r.super.scales[s], 255, "absmax %g: scales[%d] = %d", (double)p->absmax, s,
                     r.super.scales[s]);
}

/* Through the whole quantizer: absmax 2 (x[0] = 2) and x = 2 t for each threshold t, which
 * the reciprocal 0.5 scales back to exactly t; 2 nextafter(t) comes back just above t. */
Test(ext_nf4, block_ties_follow_the_tree)
{
    float x[64] = {2.0f};
    for (int i = 0; i < 15; i++) {
        x[1 + i] = 2.0f * midpoints[i].t;
        x[16 + i] = 2.0f * nextafterf(midpoints[i].t, 2.0f);
    }
    block_nf4_f16 b;
    cr_assert_eq(nf4_f16_quantize_row_ref(x, &b, 64, NULL), 0);
    cr_expect_eq(nf4_nibble(b.qs, 0), 15);
    for (int i = 0; i < 15; i++) {
        cr_expect_eq(nf4_nibble(b.qs, 1 + i), midpoints[i].at, "2 * %.9g", (double)midpoints[i].t);
        cr_expect_eq(nf4_nibble(b.qs, 16 + i), midpoints[i].above, "2 * next(%.9g)",
                     (double)midpoints[i].t);
    }
}

/* x[0] = 1 -> 15, x[1] = -1 -> 0, x[2] = 0.5626170 (code 13), x[3] = -0.0910500 (code 6), the
 * rest 0 -> 7: qs = f0 d6 77 ..., d = fp16(1.0) = 0x3c00. */
Test(ext_nf4, even_element_in_the_high_nibble)
{
    float x[64] = {1.0f, -1.0f, 0.5626170039176941f, -0.09105003625154495f};
    block_nf4_f16 b;
    cr_assert_eq(nf4_f16_quantize_row_ref(x, &b, 64, NULL), 0);
    cr_expect_eq(b.d, 0x3c00, "d = %04x", b.d);
    cr_expect_eq(b.qs[0], 0xf0, "qs[0] = %02x", b.qs[0]);
    cr_expect_eq(b.qs[1], 0xd6, "qs[1] = %02x", b.qs[1]);
    for (int i = 2; i < 32; i++)
        cr_expect_eq(b.qs[i], 0x77, "qs[%d] = %02x", i, b.qs[i]);
}

Test(ext_nf4, all_zero_blocks_give_zeros)
{
    float x[256] = {0};
    x[200] = -0.0f;   /* negative zero is a zero too */
    x[201] = -0.0f;
    struct nf4_both r;
    nf4_both_run(x, &r);
    cr_expect_eq(r.super.d, 0, "NF4 d = %04x", r.super.d);
    for (int s = 0; s < 4; s++) {
        cr_expect_eq(r.super.scales[s], 0);
        cr_expect_eq(r.plain[s].d, 0, "NF4_F16 block %d d = %04x", s, r.plain[s].d);
    }
    for (int i = 0; i < 128; i++)
        cr_expect_eq(r.super.qs[i], 0x77, "NF4 qs[%d] = %02x (code 7 is 0.0)", i, r.super.qs[i]);
    for (int j = 0; j < 256; j++) {
        cr_expect(r.y_super[j] == 0.0f && !signbit(r.y_super[j]), "NF4 y[%d] = %g", j,
                  (double)r.y_super[j]);
        cr_expect(r.y_plain[j] == 0.0f && !signbit(r.y_plain[j]), "NF4_F16 y[%d] = %g", j,
                  (double)r.y_plain[j]);
    }
}

/* Sub-block absmax 4, 2, 1, 0 (x[64 s] = absmax, the rest code-valued multiples): d = 4.0
 * (0x4400) and scales = round(absmax / 4 * 255) = 255, 127.5 -> 128 (half to even), 63.75
 * -> 64, 0. The +2 element then comes back as (4 * 128) / 255 = 512/255. */
Test(ext_nf4, super_block_codes_each_absmax)
{
    static const float absmax[4] = {4.0f, 2.0f, 1.0f, 0.0f};
    float x[256];
    for (int j = 0; j < 256; j++)
        x[j] = j % 64 == 0 ? absmax[j / 64] : bnb_nf4[j % 16] * absmax[j / 64] * 0.5f;
    struct nf4_both r;
    nf4_both_run(x, &r);
    cr_expect_eq(r.super.d, 0x4400, "d = %04x", r.super.d);
    cr_expect_eq(r.super.scales[0], 255);
    cr_expect_eq(r.super.scales[1], 128);
    cr_expect_eq(r.super.scales[2], 64);
    cr_expect_eq(r.super.scales[3], 0);
    cr_expect(r.y_super[64] == 512.0f / 255.0f, "y[64] = %.9g", (double)r.y_super[64]);
    cr_expect(r.y_super[128] == 256.0f / 255.0f, "y[128] = %.9g", (double)r.y_super[128]);
    for (int j = 192; j < 256; j++)
        cr_expect(r.y_super[j] == 0.0f, "y[%d] = %g", j, (double)r.y_super[j]);
}

/* absmax is the largest |x|: a block with +65504 and -65504 keeps both exactly (d = 0x7bff,
 * fp16's largest); a block of small values with one -50 keeps -50 exactly (d = fp16(50) =
 * 0x5240, code 0) and its small values, 0.03 / 50 < 0.0398 from zero, become 0. */
Test(ext_nf4, absmax_is_the_largest_magnitude)
{
    float x[256];
    for (int j = 0; j < 256; j++)
        x[j] = 0.01f * (float)(j % 7 - 3);
    x[10] = 65504.0f;
    x[20] = -65504.0f;
    x[64 + 33] = -50.0f;
    struct nf4_both r;
    nf4_both_run(x, &r);
    cr_expect_eq(r.plain[0].d, 0x7bff, "d = %04x", r.plain[0].d);
    cr_expect_eq(r.super.d, 0x7bff, "d = %04x", r.super.d);
    cr_expect_eq(r.plain[1].d, 0x5240, "d = %04x", r.plain[1].d);
    cr_expect(r.y_plain[10] == 65504.0f && r.y_plain[20] == -65504.0f, "%g %g",
              (double)r.y_plain[10], (double)r.y_plain[20]);
    cr_expect(r.y_super[10] == 65504.0f && r.y_super[20] == -65504.0f, "%g %g",
              (double)r.y_super[10], (double)r.y_super[20]);
    cr_expect(r.y_plain[97] == -50.0f, "outlier: %g", (double)r.y_plain[97]);
    cr_expect_eq(nf4_nibble(r.plain[1].qs, 33), 0);
    for (int j = 64; j < 128; j++)
        if (j != 97)
            cr_expect(r.y_plain[j] == 0.0f, "y[%d] = %g next to the outlier", j, (double)r.y_plain[j]);
}

Test(ext_nf4, refuses_bad_rows)
{
    float x[512] = {0};
    block_nf4 b[2];
    cr_expect_eq(nf4_f16_quantize_row_ref(x, b, 63, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "row length 63"), "%s", ig_error_message());
    cr_expect_eq(nf4_f16_quantize_row_ref(x, b, 65, NULL), IG_EINVAL);
    cr_expect_eq(nf4_quantize_row_ref(x, b, 64, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "NF4 row length 64") &&
              strstr(ig_error_message(), "multiple of 256"), "%s", ig_error_message());
    cr_expect_eq(nf4_quantize_row_ref(x, b, 0, NULL), 0, "an empty row is whole blocks");

    x[5] = NAN;
    cr_expect_eq(nf4_quantize_row_ref(x, b, 256, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "element 5"), "%s", ig_error_message());
    x[5] = 0;
    x[300] = -INFINITY;
    cr_expect_eq(nf4_f16_quantize_row_ref(x, b, 512, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "element 300"), "%s", ig_error_message());
    x[300] = 0;

    /* 65519 rounds to fp16 65504; 65520 rounds to Inf */
    x[7] = 65519.0f;
    cr_expect_eq(nf4_quantize_row_ref(x, b, 256, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(b[0].d, 0x7bff);
    x[7] = -65520.0f;
    cr_expect_eq(nf4_quantize_row_ref(x, b, 256, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "65504"), "%s", ig_error_message());
    cr_expect_eq(nf4_f16_quantize_row_ref(x, b, 64, NULL), IG_EINVAL);
}

/* Seeded rows like a trained layer's. Codes: bucketize(x * (1/absmax)) per 64-block (the
 * bitsandbytes arithmetic, written independently). Values: |x - y| <= |x - code absmax| +
 * |code| |absmax - a|, where a is the stored absmax. The first term is at most half the
 * widest code gap, (-0.6961928 - -1) / 2 < 0.1520, times absmax; the second |absmax - a|:
 * NF4_F16 rounds absmax to fp16, NF4 codes it as D q / 255 with q = rne(255 absmax / D), off
 * by at most D / 510 (also when q clamps at 255: D is then within 2^-11 of absmax). fp32
 * rounding adds 2^-22 absmax. */
Test(ext_nf4, random_rows_match_bitsandbytes_codes_and_bound)
{
    enum { N = 4096 };
    for (uint64_t seed = 1; seed <= 4; seed++) {
        static float x[N], y_super[N], y_plain[N];
        static block_nf4 sup[N / 256];
        static block_nf4_f16 plain[N / 64];
        fill_row(x, N, seed, 0);
        cr_assert_eq(nf4_quantize_row_ref(x, sup, N, NULL), 0, "seed %llu", (unsigned long long)seed);
        cr_assert_eq(nf4_f16_quantize_row_ref(x, plain, N, NULL), 0);
        nf4_dequantize_row_ref(sup, y_super, N);
        nf4_f16_dequantize_row_ref(plain, y_plain, N);
        int n_bad = 0;
        for (int64_t b = 0; b < N / 64 && n_bad < 10; b++) {
            float amax = 0;
            for (int j = 0; j < 64; j++)
                amax = fmaxf(amax, fabsf(x[64 * b + j]));
            const float inv = 1.0f / amax;
            const float d_plain = ig_fp16_to_fp32(plain[b].d);
            const float D = ig_fp16_to_fp32(sup[b / 4].d);
            const double bound_plain = 0.1520 * amax + fabs(amax - d_plain) + 0x1p-22 * amax;
            const double bound_super = 0.1520 * amax + D / 510.0 + 0x1p-22 * amax;
            for (int j = 0; j < 64; j++) {
                const int64_t e = 64 * b + j;
                const int want = bucketize(x[e] * inv);
                const int got_plain = nf4_nibble(plain[b].qs, j);
                const int got_super = nf4_nibble(sup[b / 4].qs + 32 * (b % 4), j);
                const double err_plain = fabs((double)x[e] - y_plain[e]);
                const double err_super = fabs((double)x[e] - y_super[e]);
                if (got_plain != want || got_super != want || err_plain > bound_plain ||
                    err_super > bound_super) {
                    n_bad++;
                    cr_expect(0, "seed %llu element %lld: x %.9g absmax %.9g code %d (NF4_F16 %d, "
                              "NF4 %d) err %.3g/%.3g bounds %.3g/%.3g",
                              (unsigned long long)seed, (long long)e, (double)x[e], (double)amax,
                              want, got_plain, got_super, err_plain, err_super, bound_plain,
                              bound_super);
                }
            }
        }
    }
}

/* ---- ext_int_group -------------------------------------------------------------------- */

struct ig_type {
    const char *name;
    int id;
    int64_t group;
    int bits;
    size_t block_bytes;   /* 4 + group * bits / 8, by hand */
    quant_quantize_row_fn quantize;
    quant_dequantize_row_fn dequantize;
};

static const struct ig_type ig_types[6] = {
    {"I4_G32", GGML_TYPE_I4_G32, 32, 4, 20, i4_g32_quantize_row_ref, i4_g32_dequantize_row_ref},
    {"I4_G64", GGML_TYPE_I4_G64, 64, 4, 36, i4_g64_quantize_row_ref, i4_g64_dequantize_row_ref},
    {"I4_G128", GGML_TYPE_I4_G128, 128, 4, 68, i4_g128_quantize_row_ref, i4_g128_dequantize_row_ref},
    {"I8_G32", GGML_TYPE_I8_G32, 32, 8, 36, i8_g32_quantize_row_ref, i8_g32_dequantize_row_ref},
    {"I8_G64", GGML_TYPE_I8_G64, 64, 8, 68, i8_g64_quantize_row_ref, i8_g64_dequantize_row_ref},
    {"I8_G128", GGML_TYPE_I8_G128, 128, 8, 132, i8_g128_quantize_row_ref, i8_g128_dequantize_row_ref},
};

/* Parameters are indices into ig_types (plain data survives Criterion's copying). */
static int ig_all[6] = {0, 1, 2, 3, 4, 5};

#define IG_PARAMS() cr_make_param_array(int, ig_all, 6)

static int ig_code(const struct ig_type *t, const uint8_t *blk, int64_t j)
{
    const uint8_t *qs = blk + 4;
    if (t->bits == 8)
        return qs[j];
    return j % 2 == 0 ? qs[j / 2] & 0x0F : qs[j / 2] >> 4;
}

/* Quantize n elements of x with type t into a fresh buffer and dequantize into y. */
static uint8_t *ig_run(const struct ig_type *t, const float *x, float *y, int64_t n)
{
    uint8_t *q = calloc((size_t)(n / t->group + 1), t->block_bytes);
    cr_assert(q);
    int rc = t->quantize(x, q, n, NULL);
    cr_assert_eq(rc, 0, "%s n=%lld: %s", t->name, (long long)n, ig_error_message());
    t->dequantize(q, y, n);
    return q;
}

/* The bound of ext_types.h: d >= (max - min) / maxq covers the widened range, so rounding
 * moves x at most d/2. fp32 adds at most maxq * d * 2^-22 (x / d, (q - zero) * d and the
 * range itself each round once, relative 2^-24 of at most maxq * d). */
static double ig_bound(const struct ig_type *t, const uint8_t *blk)
{
    const double d = ig_fp16_to_fp32(blk_u16(blk));
    const int maxq = (1 << t->bits) - 1;
    return d * (0.5 + maxq * 0x1p-22);
}

/* Checks every element of a row against ig_bound; returns the number that failed. */
static int ig_check_bound(const struct ig_type *t, const float *x, const float *y, int64_t n,
                          const uint8_t *q, const char *what)
{
    int n_bad = 0;
    for (int64_t j = 0; j < n && n_bad < 10; j++) {
        const uint8_t *blk = q + (size_t)(j / t->group) * t->block_bytes;
        const double err = fabs((double)x[j] - (double)y[j]);
        if (!(err <= ig_bound(t, blk))) {
            n_bad++;
            cr_expect(0, "%s %s element %lld: x %.9g y %.9g err %.3g > bound %.3g (d %04x zero %d)",
                      t->name, what, (long long)j, (double)x[j], (double)y[j], err,
                      ig_bound(t, blk), blk_u16(blk), blk[2]);
        }
    }
    return n_bad;
}

ParameterizedTestParameters(ext_int_group, block_size) { return IG_PARAMS(); }

ParameterizedTest(int *i, ext_int_group, block_size)
{
    const struct ig_type *t = &ig_types[*i];
    cr_expect_eq(int_group_block_bytes(t->group, t->bits), t->block_bytes, "%s", t->name);
    const struct ggml_type_info *g = ggml_type_info_get(t->id);
    cr_assert(g, "%s not registered", t->name);
    cr_expect_str_eq(g->name, t->name);
    cr_expect_eq(g->block_elems, t->group, "%s", t->name);
    cr_expect_eq(g->block_bytes, t->block_bytes, "%s", t->name);
}

/* Three groups on exact grids: scale 2^-(g+3), zero 0 (all x >= 0), maxq (all <= 0) and
 * a middle one; codes include 0 and maxq, so min = -zero s and max = (maxq - zero) s and
 * (max - min) / maxq = s exactly, an fp16 value: d = s, zero comes back, every code comes
 * back and every value comes back bit for bit. */
ParameterizedTestParameters(ext_int_group, grid_values_round_trip_exactly) { return IG_PARAMS(); }

ParameterizedTest(int *i, ext_int_group, grid_values_round_trip_exactly)
{
    const struct ig_type *t = &ig_types[*i];
    const int maxq = (1 << t->bits) - 1;
    const int zeros[3] = {0, maxq, t->bits == 4 ? 5 : 100};
    const int64_t n = 3 * t->group;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    int *codes = malloc(sizeof(int) * (size_t)n);
    cr_assert(x && y && codes);
    uint64_t seed = 7 + (uint64_t)*i;
    for (int g = 0; g < 3; g++) {
        const float s = ldexpf(1.0f, -(g + 3));
        for (int64_t j = 0; j < t->group; j++) {
            int q = (int)(rng_next(&seed) % (uint64_t)(maxq + 1));
            q = j == 3 ? 0 : j == 10 ? maxq : q;
            codes[g * t->group + j] = q;
            x[g * t->group + j] = (float)(q - zeros[g]) * s;
        }
    }
    uint8_t *q = ig_run(t, x, y, n);
    for (int g = 0; g < 3; g++) {
        const uint8_t *blk = q + (size_t)g * t->block_bytes;
        cr_expect_eq(blk_u16(blk), ig_fp32_to_fp16(ldexpf(1.0f, -(g + 3))), "%s group %d d %04x", t->name,
                     g, blk_u16(blk));
        cr_expect_eq(blk[2], zeros[g], "%s group %d zero %d", t->name, g, blk[2]);
        cr_expect_eq(blk[3], 0, "%s reserved byte", t->name);
        for (int64_t j = 0; j < t->group; j++) {
            const int64_t e = g * t->group + j;
            cr_expect_eq(ig_code(t, blk, j), codes[e], "%s element %lld", t->name, (long long)e);
            cr_expect(y[e] == x[e], "%s element %lld: %.9g, want %.9g", t->name, (long long)e,
                      (double)y[e], (double)x[e]);
        }
    }
    free(q);
    free(codes);
    free(y);
    free(x);
}

/* x[0] = -1, x[1] = 2, the rest 0: min -1, max 2.
 *   4 bits: s = 3/15 = 0.2; fp16(0.2) = 0x3266 = 0.19995 < 0.2, so d = 0x3267 = 0.2000732;
 *           zero = rne(1 / 0.2000732 = 4.998) = 5; q(-1) = rne(-4.998) + 5 = 0,
 *           q(2) = rne(9.996) + 5 = 15, q(0) = 5: qs = f0 55 55 ... (element 0 low nibble).
 *   8 bits: s = 3/255 = 0.0117647; fp16 0x2206 = 0.0117645 < s, so d = 0x2207 = 0.0117722;
 *           zero = rne(84.946) = 85; q(-1) = 0, q(2) = rne(169.89) + 85 = 255, q(0) = 85. */
ParameterizedTestParameters(ext_int_group, hand_worked_block) { return IG_PARAMS(); }

ParameterizedTest(int *i, ext_int_group, hand_worked_block)
{
    const struct ig_type *t = &ig_types[*i];
    float x[128] = {-1.0f, 2.0f}, y[128];
    uint8_t *q = ig_run(t, x, y, t->group);
    uint8_t want[132] = {0};
    if (t->bits == 4) {
        want[0] = 0x67, want[1] = 0x32, want[2] = 5, want[4] = 0xf0;
        memset(want + 5, 0x55, (size_t)t->group / 2 - 1);
    } else {
        want[0] = 0x07, want[1] = 0x22, want[2] = 85, want[4] = 0, want[5] = 255;
        memset(want + 6, 85, (size_t)t->group - 2);
    }
    if (memcmp(q, want, t->block_bytes) != 0) {
        char got_hex[300], want_hex[300];
        hex_bytes(got_hex, q, t->block_bytes);
        hex_bytes(want_hex, want, t->block_bytes);
        cr_expect(0, "%s block\n got  %s\n want %s", t->name, got_hex, want_hex);
    }
    const float d = ig_fp16_to_fp32(blk_u16(want));
    const int maxq = (1 << t->bits) - 1, zero = want[2];
    cr_expect(y[0] == (float)(0 - zero) * d && y[1] == (float)(maxq - zero) * d && y[2] == 0.0f,
              "%s: %.9g %.9g %.9g", t->name, (double)y[0], (double)y[1], (double)y[2]);
    free(q);
}

/* INT4 packing by hand: x[j] = j % 16 gives min 0, max 15, d = 1 (0x3c00), zero 0 and
 * code j % 16, so qs[i] = (2i % 16) | (2i + 1) % 16 << 4: 10 32 54 76 98 ba dc fe ... */
Test(ext_int_group, int4_even_element_in_the_low_nibble)
{
    float x[32], y[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j % 16);
    uint8_t *q = ig_run(&ig_types[0], x, y, 32);
    static const uint8_t want[20] = {0x00, 0x3c, 0, 0, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba,
                                     0xdc, 0xfe, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe};
    for (int k = 0; k < 20; k++)
        cr_expect_eq(q[k], want[k], "byte %d: %02x, want %02x", k, q[k], want[k]);
    for (int j = 0; j < 32; j++)
        cr_expect(y[j] == x[j], "y[%d] = %g", j, (double)y[j]);
    free(q);
}

/* Random rows (several groups) of three kinds: centred, all positive, all negative. */
ParameterizedTestParameters(ext_int_group, error_at_most_half_a_step) { return IG_PARAMS(); }

ParameterizedTest(int *i, ext_int_group, error_at_most_half_a_step)
{
    const struct ig_type *t = &ig_types[*i];
    const int64_t n = 16 * t->group;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    cr_assert(x && y);
    for (int kind = 0; kind < 3; kind++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            fill_row(x, n, seed + 100 * (uint64_t)kind, kind);
            uint8_t *q = ig_run(t, x, y, n);
            char what[64];
            snprintf(what, sizeof what, "kind %d seed %llu", kind, (unsigned long long)seed);
            ig_check_bound(t, x, y, n, q, what);
            for (int64_t b = 0; b < n / t->group; b++) {
                const uint8_t *blk = q + (size_t)b * t->block_bytes;
                ig_half d;
                uint8_t zero;
                cr_assert_eq(int_group_params(x + b * t->group, t->group, t->bits, &d, &zero), 0);
                cr_expect(d == blk_u16(blk) && zero == blk[2] && blk[3] == 0,
                          "%s %s group %lld: int_group_params %04x/%d, block %04x/%d", t->name, what,
                          (long long)b, d, zero, blk_u16(blk), blk[2]);
                /* widened range: an all-positive group has zero 0, an all-negative one maxq */
                if (kind == 1)
                    cr_expect_eq(blk[2], 0, "%s %s group %lld", t->name, what, (long long)b);
                if (kind == 2)
                    cr_expect_eq(blk[2], (1 << t->bits) - 1, "%s %s group %lld", t->name, what,
                                 (long long)b);
            }
            free(q);
        }
    free(y);
    free(x);
}

/* Awkward groups, one per block of a 7-group row, each checked against the bound:
 *   0 all zero (zero range: AutoGPTQ's [-1, 1]; d = ceil_fp16(2 / maxq) = 0x3045 for 4 bits
 *     (0.13342 >= 0.13333), 0x2005 for 8 bits; every y exactly +0),
 *   1 one outlier 1000 among +-0.01, 2 fp32 subnormals (s ~ 1e-41 -> d = 0x0001, fp16's
 *   smallest), 3 a range that underflows (FLT_TRUE_MIN / maxq = 0: zero-range rule),
 *   4 +-65504 (fp16's largest) with noise, 5 negative zeros mixed with positives,
 *   6 all equal (-2.5). */
ParameterizedTestParameters(ext_int_group, awkward_groups) { return IG_PARAMS(); }

ParameterizedTest(int *i, ext_int_group, awkward_groups)
{
    const struct ig_type *t = &ig_types[*i];
    const int64_t G = t->group, n = 7 * G;
    float *x = calloc((size_t)n, sizeof(float)), *y = malloc(sizeof(float) * (size_t)n);
    cr_assert(x && y);
    uint64_t seed = 99;
    for (int64_t j = 0; j < G; j++) {
        x[1 * G + j] = j % 2 ? 0.01f : -0.01f;
        x[2 * G + j] = (float)(j % 5) * -3e-41f + (j == 3 ? FLT_TRUE_MIN : 0.0f);
        x[3 * G + j] = j == G / 2 ? FLT_TRUE_MIN : 0.0f;
        x[4 * G + j] = (float)(rng_gauss(&seed) * 100.0);
        x[5 * G + j] = j % 3 ? -0.0f : (float)j * 0.25f;
        x[6 * G + j] = -2.5f;
    }
    x[1 * G + 7] = 1000.0f;
    x[4 * G + 1] = 65504.0f;
    x[4 * G + 2] = -65504.0f;
    uint8_t *q = ig_run(t, x, y, n);
    ig_check_bound(t, x, y, n, q, "awkward");
    const uint8_t *b0 = q, *b2 = q + 2 * t->block_bytes, *b3 = q + 3 * t->block_bytes;
    cr_expect_eq(blk_u16(b0), t->bits == 4 ? 0x3045 : 0x2005, "%s all-zero d %04x", t->name, blk_u16(b0));
    cr_expect_eq(blk_u16(b3), blk_u16(b0), "%s underflowing range d %04x", t->name, blk_u16(b3));
    cr_expect_eq(blk_u16(b2), 0x0001, "%s subnormal d %04x", t->name, blk_u16(b2));
    for (int64_t j = 0; j < G; j++) {
        cr_expect(y[j] == 0.0f && !signbit(y[j]), "%s all-zero y[%lld] = %g", t->name, (long long)j,
                  (double)y[j]);
        cr_expect(y[5 * G + j] == 0.0f || j % 3 == 0, "%s -0.0 at %lld came back %g", t->name,
                  (long long)j, (double)y[5 * G + j]);
    }
    for (int64_t j = 0; j < n; j++)
        cr_expect(isfinite(y[j]), "%s y[%lld] = %g", t->name, (long long)j, (double)y[j]);
    free(q);
    free(y);
    free(x);
}

/* Lengths 0, G - 1, G, G + 1; NaN and Inf; a range whose scale passes fp16's 65504
 * (+-1e6 needs 2e6 / 15 = 133333 with 4 bits, but only 7843 with 8; +-3e38 overflows). */
ParameterizedTestParameters(ext_int_group, refuses_bad_rows) { return IG_PARAMS(); }

ParameterizedTest(int *i, ext_int_group, refuses_bad_rows)
{
    const struct ig_type *t = &ig_types[*i];
    const int64_t G = t->group;
    float x[257] = {0};
    uint8_t q[4 * 132];
    char want[64];
    cr_expect_eq(t->quantize(x, q, 0, NULL), 0, "%s: empty row", t->name);
    cr_expect_eq(t->quantize(x, q, G, NULL), 0, "%s: one group", t->name);
    cr_expect_eq(t->quantize(x, q, G - 1, NULL), IG_EINVAL, "%s: G - 1", t->name);
    snprintf(want, sizeof want, "%s row length %lld", t->name, (long long)G - 1);
    cr_expect(strstr(ig_error_message(), want), "%s", ig_error_message());
    cr_expect_eq(t->quantize(x, q, G + 1, NULL), IG_EINVAL, "%s: G + 1", t->name);

    x[G + 3] = NAN;
    cr_expect_eq(t->quantize(x, q, 2 * G, NULL), IG_EINVAL, "%s: NaN", t->name);
    snprintf(want, sizeof want, "element %lld", (long long)G + 3);
    cr_expect(strstr(ig_error_message(), want), "%s", ig_error_message());
    x[G + 3] = INFINITY;
    cr_expect_eq(t->quantize(x, q, 2 * G, NULL), IG_EINVAL, "%s: Inf", t->name);
    x[G + 3] = 0;

    x[G] = 1e6f;
    x[G + 1] = -1e6f;
    cr_expect_eq(t->quantize(x, q, 2 * G, NULL), t->bits == 4 ? IG_EINVAL : 0, "%s: +-1e6 %s", t->name,
                 ig_error_message());
    if (t->bits == 4)
        cr_expect(strstr(ig_error_message(), "group 1") && strstr(ig_error_message(), "65504"), "%s",
                  ig_error_message());
    x[G] = 3e38f;
    x[G + 1] = -3e38f;
    cr_expect_eq(t->quantize(x, q, 2 * G, NULL), IG_EINVAL, "%s: +-3e38", t->name);
}

Test(ext_int_group, params_refuses_unsupported_shapes)
{
    float x[64] = {0};
    ig_half d;
    uint8_t zero;
    cr_expect_eq(int_group_params(x, 32, 3, &d, &zero), IG_EINVAL, "3 bits");
    cr_expect_eq(int_group_params(x, 31, 4, &d, &zero), IG_EINVAL, "odd group");
    cr_expect_eq(int_group_params(x, 0, 8, &d, &zero), IG_EINVAL, "empty group");
    cr_expect_eq(int_group_params(x, 64, 8, &d, &zero), 0, "%s", ig_error_message());
    cr_expect(d == 0x2005 && zero == 127, "zero range with 8 bits: d %04x zero %d (want 2005/127: "
              "rne(1 / 0.0078506) = rne(127.38))", d, zero);
}
