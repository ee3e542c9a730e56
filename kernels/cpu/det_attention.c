/* det_attention.c — causal attention in fixed-order fma chains (see det_attention.h).
 *
 * AVX2 layout: the scores of one (row, head) run 8 keys per lane vector, 4 vectors at once
 * (independent chains, so the FMA latency overlaps), over a transposed copy of K (Kt
 * [n_head_kv][head_dim][keys, padded to 8]) so that each step loads 8 keys' i-th component;
 * the weighted sum of values runs 8 components per lane vector over s. Each lane is the
 * scalar chain of the portable loops, so the bits are equal.
 */
#include "det_attention.h"

#include "../../common/ig_error.h"
#include "det_gemm.h"
#include "det_math.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds one thread is faster than waking the others. */
#define ATTN_PARALLEL_MIN (1 << 18)
#define KEYS_PER_VEC 8

struct attn {
    const float *q, *k, *v;
    const float *kt;   /* [n_head_kv][head_dim][n_pad] (AVX2 only) */
    float *out;
    int64_t pos0, n_new, n_head, n_head_kv, hd, n_pad, group;
    float scale;
    bool simd;
};

/* ---- scores: p[s] = (q·k_s) · scale for s <= t -------------------------------------------- */

static void scores_portable(const struct attn *a, const float *qt, int64_t g, int64_t t, float *p)
{
    for (int64_t s = 0; s <= t; s++) {
        const float *ks = a->k + (s * a->n_head_kv + g) * a->hd;
        float acc = 0.0f;
        for (int64_t i = 0; i < a->hd; i++)
            acc = fmaf(qt[i], ks[i], acc);
        p[s] = acc * a->scale;
    }
}

/* Writes p[0 .. ceil((t + 1) / 8) · 8); the lanes past t are padding, never read. */
__attribute__((target("avx2,fma"))) static void scores_avx2(const struct attn *a, const float *qt, int64_t g, int64_t t,
                                                            float *p)
{
    const float *kt = a->kt + g * a->hd * a->n_pad;
    const int64_t nb = (t + KEYS_PER_VEC) / KEYS_PER_VEC, n_pad = a->n_pad;
    const __m256 scale = _mm256_set1_ps(a->scale);
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        const float *col = kt + b * KEYS_PER_VEC;
        for (int64_t i = 0; i < a->hd; i++) {
            const __m256 qi = _mm256_broadcast_ss(qt + i);
            const float *row = col + i * n_pad;
            c0 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(row), c0);
            c1 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(row + 8), c1);
            c2 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(row + 16), c2);
            c3 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(row + 24), c3);
        }
        float *ps = p + b * KEYS_PER_VEC;
        _mm256_storeu_ps(ps, _mm256_mul_ps(c0, scale));
        _mm256_storeu_ps(ps + 8, _mm256_mul_ps(c1, scale));
        _mm256_storeu_ps(ps + 16, _mm256_mul_ps(c2, scale));
        _mm256_storeu_ps(ps + 24, _mm256_mul_ps(c3, scale));
    }
    for (; b < nb; b++) {
        __m256 c0 = _mm256_setzero_ps();
        const float *col = kt + b * KEYS_PER_VEC;
        for (int64_t i = 0; i < a->hd; i++)
            c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(qt + i), _mm256_loadu_ps(col + i * n_pad), c0);
        _mm256_storeu_ps(p + b * KEYS_PER_VEC, _mm256_mul_ps(c0, scale));
    }
}

/* ---- out = Σ_s w[s] · v_s, s = 0 .. t ------------------------------------------------------- */

static void weighted_sum_portable(const struct attn *a, const float *w, int64_t g, int64_t t, int64_t i0, float *ot)
{
    const int64_t stride = a->n_head_kv * a->hd;
    const float *v = a->v + g * a->hd;
    for (int64_t i = i0; i < a->hd; i++) {
        float acc = 0.0f;
        for (int64_t s = 0; s <= t; s++)
            acc = fmaf(w[s], v[s * stride + i], acc);
        ot[i] = acc;
    }
}

__attribute__((target("avx2,fma"))) static void weighted_sum_avx2(const struct attn *a, const float *w, int64_t g,
                                                                  int64_t t, float *ot)
{
    const int64_t stride = a->n_head_kv * a->hd;
    const float *v = a->v + g * a->hd;
    int64_t i0 = 0;
    for (; i0 + 32 <= a->hd; i0 += 32) {
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        const float *vs = v + i0;
        for (int64_t s = 0; s <= t; s++, vs += stride) {
            const __m256 ws = _mm256_broadcast_ss(w + s);
            c0 = _mm256_fmadd_ps(ws, _mm256_loadu_ps(vs), c0);
            c1 = _mm256_fmadd_ps(ws, _mm256_loadu_ps(vs + 8), c1);
            c2 = _mm256_fmadd_ps(ws, _mm256_loadu_ps(vs + 16), c2);
            c3 = _mm256_fmadd_ps(ws, _mm256_loadu_ps(vs + 24), c3);
        }
        _mm256_storeu_ps(ot + i0, c0);
        _mm256_storeu_ps(ot + i0 + 8, c1);
        _mm256_storeu_ps(ot + i0 + 16, c2);
        _mm256_storeu_ps(ot + i0 + 24, c3);
    }
    for (; i0 + 8 <= a->hd; i0 += 8) {
        __m256 c0 = _mm256_setzero_ps();
        const float *vs = v + i0;
        for (int64_t s = 0; s <= t; s++, vs += stride)
            c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + s), _mm256_loadu_ps(vs), c0);
        _mm256_storeu_ps(ot + i0, c0);
    }
    weighted_sum_portable(a, w, g, t, i0, ot);   /* head_dim % 8 components */
}

