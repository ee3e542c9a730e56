/* test_hf_quant.c — GPTQ, AWQ and bitsandbytes HF folders read as float rows.
 *
 * Goldens:
 *   - real third-party bytes with the libraries' own dequantized output: the anamnesis
 *     fixtures in ../shared/data/thirdparty/anamnesis-fixtures (PROVENANCE.md there: GPTQModel
 *     TorchLinear for GPTQ, AutoAWQ packing_utils for AWQ, the bitsandbytes CUDA kernels for
 *     NF4/FP4/double quant/int8). Each slice is written into a tiny llama folder (hidden 256,
 *     4 heads) as every linear of block 0 and must come back bit for bit, in GGUF row order.
 *   - synthetic GPTQ folders (bits 2/3/4/8, group 32 and -1, sym/asym, v1/v2 zeros, act-order
 *     with a non-monotonic g_idx): integers drawn here, packed by the test's own bit-at-a-time
 *     packer (hf_quant_build.c), expected W = f16(scale) * (q - zero) computed directly.
 *   - the packed words AutoGPTQ/GPTQModel write for constant fields, from
 *     shared/reference/thirdparty-formats.md: 3-bit v1->v2 constants 0x24924924, 0x92492492,
 *     0x49249249 (every field 1), sym v1 zeros 0x77777777 (4-bit), 0x7F7F7F7F (8-bit),
 *     0x55555555 (2-bit), and AutoAWQ's AWQ_REVERSE_ORDER [0,4,1,5,2,6,3,7].
 */
#include "hf_quant_build.h"

#include "../test_util.h"
#include "../../common/ig_error.h"
#include "../../common/ig_half.h"
#include "../../formats/hf_quant.h"
#include "../../formats/model_src.h"
#include "../../model/tensor_f32.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static struct model_src *open_ok(const char *dir)
{
    struct model_src *src = NULL;
    int rc = model_src_open(&src, dir, NULL);
    cr_assert_eq(rc, 0, "%s: %s", dir, ig_error_message());
    return src;
}

/* Every row of tensor gguf_name (n_out x n_in) against want(o, i) for the stored row o:
 * returns the number of elements whose bits differ, printing the first. */
typedef float (*want_fn)(const void *ctx, int64_t o, int64_t i);

static int64_t compare_tensor(const struct model_src *src, const char *name, int64_t n_in, int64_t n_out, int64_t n_head,
                              want_fn want, const void *ctx)
{
    const struct src_tensor *t = model_src_find(src, name);
    cr_assert_not_null(t, "%s missing", name);
    cr_assert_eq(t->ne[0], n_in, "%s ne[0]", name);
    cr_assert_eq(t->ne[1], n_out, "%s ne[1]", name);
    float *rows = malloc((size_t)(n_in * n_out) * sizeof *rows);
    int rc = tensor_read_rows_f32(t, 0, n_out, rows);
    cr_assert_eq(rc, 0, "%s: %s", name, ig_error_message());
    int64_t bad = 0;
    for (int64_t r = 0; r < n_out; r++) {
        int64_t o = n_head ? model_permuted_row(r, n_out, n_head) : r;
        for (int64_t i = 0; i < n_in; i++) {
            float w = want(ctx, o, i), g = rows[r * n_in + i];
            if (f32_bits(w) != f32_bits(g) && bad++ == 0)
                cr_log_error("%s: GGUF row %lld (stored %lld) col %lld: got %.9g (0x%08x), want %.9g (0x%08x)", name,
                             (long long)r, (long long)o, (long long)i, (double)g, f32_bits(g), (double)w, f32_bits(w));
        }
    }
    /* a few rows from the middle, as a streaming reader asks for them */
    if (n_out > 8) {
        float *part = malloc((size_t)(3 * n_in) * sizeof *part);
        cr_assert_eq(tensor_read_rows_f32(t, 5, 3, part), 0);
        cr_expect_eq(memcmp(part, rows + 5 * n_in, (size_t)(3 * n_in) * sizeof *part), 0, "%s: rows 5..7 differ", name);
        free(part);
    }
    free(rows);
    return bad;
}

/* ---- packing against the documented words --------------------------------------------------- */

