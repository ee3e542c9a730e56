/* ops.cu — the forward-pass operations of kernels/cpu/cpu_ops.c on the GPU: RMSNorm, RoPE,
 * SwiGLU and causal attention rows, each computing the CPU backend's figures in the CPU's
 * order, so the bits are equal (nvcc builds this file with -fmad=false --prec-div=true
 * --prec-sqrt=true -ftz=false, and fmaf is IEEE's fused multiply-add on both sides).
 *
 * Where exactness costs parallelism it says so: a sum the CPU takes in order (RMSNorm's and
 * softmax's, in double) is taken in order by one thread. Transcendentals are det_math.h's:
 * RoPE's table is computed on the host by det_cosf/det_sinf/det_powf themselves, and det_expf
 * (a few double operations and a 32-entry table) is transcribed below as an IG_HD function,
 * its table uploaded from kernels/cpu/det_math.c; tests/cuda_shim compare it with det_expf.
 * The shim build (kernels/cuda/shim.h) runs the same kernels on CPU threads for CI. All but the
 * extern "C" launchers are static: the shim and nvcc builds of this file meet in one test binary.
 */
#include "cuda_common.h"
#include "cuda_kernels.h"

#include "../../common/ig_hd.h"
#include "../backend.h"
#include "../cpu/det_math.h"

#include <math.h>
#include <stdlib.h>

/* ---- det_expf on both sides --------------------------------------------------------------- */

/* 2^(j/32) for the device, uploaded from det_exp2_table before each launch that reads it
 * (the host side, and the shim, read det_exp2_table itself). */
static __constant__ double exp2_table_dev[32];

/* det_expf (kernels/cpu/det_math.h), operation for operation: x = (32k + j)·ln2/32 + r,
 * e^x = 2^(k>>5) · 2^(j/32) · e^r with e^r to r^4/4!. Keep in step with det_math.h. */
IG_HD static inline float ig_det_expf(float x)
{
    if (x != x)
        return x + x;
    if (x > 100.0f)
        return INFINITY;
    if (x < -110.0f)
        return 0.0f;
    const double d = (double)x, magic = 0x1.8p52;
    const double kd = (d * 0x1.71547652b82fep5 + magic) - magic;
    const double r = (d - kd * 0x1.62e42feep-6) - kd * 0x1.a39ef35793c76p-38;
    const int64_t k = (int64_t)kd;
    double p = 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    const uint64_t bits = (uint64_t)((k >> 5) + 1023) << 52;
#if defined(__CUDA_ARCH__)
    const double scale = __longlong_as_double((long long)bits);
    return (float)(p * exp2_table_dev[k & 31] * scale);
#else
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return (float)(p * det_exp2_table[k & 31] * scale);
#endif
}

static int exp_table_upload(cudaStream_t stream)
{
    return ig_cuda(cudaMemcpyToSymbolAsync(exp2_table_dev, det_exp2_table, sizeof exp2_table_dev, 0,
                                           cudaMemcpyHostToDevice, stream));
}

/* ---- RMSNorm ------------------------------------------------------------------------------ */

#define NORM_THREADS 256

/* One CUDA block per row: thread 0 sums x² in double in order (the CPU's sum, bit for bit),
 * then every thread scales its share of the row. */
static __global__ void rms_norm_kernel(const float *x, int64_t dim, const float *w, float eps, float *out)
{
    __shared__ float scale_s;
    const float *xt = x + (int64_t)blockIdx.x * dim;
    float *ot = out + (int64_t)blockIdx.x * dim;
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (int64_t i = 0; i < dim; i++)
            sum += (double)(xt[i] * xt[i]);
        const float mean = (float)(sum / (double)dim);
        scale_s = 1.0f / sqrtf(mean + eps);
    }
    __syncthreads();
    const float scale = scale_s;
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
        ot[i] = (xt[i] * scale) * w[i];
}

extern "C" int cuda_rms_norm(const float *d_x, int64_t n, int64_t dim, const float *d_w, float eps, float *d_out,
                             void *stream)
{
    if (n < 0 || dim <= 0 || n > 0x7fffffff)
        return ig_error_set(IG_EINVAL, "cuda_rms_norm: %lld rows of %lld (rows 0 .. 2^31 - 1, dim > 0)",
                            (long long)n, (long long)dim);
    if (n == 0)
        return 0;
    IG_LAUNCH(rms_norm_kernel, (unsigned)n, NORM_THREADS, (cudaStream_t)stream, d_x, dim, d_w, eps, d_out);
    return ig_cuda_launched("rms_norm_kernel");
}

/* ---- RoPE --------------------------------------------------------------------------------- */

