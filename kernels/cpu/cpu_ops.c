/* cpu_ops.c — the CPU backend: the reference for every forward-pass operation, and the
 * table (backend.h) that also carries det_gemm.c's GEMM, XᵀX and Cholesky.
 *
 * GEMM goes to det_gemm.c, not OpenBLAS: OpenBLAS's bits depend on its run-time kernel
 * (OPENBLAS_CORETYPE, the CPU) and, split over threads, on the split, and ingot promises
 * the same bytes on any machine with any thread count. The rest are plain loops in the
 * order of the math, parallel over tokens or heads with OpenMP (each output element is
 * computed by one thread in a fixed order), with det_math.h's expf/sinf/cosf/powf, whose
 * bits, unlike glibc's (an FMA or a non-FMA build picked at run time), are the same on
 * every machine. Formulas follow ggml's CPU ops (ggml_rms_norm, ggml_rope in NORM/NEOX mode,
 * soft_max, silu) so perplexities agree with llama.cpp's.
 */
#include "../backend.h"

#include "../../common/ig_error.h"
#include "det_act.h"
#include "det_attention.h"
#include "det_gemm.h"
#include "det_math.h"
#include "q8_dot.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ingot no longer calls OpenBLAS on any path that decides a byte, but the library is still
 * linked (and may be by a caller): its own threads spin while OpenMP's run and slow both
 * many times over, so it is kept single-threaded. */
void cpu_set_threads(int n_threads)
{
    openblas_set_num_threads(1);
    if (n_threads > 0)
        omp_set_num_threads(n_threads);
}

/* Below this many multiply-adds one thread is faster than waking the others. */
#define ATTN_PARALLEL_MIN (1 << 18)
/* Below this many elements an elementwise loop stays on one thread. */
#define LOOP_PARALLEL_MIN (1 << 16)

static int cpu_matmul(const float *X, int64_t n, int64_t k, const float *W, int64_t m, const float *bias, float *Y)
{
    int rc = det_sgemm_nt(n, m, k, X, k, W, k, Y, m, DET_STORE, false);
    if (rc || !bias)
        return rc;
#pragma omp parallel for schedule(static) if (n * m >= LOOP_PARALLEL_MIN)
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < m; j++)
            Y[t * m + j] += bias[j];
    return 0;
}

/* W rows per tile of matmul_rows: a multiple of det_gemm's output-column tile (DET_S_NC), and
 * small (64 rows of an 11008-wide ffn_down are 2.8 MB) so a tile stays near the caches. */
#define MATMUL_ROWS_TILE 64

/* Tiles in parallel, each thread with its own buffer: a thread fills a tile, then multiplies it
 * with det_sgemm_nt, which runs on that one thread inside the team (omp_in_parallel). Y's columns
 * j0 .. j0 + nt - 1 are X · tileᵀ, the same fma chains as the whole matmul's. */
static int cpu_matmul_rows(const float *X, int64_t n, int64_t k, backend_rows_fn rows, void *rows_ctx, int64_t m,
                           const float *bias, float *Y)
{
    const int64_t n_tiles = (m + MATMUL_ROWS_TILE - 1) / MATMUL_ROWS_TILE;
    int n_threads = omp_get_max_threads();
    if (n_threads > n_tiles)
        n_threads = n_tiles > 0 ? (int)n_tiles : 1;
    /* [n_threads][MATMUL_ROWS_TILE][k], allocated before the team starts */
    float *tiles = ig_malloc((size_t)n_threads * MATMUL_ROWS_TILE * (size_t)(k > 0 ? k : 1) * sizeof *tiles);
    if (!tiles)
        return ig_error_set(IG_ENOMEM, "cpu_matmul_rows: no room for %d tiles of %d x %lld", n_threads,
                            MATMUL_ROWS_TILE, (long long)k);
    struct ig_par_error pe;   /* a worker's message would die with its thread */
    ig_par_error_init(&pe);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
    for (int64_t ti = 0; ti < n_tiles; ti++) {
        if (ig_par_error_skip(&pe, ti))
            continue;
        float *tile = tiles + (size_t)omp_get_thread_num() * MATMUL_ROWS_TILE * (size_t)k;
        const int64_t j0 = ti * MATMUL_ROWS_TILE, nt = m - j0 < MATMUL_ROWS_TILE ? m - j0 : MATMUL_ROWS_TILE;
        int rc = rows(rows_ctx, j0, nt, tile);
        if (!rc)
            rc = det_sgemm_nt(n, nt, k, X, k, tile, k, Y + j0, m, DET_STORE, false);
        if (rc) {
            ig_par_error_record(&pe, ti, rc);
            continue;
        }
        for (int64_t t = 0; bias && t < n; t++)
            for (int64_t j = j0; j < j0 + nt; j++)
                Y[t * m + j] += bias[j];
    }
    free(tiles);
    return ig_par_error_raise(&pe);
}