Test(hf_quant, packing_matches_documented_words)
{
    /* 3-bit: 32 values of 1 fill three words with GPTQModel's v1->v2 constants. By the
     * documented cycle (word 0: values 0-9 at shifts 0..27 and value 10's low bits at 30)
     * word 0 has bits 0, 3, ..., 30 set = 0x49249249; the reference lists the same three
     * constants starting from the last word. */
    uint32_t lib[3] = {0}, own[3] = {0};
    for (int k = 0; k < 32; k++) {
        hfq_pack((uint8_t *)lib, 1, k, 3, 1);
        qb_pack(own, 1, k, 3, 1);
    }
    cr_expect_eq(lib[0], 0x49249249u, "0x%08x", lib[0]);
    cr_expect_eq(lib[1], 0x92492492u, "0x%08x", lib[1]);
    cr_expect_eq(lib[2], 0x24924924u, "0x%08x", lib[2]);
    cr_expect_eq(memcmp(lib, own, sizeof lib), 0);
    for (int k = 0; k < 32; k++)
        cr_expect_eq(hfq_unpack((const uint8_t *)lib, 1, k, 3), 1u, "3-bit value %d", k);
    /* sym v1 zeros: true zero 2^(b-1) stored minus one in every field */
    const struct {
        int bits;
        uint32_t field, word;
    } sym[] = {{4, 7, 0x77777777u}, {8, 127, 0x7F7F7F7Fu}, {2, 1, 0x55555555u}};
    for (size_t c = 0; c < 3; c++) {
        uint32_t w = 0;
        for (int k = 0; k < 32 / sym[c].bits; k++)
            hfq_pack((uint8_t *)&w, 1, k, sym[c].bits, sym[c].field);
        cr_expect_eq(w, sym[c].word, "%d-bit: 0x%08x", sym[c].bits, w);
    }
    /* a 3-bit value that straddles words (value 10: bits 30..32) reads back from both */
    uint32_t s[2] = {0};
    hfq_pack((uint8_t *)s, 1, 10, 3, 5);
    cr_expect_eq(s[0], 1u << 30);
    cr_expect_eq(s[1], 1u);
    cr_expect_eq(hfq_unpack((const uint8_t *)s, 1, 10, 3), 5u);
    const int reverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};   /* AutoAWQ AWQ_REVERSE_ORDER */
    cr_expect_eq(memcmp(HFQ_AWQ_FIELD, reverse, sizeof reverse), 0);
}

/* ---- real bytes: GPTQ and AWQ ------------------------------------------------------------------ */

/* A golden [in][out] f32 array: W[o][i] = g[i * out + o]. */
struct golden_io {
    const uint8_t *g;
    int64_t n_out;
};

static float want_io(const void *ctx, int64_t o, int64_t i)
{
    const struct golden_io *c = ctx;
    float f;
    memcpy(&f, c->g + 4 * (size_t)(i * c->n_out + o), 4);
    return f;
}

static void check_all_linears(const char *dir, const uint8_t *golden, const char *type_name, const char *desc)
{
    struct model_src *src = open_ok(dir);
    struct golden_io c = {golden, 256};
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        int64_t heads = p < 2 ? 4 : 0;   /* llama's Q/K rows come back permuted */
        cr_expect_eq(compare_tensor(src, name, 256, 256, heads, want_io, &c), 0, "%s: elements differ", name);
        cr_expect_str_eq(src_tensor_type_name(model_src_find(src, name)), type_name);
    }
    const char *d = model_src_quant_desc(src);
    cr_assert_not_null(d);
    cr_expect(strstr(d, desc), "description '%s' lacks '%s'", d, desc);
    model_src_close(src);
}

static void gptq_fixture(const char *file, int bits, const char *type_name, const char *desc)
{
    size_t n;
    uint8_t *b = qb_fixture(file, &n);
    cr_assert_eq(memcmp(b, "AMNQ", 4), 0);
    cr_assert_eq(qb_u32_at(b + 4, 1), (uint32_t)bits);
    cr_assert_eq(qb_u32_at(b + 4, 5), 2u, "F16 scales");
    const uint8_t *qw = b + 56, *sc = qw + qb_u32_at(b + 4, 7), *qz = sc + qb_u32_at(b + 4, 8), *gi = qz + qb_u32_at(b + 4, 9);
    const uint8_t *golden = gi + qb_u32_at(b + 4, 10) + qb_u32_at(b + 4, 11);
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 1);
    for (int p = 0; p < 7; p++) {
        char name[160];
        snprintf(name, sizeof name, "model.layers.0.%s.qweight", qb_proj[p]);
        qb_add(&l, name, "I32", 2, 256 * bits / 32, 256, qw, qb_u32_at(b + 4, 7));
        snprintf(name, sizeof name, "model.layers.0.%s.scales", qb_proj[p]);
        qb_add(&l, name, "F16", 2, 2, 256, sc, qb_u32_at(b + 4, 8));
        snprintf(name, sizeof name, "model.layers.0.%s.qzeros", qb_proj[p]);
        qb_add(&l, name, "I32", 2, 2, 256 * bits / 32, qz, qb_u32_at(b + 4, 9));
        snprintf(name, sizeof name, "model.layers.0.%s.g_idx", qb_proj[p]);
        qb_add(&l, name, "I32", 1, 256, 0, gi, qb_u32_at(b + 4, 10));
    }
    char q[256];
    snprintf(q, sizeof q, "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": 128, \"desc_act\": false, \"sym\": true}", bits);
    const char *dir = qb_folder(&l, 256, 256, 4, 4, q);
    check_all_linears(dir, golden, type_name, desc);
    free(b);
}

