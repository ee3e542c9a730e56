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
#include "det_act.h"
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
    float softcap;     /* > 0: scores soft-capped (struct backend_attn_opts) */
    int64_t window;    /* > 0: row t sees keys t - window + 1 .. t */
    bool simd;
};

/* The first key row t sees: 0, or t - window + 1 under a sliding window. */
static int64_t first_key(int64_t t, int64_t window)
{
    return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

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

static void weighted_sum_portable(const struct attn *a, const float *w, int64_t g, int64_t s0, int64_t t, int64_t i0,
                                  float *ot)
{
    const int64_t stride = a->n_head_kv * a->hd;
    const float *v = a->v + g * a->hd;
    for (int64_t i = i0; i < a->hd; i++) {
        float acc = 0.0f;
        for (int64_t s = s0; s <= t; s++)
            acc = fmaf(w[s], v[s * stride + i], acc);
        ot[i] = acc;
    }
}

__attribute__((target("avx2,fma"))) static void weighted_sum_avx2(const struct attn *a, const float *w, int64_t g,
                                                                  int64_t s0, int64_t t, float *ot)
{
    const int64_t stride = a->n_head_kv * a->hd;
    const float *v = a->v + g * a->hd;
    int64_t i0 = 0;
    for (; i0 + 32 <= a->hd; i0 += 32) {
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        const float *vs = v + s0 * stride + i0;
        for (int64_t s = s0; s <= t; s++, vs += stride) {
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
        const float *vs = v + s0 * stride + i0;
        for (int64_t s = s0; s <= t; s++, vs += stride)
            c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + s), _mm256_loadu_ps(vs), c0);
        _mm256_storeu_ps(ot + i0, c0);
    }
    weighted_sum_portable(a, w, g, s0, t, i0, ot);   /* head_dim % 8 components */
}

/* ---- one (row, head) ------------------------------------------------------------------------- */

/* p: scratch of n_pad floats. */
static void attend(const struct attn *a, int64_t r, int64_t h, float *p)
{
    const int64_t t = a->pos0 + r, g = h / a->group, s0 = first_key(t, a->window);
    const float *qt = a->q + (r * a->n_head + h) * a->hd;
    if (a->simd)
        scores_avx2(a, qt, g, t, p);
    else
        scores_portable(a, qt, g, t, p);
    /* keys before s0 are masked: they take no part from here on */
    for (int64_t s = s0; s <= t && a->softcap > 0; s++)
        p[s] = det_softcapf(p[s], a->softcap);
    float max = -INFINITY;
    for (int64_t s = s0; s <= t; s++)
        if (p[s] > max)
            max = p[s];
    for (int64_t s = s0; s <= t; s++)
        p[s] -= max;
    det_expf_array(p + s0, p + s0, t + 1 - s0);
    double sum = 0.0;
    for (int64_t s = s0; s <= t; s++)
        sum += p[s];
    const float inv = (float)(1.0 / sum);
    for (int64_t s = s0; s <= t; s++)
        p[s] *= inv;
    float *ot = a->out + (r * a->n_head + h) * a->hd;
    if (a->simd)
        weighted_sum_avx2(a, p, g, s0, t, ot);
    else
        weighted_sum_portable(a, p, g, s0, t, 0, ot);
}

/* ---- two heads of one row at once (AVX2) ------------------------------------------------------------ */

/* Two heads side by side give each step twice the independent chains (the FMA and double-add
 * latencies overlap), every chain the one attend() runs, in its order, so the bits are the same. */

