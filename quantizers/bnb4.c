/* bnb4.c — bitsandbytes NF4 with double quantization over a flat tensor (rules in bnb4.h).
 *
 * The scalar reference of what quantize_4bit(compress_statistics=True, quant_type="nf4",
 * blocksize=64) stores, so that an exported checkpoint decodes in bitsandbytes to exactly
 * the weights computed here. Called by convert/export_hf.c one linear at a time.
 */
#include "bnb4.h"

#include "ext_types.h"

#include "../common/ig_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the dynamic map ------------------------------------------------------------------- */

/* Element i of torch.linspace(start, end, steps) in fp32: the CPU kernel steps from the
 * start in the first half and back from the end in the second, each with one fused
 * multiply-add (its vectorized fmadd). Checked: with fmaf all 256 entries equal the map
 * stored in a real double-quantized checkpoint (tests/convert/test_export_hf.c); with a
 * separately rounded product and sum, 42 entries differ in the last bit. */
static float linspace_f32(float start, float end, int64_t steps, int64_t i)
{
    const float step = (end - start) / (float)(steps - 1);
    return i < steps / 2 ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - 1 - i), end);
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

void bnb_dynamic_map(float *map)
{
    int n = 0;
    for (int i = 0; i < 7; i++) {
        /* fraction_items = 2^i + 1 boundaries, their 2^i midpoints, scaled by 10^(i-6) */
        const int64_t items = ((int64_t)1 << i) + 1;
        const float scale = (float)pow(10.0, (double)(i - 6));
        for (int64_t k = 0; k + 1 < items; k++) {
            const float a = linspace_f32(0.1f, 1.0f, items, k), b = linspace_f32(0.1f, 1.0f, items, k + 1);
            const float mean = (a + b) / 2.0f;
            map[n++] = scale * mean;
            map[n++] = -scale * mean;
        }
    }
    map[n++] = 0.0f;
    map[n++] = 1.0f;
    qsort(map, (size_t)n, sizeof *map, compare_float);
}

int bnb_dynamic_index(const float *map, float x)
{
    /* binary search for the bracketing entries, then the nearer of the two by the
     * midpoint (a value on the midpoint stays with `pivot`) */
    int pivot = 127, upper_pivot = 255, lower_pivot = 0;
    float lower = -1.0f, upper = 1.0f, val = map[pivot];
    for (int step = 64; step > 0; step >>= 1) {
        if (x > val) {
            lower_pivot = pivot;
            lower = val;
            pivot += step;
        } else {
            upper_pivot = pivot;
            upper = val;
            pivot -= step;
        }
        val = map[pivot];
    }
    if (upper_pivot == 255)
        upper = map[255];
    if (lower_pivot == 0)
        lower = map[0];
    if (x > val)
        return x > (upper + val) * 0.5f ? upper_pivot : pivot;
    return x < (lower + val) * 0.5f ? lower_pivot : pivot;
}

/* ---- one tensor -------------------------------------------------------------------------- */

float bnb_absmax_decode(const float *map, const uint8_t *absmax_q, const float *nested_absmax, float offset, int64_t j)
{
    const float a = map[absmax_q[j]] * nested_absmax[j / BNB4_NESTED_BLOCKSIZE];
    return a + offset;
}

/* Rule 1 for the block [k0, k0 + len): its absmax, and its codes into codes[k0..]. */
static float nf4_block(const float *x, int64_t k0, int64_t len, uint8_t *codes)
{
    float amax = 0.0f;
    for (int64_t k = k0; k < k0 + len; k++)
        amax = fmaxf(amax, fabsf(x[k]));
    if (amax == 0.0f) {
        memset(codes + k0, 7, (size_t)len);   /* nf4_code[7] == 0 */
        return 0.0f;
    }
    const float inv = 1.0f / amax;
    for (int64_t k = k0; k < k0 + len; k++)
        codes[k] = (uint8_t)nf4_code_index(x[k] * inv);
    return amax;
}

/* Rule 2: absmax [n_blocks] -> absmax_q, nested_absmax, offset. absmax is overwritten by
 * v = absmax - offset. */
static void double_quant(float *absmax, int64_t n_blocks, const float *map, uint8_t *absmax_q, float *nested_absmax,
                         float *offset)
{
    double sum = 0.0;
    for (int64_t j = 0; j < n_blocks; j++)
        sum += absmax[j];
    *offset = n_blocks ? (float)(sum / (double)n_blocks) : 0.0f;
    for (int64_t j = 0; j < n_blocks; j++)
        absmax[j] -= *offset;
    const int zero_code = bnb_dynamic_index(map, 0.0f);
    for (int64_t c = 0; c * BNB4_NESTED_BLOCKSIZE < n_blocks; c++) {
        const int64_t j0 = c * BNB4_NESTED_BLOCKSIZE;
        const int64_t j1 = j0 + BNB4_NESTED_BLOCKSIZE < n_blocks ? j0 + BNB4_NESTED_BLOCKSIZE : n_blocks;
        float amax = 0.0f;
        for (int64_t j = j0; j < j1; j++)
            amax = fmaxf(amax, fabsf(absmax[j]));
        nested_absmax[c] = amax;
        const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
        for (int64_t j = j0; j < j1; j++)
            absmax_q[j] = (uint8_t)(amax > 0.0f ? bnb_dynamic_index(map, absmax[j] * inv) : zero_code);
    }
}

int bnb_nf4_quantize(const float *x, int64_t n, const float *map, uint8_t *codes, uint8_t *absmax_q,
                     float *nested_absmax, float *offset, float *y)
{
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(x[k]))
            return ig_error_set(IG_EINVAL, "bnb_nf4_quantize: element %lld is %g (only finite values can be quantized)",
                                (long long)k, (double)x[k]);
    const int64_t n_blocks = (n + BNB4_BLOCKSIZE - 1) / BNB4_BLOCKSIZE;
    float *absmax = ig_malloc((size_t)(n_blocks ? n_blocks : 1) * sizeof *absmax);
    if (!absmax)
        return IG_ENOMEM;
    for (int64_t j = 0; j < n_blocks; j++) {
        const int64_t k0 = j * BNB4_BLOCKSIZE;
        absmax[j] = nf4_block(x, k0, n - k0 < BNB4_BLOCKSIZE ? n - k0 : BNB4_BLOCKSIZE, codes);
    }
    double_quant(absmax, n_blocks, map, absmax_q, nested_absmax, offset);
    free(absmax);
    for (int64_t k = 0; y && k < n; k++) {
        const float a = bnb_absmax_decode(map, absmax_q, nested_absmax, *offset, k / BNB4_BLOCKSIZE);
        y[k] = nf4_code[codes[k]] * a;
    }
    return 0;
}
