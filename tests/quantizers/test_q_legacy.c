/* test_q_legacy.c — Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and IQ4_NL against llama.cpp and by hand.
 *
 * Goldens (../shared/data/peers, see its README): llama-quantize's outputs for the F16
 * tl3m model and the F32 stories260K model, with and without an importance matrix.
 * hashes/<mix>.txt lists the sha256 of every output tensor; every tensor whose type is
 * one of the six here must come out of ingot identical. tl3m-Q4_0.gguf / tl3m-Q8_0.gguf
 * hold the bytes themselves, so a mismatch there names the block. The rest are blocks
 * worked out by hand from q_legacy.h and error bounds on awkward and random inputs.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/ggml_type.h"
#include "formats/gguf.h"
#include "quantizers/q_legacy.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the six types -------------------------------------------------------------------- */

enum { T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0, T_IQ4_NL, N_TYPES };

struct legacy_type {
    const char *name;
    int id;                          /* ggml type id */
    size_t block_bytes;
    quant_quantize_row_fn quantize;
    quant_dequantize_row_fn dequantize;
    int has_min;                     /* Q4_1, Q5_1: fp16 offset m at bytes 2..3 */
    int qh_offset;                   /* Q5_*: byte offset of the 32-bit high-bit mask, else 0 */
    /* Without an importance matrix, |x - dequantized x| <= half_units * d plus what fp16
     * rounding of d moves the furthest level (max_level * d * 2^-11, doubled for slack):
     * half a step for rounding, a whole step where the top level clamps (Q4_0: x/d in
     * (7.5, 8] -> 7), half the widest table gap for IQ4_NL (89..113). */
    double half_units;
    int max_level;
};

static const struct legacy_type types[N_TYPES] = {
    {"Q4_0", GGML_TYPE_Q4_0, sizeof(block_q4_0), q4_0_quantize_row_ref, q4_0_dequantize_row_ref,
     0, 0, 1.0, 8},
    {"Q4_1", GGML_TYPE_Q4_1, sizeof(block_q4_1), q4_1_quantize_row_ref, q4_1_dequantize_row_ref,
     1, 0, 0.5, 15},
    {"Q5_0", GGML_TYPE_Q5_0, sizeof(block_q5_0), q5_0_quantize_row_ref, q5_0_dequantize_row_ref,
     0, 2, 1.0, 16},
    {"Q5_1", GGML_TYPE_Q5_1, sizeof(block_q5_1), q5_1_quantize_row_ref, q5_1_dequantize_row_ref,
     1, 4, 0.5, 31},
    {"Q8_0", GGML_TYPE_Q8_0, sizeof(block_q8_0), q8_0_quantize_row_ref, q8_0_dequantize_row_ref,
     0, 0, 0.5, 127},
    {"IQ4_NL", GGML_TYPE_IQ4_NL, sizeof(block_iq4_nl), iq4_nl_quantize_row_ref,
     iq4_nl_dequantize_row_ref, 0, 0, 12.0, 127},
};

static const int8_t iq4nl_table[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1,    13,   25,  38,  53,  69,  89,  113};

static const struct legacy_type *type_by_id(int id)
{
    for (int i = 0; i < N_TYPES; i++)
        if (types[i].id == id)
            return &types[i];
    return NULL;
}

static uint16_t blk_u16(const uint8_t *blk, int offset)
{
    return (uint16_t)(blk[offset] | blk[offset + 1] << 8);
}

static float blk_d(const uint8_t *blk)
{
    return ig_fp16_to_fp32(blk_u16(blk, 0));
}

static float blk_m(const struct legacy_type *t, const uint8_t *blk)
{
    return t->has_min ? ig_fp16_to_fp32(blk_u16(blk, 2)) : 0.0f;
}

/* The bound of struct legacy_type's comment for element value x of block blk. For IQ4_NL
 * a value past the table's ends (x/d > 113 or < -127) also counts its distance to the end,
 * plus one unit of slack because ggml picks indices with the unrounded d. The fp32 terms
 * (2^-20 |x|) cover rounding in x/d. */
static double ref_error_bound(const struct legacy_type *t, const uint8_t *blk, float x)
{
    double d = fabs(blk_d(blk)), m = fabs(blk_m(t, blk));
    double units = t->half_units;
    if (t->id == GGML_TYPE_IQ4_NL && d > 0) {
        double u = x / (double)blk_d(blk);
        units = fmax(units, fmax(u - 113, -127 - u)) + 1;
    }
    double d_rounding = t->max_level * (d * 0x1p-10 + 0x1p-24);
    double m_rounding = t->has_min ? m * 0x1p-10 + 0x1p-24 : 0;
    return units * d + d_rounding + m_rounding + fabs(x) * 0x1p-20;
}

static void hex_block(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- seeded inputs -------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rng_uniform(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1p-53;
}

static double rng_gauss(uint64_t *s)
{
    double u = rng_uniform(s), v = rng_uniform(s);
    return sqrt(-2.0 * log(u + 0x1p-60)) * cos(6.283185307179586 * v);
}

/* n weights like a trained layer's: N(0, 0.02), 1 in 64 an outlier x20, rounded to fp16
 * when as_fp16 (the sources are fp16). kind 1 shifts everything positive. */
static void fill_row(float *x, int64_t n, uint64_t seed, int kind, int as_fp16)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        double v = 0.02 * rng_gauss(&s);
        if (rng_next(&s) % 64 == 0)
            v *= 20;
        if (kind == 1)
            v = fabs(v) + 0.01;
        x[i] = as_fp16 ? ig_fp16_to_fp32(ig_fp32_to_fp16((float)v)) : (float)v;
    }
}

/* Importance weights spread over four decades, as mean squared activations are. */
static void fill_imatrix(float *w, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0xD1B54A32D192ED03ull + 7;
    for (int64_t i = 0; i < n; i++)
        w[i] = (float)pow(10.0, 4 * rng_uniform(&s) - 2);
}

/* ---- sha256 through coreutils --------------------------------------------------------- */

/* sha256 of n_files files dir/t000.bin, dir/t001.bin, ... (one sha256sum run, since a
 * spawn per tensor costs more than the hashing) as 64 hex digits into hex[i][65]; the
 * files are removed. Returns 0 or -1. */
static int sha256_files(const char *dir, int n_files, char (*hex)[65])
{
    char cmd[4300], line[4400];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'/t*.bin", dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int n = 0;
    while (n < n_files && fgets(line, sizeof line, p)) {
        char *slash = strrchr(line, '/');
        int k;
        if (sscanf(line, "%64s", hex[n]) != 1 || !slash || sscanf(slash, "/t%d.bin", &k) != 1 ||
            k != n)
            break;
        n++;
    }
    int ok = pclose(p) == 0 && n == n_files;
    for (int k = 0; k < n_files; k++) {
        snprintf(line, sizeof line, "%s/t%03d.bin", dir, k);
        unlink(line);
    }
    return ok ? 0 : -1;
}

/* ---- golden files --------------------------------------------------------------------- */

