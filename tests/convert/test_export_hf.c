/* test_export_hf.c — `ingot convert --format gptq|gptq_v2|awq|bnb -o FOLDER` (convert/export_hf.c).
 *
 * What must hold, and against what:
 *   - read back by ingot's HF reader (formats/hf_quant.c, proven bit-exact against the
 *     libraries' own dequantizers on real checkpoints), an exported GPTQ/AWQ folder gives
 *     bit for bit the rows of the same conversion written as GGUF and dequantized by the type
 *     table, for every tensor; `ingot verify` then reports the same KLD for both;
 *   - a bnb folder reads back to exactly the weights bnb4.c computed, and its codes are the
 *     nearest NF4 value to x / (true block absmax), found here by brute force (not by the
 *     decision tree the exporter uses);
 *   - the writer re-packs real third-party slices (shared/data/thirdparty/anamnesis-fixtures:
 *     AutoGPTQ 4-bit, GPTQModel 8-bit, AutoAWQ GEMM, bitsandbytes NF4 double-quant) into
 *     their exact bytes, from codes decoded here by plain shifts and checked against the
 *     libraries' goldens first; the dynamic map equals the one bitsandbytes stored;
 *   - wrong type, method or source, and a foreign non-empty FOLDER, exit 2 leaving nothing.
 */
#include "../test_util.h"
#include "../../common/ig_error.h"
#include "../../common/ig_half.h"
#include "../../formats/ggml_type.h"
#include "../../formats/hf_quant.h"
#include "../../formats/hf_quant_write.h"
#include "../../formats/model_src.h"
#include "../../formats/safetensors.h"
#include "../../formats/safetensors_write.h"
#include "../../model/tensor_f32.h"
#include "../../quantizers/bnb4.h"
#include "../../quantizers/ext_types.h"
#include "../formats/hf_quant_build.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FX QB_FX

/* ---- helpers ---------------------------------------------------------------------------------- */

static const char *tl3m(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/examples/tl3m", getenv("INGOT_ROOT") ? getenv("INGOT_ROOT") : ".");
    return path;
}

/* ingot convert SRC ARGS... -o OUT; the run's exit code. */
static int convert(struct test_run *r, const char *src, const char *out, const char *const *args)
{
    const char *argv[32] = {"convert", src, "-o", out, "-q"};
    int n = 5;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    test_run_ingot(r, argv);
    return r->exit_code;
}

/* Every tensor of the GGUF against the folder's tensor of the same GGUF name, read through
 * tensor_read_rows_f32 (the folder's quantized linears through hfq_read_rows_f32): bit-equal.
 * Returns how many tensors were compared. */
static int compare_with_gguf(const char *folder, const char *gguf)
{
    struct model_src *a = NULL, *b = NULL;
    cr_assert_eq(model_src_open(&a, gguf, NULL), 0, "%s", gguf);
    cr_assert_eq(model_src_open(&b, folder, NULL), 0, "%s", folder);
    int n = 0;
    for (int64_t i = 0; i < a->n_tensors; i++) {
        const struct src_tensor *ta = &a->tensors[i], *tb = model_src_find(b, ta->name);
        cr_assert_not_null(tb, "%s: no tensor %s", folder, ta->name);
        const int64_t rows = src_tensor_n_rows(ta), cols = ta->ne[0];
        cr_assert_eq(src_tensor_n_rows(tb), rows);
        cr_assert_eq(tb->ne[0], cols);
        float *x = malloc((size_t)(rows * cols) * 4), *y = malloc((size_t)(rows * cols) * 4);
        cr_assert_eq(tensor_read_rows_f32(ta, 0, rows, x), 0);
        cr_assert_eq(tensor_read_rows_f32(tb, 0, rows, y), 0);
        int64_t bad = 0, first = -1;
        for (int64_t k = 0; k < rows * cols; k++)
            if (memcmp(&x[k], &y[k], 4) != 0 && bad++ == 0)
                first = k;
        cr_expect_eq(bad, 0, "%s: %lld of %lld elements differ (first %lld: gguf %.9g, folder %.9g)", ta->name,
                     (long long)bad, (long long)(rows * cols), (long long)first, first >= 0 ? x[first] : 0.0,
                     first >= 0 ? y[first] : 0.0);
        free(x);
        free(y);
        n++;
    }
    model_src_close(a);
    model_src_close(b);
    return n;
}

static void expect_refused(const char *src, const char *const *args, const char *needle);

static json_t *load_json(const char *folder, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert_not_null(j, "%s: %s", path, err.text);
    return j;
}

