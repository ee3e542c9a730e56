/* quant_grid.c — per-element code grids of every packed type, for GPTQ's column sweep.
 *
 * Once GPTQ (calib/) has fixed a block's scales with the type's reference quantizer, each
 * element may take only the values value(q) = a * (table ? table[q] : q) + b of this file's
 * grid; GPTQ rounds to the nearest and stores the code with quant_grid_set. The grids are read
 * off the dequantizers (q4_0.c ... q6_k.c, nf4.c, int_group.c; gguf-facts.md section 2), and
 * the test suite checks every code of every element against them. Each type's pair of
 * functions below is named in its row of quant_type.c; the public functions at the end find
 * the row, check the arguments and call the pair.
 *
 * Per type, element j of one block (d, dmin, m: the block's fp16 fields as fp32; s: sub-block):
 *
 *   type     a                     b            q          table      where q lives
 *   Q4_0     d                     -8 d         0..15      -          qs[j%16], high nib if j>=16
 *   Q4_1     d                     m            0..15      -          as Q4_0
 *   Q5_0     d                     -16 d        0..31      -          low 4 as Q4_0; bit 4 in
 *                                                                     qh bit j
 *   Q5_1     d                     m            0..31      -          as Q5_0
 *   Q8_0     d                     0            -128..127  -          qs[j] (int8)
 *   IQ4_NL   d                     0            0..15      kvalues    as Q4_0
 *   Q2_K     d sc_s (s = j/16)     -(dmin m_s)  0..3       -          qs[32(j/128) + j%32],
 *                                                                     bits 2((j%128)/32)
 *   Q3_K     d (code_s - 32)       0            -4..3      -          low 2 as Q2_K; q >= 0 iff
 *                                                                     hmask[j%32] bit j/32 set
 *   Q4_K     d sc_s (s = j/32)     -(dmin m_s)  0..15      -          qs[32(j/64) + j%32],
 *                                                                     high nib if j%64 >= 32
 *   Q5_K     d sc_s                -(dmin m_s)  0..31      -          low 4 as Q4_K; bit 4:
 *                                                                     qh[j%32] bit j/32
 *   Q6_K     d scales[j/16]        0            -32..31    -          q + 32: low 4 in ql, high 2
 *                                                                     in qh (q6_k_grid_set)
 *   NF4      (d scales[s]) / 255   0            0..15      nf4_code   qs[32s + (j%64)/2], s = j/64,
 *                                                                     high nib if j even
 *   NF4_F16  d                     0            0..15      nf4_code   qs[j/2], high nib if j even
 *   I4_G*    d                     -(zero d)    0..15      -          qs[j/2], LOW nib if j even
 *   I8_G*    d                     -(zero d)    0..255     -          qs[j]
 *   (sc_s, m_s: Q2_K nibbles of scales[s]; Q4_K/Q5_K kq_get_scale_min_k4(s).)
 *
 * Why value(q) equals the dequantizer's float, as computed by quant_grid_value (a * t, then
 * + b, two roundings; no FMA, as everywhere in quantizers/, see quant_util.h):
 *   - Q4_1, Q5_1, Q2_K, Q4_K, Q5_K: a, b and the order of operations are the dequantizer's
 *     own (x - y is x + (-y) in IEEE arithmetic), so the results are the same bits.
 *   - Q8_0, IQ4_NL, Q3_K, Q6_K, NF4, NF4_F16: b = 0 and a * t is the dequantizer's product
 *     (Q6_K's (d * sc) * q, NF4's code * a commuted); adding +0 changes nothing but the sign
 *     of a zero result (-0 + 0 = +0).
 *   - Q4_0, Q5_0, I4_G*, I8_G*: the dequantizer computes (q - z) d with z = 8, 16 or zero;
 *     d has 11 significant bits and q, z, |q - z| <= 255 at most 8, so (q - z) d, d q and z d
 *     are all exact in fp32 (at most 19 significant bits, magnitudes far inside its range),
 *     and d q + (-z d) rounds the exact sum, which is representable: the same value, again
 *     up to the sign of zero.
 *   So value(q) == dequantized value as floats for every type and every finite scale; there
 *   is no ulp of difference, only +0 where the dequantizer may give -0 (a negative scale).
 */
#include "quant_grid.h"

#include "blocks.h"
#include "ext_types.h"
#include "k_quant_search.h"
#include "quant_type.h"
#include "quant_util.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"

#include <math.h>
#include <string.h>

