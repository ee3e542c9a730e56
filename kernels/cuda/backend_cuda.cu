/* backend_cuda.cu — the CUDA backend behind kernels/backend.h: a skeleton. Not yet selectable
 * (cuda_device.c refuses --device cuda until the device equivalence suite has passed on a GPU).
 *
 * What is here: matmul and matmul_rows as cuBLAS SGEMM (Y = X·Wᵀ, row-major, computed as the
 * column-major Yᵀ = W·Xᵀ), with one cuBLAS handle and one stream per process; every other entry
 * is the CPU backend's, copied from backend_cpu(), so the table is always complete whatever
 * fields backend.h gains. The SGEMM's sums run in cuBLAS's order, not det_gemm's, so its
 * outputs differ from the CPU's in the last bits: the equivalence test for it must state a
 * tolerance (k·2^-24·Σ|x||w| per element is the bound to start from). backend.h's functions
 * take host memory, so each call uploads its operands and downloads Y: correct, and slow; the
 * streaming design (issue 16, item 4: one transformer block's weights on the device, the next
 * one uploading on a second stream) replaces this with per-block device arenas.
 * nvcc only (cuBLAS has no shim): the Makefile leaves this file out of the shim build.
 */
#include "cuda_common.h"

#include "../backend.h"

#include <cublas_v2.h>
#include <stdlib.h>

/* ---- the handle ------------------------------------------------------------------------------- */

static cublasHandle_t be_handle;
static cudaStream_t be_stream;

static int cublas_check(cublasStatus_t s, const char *call, const char *func)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    return ig_error_set(IG_ENODEV, "%s: %s: cuBLAS status %d", func, call, (int)s);
}

/* Created on first use; the pedantic math mode keeps cuBLAS from using TF32 for SGEMM. */
static int be_init(void)
{
    if (be_handle)
        return 0;
    int rc = ig_cuda(cudaStreamCreate(&be_stream));
    if (!rc)
        rc = cublas_check(cublasCreate(&be_handle), "cublasCreate", __func__);
    if (!rc)
        rc = cublas_check(cublasSetStream(be_handle, be_stream), "cublasSetStream", __func__);
    if (!rc)
        rc = cublas_check(cublasSetMathMode(be_handle, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode", __func__);
    return rc;
}

/* ---- GEMM --------------------------------------------------------------------------------------- */

/* d_Y [n][m] = d_X [n][k] · d_W [m][k]ᵀ, all device memory, row-major. */
static int sgemm_xwt(const float *d_X, int64_t n, int64_t k, const float *d_W, int64_t m, float *d_Y, int64_t ldy)
{
    const float one = 1.0f, zero = 0.0f;
    return cublas_check(cublasSgemm(be_handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, (int)n, (int)k, &one, d_W, (int)k,
                                    d_X, (int)k, &zero, d_Y, (int)ldy),
                        "cublasSgemm", __func__);
}

static int shape_check(const char *fn, int64_t n, int64_t k, int64_t m)
{
    if (n >= 0 && k > 0 && m >= 0 && n <= 0x7fffffff && k <= 0x7fffffff && m <= 0x7fffffff)
        return 0;
    return ig_error_set(IG_EINVAL, "%s: X [%lld][%lld], W [%lld][%lld]: cuBLAS takes dimensions below 2^31",
                        fn, (long long)n, (long long)k, (long long)m, (long long)k);
}

static void add_bias(float *Y, int64_t n, int64_t m, const float *bias)
{
    for (int64_t t = 0; bias && t < n; t++)
        for (int64_t j = 0; j < m; j++)
            Y[t * m + j] += bias[j];
}

static int cuda_be_matmul(const float *X, int64_t n, int64_t k, const float *W, int64_t m, const float *bias,
                          float *Y)
{
    int rc = shape_check(__func__, n, k, m);
    if (rc || n == 0 || m == 0)
        return rc;
    float *d_X = NULL, *d_W = NULL, *d_Y = NULL;
    rc = be_init();
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_X, (size_t)(n * k) * sizeof(float)));
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_W, (size_t)(m * k) * sizeof(float)));
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_Y, (size_t)(n * m) * sizeof(float)));
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(d_X, X, (size_t)(n * k) * sizeof(float), cudaMemcpyHostToDevice, be_stream));
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(d_W, W, (size_t)(m * k) * sizeof(float), cudaMemcpyHostToDevice, be_stream));
    if (!rc)
        rc = sgemm_xwt(d_X, n, k, d_W, m, d_Y, m);
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(Y, d_Y, (size_t)(n * m) * sizeof(float), cudaMemcpyDeviceToHost, be_stream));
    if (!rc)
        rc = ig_cuda(cudaStreamSynchronize(be_stream));
    cudaFree(d_Y);
    cudaFree(d_W);
    cudaFree(d_X);
    if (!rc)
        add_bias(Y, n, m, bias);   /* after the sum, as the CPU backend */
    return rc;
}

