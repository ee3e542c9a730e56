/* quantize.cu — the reference quantizers and dequantizers on the GPU: one packed block (a
 * k-quant super-block) per thread, running the very IG_HD functions the CPU reference runs
 * (quantizers/q_legacy_block.h, k_quants_block.h, ext_block.h), so the bytes are the CPU's
 * by construction: nvcc builds this file with -fmad=false --prec-div=true --prec-sqrt=true
 * -ftz=false (Makefile), which makes every float operation of the device code the IEEE
 * operation the C code performs.
 *
 * Sits between convert/ (a tensor's rows, already on the device) and the GGUF writer (the
 * packed rows, copied back). The shim build (kernels/cuda/shim.h) runs the same kernels on
 * CPU threads for CI. Throughput is a later concern (bench/gpu_run.sh measures it): loads are
 * strided (thread i reads block i), not coalesced.
 */
#include "cuda_common.h"
#include "cuda_kernels.h"

#include "../../formats/ggml_type.h"
#include "../../quantizers/ext_block.h"
#include "../../quantizers/k_quants_block.h"
#include "../../quantizers/q_legacy_block.h"

/* Threads per CUDA block of the quantize kernels: a thread keeps its block's codes and weights
 * on its stack (up to 640 bytes, ptxas for sm_90, no spills), so a moderate block; not tuned
 * yet (bench/bench_cuda_quantize.c measures it). */
#define QUANTIZE_THREADS 64

/* Everything up to the extern "C" launchers has internal linkage: the shim build and the nvcc
 * build of this file sit in one test binary, and their kernels (and the weak symbols of the
 * templates) must not meet at link time. */