/* Export SRC with args as FORMAT and as GGUF; compare; return the folder. */
static const char *export_and_compare(const char *src, const char *const *args, int want_tensors)
{
    static char folder[4200], gguf[4200];
    const char *tmp = test_tmp_dir();
    snprintf(folder, sizeof folder, "%s/out", tmp);
    snprintf(gguf, sizeof gguf, "%s/out.gguf", tmp);
    struct test_run r;
    cr_assert_eq(convert(&r, src, folder, args), 0, "export: %s", r.err);
    const char *gargs[24];
    int n = 0;
    for (int i = 0; args[i]; i++) {
        if (strcmp(args[i], "--format") == 0) {
            i++;
            continue;
        }
        gargs[n++] = args[i];
    }
    gargs[n] = NULL;
    cr_assert_eq(convert(&r, src, gguf, gargs), 0, "gguf: %s", r.err);
    cr_expect_eq(compare_with_gguf(folder, gguf), want_tensors);
    cr_expect_eq(test_count_entries(tmp), 2, "only FOLDER and the GGUF: no temporary folder left");
    return folder;
}

static void expect_config(const char *folder, const char *key, const char *want_json)
{
    json_t *cfg = load_json(folder, "config.json");
    const json_t *qc = json_object_get(cfg, "quantization_config");
    cr_assert_not_null(qc, "%s: no quantization_config", folder);
    char *got = json_dumps(json_object_get(qc, key), JSON_ENCODE_ANY | JSON_COMPACT);
    cr_expect_str_eq(got ? got : "(missing)", want_json, "quantization_config.%s", key);
    free(got);
    json_decref(cfg);
}

/* ---- GPTQ and AWQ: the folder reads back as the GGUF ------------------------------------------ */

Test(export_hf, gptq_v1_i4_g128_reads_back_as_the_gguf, .timeout = 120)
{
    const char *const args[] = {"--type", "I4_G128", "--format", "gptq", NULL};
    const char *f = export_and_compare(tl3m(), args, 39);
    expect_config(f, "quant_method", "\"gptq\"");
    expect_config(f, "bits", "4");
    expect_config(f, "group_size", "128");
    expect_config(f, "checkpoint_format", "\"gptq\"");
    expect_config(f, "sym", "false");
    expect_config(f, "desc_act", "false");
    json_t *qc = load_json(f, "quantize_config.json");
    cr_expect_str_eq(json_string_value(json_object_get(qc, "checkpoint_format")), "gptq");
    json_decref(qc);
    char path[4400];
    snprintf(path, sizeof path, "%s/tokenizer.model", f);
    size_t a, b;
    uint8_t *x = test_read_file(path, &a);
    snprintf(path, sizeof path, "%s/tokenizer.model", tl3m());
    uint8_t *y = test_read_file(path, &b);
    cr_assert(x && y && a == b && memcmp(x, y, a) == 0, "tokenizer.model copied byte for byte");
    free(x);
    free(y);
}

Test(export_hf, gptq_v1_i8_g128_and_i8_g32_read_back_as_the_gguf, .timeout = 120)
{
    const char *const a128[] = {"--type", "I8_G128", "--format", "gptq", NULL};
    expect_config(export_and_compare(tl3m(), a128, 39), "bits", "8");
    const char *const a32[] = {"--type", "I8_G32", "--format", "gptq", NULL};
    expect_config(export_and_compare(tl3m(), a32, 39), "group_size", "32");
}

Test(export_hf, gptq_v2_i4_g64_reads_back_as_the_gguf, .timeout = 120)
{
    const char *const args[] = {"--type", "I4_G64", "--format", "gptq_v2", NULL};
    expect_config(export_and_compare(tl3m(), args, 39), "checkpoint_format", "\"gptq_v2\"");
}

/* Q/K/V biases: llama's q/k biases are permuted like their rows and must come back in HF
 * order (tiny-llama-bias); qwen2's are not permuted (tiny-qwen2). 12 tensors each. */
Test(export_hf, biases_read_back_as_the_gguf, .timeout = 60)
{
    const char *const gptq[] = {"--type", "I4_G32", "--format", "gptq", NULL};
    export_and_compare(test_fixture_path("tiny-llama-bias"), gptq, 15);
    const char *const awq[] = {"--type", "I4_G32", "--format", "awq", NULL};
    export_and_compare(test_fixture_path("tiny-qwen2"), awq, 15);
}

/* Tied embeddings (TinyStories-656K stores lm_head only, F32): the export writes
 * model.embed_tokens.weight alone, as transformers ties it; the GGUF's output.weight reads
 * back from it. */
