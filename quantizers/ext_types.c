/* ext_types.c — registers ingot's extension types (NF4, asymmetric INT groups) with formats/.
 *
 * formats/ sizes tensors from block geometry only; this file hands it the geometry of the
 * types declared in ext_types.h, whose math lives in nf4.c and int_group.c. It also holds
 * the argument check those two files share.
 */
#include "ext_types.h"

#include "../common/ig_error.h"

#include <math.h>

/* ---- the geometry ----------------------------------------------------------------------- */

static const struct ggml_type_info ext_type_infos[] = {
    {QUANT_TYPE_NF4, "NF4", QK_NF4_SUPER, sizeof(block_nf4)},
    {QUANT_TYPE_NF4_F16, "NF4_F16", QK_NF4, sizeof(block_nf4_f16)},
    {QUANT_TYPE_I4_G32, "I4_G32", 32, sizeof(block_i4_g32)},
    {QUANT_TYPE_I4_G64, "I4_G64", 64, sizeof(block_i4_g64)},
    {QUANT_TYPE_I4_G128, "I4_G128", 128, sizeof(block_i4_g128)},
    {QUANT_TYPE_I8_G32, "I8_G32", 32, sizeof(block_i8_g32)},
    {QUANT_TYPE_I8_G64, "I8_G64", 64, sizeof(block_i8_g64)},
    {QUANT_TYPE_I8_G128, "I8_G128", 128, sizeof(block_i8_g128)},
};

/* ---- public functions ------------------------------------------------------------------- */

void quant_ext_register(void)
{
    /* ggml_type_register fails only for an id below 4096, an empty block or a full table
     * (32 extension slots); none can happen for these 8 constant rows, so the status is
     * dropped rather than turned into a status nobody could act on. */
    for (size_t i = 0; i < sizeof ext_type_infos / sizeof ext_type_infos[0]; i++)
        (void)ggml_type_register(&ext_type_infos[i]);
}

int quant_ext_check_row(const char *fn, const char *type_name, const float *x, int64_t n,
                        int64_t block_elems)
{
    if (n < 0 || n % block_elems != 0)
        return ig_error_set(IG_EINVAL, "%s: %s row length %lld is not a non-negative multiple of %lld",
                            fn, type_name, (long long)n, (long long)block_elems);
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(x[j]))
            return ig_error_set(IG_EINVAL, "%s: %s: element %lld of the row is %g (only finite values "
                                "can be quantized)", fn, type_name, (long long)j, (double)x[j]);
    return 0;
}
