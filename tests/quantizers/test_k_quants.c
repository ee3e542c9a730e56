/* test_k_quants.c — Q2_K … Q6_K reference quantize/dequantize (quantizers/k_quants.h).
 *
 * Goldens, strongest first: (1) the sha256 of every k-quant tensor llama-quantize wrote for
 * the tl3m model, per mix, with and without --imatrix (../shared/data/peers/tl3m/hashes,
 * see peers/README.md); (2) byte comparison with llama.cpp's own tl3m-{Q4_K_M,Q2_K,
 * imx-Q4_K_M}.gguf, whose blocks are also dequantized and checked against the F16 source
 * with the bound the requantization step guarantees. Then a hand-decoded block per type
 * (bit layout checked without the quantizer) and awkward inputs for every type, with and
 * without an importance matrix. Suites are named k_quant_* (run with --filter 'k_quant*').
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/gguf.h"
#include "quantizers/blocks.h"
#include "quantizers/k_quants.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the five types --------------------------------------------------------------- */

struct kq_case {
    const char *name;
    int id;                 /* ggml type id */
    int bits;               /* bits per code */
    size_t block_bytes;
    quant_quantize_row_fn quantize;
    quant_dequantize_row_fn dequantize;
};

static const struct kq_case kq_cases[] = {
    {"Q2_K", 10, 2, sizeof(block_q2_K), q2_k_quantize_row_ref, q2_k_dequantize_row_ref},
    {"Q3_K", 11, 3, sizeof(block_q3_K), q3_k_quantize_row_ref, q3_k_dequantize_row_ref},
    {"Q4_K", 12, 4, sizeof(block_q4_K), q4_k_quantize_row_ref, q4_k_dequantize_row_ref},
    {"Q5_K", 13, 5, sizeof(block_q5_K), q5_k_quantize_row_ref, q5_k_dequantize_row_ref},
    {"Q6_K", 14, 6, sizeof(block_q6_K), q6_k_quantize_row_ref, q6_k_dequantize_row_ref},
};
#define N_KQ ((int)(sizeof kq_cases / sizeof kq_cases[0]))

static const struct kq_case *kq_case_by_id(int id)
{
    for (int i = 0; i < N_KQ; i++)
        if (kq_cases[i].id == id)
            return &kq_cases[i];
    return NULL;
}

/* ---- an independent per-element decoder (from gguf-facts.md section 2) -------------- */

/* Element e of a block reads back as dd*q - dm, with q in qmin..qmax. Written per element
 * from the published layout, unlike the library's loops, so the two check each other. */
struct kq_elem {
    float dd, dm;
    int q, qmin, qmax;
};

static float half_at(const uint8_t *p)
{
    return ig_fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
}

static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

static void decode_elem(int id, const uint8_t *b, int e, struct kq_elem *o)
{
    const int s16 = e / 16, h = e / 128, r = e % 128;
    int sc, m;
    switch (id) {
    case 10: /* Q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82 */
        o->q = (b[16 + 32 * h + r % 32] >> (2 * (r / 32))) & 3;
        o->dd = half_at(b + 80) * (b[s16] & 15);
        o->dm = half_at(b + 82) * (b[s16] >> 4);
        o->qmin = 0, o->qmax = 3;
        break;
    case 11: { /* Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108 */
        int low2 = (b[32 + 32 * h + r % 32] >> (2 * (r / 32))) & 3;
        int hbit = (b[e % 32] >> (e / 32)) & 1;
        o->q = low2 - (hbit ? 0 : 4);
        const uint8_t *s = b + 96;
        int lo = s16 < 8 ? s[s16] & 15 : s[s16 - 8] >> 4;
        int hi = (s[8 + s16 % 4] >> (2 * (s16 / 4))) & 3;
        o->dd = half_at(b + 108) * ((lo | (hi << 4)) - 32);
        o->dm = 0;
        o->qmin = -4, o->qmax = 3;
        break;
    }
    case 12: /* Q4_K: d @0, dmin @2, scales[12] @4, qs[128] @16 */
    case 13: /* Q5_K: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48 */
        k4_scale_min(b + 4, e / 32, &sc, &m);
        {
            int c = e / 64, l = e % 32, upper = (e % 64) >= 32;
            const uint8_t *qs = b + (id == 12 ? 16 : 48);
            o->q = (qs[32 * c + l] >> (4 * upper)) & 15;
            if (id == 13)
                o->q += ((b[16 + l] >> (2 * c + upper)) & 1) * 16;
        }
        o->dd = half_at(b) * sc;
        o->dm = half_at(b + 2) * m;
        o->qmin = 0, o->qmax = id == 12 ? 15 : 31;
        break;
    case 14: { /* Q6_K: ql[128] @0, qh[64] @128, scales[16] int8 @192, d @208 */
        int k = r / 32, l = r % 32;
        int low4 = (b[64 * h + 32 * (k & 1) + l] >> (4 * (k / 2))) & 15;
        int high2 = (b[128 + 32 * h + l] >> (2 * k)) & 3;
        o->q = (low4 | (high2 << 4)) - 32;
        o->dd = half_at(b + 208) * (int8_t)b[192 + s16];
        o->dm = 0;
        o->qmin = -32, o->qmax = 31;
        break;
    }
    default:
        cr_assert_fail("decode_elem: type %d is not a k-quant", id);
    }
}

/* ---- helpers: random rows, F16 tensors, sha256 ------------------------------------ */

static uint64_t rng_state;