Test(export_hf, tied_f32_source_reads_back_as_the_gguf, .timeout = 60)
{
    const char *src = test_shared_path("hf-TinyStories-656K");
    if (!src)
        cr_skip_test("hf-TinyStories-656K is not present (INGOT_DATA)");
    const char *const args[] = {"--type", "I4_G128", "--format", "gptq", NULL};
    const char *f = export_and_compare(src, args, 21);
    char path[4400];
    snprintf(path, sizeof path, "%s/model.safetensors", f);
    struct st_model *st = NULL;
    cr_assert_eq(st_open_flags(&st, path, ST_OPEN_INTEGER_DTYPES), 0);
    cr_expect_not_null(st_find(st, "model.embed_tokens.weight"));
    cr_expect_null(st_find(st, "lm_head.weight"), "a tied model stores no lm_head");
    st_close(st);
}

/* qwen3: per-head q/k norms (1-D block tensors) beside the linears; a byte-level BPE
 * tokenizer.json copied. MoE and fused (phi3) layouts are refused before any work. */
Test(export_hf, qwen3_reads_back_and_moe_fused_refused, .timeout = 60)
{
    const char *dir = test_tmp_dir();
    char m[4200];
    struct test_run r;
    const char *archs[] = {"qwen3", "mixtral", "phi3"};
    const char *needles[] = {NULL, "stack of experts", "fused linear"};
    for (int k = 0; k < 3; k++) {
        snprintf(m, sizeof m, "%s/%s", dir, archs[k]);
        const char *argv[] = {"synth", "--arch", archs[k], "-o", m, "--layers", "1", "--dim", "256", "--ff", "512", NULL};
        test_run_ingot(&r, argv);
        cr_assert_eq(r.exit_code, 0, "synth %s: %s", archs[k], r.err);
        const char *const args[] = {"--type", "I4_G32", "--format", "gptq", NULL};
        if (!needles[k])
            export_and_compare(m, args, 14);
        else
            expect_refused(m, args, needles[k]);
    }
}

/* A group with no negative weight has the true zero 0, which v1's zero - 1 cannot hold:
 * --format gptq names the linear, row and group and exits 2; gptq_v2 stores it and reads back. */
Test(export_hf, gptq_v1_refuses_a_zero_of_0_and_v2_stores_it, .timeout = 60)
{
    const char *m = test_synth_f32_model("128");
    test_set_f32(m, "model.layers.0.mlp.gate_proj.weight", 5, 0, 128, 0.01f);
    const char *dir = test_tmp_dir();
    char out[4200];
    snprintf(out, sizeof out, "%s/out", dir);
    struct test_run r;
    const char *const v1[] = {"--type", "I4_G128", "--format", "gptq", NULL};
    cr_expect_eq(convert(&r, m, out, v1), 2, "%s", r.err);
    cr_expect(strstr(r.err, "blk.0.ffn_gate.weight") && strstr(r.err, "output row 5, group 0") &&
                  strstr(r.err, "gptq_v2"), "%s", r.err);
    cr_expect_eq(test_count_entries(dir), 0, "nothing left");
    const char *const v2[] = {"--type", "I4_G128", "--format", "gptq_v2", NULL};
    export_and_compare(m, v2, 12);
}

/* GPTQ proper with act-order (static groups, so g_idx stays i / 32) on a one-block synth model. */
Test(export_hf, gptq_method_act_order_i4_g32_reads_back_as_the_gguf, .timeout = 180)
{
    const char *m = test_synth_f32_model("128");
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", m);
    const char *const args[] = {"--type", "I4_G32", "--format", "gptq", "--method", "gptq", "--act-order", "--calib",
                                corpus, "--samples", "2", "--seq-len", "16", NULL};
    const char *f = export_and_compare(m, args, 12);
    expect_config(f, "desc_act", "true");
    expect_config(f, "static_groups", "true");
    /* g_idx as written: i / 32 */
    char path[4400];
    snprintf(path, sizeof path, "%s/model.safetensors", f);
    struct st_model *st = NULL;
    cr_assert_eq(st_open_flags(&st, path, ST_OPEN_INTEGER_DTYPES), 0);
    const struct st_tensor *gi = st_find(st, "model.layers.0.mlp.down_proj.g_idx");
    cr_assert_not_null(gi);
    for (int64_t i = 0; i < 512; i++) {
        int32_t g;
        memcpy(&g, gi->data + 4 * i, 4);
        cr_expect_eq(g, i / 32, "g_idx[%lld]", (long long)i);
    }
    st_close(st);
    snprintf(path, sizeof path, "%s/tokenizer.json", f);
    size_t size = 0;
    uint8_t *tok = test_read_file(path, &size);
    cr_expect(tok && size > 0, "tokenizer.json copied");
    free(tok);
}

/* AWQ with its scale search: norms it folds a scale into are compared bit for bit too (they
 * are written F32 when F16 would round them). */