/* The tensor's values as floats (F16 or F32 sources); caller frees. */
static float *tensor_floats(const struct gguf_tensor_info *t, int64_t *n_out)
{
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert(x);
    if (t->type == GGML_TYPE_F16) {
        for (int64_t i = 0; i < n; i++)
            x[i] = ig_fp16_to_fp32(blk_u16(t->data + 2 * i, 0));
    } else {
        cr_assert_eq(t->type, GGML_TYPE_F32, "source tensor '%s' has type %d", t->name, t->type);
        memcpy(x, t->data, (size_t)n * sizeof *x);
    }
    *n_out = n;
    return x;
}

/* llama-quantize's importance vector for weight `name` (length n_in) from a GGUF imatrix:
 * NAME.in_sum2 / NAME.counts in float32, 1 where the count is 0; NULL if the file has no
 * entry (llama-quantize then quantizes that tensor without one). Caller frees. */
static float *imatrix_for(const struct gguf_file *im, const char *name, int64_t n_in)
{
    char key[160];   /* name (< 128 bytes, see check_mix) + suffix */
    snprintf(key, sizeof key, "%s.in_sum2", name);
    int64_t i_sum = gguf_find_tensor(im, key);
    snprintf(key, sizeof key, "%s.counts", name);
    int64_t i_cnt = gguf_find_tensor(im, key);
    if (i_sum < 0 || i_cnt < 0)
        return NULL;
    const struct gguf_tensor_info *ts = gguf_tensor_at(im, i_sum), *tc = gguf_tensor_at(im, i_cnt);
    cr_assert(ts->type == GGML_TYPE_F32 && tc->type == GGML_TYPE_F32 && ts->ne[0] == n_in &&
                  ts->ne[1] == 1,
              "imatrix entry for '%s': type %d, ne [%lld, %lld], want F32 [%lld, 1]", name,
              ts->type, (long long)ts->ne[0], (long long)ts->ne[1], (long long)n_in);
    float count, *imp = malloc((size_t)n_in * sizeof *imp);
    cr_assert(imp);
    memcpy(&count, tc->data, sizeof count);
    for (int64_t j = 0; j < n_in; j++) {
        float s;
        memcpy(&s, ts->data + 4 * j, sizeof s);
        imp[j] = count > 0.0f ? s / count : 1.0f;
    }
    return imp;
}

/* Quantize tensor t row by row (n = ne[0]) as type qt into a new buffer of *size_bytes. */
static uint8_t *quantize_tensor(const struct legacy_type *qt, const struct gguf_tensor_info *t,
                                const float *imp, size_t *size_bytes)
{
    int64_t n, n_per_row = t->ne[0];
    float *x = tensor_floats(t, &n);
    size_t row_bytes = (size_t)(n_per_row / 32) * qt->block_bytes;
    int64_t n_rows = n / n_per_row;
    uint8_t *q = malloc(row_bytes * (size_t)n_rows);
    cr_assert(q);
    for (int64_t r = 0; r < n_rows; r++) {
        int rc = qt->quantize(x + r * n_per_row, q + (size_t)r * row_bytes, n_per_row, imp);
        cr_assert_eq(rc, 0, "%s: %s", t->name, ig_error_message());
    }
    free(x);
    *size_bytes = row_bytes * (size_t)n_rows;
    return q;
}

/* One line of a hash list: a tensor llama-quantize wrote as one of our types. */
struct golden_tensor {
    char name[128];
    const struct legacy_type *qt;
    unsigned long long bytes;
    char sha256[80];
    int with_imatrix;
    size_t size;           /* what ingot wrote */
};

enum { MAX_GOLDEN = 64 };

/* Every tensor listed in hash_rel with one of our six types, quantized from src_rel (with
 * the importance matrix imx_rel when not NULL), must hash as llama-quantize's did.
 * n_expected is how many such tensors the list holds, so a parse that silently finds
 * none fails too. */
static void check_mix(const char *src_rel, const char *hash_rel, const char *imx_rel,
                      int n_expected)
{
    const char *src = test_shared_path(src_rel);
    const char *hashes = test_shared_path(hash_rel);
    const char *imx = imx_rel ? test_shared_path(imx_rel) : NULL;
    if (!src || !hashes || (imx_rel && !imx))
        cr_skip_test("../shared/data/peers is missing (set INGOT_DATA)");
    struct gguf_file *g, *im = NULL;
    cr_assert_eq(gguf_open(&g, src), 0, "%s", ig_error_message());
    if (imx)
        cr_assert_eq(gguf_open(&im, imx), 0, "%s", ig_error_message());
    FILE *f = fopen(hashes, "r");
    cr_assert(f, "cannot read %s", hashes);
    const char *dir = test_tmp_dir();
    cr_assert(dir);

    static struct golden_tensor gt[MAX_GOLDEN];
    static char got[MAX_GOLDEN][65];
    struct golden_tensor *e = &gt[0];
    int n = 0, id;
    char shape[64];
    while (n < MAX_GOLDEN &&
           fscanf(f, "%127s %d %63s %llu %79s", e->name, &id, shape, &e->bytes, e->sha256) == 5) {
        if (!(e->qt = type_by_id(id)))
            continue;
        int64_t ti = gguf_find_tensor(g, e->name);
        cr_assert_geq(ti, 0, "%s: tensor '%s' is not in %s", hash_rel, e->name, src_rel);
        const struct gguf_tensor_info *t = gguf_tensor_at(g, ti);
        float *imp = im ? imatrix_for(im, e->name, t->ne[0]) : NULL;
        e->with_imatrix = imp != NULL;
        uint8_t *q = quantize_tensor(e->qt, t, imp, &e->size);
        char path[4200];
        snprintf(path, sizeof path, "%s/t%03d.bin", dir, n);
        cr_assert_eq(test_write_file(path, q, e->size), 0, "cannot write %s", path);
        free(q);
        free(imp);
        e = &gt[++n];
    }
    fclose(f);
    cr_assert_eq(sha256_files(dir, n, got), 0, "sha256sum failed on %d files in %s", n, dir);
    rmdir(dir);

    int n_checked[N_TYPES] = {0}, n_same[N_TYPES] = {0};
    for (int k = 0; k < n; k++) {
        int same = gt[k].size == gt[k].bytes && strcmp(got[k], gt[k].sha256) == 0;
        n_checked[gt[k].qt - types]++;
        n_same[gt[k].qt - types] += same;
        cr_expect(same, "%s: %s as %s%s: %zu bytes sha256 %s, llama-quantize %llu bytes %s",
                  hash_rel, gt[k].name, gt[k].qt->name, gt[k].with_imatrix ? " with imatrix" : "",
                  gt[k].size, got[k], gt[k].bytes, gt[k].sha256);
    }
    for (int i = 0; i < N_TYPES; i++)
        if (n_checked[i])
            cr_log_info("%s: %s %d of %d tensors identical", hash_rel, types[i].name, n_same[i],
                        n_checked[i]);
    cr_expect_eq(n, n_expected, "%s: %d tensors of our types, expected %d", hash_rel, n,
                 n_expected);
    gguf_close(im);
    gguf_close(g);
}