/* ---- constants ------------------------------------------------------------------------- */

/* ggml's kvalues_iq4nl (iq4_nl.c holds them as int8, static there) as floats, ascending. */
static const float iq4nl_table[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

/* ---- bit helpers ----------------------------------------------------------------------- */

/* Replace the high (high != 0) or low nibble of *byte with v (0..15). */
static void nibble_set(uint8_t *byte, int high, int v)
{
    if (high)
        *byte = (uint8_t)((*byte & 0x0F) | (v << 4));
    else
        *byte = (uint8_t)((*byte & 0xF0) | v);
}

/* Set (v != 0) or clear bit `bit` of *byte. */
static void bit_set(uint8_t *byte, int bit, int v)
{
    *byte = (uint8_t)(v ? (*byte | (1u << bit)) : (*byte & ~(1u << bit)));
}

/* 2-bit plane of Q2_K/Q3_K: element j sits in qs[32 (j/128) + j%32], bits 2 ((j%128)/32). */
static void set_2bit(uint8_t *qs, int j, int v)
{
    uint8_t *byte = &qs[32 * (j / 128) + j % 32];
    const int shift = 2 * ((j % 128) / 32);
    *byte = (uint8_t)((*byte & ~(3u << shift)) | ((unsigned)v << shift));
}

static void grid_linear(struct quant_grid *g, float a, float b, int qmin, int qmax)
{
    g->a = a;
    g->b = b;
    g->qmin = qmin;
    g->qmax = qmax;
    g->table = NULL;
}

/* ---- the 32-element types of q_legacy.h: one scale per block, so j only places the code -- */

void q4_0_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    const float d = ig_fp16_to_fp32(((const block_q4_0 *)block)->d);
    grid_linear(g, d, -8.0f * d, 0, 15);
}

void q4_0_grid_set(void *block, int j, int q)
{
    nibble_set(&((block_q4_0 *)block)->qs[j % 16], j >= 16, q);
}

void q4_1_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    const block_q4_1 *x = block;
    grid_linear(g, ig_fp16_to_fp32(x->d), ig_fp16_to_fp32(x->m), 0, 15);
}

void q4_1_grid_set(void *block, int j, int q)
{
    nibble_set(&((block_q4_1 *)block)->qs[j % 16], j >= 16, q);
}

void q5_0_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    const float d = ig_fp16_to_fp32(((const block_q5_0 *)block)->d);
    grid_linear(g, d, -16.0f * d, 0, 31);
}

void q5_0_grid_set(void *block, int j, int q)
{
    block_q5_0 *x = block;
    nibble_set(&x->qs[j % 16], j >= 16, q & 0xF);
    bit_set(&x->qh[j / 8], j % 8, q >> 4);   /* qh: little-endian u32, bit j */
}

void q5_1_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    const block_q5_1 *x = block;
    grid_linear(g, ig_fp16_to_fp32(x->d), ig_fp16_to_fp32(x->m), 0, 31);
}

void q5_1_grid_set(void *block, int j, int q)
{
    block_q5_1 *x = block;
    nibble_set(&x->qs[j % 16], j >= 16, q & 0xF);
    bit_set(&x->qh[j / 8], j % 8, q >> 4);
}

void q8_0_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    grid_linear(g, ig_fp16_to_fp32(((const block_q8_0 *)block)->d), 0.0f, -128, 127);
}

void q8_0_grid_set(void *block, int j, int q)
{
    ((block_q8_0 *)block)->qs[j] = (int8_t)q;
}

void iq4_nl_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    grid_linear(g, ig_fp16_to_fp32(((const block_iq4_nl *)block)->d), 0.0f, 0, 15);
    g->table = iq4nl_table;
}

void iq4_nl_grid_set(void *block, int j, int q)
{
    nibble_set(&((block_iq4_nl *)block)->qs[j % 16], j >= 16, q);
}

/* ---- the k-quants of k_quants.h --------------------------------------------------------- */

void q2_k_grid_of(const void *block, int j, struct quant_grid *g)
{
    const block_q2_K *x = block;
    const uint8_t sc = x->scales[j / 16];
    grid_linear(g, ig_fp16_to_fp32(x->d) * (sc & 0xF), -(ig_fp16_to_fp32(x->dmin) * (sc >> 4)), 0, 3);
}

void q2_k_grid_set(void *block, int j, int q)
{
    set_2bit(((block_q2_K *)block)->qs, j, q);
}