/* scores_avx2 for heads A and B (their q rows qa, qb, kv heads ga, gb) into pa, pb. */
__attribute__((target("avx2,fma"))) static void scores2_avx2(const struct attn *a, const float *qa, const float *qb,
                                                             int64_t ga, int64_t gb, int64_t t, float *pa, float *pb)
{
    const float *kta = a->kt + ga * a->hd * a->n_pad, *ktb = a->kt + gb * a->hd * a->n_pad;
    const int64_t nb = (t + KEYS_PER_VEC) / KEYS_PER_VEC, n_pad = a->n_pad;
    const __m256 scale = _mm256_set1_ps(a->scale);
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        __m256 c[8];
        for (int j = 0; j < 8; j++)
            c[j] = _mm256_setzero_ps();
        const float *cola = kta + b * KEYS_PER_VEC, *colb = ktb + b * KEYS_PER_VEC;
        for (int64_t i = 0; i < a->hd; i++) {
            const __m256 qia = _mm256_broadcast_ss(qa + i), qib = _mm256_broadcast_ss(qb + i);
            const float *ra = cola + i * n_pad, *rb = colb + i * n_pad;
            for (int j = 0; j < 4; j++) {
                c[j] = _mm256_fmadd_ps(qia, _mm256_loadu_ps(ra + 8 * j), c[j]);
                c[4 + j] = _mm256_fmadd_ps(qib, _mm256_loadu_ps(rb + 8 * j), c[4 + j]);
            }
        }
        for (int j = 0; j < 4; j++) {
            _mm256_storeu_ps(pa + (b + j) * KEYS_PER_VEC, _mm256_mul_ps(c[j], scale));
            _mm256_storeu_ps(pb + (b + j) * KEYS_PER_VEC, _mm256_mul_ps(c[4 + j], scale));
        }
    }
    for (; b < nb; b++) {
        __m256 ca = _mm256_setzero_ps(), cb = ca;
        const float *cola = kta + b * KEYS_PER_VEC, *colb = ktb + b * KEYS_PER_VEC;
        for (int64_t i = 0; i < a->hd; i++) {
            ca = _mm256_fmadd_ps(_mm256_broadcast_ss(qa + i), _mm256_loadu_ps(cola + i * n_pad), ca);
            cb = _mm256_fmadd_ps(_mm256_broadcast_ss(qb + i), _mm256_loadu_ps(colb + i * n_pad), cb);
        }
        _mm256_storeu_ps(pa + b * KEYS_PER_VEC, _mm256_mul_ps(ca, scale));
        _mm256_storeu_ps(pb + b * KEYS_PER_VEC, _mm256_mul_ps(cb, scale));
    }
}

/* The largest of p[s0 .. t] as attend()'s loop finds it (NaN skipped: maxps returns its second
 * operand when the first is NaN; a tie of +0 and −0 may keep the other zero, which p − max and
 * its exponential do not see). */
__attribute__((target("avx2"))) static float max_avx2(const float *p, int64_t s0, int64_t t)
{
    float max = -INFINITY;
    int64_t s = s0;
    if (t + 1 - s0 >= 8) {
        __m256 m = _mm256_set1_ps(-INFINITY);
        for (; s + 8 <= t + 1; s += 8)
            m = _mm256_max_ps(_mm256_loadu_ps(p + s), m);
        float lanes[8];
        _mm256_storeu_ps(lanes, m);
        for (int i = 0; i < 8; i++)
            max = lanes[i] > max ? lanes[i] : max;
    }
    for (; s <= t; s++)
        max = p[s] > max ? p[s] : max;
    return max;
}

/* weighted_sum_avx2 for heads A and B: 8 chains per step over s for 32 components. */
__attribute__((target("avx2,fma"))) static void weighted_sum2_avx2(const struct attn *a, const float *wa,
                                                                   const float *wb, int64_t ga, int64_t gb, int64_t s0,
                                                                   int64_t t, float *oa, float *ob)
{
    const int64_t stride = a->n_head_kv * a->hd;
    const float *va = a->v + ga * a->hd, *vb = a->v + gb * a->hd;
    int64_t i0 = 0;
    for (; i0 + 32 <= a->hd; i0 += 32) {
        __m256 c[8];
        for (int j = 0; j < 8; j++)
            c[j] = _mm256_setzero_ps();
        const float *xa = va + s0 * stride + i0, *xb = vb + s0 * stride + i0;
        for (int64_t s = s0; s <= t; s++, xa += stride, xb += stride) {
            const __m256 wsa = _mm256_broadcast_ss(wa + s), wsb = _mm256_broadcast_ss(wb + s);
            for (int j = 0; j < 4; j++) {
                c[j] = _mm256_fmadd_ps(wsa, _mm256_loadu_ps(xa + 8 * j), c[j]);
                c[4 + j] = _mm256_fmadd_ps(wsb, _mm256_loadu_ps(xb + 8 * j), c[4 + j]);
            }
        }
        for (int j = 0; j < 4; j++) {
            _mm256_storeu_ps(oa + i0 + 8 * j, c[j]);
            _mm256_storeu_ps(ob + i0 + 8 * j, c[4 + j]);
        }
    }
    for (; i0 + 8 <= a->hd; i0 += 8) {
        __m256 ca = _mm256_setzero_ps(), cb = ca;
        const float *xa = va + s0 * stride + i0, *xb = vb + s0 * stride + i0;
        for (int64_t s = s0; s <= t; s++, xa += stride, xb += stride) {
            ca = _mm256_fmadd_ps(_mm256_broadcast_ss(wa + s), _mm256_loadu_ps(xa), ca);
            cb = _mm256_fmadd_ps(_mm256_broadcast_ss(wb + s), _mm256_loadu_ps(xb), cb);
        }
        _mm256_storeu_ps(oa + i0, ca);
        _mm256_storeu_ps(ob + i0, cb);
    }
    weighted_sum_portable(a, wa, ga, s0, t, i0, oa);   /* head_dim % 8 components */
    weighted_sum_portable(a, wb, gb, s0, t, i0, ob);
}