Test(export_hf, awq_method_i4_g128_reads_back_as_the_gguf, .timeout = 180)
{
    const char *m = test_synth_f32_model("128");
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", m);
    const char *const args[] = {"--type", "I4_G128", "--format", "awq", "--method", "awq", "--calib", corpus,
                                "--samples", "2", "--seq-len", "16", NULL};
    const char *f = export_and_compare(m, args, 12);
    expect_config(f, "quant_method", "\"awq\"");
    expect_config(f, "version", "\"gemm\"");
    expect_config(f, "zero_point", "true");
}

Test(export_hf, awq_rtn_i4_g32_reads_back_and_verify_kld_equals_the_gguf, .timeout = 180)
{
    const char *const args[] = {"--type", "I4_G32", "--format", "awq", NULL};
    const char *f = export_and_compare(tl3m(), args, 39);
    char gguf[4300], eval[4300];
    snprintf(gguf, sizeof gguf, "%.*s.gguf", (int)strlen(f), f);
    /* the first 4000 bytes of tl3m's held-out text: 11 windows of 128 tokens are enough to
     * compare two runs bit for bit */
    snprintf(eval, sizeof eval, "%s/eval.txt", tl3m());
    size_t size = 0;
    uint8_t *text = test_read_file(eval, &size);
    cr_assert(text && size > 4000);
    snprintf(eval, sizeof eval, "%s/eval_head.txt", test_tmp_dir());
    cr_assert_eq(test_write_file(eval, text, 4000), 0);
    free(text);
    double kld[2];
    for (int k = 0; k < 2; k++) {
        struct test_run r;
        const char *argv[] = {"verify", k ? gguf : f, "--source", tl3m(), "--eval", eval, "--ctx", "128", "--json", NULL};
        test_run_ingot(&r, argv);
        cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
        json_t *j = json_loads(r.out, 0, NULL);
        cr_assert_not_null(j);
        kld[k] = test_json_num(json_array_get(json_object_get(j, "containers"), 0), "kld_mean");
        json_decref(j);
    }
    cr_expect(kld[0] > 0 && kld[0] == kld[1], "KLD of the export %.17g, of the GGUF %.17g", kld[0], kld[1]);
}

/* ---- bitsandbytes -------------------------------------------------------------------------------- */

/* The NF4 code nearest to v (ties to the lower index), by brute force over the table. */
static int nearest_nf4(float v)
{
    int best = 0;
    for (int c = 1; c < 16; c++)
        if (fabsf(v - nf4_code[c]) < fabsf(v - nf4_code[best]))
            best = c;
    return best;
}