/* One thread per (token, head, pair): rotate by the table's (cos, sin). cs: [n][half][2]. */
static __global__ void rope_kernel(float *x, int64_t n, int64_t n_head, int64_t head_dim, int64_t half, const float *cs,
                            int neox)
{
    const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n * n_head * half)
        return;
    const int64_t i = idx % half, th = idx / half, t = th / n_head;
    float *v = x + th * head_dim;
    const float c = cs[(t * half + i) * 2], s = cs[(t * half + i) * 2 + 1];
    const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

/* cpu_rope's table, computed the same way: theta_i = pos · theta_scale^i by repeated
 * multiplication, angle = freq_scale · (theta / ff_i), then det_cosf / det_sinf, times mscale. */
static void rope_table(float *cs, int64_t n, int64_t half, int64_t n_rot, int64_t pos0, float theta_base,
                       float freq_scale, const float *freq_factors, float mscale)
{
    const float theta_scale = det_powf(theta_base, -2.0f / (float)n_rot);
    for (int64_t t = 0; t < n; t++) {
        float *c = cs + t * half * 2;
        float theta = (float)(pos0 + t);
        for (int64_t i = 0; i < half; i++) {
            const float angle = freq_scale * (theta / (freq_factors ? freq_factors[i] : 1.0f));
            c[2 * i] = det_cosf(angle) * mscale;
            c[2 * i + 1] = det_sinf(angle) * mscale;
            theta *= theta_scale;
        }
    }
}

extern "C" int cuda_rope(float *d_x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0,
                         float theta_base, float freq_scale, const float *freq_factors, float mscale, int mode,
                         void *stream)
{
    if (n < 0 || n_head <= 0 || n_rot <= 0 || n_rot > head_dim || n_rot % 2 != 0)
        return ig_error_set(IG_EINVAL, "cuda_rope: n %lld, n_head %lld, n_rot %lld of head_dim %lld (n_rot even, "
                            "0 < n_rot <= head_dim)", (long long)n, (long long)n_head, (long long)n_rot,
                            (long long)head_dim);
    const int64_t half = n_rot / 2;
    if (n == 0)
        return 0;
    const size_t table_bytes = (size_t)n * (size_t)half * 2 * sizeof(float);
    float *cs = (float *)ig_malloc(table_bytes), *d_cs = NULL;
    if (!cs)
        return ig_error_set(IG_ENOMEM, "cuda_rope: no room for the %lld x %lld rotation table", (long long)n,
                            (long long)half);
    rope_table(cs, n, half, n_rot, pos0, theta_base, freq_scale, freq_factors, mscale);
    int rc = ig_cuda(cudaMalloc(&d_cs, table_bytes));
    if (!rc)
        rc = ig_cuda(cudaMemcpy(d_cs, cs, table_bytes, cudaMemcpyHostToDevice));
    if (!rc) {
        IG_LAUNCH(rope_kernel, ig_cuda_grid(n * n_head * half, 256), 256, (cudaStream_t)stream, d_x, n, n_head,
                  head_dim, half, d_cs, mode == ROPE_MODE_NEOX);
        rc = ig_cuda_launched("rope_kernel");
    }
    if (!rc)
        rc = ig_cuda(cudaStreamSynchronize((cudaStream_t)stream));   /* before d_cs is freed */
    cudaFree(d_cs);
    free(cs);
    return rc;
}

/* ---- SwiGLU -------------------------------------------------------------------------------- */

static __global__ void swiglu_kernel(float *gate, const float *up, int64_t n)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    const float g = gate[i];
    gate[i] = g / (1.0f + ig_det_expf(-g)) * up[i];
}

static __global__ void expf_kernel(const float *x, float *y, int64_t n)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = ig_det_expf(x[i]);
}

extern "C" int cuda_swiglu(float *d_gate, const float *d_up, int64_t n, void *stream)
{
    if (n <= 0)
        return n == 0 ? 0 : ig_error_set(IG_EINVAL, "cuda_swiglu: %lld elements", (long long)n);
    int rc = exp_table_upload((cudaStream_t)stream);
    if (rc)
        return rc;
    IG_LAUNCH(swiglu_kernel, ig_cuda_grid(n, 256), 256, (cudaStream_t)stream, d_gate, d_up, n);
    return ig_cuda_launched("swiglu_kernel");
}

extern "C" int cuda_expf_array(const float *d_x, float *d_y, int64_t n, void *stream)
{
    if (n <= 0)
        return n == 0 ? 0 : ig_error_set(IG_EINVAL, "cuda_expf_array: %lld elements", (long long)n);
    int rc = exp_table_upload((cudaStream_t)stream);
    if (rc)
        return rc;
    IG_LAUNCH(expf_kernel, ig_cuda_grid(n, 256), 256, (cudaStream_t)stream, d_x, d_y, n);
    return ig_cuda_launched("expf_kernel");
}