#define TL3M "peers/tl3m/"
#define S260K "peers/stories260K/"

Test(q_legacy_golden, tl3m_q4_0)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-Q4_0.txt", NULL, 29);
}
Test(q_legacy_golden, tl3m_q4_1)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-Q4_1.txt", NULL, 29);
}
Test(q_legacy_golden, tl3m_q5_0)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-Q5_0.txt", NULL, 29);
}
Test(q_legacy_golden, tl3m_q5_1)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-Q5_1.txt", NULL, 29);
}
Test(q_legacy_golden, tl3m_q8_0)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-Q8_0.txt", NULL, 30);
}
Test(q_legacy_golden, tl3m_iq4_nl)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-IQ4_NL.txt", NULL, 29);
}
Test(q_legacy_golden, tl3m_imatrix_q4_0)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-imx-Q4_0.txt", TL3M "tl3m-imatrix.gguf", 29);
}
Test(q_legacy_golden, tl3m_imatrix_iq4_nl)
{
    check_mix(TL3M "tl3m-F16.gguf", TL3M "hashes/tl3m-imx-IQ4_NL.txt", TL3M "tl3m-imatrix.gguf",
              29);
}

/* stories260K is F32 and 64 wide: its "Q4_K_M" falls back to Q5_0 and Q8_0 for every
 * matrix, so these cover Q5_0 with an importance matrix. */
#define S260K_SRC "gguf-stories260K/stories260K.gguf"
#define S260K_IMX S260K "imatrix-wikivalid-c128-500.gguf"
Test(q_legacy_golden, stories260k_q4_0)
{
    check_mix(S260K_SRC, S260K "hashes/stories260K-Q4_0.txt", NULL, 32);
}
Test(q_legacy_golden, stories260k_q8_0)
{
    check_mix(S260K_SRC, S260K "hashes/stories260K-Q8_0.txt", NULL, 32);
}
Test(q_legacy_golden, stories260k_q4_k_m_fallbacks)
{
    check_mix(S260K_SRC, S260K "hashes/stories260K-Q4_K_M.txt", NULL, 32);
}
Test(q_legacy_golden, stories260k_imatrix_q4_0)
{
    check_mix(S260K_SRC, S260K "hashes/stories260K-imat-Q4_0.txt", S260K_IMX, 32);
}
Test(q_legacy_golden, stories260k_imatrix_q4_k_m_fallbacks)
{
    check_mix(S260K_SRC, S260K "hashes/stories260K-imat-Q4_K_M.txt", S260K_IMX, 32);
}

/* ---- llama.cpp's own blocks ------------------------------------------------------------ */

struct file_pair {
    struct gguf_file *src, *quant;
};

static void open_pair(struct file_pair *p, const char *quant_rel)
{
    const char *src = test_shared_path(TL3M "tl3m-F16.gguf");
    const char *quant = test_shared_path(quant_rel);
    if (!src || !quant)
        cr_skip_test("../shared/data/peers/tl3m is missing (set INGOT_DATA)");
    cr_assert_eq(gguf_open(&p->src, src), 0, "%s", ig_error_message());
    cr_assert_eq(gguf_open(&p->quant, quant), 0, "%s", ig_error_message());
}

/* Quantizing the F16 source gives llama.cpp's bytes; the first differing block is printed
 * with both byte strings and its 32 inputs. */
static void check_file_bytes(const char *quant_rel, int type_id)
{
    struct file_pair p;
    open_pair(&p, quant_rel);
    const struct legacy_type *qt = type_by_id(type_id);
    int n_tensors = 0;
    for (int64_t i = 0; i < gguf_n_tensors(p.quant); i++) {
        const struct gguf_tensor_info *tq = gguf_tensor_at(p.quant, i);
        if (tq->type != type_id)
            continue;
        int64_t si = gguf_find_tensor(p.src, tq->name);
        cr_assert_geq(si, 0, "%s: tensor '%s' is not in the F16 source", quant_rel, tq->name);
        const struct gguf_tensor_info *ts = gguf_tensor_at(p.src, si);
        size_t size;
        uint8_t *q = quantize_tensor(qt, ts, NULL, &size);
        cr_assert_eq(size, tq->size_bytes, "%s: %zu bytes, file has %llu", tq->name, size,
                     (unsigned long long)tq->size_bytes);
        for (size_t b = 0; b < size / qt->block_bytes; b++) {
            const uint8_t *mine = q + b * qt->block_bytes, *theirs = tq->data + b * qt->block_bytes;
            if (memcmp(mine, theirs, qt->block_bytes) == 0)
                continue;
            char hm[80], ht[80], xs[32 * 16] = "";
            int64_t n;
            float *x = tensor_floats(ts, &n);
            hex_block(hm, mine, qt->block_bytes);
            hex_block(ht, theirs, qt->block_bytes);
            for (int j = 0; j < 32; j++)
                sprintf(xs + strlen(xs), "%.9g ", x[32 * b + (size_t)j]);
            cr_expect_fail("%s %s block %zu differs:\n  ingot %s\n  llama %s\n  x = %s",
                           tq->name, qt->name, b, hm, ht, xs);
            free(x);
            break;
        }
        free(q);
        n_tensors++;
    }
    cr_expect_geq(n_tensors, 29, "%s: only %d %s tensors", quant_rel, n_tensors, qt->name);
    gguf_close(p.quant);
    gguf_close(p.src);
}

Test(q_legacy_golden, tl3m_q4_0_file_bytes_match)
{
    check_file_bytes(TL3M "tl3m-Q4_0.gguf", GGML_TYPE_Q4_0);
}
Test(q_legacy_golden, tl3m_q8_0_file_bytes_match)
{
    check_file_bytes(TL3M "tl3m-Q8_0.gguf", GGML_TYPE_Q8_0);
}

/* Dequantizing llama.cpp's blocks lands near the source. Derivation: with the unrounded
 * scale d recomputed from the source block (Q8_0: max|x|/127; Q4_0: max/-8) and level q
 * read from the file, |x - q d| <= d/2 (Q4_0: up to a whole d for the clamped top level
 * 15), and storing d as fp16 d' moves q d by |q| |d - d'|. So
 *   |x - q d'| <= c |d| + |q| |d - d'| + fp32 slack,  c = 1/2 or 1. */