Test(export_hf, bnb_reads_back_to_the_exported_values_with_bnb_codes, .timeout = 120)
{
    const char *f = test_tmp_dir();
    char out[4200];
    snprintf(out, sizeof out, "%s/bnb", f);
    struct test_run r;
    const char *const args[] = {"--type", "NF4", "--format", "bnb", NULL};
    cr_assert_eq(convert(&r, tl3m(), out, args), 0, "%s", r.err);
    expect_config(out, "load_in_4bit", "true");
    expect_config(out, "bnb_4bit_quant_type", "\"nf4\"");
    expect_config(out, "bnb_4bit_use_double_quant", "true");
    struct model_src *src = NULL, *exp = NULL;
    cr_assert_eq(model_src_open(&src, tl3m(), NULL), 0);
    cr_assert_eq(model_src_open(&exp, out, NULL), 0);
    char path[4400];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    struct st_model *st = NULL;
    cr_assert_eq(st_open_flags(&st, path, ST_OPEN_INTEGER_DTYPES), 0);
    float map[256];
    bnb_dynamic_map(map);
    int n_linears = 0;
    int64_t code_mismatch = 0, n_codes = 0;
    for (int64_t t = 0; t < src->n_tensors; t++) {
        const struct src_tensor *s = &src->tensors[t], *e = model_src_find(exp, s->name);
        if (!e || !e->read_rows_f32)
            continue;
        n_linears++;
        const int64_t rows = s->ne[1], cols = s->ne[0], n = rows * cols;
        /* source rows in GGUF order -> HF order, as the exporter quantizes them */
        float *x = malloc((size_t)n * 4), *hf = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
        uint8_t *codes = malloc((size_t)n), *aq = malloc((size_t)n / 64 + 1);
        float na[64], offset;
        cr_assert_eq(tensor_read_rows_f32(s, 0, rows, x), 0);
        for (int64_t r0 = 0; r0 < rows; r0++) {
            int64_t h = s->permute_n_head ? model_permuted_row(r0, rows, s->permute_n_head) : r0;
            memcpy(hf + h * cols, x + r0 * cols, (size_t)cols * 4);
        }
        cr_assert_eq(bnb_nf4_quantize(hf, n, map, codes, aq, na, &offset, y), 0);
        cr_assert_eq(tensor_read_rows_f32(e, 0, rows, got), 0);
        int64_t bad = 0;
        for (int64_t r0 = 0; r0 < rows; r0++) {
            int64_t h = s->permute_n_head ? model_permuted_row(r0, rows, s->permute_n_head) : r0;
            bad += memcmp(got + r0 * cols, y + h * cols, (size_t)cols * 4) != 0;
        }
        cr_expect_eq(bad, 0, "%s: %lld rows differ from the exporter's values", s->name, (long long)bad);
        /* the stored codes: bnb's rule, nearest to x * (1 / true absmax) */
        char name[320];
        snprintf(name, sizeof name, "%.*s.weight", (int)(strrchr(e->src_name, '.') - e->src_name), e->src_name);
        const struct st_tensor *w = st_find(st, name);
        cr_assert_not_null(w, "%s", name);
        for (int64_t b = 0; b < n / 64; b++) {
            float amax = 0;
            for (int64_t k = b * 64; k < b * 64 + 64; k++)
                amax = fmaxf(amax, fabsf(hf[k]));
            for (int64_t k = b * 64; k < b * 64 + 64; k++) {
                const int stored = k % 2 == 0 ? w->data[k / 2] >> 4 : w->data[k / 2] & 15;
                code_mismatch += stored != (amax > 0 ? nearest_nf4(hf[k] * (1.0f / amax)) : 7);
                n_codes++;
            }
        }
        free(x), free(hf), free(y), free(got), free(codes), free(aq);
    }
    cr_expect_eq(n_linears, 28);
    cr_expect_eq(code_mismatch, 0, "%lld of %lld codes are not the nearest NF4 value", (long long)code_mismatch,
                 (long long)n_codes);
    /* the quant_state JSON parses and names the linear's [out, in] */
    const struct st_tensor *js = st_find(st, "model.layers.0.mlp.down_proj.weight.quant_state.bitsandbytes__nf4");
    cr_assert_not_null(js);
    json_t *j = json_loadb((const char *)js->data, js->size_bytes, 0, NULL);
    cr_assert_not_null(j);
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(j, "shape"), 0)), 256);
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(j, "shape"), 1)), 768);
    cr_expect_eq(json_integer_value(json_object_get(j, "blocksize")), 64);
    cr_expect_eq(json_integer_value(json_object_get(j, "nested_blocksize")), 256);
    json_decref(j);
    st_close(st);
    model_src_close(src);
    model_src_close(exp);
}

/* ---- the packer on real third-party slices ----------------------------------------------------- */

static uint16_t u16(const uint8_t *p, int64_t i)
{
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
}

