/* test_shim_ops.c — kernels/cuda/ops.cu, compiled as host C++ through kernels/cuda/shim.h,
 * against the CPU backend: RMSNorm, RoPE, SwiGLU, det_expf's device copy and causal attention
 * rows, bit for bit (cases in cuda_equiv.h). */
#define IG_CUDA_SHIM_API 1
#include "cuda_equiv.h"

Test(shim_ops, rms_norm_equals_the_cpu_backend)
{
    equiv_rms_norm();
}

Test(shim_ops, rope_equals_the_cpu_backend)
{
    equiv_rope();
}

Test(shim_ops, swiglu_equals_the_cpu_backend)
{
    equiv_swiglu();
}

Test(shim_ops, device_expf_equals_det_expf)
{
    equiv_expf(65521);
}

Test(shim_ops, attention_rows_equal_det_attention_rows_ref)
{
    equiv_attention();
}
