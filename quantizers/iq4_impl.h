/* iq4_impl.h — the parts of IQ4_NL's quantizer (iq4_nl.c) that IQ4_XS (iq4_xs.c) reuses:
 * ggml's kvalues_iq4nl table, its best_index_int8 and the per-32 scale search of
 * quantize_row_iq4_nl_impl. For quantizers/ only.
 */
#ifndef IQ4_IMPL_H
#define IQ4_IMPL_H

#include <stdint.h>

/* ggml's kvalues_iq4nl. */
extern const int8_t iq4nl_values[16];

/* The index of the table entry nearest to x (ties to the upper one). */
int iq4nl_best_index(float x);

/* The scale quantize_row_iq4_nl_impl (ntry = 7) finds for 32 weights x with weights w:
 * 0 when max|x| < GROUP_MAX_EPS. */
float iq4nl_block_scale(const float *x, const float *w);

#endif /* IQ4_IMPL_H */
