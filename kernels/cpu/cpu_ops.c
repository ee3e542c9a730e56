/* cpu_ops.c — the CPU backend: the reference for every forward-pass operation.
 *
 * GEMM goes to OpenBLAS; the rest are plain loops in the order of the math, parallel
 * over tokens or heads with OpenMP (each output element is computed by one thread in a
 * fixed order, so results do not depend on the thread count). Formulas follow ggml's CPU
 * ops (ggml_rms_norm, ggml_rope in NORM/NEOX mode, soft_max, silu) so perplexities agree
 * with llama.cpp's.
 */
#include "../backend.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own threads spin while OpenMP's run (and the reverse): with both on, two
 * cores ran 35x slower than one. OpenBLAS is therefore kept single-threaded and the
 * parallelism is ours: OpenMP splits each GEMM by output columns. */
void cpu_set_threads(int n_threads)
{
    openblas_set_num_threads(1);
    if (n_threads > 0)
        omp_set_num_threads(n_threads);
}

/* Below this many multiply-adds one thread is faster than waking the others. */
#define MATMUL_PARALLEL_MIN (1 << 18)
/* Below this many elements an elementwise loop stays on one thread. */
#define LOOP_PARALLEL_MIN (1 << 16)

void cpu_matmul(const float *X, int64_t n, int64_t k, const float *W, int64_t m, const float *bias, float *Y)
{
    int n_threads = omp_get_max_threads();
    if (n_threads == 1 || n * k * m < MATMUL_PARALLEL_MIN || m < 2 * n_threads) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)k, 1.0f, X, (int)k, W, (int)k, 0.0f,
                    Y, (int)m);
    } else {
        /* columns [j0, j1) of Y = X · W[j0:j1]ᵀ; chunks rounded to 16 for aligned rows */
        int64_t step = ((m + n_threads - 1) / n_threads + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
        for (int64_t j0 = 0; j0 < m; j0 += step) {
            int64_t cols = m - j0 < step ? m - j0 : step;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)cols, (int)k, 1.0f, X, (int)k,
                        W + j0 * k, (int)k, 0.0f, Y + j0, (int)m);
        }
    }
    if (!bias)
        return;
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < m; j++)
            Y[t * m + j] += bias[j];
}

void cpu_rms_norm(const float *x, int64_t n, int64_t dim, const float *w, float eps, float *out)
{
#pragma omp parallel for schedule(static) if (n * dim >= LOOP_PARALLEL_MIN)
    for (int64_t t = 0; t < n; t++) {
        const float *xt = x + t * dim;
        float *ot = out + t * dim;
        double sum = 0.0;
        for (int64_t i = 0; i < dim; i++)
            sum += (double)(xt[i] * xt[i]);
        const float mean = (float)(sum / (double)dim);
        const float scale = 1.0f / sqrtf(mean + eps);
        for (int64_t i = 0; i < dim; i++)
            ot[i] = (xt[i] * scale) * w[i];
    }
}

void cpu_rope(float *x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0, float theta_base,
              enum rope_mode mode)
{
    const float theta_scale = powf(theta_base, -2.0f / (float)n_rot);
#pragma omp parallel for schedule(static) if (n * n_head * head_dim >= LOOP_PARALLEL_MIN)
    for (int64_t t = 0; t < n; t++) {
        /* ggml's rope cache: theta_i = pos * theta_scale^i, by repeated multiplication */
        float cache[2 * 512];
        float *cs = n_rot <= 1024 ? cache : malloc(sizeof(float) * (size_t)n_rot);
        float theta = (float)(pos0 + t);
        for (int64_t i = 0; i < n_rot / 2; i++) {
            cs[2 * i] = cosf(theta);
            cs[2 * i + 1] = sinf(theta);
            theta *= theta_scale;
        }
        for (int64_t h = 0; h < n_head; h++) {
            float *v = x + (t * n_head + h) * head_dim;
            for (int64_t i = 0; i < n_rot / 2; i++) {
                int64_t a = mode == ROPE_MODE_NEOX ? i : 2 * i;
                int64_t b = mode == ROPE_MODE_NEOX ? i + n_rot / 2 : 2 * i + 1;
                const float x0 = v[a], x1 = v[b];
                v[a] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
                v[b] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
            }
        }
        if (cs != cache)
            free(cs);
    }
}

void cpu_attention(const float *q, const float *k, const float *v, int64_t n, int64_t n_head, int64_t n_head_kv,
                   int64_t head_dim, float *out)
{
    const float scale = 1.0f / sqrtf((float)head_dim);
    const int64_t group = n_head / n_head_kv;
#pragma omp parallel if (n * n * n_head * head_dim >= MATMUL_PARALLEL_MIN)
    {
        float *p = malloc(sizeof(float) * (size_t)n);
#pragma omp for collapse(2) schedule(dynamic, 4)
        for (int64_t t = 0; t < n; t++) {
            for (int64_t h = 0; h < n_head; h++) {
                const float *qt = q + (t * n_head + h) * head_dim;
                const int64_t g = h / group;
                float max = -INFINITY;
                for (int64_t s = 0; s <= t; s++) {
                    const float *ks = k + (s * n_head_kv + g) * head_dim;
                    float dot = 0.0f;
                    for (int64_t i = 0; i < head_dim; i++)
                        dot += qt[i] * ks[i];
                    p[s] = dot * scale;
                    if (p[s] > max)
                        max = p[s];
                }
                double sum = 0.0;
                for (int64_t s = 0; s <= t; s++) {
                    p[s] = expf(p[s] - max);
                    sum += p[s];
                }
                const float inv = (float)(1.0 / sum);
                float *ot = out + (t * n_head + h) * head_dim;
                memset(ot, 0, sizeof(float) * (size_t)head_dim);
                for (int64_t s = 0; s <= t; s++) {
                    const float *vs = v + (s * n_head_kv + g) * head_dim;
                    const float w = p[s] * inv;
                    for (int64_t i = 0; i < head_dim; i++)
                        ot[i] += w * vs[i];
                }
            }
        }
        free(p);
    }
}

void cpu_swiglu(float *gate, const float *up, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= LOOP_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void cpu_add(float *x, const float *y, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= LOOP_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}