static double rng_uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_gauss(void)
{
    double u = rng_uniform(), v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Rows of a 2-D F16 tensor as floats (caller frees); asserts on anything unexpected. */
static float *load_f16_rows(struct gguf_file *g, const char *name, int64_t *n_per_row,
                            int64_t *n_rows)
{
    int64_t ti = gguf_find_tensor(g, name);
    cr_assert_geq(ti, 0, "tensor '%s' is missing from the F16 source", name);
    const struct gguf_tensor_info *t = gguf_tensor_at(g, ti);
    cr_assert_eq(t->type, 1, "tensor '%s' is type %d in the source, expected F16", name, t->type);
    *n_per_row = t->ne[0];
    *n_rows = t->ne[1] * t->ne[2] * t->ne[3];
    int64_t n = *n_per_row * *n_rows;
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert_not_null(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = ig_fp16_to_fp32((uint16_t)(t->data[2 * i] | (t->data[2 * i + 1] << 8)));
    return x;
}

/* Quantize every row of x into a fresh buffer of n_rows * row_bytes (caller frees). */
static uint8_t *quantize_rows(const struct kq_case *kq, const float *x, int64_t n_per_row,
                              int64_t n_rows, const float *imatrix, size_t *size_bytes)
{
    size_t row_bytes = (size_t)(n_per_row / QK_K) * kq->block_bytes;
    uint8_t *q = malloc(row_bytes * (size_t)n_rows);
    cr_assert_not_null(q);
    for (int64_t r = 0; r < n_rows; r++) {
        int rc = kq->quantize(x + r * n_per_row, q + (size_t)r * row_bytes, n_per_row, imatrix);
        cr_assert_eq(rc, 0, "%s quantize of a %lld-wide row failed: %s", kq->name,
                     (long long)n_per_row, ig_error_message());
    }
    *size_bytes = row_bytes * (size_t)n_rows;
    return q;
}

/* sha256 of data by piping it through sha256sum (coreutils); the digest goes to a file in
 * tmp_dir because popen's pipe runs one way. */
static void sha256_hex(const char *tmp_dir, const void *data, size_t size, char out[65])
{
    char path[4200], cmd[4300];
    snprintf(path, sizeof path, "%s/sha256.txt", tmp_dir);
    snprintf(cmd, sizeof cmd, "sha256sum > '%s'", path);
    FILE *p = popen(cmd, "w");
    cr_assert_not_null(p, "popen(sha256sum) failed");
    cr_assert_eq(fwrite(data, 1, size, p), size, "writing to sha256sum failed");
    cr_assert_eq(pclose(p), 0, "sha256sum failed (is coreutils installed?)");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%64s", out), 1, "sha256sum wrote nothing");
    fclose(f);
}

/* llama-quantize's importance vector for a weight: in_sum2[j] / counts[0] in float32,
 * or 1 where the count is 0; NULL when the imatrix has no entry (quantized without). */
static float *load_importance(struct gguf_file *im, const char *weight, int64_t n)
{
    char key[GGUF_MAX_NAME + 16];
    snprintf(key, sizeof key, "%s.in_sum2", weight);
    int64_t is = gguf_find_tensor(im, key);
    snprintf(key, sizeof key, "%s.counts", weight);
    int64_t ic = gguf_find_tensor(im, key);
    if (is < 0 || ic < 0)
        return NULL;
    const struct gguf_tensor_info *ts = gguf_tensor_at(im, is), *tc = gguf_tensor_at(im, ic);
    cr_assert(ts->type == 0 && tc->type == 0 && ts->ne[0] == n && ts->ne[1] == 1,
              "imatrix entry '%s' has type %d, %lld columns; expected F32, %lld", weight,
              ts->type, (long long)ts->ne[0], (long long)n);
    float count, *w = malloc((size_t)n * sizeof *w);
    cr_assert_not_null(w);
    memcpy(&count, tc->data, sizeof count);
    for (int64_t j = 0; j < n; j++) {
        float s;
        memcpy(&s, ts->data + 4 * j, sizeof s);
        w[j] = count > 0.0f ? s / count : 1.0f;
    }
    return w;
}

/* ---- golden: llama-quantize's tensor hashes --------------------------------------- */

struct golden_mix {
    char mix[16];           /* hash file tl3m-<mix>.txt; "imx-" means --imatrix */
};

ParameterizedTestParameters(k_quant_golden, llama_quantize_hashes)
{
    static struct golden_mix mixes[] = {
        {"Q2_K"}, {"Q3_K_S"}, {"Q3_K_M"}, {"Q3_K_L"}, {"Q4_K_S"}, {"Q4_K_M"},
        {"Q5_K_S"}, {"Q5_K_M"}, {"Q6_K"}, {"imx-Q2_K"}, {"imx-Q3_K_M"}, {"imx-Q4_K_M"},
        {"imx-Q5_K_M"},
        /* the legacy mixes keep one Q6_K tensor each (output.weight) */
        {"Q4_0"}, {"Q4_1"}, {"Q5_0"}, {"Q5_1"}, {"IQ4_NL"}, {"imx-Q4_0"}, {"imx-IQ4_NL"},
    };
    return cr_make_param_array(struct golden_mix, mixes, sizeof mixes / sizeof mixes[0]);
}

ParameterizedTest(struct golden_mix *p, k_quant_golden, llama_quantize_hashes, .timeout = 120)
{
    char rel[128];
    snprintf(rel, sizeof rel, "peers/tl3m/hashes/tl3m-%s.txt", p->mix);
    const char *hash_path = test_shared_path(rel);
    const char *src_path = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    const char *imx_path = test_shared_path("peers/tl3m/tl3m-imatrix.gguf");
    int use_imatrix = strncmp(p->mix, "imx-", 4) == 0;
    if (!hash_path || !src_path || (use_imatrix && !imx_path))
        cr_skip_test("../shared/data/peers/tl3m (hashes, F16 source, imatrix) not found");

    struct gguf_file *g = NULL, *im = NULL;
    cr_assert_eq(gguf_open(&g, src_path), 0, "%s", ig_error_message());
    if (use_imatrix)
        cr_assert_eq(gguf_open(&im, imx_path), 0, "%s", ig_error_message());
    FILE *f = fopen(hash_path, "r");
    cr_assert_not_null(f);
    const char *tmp = test_tmp_dir();
    cr_assert_not_null(tmp);

    char name[128], shape[64], want[80], got[65];
    int type_id, n_checked = 0, n_same = 0;
    unsigned long long bytes;
    while (fscanf(f, "%127s %d %63s %llu %79s", name, &type_id, shape, &bytes, want) == 5) {
        const struct kq_case *kq = kq_case_by_id(type_id);
        if (!kq)
            continue;
        int64_t n_per_row, n_rows;
        float *x = load_f16_rows(g, name, &n_per_row, &n_rows);
        float *w = im ? load_importance(im, name, n_per_row) : NULL;
        size_t size;
        uint8_t *q = quantize_rows(kq, x, n_per_row, n_rows, w, &size);
        cr_expect_eq(size, bytes, "%s: %s as %s: %zu bytes, llama-quantize wrote %llu", p->mix,
                     name, kq->name, size, bytes);
        sha256_hex(tmp, q, size, got);
        n_checked++;
        if (strcmp(got, want) == 0)
            n_same++;
        cr_expect_str_eq(got, want, "%s: %s as %s (%s, imatrix %s): sha256 differs", p->mix, name,
                         kq->name, shape, w ? "yes" : "none");
        free(q);
        free(w);
        free(x);
    }
    fclose(f);
    char sha_path[4200];
    snprintf(sha_path, sizeof sha_path, "%s/sha256.txt", tmp);
    remove(sha_path);
    remove(tmp);
    cr_log_info("k_quant_golden %s: %d of %d k-quant tensors identical", p->mix, n_same,
                n_checked);
    cr_expect_gt(n_checked, 0, "%s lists no k-quant tensor", hash_path);
    gguf_close(im);
    gguf_close(g);
}

/* ---- golden: llama.cpp's quantized files, bytes and dequantization ----------------- */

/* Print the first differing block: both byte strings and the first inputs. */
static void report_block(const char *what, const uint8_t *ours, const uint8_t *theirs,
                         size_t block_bytes, const float *x)
{
    char a[2 * 300 + 1], b[2 * 300 + 1];
    for (size_t i = 0; i < block_bytes; i++) {
        snprintf(a + 2 * i, 3, "%02x", ours[i]);
        snprintf(b + 2 * i, 3, "%02x", theirs[i]);
    }
    cr_log_error("%s\n  ours:   %s\n  theirs: %s\n  x[0..3] = %a %a %a %a", what, a, b,
                 (double)x[0], (double)x[1], (double)x[2], (double)x[3]);
}

/* Every element of their dequantized block must be the grid point that requantization
 * picks: q = clamp(round((x + dm)/dd)) makes |x - (dd*q - dm)| <= |dd|/2 for codes inside
 * the range, and for a clamped code x lies beyond the end point. Float rounding in
 * (x + dm)/dd and dd*q - dm adds a few ulps of the magnitudes involved. Sub-blocks with
 * dd = 0 keep the search's codes and read back as -dm; they get no bound. Our dequantized
 * value must also equal the per-element decode exactly. Returns the number of violations. */
static int check_block_bound(int id, const uint8_t *blk, const float *x, const float *y,
                             const char *tensor, int64_t block_index)
{
    int bad = 0;
    for (int e = 0; e < QK_K; e++) {
        struct kq_elem el;
        decode_elem(id, blk, e, &el);
        float expect = el.dd * el.q - el.dm;
        if (memcmp(&expect, &y[e], sizeof expect) != 0 && bad++ < 3)
            cr_log_error("%s block %lld element %d: dequantized %a, layout says %a", tensor,
                         (long long)block_index, e, (double)y[e], (double)expect);
        if (el.dd == 0)
            continue;
        float slack = 4e-7f * (fabsf(x[e]) + fabsf(el.dm) + fabsf(el.dd) * 32.0f);
        float half = 0.5f * fabsf(el.dd) + slack;
        float err = y[e] - x[e];          /* > 0: read back above the source */
        int lo_clamped = el.q == (el.dd > 0 ? el.qmin : el.qmax);
        int hi_clamped = el.q == (el.dd > 0 ? el.qmax : el.qmin);
        int ok = fabsf(err) <= half || (hi_clamped && err < 0) || (lo_clamped && err > 0);
        if (!ok && bad++ < 3)
            cr_log_error("%s block %lld element %d: source %a, read back %a, step %a, code %d",
                         tensor, (long long)block_index, e, (double)x[e], (double)y[e],
                         (double)el.dd, el.q);
    }
    return bad;
}

struct golden_file {
    char file[32];          /* under peers/tl3m/ */
};

ParameterizedTestParameters(k_quant_golden, llama_cpp_files)
{
    static struct golden_file files[] = {{"tl3m-Q4_K_M.gguf"}, {"tl3m-Q2_K.gguf"},
                                         {"tl3m-imx-Q4_K_M.gguf"}};
    return cr_make_param_array(struct golden_file, files, sizeof files / sizeof files[0]);
}

ParameterizedTest(struct golden_file *p, k_quant_golden, llama_cpp_files, .timeout = 120)
{
    char rel[96];
    snprintf(rel, sizeof rel, "peers/tl3m/%s", p->file);
    const char *ref_path = test_shared_path(rel);
    const char *src_path = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    const char *imx_path = test_shared_path("peers/tl3m/tl3m-imatrix.gguf");
    int use_imatrix = strstr(p->file, "imx-") != NULL;
    if (!ref_path || !src_path || (use_imatrix && !imx_path))
        cr_skip_test("../shared/data/peers/tl3m/%s or its F16 source not found", p->file);

    struct gguf_file *g = NULL, *ref = NULL, *im = NULL;
    cr_assert_eq(gguf_open(&g, src_path), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_open(&ref, ref_path), 0, "%s", ig_error_message());
    if (use_imatrix)
        cr_assert_eq(gguf_open(&im, imx_path), 0, "%s", ig_error_message());

    int n_tensors = 0, n_same = 0;
    for (int64_t ti = 0; ti < gguf_n_tensors(ref); ti++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(ref, ti);
        const struct kq_case *kq = kq_case_by_id(t->type);
        if (!kq)
            continue;
        int64_t n_per_row, n_rows;
        float *x = load_f16_rows(g, t->name, &n_per_row, &n_rows);
        float *w = im ? load_importance(im, t->name, n_per_row) : NULL;
        size_t size;
        uint8_t *q = quantize_rows(kq, x, n_per_row, n_rows, w, &size);
        cr_assert_eq(size, t->size_bytes, "%s: %s: %zu bytes, the file holds %llu", p->file,
                     t->name, size, (unsigned long long)t->size_bytes);
        n_tensors++;

        /* bytes: report the first differing block */
        int64_t n_blocks = (int64_t)(size / kq->block_bytes);
        int64_t first_diff = -1;
        for (int64_t b = 0; b < n_blocks && first_diff < 0; b++)
            if (memcmp(q + b * kq->block_bytes, t->data + b * kq->block_bytes, kq->block_bytes))
                first_diff = b;
        if (first_diff >= 0) {
            char what[200];
            snprintf(what, sizeof what, "%s: %s (%s) block %lld differs", p->file, t->name,
                     kq->name, (long long)first_diff);
            report_block(what, q + first_diff * kq->block_bytes,
                         t->data + first_diff * kq->block_bytes, kq->block_bytes,
                         x + first_diff * QK_K);
        } else {
            n_same++;
        }
        cr_expect_eq(first_diff, -1, "%s: %s (%s): first differing block %lld", p->file,
                     t->name, kq->name, (long long)first_diff);

        /* their blocks, read back by our dequantizer, against the F16 source */
        float y[QK_K];
        int bad = 0;
        for (int64_t b = 0; b < n_blocks; b++) {
            const uint8_t *blk = t->data + b * kq->block_bytes;
            kq->dequantize(blk, y, QK_K);
            bad += check_block_bound(kq->id, blk, x + b * QK_K, y, t->name, b);
        }
        cr_expect_eq(bad, 0, "%s: %s (%s): %d elements outside the requantization bound",
                     p->file, t->name, kq->name, bad);
        free(q);
        free(w);
        free(x);
    }
    cr_log_info("k_quant_golden %s: %d of %d k-quant tensors byte-identical", p->file, n_same,
                n_tensors);
    cr_expect_gt(n_tensors, 0, "%s holds no k-quant tensor", p->file);
    gguf_close(im);
    gguf_close(ref);
    gguf_close(g);
}

/* ---- dequantization of hand-built blocks ------------------------------------------ */

/* Dequantize blk with the library and compare every element with the per-element decoder
 * (bit-exact), then the listed elements with values worked out by hand. */
static void check_hand_block(int id, const uint8_t *blk, const int *elems, const float *values,
                             int n_values)
{
    const struct kq_case *kq = kq_case_by_id(id);
    float y[QK_K];
    kq->dequantize(blk, y, QK_K);
    for (int e = 0; e < QK_K; e++) {
        struct kq_elem el;
        decode_elem(id, blk, e, &el);
        float expect = el.dd * el.q - el.dm;
        cr_expect(memcmp(&expect, &y[e], sizeof expect) == 0,
                  "%s element %d: dequantized %a, the layout gives %a (q %d)", kq->name, e,
                  (double)y[e], (double)expect, el.q);
    }
    for (int i = 0; i < n_values; i++)
        cr_expect_eq(y[elems[i]], values[i], "%s element %d: %g, by hand %g", kq->name,
                     elems[i], (double)y[elems[i]], (double)values[i]);
}

static void put_half(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

Test(k_quant_layout, q2_k_hand_block)
{
    uint8_t b[84];
    for (int s = 0; s < 16; s++)
        b[s] = (uint8_t)(((s + 1) & 15) | (((s * 5 + 2) & 15) << 4));
    for (int k = 0; k < 64; k++)
        b[16 + k] = (uint8_t)(k * 29 + 7);
    put_half(b + 80, 0x3800);   /* d = 0.5 */
    put_half(b + 82, 0x3000);   /* dmin = 0.125 */
    /* e=0:   sub 0 (sc 1, m 2),   qs[0]=7 bits 0-1 = 3:           0.5*1*3 - 0.125*2   = 1.25
     * e=85:  sub 5 (sc 6, m 11),  qs[21]=104 bits 4-5 = 2:        0.5*6*2 - 0.125*11  = 4.625
     * e=150: sub 9 (sc 10, m 15), qs[32+22]=37 bits 0-1 = 1:      0.5*10*1 - 0.125*15 = 3.125
     * e=255: sub 15 (sc 0, m 13):                                  -0.125*13          = -1.625 */
    int elems[] = {0, 85, 150, 255};
    float values[] = {1.25f, 4.625f, 3.125f, -1.625f};
    check_hand_block(10, b, elems, values, 4);
}

Test(k_quant_layout, q3_k_hand_block)
{
    uint8_t b[110];
    for (int k = 0; k < 32; k++)
        b[k] = (uint8_t)(k * 41 + 3);           /* hmask */
    for (int k = 0; k < 64; k++)
        b[32 + k] = (uint8_t)(k * 13 + 1);      /* qs */
    for (int k = 0; k < 12; k++)
        b[96 + k] = (uint8_t)(k * 23 + 5);      /* scales */
    put_half(b + 108, 0x3400);                  /* d = 0.25 */
    /* e=3:   sub 0: low 5, high (189>>0)&3 = 1 -> 21-32 = -11; qs[3]=40 bits 0-1 = 0,
     *        hmask[3]=126 bit 0 clear -> q = -4:                 0.25*-11*-4 = 11
     * e=35:  sub 2: low 3, high (235>>0)&3 = 3 -> 51-32 = 19; qs[3] bits 2-3 = 2,
     *        hmask[3] bit 1 set -> q = 2:                         0.25*19*2 = 9.5
     * e=100: sub 6: low 15, high (235>>2)&3 = 2 -> 47-32 = 15; qs[4]=53 bits 6-7 = 0,
     *        hmask[4]=167 bit 3 clear -> q = -4:                  0.25*15*-4 = -15
     * e=211: sub 13: low 120>>4 = 7, high (212>>6)&3 = 3 -> 55-32 = 23; qs[32+19]=152
     *        bits 4-5 = 1, hmask[19]=14 bit 6 clear -> q = -3:    0.25*23*-3 = -17.25 */
    int elems[] = {3, 35, 100, 211};
    float values[] = {11.0f, 9.5f, -15.0f, -17.25f};
    check_hand_block(11, b, elems, values, 4);
}

static void fill_k4_header(uint8_t *b)
{
    put_half(b, 0x4000);                        /* d = 2 */
    put_half(b + 2, 0x3800);                    /* dmin = 0.5 */
    for (int k = 0; k < 12; k++)
        b[4 + k] = (uint8_t)(k * 37 + 9);       /* 9 46 83 120 157 194 231 12 49 86 123 160 */
}

Test(k_quant_layout, q4_k_hand_block)
{
    uint8_t b[144];
    fill_k4_header(b);
    for (int k = 0; k < 128; k++)
        b[16 + k] = (uint8_t)(k * 19 + 4);
    /* e=40:  sub 1: sc 46&63 = 46, m 194&63 = 2; chunk 0 high nibble of qs[8]=0x9c -> 9:
     *        2*46*9 - 0.5*2 = 827
     * e=200: sub 6: sc (123&15) | (83>>6)<<4 = 27, m (123>>4) | (231>>6)<<4 = 55;
     *        chunk 3 low nibble of qs[104]=0xbc -> 12:  2*27*12 - 0.5*55 = 620.5 */
    int elems[] = {40, 200};
    float values[] = {827.0f, 620.5f};
    check_hand_block(12, b, elems, values, 2);
}

Test(k_quant_layout, q5_k_hand_block)
{
    uint8_t b[176];
    fill_k4_header(b);
    for (int k = 0; k < 32; k++)
        b[16 + k] = (uint8_t)(k * 53 + 17);     /* qh */
    for (int k = 0; k < 128; k++)
        b[48 + k] = (uint8_t)(k * 19 + 4);      /* qs */
    /* e=8:   sub 0: sc 9, m 157&63 = 29; low nibble of qs[8]=0x9c -> 12, qh[8]=185 bit 0
     *        set -> 28:                          2*9*28 - 0.5*29 = 489.5
     * e=40:  sub 1 (46, 2); high nibble 9, qh[8] bit 1 clear -> 9:   827
     * e=232: sub 7: sc (160&15) | (120>>6)<<4 = 16, m (160>>4) | (12>>6)<<4 = 10;
     *        chunk 3 high nibble of qs[104]=0xbc -> 11, qh[8] bit 7 set -> 27:
     *        2*16*27 - 0.5*10 = 859 */
    int elems[] = {8, 40, 232};
    float values[] = {489.5f, 827.0f, 859.0f};
    check_hand_block(13, b, elems, values, 3);
}

Test(k_quant_layout, q6_k_hand_block)
{
    uint8_t b[210];
    for (int k = 0; k < 128; k++)
        b[k] = (uint8_t)(k * 31 + 2);           /* ql */
    for (int k = 0; k < 64; k++)
        b[128 + k] = (uint8_t)(k * 71 + 13);    /* qh */
    for (int s = 0; s < 16; s++)
        b[192 + s] = (uint8_t)(s * 17 - 100);   /* int8 scales: -100, -83, ..., 138 -> -118 */
    put_half(b + 208, 0x3000);                  /* d = 0.125 */
    /* e=5:   ql[5]=157 low 13, qh[5]=112 bits 0-1 = 0 -> 13-32 = -19; scale -100: 237.5
     * e=49:  ql[49]=241 low 1, qh[17]=196 bits 2-3 = 1 -> 17-32 = -15; scale -49: 91.875
     * e=150: ql[86]=108 low 12, qh[54]=7 bits 0-1 = 3 -> 60-32 = 28; scale 53: 185.5
     * e=235: ql[107]=247 high 15, qh[43]=250 bits 6-7 = 3 -> 63-32 = 31; scale -118:
     *        0.125*-118*31 = -457.25 */
    int elems[] = {5, 49, 150, 235};
    float values[] = {237.5f, 91.875f, 185.5f, -457.25f};
    check_hand_block(14, b, elems, values, 4);
}

/* ---- awkward inputs, every type, with and without an importance matrix ------------ */

struct kq_param {
    int type_id;
    int use_imatrix;
};

ParameterizedTestParameters(k_quant_edge, all_zero_super_block)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* A seeded importance vector: positive, spread over three decades like real ones. */
static void make_importance(float *w, int64_t n, uint64_t seed)
{
    rng_state = seed;
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)exp(3.0 * (rng_uniform() - 0.5) * 2.3);
}

/* Quantize x[n] and read it back; returns the packed bytes in q (>= n/256 blocks). */
static void round_trip(const struct kq_case *kq, const float *x, int64_t n, int use_imatrix,
                       uint8_t *q, float *y)
{
    float w[4 * QK_K];
    cr_assert_leq(n, 4 * QK_K);
    make_importance(w, n, 77);
    int rc = kq->quantize(x, q, n, use_imatrix ? w : NULL);
    cr_assert_eq(rc, 0, "%s: %s", kq->name, ig_error_message());
    kq->dequantize(q, y, n);
}

ParameterizedTest(struct kq_param *p, k_quant_edge, all_zero_super_block)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float x[QK_K] = {0}, y[QK_K];
    uint8_t q[300];
    memset(q, 0xAB, sizeof q);
    round_trip(kq, x, QK_K, p->use_imatrix, q, y);
    for (int e = 0; e < QK_K; e++)
        cr_expect(y[e] == 0.0f, "%s imatrix=%d: element %d reads back %a, not 0", kq->name,
                  p->use_imatrix, e, (double)y[e]);
    /* llama.cpp writes d = dmin = 0 (Q6_K: the whole block 0); the scales are 0 too */
    struct kq_elem el;
    decode_elem(kq->id, q, 0, &el);
    cr_expect(el.dd == 0.0f && el.dm == 0.0f, "%s imatrix=%d: zero block has dd %a, dm %a",
              kq->name, p->use_imatrix, (double)el.dd, (double)el.dm);
    if (kq->id == 14)
        for (size_t i = 0; i < kq->block_bytes; i++)
            cr_expect_eq(q[i], 0, "Q6_K zero block byte %zu is %#x", i, q[i]);
    cr_expect_eq(q[kq->block_bytes], 0xAB, "%s wrote past its block", kq->name);
}

ParameterizedTestParameters(k_quant_edge, negative_zero_as_zero)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* -0.0 everywhere packs exactly as +0.0 does (llama.cpp's searches treat them alike). */
ParameterizedTest(struct kq_param *p, k_quant_edge, negative_zero_as_zero)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float pz[QK_K], nz[QK_K], y[QK_K];
    uint8_t qp[300], qn[300];
    for (int e = 0; e < QK_K; e++) {
        pz[e] = 0.0f;
        nz[e] = -0.0f;
    }
    round_trip(kq, pz, QK_K, p->use_imatrix, qp, y);
    round_trip(kq, nz, QK_K, p->use_imatrix, qn, y);
    cr_expect(memcmp(qp, qn, kq->block_bytes) == 0, "%s imatrix=%d: -0 block packs differently",
              kq->name, p->use_imatrix);
    for (int e = 0; e < QK_K; e++)
        cr_expect(y[e] == 0.0f, "%s: element %d of a -0 block reads back %a", kq->name, e,
                  (double)y[e]);
}

ParameterizedTestParameters(k_quant_edge, one_huge_outlier)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* Gaussian block (sigma 0.02) with one element at 1000 sigma: the outlier's sub-block gets
 * the largest scale code, so the outlier reads back within half a step of that sub-block,
 * step = |x_out|/(codes above zero), i.e. within 1/(2·(2^(b-1)-1))·|x_out| (Q2_K: 1/6)
 * plus the fp16 rounding of d (2^-11). Everything stays finite. */
ParameterizedTest(struct kq_param *p, k_quant_edge, one_huge_outlier)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float x[QK_K], y[QK_K];
    uint8_t q[300];
    const uint64_t seed = 1234;
    rng_state = seed;
    for (int e = 0; e < QK_K; e++)
        x[e] = 0.02f * rng_gauss();
    const int at = 77;
    x[at] = 20.0f;
    round_trip(kq, x, QK_K, p->use_imatrix, q, y);
    int levels = kq->bits == 2 ? 3 : (1 << (kq->bits - 1)) - 1;
    float bound = x[at] * (0.5f / levels + 1.0f / 2048);
    cr_expect_leq(fabsf(y[at] - x[at]), bound,
                  "%s imatrix=%d seed %llu: outlier %g reads back %g (bound %g)", kq->name,
                  p->use_imatrix, (unsigned long long)seed, (double)x[at], (double)y[at],
                  (double)bound);
    for (int e = 0; e < QK_K; e++)
        cr_expect(isfinite(y[e]) && fabsf(y[e]) <= 2 * x[at], "%s: element %d reads back %g",
                  kq->name, e, (double)y[e]);
}

