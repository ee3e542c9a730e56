/* test_import_hf.c — `ingot convert GPTQ|AWQ|BNB_FOLDER -o out.gguf`: which linears are
 * written without a second rounding, and what the rest costs (convert/import_hf.h).
 *
 * Goldens, all independent of convert/import_hf.c:
 *   - the folder's own dequantized rows (formats/hf_quant.c, itself checked bit for bit against
 *     GPTQModel / AutoAWQ / bitsandbytes output in tests/formats/test_hf_quant.c): an "exact"
 *     import must give back every f32 bit of every linear when the GGUF is read through ingot's
 *     GGUF reader and the type table's dequantizers;
 *   - real third-party bytes: the anamnesis slices in shared/data/thirdparty (PROVENANCE.md),
 *     each written into a tiny llama folder as every linear of block 0 (as test_hf_quant.c does);
 *   - synthetic GPTQ folders: integers drawn here, packed by the test's own bit-at-a-time
 *     packer (tests/formats/hf_quant_build.c);
 *   - llama.cpp's own Q4_0 dequantizer (libggml-base from node-llama-cpp, /tmp/llb) for a
 *     Q4_0 import, skipped visibly when the library is absent;
 *   - `ingot verify FILE --source FOLDER` mean KLD exactly 0 for an exact import;
 *   - the provenance checksum: xxh3-64 of the stored parts concatenated, computed here.
 */
#include "../formats/hf_quant_build.h"

#include "../test_util.h"
#include "../data/ggml_probe/ggml_lib.h"
#include "../../common/ig_error.h"
#include "../../common/ig_half.h"
#include "../../formats/ggml_type.h"
#include "../../formats/gguf.h"
#include "../../formats/model_src.h"
#include "../../formats/safetensors.h"
#include "../../model/tensor_f32.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* The converted file's paths, in a fresh folder. */
struct conv {
    char out[4200], json[4200];
    struct test_run r;
    json_t *j;   /* the --json-out report, NULL when convert failed */
};

/* ingot convert dir -o OUT [extra...] --json-out J -q */
static void convert(struct conv *c, const char *dir, const char *const *extra)
{
    const char *tmp = test_tmp_dir();
    snprintf(c->out, sizeof c->out, "%s/out.gguf", tmp);
    snprintf(c->json, sizeof c->json, "%s/report.json", tmp);
    const char *argv[32] = {"convert", dir, "-o", c->out, "--json-out", c->json, "-q"};
    int n = 7;
    for (int k = 0; extra && extra[k]; k++)
        argv[n++] = extra[k];
    argv[n] = NULL;
    test_run_ingot(&c->r, argv);
    c->j = NULL;
    if (c->r.exit_code == 0) {
        json_error_t err;
        c->j = json_load_file(c->json, 0, &err);
        cr_assert_not_null(c->j, "%s: %s", c->json, err.text);
    }
}

/* The import record of tensor name in the report. */
static json_t *import_entry(const struct conv *c, const char *name)
{
    json_t *t = json_object_get(json_object_get(c->j, "import"), "tensors");
    for (size_t k = 0; k < json_array_size(t); k++)
        if (strcmp(json_string_value(json_object_get(json_array_get(t, k), "tensor")), name) == 0)
            return json_array_get(t, k);
    cr_assert_fail("no import entry for %s in %s", name, c->json);
    return NULL;
}

static const char *entry_str(json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));
    cr_assert_not_null(s, "key %s", key);
    return s;
}

/* Elements of GGUF tensor name whose f32 bits differ between the converted file (read through
 * ingot's GGUF reader and the type table's dequantizer) and the folder (its own dequantizer);
 * *type gets the written type. */
static int64_t differing_ex(const char *gguf_path, const char *dir, const char *name, int *type, bool log)
{
    struct model_src *g = NULL, *f = NULL;
    cr_assert_eq(model_src_open(&g, gguf_path, NULL), 0, "%s: %s", gguf_path, ig_error_message());
    cr_assert_eq(model_src_open(&f, dir, NULL), 0, "%s: %s", dir, ig_error_message());
    const struct src_tensor *tg = model_src_find(g, name), *tf = model_src_find(f, name);
    cr_assert(tg && tf, "%s", name);
    cr_assert_eq(tg->ne[0], tf->ne[0]);
    cr_assert_eq(tg->ne[1], tf->ne[1]);
    *type = tg->type;
    int64_t n = tg->ne[0] * tg->ne[1], bad = 0;
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    cr_assert_eq(tensor_read_rows_f32(tg, 0, tg->ne[1], a), 0, "%s", ig_error_message());
    cr_assert_eq(tensor_read_rows_f32(tf, 0, tf->ne[1], b), 0, "%s", ig_error_message());
    for (int64_t k = 0; k < n; k++)
        if (memcmp(&a[k], &b[k], 4) != 0 && bad++ == 0 && log)
            cr_log_error("%s: element %lld (row %lld): GGUF %.9g, folder %.9g", name, (long long)k,
                         (long long)(k / tg->ne[0]), (double)a[k], (double)b[k]);
    free(a);
    free(b);
    model_src_close(g);
    model_src_close(f);
    return bad;
}

static int gguf_type_of(const char *path, const char *name)
{
    struct model_src *g = NULL;
    cr_assert_eq(model_src_open(&g, path, NULL), 0, "%s: %s", path, ig_error_message());
    const struct src_tensor *t = model_src_find(g, name);
    cr_assert_not_null(t, "%s has no %s", path, name);
    int type = t->type;
    model_src_close(g);
    return type;
}

static int64_t differing(const char *gguf_path, const char *dir, const char *name, int *type)
{
    return differing_ex(gguf_path, dir, name, type, true);
}