static float f32(const uint8_t *p, int64_t i)
{
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

/* A real GPTQ v1 slice (256 x 256, group 128): decode by shifts, check against the library's
 * golden, re-pack with hfq_gptq_put_row, compare every byte. */
static void gptq_real(const char *rel, int bits)
{
    size_t n;
    uint8_t *b = qb_fixture(rel, &n);
    cr_assert_eq(memcmp(b, "AMNQ", 4), 0);
    cr_assert_eq(qb_u32_at(b + 4, 1), (uint32_t)bits);
    cr_assert_eq(qb_u32_at(b + 4, 5), 2u, "F16 scales");
    const uint8_t *qw = b + 56, *sc = qw + qb_u32_at(b + 4, 7), *qz = sc + qb_u32_at(b + 4, 8), *gi = qz + qb_u32_at(b + 4, 9);
    const uint8_t *golden = gi + qb_u32_at(b + 4, 10) + qb_u32_at(b + 4, 11);   /* F32 [in][out] */
    enum { IN = 256, OUT = 256, G = 128 };
    const int pf = 32 / bits;
    const uint32_t mask = (1u << bits) - 1;
    struct hfq_int_geom g;
    cr_assert_eq(hfq_int_geom_init(&g, false, bits, IN, OUT, G), 0);
    uint8_t *qw2 = calloc(hfq_gptq_qweight_bytes(&g), 1), *qz2 = calloc(hfq_gptq_qzeros_bytes(&g), 1);
    uint8_t *sc2 = calloc(hfq_scales_bytes(&g), 1), *gi2 = calloc(IN, 4);
    int64_t wrong = 0;
    for (int o = 0; o < OUT; o++) {
        uint8_t codes[IN], zeros[2];
        uint16_t s16[2];
        for (int k = 0; k < 2; k++) {
            zeros[k] = (uint8_t)(((qb_u32_at(qz, k * (OUT / pf) + o / pf) >> (bits * (o % pf))) + 1) & mask);   /* v1: +1 */
            s16[k] = u16(sc, k * OUT + o);
        }
        for (int i = 0; i < IN; i++) {
            codes[i] = (uint8_t)((qb_u32_at(qw, (i / pf) * OUT + o) >> (bits * (i % pf))) & mask);
            const float w = ig_fp16_to_fp32(s16[i / G]) * (float)((int)codes[i] - (int)zeros[i / G]);
            wrong += memcmp(&w, golden + 4 * ((size_t)i * OUT + o), 4) != 0;
        }
        cr_assert_eq(hfq_gptq_put_row(&g, true, o, codes, zeros, s16, qw2, qz2, sc2), 0);
    }
    hfq_gptq_g_idx(&g, gi2);
    cr_expect_eq(wrong, 0, "decoded values vs the library's golden: %lld differ", (long long)wrong);
    cr_expect_eq(memcmp(qw2, qw, hfq_gptq_qweight_bytes(&g)), 0, "qweight bytes");
    cr_expect_eq(memcmp(qz2, qz, hfq_gptq_qzeros_bytes(&g)), 0, "qzeros bytes (v1: zero - 1)");
    cr_expect_eq(memcmp(sc2, sc, hfq_scales_bytes(&g)), 0, "scales bytes");
    cr_expect_eq(memcmp(gi2, gi, IN * 4), 0, "g_idx bytes");
    free(qw2), free(qz2), free(sc2), free(gi2), free(b);
}

Test(export_hf, gptq_packer_reproduces_real_autogptq_int4_bytes)
{
    gptq_real(FX "gptq_reference/llama_3_2_1b_int4.bin", 4);
}

Test(export_hf, gptq_packer_reproduces_real_gptqmodel_int8_bytes)
{
    gptq_real(FX "gptq_reference/llama_3_2_1b_gptqmodel_int8.bin", 8);
}

Test(export_hf, awq_packer_reproduces_real_autoawq_gemm_bytes)
{
    struct qb_awq_slice s;
    qb_awq_slice_read(&s);
    const uint8_t *qw = s.qweight, *sc = s.scales, *qz = s.qzeros, *golden = s.golden;
    enum { IN = 256, OUT = 256, G = 128 };
    const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};   /* AutoAWQ AWQ_ORDER: field j holds column c*8 + order[j] */
    struct hfq_int_geom g;
    cr_assert_eq(hfq_int_geom_init(&g, true, 4, IN, OUT, G), 0);
    uint8_t *qw2 = calloc(hfq_awq_qweight_bytes(&g), 1), *qz2 = calloc(hfq_awq_qzeros_bytes(&g), 1);
    uint8_t *sc2 = calloc(hfq_scales_bytes(&g), 1);
    int64_t wrong = 0;
    for (int o = 0; o < OUT; o++) {
        int field = 0;
        while (order[field] != o % 8)
            field++;
        uint8_t codes[IN], zeros[2];
        uint16_t s16[2];
        for (int k = 0; k < 2; k++) {
            zeros[k] = (uint8_t)((qb_u32_at(qz, k * (OUT / 8) + o / 8) >> (4 * field)) & 15);
            s16[k] = u16(sc, k * OUT + o);
        }
        for (int i = 0; i < IN; i++) {
            codes[i] = (uint8_t)((qb_u32_at(qw, i * (OUT / 8) + o / 8) >> (4 * field)) & 15);
            const float w = (float)((int)codes[i] - (int)zeros[i / G]) * ig_fp16_to_fp32(s16[i / G]);
            wrong += memcmp(&w, golden + 4 * ((size_t)i * OUT + o), 4) != 0;
        }
        hfq_awq_put_row(&g, o, codes, zeros, s16, qw2, qz2, sc2);
    }
    cr_expect_eq(wrong, 0, "decoded values vs AutoAWQ's golden: %lld differ", (long long)wrong);
    cr_expect_eq(memcmp(qw2, qw, hfq_awq_qweight_bytes(&g)), 0, "qweight bytes");
    cr_expect_eq(memcmp(qz2, qz, hfq_awq_qzeros_bytes(&g)), 0, "qzeros bytes");
    cr_expect_eq(memcmp(sc2, sc, hfq_scales_bytes(&g)), 0, "scales bytes");
    free(qw2), free(qz2), free(sc2), free(s.file);
}

/* A real NF4 double-quant slice (bitsandbytes CUDA): the map and code table bnb stored equal
 * ours bit for bit; its golden weights re-coded against their decoded absmax (and those
 * absmax against the nested scale) give back the stored bytes; the packer reproduces them. */