/* attend() for heads h and h + 1 of row r (AVX2 path), p: scratch of 2 · n_pad floats. */
static void attend2(const struct attn *a, int64_t r, int64_t h, float *p)
{
    const int64_t t = a->pos0 + r, ga = h / a->group, gb = (h + 1) / a->group, s0 = first_key(t, a->window);
    const float *qa = a->q + (r * a->n_head + h) * a->hd, *qb = qa + a->hd;
    float *pa = p, *pb = p + a->n_pad;
    scores2_avx2(a, qa, qb, ga, gb, t, pa, pb);
    for (int64_t s = s0; s <= t && a->softcap > 0; s++) {
        pa[s] = det_softcapf(pa[s], a->softcap);
        pb[s] = det_softcapf(pb[s], a->softcap);
    }
    const float max_a = max_avx2(pa, s0, t), max_b = max_avx2(pb, s0, t);
    for (int64_t s = s0; s <= t; s++) {
        pa[s] -= max_a;
        pb[s] -= max_b;
    }
    det_expf_array(pa + s0, pa + s0, t + 1 - s0);
    det_expf_array(pb + s0, pb + s0, t + 1 - s0);
    double sum_a = 0.0, sum_b = 0.0;   /* two chains, each in attend()'s order */
    for (int64_t s = s0; s <= t; s++) {
        sum_a += pa[s];
        sum_b += pb[s];
    }
    const float inv_a = (float)(1.0 / sum_a), inv_b = (float)(1.0 / sum_b);
    for (int64_t s = s0; s <= t; s++) {
        pa[s] *= inv_a;
        pb[s] *= inv_b;
    }
    float *oa = a->out + (r * a->n_head + h) * a->hd;
    weighted_sum2_avx2(a, pa, pb, ga, gb, s0, t, oa, oa + a->hd);
}

/* Heads h (and h + 1 when the AVX2 path pairs them) of row r. */
static void attend_heads(const struct attn *a, int64_t r, int64_t h, float *p)
{
    if (a->simd && h + 1 < a->n_head)
        attend2(a, r, h, p);
    else
        attend(a, r, h, p);
}

/* ---- the call ------------------------------------------------------------------------------------ */

/* The scale of the scores: opts' own, or 1/√head_dim. */
static float score_scale(const struct backend_attn_opts *o, int64_t head_dim)
{
    return o && o->scale != 0.0f ? o->scale : 1.0f / sqrtf((float)head_dim);
}

int det_attention_rows(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new, int64_t n_head,
                       int64_t n_head_kv, int64_t head_dim, float *out)
{
    return det_attention_rows_ext(q, k, v, pos0, n_new, n_head, n_head_kv, head_dim, NULL, out);
}