/* Every linear of block 0 comes back bit for bit as want_type, and the report says exact. */
static void expect_all_exact(const struct conv *c, const char *dir, int want_type)
{
    cr_assert_eq(c->r.exit_code, 0, "convert: %s", c->r.err);
    for (int p = 0; p < 7; p++) {
        char name[64];
        int type;
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        cr_expect_eq(differing(c->out, dir, name, &type), 0, "%s: values differ", name);
        cr_expect_eq(type, want_type, "%s written as %s, expected %s", name, ggml_type_name(type), ggml_type_name(want_type));
        json_t *e = import_entry(c, name);
        cr_expect(json_is_true(json_object_get(e, "exact")), "%s not reported exact", name);
        cr_expect_str_eq(entry_str(e, "how"), "repacked", "%s", name);
        cr_expect_eq(json_integer_value(json_object_get(e, "elements_differing")), 0, "%s", name);
    }
    json_t *imp = json_object_get(c->j, "import");
    cr_expect_eq(json_integer_value(json_object_get(imp, "second_rounding")), 0);
    cr_expect_eq(json_integer_value(json_object_get(imp, "exact")), 7);
    cr_expect_str_eq(json_string_value(json_object_get(c->j, "method")), "import");
    cr_expect(strstr(c->r.err, "second rounding") == NULL, "no second-rounding warning expected: %s", c->r.err);
}

/* ---- real bytes: GPTQ, AWQ ------------------------------------------------------------------ */

/* The anamnesis GPTQ slice (256 x 256, group 128, F16 scales, v1 zeros) as every linear. */
static const char *gptq_real_folder(const char *file, int bits, const uint8_t **qparts, size_t *qsizes)
{
    size_t n;
    uint8_t *b = qb_fixture(file, &n);
    cr_assert_eq(memcmp(b, "AMNQ", 4), 0);
    cr_assert_eq(qb_u32_at(b + 4, 1), (uint32_t)bits);
    const uint8_t *qw = b + 56, *sc = qw + qb_u32_at(b + 4, 7), *qz = sc + qb_u32_at(b + 4, 8), *gi = qz + qb_u32_at(b + 4, 9);
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 1);
    for (int p = 0; p < 7; p++) {
        char name[160];
        snprintf(name, sizeof name, "model.layers.0.%s.qweight", qb_proj[p]);
        qb_add(&l, name, "I32", 2, 256 * bits / 32, 256, qw, qb_u32_at(b + 4, 7));
        snprintf(name, sizeof name, "model.layers.0.%s.qzeros", qb_proj[p]);
        qb_add(&l, name, "I32", 2, 2, 256 * bits / 32, qz, qb_u32_at(b + 4, 9));
        snprintf(name, sizeof name, "model.layers.0.%s.scales", qb_proj[p]);
        qb_add(&l, name, "F16", 2, 2, 256, sc, qb_u32_at(b + 4, 8));
        snprintf(name, sizeof name, "model.layers.0.%s.g_idx", qb_proj[p]);
        qb_add(&l, name, "I32", 1, 256, 0, gi, qb_u32_at(b + 4, 10));
    }
    if (qparts) {   /* the stored parts in hf_quant.h's order, for the checksum test (the data stays alive) */
        qparts[0] = qw, qsizes[0] = qb_u32_at(b + 4, 7);
        qparts[1] = qz, qsizes[1] = qb_u32_at(b + 4, 9);
        qparts[2] = sc, qsizes[2] = qb_u32_at(b + 4, 8);
        qparts[3] = gi, qsizes[3] = qb_u32_at(b + 4, 10);
    }
    char q[256];
    snprintf(q, sizeof q, "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": 128, \"desc_act\": false, \"sym\": true}", bits);
    const char *dir = qb_folder(&l, 256, 256, 4, 4, q);
    if (!qparts)
        free(b);
    return dir;
}

/* GPTQ 4-bit sym (v1 zeros 0x77777777: true zero 8) is y = (q - 8) * d: Q4_0, which llama.cpp
 * loads, exactly. */
Test(import_hf, gptq_int4_real_sym_v1_exact_in_q4_0, .timeout = 120)
{
    const char *dir = gptq_real_folder(QB_FX "gptq_reference/llama_3_2_1b_int4.bin", 4, NULL, NULL);
    struct conv c;
    convert(&c, dir, NULL);
    expect_all_exact(&c, dir, GGML_TYPE_Q4_0);
    cr_expect_str_eq(json_string_value(json_object_get(c.j, "type")), "Q4_0");
    /* embeddings and lm_head as convert writes them today (F16), norms F32 */
    cr_expect_eq(gguf_type_of(c.out, "token_embd.weight"), GGML_TYPE_F16);
    cr_expect_eq(gguf_type_of(c.out, "output.weight"), GGML_TYPE_F16);
    cr_expect_eq(gguf_type_of(c.out, "blk.0.attn_norm.weight"), GGML_TYPE_F32);
    json_decref(c.j);
}

/* llama.cpp's own Q4_0 dequantizer reads the imported blocks as the folder's values. */
Test(import_hf, gptq_int4_q4_0_dequantized_by_llama_cpp_bit_exact, .timeout = 120)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, NULL))
        cr_skip_test("llama.cpp's libggml-base is not installed (set GGML_BASE_LIB; node-llama-cpp in /tmp/llb)");
    ggml_lib_to_float_fn to_float = ggml_lib_to_float(&lib, GGML_TYPE_Q4_0);
    cr_assert_not_null(to_float);
    const char *dir = gptq_real_folder(QB_FX "gptq_reference/llama_3_2_1b_int4.bin", 4, NULL, NULL);
    struct conv c;
    convert(&c, dir, NULL);
    cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
    struct model_src *g = NULL, *f = NULL;
    cr_assert_eq(model_src_open(&g, c.out, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_src_open(&f, dir, NULL), 0, "%s", ig_error_message());
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        const struct src_tensor *tg = model_src_find(g, name), *tf = model_src_find(f, name);
        cr_assert_eq(tg->type, GGML_TYPE_Q4_0, "%s", name);
        int64_t n = tg->ne[0] * tg->ne[1], bad = 0;
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        to_float(tg->data, a, n);
        cr_assert_eq(tensor_read_rows_f32(tf, 0, tf->ne[1], b), 0);
        for (int64_t k = 0; k < n; k++)
            bad += memcmp(&a[k], &b[k], 4) != 0;
        cr_expect_eq(bad, 0, "%s: %lld of %lld values differ between libggml-base and the folder", name, (long long)bad,
                     (long long)n);
        free(a);
        free(b);
    }
    model_src_close(g);
    model_src_close(f);
    json_decref(c.j);
}

/* GPTQModel's 8-bit slice (v1 zeros; GPTQModel's sym files store 127 = 128 - 1) in Q8_0. */
Test(import_hf, gptq_int8_real_exact, .timeout = 120)
{
    const char *dir = gptq_real_folder(QB_FX "gptq_reference/llama_3_2_1b_gptqmodel_int8.bin", 8, NULL, NULL);
    struct conv c;
    convert(&c, dir, NULL);
    expect_all_exact(&c, dir, GGML_TYPE_Q8_0);
    json_decref(c.j);
}

