/* shim.h — just enough of CUDA for the .cu files of kernels/cuda/ to compile as host C++ and
 * run on the CPU, so CI tests every kernel against its CPU reference without a GPU.
 *
 * Used as `g++ -std=c++17 -x c++ -include kernels/cuda/shim.h kernels/cuda/quantize.cu`
 * (Makefile: the cuda-shim objects). It defines IG_CUDA_SHIM, which kernels/cuda/cuda_common.h
 * reads to pick the launch syntax; __CUDACC__ stays undefined, so IG_HD (common/ig_hd.h) is
 * empty and the shared quantizer headers are the C build's functions, compiled by g++.
 *
 * The model: a launch runs the grid's blocks one after another; a block's threads are real OS
 * threads (one per CUDA thread, started once per launch and reused for every block), so data
 * races between the threads of a block are real and ThreadSanitizer sees them.
 *   - threadIdx, blockIdx, blockDim, gridDim: thread_local values set before each block.
 *   - __syncthreads(): a barrier across the block's threads (mutex + condition variable, which
 *     ThreadSanitizer understands); every thread must reach each one, as in CUDA.
 *   - __shared__: `static`. Blocks never overlap in time (a barrier separates them), so one
 *     static array per kernel is exactly per-block shared memory. Like CUDA's, it is not
 *     cleared between blocks. Dynamic (extern) shared memory is not supported.
 *   - atomics: GCC's __atomic builtins (float add and 64-bit min by compare-and-swap).
 *   - memory: cudaMalloc is malloc, the "device" is this process; copies are memcpy and every
 *     call is synchronous, streams and events are placeholders. A kernel that reads a host
 *     pointer would work here and fail on a GPU: the device tests (tests/cuda/) catch that.
 *   - no warp intrinsics (__shfl_*, __ballot_*): a kernel that needs one must first get a
 *     variant here that models the warp, so it can be tested.
 */
#ifndef IG_CUDA_SHIM_H
#define IG_CUDA_SHIM_H

#ifndef __cplusplus
#error "kernels/cuda/shim.h is for host C++ (g++ -x c++)"
#endif
#ifdef __CUDACC__
#error "kernels/cuda/shim.h replaces CUDA: do not include it under nvcc"
#endif

#define IG_CUDA_SHIM 1

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

/* ---- qualifiers ------------------------------------------------------------------------- */

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict

/* ---- thread and block coordinates --------------------------------------------------------- */

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
typedef dim3 uint3;

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

/* ---- the block barrier ---------------------------------------------------------------------- */

/* A reusable barrier for n threads: the generation counter lets it serve every __syncthreads
 * and the end of every block of one launch. */
class ig_shim_barrier {
public:
    explicit ig_shim_barrier(unsigned n) : n_(n) {}
    void wait()
    {
        std::unique_lock<std::mutex> lock(m_);
        const unsigned long gen = gen_;
        if (++arrived_ == n_) {
            arrived_ = 0;
            ++gen_;
            cv_.notify_all();
            return;
        }
        cv_.wait(lock, [&] { return gen_ != gen; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    unsigned n_, arrived_ = 0;
    unsigned long gen_ = 0;
};

inline thread_local ig_shim_barrier *ig_shim_block_barrier = nullptr;

inline void __syncthreads()
{
    ig_shim_block_barrier->wait();
}

/* Run body as the kernel of a grid x block launch: block after block, each block's threads
 * in parallel. smem_bytes must be 0 (no dynamic shared memory). */
inline void ig_shim_launch(dim3 grid, dim3 block, size_t smem_bytes, const std::function<void()> &body)
{
    (void)smem_bytes;
    const unsigned n_threads = block.x * block.y * block.z;
    const unsigned long n_blocks = (unsigned long)grid.x * grid.y * grid.z;
    if (n_threads == 0 || n_blocks == 0)
        return;
    ig_shim_barrier barrier(n_threads);
    auto worker = [&](unsigned tid) {
        ig_shim_block_barrier = &barrier;
        blockDim = block;
        gridDim = grid;
        threadIdx = uint3(tid % block.x, tid / block.x % block.y, tid / (block.x * block.y));
        for (unsigned long b = 0; b < n_blocks; b++) {
            blockIdx = uint3((unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y),
                             (unsigned)(b / ((unsigned long)grid.x * grid.y)));
            body();
            barrier.wait();   /* the block is over for every thread: its shared memory is free */
        }
        ig_shim_block_barrier = nullptr;
    };
    std::vector<std::thread> threads;
    threads.reserve(n_threads);
    for (unsigned t = 1; t < n_threads; t++)
        threads.emplace_back(worker, t);
    worker(0);
    for (std::thread &t : threads)
        t.join();
}

/* ---- atomics ------------------------------------------------------------------------------ */

inline int atomicAdd(int *p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline float atomicAdd(float *p, float v)
{
    float old, sum;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do
        sum = old + v;
    while (!__atomic_compare_exchange(p, &old, &sum, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
inline int atomicMax(int *p, int v)
{
    int old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline unsigned atomicOr(unsigned *p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicMin(unsigned long long *p, unsigned long long v)
{
    unsigned long long old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}

/* ---- the runtime: host memory, synchronous calls ------------------------------------------ */

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
} cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct ig_shim_stream *cudaStream_t;
typedef struct ig_shim_event *cudaEvent_t;

inline const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaSuccess ? "no error" : e == cudaErrorMemoryAllocation ? "out of memory" : "invalid argument";
}
inline const char *cudaGetErrorName(cudaError_t e)
{
    return e == cudaSuccess ? "cudaSuccess" : e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation"
                                                                             : "cudaErrorInvalidValue";
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;   /* the CPU, playing one device */
    return cudaSuccess;
}

template <typename T> inline cudaError_t cudaMalloc(T **p, size_t size_bytes)
{
    *p = (T *)std::malloc(size_bytes ? size_bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void *p)
{
    std::free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t size_bytes, cudaMemcpyKind)
{
    if (size_bytes)
        std::memmove(dst, src, size_bytes);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t size_bytes, cudaMemcpyKind kind,
                                   cudaStream_t = nullptr)
{
    return cudaMemcpy(dst, src, size_bytes, kind);
}
inline cudaError_t cudaMemset(void *p, int value, size_t size_bytes)
{
    std::memset(p, value, size_bytes);
    return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *p, int value, size_t size_bytes, cudaStream_t = nullptr)
{
    return cudaMemset(p, value, size_bytes);
}
template <typename T>
inline cudaError_t cudaMemcpyToSymbol(T &symbol, const void *src, size_t size_bytes, size_t offset = 0,
                                      cudaMemcpyKind = cudaMemcpyHostToDevice)
{
    std::memcpy((char *)&symbol + offset, src, size_bytes);
    return cudaSuccess;
}
template <typename T>
inline cudaError_t cudaMemcpyToSymbolAsync(T &symbol, const void *src, size_t size_bytes, size_t offset,
                                           cudaMemcpyKind kind, cudaStream_t = nullptr)
{
    return cudaMemcpyToSymbol(symbol, src, size_bytes, offset, kind);
}
inline cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    *s = nullptr;
    return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

#endif /* IG_CUDA_SHIM_H */