ParameterizedTestParameters(k_quant_edge, subnormals)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* fp32 subnormals (~1e-40) are below every scale ggml can store: they read back as 0.
 * fp16 subnormals (multiples of 2^-24 up to 2^-14) survive only as well as a subnormal
 * fp16 d allows; the bound is the block's largest |x|, and nothing may become Inf/NaN
 * (max - min of tiny values makes 1/iscale overflow-prone). */
ParameterizedTest(struct kq_param *p, k_quant_edge, subnormals)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float x[QK_K], y[QK_K];
    uint8_t q[300];
    rng_state = 99;
    for (int e = 0; e < QK_K; e++)
        x[e] = (float)((rng_uniform() - 0.5) * 2e-40);
    round_trip(kq, x, QK_K, p->use_imatrix, q, y);
    for (int e = 0; e < QK_K; e++)
        cr_expect(isfinite(y[e]) && fabsf(y[e]) <= 1e-30f,
                  "%s imatrix=%d: fp32 subnormal %a reads back %a", kq->name, p->use_imatrix,
                  (double)x[e], (double)y[e]);

    float amax = 0;
    for (int e = 0; e < QK_K; e++) {
        x[e] = ig_fp16_to_fp32((uint16_t)((e * 37) % 1024 | (e % 2 ? 0x8000 : 0)));
        amax = fmaxf(amax, fabsf(x[e]));
    }
    round_trip(kq, x, QK_K, p->use_imatrix, q, y);
    for (int e = 0; e < QK_K; e++)
        cr_expect(isfinite(y[e]) && fabsf(y[e] - x[e]) <= amax,
                  "%s imatrix=%d: fp16 subnormal %a reads back %a", kq->name, p->use_imatrix,
                  (double)x[e], (double)y[e]);
}