Test(export_hf, bnb_map_and_packing_reproduce_real_double_quant_bytes)
{
    size_t n;
    uint8_t *b = qb_fixture(FX "bnb_reference/llama_1b_nf4_double_quant.bin", &n);
    cr_assert_eq(memcmp(b, "AMNB", 4), 0);
    cr_assert_eq(qb_u32_at(b + 4, 1), 2u, "format 2: double quantization");
    const float offset = f32(b + 48, 0);
    const uint8_t *w = b + 52, *am = w + qb_u32_at(b + 4, 4), *qm = am + qb_u32_at(b + 4, 5), *na = qm + qb_u32_at(b + 4, 6);
    const uint8_t *nm = na + qb_u32_at(b + 4, 7), *golden = nm + qb_u32_at(b + 4, 8) + qb_u32_at(b + 4, 9);
    float map[256];
    bnb_dynamic_map(map);
    cr_expect_eq(memcmp(map, nm, sizeof map), 0, "the dynamic map differs from the one bitsandbytes stored");
    cr_expect_eq(memcmp(nf4_code, qm, 64), 0, "the NF4 table differs from bitsandbytes' quant_map");
    enum { N = 4096 };
    uint8_t codes[N], packed[N / 2];
    int absmax_wrong = 0;
    for (int j = 0; j < N / 64; j++) {
        const float v = map[am[j]] * f32(na, 0);   /* absmax - offset as stored */
        absmax_wrong += bnb_dynamic_index(map, v * (1.0f / f32(na, 0))) != am[j];
        const float a = v + offset;
        for (int k = j * 64; k < j * 64 + 64; k++)
            codes[k] = (uint8_t)nf4_code_index(f32(golden, k) * (1.0f / a));
    }
    cr_expect_eq(absmax_wrong, 0, "absmax codes re-coded by dQuantize");
    hfq_bnb4_pack(codes, N, packed);
    cr_expect_eq(memcmp(packed, w, N / 2), 0, "packed weight bytes");
    char json[512], repr[32];
    cr_assert_gt(hfq_bnb4_state_json(json, sizeof json, 64, "float16", 2048, 2048, 256, offset), 0);
    json_t *j = json_loads(json, 0, NULL);
    cr_assert_not_null(j, "%s", json);
    cr_expect_eq((float)json_real_value(json_object_get(j, "nested_offset")), offset, "offset %s", hfq_float_repr(offset, repr));
    json_decref(j);
    free(b);
}

Test(export_hf, dynamic_index_is_nearest_with_library_ties)
{
    float map[256];
    bnb_dynamic_map(map);
    cr_assert_eq(map[127], 0.0f);
    cr_assert_eq(map[255], 1.0f);
    for (int c = 0; c < 256; c++)
        cr_expect_eq(bnb_dynamic_index(map, map[c]), c, "entry %d (%g) maps to itself", c, map[c]);
    cr_expect_eq(bnb_dynamic_index(map, -1.0f), 0);
    cr_expect_eq(bnb_dynamic_index(map, 2.0f), 255);
}

/* json.dumps of QuantState's offset.item(): Python's repr of the float32 as a double
 * (repr(float(numpy.float32(0.1))) is '0.10000000149011612'; whole numbers keep ".0"). */
Test(export_hf, offset_is_written_as_python_repr)
{
    char buf[32];
    cr_expect_str_eq(hfq_float_repr(0.1f, buf), "0.10000000149011612");
    cr_expect_str_eq(hfq_float_repr(0.5f, buf), "0.5");
    cr_expect_str_eq(hfq_float_repr(1.0f, buf), "1.0");
    cr_expect_str_eq(hfq_float_repr(-0.25f, buf), "-0.25");
}

/* ---- the safetensors writer ---------------------------------------------------------------------- */

Test(export_hf, safetensors_writer_round_trips_and_refuses_short_tensors)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/a.safetensors", test_tmp_dir());
    struct st_writer *w = NULL;
    const int64_t s1[2] = {2, 3}, s2[1] = {5};
    const float a[6] = {1, 2, 3, 4, 5, 6};
    const uint8_t u[5] = {9, 8, 7, 6, 5};
    cr_assert_eq(st_writer_open(&w, path), 0);
    cr_assert_eq(st_writer_declare(w, "x.weight", "F32", 2, s1), 0);
    cr_assert_eq(st_writer_declare(w, "y", "U8", 1, s2), 0);
    cr_expect_eq(st_writer_declare(w, "y", "U8", 1, s2), IG_EINVAL, "duplicate name");
    cr_assert_eq(st_writer_begin_data(w), 0);
    cr_assert_eq(st_writer_write(w, a, sizeof a), 0);
    cr_assert_eq(st_writer_end_tensor(w), 0);
    cr_assert_eq(st_writer_write(w, u, 5), 0);
    cr_assert_eq(st_writer_end_tensor(w), 0);
    cr_assert_eq(st_writer_close(w), 0);
    struct st_model *st = NULL;
    cr_assert_eq(st_open_flags(&st, path, ST_OPEN_INTEGER_DTYPES), 0);
    const struct st_tensor *x = st_find(st, "x.weight"), *y = st_find(st, "y");
    cr_assert(x && y);
    cr_expect_eq(x->shape[0], 2);
    cr_expect_eq(x->shape[1], 3);
    cr_expect_eq(memcmp(x->data, a, sizeof a), 0);
    cr_expect_eq(memcmp(y->data, u, 5), 0);
    st_close(st);
    /* a short tensor: refused, and the file removed */
    snprintf(path, sizeof path, "%s/b.safetensors", test_tmp_dir());
    cr_assert_eq(st_writer_open(&w, path), 0);
    cr_assert_eq(st_writer_declare(w, "x", "F32", 2, s1), 0);
    cr_assert_eq(st_writer_begin_data(w), 0);
    cr_assert_eq(st_writer_write(w, a, 8), 0);
    cr_expect_eq(st_writer_end_tensor(w), IG_EINVAL);
    st_writer_abort(w);
    struct stat sb;
    cr_expect_neq(stat(path, &sb), 0, "no file left");
}