static void check_file_dequant(const char *quant_rel, int type_id)
{
    struct file_pair p;
    open_pair(&p, quant_rel);
    const struct legacy_type *qt = type_by_id(type_id);
    double worst = 0;   /* largest error / bound seen */
    for (int64_t i = 0; i < gguf_n_tensors(p.quant); i++) {
        const struct gguf_tensor_info *tq = gguf_tensor_at(p.quant, i);
        if (tq->type != type_id)
            continue;
        int64_t si = gguf_find_tensor(p.src, tq->name);
        cr_assert_geq(si, 0, "%s: tensor '%s' is not in the F16 source", quant_rel, tq->name);
        const struct gguf_tensor_info *ts = gguf_tensor_at(p.src, si);
        int64_t n;
        float *x = tensor_floats(ts, &n);
        float *y = malloc((size_t)n * sizeof *y);
        cr_assert(y);
        qt->dequantize(tq->data, y, n);
        for (int64_t b = 0; b < n / 32; b++) {
            const float *xb = x + 32 * b;
            const uint8_t *blk = tq->data + (size_t)b * qt->block_bytes;
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
                if (fabsf(xb[j]) > amax) {
                    amax = fabsf(xb[j]);
                    max = xb[j];
                }
            /* d in float, as ggml computes it */
            const float d = type_id == GGML_TYPE_Q8_0 ? amax / 127 : max / -8;
            double dd = fabs((double)d - blk_d(blk));
            for (int j = 0; j < 32; j++) {
                int q = type_id == GGML_TYPE_Q8_0
                            ? (int8_t)blk[2 + j]
                            : (j < 16 ? blk[2 + j] & 15 : blk[2 + j - 16] >> 4);
                double c = (type_id == GGML_TYPE_Q4_0 && q == 15) ? 1.0 : 0.5;
                int level = type_id == GGML_TYPE_Q4_0 ? q - 8 : q;
                double bound = c * fabsf(d) + abs(level) * dd + fabs(xb[j]) * 0x1p-20;
                double err = fabs((double)xb[j] - y[32 * b + j]);
                worst = fmax(worst, bound > 0 ? err / bound : err);
                if (err > bound) {
                    cr_expect_fail("%s block %lld element %d: x %.9g, dequantized %.9g, |error| "
                                   "%.3g > bound %.3g (d %.9g, stored %.9g, q %d)",
                                   tq->name, (long long)b, j, xb[j], y[32 * b + j], err, bound, d,
                                   blk_d(blk), q);
                    b = n;   /* one report per tensor: leave both loops */
                    break;
                }
            }
        }
        free(y);
        free(x);
    }
    cr_log_info("%s: largest error / bound = %.3f", quant_rel, worst);
    cr_expect_gt(worst, 0.5, "%s: errors far below the bound: is the bound checked at all?",
                 quant_rel);
    gguf_close(p.quant);
    gguf_close(p.src);
}

Test(q_legacy_golden, tl3m_q4_0_file_dequantizes_within_a_step)
{
    check_file_dequant(TL3M "tl3m-Q4_0.gguf", GGML_TYPE_Q4_0);
}
Test(q_legacy_golden, tl3m_q8_0_file_dequantizes_within_half_a_step)
{
    check_file_dequant(TL3M "tl3m-Q8_0.gguf", GGML_TYPE_Q8_0);
}

/* ---- every type: awkward blocks -------------------------------------------------------- */

/* One grid cell: a type, with (1) or without (0) an importance matrix. */
struct legacy_case {
    int type;
    int with_imatrix;
};

/* Static data: Criterion hands each worker a pointer into this array. */
static struct legacy_case all_cases[2 * N_TYPES] = {
    {T_Q4_0, 0}, {T_Q4_0, 1}, {T_Q4_1, 0}, {T_Q4_1, 1},     {T_Q5_0, 0},   {T_Q5_0, 1},
    {T_Q5_1, 0}, {T_Q5_1, 1}, {T_Q8_0, 0}, {T_Q8_0, 1},     {T_IQ4_NL, 0}, {T_IQ4_NL, 1},
};

static struct criterion_test_params legacy_cases(void)
{
    return cr_make_param_array(struct legacy_case, all_cases, 2 * N_TYPES);
}

#define CASE_FMT "%s%s"
#define CASE_ARGS(c) types[(c)->type].name, (c)->with_imatrix ? " with imatrix" : ""

/* Quantize x[n] as case c (imatrix: seeded, or NULL), then dequantize into y. */
static void round_trip(const struct legacy_case *c, const float *x, uint8_t *q, float *y, int64_t n)
{
    const struct legacy_type *t = &types[c->type];
    float *imp = NULL;
    if (c->with_imatrix) {
        imp = malloc((size_t)n * sizeof *imp);
        cr_assert(imp);
        fill_imatrix(imp, n, 99);
    }
    cr_assert_eq(t->quantize(x, q, n, imp), 0, CASE_FMT ": %s", CASE_ARGS(c), ig_error_message());
    free(imp);
    t->dequantize(q, y, n);
}

/* Every output finite and, without an importance matrix, within ref_error_bound. */
static void expect_near(const struct legacy_case *c, const float *x, const uint8_t *q,
                        const float *y, int64_t n, const char *what)
{
    const struct legacy_type *t = &types[c->type];
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *blk = q + (size_t)(i / 32) * t->block_bytes;
        cr_expect(isfinite(y[i]), CASE_FMT " %s: element %lld dequantizes to %g", CASE_ARGS(c),
                  what, (long long)i, y[i]);
        if (c->with_imatrix)
            continue;
        double bound = ref_error_bound(t, blk, x[i]);
        cr_expect_leq(fabs((double)x[i] - y[i]), bound,
                      CASE_FMT " %s: element %lld: x %.9g, dequantized %.9g, bound %.3g (d %.9g)",
                      CASE_ARGS(c), what, (long long)i, x[i], y[i], bound, blk_d(blk));
    }
}

ParameterizedTestParameters(q_legacy, rejects_lengths_not_a_multiple_of_32)
{
    return legacy_cases();
}
ParameterizedTest(struct legacy_case *c, q_legacy, rejects_lengths_not_a_multiple_of_32)
{
    const struct legacy_type *t = &types[c->type];
    const int64_t bad[] = {1, 31, 33, 63, -32};
    float x[64] = {0}, imp[64];
    uint8_t q[4 * 34];
    for (int i = 0; i < 64; i++)
        imp[i] = 1;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char want[32];
        memset(q, 0xA5, sizeof q);
        int rc = t->quantize(x, q, bad[k], c->with_imatrix ? imp : NULL);
        cr_expect_eq(rc, IG_EINVAL, CASE_FMT ": n = %lld gave %d", CASE_ARGS(c), (long long)bad[k],
                     rc);
        snprintf(want, sizeof want, "%lld", (long long)bad[k]);
        cr_expect(strstr(ig_error_message(), t->name) && strstr(ig_error_message(), want),
                  CASE_FMT ": message '%s' names neither the type nor n = %s", CASE_ARGS(c),
                  ig_error_message(), want);
        cr_expect_eq(q[0], 0xA5, CASE_FMT ": n = %lld wrote to dst", CASE_ARGS(c),
                     (long long)bad[k]);
    }
    cr_expect_eq(t->quantize(x, q, 0, NULL), 0, "%s: an empty row is a valid row", t->name);
}

/* The bytes of an all-zero block, derived from q_legacy.h. ggml's symmetric _ref types
 * start max at +0.0f, so d = +0 / -8 = -0 and fp16 0x8000; their imatrix path returns
 * d = 0 with levels 0 instead of the midpoint. Q4_1/Q5_1 store m = fp16(min), which for
 * -0.0 input is 0x8000 (ref: min = -0; imatrix: m = -(the_min) = -(-(-0)) = -0). IQ4_NL
 * maps 0 to index 8 (table value 1) through id = 0. */