Test(hf_quant, gptq_int4_real_bytes_bit_exact)
{
    gptq_fixture(QB_FX "gptq_reference/llama_3_2_1b_int4.bin", 4, "GPTQ-4bit-g128", "GPTQ 4-bit, group size 128, sym");
}

Test(hf_quant, gptq_int8_gptqmodel_real_bytes_bit_exact)
{
    gptq_fixture(QB_FX "gptq_reference/llama_3_2_1b_gptqmodel_int8.bin", 8, "GPTQ-8bit-g128", "v1 zeros");
}

Test(hf_quant, awq_gemm_real_bytes_bit_exact)
{
    struct qb_awq_slice s;
    qb_awq_slice_read(&s);
    check_all_linears(qb_awq_gemm_folder(&s), s.golden, "AWQ-4bit-g128", "AWQ 4-bit, group size 128");
    free(s.file);
}

/* GEMV stores the same integers along the inputs, sequentially, with zeros and scales per
 * output row (padded to whole words): the GEMM slice repacked by the test's own packer must
 * give the same AutoAWQ golden. */
Test(hf_quant, awq_gemv_repacked_real_values_bit_exact)
{
    struct qb_awq_slice s;
    qb_awq_slice_read(&s);
    const uint8_t *qw = s.qweight, *sc = s.scales, *qz = s.qzeros, *golden = s.golden;
    const int reverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};   /* AutoAWQ AWQ_REVERSE_ORDER */
    enum { IN = 256, OUT = 256, GROUPS = 2, WZ = 1 };   /* ceil(2 groups / 8) words */
    uint32_t *gqw = calloc(OUT * IN / 8, 4), *gqz = calloc(OUT * WZ, 4);
    uint16_t *gsc = calloc(OUT * WZ * 8, 2);
    for (int o = 0; o < OUT; o++) {
        int field = reverse[o % 8];
        for (int i = 0; i < IN; i++)
            qb_pack(gqw + o * (IN / 8), 1, i, 4, (qb_u32_at(qw, i * (OUT / 8) + o / 8) >> (4 * field)) & 15u);
        for (int g = 0; g < GROUPS; g++) {
            qb_pack(gqz + o * WZ, 1, g, 4, (qb_u32_at(qz, g * (OUT / 8) + o / 8) >> (4 * field)) & 15u);
            memcpy(&gsc[o * WZ * 8 + g], sc + 2 * (g * OUT + o), 2);
        }
    }
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 2);
    for (int p = 0; p < 7; p++) {
        char name[160];
        snprintf(name, sizeof name, "model.layers.0.%s.qweight", qb_proj[p]);
        qb_add(&l, name, "I32", 2, OUT, IN / 8, gqw, OUT * IN / 8 * 4);
        snprintf(name, sizeof name, "model.layers.0.%s.scales", qb_proj[p]);
        qb_add(&l, name, "F16", 2, OUT, WZ * 8, gsc, OUT * WZ * 8 * 2);
        snprintf(name, sizeof name, "model.layers.0.%s.qzeros", qb_proj[p]);
        qb_add(&l, name, "I32", 2, OUT, WZ, gqz, OUT * WZ * 4);
    }
    const char *dir = qb_folder(&l, 256, 256, 4, 4,
                                "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"zero_point\": true, \"version\": \"GEMV\"}");
    check_all_linears(dir, golden, "AWQ-4bit-g128-gemv", "GEMV layout");
    free(gqw);
    free(gqz);
    free(gsc);
    free(s.file);
}

/* ---- real bytes: bitsandbytes --------------------------------------------------------------- */

/* The 4096-element slice repeated over [256][256]: blocks of 64 do not straddle copies. */
struct golden_flat {
    const uint8_t *g;
    int64_t n_in, period;
};

static float want_flat(const void *ctx, int64_t o, int64_t i)
{
    const struct golden_flat *c = ctx;
    float f;
    memcpy(&f, c->g + 4 * (size_t)((o * c->n_in + i) % c->period), 4);
    return f;
}

