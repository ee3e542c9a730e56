/* cuda_stubs.c — cuda_kernels.h for a build without nvcc: every launcher records "built
 * without CUDA" and returns IG_ENODEV, so callers (convert/'s --device, the tests under
 * tests/cuda/) need no #ifdef and say plainly why the GPU path is not there. The Makefile
 * links this file instead of libingot-cuda.a when nvcc is off.
 */
#include "cuda_device.h"
#include "cuda_kernels.h"

#include "../../common/ig_error.h"

#define STUB_REFUSE(fn)                                                                         \
    ig_error_set(IG_ENODEV, "%s: ingot was built without its CUDA path (make CUDA=1 builds it where " \
                 "nvcc exists)", fn)

int cuda_device_count(void)
{
    STUB_REFUSE("cuda_device_count");
    return 0;
}

int cuda_malloc(void **d_ptr, size_t size_bytes)
{
    (void)size_bytes;
    *d_ptr = NULL;
    return STUB_REFUSE("cuda_malloc");
}

void cuda_free(void *d_ptr)
{
    (void)d_ptr;
}

int cuda_upload(void *d_dst, const void *src, size_t size_bytes)
{
    (void)d_dst, (void)src, (void)size_bytes;
    return STUB_REFUSE("cuda_upload");
}

int cuda_download(void *dst, const void *d_src, size_t size_bytes)
{
    (void)dst, (void)d_src, (void)size_bytes;
    return STUB_REFUSE("cuda_download");
}

int cuda_synchronize(void)
{
    return STUB_REFUSE("cuda_synchronize");
}

int cuda_quantize_supports(int type_id)
{
    (void)type_id;
    return 0;
}

int cuda_quantize_rows(int type_id, const float *d_x, void *d_y, int64_t n_rows, int64_t n_cols,
                       const float *d_imatrix, void *stream)
{
    (void)type_id, (void)d_x, (void)d_y, (void)n_rows, (void)n_cols, (void)d_imatrix, (void)stream;
    return STUB_REFUSE("cuda_quantize_rows");
}

int cuda_dequantize_rows(int type_id, const void *d_src, float *d_y, int64_t n_rows, int64_t n_cols, void *stream)
{
    (void)type_id, (void)d_src, (void)d_y, (void)n_rows, (void)n_cols, (void)stream;
    return STUB_REFUSE("cuda_dequantize_rows");
}

int cuda_rms_norm(const float *d_x, int64_t n, int64_t dim, const float *d_w, float eps, float *d_out,
                  void *stream)
{
    (void)d_x, (void)n, (void)dim, (void)d_w, (void)eps, (void)d_out, (void)stream;
    return STUB_REFUSE("cuda_rms_norm");
}

int cuda_rope(float *d_x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0, float theta_base,
              float freq_scale, const float *freq_factors, float mscale, int mode, void *stream)
{
    (void)d_x, (void)n, (void)n_head, (void)head_dim, (void)n_rot, (void)pos0, (void)theta_base;
    (void)freq_scale, (void)freq_factors, (void)mscale, (void)mode, (void)stream;
    return STUB_REFUSE("cuda_rope");
}

int cuda_swiglu(float *d_gate, const float *d_up, int64_t n, void *stream)
{
    (void)d_gate, (void)d_up, (void)n, (void)stream;
    return STUB_REFUSE("cuda_swiglu");
}

int cuda_expf_array(const float *d_x, float *d_y, int64_t n, void *stream)
{
    (void)d_x, (void)d_y, (void)n, (void)stream;
    return STUB_REFUSE("cuda_expf_array");
}

int cuda_attention_rows(const float *d_q, const float *d_k, const float *d_v, int64_t pos0, int64_t n_new,
                        int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *d_out, void *stream)
{
    (void)d_q, (void)d_k, (void)d_v, (void)pos0, (void)n_new, (void)n_head, (void)n_head_kv, (void)head_dim;
    (void)d_out, (void)stream;
    return STUB_REFUSE("cuda_attention_rows");
}

const struct backend *backend_cuda(void)
{
    STUB_REFUSE("backend_cuda");
    return NULL;
}