ParameterizedTestParameters(k_quant_edge, largest_fp16_values)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* ±65504 with ordinary values between: the scales stay well inside fp16 (d <= 65504·2/3/15),
 * so nothing overflows, and the extremes read back within half a step of their sub-block:
 * symmetric types step 65504/(2^(b-1)-1) (Q3_K /3, Q6_K /31), asymmetric ones span 131008
 * over 2^b - 1 steps (Q2_K: 131008/3), plus fp16 rounding of d and the scale codes
 * (bounded here by one extra step's worth for Q2_K's 4-bit codes). With an importance
 * matrix, Q3_K and Q6_K weigh elements by the importance alone, so a low-importance
 * extreme may be traded away: the codes run -2^(b-1) .. 2^(b-1)-1, so the extreme of the
 * other sign than the first maximum is clamped one step short, the candidate scales move
 * the maximum by up to 0.9 of a code, and the final rounding adds half a step: 2 steps. */
ParameterizedTest(struct kq_param *p, k_quant_edge, largest_fp16_values)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float x[QK_K], y[QK_K];
    uint8_t q[300];
    rng_state = 4242;
    for (int e = 0; e < QK_K; e++)
        x[e] = e % 16 == 3 ? 65504.0f : e % 16 == 9 ? -65504.0f : 1000.0f * rng_gauss();
    round_trip(kq, x, QK_K, p->use_imatrix, q, y);
    float step = kq->id == 11 || kq->id == 14 ? 65504.0f / ((1 << (kq->bits - 1)) - 1)
                                              : 131008.0f / ((1 << kq->bits) - 1);
    float bound = kq->id == 10 ? 1.5f * step : 0.5f * step * 1.05f;
    if (p->use_imatrix && (kq->id == 11 || kq->id == 14))
        bound = 2.0f * step;
    for (int e = 0; e < QK_K; e++) {
        cr_expect(isfinite(y[e]), "%s: element %d reads back %g", kq->name, e, (double)y[e]);
        if (fabsf(x[e]) == 65504.0f)
            cr_expect_leq(fabsf(y[e] - x[e]), bound, "%s imatrix=%d: %g reads back %g (bound %g)",
                          kq->name, p->use_imatrix, (double)x[e], (double)y[e], (double)bound);
    }
}