static void zero_block_bytes(const struct legacy_case *c, int negative, uint8_t *out)
{
    const struct legacy_type *t = &types[c->type];
    int symmetric = c->type == T_Q4_0 || c->type == T_Q5_0;
    uint16_t d = (symmetric && !c->with_imatrix) ? 0x8000 : 0;
    uint16_t m = (t->has_min && negative) ? 0x8000 : 0;
    uint8_t qs = 0;
    uint32_t qh = 0;
    if ((c->type == T_Q4_0 && !c->with_imatrix) || c->type == T_IQ4_NL)
        qs = 0x88;   /* level 8 in both nibbles */
    if (c->type == T_Q5_0 && !c->with_imatrix)
        qh = 0xFFFFFFFFu;   /* level 16 = 0b10000 for all 32 */
    memset(out, qs, t->block_bytes);
    out[0] = (uint8_t)d;
    out[1] = (uint8_t)(d >> 8);
    if (t->has_min) {
        out[2] = (uint8_t)m;
        out[3] = (uint8_t)(m >> 8);
    }
    if (t->qh_offset)
        for (int b = 0; b < 4; b++)
            out[t->qh_offset + b] = (uint8_t)(qh >> (8 * b));
    if (c->type == T_Q8_0)
        memset(out + 2, 0, 32);
}

ParameterizedTestParameters(q_legacy, zero_block_has_exact_bytes) { return legacy_cases(); }
ParameterizedTest(struct legacy_case *c, q_legacy, zero_block_has_exact_bytes)
{
    const struct legacy_type *t = &types[c->type];
    for (int negative = 0; negative <= 1; negative++) {
        float x[32], y[32];
        uint8_t q[34], want[34];
        char hq[80], hw[80];
        for (int j = 0; j < 32; j++)
            x[j] = negative ? -0.0f : 0.0f;
        round_trip(c, x, q, y, 32);
        zero_block_bytes(c, negative, want);
        hex_block(hq, q, t->block_bytes);
        hex_block(hw, want, t->block_bytes);
        cr_expect(memcmp(q, want, t->block_bytes) == 0, CASE_FMT " of %s zeros: %s, want %s",
                  CASE_ARGS(c), negative ? "negative" : "positive", hq, hw);
        for (int j = 0; j < 32; j++)
            cr_expect_eq(y[j], 0.0f, CASE_FMT ": zero block element %d dequantizes to %g",
                         CASE_ARGS(c), j, y[j]);
    }
}

ParameterizedTestParameters(q_legacy, one_outlier_sets_the_scale) { return legacy_cases(); }
ParameterizedTest(struct legacy_case *c, q_legacy, one_outlier_sets_the_scale)
{
    float x[32], y[32];
    uint8_t q[34];
    for (int j = 0; j < 32; j++)
        x[j] = 0.001f * (float)(j - 16);
    x[7] = 100.0f;
    round_trip(c, x, q, y, 32);
    expect_near(c, x, q, y, 32, "outlier block");
    /* Without importance weights the outlier sets the scale and survives to within 1 %
     * (Q4_0/Q5_0: exactly, -8 d = 100 with d = -12.5 exact in fp16). A weighted fit may
     * trade it for the elements the (random) importance favours, so only finiteness is
     * asked of the imatrix paths. */
    if (!c->with_imatrix)
        cr_expect_leq(fabsf(y[7] - 100.0f), 1.0f, CASE_FMT ": outlier 100 dequantizes to %g",
                      CASE_ARGS(c), y[7]);
    if (!c->with_imatrix && (c->type == T_Q4_0 || c->type == T_Q5_0))
        cr_expect_eq(y[7], 100.0f, CASE_FMT ": outlier 100 dequantizes to %g", CASE_ARGS(c), y[7]);
}

ParameterizedTestParameters(q_legacy, fp16_subnormals_stay_finite) { return legacy_cases(); }
ParameterizedTest(struct legacy_case *c, q_legacy, fp16_subnormals_stay_finite)
{
    float x[32], y[32];
    uint8_t q[34];
    for (int j = 0; j < 32; j++)   /* +-1 .. 32 units of the smallest fp16 subnormal, 2^-24 */
        x[j] = (j % 2 ? -1.0f : 1.0f) * (float)(j + 1) * 0x1p-24f;
    round_trip(c, x, q, y, 32);
    expect_near(c, x, q, y, 32, "fp16 subnormals");
    for (int j = 0; j < 32; j++)
        cr_expect_leq(fabsf(y[j]), 64 * 0x1p-24f, CASE_FMT ": element %d: %g", CASE_ARGS(c), j,
                      y[j]);
}

ParameterizedTestParameters(q_legacy, fp32_subnormals_give_zeros) { return legacy_cases(); }
ParameterizedTest(struct legacy_case *c, q_legacy, fp32_subnormals_give_zeros)
{
    /* 1/d overflows to Inf here; ggml's (int8_t) cast of Inf/NaN is x86's 0x80000000. */
    float x[32], y[32];
    uint8_t q[34];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 15) * 1e-40f;
    round_trip(c, x, q, y, 32);
    for (int j = 0; j < 32; j++)
        cr_expect(isfinite(y[j]) && fabsf(y[j]) <= 1e-37f, CASE_FMT ": element %d: %g",
                  CASE_ARGS(c), j, y[j]);
}

ParameterizedTestParameters(q_legacy, largest_fp16_values_stay_finite) { return legacy_cases(); }
ParameterizedTest(struct legacy_case *c, q_legacy, largest_fp16_values_stay_finite)
{
    const struct legacy_type *t = &types[c->type];
    float x[64], y[64];
    uint8_t q[2 * 34];
    for (int j = 0; j < 64; j++)
        x[j] = (float)(j * 2047 % 131009) - 65504.0f;
    x[0] = 65504.0f;    /* block 0: +max first, then -max */
    x[1] = -65504.0f;
    x[32] = -65504.0f;  /* block 1: -max first */
    x[33] = 65504.0f;
    round_trip(c, x, q, y, 64);
    for (int b = 0; b < 2; b++) {
        uint16_t d = blk_u16(q + b * t->block_bytes, 0);
        cr_expect_neq(d & 0x7c00, 0x7c00, CASE_FMT ": block %d scale 0x%04x is not finite",
                      CASE_ARGS(c), b, d);
    }
    expect_near(c, x, q, y, 64, "+-65504");
    if (!c->with_imatrix && (c->type == T_Q4_0 || c->type == T_Q5_0)) {
        /* signed max: the first of equal |x| wins, so d = -+65504 / 8 or / 16 */
        float want = c->type == T_Q4_0 ? 8188.0f : 4094.0f;
        cr_expect_eq(blk_d(q), -want, "%s block 0: d %g, want %g", t->name, blk_d(q), -want);
        cr_expect_eq(blk_d(q + t->block_bytes), want, "%s block 1: d %g, want %g", t->name,
                     blk_d(q + t->block_bytes), want);
    }
}