static void bnb4_fixture(const char *file, const char *qtype, bool dq, const char *type_name)
{
    size_t n;
    uint8_t *b = qb_fixture(file, &n);
    cr_assert_eq(memcmp(b, "AMNB", 4), 0);
    const uint8_t *h = b + 4;
    cr_assert_eq(qb_u32_at(h, 2), 4096u);
    cr_assert_eq(qb_u32_at(h, 3), 64u);
    float offset;
    memcpy(&offset, b + 48, 4);
    const uint8_t *w = b + 52, *am = w + qb_u32_at(h, 4), *qm = am + qb_u32_at(h, 5), *na = qm + qb_u32_at(h, 6);
    const uint8_t *nm = na + qb_u32_at(h, 7), *golden = nm + qb_u32_at(h, 8) + qb_u32_at(h, 9);
    enum { COPIES = 16 };   /* 16 x 4096 = 256 x 256 */
    size_t wl = qb_u32_at(h, 4), al = qb_u32_at(h, 5);
    uint8_t *codes = malloc(wl * COPIES), *absmax = malloc(al * COPIES);
    for (int c = 0; c < COPIES; c++) {
        memcpy(codes + c * wl, w, wl);
        memcpy(absmax + c * al, am, al);
    }
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 3);
    for (int p = 0; p < 7; p++) {
        char name[160], js[512];
        snprintf(name, sizeof name, "model.layers.0.%s.weight", qb_proj[p]);
        qb_add(&l, name, "U8", 2, 256 * 256 / 2, 1, codes, wl * COPIES);
        snprintf(name, sizeof name, "model.layers.0.%s.weight.absmax", qb_proj[p]);
        qb_add(&l, name, dq ? "U8" : "F32", 1, 1024, 0, absmax, al * COPIES);
        snprintf(name, sizeof name, "model.layers.0.%s.weight.quant_map", qb_proj[p]);
        qb_add(&l, name, "F32", 1, 16, 0, qm, 64);
        if (dq) {
            /* 1024 blocks / 256 = 4 nested blocks, each the slice's one scale */
            float nested[4];
            for (int k = 0; k < 4; k++)
                memcpy(&nested[k], na, 4);
            snprintf(name, sizeof name, "model.layers.0.%s.weight.nested_absmax", qb_proj[p]);
            qb_add(&l, name, "F32", 1, 4, 0, nested, sizeof nested);
            snprintf(name, sizeof name, "model.layers.0.%s.weight.nested_quant_map", qb_proj[p]);
            qb_add(&l, name, "F32", 1, 256, 0, nm, 1024);
            snprintf(js, sizeof js, "{\"quant_type\": \"%s\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [256, 256], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": %.9g}",
                     qtype, (double)offset);
        } else {
            snprintf(js, sizeof js, "{\"quant_type\": \"%s\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [256, 256]}", qtype);
        }
        snprintf(name, sizeof name, "model.layers.0.%s.weight.quant_state.bitsandbytes__%s", qb_proj[p], qtype);
        qb_add(&l, name, "U8", 1, (int64_t)strlen(js), 0, js, strlen(js));
    }
    char q[256];
    snprintf(q, sizeof q, "{\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"%s\", \"bnb_4bit_use_double_quant\": %s}",
             qtype, dq ? "true" : "false");
    const char *dir = qb_folder(&l, 256, 256, 4, 4, q);
    struct model_src *src = open_ok(dir);
    struct golden_flat c = {golden, 256, 4096};
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        cr_expect_eq(compare_tensor(src, name, 256, 256, p < 2 ? 4 : 0, want_flat, &c), 0, "%s differs", name);
        cr_expect_str_eq(src_tensor_type_name(model_src_find(src, name)), type_name);
    }
    cr_expect(strstr(model_src_quant_desc(src), "bitsandbytes 4-bit"));
    model_src_close(src);
    free(codes);
    free(absmax);
    free(b);
}

Test(hf_quant, bnb_nf4_real_bytes_bit_exact)
{
    bnb4_fixture(QB_FX "bnb_reference/llama_1b_nf4.bin", "nf4", false, "BNB-NF4-b64");
}

Test(hf_quant, bnb_fp4_real_bytes_bit_exact_with_negative_zero)
{
    bnb4_fixture(QB_FX "bnb_reference/llama_1b_fp4.bin", "fp4", false, "BNB-FP4-b64");
}

Test(hf_quant, bnb_nf4_double_quant_real_bytes_bit_exact)
{
    bnb4_fixture(QB_FX "bnb_reference/llama_1b_nf4_double_quant.bin", "nf4", true, "BNB-NF4-dq-b64");
}