ParameterizedTestParameters(k_quant_edge, nan_and_inf_stay_in_their_block)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* llama.cpp sets no policy for NaN or Inf in a source row (llama-quantize rejects such
 * rows only after quantizing); the reference must simply not crash, not write outside
 * its block, and give the same bytes every time (nearest_int is a bit trick, not a
 * float-to-int conversion, so there is no undefined behaviour to vary). The next
 * super-block, which is finite, must be unaffected. */
ParameterizedTest(struct kq_param *p, k_quant_edge, nan_and_inf_stay_in_their_block)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float x[2 * QK_K], y[2 * QK_K];
    uint8_t q1[2 * 300 + 1], q2[2 * 300 + 1], alone[300];
    rng_state = 31;
    for (int e = 0; e < 2 * QK_K; e++)
        x[e] = 0.1f * rng_gauss();
    x[5] = NAN;
    x[40] = INFINITY;
    x[41] = -INFINITY;
    q1[2 * kq->block_bytes] = 0xE7;
    round_trip(kq, x, 2 * QK_K, p->use_imatrix, q1, y);
    round_trip(kq, x, 2 * QK_K, p->use_imatrix, q2, y);
    cr_expect(memcmp(q1, q2, 2 * kq->block_bytes) == 0, "%s imatrix=%d: NaN/Inf row packs "
              "differently on a second run", kq->name, p->use_imatrix);
    cr_expect_eq(q1[2 * kq->block_bytes], 0xE7, "%s: wrote past the row", kq->name);
    float w[2 * QK_K];
    make_importance(w, 2 * QK_K, 77);   /* the slice round_trip used for block 1 */
    cr_assert_eq(kq->quantize(x + QK_K, alone, QK_K, p->use_imatrix ? w + QK_K : NULL), 0);
    cr_expect(memcmp(alone, q1 + kq->block_bytes, kq->block_bytes) == 0,
              "%s imatrix=%d: NaN/Inf leaked into the next super-block", kq->name,
              p->use_imatrix);
}

