/* cuda_common.h — what every .cu file of kernels/cuda/ includes first: the CUDA runtime (or,
 * under the host-C++ shim, nothing: shim.h is force-included), the launch macro that both
 * compilers accept, and the checker every CUDA call goes through.
 *
 * A kernel is launched with IG_LAUNCH(kernel, grid, block, stream, args...), which is
 * kernel<<<grid, block, 0, stream>>>(args...) under nvcc and a synchronous run on OS threads
 * under the shim (kernels/cuda/shim.h). No dynamic shared memory: the shim cannot model it.
 * Every runtime call is wrapped: rc = ig_cuda(cudaMemcpy(...)); if (rc) goto out_free;
 * returns 0 or IG_ENODEV with "<function> (<file>:<line>): <call>: <error name>: <text>"
 * recorded. After a launch, ig_cuda_launched("kernel name") checks the launch error and, when
 * built with -DIG_CUDA_DEBUG (make DEBUG=1), synchronizes so a fault names its kernel.
 */
#ifndef IG_CUDA_COMMON_H
#define IG_CUDA_COMMON_H

#ifndef IG_CUDA_SHIM
#include <cuda_runtime.h>
#endif

#include "../../common/ig_error.h"

#include <stdint.h>

#if defined(IG_CUDA_SHIM)
#define IG_LAUNCH(kernel, grid, block, stream, ...) \
    ig_shim_launch((grid), (block), 0, [&] { kernel(__VA_ARGS__); })
#else
#define IG_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

/* 0 for cudaSuccess; otherwise records what failed and where, and returns IG_ENODEV. */
static inline int ig_cuda_check(cudaError_t e, const char *call, const char *func, const char *file, int line)
{
    if (e == cudaSuccess)
        return 0;
    return ig_error_set(IG_ENODEV, "%s (%s:%d): %s: %s: %s", func, file, line, call, cudaGetErrorName(e),
                        cudaGetErrorString(e));
}

#define ig_cuda(call) ig_cuda_check((call), #call, __func__, __FILE__, __LINE__)

/* The launch error of the kernel just launched (and, under IG_CUDA_DEBUG, its run's). */
static inline int ig_cuda_launch_check(const char *kernel, const char *func, const char *file, int line)
{
    cudaError_t e = cudaGetLastError();
#ifdef IG_CUDA_DEBUG
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
#endif
    return ig_cuda_check(e, kernel, func, file, line);
}

#define ig_cuda_launched(kernel) ig_cuda_launch_check((kernel), __func__, __FILE__, __LINE__)

/* Blocks of `threads` threads that cover n items. */
static inline unsigned ig_cuda_grid(int64_t n, unsigned threads)
{
    return (unsigned)((n + threads - 1) / threads);
}

#endif /* IG_CUDA_COMMON_H */