/* ---- refusals ------------------------------------------------------------------------------------- */

static void expect_refused(const char *src, const char *const *args, const char *needle)
{
    const char *dir = test_tmp_dir();
    char out[4200];
    snprintf(out, sizeof out, "%s/out", dir);
    struct test_run r;
    cr_expect_eq(convert(&r, src, out, args), 2, "exit code (stderr: %s)", r.err);
    cr_expect(strstr(r.err, needle), "stderr lacks '%s': %s", needle, r.err);
    cr_expect_eq(test_count_entries(dir), 0, "nothing written: no FOLDER, no temporary folder");
}

Test(export_hf, wrong_type_method_or_source_exits_2)
{
    const char *const a[] = {"--type", "Q4_K_M", "--format", "gptq", NULL};
    expect_refused(tl3m(), a, "--format gptq writes --type I4_G32");
    const char *const b[] = {"--type", "I8_G128", "--format", "awq", NULL};
    expect_refused(tl3m(), b, "--format awq writes --type I4_G32, I4_G64 or I4_G128");
    const char *const c[] = {"--type", "I4_G128", "--format", "bnb", NULL};
    expect_refused(tl3m(), c, "--format bnb writes --type NF4");
    const char *const d[] = {"--type", "I4_G128", "--format", "exl2", NULL};
    expect_refused(tl3m(), d, "--format 'exl2'");
    const char *gguf = test_shared_path("gguf-stories260K/stories260K.gguf");
    if (gguf) {
        const char *const e[] = {"--type", "I4_G32", "--format", "gptq", NULL};
        expect_refused(gguf, e, "needs an HF folder as SRC");
    }
}

/* A linear left in another type by an override cannot be a GPTQ linear: refused after the
 * conversion, leaving nothing behind. */
Test(export_hf, linear_of_another_type_exits_2_and_leaves_nothing, .timeout = 60)
{
    const char *const a[] = {"--type", "I4_G128", "--format", "gptq", "--tensor-type", "ffn_down=Q8_0", NULL};
    expect_refused(tl3m(), a, "blk.0.ffn_down.weight");
}

Test(export_hf, foreign_folder_refused_earlier_export_replaced, .timeout = 60)
{
    const char *dir = test_tmp_dir();
    char out[4200], file[4400];
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(out, 0755);
    snprintf(file, sizeof file, "%s/mine.txt", out);
    cr_assert_eq(test_write_file(file, "keep", 4), 0);
    struct test_run r;
    const char *const g4[] = {"--type", "I4_G128", "--format", "gptq", NULL};
    cr_expect_eq(convert(&r, tl3m(), out, g4), 2, "%s", r.err);
    cr_expect(strstr(r.err, "not written by an ingot export"), "%s", r.err);
    cr_expect_eq(test_count_entries(out), 1, "the foreign folder is untouched");
    cr_assert_eq(remove(file), 0);
    /* an empty folder is taken; a second export replaces the first whole */
    cr_assert_eq(convert(&r, tl3m(), out, g4), 0, "%s", r.err);
    /* a killed export's temporary folder (its process gone) is removed by the next one */
    long pid = 4000000;
    while (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        pid--;
    char stale[4300];
    snprintf(stale, sizeof stale, "%s.tmp.%ld", out, pid);
    cr_assert_eq(mkdir(stale, 0755), 0);
    snprintf(file, sizeof file, "%s/ingot_export.json.partial", stale);
    cr_assert_eq(test_write_file(file, "", 0), 0);
    const char *const g8[] = {"--type", "I8_G64", "--format", "gptq", NULL};
    cr_assert_eq(convert(&r, tl3m(), out, g8), 0, "%s", r.err);
    expect_config(out, "bits", "8");
    cr_expect_eq(test_count_entries(dir), 1, "no temporary, stale or old folder left");
}