namespace {

/* ---- one struct per type: its block, its size and its IG_HD functions ------------------- */

/* Status of a block: 0, or QUANT_BAD (a non-finite weight, or a scale past fp16: only NF4
 * and the INT groups reject blocks; the ggml types write defined bytes for any input). */
#define QUANT_BAD 1

/* The legacy types' importance rule weighs by the ROW's sigma2 (quant_row_sigma2). */
#define LEGACY_OPS(NAME, BLOCK, ELEMS)                                                              \
    struct NAME##_ops {                                                                             \
        typedef BLOCK block;                                                                        \
        static const int elems = ELEMS;                                                             \
        static const bool row_sigma2 = true;                                                        \
        IG_HD static int quantize(const float *x, block *y, const float *qw, float sigma2)          \
        {                                                                                           \
            if (qw)                                                                                 \
                NAME##_block_quantize_imatrix_hd(x, y, qw, sigma2);                                 \
            else                                                                                    \
                NAME##_block_quantize_hd(x, y);                                                     \
            return 0;                                                                               \
        }                                                                                           \
        IG_HD static void dequantize(const block *x, float *y) { NAME##_block_dequantize_hd(x, y); } \
    };

LEGACY_OPS(q4_0, block_q4_0, QK4_0)
LEGACY_OPS(q4_1, block_q4_1, QK4_1)
LEGACY_OPS(q5_0, block_q5_0, QK5_0)
LEGACY_OPS(q5_1, block_q5_1, QK5_1)

/* Q8_0 ignores the importance matrix (as ggml and q8_0.c do); IQ4_NL's sigma2 is per block. */
struct q8_0_ops {
    typedef block_q8_0 block;
    static const int elems = QK8_0;
    static const bool row_sigma2 = false;
    IG_HD static int quantize(const float *x, block *y, const float *, float)
    {
        q8_0_block_quantize_hd(x, y);
        return 0;
    }
    IG_HD static void dequantize(const block *x, float *y) { q8_0_block_dequantize_hd(x, y); }
};

struct iq4_nl_ops {
    typedef block_iq4_nl block;
    static const int elems = QK4_NL;
    static const bool row_sigma2 = false;
    IG_HD static int quantize(const float *x, block *y, const float *qw, float)
    {
        iq4_nl_block_quantize_hd(x, y, qw);
        return 0;
    }
    IG_HD static void dequantize(const block *x, float *y) { iq4_nl_block_dequantize_hd(x, y); }
};

/* The k-quants weigh by each super-block's own sigma2. */
#define K_OPS(NAME, BLOCK)                                                                          \
    struct NAME##_ops {                                                                             \
        typedef BLOCK block;                                                                        \
        static const int elems = QK_K;                                                              \
        static const bool row_sigma2 = false;                                                       \
        IG_HD static int quantize(const float *x, block *y, const float *qw, float)                 \
        {                                                                                           \
            if (qw)                                                                                 \
                NAME##_block_quantize_imatrix_hd(x, qw, y);                                         \
            else                                                                                    \
                NAME##_block_quantize_hd(x, y);                                                     \
            return 0;                                                                               \
        }                                                                                           \
        IG_HD static void dequantize(const block *x, float *y) { NAME##_block_dequantize_hd(x, y); } \
    };

K_OPS(q2_k, block_q2_K)
K_OPS(q3_k, block_q3_K)
K_OPS(q4_k, block_q4_K)
K_OPS(q5_k, block_q5_K)
K_OPS(q6_k, block_q6_K)

/* NF4 and the INT groups reject non-finite weights (quant_ext_check_row on the CPU) and
 * scales past fp16; they ignore the importance matrix. */
IG_HD static int block_all_finite(const float *x, int n)
{
    for (int j = 0; j < n; j++)
        if (!ig_hd_isfinite(x[j]))
            return 0;
    return 1;
}

struct nf4_ops {
    typedef block_nf4 block;
    static const int elems = QK_NF4_SUPER;
    static const bool row_sigma2 = false;
    IG_HD static int quantize(const float *x, block *y, const float *, float)
    {
        if (!block_all_finite(x, elems) || nf4_block_quantize_hd(x, y))
            return QUANT_BAD;
        return 0;
    }
    IG_HD static void dequantize(const block *x, float *y) { nf4_block_dequantize_hd(x, y); }
};

struct nf4_f16_ops {
    typedef block_nf4_f16 block;
    static const int elems = QK_NF4;
    static const bool row_sigma2 = false;
    IG_HD static int quantize(const float *x, block *y, const float *, float)
    {
        if (!block_all_finite(x, elems) || nf4_f16_block_quantize_hd(x, y))
            return QUANT_BAD;
        return 0;
    }
    IG_HD static void dequantize(const block *x, float *y) { nf4_f16_block_dequantize_hd(x, y); }
};

template <typename BLOCK, int GROUP, int BITS> struct int_group_ops {
    typedef BLOCK block;
    static const int elems = GROUP;
    static const bool row_sigma2 = false;
    IG_HD static int quantize(const float *x, block *y, const float *, float)
    {
        if (!block_all_finite(x, elems) || int_group_block_quantize_hd(x, GROUP, BITS, (uint8_t *)y))
            return QUANT_BAD;
        return 0;
    }
    IG_HD static void dequantize(const block *x, float *y)
    {
        int_group_block_dequantize_hd((const uint8_t *)x, GROUP, BITS, y);
    }
};

typedef int_group_ops<block_i4_g32, 32, 4> i4_g32_ops;
typedef int_group_ops<block_i4_g64, 64, 4> i4_g64_ops;
typedef int_group_ops<block_i4_g128, 128, 4> i4_g128_ops;
typedef int_group_ops<block_i8_g32, 32, 8> i8_g32_ops;
typedef int_group_ops<block_i8_g64, 64, 8> i8_g64_ops;
typedef int_group_ops<block_i8_g128, 128, 8> i8_g128_ops;

/* ---- kernels ---------------------------------------------------------------------------- */

/* sigma2[r] = quant_row_sigma2 of row r: sum(x^2) in order, one thread per row. */
__global__ void row_sigma2_kernel(const float *x, int64_t n_rows, int64_t n_cols, float *sigma2)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n_rows)
        return;
    const float *xr = x + r * n_cols;
    float sum_x2 = 0;
    for (int64_t j = 0; j < n_cols; ++j)
        sum_x2 += xr[j] * xr[j];
    sigma2[r] = n_cols > 0 ? sum_x2 / (float)n_cols : 0.0f;
}