/* ---- row lengths ------------------------------------------------------------------ */

ParameterizedTestParameters(k_quant_row, rejects_partial_super_block)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

ParameterizedTest(struct kq_param *p, k_quant_row, rejects_partial_super_block)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    static float x[2 * QK_K];
    uint8_t q[2 * 300];
    const int64_t bad[] = {1, QK_K - 1, QK_K + 1, 2 * QK_K - 32, -QK_K};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(q, 0x5A, sizeof q);
        ig_error_clear();
        int rc = kq->quantize(x, q, bad[i], NULL);
        cr_expect_eq(rc, IG_EINVAL, "%s n=%lld: rc %d", kq->name, (long long)bad[i], rc);
        char n_text[32];
        snprintf(n_text, sizeof n_text, "%lld", (long long)bad[i]);
        cr_expect(strstr(ig_error_message(), kq->name) && strstr(ig_error_message(), n_text),
                  "%s n=%lld: message '%s' names neither the type nor n", kq->name,
                  (long long)bad[i], ig_error_message());
        cr_expect_eq(q[0], 0x5A, "%s n=%lld: wrote output before failing", kq->name,
                     (long long)bad[i]);
    }
    cr_expect_eq(kq->quantize(x, q, 0, NULL), 0, "%s: an empty row is fine", kq->name);
}

