/* memory.cu — device memory and the device count for callers in C (cuda_kernels.h), so that
 * convert/ and the tests never include a CUDA header. The shim build maps them to host memory.
 */
#include "cuda_common.h"
#include "cuda_kernels.h"

extern "C" int cuda_device_count(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        ig_cuda_check(e, "cudaGetDeviceCount(&n)", __func__, __FILE__, __LINE__);
        return 0;
    }
    if (n == 0)
        ig_error_set(IG_ENODEV, "cuda_device_count: the CUDA runtime sees no device");
    return n;
}

extern "C" int cuda_malloc(void **d_ptr, size_t size_bytes)
{
    *d_ptr = NULL;
    cudaError_t e = cudaMalloc(d_ptr, size_bytes ? size_bytes : 1);
    if (e == cudaErrorMemoryAllocation)
        return ig_error_set(IG_ENOMEM, "cuda_malloc: %zu bytes of device memory: %s", size_bytes,
                            cudaGetErrorString(e));
    return ig_cuda_check(e, "cudaMalloc(d_ptr, size_bytes)", __func__, __FILE__, __LINE__);
}

extern "C" void cuda_free(void *d_ptr)
{
    if (d_ptr)
        cudaFree(d_ptr);
}

extern "C" int cuda_upload(void *d_dst, const void *src, size_t size_bytes)
{
    return size_bytes ? ig_cuda(cudaMemcpy(d_dst, src, size_bytes, cudaMemcpyHostToDevice)) : 0;
}

extern "C" int cuda_download(void *dst, const void *d_src, size_t size_bytes)
{
    return size_bytes ? ig_cuda(cudaMemcpy(dst, d_src, size_bytes, cudaMemcpyDeviceToHost)) : 0;
}

extern "C" int cuda_synchronize(void)
{
    return ig_cuda(cudaDeviceSynchronize());
}
