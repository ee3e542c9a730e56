/* test_arch_gemma.c — gemma2 and gemma3 end to end against llama.cpp.
 *
 * `ingot synth --arch gemma2|gemma3` (seed 1, dim 64, 4/2 heads of 16, ff 128, F32; gemma2 with
 * 2 blocks, gemma3 with 7 so that block 5 is a global one), converted by ingot to an F32 GGUF,
 * was run through llama.cpp (libllama of node-llama-cpp 3.22.1) in a development session with
 *   node bench/llama_ppl_node.mjs FOLDER/corpus.txt 64 1000 FILE.gguf     (perplexity)
 *   node bench/llama_logits_node.mjs FOLDER/corpus.txt FILE.gguf 64       (logits)
 * (run from the folder holding node-llama-cpp). Kept below: the perplexity over 76 windows of 64
 * (2356 scored tokens, llama-perplexity's windowing) and the first 8 logits at positions 0, 1 and
 * 62 of window 0. Position 62 sees 16 keys on the sliding blocks (window 16) and all 63 on the
 * global ones, so it pins the sliding window, the per-block RoPE base (gemma3), the post norms,
 * GeGLU, the √n_embd embedding scale and the (1 + w) norms; a control run with the window
 * switched off must miss llama.cpp's logits there. (The window's last position is left out:
 * node-llama-cpp evaluates it apart, and its logits then differ from the batch's.)
 * The synthetic weights are small, so the next-token distributions are nearly flat and the
 * perplexity (about the vocabulary size) hardly depends on the arithmetic: the logits carry the
 * test. Their tolerance, 1e-3: llama.cpp keeps K and V in an F16 cache (relative 2^-11) and reads
 * GELU from an fp16 table; the largest distance seen over positions 0..62 was 2.3e-4 (gemma2) and
 * 7.3e-4 (gemma3, 7 blocks), against 4e-2 and more without the window. Perplexity: within 0.1%,
 * the verifier's tolerance against llama-perplexity for llama.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "model/tensor_f32.h"
#include "tokenizer/tokenize.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What llama.cpp printed for one model. */
struct llama_cpp_figures {
    const char *arch;
    const char *layers;
    bool rope_linear8;    /* config.json gets rope_scaling {linear, factor 8} (gemma3's 4B+ releases) */
    double ppl, ppl_stderr;
    float logits[3][8];   /* positions 0, 1, 62 of window 0, tokens 0..7 */
};

static const struct llama_cpp_figures gemma2_figures = {
    "gemma2", "2", false, 519.8812104493852, 1.7824796324529204,
    {{-0.122445f, 0.134202f, -0.103276f, -0.191186f, 0.024194f, -0.030609f, 0.033602f, 0.006133f},
     {0.035562f, 0.238687f, -0.213236f, -0.314176f, 0.016044f, -0.163263f, 0.155039f, -0.159114f},
     {0.098169f, -0.062392f, -0.017425f, -0.368913f, 0.324779f, -0.324877f, -0.103932f, -0.003690f}},
};

static const struct llama_cpp_figures gemma3_figures = {
    "gemma3", "7", false, 500.5270100516875, 1.77251915060721,
    {{-0.237979f, 0.201331f, 0.190435f, 0.292574f, 0.192905f, 0.130435f, 0.159305f, 0.186839f},
     {-0.150835f, 0.128732f, 0.240738f, 0.187309f, 0.064673f, 0.096311f, 0.197255f, 0.340420f},
     {0.166824f, -0.095293f, -0.108954f, -0.148502f, 0.034083f, -0.011625f, -0.282613f, 0.012462f}},
};

/* gemma3 with linear RoPE scaling, factor 8: llama.cpp applies it on the global blocks only (their
 * freq_scale 1/8; the sliding ones keep base 10000 unscaled). Logits only (its perplexity, like
 * the others', is near the vocabulary size); scaling moves them by up to 0.019 from the unscaled
 * model's. */
static const struct llama_cpp_figures gemma3_scaled_figures = {
    "gemma3", "7", true, 0, 0,
    {{-0.237979f, 0.201331f, 0.190435f, 0.292574f, 0.192905f, 0.130435f, 0.159305f, 0.186839f},
     {-0.150018f, 0.130154f, 0.240864f, 0.188476f, 0.065444f, 0.095221f, 0.195182f, 0.340080f},
     {0.156929f, -0.100333f, -0.111169f, -0.150813f, 0.040126f, -0.018433f, -0.282875f, 0.007328f}},
};