/* AutoAWQ GEMM (asym zeros, interleaved): q - zero spans more than Q4_0's [-8, 7], so
 * I4_G128 (group 128), exactly. */
Test(import_hf, awq_gemm_real_exact_in_i4_g128, .timeout = 120)
{
    struct qb_awq_slice s;
    qb_awq_slice_read(&s);
    const char *dir = qb_awq_gemm_folder(&s);
    struct conv c;
    convert(&c, dir, NULL);
    expect_all_exact(&c, dir, GGML_TYPE_I4_G128);
    cr_expect_str_eq(json_string_value(json_object_get(c.j, "type")), "I4_G128");
    json_decref(c.j);
    free(s.file);
}

/* ---- synthetic GPTQ: every case of the rules ---------------------------------------------------- */

enum { SC_F16, SC_BF16, SC_F32, SC_F32_ODD };   /* scale dtype; F32_ODD: values no fp16 holds */

struct syn_case {
    int bits, group;
    bool sym, v2, act_order;
    int scales;          /* SC_* */
    int want_type;       /* every linear's type */
    int how;             /* 0 exact, 1 scales rounded, 2 re-quantized (act-order: the ffn_down linears etc.) */
};

/* hidden 128, ff 256, 4 heads of 32, 2 kv heads: rows of 128 and 256 inputs. */
#define SH 128
#define SFF 256

static void syn_dims(int p, int64_t *n_in, int64_t *n_out)
{
    const int64_t ins[7] = {SH, SH, SH, SH, SH, SH, SFF}, outs[7] = {SH, 64, 64, SH, SFF, SFF, SH};
    *n_in = ins[p];
    *n_out = outs[p];
}

/* One linear: integers drawn, W = scale * (q - zero); packed by the test's own packer. */
static void syn_linear(struct qb_list *l, const struct syn_case *c, const char *prefix, int64_t n_in, int64_t n_out,
                       uint32_t *seed)
{
    const int b = c->bits, maxq = (1 << b) - 1;
    const int64_t gs = c->group < 0 ? n_in : c->group, n_groups = n_in / gs;
    const int64_t qw_rows = n_in * b / 32, qz_cols = n_out * b / 32;
    uint32_t *qw = calloc((size_t)(qw_rows * n_out), 4), *qz = calloc((size_t)(n_groups * qz_cols), 4);
    float *s32 = malloc((size_t)(n_groups * n_out) * 4);
    uint16_t *s16 = malloc((size_t)(n_groups * n_out) * 2);
    int32_t *g_idx = malloc((size_t)n_in * 4);
    int64_t *perm = malloc((size_t)n_in * sizeof *perm);
    for (int64_t i = 0; i < n_in; i++)
        perm[i] = i;
    for (int64_t i = n_in - 1; c->act_order && i > 0; i--) {
        int64_t j = (int64_t)(qb_rand(seed) * (float)(i + 1)) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t j = 0; j < n_in; j++)
        g_idx[perm[j]] = (int32_t)(j / gs);
    for (int64_t i = 0; i < n_in; i++)
        for (int64_t o = 0; o < n_out; o++)
            qb_pack(qw + o, n_out, i, b, (uint32_t)(qb_rand(seed) * (float)(maxq + 1)) % (uint32_t)(maxq + 1));
    for (int64_t k = 0; k < n_groups * n_out; k++) {
        int lo = c->v2 ? 0 : 1;   /* v1 cannot store a zero of 0 */
        int z = c->sym ? (maxq + 1) / 2 : lo + (int)(qb_rand(seed) * (float)(maxq + 1 - lo)) % (maxq + 1 - lo);
        qb_pack(qz + (k / n_out) * qz_cols, 1, k % n_out, b, (uint32_t)(z - (c->v2 ? 0 : 1)));
        float s = ig_fp16_to_fp32(ig_fp32_to_fp16(0.001f + 0.05f * qb_rand(seed)));
        if (c->scales == SC_F32_ODD)
            s *= 1.0f + 0x1p-20f;   /* between two fp16 values */
        s32[k] = s;
        s16[k] = c->scales == SC_BF16 ? (uint16_t)0 : ig_fp32_to_fp16(s);
        if (c->scales == SC_BF16) {   /* an fp16 value with <= 8 significant bits is a bf16 too */
            uint32_t u;
            float t = ig_fp16_to_fp32(ig_fp32_to_fp16(s));
            memcpy(&u, &t, 4);
            u &= 0xffff0000u;
            memcpy(&t, &u, 4);
            s16[k] = (uint16_t)(u >> 16);
        }
    }
    char name[200];
    snprintf(name, sizeof name, "%s.qweight", prefix);
    qb_add(l, name, "I32", 2, qw_rows, n_out, qw, (size_t)(qw_rows * n_out) * 4);
    snprintf(name, sizeof name, "%s.qzeros", prefix);
    qb_add(l, name, "I32", 2, n_groups, qz_cols, qz, (size_t)(n_groups * qz_cols) * 4);
    snprintf(name, sizeof name, "%s.scales", prefix);
    if (c->scales == SC_F32 || c->scales == SC_F32_ODD)
        qb_add(l, name, "F32", 2, n_groups, n_out, s32, (size_t)(n_groups * n_out) * 4);
    else
        qb_add(l, name, c->scales == SC_BF16 ? "BF16" : "F16", 2, n_groups, n_out, s16, (size_t)(n_groups * n_out) * 2);
    snprintf(name, sizeof name, "%s.g_idx", prefix);
    qb_add(l, name, "I32", 1, n_in, 0, g_idx, (size_t)n_in * 4);
    free(qw);
    free(qz);
    free(s32);
    free(s16);
    free(g_idx);
    free(perm);
}