/* ---- attention rows ------------------------------------------------------------------------ */

#define ATTN_THREADS 128
/* Bytes of score rows one launch may hold; longer work is split into launches over rows. */
#define ATTN_SCRATCH_BYTES ((size_t)64 << 20)

/* One CUDA block per (row r, head h) of rows r0 ..: row t = pos0 + r sees keys 0 .. t.
 * p: [rows of this launch][n_head][n_keys] scratch. The scores and the weighted sums are
 * independent fma chains (over i, over s), so threads split them; the max and the double sum
 * are taken in key order by thread 0, as det_attention.c does. */
static __global__ void attention_kernel(const float *q, const float *k, const float *v, int64_t pos0, int64_t r0,
                                 int64_t n_head, int64_t n_head_kv, int64_t hd, int64_t n_keys, float scale, float *p,
                                 float *out)
{
    __shared__ float max_s, inv_s;
    const int64_t r = r0 + blockIdx.x / n_head, h = blockIdx.x % n_head;
    const int64_t t = pos0 + r, g = h / (n_head / n_head_kv), stride = n_head_kv * hd;
    const float *qt = q + (r * n_head + h) * hd;
    float *pr = p + (int64_t)blockIdx.x * n_keys;
    for (int64_t s = threadIdx.x; s <= t; s += blockDim.x) {
        const float *ks = k + s * stride + g * hd;
        float acc = 0.0f;
        for (int64_t i = 0; i < hd; i++)
            acc = fmaf(qt[i], ks[i], acc);
        pr[s] = acc * scale;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float max = -INFINITY;
        for (int64_t s = 0; s <= t; s++)
            if (pr[s] > max)
                max = pr[s];
        max_s = max;
    }
    __syncthreads();
    for (int64_t s = threadIdx.x; s <= t; s += blockDim.x)
        pr[s] = ig_det_expf(pr[s] - max_s);
    __syncthreads();
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (int64_t s = 0; s <= t; s++)
            sum += pr[s];
        inv_s = (float)(1.0 / sum);
    }
    __syncthreads();
    for (int64_t s = threadIdx.x; s <= t; s += blockDim.x)
        pr[s] *= inv_s;
    __syncthreads();
    float *ot = out + (r * n_head + h) * hd;
    const float *vg = v + g * hd;
    for (int64_t i = threadIdx.x; i < hd; i += blockDim.x) {
        float acc = 0.0f;
        for (int64_t s = 0; s <= t; s++)
            acc = fmaf(pr[s], vg[s * stride + i], acc);
        ot[i] = acc;
    }
}

extern "C" int cuda_attention_rows(const float *d_q, const float *d_k, const float *d_v, int64_t pos0, int64_t n_new,
                                   int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *d_out, void *stream)
{
    if (pos0 < 0 || n_new < 0 || n_head <= 0 || n_head_kv <= 0 || n_head % n_head_kv != 0 || head_dim <= 0)
        return ig_error_set(IG_EINVAL, "cuda_attention_rows: pos0 %lld, n_new %lld, n_head %lld, n_head_kv %lld, "
                            "head_dim %lld (n_head a multiple of n_head_kv)", (long long)pos0, (long long)n_new,
                            (long long)n_head, (long long)n_head_kv, (long long)head_dim);
    if (n_new == 0)
        return 0;
    const int64_t n_keys = pos0 + n_new;
    const size_t row_bytes = (size_t)n_head * (size_t)n_keys * sizeof(float);
    int64_t chunk = (int64_t)(ATTN_SCRATCH_BYTES / row_bytes);
    chunk = chunk < 1 ? 1 : chunk > n_new ? n_new : chunk;
    if (chunk * n_head > 0x7fffffff)
        chunk = 0x7fffffff / n_head;
    const float scale = 1.0f / sqrtf((float)head_dim);   /* det_attention.c's score_scale */
    float *d_p = NULL;
    int rc = exp_table_upload((cudaStream_t)stream);
    if (!rc)
        rc = ig_cuda(cudaMalloc(&d_p, (size_t)chunk * row_bytes));
    for (int64_t r0 = 0; !rc && r0 < n_new; r0 += chunk) {
        const int64_t rows = n_new - r0 < chunk ? n_new - r0 : chunk;
        IG_LAUNCH(attention_kernel, (unsigned)(rows * n_head), ATTN_THREADS, (cudaStream_t)stream, d_q, d_k, d_v,
                  pos0, r0, n_head, n_head_kv, head_dim, n_keys, scale, d_p, d_out);
        rc = ig_cuda_launched("attention_kernel");
    }
    if (!rc)
        rc = ig_cuda(cudaStreamSynchronize((cudaStream_t)stream));   /* before d_p is freed */
    cudaFree(d_p);
    return rc;
}
