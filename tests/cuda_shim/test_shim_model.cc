/* test_shim_model.cc — the host-C++ shim itself (kernels/cuda/shim.h): the CUDA semantics the
 * kernels rely on must hold on CPU threads, or the shim tests would prove nothing. Each kernel
 * here is written as CUDA code would be, and launched through ig_shim_launch as IG_LAUNCH does.
 * Run under ThreadSanitizer by make tsan-cuda-shim: a missing barrier would be a report. */
#include "../../kernels/cuda/shim.h"

#include <criterion/criterion.h>

#include <atomic>
#include <vector>

Test(shim_model, every_thread_of_every_block_runs_once_with_its_coordinates)
{
    const dim3 grid(3, 2), block(4, 2, 2);
    std::vector<std::atomic<int>> seen(3 * 2 * 16);
    ig_shim_launch(grid, block, 0, [&] {
        const unsigned b = blockIdx.y * gridDim.x + blockIdx.x;
        const unsigned t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
        seen[b * 16 + t]++;
    });
    for (size_t i = 0; i < seen.size(); i++)
        cr_expect_eq(seen[i].load(), 1, "block %zu thread %zu ran %d times", i / 16, i % 16, seen[i].load());
}

/* Each thread writes its slot of shared memory, then, after __syncthreads, reads its
 * neighbour's: correct only if the barrier separates the phases. Blocks reuse the same shared
 * array, which must hold the current block's values. */
Test(shim_model, syncthreads_orders_shared_memory_within_each_block)
{
    const unsigned n = 32, blocks = 5;
    std::vector<unsigned> out(n * blocks);
    ig_shim_launch(dim3(blocks), dim3(n), 0, [&] {
        __shared__ unsigned s[32];
        s[threadIdx.x] = blockIdx.x * 1000 + threadIdx.x;
        __syncthreads();
        out[blockIdx.x * n + threadIdx.x] = s[(threadIdx.x + 1) % n];
        __syncthreads();
    });
    for (unsigned b = 0; b < blocks; b++)
        for (unsigned t = 0; t < n; t++)
            cr_expect_eq(out[b * n + t], b * 1000 + (t + 1) % n, "block %u thread %u", b, t);
}

Test(shim_model, atomics_are_exact_under_contention)
{
    int count = 0;
    float sum = 0.0f;
    unsigned long long lowest = ~0ull;
    ig_shim_launch(dim3(4), dim3(64), 0, [&] {
        const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
        atomicAdd(&count, 1);
        atomicAdd(&sum, 0.5f);   /* exact: every partial sum is a multiple of 0.5 below 2^23 */
        if (i % 7 == 3)
            atomicMin(&lowest, (unsigned long long)i);
    });
    cr_expect_eq(count, 256);
    cr_expect_eq(sum, 128.0f);
    cr_expect_eq(lowest, 3ull);
}

Test(shim_model, runtime_calls_move_host_memory)
{
    float *d = nullptr;
    cr_assert_eq(cudaMalloc(&d, 4 * sizeof(float)), cudaSuccess);
    const float in[4] = {1, 2, 3, 4};
    float back[4] = {0, 0, 0, 0};
    cr_expect_eq(cudaMemcpy(d, in, sizeof in, cudaMemcpyHostToDevice), cudaSuccess);
    cr_expect_eq(cudaMemcpy(back, d, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_expect_eq(back[3], 4.0f);
    int n = 0;
    cr_expect_eq(cudaGetDeviceCount(&n), cudaSuccess);
    cr_expect_eq(n, 1, "the shim plays one device");
    cudaFree(d);
}