void q3_k_grid_of(const void *block, int j, struct quant_grid *g)
{
    const block_q3_K *x = block;
    grid_linear(g, ig_fp16_to_fp32(x->d) * kq_get_q3_scale(j / 16, x->scales), 0.0f, -4, 3);
}

void q3_k_grid_set(void *block, int j, int q)
{
    /* q + 4 = low2 + 4 hbit; a SET hmask bit means "no -4", i.e. q >= 0 */
    block_q3_K *x = block;
    set_2bit(x->qs, j, (q + 4) & 3);
    bit_set(&x->hmask[j % 32], j / 32, q >= 0);
}

void q4_k_grid_of(const void *block, int j, struct quant_grid *g)
{
    const block_q4_K *x = block;
    uint8_t sc, m;
    kq_get_scale_min_k4(j / 32, x->scales, &sc, &m);
    grid_linear(g, ig_fp16_to_fp32(x->d) * sc, -(ig_fp16_to_fp32(x->dmin) * m), 0, 15);
}

void q4_k_grid_set(void *block, int j, int q)
{
    nibble_set(&((block_q4_K *)block)->qs[32 * (j / 64) + j % 32], j % 64 >= 32, q);
}

void q5_k_grid_of(const void *block, int j, struct quant_grid *g)
{
    const block_q5_K *x = block;
    uint8_t sc, m;
    kq_get_scale_min_k4(j / 32, x->scales, &sc, &m);
    grid_linear(g, ig_fp16_to_fp32(x->d) * sc, -(ig_fp16_to_fp32(x->dmin) * m), 0, 31);
}

void q5_k_grid_set(void *block, int j, int q)
{
    block_q5_K *x = block;
    nibble_set(&x->qs[32 * (j / 64) + j % 32], j % 64 >= 32, q & 0xF);
    bit_set(&x->qh[j % 32], j / 32, q >> 4);
}

void q6_k_grid_of(const void *block, int j, struct quant_grid *g)
{
    const block_q6_K *x = block;
    grid_linear(g, ig_fp16_to_fp32(x->d) * x->scales[j / 16], 0.0f, -32, 31);
}

void q6_k_grid_set(void *block, int j, int q)
{
    /* element 128h + 32k + l: low 4 bits in ql[64h + 32(k&1) + l], nibble k/2;
     * high 2 bits in qh[32h + l], bits 2k..2k+1 */
    block_q6_K *x = block;
    const int h = j / 128, k = (j % 128) / 32, l = j % 32, u = q + 32;
    nibble_set(&x->ql[64 * h + 32 * (k & 1) + l], k >= 2, u & 0xF);
    uint8_t *hb = &x->qh[32 * h + l];
    *hb = (uint8_t)((*hb & ~(3u << (2 * k))) | ((unsigned)(u >> 4) << (2 * k)));
}

/* ---- ingot's extension types of ext_types.h --------------------------------------------- */

void nf4_grid_of(const void *block, int j, struct quant_grid *g)
{
    const block_nf4 *x = block;
    /* nf4.c's nf4_sub_absmax: d * scales[s] is exact, the division the one rounding */
    const float a = (ig_fp16_to_fp32(x->d) * (float)x->scales[j / QK_NF4]) / 255.0f;
    grid_linear(g, a, 0.0f, 0, 15);
    g->table = nf4_code;
}

void nf4_grid_set(void *block, int j, int q)
{
    /* sub-block s = j/64 owns qs[32s ..]; the even element is the HIGH nibble */
    nibble_set(&((block_nf4 *)block)->qs[32 * (j / QK_NF4) + (j % QK_NF4) / 2], j % 2 == 0, q);
}

void nf4_f16_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    grid_linear(g, ig_fp16_to_fp32(((const block_nf4_f16 *)block)->d), 0.0f, 0, 15);
    g->table = nf4_code;
}

void nf4_f16_grid_set(void *block, int j, int q)
{
    nibble_set(&((block_nf4_f16 *)block)->qs[j / 2], j % 2 == 0, q);
}

/* The grid of any INT group block of `bits`-bit codes: every element shares d and zero. */
static void int_group_grid_of(const void *block, int bits, struct quant_grid *g)
{
    /* int_group.c reads the head bytewise: d at bytes 0..1, zero at byte 2 */
    const uint8_t *head = block;
    ig_half dh;
    memcpy(&dh, head, sizeof dh);
    const float d = ig_fp16_to_fp32(dh);
    grid_linear(g, d, -((float)head[2] * d), 0, (1 << bits) - 1);
}