ParameterizedTestParameters(q_legacy, random_rows_round_trip_within_a_step)
{
    return legacy_cases();
}
ParameterizedTest(struct legacy_case *c, q_legacy, random_rows_round_trip_within_a_step)
{
    enum { N = 512 };
    float x[N], y[N];
    uint8_t q[N / 32 * 34];
    for (uint64_t seed = 1; seed <= 12; seed++) {
        int kind = (int)(seed % 2), as_fp16 = (int)(seed % 3 != 0);
        fill_row(x, N, seed, kind, as_fp16);
        round_trip(c, x, q, y, N);
        char what[64];
        snprintf(what, sizeof what, "seed %llu kind %d fp16 %d", (unsigned long long)seed, kind,
                 as_fp16);
        expect_near(c, x, q, y, N, what);
    }
}

/* Blocks do not interact, except through the imatrix paths of Q4_0..Q5_1, which weigh
 * every block by the row's RMS (sigma2): a row is then the concatenation of its blocks
 * quantized alone. IQ4_NL's sigma2 is per block, Q8_0 ignores the imatrix. */
ParameterizedTestParameters(q_legacy, blocks_are_independent) { return legacy_cases(); }
ParameterizedTest(struct legacy_case *c, q_legacy, blocks_are_independent)
{
    if (c->with_imatrix && c->type != T_IQ4_NL && c->type != T_Q8_0)
        cr_skip_test("%s with imatrix weighs every block by the row's RMS", types[c->type].name);
    const struct legacy_type *t = &types[c->type];
    enum { N = 96 };
    float x[N], imp[N];
    uint8_t whole[3 * 34], part[34];
    fill_row(x, N, 5, 0, 1);
    fill_imatrix(imp, N, 6);
    const float *w = c->with_imatrix ? imp : NULL;
    cr_assert_eq(t->quantize(x, whole, N, w), 0);
    for (int b = 0; b < 3; b++) {
        cr_assert_eq(t->quantize(x + 32 * b, part, 32, w ? w + 32 * b : NULL), 0);
        cr_expect(memcmp(part, whole + b * t->block_bytes, t->block_bytes) == 0,
                  CASE_FMT ": block %d quantized alone differs from within the row",
                  CASE_ARGS(c), b);
    }
}

/* A block whose importance is all zero has no weighted error to minimise; the result is
 * still defined and finite. IQ4_NL then stores d = 0 (ggml's current sumq2 > 0 guard;
 * llama.cpp versions without it stored NaN), Q4_0/Q5_0 too (make_qx_quants' suml2 guard),
 * Q4_1/Q5_1 keep the first candidate's range scale. */
Test(q_legacy, zero_importance_blocks_stay_finite)
{
    float x[64], imp[64], y[64];
    uint8_t q[2 * 34];
    fill_row(x, 64, 11, 0, 1);
    for (int j = 0; j < 64; j++)
        imp[j] = j < 32 ? 0.0f : 1.0f;
    for (int i = 0; i < N_TYPES; i++) {
        const struct legacy_type *t = &types[i];
        cr_assert_eq(t->quantize(x, q, 64, imp), 0);
        t->dequantize(q, y, 64);
        for (int j = 0; j < 64; j++)
            cr_expect(isfinite(y[j]), "%s: element %d dequantizes to %g", t->name, j, y[j]);
        if (i == T_IQ4_NL || i == T_Q4_0 || i == T_Q5_0)
            cr_expect_eq(blk_u16(q, 0), 0, "%s: zero-importance block has d = 0x%04x", t->name,
                         blk_u16(q, 0));
    }
}

/* The importance paths minimise a weighted squared error, sum of w_j (x_j - y_j)^2 with
 * w_j = imatrix_j sqrt(sigma2 + x_j^2). Their first candidate is (up to ties) the _ref
 * levels with a least-squares refit, so over many blocks they must not do worse than the
 * _ref rule by that measure; 1 % covers fp16 rounding of the scales. */
Test(q_legacy, imatrix_paths_lower_the_weighted_error)
{
    enum { N = 4096 };
    static float x[N], imp[N], y[N];
    static uint8_t q[2][N / 32 * 34];
    fill_row(x, N, 77, 0, 1);
    fill_imatrix(imp, N, 78);
    double sumx2 = 0;
    for (int j = 0; j < N; j++)
        sumx2 += (double)x[j] * x[j];
    for (int i = 0; i < N_TYPES; i++) {
        const struct legacy_type *t = &types[i];
        double err[2] = {0, 0};
        for (int with = 0; with <= 1; with++) {
            cr_assert_eq(t->quantize(x, q[with], N, with ? imp : NULL), 0);
            t->dequantize(q[with], y, N);
            for (int j = 0; j < N; j++) {
                double sigma2 = sumx2 / N;
                if (i == T_IQ4_NL) {   /* per block: 2 sum(x^2) / 32 */
                    sigma2 = 0;
                    for (int k = j / 32 * 32; k < j / 32 * 32 + 32; k++)
                        sigma2 += 2.0 * x[k] * x[k] / 32;
                }
                double w = imp[j] * sqrt(sigma2 + (double)x[j] * x[j]);
                err[with] += w * ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
            }
        }
        size_t size = N / 32 * t->block_bytes;
        cr_log_info("%s weighted squared error: %.6g without imatrix, %.6g with", t->name, err[0],
                    err[1]);
        if (i == T_Q8_0) {
            cr_expect(memcmp(q[0], q[1], size) == 0, "Q8_0 must ignore the importance matrix");
            continue;
        }
        cr_expect(memcmp(q[0], q[1], size) != 0, "%s: the importance matrix changed nothing",
                  t->name);
        cr_expect_leq(err[1], 1.01 * err[0], "%s: weighted error %.6g with imatrix, %.6g without",
                      t->name, err[1], err[0]);
    }
}

/* ---- Q8_0 by hand ---------------------------------------------------------------------- */

static void expect_bytes(const uint8_t *got, const uint8_t *want, size_t n, const char *what)
{
    char hg[80], hw[80];
    hex_block(hg, got, n);
    hex_block(hw, want, n);
    cr_expect(memcmp(got, want, n) == 0, "%s:\n  got  %s\n  want %s", what, hg, hw);
}

/* [1, 2, ..., 32]: amax 32, d = 32/127 (fp16 0x3408: 0.25 + 8 * 2^-12), 1/d = 3.96875
 * exactly, q_j = roundf(3.96875 j); j = 16 gives 63.5 -> 64. */
Test(q_legacy_q8_0, ramp_1_to_32)
{
    float x[32];
    block_q8_0 b;
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j + 1);
    cr_assert_eq(q8_0_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x3408, "d = 0x%04x", b.d);
    const int8_t want[32] = {4,  8,  12, 16, 20, 24, 28, 32, 36, 40,  44,  48,  52,  56,  60,  64,
                             67, 71, 75, 79, 83, 87, 91, 95, 99, 103, 107, 111, 115, 119, 123, 127};
    expect_bytes((const uint8_t *)b.qs, (const uint8_t *)want, 32, "Q8_0 of 1..32");
}