/* Block i of the tensor (row i / blocks_per_row) by thread i. A rejected block's index goes
 * into *first_bad (atomicMin: the lowest one, whatever the schedule). */
template <typename T>
__global__ void quantize_kernel(const float *x, typename T::block *y, int64_t n_blocks, int64_t blocks_per_row,
                                const float *imatrix, const float *sigma2, unsigned long long *first_bad)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_blocks)
        return;
    const int64_t row = i / blocks_per_row, col = (i % blocks_per_row) * T::elems;
    const float *qw = imatrix ? imatrix + col : NULL;
    const float s2 = sigma2 ? sigma2[row] : 0.0f;
    if (T::quantize(x + i * T::elems, &y[i], qw, s2))
        atomicMin(first_bad, (unsigned long long)i);
}

template <typename T>
__global__ void dequantize_kernel(const typename T::block *x, float *y, int64_t n_blocks)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_blocks)
        return;
    T::dequantize(&x[i], y + i * T::elems);
}

/* ---- launchers ---------------------------------------------------------------------------- */

/* The quantize launch of one type. Scratch (row sigma2, the status word) is allocated here;
 * a caller that quantizes many tensors may later want to pass it in. */
template <typename T>
static int quantize_launch(const char *type_name, const float *d_x, void *d_y, int64_t n_rows, int64_t n_cols,
                           const float *d_imatrix, cudaStream_t stream)
{
    const int64_t blocks_per_row = n_cols / T::elems, n_blocks = n_rows * blocks_per_row;
    float *d_sigma2 = NULL;
    unsigned long long *d_bad = NULL, bad = ~0ull;
    int rc = ig_cuda(cudaMalloc(&d_bad, sizeof *d_bad));
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(d_bad, &bad, sizeof bad, cudaMemcpyHostToDevice, stream));
    if (!rc && d_imatrix && T::row_sigma2 && n_rows > 0) {
        rc = ig_cuda(cudaMalloc(&d_sigma2, (size_t)n_rows * sizeof *d_sigma2));
        if (!rc) {
            IG_LAUNCH(row_sigma2_kernel, ig_cuda_grid(n_rows, 128), 128, stream, d_x, n_rows, n_cols, d_sigma2);
            rc = ig_cuda_launched("row_sigma2_kernel");
        }
    }
    if (!rc && n_blocks > 0) {
        IG_LAUNCH(quantize_kernel<T>, ig_cuda_grid(n_blocks, QUANTIZE_THREADS), QUANTIZE_THREADS, stream, d_x,
                  (typename T::block *)d_y, n_blocks, blocks_per_row, d_imatrix, d_sigma2, d_bad);
        rc = ig_cuda_launched("quantize_kernel");
    }
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(&bad, d_bad, sizeof bad, cudaMemcpyDeviceToHost, stream));
    if (!rc)
        rc = ig_cuda(cudaStreamSynchronize(stream));
    if (!rc && bad != ~0ull)
        rc = ig_error_set(IG_EINVAL, "cuda_quantize_rows: %s: row %lld, block %lld holds a non-finite weight "
                          "or needs a scale past fp16's 65504", type_name, (long long)(bad / blocks_per_row),
                          (long long)(bad % blocks_per_row));
    cudaFree(d_sigma2);
    cudaFree(d_bad);
    return rc;
}

template <typename T>
static int dequantize_launch(const void *d_src, float *d_y, int64_t n_rows, int64_t n_cols, cudaStream_t stream)
{
    const int64_t n_blocks = n_rows * (n_cols / T::elems);
    if (n_blocks == 0)
        return 0;
    IG_LAUNCH(dequantize_kernel<T>, ig_cuda_grid(n_blocks, 128), 128, stream, (const typename T::block *)d_src,
              d_y, n_blocks);
    return ig_cuda_launched("dequantize_kernel");
}

}  // namespace