/* Tiles of W's rows, as the CPU backend: fill on the host, upload, one SGEMM into Y's columns. */
#define CUDA_ROWS_TILE 256

static int cuda_be_matmul_rows(const float *X, int64_t n, int64_t k, backend_rows_fn rows, void *rows_ctx, int64_t m,
                               const float *bias, float *Y)
{
    int rc = shape_check(__func__, n, k, m);
    if (rc || n == 0 || m == 0)
        return rc;
    float *tile = (float *)ig_malloc((size_t)CUDA_ROWS_TILE * (size_t)k * sizeof(float));
    if (!tile)
        return ig_error_set(IG_ENOMEM, "%s: no room for a %d x %lld tile", __func__, CUDA_ROWS_TILE, (long long)k);
    float *d_X = NULL, *d_T = NULL, *d_Y = NULL;
    rc = be_init();
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_X, (size_t)(n * k) * sizeof(float)));
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_T, (size_t)CUDA_ROWS_TILE * (size_t)k * sizeof(float)));
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_Y, (size_t)(n * m) * sizeof(float)));
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(d_X, X, (size_t)(n * k) * sizeof(float), cudaMemcpyHostToDevice, be_stream));
    for (int64_t j0 = 0; !rc && j0 < m; j0 += CUDA_ROWS_TILE) {
        const int64_t nt = m - j0 < CUDA_ROWS_TILE ? m - j0 : CUDA_ROWS_TILE;
        rc = ig_cuda(cudaStreamSynchronize(be_stream));   /* the previous tile's upload is done */
        if (!rc)
            rc = rows(rows_ctx, j0, nt, tile);
        if (!rc)
            rc = ig_cuda(cudaMemcpyAsync(d_T, tile, (size_t)(nt * k) * sizeof(float), cudaMemcpyHostToDevice,
                                         be_stream));
        if (!rc)
            rc = sgemm_xwt(d_X, n, k, d_T, nt, d_Y + j0, m);
    }
    if (!rc)
        rc = ig_cuda(cudaMemcpyAsync(Y, d_Y, (size_t)(n * m) * sizeof(float), cudaMemcpyDeviceToHost, be_stream));
    if (!rc)
        rc = ig_cuda(cudaStreamSynchronize(be_stream));
    cudaFree(d_Y);
    cudaFree(d_T);
    cudaFree(d_X);
    free(tile);
    if (!rc)
        add_bias(Y, n, m, bias);
    return rc;
}

/* ---- the table ----------------------------------------------------------------------------------- */

extern "C" const struct backend *backend_cuda(void)
{
    static struct backend be;
    if (!be.name) {
        be = *backend_cpu();
        be.matmul = cuda_be_matmul;
        be.matmul_rows = cuda_be_matmul_rows;
        be.name = "cuda";
    }
    return &be;
}