/* With amax = 127, d = 1 and halves round away from zero (roundf), not to even. */
Test(q_legacy_q8_0, rounds_halves_away_from_zero)
{
    float x[32] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f};
    const int8_t want[32] = {127, 1, 2, 3, -1, -2, -3, 127, -127};
    block_q8_0 b;
    cr_assert_eq(q8_0_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x3c00, "d = 0x%04x, want 1.0", b.d);
    expect_bytes((const uint8_t *)b.qs, (const uint8_t *)want, 32, "Q8_0 halves");
}

/* The scale of a block of fp16 subnormals underflows fp16 (d = 2^-24 * 0.252 -> 0), yet
 * the levels use the unrounded 1/d: they are those of the ramp above. */
Test(q_legacy_q8_0, subnormal_block_keeps_levels_with_zero_scale)
{
    float x[32];
    block_q8_0 b, ramp;
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j + 1) * 0x1p-24f;
    cr_assert_eq(q8_0_quantize_row_ref(x, &b, 32, NULL), 0);
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j + 1);
    cr_assert_eq(q8_0_quantize_row_ref(x, &ramp, 32, NULL), 0);
    cr_expect_eq(b.d, 0, "d = 0x%04x", b.d);
    expect_bytes((const uint8_t *)b.qs, (const uint8_t *)ramp.qs, 32, "Q8_0 of subnormal ramp");
}

Test(q_legacy_q8_0, dequantize_is_d_times_q)
{
    block_q8_0 b = {.d = 0x3800};   /* 0.5 */
    float y[32];
    for (int j = 0; j < 32; j++)
        b.qs[j] = (int8_t)(j * 8 - 128);
    q8_0_dequantize_row_ref(&b, y, 32);
    for (int j = 0; j < 32; j++)
        cr_expect_eq(y[j], 0.5f * (float)(j * 8 - 128), "element %d: %g", j, y[j]);
}

/* ---- Q4_0 by hand ---------------------------------------------------------------------- */

/* x_j = j - 16: max is -16 (first of largest |x|), d = -16 / -8 = 2 (0x4000), 1/d = 0.5,
 * level = trunc(x/2 + 8.5) = trunc(j/2 + 0.5), clamped to 15 for j = 31. */
Test(q_legacy_q4_0, ramp_minus16_to_15)
{
    float x[32], y[32];
    block_q4_0 b;
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16);
    cr_assert_eq(q4_0_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x4000, "d = 0x%04x", b.d);
    uint8_t want[16];
    for (int j = 0; j < 16; j++) {
        int lo = (j + 1) / 2, hi = (j + 16 + 1) / 2;
        want[j] = (uint8_t)(lo | (hi > 15 ? 15 : hi) << 4);
    }
    expect_bytes(b.qs, want, 16, "Q4_0 of -16..15");
    q4_0_dequantize_row_ref(&b, y, 32);
    for (int j = 0; j < 32; j++) {
        int level = (j < 16 ? want[j] & 15 : want[j - 16] >> 4) - 8;
        cr_expect_eq(y[j], 2.0f * (float)level, "element %d: %g", j, y[j]);
    }
}

/* The sign of d follows the first element of largest |x|: [3, -3, 0...] gives d = -0.375
 * (0xb600), [-3, 3, 0...] gives +0.375 (0x3600). The max maps to level 0, its mirror
 * clamps to 15, zeros sit at 8. */
Test(q_legacy_q4_0, scale_sign_follows_first_largest_element)
{
    float x[32] = {3, -3};
    block_q4_0 b;
    cr_assert_eq(q4_0_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0xb600, "[3, -3]: d = 0x%04x", b.d);
    uint8_t want[16];
    memset(want, 0x88, 16);
    want[0] = 0x80;
    want[1] = 0x8f;
    expect_bytes(b.qs, want, 16, "Q4_0 of [3, -3, 0...]");
    x[0] = -3;
    x[1] = 3;
    cr_assert_eq(q4_0_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x3600, "[-3, 3]: d = 0x%04x", b.d);
    expect_bytes(b.qs, want, 16, "Q4_0 of [-3, 3, 0...]");
}

/* ---- Q4_1 by hand ---------------------------------------------------------------------- */

/* x_j = j: min 0, max 31, d = 31/15 (fp16 0x4022 = 2 + 34/512), level = round(15 j / 31)
 * (no ties: 30 j / 31 is never odd). */
Test(q_legacy_q4_1, ramp_0_to_31)
{
    float x[32];
    block_q4_1 b;
    for (int j = 0; j < 32; j++)
        x[j] = (float)j;
    cr_assert_eq(q4_1_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x4022, "d = 0x%04x", b.d);
    cr_expect_eq(b.m, 0, "m = 0x%04x", b.m);
    uint8_t want[16];
    for (int j = 0; j < 16; j++)
        want[j] = (uint8_t)((int)floor(j * 15.0 / 31 + 0.5) |
                            (int)floor((j + 16) * 15.0 / 31 + 0.5) << 4);
    expect_bytes(b.qs, want, 16, "Q4_1 of 0..31");
}

/* The _ref rule keeps a positive minimum (the imatrix path clamps it to 0): x in [1, 2]
 * gives m = 1 (0x3c00) and level j for x = 1 + j/15. */
Test(q_legacy_q4_1, keeps_a_positive_minimum)
{
    float x[32], y[32];
    block_q4_1 b;
    for (int j = 0; j < 32; j++)
        x[j] = 1.0f + (float)(j % 16) / 15.0f;
    cr_assert_eq(q4_1_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.m, 0x3c00, "m = 0x%04x", b.m);
    for (int j = 0; j < 16; j++)
        cr_expect_eq(b.qs[j], (uint8_t)(j | j << 4), "byte %d: 0x%02x", j, b.qs[j]);
    q4_1_dequantize_row_ref(&b, y, 32);
    for (int j = 0; j < 32; j++)
        cr_expect_eq(y[j], (float)(j % 16) * ig_fp16_to_fp32(b.d) + 1.0f, "element %d: %g", j,
                     y[j]);
}

/* With an importance matrix (make_qkx3_quants): x_j = (j % 16)/8 - 1/2 sits exactly on
 * the grid of the first candidate (min -0.5, 1/scale = 15/1.875 = 8), whose weighted
 * error is 0, so no later candidate is strictly better: d = 0.125 (0x3000), m = -0.5
 * (0xb800, stored as fp16(-the_min)), level j % 16. */
Test(q_legacy_q4_1, imatrix_exact_grid)
{
    float x[32], imp[32];
    block_q4_1 b;
    for (int j = 0; j < 32; j++) {
        x[j] = (float)(j % 16) * 0.125f - 0.5f;
        imp[j] = (float)(j + 1);
    }
    cr_assert_eq(q4_1_quantize_row_ref(x, &b, 32, imp), 0);
    cr_expect_eq(b.d, 0x3000, "d = 0x%04x", b.d);
    cr_expect_eq(b.m, 0xb800, "m = 0x%04x", b.m);
    for (int j = 0; j < 16; j++)
        cr_expect_eq(b.qs[j], (uint8_t)(0x11 * j), "byte %d: 0x%02x", j, b.qs[j]);
}