#define LOGIT_TOL 1e-3f

/* FOLDER = synth of f's architecture, FOLDER.gguf = its F32 conversion; returns FOLDER. */
static const char *synth_and_convert(const struct llama_cpp_figures *f, char *gguf, size_t size)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", test_tmp_dir(), f->arch);
    snprintf(gguf, size, "%s.gguf", dir);
    struct test_run r;
    const char *synth[] = {"synth", "--arch", f->arch, "-o", dir, "--dim", "64", "--layers", f->layers, "--heads", "4",
                           "--kv-heads", "2", "--ff", "128", "--ctx", "256", "--corpus-lines", "400", "--dtype", "f32",
                           NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    if (f->rope_linear8) {
        char path[4300];
        snprintf(path, sizeof path, "%s/config.json", dir);
        json_t *cfg = json_load_file(path, 0, NULL);
        cr_assert_not_null(cfg);
        json_object_set_new(cfg, "rope_scaling", json_pack("{s:s, s:f}", "rope_type", "linear", "factor", 8.0));
        cr_assert_eq(json_dump_file(cfg, path, 0), 0);
        json_decref(cfg);
    }
    const char *conv[] = {"convert", dir, "-o", gguf, "--type", "F32", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_assert_eq(r.exit_code, 0, "convert: %s", r.err);
    return dir;
}

/* The largest distance between ingot's logits at positions 0, 1, 62 of window 0 (the corpus
 * tokenized with BOS, as llama-perplexity does) and llama.cpp's; with no_window, the model runs
 * with its sliding window switched off (the control). */
static float logit_distance(const char *gguf, const char *corpus, const struct llama_cpp_figures *f, bool no_window)
{
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, gguf, NULL), 0, "%s", ig_error_message());
    if (no_window)
        src->hp.sliding_window = 0;
    struct model *m;
    struct model_ctx *c;
    cr_assert_eq(model_create(&m, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_ctx_create(&c, m, 64), 0);
    struct tokenizer *tok;
    cr_assert_eq(tokenizer_create(&tok, &src->vocab), 0, "%s", ig_error_message());
    size_t len;
    char *text = (char *)test_read_file(corpus, &len);
    cr_assert_not_null(text);
    int32_t *ids = NULL;
    int64_t n = tokenizer_encode(tok, text, len, 1, &ids);
    cr_assert_geq(n, 64);
    const int64_t nv = model_hparams(m)->n_vocab;
    float *logits = malloc(sizeof(float) * (size_t)(64 * nv));
    cr_assert_eq(model_forward(m, c, ids, 64, 0, logits), 0, "%s", ig_error_message());
    const int pos[3] = {0, 1, 62};
    float worst = 0;
    for (int p = 0; p < 3; p++)
        for (int v = 0; v < 8; v++)
            worst = fmaxf(worst, fabsf(logits[pos[p] * nv + v] - f->logits[p][v]));
    free(logits);
    free(ids);
    free(text);
    tokenizer_destroy(tok);
    model_ctx_destroy(c);
    model_destroy(m);
    model_src_close(src);
    return worst;
}