ParameterizedTestParameters(k_quant_row, one_super_block_and_block_independence)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* A row of exactly one super-block packs to one block, and each super-block of a longer
 * row (with its own slice of the importance vector) packs as it would alone. */
ParameterizedTest(struct kq_param *p, k_quant_row, one_super_block_and_block_independence)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    float x[3 * QK_K], w[3 * QK_K];
    uint8_t whole[3 * 300], alone[300 + 1];
    rng_state = 5;
    for (int e = 0; e < 3 * QK_K; e++)
        x[e] = 0.05f * rng_gauss() + (e / QK_K) * 0.01f;
    make_importance(w, 3 * QK_K, 8);
    cr_assert_eq(kq->quantize(x, whole, 3 * QK_K, p->use_imatrix ? w : NULL), 0);
    for (int b = 0; b < 3; b++) {
        alone[kq->block_bytes] = 0xC3;
        cr_assert_eq(kq->quantize(x + b * QK_K, alone, QK_K,
                                  p->use_imatrix ? w + b * QK_K : NULL), 0);
        cr_expect(memcmp(alone, whole + b * kq->block_bytes, kq->block_bytes) == 0,
                  "%s imatrix=%d: super-block %d packs differently alone", kq->name,
                  p->use_imatrix, b);
        cr_expect_eq(alone[kq->block_bytes], 0xC3, "%s: one super-block wrote past %zu bytes",
                     kq->name, kq->block_bytes);
    }
}