void i4_group_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    int_group_grid_of(block, 4, g);
}

void i4_group_grid_set(void *block, int j, int q)
{
    uint8_t *qs = (uint8_t *)block + INT_GROUP_HEAD_BYTES;
    nibble_set(&qs[j / 2], j % 2 == 1, q);   /* the even element is the LOW nibble */
}

void i8_group_grid_of(const void *block, int j, struct quant_grid *g)
{
    (void)j;
    int_group_grid_of(block, 8, g);
}

void i8_group_grid_set(void *block, int j, int q)
{
    uint8_t *qs = (uint8_t *)block + INT_GROUP_HEAD_BYTES;
    qs[j] = (uint8_t)q;
}

/* ---- public ---------------------------------------------------------------------------- */

int quant_grid_of(int type, const void *block, int j, struct quant_grid *g)
{
    const struct quant_type *qt = quant_type_get(type);
    if (!qt)
        return ig_error_set(IG_EINVAL, "quant_grid_of: type id %d is not in the type table", type);
    if (qt->block_elems == 1)
        return ig_error_set(IG_EINVAL, "quant_grid_of: type %s stores floats and has no code grid",
                            qt->name);
    if (j < 0 || j >= qt->block_elems)
        return ig_error_set(IG_EINVAL, "quant_grid_of: %s: element %d is outside the block "
                            "(0..%lld)", qt->name, j, (long long)qt->block_elems - 1);
    if (!qt->grid_of)
        return ig_error_set(IG_EINVAL, "quant_grid_of: type %s has no code grid", qt->name);
    qt->grid_of(block, j, g);
    return 0;
}

int quant_grid_set(int type, void *block, int j, int q)
{
    struct quant_grid g;
    int rc = quant_grid_of(type, block, j, &g);
    if (rc)
        return ig_error_wrap(rc, "quant_grid_set");
    const struct quant_type *qt = quant_type_get(type);
    if (q < g.qmin || q > g.qmax)
        return ig_error_set(IG_EINVAL, "quant_grid_set: %s: element %d: code %d is out of range "
                            "(%d..%d)", qt->name, j, q, g.qmin, g.qmax);
    qt->grid_set(block, j, q);
    return 0;
}

float quant_grid_value(const struct quant_grid *g, int q)
{
    const float t = g->table ? g->table[q] : (float)q;
    const float p = g->a * t;   /* its own statement: never fused with + b */
    return p + g->b;
}

int quant_grid_nearest(const struct quant_grid *g, float x)
{
    if (isnan(x) || !(g->a != 0.0f))
        return g->qmin;
    /* value(q) is monotone: increasing in q for a > 0 (the tables ascend), else decreasing.
     * At or past value(qmin) the answer is qmin; strictly past value(qmax) it is qmax (an
     * equal value might be shared with qmax - 1 after rounding, which the search settles). */
    const int up = g->a > 0.0f;
    const float v_first = quant_grid_value(g, g->qmin), v_last = quant_grid_value(g, g->qmax);
    if (up ? x <= v_first : x >= v_first)
        return g->qmin;
    if (up ? x > v_last : x < v_last)
        return g->qmax;
    int lo = g->qmin, hi = g->qmax;
    if (!g->table) {
        /* x lies between the end values, so t is within a step of [qmin, qmax]. Rounding is
         * monotone, so for exact t every code <= floor(t) has a value on x's one side and
         * every code > floor(t) on the other: the nearest is floor(t) or floor(t) + 1. One
         * code more each way covers the rounding of t itself. */
        const double t = ((double)x - g->b) / g->a;
        const int q0 = (int)floor(QUANT_MAX(QUANT_MIN(t, (double)g->qmax), (double)g->qmin));
        lo = QUANT_MAX(q0 - 1, g->qmin);
        hi = QUANT_MIN(q0 + 2, g->qmax);
    }
    int best_q = lo;
    double best = fabs((double)x - quant_grid_value(g, lo));
    for (int q = lo + 1; q <= hi; q++) {
        const double dist = fabs((double)x - quant_grid_value(g, q));
        if (dist < best) {   /* strict: a tie keeps the smaller q */
            best = dist;
            best_q = q;
        }
    }
    /* a grid whose step is below an ulp of b collapses: codes below the window may share the
     * winner's value (a tie), and the smallest of them is the answer */
    while (best_q > g->qmin && quant_grid_value(g, best_q - 1) == quant_grid_value(g, best_q))
        best_q--;
    return best_q;
}
