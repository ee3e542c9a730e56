/* test_cuda_equiv.c — the equivalence cases of tests/cuda_shim/cuda_equiv.h on a real GPU:
 * kernels/cuda/ built by nvcc (make CUDA=1) against the CPU references. Without a device, or in
 * a build without CUDA, every test here skips and says why (make test-cuda runs this suite).
 * Not covered on the GPU: NaN and Inf inputs to the ggml types, whose reference bytes carry
 * x86's NaN sign bits (the GPU's default NaN is positive); NF4 and the INT groups refuse them on
 * both sides, which is tested. */
#include "../cuda_shim/cuda_equiv.h"

/* Skip, naming the reason, when no device can run the kernels. */
static void need_device(void)
{
    if (cuda_device_count() <= 0)
        cr_skip_test("no CUDA device: %s", ig_error_message());
}

Test(cuda_quantize, every_type_shape_and_input_gives_the_reference_bytes, .timeout = 300)
{
    need_device();
    equiv_quantize_all(0);
}

Test(cuda_quantize, refuses_what_the_reference_refuses)
{
    need_device();
    equiv_quantize_refusals();
}

Test(cuda_ops, rms_norm_equals_the_cpu_backend)
{
    need_device();
    equiv_rms_norm();
}

Test(cuda_ops, rope_equals_the_cpu_backend)
{
    need_device();
    equiv_rope();
}

Test(cuda_ops, swiglu_equals_the_cpu_backend)
{
    need_device();
    equiv_swiglu();
}

Test(cuda_ops, device_expf_equals_det_expf, .timeout = 120)
{
    need_device();
    equiv_expf(4093);
}

Test(cuda_ops, attention_rows_equal_det_attention_rows_ref)
{
    need_device();
    equiv_attention();
}