/* Σ_i (double)(x_i²) of four rows at once, one row per lane of a double vector: each lane adds
 * in i order, as the scalar loop does, so the sums are its bits; the four dependent chains
 * overlap instead of waiting on each other's additions. */
__attribute__((target("avx2"))) static void sum_squares4_avx2(const float *x, int64_t dim, double sum[4])
{
    __m256d acc = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        __m128 r0 = _mm_loadu_ps(x + i), r1 = _mm_loadu_ps(x + dim + i);
        __m128 r2 = _mm_loadu_ps(x + 2 * dim + i), r3 = _mm_loadu_ps(x + 3 * dim + i);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);   /* r_j: element i + j of the four rows */
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_mul_ps(r0, r0)));
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_mul_ps(r1, r1)));
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_mul_ps(r2, r2)));
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_mul_ps(r3, r3)));
    }
    for (; i < dim; i++) {
        const __m128 v = _mm_setr_ps(x[i], x[dim + i], x[2 * dim + i], x[3 * dim + i]);
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_mul_ps(v, v)));
    }
    _mm256_storeu_pd(sum, acc);
}

static void cpu_rms_norm(const float *x, int64_t n, int64_t dim, const float *w, float eps, float *out)
{
    const bool simd = det_simd_active();
#pragma omp parallel for schedule(static) if (n * dim >= LOOP_PARALLEL_MIN)
    for (int64_t t0 = 0; t0 < n; t0 += 4) {
        const int64_t nr = n - t0 < 4 ? n - t0 : 4;
        double sum[4] = {0.0, 0.0, 0.0, 0.0};
        if (simd && nr == 4)
            sum_squares4_avx2(x + t0 * dim, dim, sum);
        else
            for (int64_t r = 0; r < nr; r++)
                for (int64_t i = 0; i < dim; i++)
                    sum[r] += (double)(x[(t0 + r) * dim + i] * x[(t0 + r) * dim + i]);
        for (int64_t r = 0; r < nr; r++) {   /* every sum is taken before out (which may be x) is written */
            const float *xt = x + (t0 + r) * dim;
            float *ot = out + (t0 + r) * dim;
            const float mean = (float)(sum[r] / (double)dim);
            const float scale = 1.0f / sqrtf(mean + eps);
            for (int64_t i = 0; i < dim; i++)
                ot[i] = (xt[i] * scale) * w[i];
        }
    }
}

static int cpu_rope(float *x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0,
                    float theta_base, float freq_scale, const float *freq_factors, float mscale, enum rope_mode mode)
{
    const float theta_scale = det_powf(theta_base, -2.0f / (float)n_rot);
    const int64_t half = n_rot / 2;
    /* ggml's rope cache per position: theta_i = pos * theta_scale^i, by repeated
     * multiplication; cs [n][half][2] = cos, sin */
    float *cs = ig_malloc((size_t)(n * half > 0 ? n * half : 1) * 2 * sizeof *cs);
    if (!cs)
        return ig_error_set(IG_ENOMEM, "cpu_rope: no room for the %lld x %lld rotation table", (long long)n,
                            (long long)half);
#pragma omp parallel for schedule(static) if (n * n_head * head_dim >= LOOP_PARALLEL_MIN)
    for (int64_t t = 0; t < n; t++) {
        float *c = cs + t * half * 2;
        float theta = (float)(pos0 + t);
        for (int64_t i = 0; i < half; i++) {
            /* ggml_rope_cache_init: rope_yarn(theta / ff, freq_scale, ...) with ext_factor 0:
             * cos and sin times mscale */
            const float angle = freq_scale * (theta / (freq_factors ? freq_factors[i] : 1.0f));
            c[2 * i] = det_cosf(angle) * mscale;
            c[2 * i + 1] = det_sinf(angle) * mscale;
            theta *= theta_scale;
        }
        for (int64_t h = 0; h < n_head; h++) {
            float *v = x + (t * n_head + h) * head_dim;
            for (int64_t i = 0; i < half; i++) {
                int64_t a = mode == ROPE_MODE_NEOX ? i : 2 * i;
                int64_t b = mode == ROPE_MODE_NEOX ? i + half : 2 * i + 1;
                const float x0 = v[a], x1 = v[b];
                v[a] = x0 * c[2 * i] - x1 * c[2 * i + 1];
                v[b] = x0 * c[2 * i + 1] + x1 * c[2 * i];
            }
        }
    }
    free(cs);
    return 0;
}