static const char *syn_folder(const struct syn_case *c, uint32_t seed)
{
    struct qb_list l = {0};
    qb_add_base(&l, SH, 275, seed);
    for (int p = 0; p < 7; p++) {
        int64_t n_in, n_out;
        char prefix[96];
        syn_dims(p, &n_in, &n_out);
        snprintf(prefix, sizeof prefix, "model.layers.0.%s", qb_proj[p]);
        syn_linear(&l, c, prefix, n_in, n_out, &seed);
    }
    char q[512];
    snprintf(q, sizeof q, "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": %d, \"sym\": %s, \"desc_act\": %s, "
             "\"checkpoint_format\": \"%s\"}", c->bits, c->group, c->sym ? "true" : "false", c->act_order ? "true" : "false",
             c->v2 ? "gptq_v2" : "gptq");
    return qb_folder(&l, SH, SFF, 4, 2, q);
}

static struct syn_case syn_cases[] = {
    /* bits group sym    v2     act    scales     type               how */
    {4, 128, false, false, false, SC_F16, GGML_TYPE_I4_G128, 0},   /* asym v1: true zero = stored + 1 */
    {4, 128, false, true, false, SC_F16, GGML_TYPE_I4_G128, 0},    /* asym v2 */
    {4, 128, true, true, false, SC_F16, GGML_TYPE_Q4_0, 0},        /* sym: zero 8, llama.cpp's Q4_0 */
    {4, 64, false, true, false, SC_F16, GGML_TYPE_I4_G64, 0},
    {4, -1, false, true, false, SC_F16, GGML_TYPE_I4_G128, 0},     /* one group per row: I4_G128 replicates it */
    {3, 128, false, true, false, SC_F16, GGML_TYPE_Q4_0, 0},       /* 3-bit asym: q - zero in [-7, 7] */
    {2, 32, false, false, false, SC_F16, GGML_TYPE_Q4_0, 0},
    {8, 128, true, false, false, SC_F16, GGML_TYPE_Q8_0, 0},       /* sym: zero 128 */
    {8, 64, false, true, false, SC_F16, GGML_TYPE_I8_G64, 0},      /* random asym zeros leave [-128, 127] */
    {4, 32, false, true, false, SC_BF16, GGML_TYPE_I4_G32, 0},     /* bf16 scales that are fp16 values */
    {4, 128, false, true, false, SC_F32, GGML_TYPE_I4_G128, 0},    /* f32 scales that are fp16 values */
    {4, 128, false, true, false, SC_F32_ODD, GGML_TYPE_I4_G128, 1}, /* f32 scales no fp16 holds */
    {4, 32, false, true, true, SC_F16, GGML_TYPE_I4_G32, 2},       /* act-order: a second rounding, onto
                                                                      * a grid as fine as the source's */
};

ParameterizedTestParameters(import_hf, gptq_synthetic_rules)
{
    return cr_make_param_array(struct syn_case, syn_cases, sizeof syn_cases / sizeof syn_cases[0]);
}

ParameterizedTest(struct syn_case *c, import_hf, gptq_synthetic_rules, .timeout = 120)
{
    const char *dir = syn_folder(c, 100u + (uint32_t)c->bits * 7u + (uint32_t)c->scales);
    struct conv cv;
    convert(&cv, dir, NULL);
    char label[128];
    snprintf(label, sizeof label, "%d-bit g%d %s %s%s scales %d", c->bits, c->group, c->sym ? "sym" : "asym", c->v2 ? "v2" : "v1",
             c->act_order ? " act-order" : "", c->scales);
    if (c->how == 0) {
        expect_all_exact(&cv, dir, c->want_type);
        json_decref(cv.j);
        return;
    }
    cr_assert_eq(cv.r.exit_code, 0, "%s: %s", label, cv.r.err);
    for (int p = 0; p < 7; p++) {
        char name[64];
        int type;
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        json_t *e = import_entry(&cv, name);
        int64_t bad = differing_ex(cv.out, dir, name, &type, false);
        cr_expect_eq(type, c->want_type, "%s: %s is %s", label, name, ggml_type_name(type));
        cr_expect(json_is_false(json_object_get(e, "exact")), "%s: %s reported exact", label, name);
        cr_expect_eq(json_integer_value(json_object_get(e, "elements_differing")), bad, "%s: %s", label, name);
        double rel = json_number_value(json_object_get(e, "rel_rms_error"));
        char warn[160];
        snprintf(warn, sizeof warn, "%s: GPTQ-%dbit-g%d -> %s is a second rounding", name, c->bits, c->group,
                 ggml_type_name(c->want_type));
        cr_expect(strstr(cv.r.err, warn), "%s: stderr lacks '%s': %s", label, warn, cv.r.err);
        if (c->how == 1) {
            /* codes kept, each scale rounded to fp16: every error within half an fp16 step of the
             * scale times |q - zero| <= 15, i.e. relative 2^-11 */
            cr_expect_str_eq(entry_str(e, "how"), "repacked, scales rounded to fp16");
            cr_expect(rel > 0 && rel <= 0x1p-11, "%s: %s rel RMS %g", label, name, rel);
        } else {
            cr_expect_str_eq(entry_str(e, "how"), "re-quantized");
            cr_expect(strstr(entry_str(e, "why"), "act-order"), "%s", entry_str(e, "why"));
            /* a 4-bit grid over values of 4-bit grids of other scales: well above 0, well below 1 */
            cr_expect(rel > 1e-3 && rel < 0.3, "%s: %s rel RMS %g", label, name, rel);
            cr_log_info("act-order 4-bit g32 -> I4_G32 second rounding: %s rel RMS error %.4g", name, rel);
        }
    }
    cr_expect(strstr(cv.r.err, "ingot verify"), "the KLD command is printed: %s", cv.r.err);
    json_decref(cv.j);
}

/* ---- bitsandbytes ------------------------------------------------------------------------------- */

/* The anamnesis NF4 slice (4096 elements, 64 blocks of 64, F32 absmax or double-quant U8)
 * repeated 16 times as [256][256] for every linear (as tests/formats/test_hf_quant.c). */
struct bnb_slice {
    uint8_t *b;
    const uint8_t *w, *am, *qm, *na, *nm;
    float offset;
    bool dq;
};