/* ---- one (row, head) ------------------------------------------------------------------------- */

/* p: scratch of n_pad floats. */
static void attend(const struct attn *a, int64_t r, int64_t h, float *p)
{
    const int64_t t = a->pos0 + r, g = h / a->group;
    const float *qt = a->q + (r * a->n_head + h) * a->hd;
    if (a->simd)
        scores_avx2(a, qt, g, t, p);
    else
        scores_portable(a, qt, g, t, p);
    float max = -INFINITY;
    for (int64_t s = 0; s <= t; s++)
        if (p[s] > max)
            max = p[s];
    for (int64_t s = 0; s <= t; s++)
        p[s] -= max;
    det_expf_array(p, p, t + 1);
    double sum = 0.0;
    for (int64_t s = 0; s <= t; s++)
        sum += p[s];
    const float inv = (float)(1.0 / sum);
    for (int64_t s = 0; s <= t; s++)
        p[s] *= inv;
    float *ot = a->out + (r * a->n_head + h) * a->hd;
    if (a->simd)
        weighted_sum_avx2(a, p, g, t, ot);
    else
        weighted_sum_portable(a, p, g, t, 0, ot);
}

/* ---- the call ------------------------------------------------------------------------------------ */

int det_attention_rows(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new, int64_t n_head,
                       int64_t n_head_kv, int64_t head_dim, float *out)
{
    if (n_new <= 0)
        return 0;
    const int64_t n_keys = pos0 + n_new, n_pad = (n_keys + 31) / 32 * 32;
    struct attn a = {q, k, v, NULL, out, pos0, n_new, n_head, n_head_kv, head_dim, n_pad, n_head / n_head_kv,
                     1.0f / sqrtf((float)head_dim), det_simd_active()};
    const int nt = !omp_in_parallel() && n_new * n_keys * n_head * head_dim >= ATTN_PARALLEL_MIN
                       ? omp_get_max_threads()
                       : 1;
    /* [nt][n_pad] one row of scores per thread, then (AVX2) Kt */
    const size_t kt_elems = a.simd ? (size_t)(n_head_kv * head_dim * n_pad) : 0;
    float *buf = ig_malloc(((size_t)nt * (size_t)n_pad + kt_elems) * sizeof *buf);
    if (!buf)
        return ig_error_set(IG_ENOMEM, "det_attention_rows: no room for %d rows of %lld scores and K transposed",
                            nt, (long long)n_keys);
    if (a.simd) {
        float *kt = buf + (size_t)nt * (size_t)n_pad;
        for (int64_t g = 0; g < n_head_kv; g++)
            for (int64_t i = 0; i < head_dim; i++) {
                float *row = kt + (g * head_dim + i) * n_pad;
                for (int64_t s = 0; s < n_keys; s++)
                    row[s] = k[(s * n_head_kv + g) * head_dim + i];
                memset(row + n_keys, 0, sizeof *row * (size_t)(n_pad - n_keys));
            }
        a.kt = kt;
    }
    if (nt == 1) {
        for (int64_t r = 0; r < n_new; r++)
            for (int64_t h = 0; h < n_head; h++)
                attend(&a, r, h, buf);
    } else {
#pragma omp parallel for collapse(2) schedule(dynamic, 4) num_threads(nt)
        for (int64_t r = 0; r < n_new; r++)
            for (int64_t h = 0; h < n_head; h++)
                attend(&a, r, h, buf + (size_t)omp_get_thread_num() * (size_t)n_pad);
    }
    free(buf);
    return 0;
}

int det_attention_rows_ref(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                           int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *out)
{
    const float scale = 1.0f / sqrtf((float)head_dim);
    const int64_t group = n_head / n_head_kv;
    float *p = ig_malloc((size_t)(pos0 + n_new > 0 ? pos0 + n_new : 1) * sizeof *p);
    if (!p)
        return ig_error_set(IG_ENOMEM, "det_attention_rows_ref: no room for %lld scores", (long long)(pos0 + n_new));
    for (int64_t r = 0; r < n_new; r++)
        for (int64_t h = 0; h < n_head; h++) {
            const int64_t t = pos0 + r, g = h / group;
            const float *qt = q + (r * n_head + h) * head_dim;
            float max = -INFINITY;
            for (int64_t s = 0; s <= t; s++) {
                float dot = 0.0f;
                for (int64_t i = 0; i < head_dim; i++)
                    dot = fmaf(qt[i], k[(s * n_head_kv + g) * head_dim + i], dot);
                p[s] = dot * scale;
                max = p[s] > max ? p[s] : max;
            }
            double sum = 0.0;
            for (int64_t s = 0; s <= t; s++) {
                p[s] = det_expf(p[s] - max);
                sum += p[s];
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < head_dim; i++) {
                float acc = 0.0f;
                for (int64_t s = 0; s <= t; s++)
                    acc = fmaf(p[s] * inv, v[(s * n_head_kv + g) * head_dim + i], acc);
                out[(r * n_head + h) * head_dim + i] = acc;
            }
        }
    free(p);
    return 0;
}