/* X(GGML name, ops struct) for every supported type. */
#define CUDA_QUANT_TYPES(X)                                      \
    X(Q4_0, q4_0_ops)                                            \
    X(Q4_1, q4_1_ops)                                            \
    X(Q5_0, q5_0_ops)                                            \
    X(Q5_1, q5_1_ops)                                            \
    X(Q8_0, q8_0_ops)                                            \
    X(IQ4_NL, iq4_nl_ops)                                        \
    X(Q2_K, q2_k_ops)                                            \
    X(Q3_K, q3_k_ops)                                            \
    X(Q4_K, q4_k_ops)                                            \
    X(Q5_K, q5_k_ops)                                            \
    X(Q6_K, q6_k_ops)                                            \
    X(NF4, nf4_ops)                                              \
    X(NF4_F16, nf4_f16_ops)                                      \
    X(I4_G32, i4_g32_ops)                                        \
    X(I4_G64, i4_g64_ops)                                        \
    X(I4_G128, i4_g128_ops)                                      \
    X(I8_G32, i8_g32_ops)                                        \
    X(I8_G64, i8_g64_ops)                                        \
    X(I8_G128, i8_g128_ops)

static int quant_shape_check(const char *fn, const char *type_name, int64_t elems, int64_t n_rows, int64_t n_cols)
{
    if (n_rows >= 0 && n_cols >= 0 && n_cols % elems == 0)
        return 0;
    return ig_error_set(IG_EINVAL, "%s: %s: %lld rows of %lld columns: columns must be a whole number of "
                        "%lld-element blocks", fn, type_name, (long long)n_rows, (long long)n_cols, (long long)elems);
}

extern "C" int cuda_quantize_supports(int type_id)
{
    switch (type_id) {
#define X(NAME, OPS) case GGML_TYPE_##NAME:
        CUDA_QUANT_TYPES(X)
#undef X
        return 1;
    default:
        return 0;
    }
}

extern "C" int cuda_quantize_rows(int type_id, const float *d_x, void *d_y, int64_t n_rows, int64_t n_cols,
                                  const float *d_imatrix, void *stream)
{
    static const char fn[] = "cuda_quantize_rows";
    switch (type_id) {
#define X(NAME, OPS)                                                                                    \
    case GGML_TYPE_##NAME: {                                                                            \
        typedef OPS ops;                                                                                \
        int rc = quant_shape_check(fn, #NAME, ops::elems, n_rows, n_cols);                              \
        return rc ? rc : quantize_launch<ops>(#NAME, d_x, d_y, n_rows, n_cols, d_imatrix, (cudaStream_t)stream); \
    }
        CUDA_QUANT_TYPES(X)
#undef X
    default:
        return ig_error_set(IG_EINVAL, "%s: type id %d has no CUDA quantizer", fn, type_id);
    }
}

extern "C" int cuda_dequantize_rows(int type_id, const void *d_src, float *d_y, int64_t n_rows, int64_t n_cols,
                                    void *stream)
{
    static const char fn[] = "cuda_dequantize_rows";
    switch (type_id) {
#define X(NAME, OPS)                                                                                    \
    case GGML_TYPE_##NAME: {                                                                            \
        typedef OPS ops;                                                                                \
        int rc = quant_shape_check(fn, #NAME, ops::elems, n_rows, n_cols);                              \
        return rc ? rc : dequantize_launch<ops>(d_src, d_y, n_rows, n_cols, (cudaStream_t)stream);     \
    }
        CUDA_QUANT_TYPES(X)
#undef X
    default:
        return ig_error_set(IG_EINVAL, "%s: type id %d has no CUDA dequantizer", fn, type_id);
    }
}