Test(hf_quant, bnb_int8_real_bytes_bit_exact)
{
    size_t n;
    uint8_t *b = qb_fixture(QB_FX "bnb_reference/llama_1b_int8.bin", &n);
    const uint8_t *h = b + 4;
    cr_assert_eq(qb_u32_at(h, 1), 1u);
    cr_assert_eq(qb_u32_at(h, 2), 256u);
    const uint8_t *w = b + 36, *scb = w + qb_u32_at(h, 4), *golden = scb + qb_u32_at(h, 5) + qb_u32_at(h, 6);
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 4);
    for (int p = 0; p < 7; p++) {
        char name[160];
        snprintf(name, sizeof name, "model.layers.0.%s.weight", qb_proj[p]);
        qb_add(&l, name, "I8", 2, 256, 256, w, 65536);
        snprintf(name, sizeof name, "model.layers.0.%s.SCB", qb_proj[p]);
        qb_add(&l, name, "F32", 1, 256, 0, scb, 1024);
    }
    const char *dir = qb_folder(&l, 256, 256, 4, 4, "{\"quant_method\": \"bitsandbytes\", \"load_in_8bit\": true}");
    struct model_src *src = open_ok(dir);
    struct golden_flat c = {golden, 256, 65536};   /* [out][in], as the weight */
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        cr_expect_eq(compare_tensor(src, name, 256, 256, p < 2 ? 4 : 0, want_flat, &c), 0, "%s differs", name);
    }
    cr_expect_str_eq(src_tensor_type_name(model_src_find(src, "blk.0.ffn_up.weight")), "BNB-INT8");
    model_src_close(src);
    free(b);
}

/* ---- synthetic GPTQ: every bit width, group -1, asym, v1/v2, act-order --------------------------- */

enum { FMT_NONE, FMT_CHECKPOINT_FORMAT, FMT_FORMAT };

struct gptq_case {
    int bits;
    int group;          /* 32 or -1 */
    bool sym, v2, act_order;
    int format_key;     /* FMT_*: which key names the zero convention (a plain int: parameters
                         * are copied into the test's process, pointers would dangle) */
};

/* The integers of one linear, drawn here; W[o][i] = f16(s[g][o]) * (q[i][o] - z[g][o]). */
struct gptq_lin {
    int64_t n_in, n_out, n_groups;
    int32_t *q, *z, *g_idx;   /* [in][out], [groups][out], [in] */
    uint16_t *s;              /* [groups][out] f16 */
};

static float want_gptq(const void *ctx, int64_t o, int64_t i)
{
    const struct gptq_lin *L = ctx;
    int64_t g = L->g_idx[i];
    return ig_fp16_to_fp32(L->s[g * L->n_out + o]) * (float)(L->q[i * L->n_out + o] - L->z[g * L->n_out + o]);
}

static void gptq_lin_make(struct gptq_lin *L, const struct gptq_case *c, int64_t n_in, int64_t n_out, uint32_t *seed)
{
    const int maxq = (1 << c->bits) - 1;
    int64_t gs = c->group < 0 ? n_in : c->group;
    L->n_in = n_in;
    L->n_out = n_out;
    L->n_groups = n_in / gs;
    L->q = malloc((size_t)(n_in * n_out) * sizeof *L->q);
    L->z = malloc((size_t)(L->n_groups * n_out) * sizeof *L->z);
    L->s = malloc((size_t)(L->n_groups * n_out) * sizeof *L->s);
    L->g_idx = malloc((size_t)n_in * sizeof *L->g_idx);
    for (int64_t k = 0; k < n_in * n_out; k++)
        L->q[k] = (int32_t)(qb_rand(seed) * (float)(maxq + 1)) % (maxq + 1);
    for (int64_t k = 0; k < L->n_groups * n_out; k++) {
        /* sym: AutoGPTQ's zero (maxq+1)/2; asym: any zero, but v1 cannot store 0 (it stores
         * zero - 1), so v1 asym draws 1..maxq */
        int lo = c->v2 ? 0 : 1;
        L->z[k] = c->sym ? (maxq + 1) / 2 : lo + (int32_t)(qb_rand(seed) * (float)(maxq + 1 - lo)) % (maxq + 1 - lo);
        L->s[k] = ig_fp32_to_fp16(0.001f + 0.05f * qb_rand(seed));
    }
    /* act-order: groups are runs of a permutation of the inputs, so g_idx jumps about */
    int64_t *perm = malloc((size_t)n_in * sizeof *perm);
    for (int64_t i = 0; i < n_in; i++)
        perm[i] = i;
    for (int64_t i = n_in - 1; c->act_order && i > 0; i--) {
        int64_t j = (int64_t)(qb_rand(seed) * (float)(i + 1)) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t j = 0; j < n_in; j++)
        L->g_idx[perm[j]] = (int32_t)(j / gs);
    free(perm);
}

