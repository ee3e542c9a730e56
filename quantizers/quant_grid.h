/* quant_grid.h — the values one element of a packed block can take once its scales are fixed.
 *
 * GPTQ (calib/) quantizes a weight matrix one column at a time. When its sweep reaches the
 * first column of a block (or of a k-quant super-block) it fixes that block's scales by
 * running the type's reference quantizer on the current values; after that, each element is
 * rounded to the nearest value the block can represent *with those scales fixed*, and the code
 * is written into the packed block. This module describes that set of values per element (an
 * affine map of an integer code, or of a table entry for the non-linear types) and stores one
 * code without touching anything else. Every grid reproduces the type's dequantizer exactly:
 * the per-type table and the float argument are at the top of quant_grid.c.
 *
 * Each type's grid is a pair of functions (<stem>_grid_of, <stem>_grid_set, declared at the
 * end of this header) named in its row of the type table (quant_type.c); quant_grid_of and
 * quant_grid_set look the row up, check the arguments and call them. There is no switch over
 * type ids: a new type with a grid adds its pair and names it in its row.
 */
#ifndef QUANT_GRID_H
#define QUANT_GRID_H

#ifdef __cplusplus
extern "C" {
#endif

/* The values element j of a packed block can take once its scales are fixed:
 *   value(q) = a * (table ? table[q] : q) + b,  for integer q in [qmin, qmax].
 * a may be negative (Q4_0, Q5_0, Q3_K and Q6_K scales carry a sign) or zero (an all-zero
 * block), so value(q) is monotone in q but not necessarily increasing. */
struct quant_grid {
    float a, b;
    int qmin, qmax;
    const float *table;   /* non-linear types (IQ4_NL, NF4, NF4_F16): [qmax + 1] entries,
                           * ascending, static storage; NULL for the linear types */
};

/* Describe element j (0 <= j < block_elems) of the packed block of `type` (a ggml or ingot
 * extension type id) into *g. block: one packed block of that type (read only).
 * Returns 0, or IG_EINVAL (message names the type and j) for a type without a grid (F32, F16,
 * BF16, or an id not in quant_type.h's table) or j out of range; *g is untouched then. */
int quant_grid_of(int type, const void *block, int j, struct quant_grid *g);

/* Store code q (qmin <= q <= qmax of element j's grid) for element j in the packed block,
 * leaving every other element and every scale unchanged: afterwards the type's dequantizer
 * gives value(q) of quant_grid_of(type, block, j) for element j.
 * Returns 0, or IG_EINVAL (message names the type, j and q) as quant_grid_of or for q out of
 * range; the block is untouched then. */
int quant_grid_set(int type, void *block, int j, int q);

/* value(q) of g in float, as a * t + b with two roundings (no FMA), t = table[q] or q.
 * For every type this equals the dequantizer's result for code q (== as floats; see the
 * table in quant_grid.c). q must lie in [qmin, qmax]. */
float quant_grid_value(const struct quant_grid *g, int q);

/* The code of g whose value(q) is nearest to x; on a tie the smaller q. x at or beyond the
 * value of either end code gives that end (clamping; +-Inf likewise); NaN gives qmin; a == 0
 * (every code the same value) gives qmin. Linear grids estimate q from (x - b) / a and compare
 * the distances of the neighbouring codes; table grids compare every entry. Distances are
 * |x - value(q)| in double, exact unless x and value(q) differ in magnitude by more than
 * 2^29 (x within a hair of 0 between codes of opposite sign), where a tie can be misread. */
int quant_grid_nearest(const struct quant_grid *g, float x);

/* ---- per-type grids (rows of quant_type.c) ------------------------------------------------ *
 * <stem>_grid_of(block, j, g) and <stem>_grid_set(block, j, q) with the contracts of
 * quant_grid_of_fn and quant_grid_set_fn (quant_type.h): j and q are already checked, nothing
 * fails. The INT-group pairs serve every group size of their bit width (the grid of an
 * element does not depend on G; quant_grid_of checks j against the row's block_elems). */
void q4_0_grid_of(const void *block, int j, struct quant_grid *g);
void q4_0_grid_set(void *block, int j, int q);
void q4_1_grid_of(const void *block, int j, struct quant_grid *g);
void q4_1_grid_set(void *block, int j, int q);
void q5_0_grid_of(const void *block, int j, struct quant_grid *g);
void q5_0_grid_set(void *block, int j, int q);
void q5_1_grid_of(const void *block, int j, struct quant_grid *g);
void q5_1_grid_set(void *block, int j, int q);
void q8_0_grid_of(const void *block, int j, struct quant_grid *g);
void q8_0_grid_set(void *block, int j, int q);
void iq4_nl_grid_of(const void *block, int j, struct quant_grid *g);
void iq4_nl_grid_set(void *block, int j, int q);
void q2_k_grid_of(const void *block, int j, struct quant_grid *g);
void q2_k_grid_set(void *block, int j, int q);
void q3_k_grid_of(const void *block, int j, struct quant_grid *g);
void q3_k_grid_set(void *block, int j, int q);
void q4_k_grid_of(const void *block, int j, struct quant_grid *g);
void q4_k_grid_set(void *block, int j, int q);
void q5_k_grid_of(const void *block, int j, struct quant_grid *g);
void q5_k_grid_set(void *block, int j, int q);
void q6_k_grid_of(const void *block, int j, struct quant_grid *g);
void q6_k_grid_set(void *block, int j, int q);
void nf4_grid_of(const void *block, int j, struct quant_grid *g);
void nf4_grid_set(void *block, int j, int q);
void nf4_f16_grid_of(const void *block, int j, struct quant_grid *g);
void nf4_f16_grid_set(void *block, int j, int q);
void i4_group_grid_of(const void *block, int j, struct quant_grid *g);   /* I4_G32/64/128 */
void i4_group_grid_set(void *block, int j, int q);
void i8_group_grid_of(const void *block, int j, struct quant_grid *g);   /* I8_G32/64/128 */
void i8_group_grid_set(void *block, int j, int q);

#ifdef __cplusplus
}
#endif

#endif /* QUANT_GRID_H */