/* ingot verify's perplexity of the GGUF with the HF folder as the source. */
static void expect_ppl(const char *dir, const char *gguf, const char *corpus, const struct llama_cpp_figures *f)
{
    char json_path[4300];
    snprintf(json_path, sizeof json_path, "%s/%s-verify.json", test_tmp_dir(), f->arch);
    const char *argv[] = {"verify", gguf, "--source", dir, "--eval", corpus, "--ctx", "64", "--json-out", json_path,
                          "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    json_t *s = json_object_get(j, "source"), *a = json_array_get(json_object_get(j, "containers"), 0);
    test_expect_close(test_json_num(s, "ppl"), f->ppl, 0.001, "HF source PPL vs llama.cpp");
    test_expect_close(test_json_num(s, "ppl_stderr"), f->ppl_stderr, 0.01, "HF source PPL error vs llama.cpp");
    test_expect_close(test_json_num(a, "ppl"), f->ppl, 0.001, "F32 GGUF PPL vs llama.cpp");
    cr_expect_eq(test_json_num(s, "tokens"), 2356, "76 windows of 64, 31 scored each, as llama.cpp");
    json_decref(j);
}

static void check_against_llama_cpp(const struct llama_cpp_figures *f)
{
    char gguf[4300], corpus[4300];
    const char *dir = synth_and_convert(f, gguf, sizeof gguf);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    const float d = logit_distance(gguf, corpus, f, false);
    cr_expect_leq(d, LOGIT_TOL, "%s: logits differ from llama.cpp's by %g", f->arch, (double)d);
    const float ctl = logit_distance(gguf, corpus, f, true);
    cr_expect_gt(ctl, 10 * LOGIT_TOL, "%s control: without the window the logits still match (%g): the test "
                 "does not see the window", f->arch, (double)ctl);
    if (f->ppl > 0)
        expect_ppl(dir, gguf, corpus, f);
}

Test(model_gemma, gemma2_matches_llama_cpp, .timeout = 300)
{
    check_against_llama_cpp(&gemma2_figures);
}

Test(model_gemma, gemma3_matches_llama_cpp, .timeout = 300)
{
    check_against_llama_cpp(&gemma3_figures);
}

Test(model_gemma, gemma3_linear_rope_scaling_matches_llama_cpp, .timeout = 300)
{
    check_against_llama_cpp(&gemma3_scaled_figures);
}

/* GPTQ and AWQ through the block-by-block driver on gemma2: its groups are llama's (q/k/v after
 * attn_norm, o, gate/up after ffn_norm, down after GeGLU), and AWQ folds its scales into the
 * norms exactly, since ingot holds gemma's norms as GGUF stores them (1 + w already: dividing the
 * stored weight by s is all the fold needs) and into up's rows (GeGLU is linear in up). Both must
 * beat plain rounding (RTN, no calibration) in mean KLD from the F32 source on the corpus.
 * The RTN file (ingot's plain Q4_0 conversion) was also read by llama.cpp, with the F32 file as
 * the base (node bench/llama_ppl_node.mjs corpus.txt 64 1000 Q4_0.gguf F32.gguf): PPL
 * 519.2520206532213, mean KLD 0.0005675568624524483; ingot's verify must agree within the
 * verifier's tolerances for llama.cpp's quantized files (1% PPL, 5% mean KLD). */
#define LLAMA_CPP_Q4_0_PPL 519.2520206532213
#define LLAMA_CPP_Q4_0_KLD 0.0005675568624524483
Test(model_gemma, gptq_and_awq_beat_rtn_on_gemma2, .timeout = 600)
{
    char gguf[4300], corpus[4300], out[3][4300], json_path[4300];
    const char *dir = synth_and_convert(&gemma2_figures, gguf, sizeof gguf);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    const char *methods[3] = {"rtn", "gptq", "awq"};
    struct test_run r;
    for (int k = 0; k < 3; k++) {
        snprintf(out[k], sizeof out[k], "%s/g2-%s.gguf", test_tmp_dir(), methods[k]);
        const char *plain[] = {"convert", dir, "-o", out[k], "--type", "Q4_0", "-q", NULL};
        const char *calib[] = {"convert", dir, "-o", out[k], "--type", "Q4_0", "--method", methods[k], "--calib",
                               corpus, "--samples", "16", "--seq-len", "64", "-q", NULL};
        test_run_ingot(&r, k == 0 ? plain : calib);
        cr_assert_eq(r.exit_code, 0, "convert %s: %s", methods[k], r.err);
    }
    snprintf(json_path, sizeof json_path, "%s/calib-verify.json", test_tmp_dir());
    const char *verify[] = {"verify", out[0], out[1], out[2], "--source", gguf, "--eval", corpus, "--ctx", "64",
                            "--json-out", json_path, "-q", NULL};
    test_run_ingot(&r, verify);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    json_t *c = json_object_get(j, "containers");
    double kld[3];
    for (int k = 0; k < 3; k++)
        kld[k] = test_json_num(json_array_get(c, k), "kld_mean");
    cr_expect_gt(kld[0], 0.0, "RTN changes the model");
    test_expect_close(test_json_num(json_array_get(c, 0), "ppl"), LLAMA_CPP_Q4_0_PPL, 0.01, "Q4_0 PPL vs llama.cpp");
    test_expect_close(kld[0], LLAMA_CPP_Q4_0_KLD, 0.05, "Q4_0 mean KLD vs llama.cpp");
    cr_expect_lt(kld[1], kld[0], "GPTQ mean KLD %g, RTN %g", kld[1], kld[0]);
    cr_expect_lt(kld[2], kld[0], "AWQ mean KLD %g, RTN %g", kld[2], kld[0]);
    json_decref(j);
}

/* A window evaluated in pieces over key/value caches (the task scorer's shared prefixes) equals
 * the whole window bit for bit on gemma3 too, whose sliding blocks see keys by absolute position:
 * pieces [0, 9), [9, 30), [30, 40) cross the window of 16, on every block of the 7 (block 5 global). */
Test(model_gemma, gemma3_rows_over_a_cache_equal_the_whole_window, .timeout = 120)
{
    char gguf[4300];
    synth_and_convert(&gemma3_figures, gguf, sizeof gguf);
    struct model_src *src;
    struct model *m;
    cr_assert_eq(model_src_open(&src, gguf, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&m, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    const struct model_hparams *hp = model_hparams(m);
    const int64_t n = 40, d = hp->n_embd, kv = hp->n_head_kv * hp->head_dim, L = hp->n_layer;
    int32_t ids[40];
    for (int64_t t = 0; t < n; t++)
        ids[t] = (int32_t)(t == 0 ? 2 : 7 + (t * 37) % (hp->n_vocab - 7));
    struct model_ctx *c;
    cr_assert_eq(model_ctx_create(&c, m, n), 0);
    float *whole = malloc(sizeof(float) * (size_t)(n * d)), *part = malloc(sizeof(float) * (size_t)(n * d));
    float *K = malloc(sizeof(float) * (size_t)(L * n * kv)), *V = malloc(sizeof(float) * (size_t)(L * n * kv));
    cr_assert_eq(model_embed(m, ids, n, whole), 0);
    for (int64_t l = 0; l < L; l++)
        cr_assert_eq(model_block_forward(m, c, l, whole, n), 0, "%s", ig_error_message());
    const int64_t cut[4] = {0, 9, 30, 40};
    for (int p = 0; p < 3; p++) {
        float *xp = part + cut[p] * d;
        cr_assert_eq(model_embed(m, ids + cut[p], cut[p + 1] - cut[p], xp), 0);
        for (int64_t l = 0; l < L; l++)
            cr_assert_eq(model_block_forward_rows(m, c, l, xp, cut[p + 1] - cut[p], cut[p], K + l * n * kv,
                                                  V + l * n * kv),
                         0, "%s", ig_error_message());
    }
    cr_expect(memcmp(whole, part, sizeof(float) * (size_t)(n * d)) == 0, "pieces differ from the whole window");
    free(whole);
    free(part);
    free(K);
    free(V);
    model_ctx_destroy(c);
    model_destroy(m);
    model_src_close(src);
}

/* ---- Gemma3ForConditionalGeneration ------------------------------------------------------------ */

/* Rewrite the synthetic gemma3 folder src as a multimodal checkpoint in dst, as transformers saves
 * Gemma3ForConditionalGeneration: the language model's keys under text_config (those equal to
 * Gemma3TextConfig's defaults left out), its tensors under "language_model.model.", a vision tensor
 * the text model must skip, and 64 embedding rows past the tokenizer's 511 tokens (vocab_size 575),
 * which llama.cpp's converter drops. */
static void make_multimodal(const char *src, const char *dst)
{
    char path[4600];
    cr_assert(mkdir(dst, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/config.json", src);
    json_t *cfg = json_load_file(path, 0, NULL);
    cr_assert_not_null(cfg);
    json_object_del(cfg, "architectures");
    json_object_del(cfg, "model_type");
    json_object_set_new(cfg, "model_type", json_string("gemma3_text"));
    json_object_set_new(cfg, "vocab_size", json_integer(575));
    json_object_del(cfg, "rms_norm_eps");   /* Gemma3TextConfig's default, 1e-6 */
    json_object_del(cfg, "rope_theta");     /* its default, 1e6: the synthetic model's too */
    json_t *top = json_pack("{s:[s], s:s, s:o, s:{s:s}}", "architectures", "Gemma3ForConditionalGeneration",
                            "model_type", "gemma3", "text_config", cfg, "vision_config", "model_type", "siglip");
    snprintf(path, sizeof path, "%s/config.json", dst);
    cr_assert_eq(json_dump_file(top, path, 0), 0);
    json_decref(top);
    const char *copies[] = {"tokenizer.model", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        size_t n;
        snprintf(path, sizeof path, "%s/%s", src, copies[i]);
        uint8_t *b = test_read_file(path, &n);
        cr_assert_not_null(b);
        snprintf(path, sizeof path, "%s/%s", dst, copies[i]);
        cr_assert_eq(test_write_file(path, b, n), 0);
        free(b);
    }
    /* the safetensors: every tensor renamed, the embedding grown, one vision tensor added */
    size_t size;
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    uint8_t *b = test_read_file(path, &size);
    cr_assert_not_null(b);
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    json_t *h = json_loadb((const char *)b + 8, (size_t)hlen, 0, NULL), *nh = json_object();
    const uint8_t *data = b + 8 + hlen;
    uint8_t *out = calloc(1, size + (1u << 20));   /* room for the 64 rows and the vision tensor */
    uint64_t off = 0;
    const char *key;
    json_t *v;
    json_object_foreach(h, key, v) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        json_t *offs = json_object_get(v, "data_offsets"), *shape = json_deep_copy(json_object_get(v, "shape"));
        const uint64_t a = (uint64_t)json_integer_value(json_array_get(offs, 0)),
                       e = (uint64_t)json_integer_value(json_array_get(offs, 1));
        memcpy(out + off, data + a, e - a);
        uint64_t n = e - a;
        if (strcmp(key, "model.embed_tokens.weight") == 0) {   /* 64 more rows of 0.5 */
            const int64_t cols = json_integer_value(json_array_get(shape, 1));
            for (int64_t k = 0; k < 64 * cols; k++)
                memcpy(out + off + n + 4 * (uint64_t)k, &(float){0.5f}, 4);
            n += (uint64_t)(64 * cols) * 4;
            json_array_set_new(shape, 0, json_integer(json_integer_value(json_array_get(shape, 0)) + 64));
        }
        char name[256];
        snprintf(name, sizeof name, "language_model.%s", key);
        json_object_set_new(nh, name, json_pack("{s:O, s:o, s:[I, I]}", "dtype", json_object_get(v, "dtype"), "shape",
                                                shape, "data_offsets", (json_int_t)off, (json_int_t)(off + n)));
        off += n;
    }
    json_object_set_new(nh, "vision_tower.vision_model.post_layernorm.weight",
                        json_pack("{s:s, s:[i], s:[I, I]}", "dtype", "F32", "shape", 4, "data_offsets", (json_int_t)off,
                                  (json_int_t)(off + 16)));
    off += 16;
    char *text = json_dumps(nh, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t tl = strlen(text), padded = (tl + 7) / 8 * 8;
    uint8_t *file = malloc(8 + padded + off);
    memcpy(file, &padded, 8);
    memcpy(file + 8, text, tl);
    memset(file + 8 + tl, ' ', padded - tl);
    memcpy(file + 8 + padded, out, off);
    snprintf(path, sizeof path, "%s/model.safetensors", dst);
    cr_assert_eq(test_write_file(path, file, 8 + padded + off), 0);
    free(file);
    free(text);
    free(out);
    json_decref(h);
    json_decref(nh);
    free(b);
}

/* The multimodal checkpoint's language model is the text-only one: same logits, bit for bit, and
 * its conversion has the tokenizer's 511 embedding rows, not 575. */
Test(model_gemma, gemma3_multimodal_checkpoint_converts_its_language_model, .timeout = 120)
{
    char gguf[4300], mm[4300], mm_gguf[4400];
    const char *dir = synth_and_convert(&gemma3_figures, gguf, sizeof gguf);
    snprintf(mm, sizeof mm, "%s/gemma3-mm", test_tmp_dir());
    make_multimodal(dir, mm);
    snprintf(mm_gguf, sizeof mm_gguf, "%s.gguf", mm);
    struct test_run r;
    const char *conv[] = {"convert", mm, "-o", mm_gguf, "--type", "F32", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_assert_eq(r.exit_code, 0, "convert: %s", r.err);
    struct model_src *a, *b;
    cr_assert_eq(model_src_open(&a, gguf, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_src_open(&b, mm_gguf, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(b->hp.n_vocab, 511);
    cr_expect_eq(model_src_find(b, "token_embd.weight")->ne[1], 511, "rows past the tokenizer are dropped");
    cr_expect_eq(a->n_tensors, b->n_tensors, "no vision tensor, no output.weight");
    cr_expect_eq(b->hp.rope_theta, 1e6f);
    cr_expect_eq(b->hp.rms_eps, 1e-6f);
    for (int64_t i = 0; i < a->n_tensors; i++) {
        const struct src_tensor *ta = &a->tensors[i], *tb = model_src_find(b, ta->name);
        cr_assert_not_null(tb, "%s missing", ta->name);
        cr_expect(ta->size_bytes == tb->size_bytes && memcmp(ta->data, tb->data, ta->size_bytes) == 0,
                  "%s differs", ta->name);
    }
    model_src_close(a);
    model_src_close(b);
}