/* The imatrix path never stores a positive offset (make_qkx3_quants starts from
 * min = MIN(min x, 0) and refits any candidate whose least-squares min is positive with
 * min = 0): a block in [1, 2] gets m <= 0, where the _ref rule stores m = 1. */
Test(q_legacy_q4_1, imatrix_offset_is_never_positive)
{
    float x[32], imp[32];
    block_q4_1 b;
    for (int j = 0; j < 32; j++) {
        x[j] = 1.0f + (float)(j % 16) / 15.0f;
        imp[j] = 1.0f;
    }
    cr_assert_eq(q4_1_quantize_row_ref(x, &b, 32, imp), 0);
    cr_expect_leq(ig_fp16_to_fp32(b.m), 0.0f, "m = 0x%04x", b.m);
    cr_assert_eq(q4_1_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.m, 0x3c00, "_ref: m = 0x%04x", b.m);
}

/* ---- Q5_0 / Q5_1 by hand --------------------------------------------------------------- */

/* x_j = j - 16: d = -16 / -16 = 1, level trunc(x + 16.5) = j. Low nibbles: byte j holds j
 * and (j + 16) & 15 = j; the 5th bit is set for j >= 16: qh = 00 00 ff ff. */
Test(q_legacy_q5_0, ramp_minus16_to_15)
{
    float x[32], y[32];
    block_q5_0 b;
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16);
    cr_assert_eq(q5_0_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x3c00, "d = 0x%04x", b.d);
    const uint8_t want_qh[4] = {0x00, 0x00, 0xff, 0xff};
    uint8_t want_qs[16];
    for (int j = 0; j < 16; j++)
        want_qs[j] = (uint8_t)(0x11 * j);
    expect_bytes(b.qh, want_qh, 4, "Q5_0 qh of -16..15");
    expect_bytes(b.qs, want_qs, 16, "Q5_0 qs of -16..15");
    q5_0_dequantize_row_ref(&b, y, 32);
    for (int j = 0; j < 32; j++)
        cr_expect_eq(y[j], x[j], "element %d: %g", j, y[j]);
}

/* x_j = j: min 0, max 31, d = 1, m = 0, level j: the same packing as above. */
Test(q_legacy_q5_1, ramp_0_to_31)
{
    float x[32], y[32];
    block_q5_1 b;
    for (int j = 0; j < 32; j++)
        x[j] = (float)j;
    cr_assert_eq(q5_1_quantize_row_ref(x, &b, 32, NULL), 0);
    cr_expect_eq(b.d, 0x3c00, "d = 0x%04x", b.d);
    cr_expect_eq(b.m, 0, "m = 0x%04x", b.m);
    const uint8_t want_qh[4] = {0x00, 0x00, 0xff, 0xff};
    uint8_t want_qs[16];
    for (int j = 0; j < 16; j++)
        want_qs[j] = (uint8_t)(0x11 * j);
    expect_bytes(b.qh, want_qh, 4, "Q5_1 qh of 0..31");
    expect_bytes(b.qs, want_qs, 16, "Q5_1 qs of 0..31");
    q5_1_dequantize_row_ref(&b, y, 32);
    for (int j = 0; j < 32; j++)
        cr_expect_eq(y[j], x[j], "element %d: %g", j, y[j]);
}

/* As Q4_1's exact grid: x_j = j/16 - 1, first candidate 1/scale = 31/1.9375 = 16 with
 * zero error: d = 0.0625 (0x2c00), m = -1 (0xbc00), level j. */
Test(q_legacy_q5_1, imatrix_exact_grid)
{
    float x[32], imp[32];
    block_q5_1 b;
    for (int j = 0; j < 32; j++) {
        x[j] = (float)j * 0.0625f - 1.0f;
        imp[j] = (float)(32 - j);
    }
    cr_assert_eq(q5_1_quantize_row_ref(x, &b, 32, imp), 0);
    cr_expect_eq(b.d, 0x2c00, "d = 0x%04x", b.d);
    cr_expect_eq(b.m, 0xbc00, "m = 0x%04x", b.m);
    const uint8_t want_qh[4] = {0x00, 0x00, 0xff, 0xff};
    uint8_t want_qs[16];
    for (int j = 0; j < 16; j++)
        want_qs[j] = (uint8_t)(0x11 * j);
    expect_bytes(b.qh, want_qh, 4, "Q5_1 imatrix qh");
    expect_bytes(b.qs, want_qs, 16, "Q5_1 imatrix qs");
}

/* A single 5th bit in qh lands on exactly one element (bit j <-> element j). */
Test(q_legacy_q5_0, each_qh_bit_lifts_one_element)
{
    for (int bit = 0; bit < 32; bit++) {
        block_q5_0 b = {.d = 0x3c00};
        float y[32];
        uint32_t h = 1u << bit;
        memcpy(b.qh, &h, 4);
        q5_0_dequantize_row_ref(&b, y, 32);
        for (int j = 0; j < 32; j++)
            cr_expect_eq(y[j], j == bit ? 0.0f : -16.0f, "qh bit %d, element %d: %g", bit, j, y[j]);
    }
}

/* ---- IQ4_NL by hand -------------------------------------------------------------------- */

/* x_j = table[j % 16] / 64: the fit is exact, every product w q x is (w q q)/64 exactly,
 * so d = 1/64 (fp16 0x2400) with or without weights, and byte j = j | j << 4. */
Test(q_legacy_iq4_nl, table_multiples_are_exact)
{
    float x[32], y[32], imp[32];
    for (int j = 0; j < 32; j++) {
        x[j] = iq4nl_table[j % 16] / 64.0f;
        imp[j] = (float)(j + 1);
    }
    uint8_t want[16];
    for (int j = 0; j < 16; j++)
        want[j] = (uint8_t)(0x11 * j);
    for (int with = 0; with <= 1; with++) {
        block_iq4_nl b;
        cr_assert_eq(iq4_nl_quantize_row_ref(x, &b, 32, with ? imp : NULL), 0);
        cr_expect_eq(b.d, 0x2400, "imatrix %d: d = 0x%04x", with, b.d);
        expect_bytes(b.qs, want, 16,
                     with ? "IQ4_NL of the table / 64, imatrix" : "IQ4_NL of the table / 64");
        iq4_nl_dequantize_row_ref(&b, y, 32);
        for (int j = 0; j < 32; j++)
            cr_expect_eq(y[j], x[j], "imatrix %d, element %d: %g", with, j, y[j]);
    }
}

/* Each nibble indexes the table: low nibble of byte j -> element j, high -> j + 16. */
Test(q_legacy_iq4_nl, dequantize_reads_the_table)
{
    block_iq4_nl b = {.d = 0x3c00};
    float y[32];
    for (int j = 0; j < 16; j++)
        b.qs[j] = (uint8_t)(j | (15 - j) << 4);
    iq4_nl_dequantize_row_ref(&b, y, 32);
    for (int j = 0; j < 16; j++) {
        cr_expect_eq(y[j], (float)iq4nl_table[j], "element %d: %g", j, y[j]);
        cr_expect_eq(y[j + 16], (float)iq4nl_table[15 - j], "element %d: %g", j + 16, y[j + 16]);
    }
}