static const char *bnb4_folder(const char *file, bool dq, struct bnb_slice *s)
{
    size_t n;
    s->b = qb_fixture(file, &n);
    cr_assert_eq(memcmp(s->b, "AMNB", 4), 0);
    const uint8_t *h = s->b + 4;
    cr_assert_eq(qb_u32_at(h, 2), 4096u);
    cr_assert_eq(qb_u32_at(h, 3), 64u);
    memcpy(&s->offset, s->b + 48, 4);
    s->dq = dq;
    s->w = s->b + 52;
    s->am = s->w + qb_u32_at(h, 4);
    s->qm = s->am + qb_u32_at(h, 5);
    s->na = s->qm + qb_u32_at(h, 6);
    s->nm = s->na + qb_u32_at(h, 7);
    size_t wl = qb_u32_at(h, 4), al = qb_u32_at(h, 5);
    uint8_t *codes = malloc(wl * 16), *absmax = malloc(al * 16);
    for (int c = 0; c < 16; c++) {
        memcpy(codes + c * wl, s->w, wl);
        memcpy(absmax + c * al, s->am, al);
    }
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 3);
    for (int p = 0; p < 7; p++) {
        char name[160], js[512];
        snprintf(name, sizeof name, "model.layers.0.%s.weight", qb_proj[p]);
        qb_add(&l, name, "U8", 2, 256 * 256 / 2, 1, codes, wl * 16);
        snprintf(name, sizeof name, "model.layers.0.%s.weight.absmax", qb_proj[p]);
        qb_add(&l, name, dq ? "U8" : "F32", 1, 1024, 0, absmax, al * 16);
        snprintf(name, sizeof name, "model.layers.0.%s.weight.quant_map", qb_proj[p]);
        qb_add(&l, name, "F32", 1, 16, 0, s->qm, 64);
        if (dq) {
            float nested[4];
            for (int k = 0; k < 4; k++)
                memcpy(&nested[k], s->na, 4);
            snprintf(name, sizeof name, "model.layers.0.%s.weight.nested_absmax", qb_proj[p]);
            qb_add(&l, name, "F32", 1, 4, 0, nested, sizeof nested);
            snprintf(name, sizeof name, "model.layers.0.%s.weight.nested_quant_map", qb_proj[p]);
            qb_add(&l, name, "F32", 1, 256, 0, s->nm, 1024);
            snprintf(js, sizeof js, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [256, 256], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": %.9g}",
                     (double)s->offset);
        } else {
            snprintf(js, sizeof js, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [256, 256]}");
        }
        snprintf(name, sizeof name, "model.layers.0.%s.weight.quant_state.bitsandbytes__nf4", qb_proj[p]);
        qb_add(&l, name, "U8", 1, (int64_t)strlen(js), 0, js, strlen(js));
    }
    free(codes);
    free(absmax);
    char q[256];
    snprintf(q, sizeof q, "{\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\", \"bnb_4bit_use_double_quant\": %s}",
             dq ? "true" : "false");
    return qb_folder(&l, 256, 256, 4, 4, q);
}

/* Element k of the flattened [256][256] weight as NF4_F16 must hold it: the slice's code
 * value times its block's absmax rounded to fp16 (double quantization decoded in f32 first,
 * PROVENANCE.md's formula). */
static float bnb_expected(const struct bnb_slice *s, int64_t k)
{
    int64_t e = k % 4096, j = e / 64;
    int code = e % 2 == 0 ? s->w[e / 2] >> 4 : s->w[e / 2] & 15;
    float a, m, na, nm;
    if (s->dq) {
        memcpy(&na, s->na, 4);
        memcpy(&nm, s->nm + 4 * s->am[j], 4);
        float t = nm * na;
        a = t + s->offset;
    } else {
        memcpy(&a, s->am + 4 * j, 4);
    }
    memcpy(&m, s->qm + 4 * code, 4);
    return m * ig_fp16_to_fp32(ig_fp32_to_fp16(a));
}

static void bnb4_check(const char *file, bool dq, const char *src_type, bool exact)
{
    struct bnb_slice s;
    const char *dir = bnb4_folder(file, dq, &s);
    struct conv c;
    convert(&c, dir, NULL);
    cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
    struct model_src *g = NULL;
    cr_assert_eq(model_src_open(&g, c.out, NULL), 0, "%s", ig_error_message());
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        const struct src_tensor *t = model_src_find(g, name);
        cr_assert_eq(t->type, GGML_TYPE_NF4_F16, "%s is %s", name, ggml_type_name(t->type));
        float *y = malloc(65536 * sizeof *y);
        cr_assert_eq(tensor_read_rows_f32(t, 0, 256, y), 0);
        int64_t bad = 0;
        for (int64_t r = 0; r < 256; r++) {
            int64_t o = p < 2 ? model_permuted_row(r, 256, 4) : r;
            for (int64_t i = 0; i < 256; i++) {
                float want = bnb_expected(&s, o * 256 + i);
                if (memcmp(&want, &y[r * 256 + i], 4) != 0 && bad++ == 0)
                    cr_log_error("%s [%lld][%lld]: %.9g, want %.9g", name, (long long)r, (long long)i, (double)y[r * 256 + i],
                                 (double)want);
            }
        }
        cr_expect_eq(bad, 0, "%s: codes kept, absmax rounded to fp16", name);
        free(y);
        json_t *e = import_entry(&c, name);
        cr_expect_str_eq(entry_str(e, "source_type"), src_type);
        double rel = json_number_value(json_object_get(e, "rel_rms_error"));
        if (exact) {
            cr_expect_str_eq(entry_str(e, "how"), "repacked");
            cr_expect(json_is_true(json_object_get(e, "exact")), "%s", name);
            cr_expect_eq(rel, 0.0, "%s", name);
        } else {
            cr_expect_str_eq(entry_str(e, "how"), "repacked, scales rounded to fp16");
            /* |error| <= |code| * |absmax - fp16(absmax)| <= 2^-11 |x| element by element */
            cr_expect(rel > 0 && rel <= 0x1p-11, "%s: rel RMS %g", name, rel);
        }
        cr_log_info("%s -> NF4_F16: rel RMS error %.3g, max |error| %.3g", src_type, rel,
                    json_number_value(json_object_get(e, "max_abs_error")));
    }
    bool warned = strstr(c.r.err, "NF4_F16 is a second rounding (repacked, scales rounded to fp16)") != NULL;
    cr_expect_eq(warned, !exact, "%s", c.r.err);
    model_src_close(g);
    json_decref(c.j);
    free(s.b);
}

/* Without double quantization the absmax of a bf16 model's block is a bf16 value (the largest
 * |w|), which fp16 holds exactly from 2^-14 up: the import is exact. */