static int cpu_attention_rows(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                              int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *out)
{
    /* fma chains in a fixed order, AVX2 or portable with the same bits (det_attention.h) */
    return det_attention_rows(q, k, v, pos0, n_new, n_head, n_head_kv, head_dim, out);
}

static int cpu_attention(const float *q, const float *k, const float *v, int64_t n, int64_t n_head,
                         int64_t n_head_kv, int64_t head_dim, float *out)
{
    return cpu_attention_rows(q, k, v, 0, n, n_head, n_head_kv, head_dim, out);
}

static void cpu_swiglu(float *gate, const float *up, int64_t n)
{
    /* e^−g for 256 elements at a time through det_expf_array (AVX2 lanes, same bits) */
#pragma omp parallel for schedule(static) if (n >= LOOP_PARALLEL_MIN)
    for (int64_t i0 = 0; i0 < n; i0 += 256) {
        float e[256];
        const int64_t m = n - i0 < 256 ? n - i0 : 256;
        for (int64_t i = 0; i < m; i++)
            e[i] = -gate[i0 + i];
        det_expf_array(e, e, m);
        for (int64_t i = 0; i < m; i++) {
            const float g = gate[i0 + i];
            gate[i0 + i] = g / (1.0f + e[i]) * up[i0 + i];
        }
    }
}

/* gemma's attention options, GeGLU and soft-capping: det_attention.h and det_act.h hold the
 * figures (their own files, since their tanh must not be glibc's either). */
static int cpu_attention_rows_ext(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                                  int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                                  const struct backend_attn_opts *opts, float *out)
{
    return det_attention_rows_ext(q, k, v, pos0, n_new, n_head, n_head_kv, head_dim, opts, out);
}

static void cpu_add(float *x, const float *y, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= LOOP_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* ---- the table ------------------------------------------------------------------------------ */

static int cpu_sgemm_nt(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb,
                        float *C, int64_t ldc, enum backend_acc acc)
{
    return det_sgemm_nt(m, n, k, A, lda, B, ldb, C, ldc, acc == BACKEND_SUB ? DET_SUB : DET_STORE, false);
}

static int cpu_dgemm_nt(int64_t m, int64_t n, int64_t k, const double *A, int64_t lda, const double *B, int64_t ldb,
                        double *C, int64_t ldc, enum backend_acc acc)
{
    return det_dgemm_nt(m, n, k, A, lda, B, ldb, C, ldc, acc == BACKEND_SUB ? DET_SUB : DET_STORE, false);
}

static const struct backend cpu_backend = {
    .name = "cpu",
    .set_threads = cpu_set_threads,
    .matmul = cpu_matmul,
    .matmul_rows = cpu_matmul_rows,
    .matmul_q8 = q8_matmul,
    .matmul_q8_supports = q8_matmul_supports,
    .rms_norm = cpu_rms_norm,
    .rope = cpu_rope,
    .attention = cpu_attention,
    .attention_rows = cpu_attention_rows,
    .swiglu = cpu_swiglu,
    .attention_rows_ext = cpu_attention_rows_ext,
    .geglu = det_geglu,
    .softcap = det_softcap,
    .add = cpu_add,
    .sgemm_nt = cpu_sgemm_nt,
    .dgemm_nt = cpu_dgemm_nt,
    .syrk_upper = det_ssyrk_upper,
    .inverse_cholesky_upper = det_inverse_cholesky_upper,
};

static const struct backend *active = &cpu_backend;

const struct backend *backend_cpu(void)
{
    return &cpu_backend;
}

const struct backend *backend_active(void)
{
    return active;
}

void backend_select(const struct backend *be)
{
    active = be ? be : &cpu_backend;
}