static void gptq_lin_add(struct qb_list *l, const struct gptq_lin *L, const struct gptq_case *c, const char *prefix)
{
    const int b = c->bits;
    const int64_t qw_rows = L->n_in * b / 32, qz_cols = L->n_out * b / 32;
    uint32_t *qw = calloc((size_t)(qw_rows * L->n_out), 4), *qz = calloc((size_t)(L->n_groups * qz_cols), 4);
    for (int64_t i = 0; i < L->n_in; i++)
        for (int64_t o = 0; o < L->n_out; o++)
            qb_pack(qw + o, L->n_out, i, b, (uint32_t)L->q[i * L->n_out + o]);
    for (int64_t g = 0; g < L->n_groups; g++)
        for (int64_t o = 0; o < L->n_out; o++)
            qb_pack(qz + g * qz_cols, 1, o, b, (uint32_t)(L->z[g * L->n_out + o] - (c->v2 ? 0 : 1)));
    char name[160];
    snprintf(name, sizeof name, "%s.qweight", prefix);
    qb_add(l, name, "I32", 2, qw_rows, L->n_out, qw, (size_t)(qw_rows * L->n_out) * 4);
    snprintf(name, sizeof name, "%s.qzeros", prefix);
    qb_add(l, name, "I32", 2, L->n_groups, qz_cols, qz, (size_t)(L->n_groups * qz_cols) * 4);
    snprintf(name, sizeof name, "%s.scales", prefix);
    qb_add(l, name, "F16", 2, L->n_groups, L->n_out, L->s, (size_t)(L->n_groups * L->n_out) * 2);
    snprintf(name, sizeof name, "%s.g_idx", prefix);
    qb_add(l, name, "I32", 1, L->n_in, 0, L->g_idx, (size_t)L->n_in * 4);
    free(qw);
    free(qz);
}

static void gptq_lin_free(struct gptq_lin *L)
{
    free(L->q);
    free(L->z);
    free(L->s);
    free(L->g_idx);
}

/* hidden 64, ff 128, 4 heads of 16, 2 kv heads: every dimension a multiple of 32 (3-bit). */
#define SYN_H 64
#define SYN_FF 128

static void syn_dims(int p, int64_t *n_in, int64_t *n_out)
{
    const int64_t ins[7] = {SYN_H, SYN_H, SYN_H, SYN_H, SYN_H, SYN_H, SYN_FF};
    const int64_t outs[7] = {SYN_H, 32, 32, SYN_H, SYN_FF, SYN_FF, SYN_H};
    *n_in = ins[p];
    *n_out = outs[p];
}

static const char *gptq_case_folder(const struct gptq_case *c, struct gptq_lin lin[7], uint32_t seed)
{
    struct qb_list l = {0};
    qb_add_base(&l, SYN_H, 275, seed);
    for (int p = 0; p < 7; p++) {
        int64_t n_in, n_out;
        char prefix[96];
        syn_dims(p, &n_in, &n_out);
        gptq_lin_make(&lin[p], c, n_in, n_out, &seed);
        snprintf(prefix, sizeof prefix, "model.layers.0.%s", qb_proj[p]);
        gptq_lin_add(&l, &lin[p], c, prefix);
    }
    char q[512], fmt[64] = "";
    if (c->format_key != FMT_NONE)
        snprintf(fmt, sizeof fmt, ", \"%s\": \"%s\"", c->format_key == FMT_FORMAT ? "format" : "checkpoint_format",
                 c->v2 ? "gptq_v2" : "gptq");
    snprintf(q, sizeof q, "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": %d, \"sym\": %s, \"desc_act\": %s%s}",
             c->bits, c->group, c->sym ? "true" : "false", c->act_order ? "true" : "false", fmt);
    return qb_folder(&l, SYN_H, SYN_FF, 4, 2, q);
}

static struct gptq_case gptq_cases[] = {
    {4, 32, true, false, false, FMT_NONE},
    {2, 32, false, true, false, FMT_CHECKPOINT_FORMAT},
    {3, 32, false, true, true, FMT_CHECKPOINT_FORMAT},
    {3, -1, true, false, false, FMT_CHECKPOINT_FORMAT},
    {8, -1, true, false, false, FMT_NONE},
    {8, 32, false, false, true, FMT_CHECKPOINT_FORMAT},
    {4, 32, false, true, true, FMT_FORMAT},
    {2, -1, false, false, true, FMT_NONE},
};

ParameterizedTestParameters(hf_quant, gptq_synthetic)
{
    return cr_make_param_array(struct gptq_case, gptq_cases, sizeof gptq_cases / sizeof gptq_cases[0]);
}