Test(import_hf, bnb_nf4_real_exact_in_nf4_f16, .timeout = 120)
{
    bnb4_check(QB_FX "bnb_reference/llama_1b_nf4.bin", false, "BNB-NF4-b64", true);
}

Test(import_hf, bnb_nf4_double_quant_real_codes_kept_in_nf4_f16, .timeout = 120)
{
    /* the decoded absmax f32(code * nested scale) + offset is no fp16: rounded, measured */
    bnb4_check(QB_FX "bnb_reference/llama_1b_nf4_double_quant.bin", true, "BNB-NF4-dq-b64", false);
}

/* LLM.int8: int8 codes kept in Q8_0 with d = fp16(SCB * f32(1/127)). */
Test(import_hf, bnb_int8_real_codes_kept_in_q8_0, .timeout = 120)
{
    size_t n;
    uint8_t *b = qb_fixture(QB_FX "bnb_reference/llama_1b_int8.bin", &n);
    const uint8_t *h = b + 4;
    cr_assert_eq(qb_u32_at(h, 2), 256u);
    const uint8_t *w = b + 36, *scb = w + qb_u32_at(h, 4);
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
    struct conv c;
    convert(&c, dir, NULL);
    cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
    struct model_src *g = NULL;
    cr_assert_eq(model_src_open(&g, c.out, NULL), 0, "%s", ig_error_message());
    const struct src_tensor *t = model_src_find(g, "blk.0.ffn_up.weight");
    cr_assert_eq(t->type, GGML_TYPE_Q8_0);
    float *y = malloc(65536 * sizeof *y);
    cr_assert_eq(tensor_read_rows_f32(t, 0, 256, y), 0);
    int64_t bad = 0;
    for (int64_t k = 0; k < 65536; k++) {
        float s;
        memcpy(&s, scb + 4 * (k / 256), 4);
        float want = (float)(int8_t)w[k] * ig_fp16_to_fp32(ig_fp32_to_fp16(s * (float)(1.0 / 127.0)));
        bad += memcmp(&want, &y[k], 4) != 0;
    }
    cr_expect_eq(bad, 0);
    json_t *e = import_entry(&c, "blk.0.ffn_up.weight");
    cr_expect_str_eq(entry_str(e, "how"), "repacked, scales rounded to fp16");
    double rel = json_number_value(json_object_get(e, "rel_rms_error"));
    cr_expect(rel > 0 && rel <= 0x1p-11 * 1.001, "rel RMS %g", rel);   /* plus bitsandbytes' own two f32 roundings */
    cr_expect_str_eq(json_string_value(json_object_get(c.j, "type")), "Q8_0");
    free(y);
    model_src_close(g);
    json_decref(c.j);
    free(b);
}

/* ---- --type: a second rounding, said and measured -------------------------------------------------- */

Test(import_hf, type_requantizes_with_warning_and_errors, .timeout = 120)
{
    const char *dir = gptq_real_folder(QB_FX "gptq_reference/llama_3_2_1b_int4.bin", 4, NULL, NULL);
    struct conv c;
    const char *extra[] = {"--type", "Q4_K_M", NULL};
    convert(&c, dir, extra);
    cr_assert_eq(c.r.exit_code, 0, "no --allow-requantize needed: %s", c.r.err);
    cr_expect(strstr(c.r.err, "--type Q4_K_M gives 7 of 7 third-party linears a second rounding"), "%s", c.r.err);
    cr_expect(strstr(c.r.err, "blk.0.ffn_up.weight: second rounding GPTQ-4bit-g128 -> "), "%s", c.r.err);
    cr_expect(strstr(c.r.err, "ingot verify"), "%s", c.r.err);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(c.j, "import"), "policy")), "type");
    for (int p = 0; p < 7; p++) {
        char name[64];
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        json_t *e = import_entry(&c, name);
        cr_expect_str_eq(entry_str(e, "how"), "re-quantized", "%s", name);
        double rel = json_number_value(json_object_get(e, "rel_rms_error"));
        /* measured against the folder here too: the GGUF read back through ingot's reader */
        int type;
        int64_t bad = differing_ex(c.out, dir, name, &type, false);
        cr_expect_eq(json_integer_value(json_object_get(e, "elements_differing")), bad, "%s", name);
        cr_expect(type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q6_K, "%s: %s", name, ggml_type_name(type));
        cr_expect(rel > 0 && rel < 0.2, "%s: rel RMS %g", name, rel);
    }
    json_decref(c.j);
}

/* --type naming a type that holds the codes: repacked, no second rounding. */
Test(import_hf, type_that_holds_the_codes_repacks_exactly, .timeout = 120)
{
    const char *dir = gptq_real_folder(QB_FX "gptq_reference/llama_3_2_1b_int4.bin", 4, NULL, NULL);
    struct conv c;
    const char *extra[] = {"--type", "Q4_0", "--pure", NULL};
    convert(&c, dir, extra);
    cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
    for (int p = 0; p < 7; p++) {
        char name[64];
        int type;
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        cr_expect_eq(differing(c.out, dir, name, &type), 0, "%s", name);
        cr_expect_eq(type, GGML_TYPE_Q4_0);
        cr_expect(json_is_true(json_object_get(import_entry(&c, name), "exact")));
    }
    cr_expect(strstr(c.r.err, "second rounding") == NULL, "%s", c.r.err);
    json_decref(c.j);
}

/* ---- the whole model: verify's KLD against the folder is 0 for an exact import -------------------- */

/* tests/data/tiny-llama with 4-bit group-32 linears (qb_gptq_tiny_llama), v1 when sym, v2 when not. */
static const char *tiny_gptq(bool sym)
{
    return qb_gptq_tiny_llama(4, 32, sym, true);
}

