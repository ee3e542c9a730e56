/* ext_types.c — the argument check shared by ingot's extension types (nf4.c, int_group.c).
 *
 * Their block geometry lives in formats/ggml_type.c and their rows in quant_type.c.
 */
#include "ext_types.h"

#include "../common/ig_error.h"

#include <math.h>

/* ---- public functions ------------------------------------------------------------------- */

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