ParameterizedTest(struct gptq_case *c, hf_quant, gptq_synthetic)
{
    struct gptq_lin lin[7];
    const char *dir = gptq_case_folder(c, lin, 11u + (uint32_t)c->bits);
    if (c->act_order && c->group > 0) {
        bool monotonic = true;
        for (int64_t i = 1; i < lin[4].n_in; i++)
            monotonic = monotonic && lin[4].g_idx[i] >= lin[4].g_idx[i - 1];
        cr_assert(!monotonic, "act-order case must have a non-monotonic g_idx");
    }
    struct model_src *src = open_ok(dir);
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        int64_t heads = p == 0 ? 4 : p == 1 ? 2 : 0;
        cr_expect_eq(compare_tensor(src, name, lin[p].n_in, lin[p].n_out, heads, want_gptq, &lin[p]), 0,
                     "%d-bit group %d %s %s%s: %s differs", c->bits, c->group, c->sym ? "sym" : "asym", c->v2 ? "v2" : "v1",
                     c->act_order ? " act-order" : "", name);
    }
    char want[32];
    snprintf(want, sizeof want, "GPTQ-%dbit-g%d", c->bits, c->group);
    cr_expect_str_eq(src_tensor_type_name(model_src_find(src, "blk.0.ffn_down.weight")), want);
    /* bits per weight from the stored bytes: qweight b/32 words + per-group zeros and scales + g_idx */
    const struct src_tensor *t = model_src_find(src, "blk.0.ffn_down.weight");
    uint64_t want_bytes = (uint64_t)(SYN_FF * c->bits / 8 * SYN_H) + (uint64_t)lin[6].n_groups * (SYN_H * c->bits / 8 + SYN_H * 2) +
                          SYN_FF * 4;
    cr_expect_eq(t->size_bytes, want_bytes);
    model_src_close(src);
    for (int p = 0; p < 7; p++)
        gptq_lin_free(&lin[p]);
}

/* ---- the command: inspect names the format ------------------------------------------------------ */

Test(hf_quant, inspect_names_format_and_parameters)
{
    const struct gptq_case c = {3, 32, false, true, true, FMT_CHECKPOINT_FORMAT};
    struct gptq_lin lin[7];
    const char *dir = gptq_case_folder(&c, lin, 5);
    for (int p = 0; p < 7; p++)
        gptq_lin_free(&lin[p]);
    struct test_run r;
    const char *argv[] = {"inspect", dir, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "quantization: GPTQ 3-bit, group size 32, asym, act-order (desc_act), v2 zeros"), "%s", r.out);
    cr_expect(strstr(r.out, "GPTQ-3bit-g32"), "%s", r.out);
    cr_expect(strstr(r.out, "7 quantized linears"), "%s", r.out);
    const char *jargv[] = {"inspect", "--json", dir, NULL};
    test_run_ingot(&r, jargv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\"quantization\""), "%s", r.out);
    cr_expect(strstr(r.out, "\"GPTQ-3bit-g32\""), "%s", r.out);
}

/* ---- bad input: exit 2 naming the file, the tensor and the field ------------------------------- */

/* A 4-bit g32 GPTQ folder whose config or one part of q_proj is then spoiled by edit. */
static const char *bad_folder(const char *quant_json, void (*edit)(struct qb_list *l))
{
    const struct gptq_case c = {4, 32, true, false, false, FMT_NONE};
    struct gptq_lin lin[7];
    struct qb_list l = {0};
    uint32_t seed = 9;
    qb_add_base(&l, SYN_H, 275, seed);
    for (int p = 0; p < 7; p++) {
        int64_t n_in, n_out;
        char prefix[96];
        syn_dims(p, &n_in, &n_out);
        gptq_lin_make(&lin[p], &c, n_in, n_out, &seed);
        snprintf(prefix, sizeof prefix, "model.layers.0.%s", qb_proj[p]);
        gptq_lin_add(&l, &lin[p], &c, prefix);
        gptq_lin_free(&lin[p]);
    }
    if (edit)
        edit(&l);
    return qb_folder(&l, SYN_H, SYN_FF, 4, 2,
                     quant_json ? quant_json : "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"sym\": true}");
}

static struct qb_entry *entry(struct qb_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name, name) == 0)
            return &l->e[i];
    cr_assert_fail("no entry %s", name);
    return NULL;
}

static void edit_qweight_rows(struct qb_list *l)
{
    struct qb_entry *e = entry(l, "model.layers.0.self_attn.q_proj.qweight");
    e->shape[0] -= 1;   /* [7, 64] where 64 x 4 / 32 = 8 rows belong */
    e->size -= (size_t)e->shape[1] * 4;
}