/* ingot verify's mean KLD of gguf_path against folder; ctx NULL: verify's default context. */
static double kld_of(const char *gguf_path, const char *folder, const char *text, const char *ctx)
{
    char json[4200];
    snprintf(json, sizeof json, "%s/v.json", test_tmp_dir());
    const char *argv[] = {"verify", gguf_path, "--source", folder, "--eval", text, "--json-out", json, "-q",
                          ctx ? "--ctx" : NULL, ctx, NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    json_t *e = json_array_get(json_object_get(j, "containers"), 0);
    double kld = json_number_value(json_object_get(e, "kld_mean"));
    cr_log_info("%s vs %s: mean KLD %g", gguf_path, folder, kld);
    json_decref(j);
    return kld;
}

Test(import_hf, exact_imports_have_kld_zero_against_the_folder, .timeout = 300)
{
    char text[4200];
    snprintf(text, sizeof text, "%s/eval.txt", test_tmp_dir());
    char body[4096] = "";
    for (int k = 0; k < 30; k++)
        strcat(body, "the cat sat on the mat and the dog ran to the park. ");
    cr_assert_eq(test_write_file(text, body, strlen(body)), 0);
    const struct {
        bool sym;
        int type;
    } cases[] = {{true, GGML_TYPE_Q4_0}, {false, GGML_TYPE_I4_G32}};
    for (int k = 0; k < 2; k++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", tiny_gptq(cases[k].sym));
        struct conv c;
        convert(&c, dir, NULL);
        cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
        cr_expect_eq(gguf_type_of(c.out, "blk.0.ffn_down.weight"), cases[k].type);
        cr_expect_eq(json_integer_value(json_object_get(json_object_get(c.j, "import"), "second_rounding")), 0);
        double kld = kld_of(c.out, dir, text, "32");
        /* the same weights, the same forward pass: not small, zero */
        cr_expect_eq(kld, 0.0, "%s: mean KLD %g", cases[k].sym ? "sym -> Q4_0" : "asym -> I4_G32", kld);
        json_decref(c.j);
    }
}

/* convert --eval TEXT runs the same measurement itself: 0 for the exact import; above 0 for a
 * --type that re-quantizes (asym codes into Q4_0's symmetric grid), in the JSON and the text. */
Test(import_hf, eval_reports_kld_in_convert, .timeout = 300)
{
    char text[4200], dir[4200];
    snprintf(text, sizeof text, "%s/eval.txt", test_tmp_dir());
    char body[4096] = "";
    for (int k = 0; k < 30; k++)
        strcat(body, "once upon a time a little girl found a red ball in the garden. ");
    cr_assert_eq(test_write_file(text, body, strlen(body)), 0);
    snprintf(dir, sizeof dir, "%s", tiny_gptq(false));
    const char *const extras[2][6] = {{"--eval", text, NULL}, {"--eval", text, "--type", "Q4_0", "--pure", NULL}};
    double kld[2];
    for (int k = 0; k < 2; k++) {
        struct conv c;
        convert(&c, dir, extras[k]);
        cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
        json_t *m = json_object_get(json_object_get(c.j, "import"), "kld");
        cr_assert(json_is_object(m), "import.kld in %s", c.json);
        kld[k] = json_number_value(json_object_get(m, "mean"));
        cr_expect_str_eq(json_string_value(json_object_get(m, "text")), text);
        cr_expect(strstr(c.r.out, "import: mean KLD against the folder's dequantized weights"), "%s", c.r.out);
        cr_expect_eq(kld_of(c.out, dir, text, NULL), kld[k], "convert --eval and ingot verify agree");
        json_decref(c.j);
    }
    cr_expect_eq(kld[0], 0.0, "exact import: KLD %g", kld[0]);
    cr_expect_gt(kld[1], 0.0, "--type Q4_0 re-quantizes asym codes: KLD %g", kld[1]);
    cr_log_info("tiny-llama GPTQ 4-bit g32 asym: KLD exact import %g, --type Q4_0 %g", kld[0], kld[1]);
    /* --json on stdout stays one JSON document: verify's table goes to stderr */
    char out[4200];
    snprintf(out, sizeof out, "%s/j.gguf", test_tmp_dir());
    const char *jargv[] = {"convert", dir, "-o", out, "--eval", text, "--json", "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, jargv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    json_error_t err;
    json_t *j = json_loads(r.out, 0, &err);
    cr_expect_not_null(j, "stdout is not one JSON document (%s): %s", err.text, r.out);
    cr_expect_eq(json_number_value(json_object_get(json_object_get(json_object_get(j, "import"), "kld"), "mean")), 0.0);
    json_decref(j);
}

/* ---- provenance and names -------------------------------------------------------------------------- */

Test(import_hf, source_checksum_covers_the_stored_parts, .timeout = 120)
{
    const uint8_t *parts[4];
    size_t sizes[4];
    const char *dir = gptq_real_folder(QB_FX "gptq_reference/llama_3_2_1b_int4.bin", 4, parts, sizes);
    /* qweight, qzeros, scales, g_idx one after another (formats/hf_quant.h's part order) */
    size_t total = sizes[0] + sizes[1] + sizes[2] + sizes[3], off = 0;
    uint8_t *cat = malloc(total);
    for (int k = 0; k < 4; k++) {
        memcpy(cat + off, parts[k], sizes[k]);
        off += sizes[k];
    }
    uint64_t want = XXH3_64bits(cat, total);
    free(cat);
    struct conv c;
    const char *extra[] = {"-v", NULL};
    convert(&c, dir, extra);
    cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
    struct gguf_file *g = NULL;
    cr_assert_eq(gguf_open(&g, c.out), 0, "%s", ig_error_message());
    int64_t kv = gguf_find_key(g, "ingot.source.tensor_xxh3"), ti = gguf_find_tensor(g, "blk.0.ffn_up.weight");
    cr_assert(kv >= 0 && ti >= 0);
    uint64_t got;
    memcpy(&got, gguf_kv_at(g, kv)->value + 8 * ti, 8);
    cr_expect_eq(got, want, "ingot.source.tensor_xxh3[blk.0.ffn_up.weight] = %016llx, want %016llx", (unsigned long long)got,
                 (unsigned long long)want);
    cr_expect_neq(got, XXH3_64bits(NULL, 0), "not the checksum of nothing");
    gguf_close(g);
    /* the source type by name, never "?" */
    cr_expect(strstr(c.r.err, "blk.0.ffn_up.weight") && strstr(c.r.err, "GPTQ-4bit-g128 -> Q4_0"), "%s", c.r.err);
    cr_expect(strstr(c.r.err, " ? ") == NULL, "%s", c.r.err);
    json_t *t = json_object_get(c.j, "tensors");
    for (size_t k = 0; k < json_array_size(t); k++) {
        const char *name = json_string_value(json_object_get(json_array_get(t, k), "name"));
        const char *st = json_string_value(json_object_get(json_array_get(t, k), "source_type"));
        if (strstr(name, "blk.0.") && strstr(name, "norm") == NULL)
            cr_expect_str_eq(st, "GPTQ-4bit-g128", "%s", name);
    }
    json_decref(c.j);
}

/* ---- bad input: exit 2 naming file, tensor, field; nothing written ----------------------------------- */

static void expect_no_output(const struct conv *c)
{
    struct stat sb;
    cr_expect_neq(stat(c->out, &sb), 0, "%s exists after a failed convert", c->out);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", c->out);
    *strrchr(dir, '/') = '\0';
    cr_expect_eq(test_count_entries(dir), 0, "%s holds leftovers", dir);
}

Test(import_hf, nan_scale_exits_2_naming_tensor_row_and_element, .timeout = 120)
{
    struct syn_case sc = {4, 128, false, true, false, SC_F16, 0, 0};
    struct qb_list l = {0};
    uint32_t seed = 7;
    qb_add_base(&l, SH, 275, seed);
    for (int p = 0; p < 7; p++) {
        int64_t n_in, n_out;
        char prefix[96];
        syn_dims(p, &n_in, &n_out);
        snprintf(prefix, sizeof prefix, "model.layers.0.%s", qb_proj[p]);
        syn_linear(&l, &sc, prefix, n_in, n_out, &seed);
    }
    for (int i = 0; i < l.n; i++)   /* v_proj's scale of group 0, output 3: NaN */
        if (strcmp(l.e[i].name, "model.layers.0.self_attn.v_proj.scales") == 0) {
            uint16_t nan = 0x7e00;
            memcpy(l.e[i].data + 2 * 3, &nan, 2);
        }
    const char *dir = qb_folder(&l, SH, SFF, 4, 2,
                                "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"sym\": false, \"checkpoint_format\": \"gptq_v2\"}");
    struct conv c;
    convert(&c, dir, NULL);
    cr_expect_eq(c.r.exit_code, 2, "exit %d: %s", c.r.exit_code, c.r.err);
    cr_expect(strstr(c.r.err, "model.safetensors"), "names the file: %s", c.r.err);
    cr_expect(strstr(c.r.err, "tensor 'blk.0.attn_v.weight'"), "names the tensor: %s", c.r.err);
    cr_expect(strstr(c.r.err, "row 3") && strstr(c.r.err, "element 0 is NaN"), "names row and element: %s", c.r.err);
    expect_no_output(&c);
}

Test(import_hf, bad_g_idx_exits_2_naming_file_tensor_and_field, .timeout = 120)
{
    struct syn_case sc = {4, 32, false, true, false, SC_F16, 0, 0};
    struct qb_list l = {0};
    uint32_t seed = 8;
    qb_add_base(&l, SH, 275, seed);
    for (int p = 0; p < 7; p++) {
        int64_t n_in, n_out;
        char prefix[96];
        syn_dims(p, &n_in, &n_out);
        snprintf(prefix, sizeof prefix, "model.layers.0.%s", qb_proj[p]);
        syn_linear(&l, &sc, prefix, n_in, n_out, &seed);
    }
    for (int i = 0; i < l.n; i++)
        if (strcmp(l.e[i].name, "model.layers.0.mlp.up_proj.g_idx") == 0) {
            int32_t v = 9;   /* 128 inputs / 32 = groups 0..3 */
            memcpy(l.e[i].data + 4 * 5, &v, 4);
        }
    const char *dir = qb_folder(&l, SH, SFF, 4, 2,
                                "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"sym\": false, \"checkpoint_format\": \"gptq_v2\"}");
    struct conv c;
    convert(&c, dir, NULL);
    cr_expect_eq(c.r.exit_code, 2, "exit %d: %s", c.r.exit_code, c.r.err);
    cr_expect(strstr(c.r.err, "model.safetensors") && strstr(c.r.err, "tensor 'model.layers.0.mlp.up_proj.g_idx'") &&
              strstr(c.r.err, "element 5 is 9") && strstr(c.r.err, "expected 0..3"), "%s", c.r.err);
    expect_no_output(&c);
}

Test(import_hf, unreadable_eval_text_exits_2_before_writing, .timeout = 60)
{
    const char *dir = tiny_gptq(true);
    struct conv c;
    const char *extra[] = {"--eval", "/nonexistent/eval.txt", NULL};
    convert(&c, dir, extra);
    cr_expect_eq(c.r.exit_code, 2, "exit %d: %s", c.r.exit_code, c.r.err);
    cr_expect(strstr(c.r.err, "--eval /nonexistent/eval.txt: cannot be read"), "%s", c.r.err);
    expect_no_output(&c);
}

/* Rows of 40 and 80 inputs: no block divides them, F32 holds every value (exact, no warning). */
Test(import_hf, rows_no_block_divides_are_widened_to_f32_exactly, .timeout = 60)
{
    struct syn_case sc = {4, -1, false, true, false, SC_F16, 0, 0};
    struct qb_list l = {0};
    uint32_t seed = 21;
    qb_add_base(&l, 40, 275, seed);
    const int64_t ins[7] = {40, 40, 40, 40, 40, 40, 80}, outs[7] = {40, 40, 40, 40, 80, 80, 40};
    for (int p = 0; p < 7; p++) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "model.layers.0.%s", qb_proj[p]);
        syn_linear(&l, &sc, prefix, ins[p], outs[p], &seed);
    }
    const char *dir = qb_folder(&l, 40, 80, 4, 4,
                                "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": -1, \"sym\": false, \"checkpoint_format\": \"gptq_v2\"}");
    struct conv c;
    convert(&c, dir, NULL);
    cr_assert_eq(c.r.exit_code, 0, "%s", c.r.err);
    for (int p = 0; p < 7; p++) {
        char name[64];
        int type;
        snprintf(name, sizeof name, "blk.0.%s.weight", qb_gguf[p]);
        cr_expect_eq(differing(c.out, dir, name, &type), 0, "%s", name);
        cr_expect_eq(type, GGML_TYPE_F32, "%s", name);
        json_t *e = import_entry(&c, name);
        cr_expect_str_eq(entry_str(e, "how"), "widened to F32");
        cr_expect(json_is_true(json_object_get(e, "exact")));
    }
    cr_expect(strstr(c.r.err, "second rounding") == NULL, "%s", c.r.err);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(c.j, "import"), "second_rounding")), 0);
    json_decref(c.j);
}