int det_attention_rows_ext(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new, int64_t n_head,
                           int64_t n_head_kv, int64_t head_dim, const struct backend_attn_opts *opts, float *out)
{
    if (n_new <= 0)
        return 0;
    const int64_t n_keys = pos0 + n_new, n_pad = (n_keys + 31) / 32 * 32;
    struct attn a = {q, k, v, NULL, out, pos0, n_new, n_head, n_head_kv, head_dim, n_pad, n_head / n_head_kv,
                     score_scale(opts, head_dim), opts ? opts->softcap : 0.0f, opts ? opts->window : 0,
                     det_simd_active()};
    const int nt = !omp_in_parallel() && n_new * n_keys * n_head * head_dim >= ATTN_PARALLEL_MIN
                       ? omp_get_max_threads()
                       : 1;
    /* [nt][2][n_pad] two rows of scores per thread, then (AVX2) Kt */
    const size_t kt_elems = a.simd ? (size_t)(n_head_kv * head_dim * n_pad) : 0, per_thread = 2 * (size_t)n_pad;
    float *buf = ig_malloc(((size_t)nt * per_thread + kt_elems) * sizeof *buf);
    if (!buf)
        return ig_error_set(IG_ENOMEM, "det_attention_rows: no room for %d rows of %lld scores and K transposed",
                            nt, (long long)n_keys);
    if (a.simd) {
        float *kt = buf + (size_t)nt * per_thread;
        for (int64_t g = 0; g < n_head_kv; g++)
            for (int64_t i = 0; i < head_dim; i++) {
                float *row = kt + (g * head_dim + i) * n_pad;
                for (int64_t s = 0; s < n_keys; s++)
                    row[s] = k[(s * n_head_kv + g) * head_dim + i];
                memset(row + n_keys, 0, sizeof *row * (size_t)(n_pad - n_keys));
            }
        a.kt = kt;
    }
    /* heads two at a time on the AVX2 path (attend_heads), one at a time otherwise */
    const int64_t step = a.simd ? 2 : 1, n_steps = (n_head + step - 1) / step;
    if (nt == 1) {
        for (int64_t r = 0; r < n_new; r++)
            for (int64_t hs = 0; hs < n_steps; hs++)
                attend_heads(&a, r, hs * step, buf);
    } else {
#pragma omp parallel for collapse(2) schedule(dynamic, 4) num_threads(nt)
        for (int64_t r = 0; r < n_new; r++)
            for (int64_t hs = 0; hs < n_steps; hs++)
                attend_heads(&a, r, hs * step, buf + (size_t)omp_get_thread_num() * per_thread);
    }
    free(buf);
    return 0;
}

int det_attention_rows_ref(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                           int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *out)
{
    return det_attention_rows_ext_ref(q, k, v, pos0, n_new, n_head, n_head_kv, head_dim, NULL, out);
}

int det_attention_rows_ext_ref(const float *q, const float *k, const float *v, int64_t pos0, int64_t n_new,
                               int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                               const struct backend_attn_opts *opts, float *out)
{
    const float scale = score_scale(opts, head_dim), cap = opts ? opts->softcap : 0.0f;
    const int64_t window = opts ? opts->window : 0;
    const int64_t group = n_head / n_head_kv;
    float *p = ig_malloc((size_t)(pos0 + n_new > 0 ? pos0 + n_new : 1) * sizeof *p);
    if (!p)
        return ig_error_set(IG_ENOMEM, "det_attention_rows_ref: no room for %lld scores", (long long)(pos0 + n_new));
    for (int64_t r = 0; r < n_new; r++)
        for (int64_t h = 0; h < n_head; h++) {
            const int64_t t = pos0 + r, g = h / group, s0 = first_key(t, window);
            const float *qt = q + (r * n_head + h) * head_dim;
            float max = -INFINITY;
            for (int64_t s = s0; s <= t; s++) {
                float dot = 0.0f;
                for (int64_t i = 0; i < head_dim; i++)
                    dot = fmaf(qt[i], k[(s * n_head_kv + g) * head_dim + i], dot);
                p[s] = dot * scale;
                if (cap > 0)
                    p[s] = det_softcapf(p[s], cap);
                max = p[s] > max ? p[s] : max;
            }
            double sum = 0.0;
            for (int64_t s = s0; s <= t; s++) {
                p[s] = det_expf(p[s] - max);
                sum += p[s];
            }
            const float inv = (float)(1.0 / sum);
            for (int64_t i = 0; i < head_dim; i++) {
                float acc = 0.0f;
                for (int64_t s = s0; s <= t; s++)
                    acc = fmaf(p[s] * inv, v[(s * n_head_kv + g) * head_dim + i], acc);
                out[(r * n_head + h) * head_dim + i] = acc;
            }
        }
    free(p);
    return 0;
}