static void edit_g_idx(struct qb_list *l)
{
    struct qb_entry *e = entry(l, "model.layers.0.mlp.up_proj.g_idx");
    int32_t v = 2;   /* 64 inputs / 32 = groups 0..1 */
    memcpy(e->data + 4 * 5, &v, 4);
}

static void edit_scales_dtype(struct qb_list *l)
{
    struct qb_entry *e = entry(l, "model.layers.0.mlp.down_proj.qzeros");
    snprintf(e->dtype, sizeof e->dtype, "F32");
}

static void expect_bad(const char *dir, const char *const *needles)
{
    struct test_run r;
    const char *argv[] = {"inspect", dir, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    for (int k = 0; needles[k]; k++)
        cr_expect(strstr(r.err, needles[k]), "message lacks '%s': %s", needles[k], r.err);
    cr_expect_eq(r.out[0], '\0', "nothing on stdout: %s", r.out);
}

Test(hf_quant, bad_bits_5)
{
    const char *dir = bad_folder("{\"quant_method\": \"gptq\", \"bits\": 5, \"group_size\": 32}", NULL);
    const char *n[] = {"config.json", "key 'quantization_config.bits'", "integer 5", "2, 3, 4 or 8", NULL};
    expect_bad(dir, n);
}

Test(hf_quant, bad_group_size_not_dividing)
{
    const char *dir = bad_folder("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 48}", NULL);
    /* tensors come in name order: mlp.down_proj (128 inputs) is the first linear checked */
    const char *n[] = {"model.safetensors", "tensor 'model.layers.0.mlp.down_proj.qweight'", "in_features 128",
                       "group_size 48", "'quantization_config.group_size'", "config.json", NULL};
    expect_bad(dir, n);
}

Test(hf_quant, bad_qweight_shape)
{
    const char *dir = bad_folder(NULL, edit_qweight_rows);
    const char *n[] = {"model.safetensors", "tensor 'model.layers.0.self_attn.q_proj.qweight'", "shape [7, 64]",
                       "expected [8, 64]", "bits 4", NULL};
    expect_bad(dir, n);
}

Test(hf_quant, bad_g_idx_out_of_range)
{
    const char *dir = bad_folder(NULL, edit_g_idx);
    const char *n[] = {"model.safetensors", "tensor 'model.layers.0.mlp.up_proj.g_idx'", "element 5 is 2", "expected 0..1",
                       NULL};
    expect_bad(dir, n);
}

Test(hf_quant, bad_part_dtype)
{
    const char *dir = bad_folder(NULL, edit_scales_dtype);
    const char *n[] = {"model.safetensors", "tensor 'model.layers.0.mlp.down_proj.qzeros'", "dtype F32", "expected I32", NULL};
    expect_bad(dir, n);
}

Test(hf_quant, bad_awq_bits_and_unknown_method)
{
    const char *dir = bad_folder("{\"quant_method\": \"awq\", \"bits\": 8, \"group_size\": 32}", NULL);
    const char *n[] = {"config.json", "key 'quantization_config.bits'", "integer 8", "expected 4", NULL};
    expect_bad(dir, n);
    dir = bad_folder("{\"quant_method\": \"fp8\"}", NULL);
    const char *m[] = {"config.json", "key 'quantization_config.quant_method'", "\"fp8\"", "gptq", NULL};
    expect_bad(dir, m);
    dir = bad_folder("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"checkpoint_format\": \"marlin\"}", NULL);
    const char *f[] = {"config.json", "key 'quantization_config.checkpoint_format'", "\"marlin\"", NULL};
    expect_bad(dir, f);
}

Test(hf_quant, quantize_config_json_is_read)
{
    /* AutoGPTQ's own file, no quantization_config in config.json */
    const char *dir = bad_folder("null", NULL);
    char path[4200];
    snprintf(path, sizeof path, "%s/quantize_config.json", dir);
    const char *qc = "{\"bits\": 4, \"group_size\": 32, \"damp_percent\": 0.01, \"desc_act\": false, \"sym\": true, "
                     "\"true_sequential\": true, \"model_name_or_path\": null, \"model_file_base_name\": \"model\"}";
    cr_assert_eq(test_write_file(path, qc, strlen(qc)), 0);
    struct model_src *src = open_ok(dir);
    cr_expect(strstr(model_src_quant_desc(src), "quantize_config.json"), "%s", model_src_quant_desc(src));
    cr_expect_str_eq(src_tensor_type_name(model_src_find(src, "blk.0.attn_v.weight")), "GPTQ-4bit-g32");
    model_src_close(src);
}
