/* test_shim_quantize.c — kernels/cuda/quantize.cu, compiled as host C++ through
 * kernels/cuda/shim.h, against the CPU reference quantizers: the same bytes for every type,
 * shape and kind of input (cases in cuda_equiv.h). Runs in every CI build; make tsan-cuda-shim
 * runs it under ThreadSanitizer. */
#define IG_CUDA_SHIM_API 1
#include "cuda_equiv.h"

Test(shim_quantize, every_type_shape_and_input_gives_the_reference_bytes, .timeout = 300)
{
    equiv_quantize_all(1);
}

Test(shim_quantize, refuses_what_the_reference_refuses)
{
    equiv_quantize_refusals();
}

Test(shim_quantize, a_rejected_block_is_named_by_row_and_block)
{
    /* NF4_F16 block 1 of row 2 holds an Inf; row 1 a value past fp16 (absmax 1e6) */
    const int64_t n_rows = 3, n_cols = 128;
    float x[3 * 128];
    for (int i = 0; i < 3 * 128; i++)
        x[i] = (float)(i % 7) - 3.0f;
    x[2 * 128 + 64 + 5] = INFINITY;
    x[1 * 128 + 3] = 1e6f;
    float *d_x = (float *)equiv_dup(x, sizeof x);
    void *d_y = equiv_dup(NULL, 3 * 2 * GGML_BLOCK_BYTES_NF4_F16);
    cr_expect_eq(cuda_quantize_rows(GGML_TYPE_NF4_F16, d_x, d_y, n_rows, n_cols, NULL, NULL), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "row 1, block 0"), "the lowest rejected block is named: %s",
              ig_error_message());
    cuda_free(d_x);
    cuda_free(d_y);
}