/* ---- round-trip error bounds ------------------------------------------------------ */

ParameterizedTestParameters(k_quant_roundtrip, gaussian_rmse_bound)
{
    static struct kq_param params[] = {{10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0},
                                       {10, 1}, {11, 1}, {12, 1}, {13, 1}, {14, 1}};
    return cr_make_param_array(struct kq_param, params, sizeof params / sizeof params[0]);
}

/* Seeded Gaussian rows. A uniform quantizer with 2^b levels spanning a group's range R
 * has RMS error step/sqrt(12), step = R/(2^b - 1); the k-quants do at least that well
 * on each sub-block, up to the coarser stored scale (4- or 6-bit codes times fp16 d),
 * which we allow for with a factor 1.25. R is measured per sub-block (16 or 32
 * elements) and the bound is taken over the whole row, so the test fails if any type
 * loses more than a quarter of a step of accuracy on average. With an importance matrix
 * the searches minimise the importance-weighted error instead, giving up some unweighted
 * accuracy on unimportant columns (Q6_K measures 11 % worse here), so the factor is 1.5. */
ParameterizedTest(struct kq_param *p, k_quant_roundtrip, gaussian_rmse_bound)
{
    const struct kq_case *kq = kq_case_by_id(p->type_id);
    enum { N = 4 * QK_K };
    float x[N], y[N];
    uint8_t q[4 * 300];
    const uint64_t seed = 20240611;
    rng_state = seed;
    for (int e = 0; e < N; e++)
        x[e] = 0.02f * rng_gauss();
    round_trip(kq, x, N, p->use_imatrix, q, y);

    const int sub = kq->id == 12 || kq->id == 13 ? 32 : 16;
    double sq_err = 0, sq_bound = 0;
    for (int s = 0; s < N / sub; s++) {
        float lo = x[s * sub], hi = x[s * sub];
        for (int i = 0; i < sub; i++) {
            lo = fminf(lo, x[s * sub + i]);
            hi = fmaxf(hi, x[s * sub + i]);
            double d = (double)y[s * sub + i] - x[s * sub + i];
            sq_err += d * d;
        }
        double step = (hi - lo) / ((1 << kq->bits) - 1);
        sq_bound += sub * step * step / 12;
    }
    double rmse = sqrt(sq_err / N), bound = (p->use_imatrix ? 1.5 : 1.25) * sqrt(sq_bound / N);
    cr_expect_leq(rmse, bound, "%s imatrix=%d seed %llu: RMSE %g above bound %g", kq->name,
                  p->use_imatrix, (unsigned long long)seed, rmse, bound);
    cr_log_info("%s imatrix=%d: RMSE %.3g, bound %.3g", kq->name, p->use_imatrix, rmse, bound);
}
