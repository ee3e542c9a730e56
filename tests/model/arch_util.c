/* arch_util.c — see arch_util.h. */
#include "arch_util.h"

#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "model/tensor_f32.h"
#include "tokenizer/tokenize.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *arch_synth_and_convert(const char *name, const char *const *synth_args, const char *const *types,
                                   const char *const *files, int n)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", test_tmp_dir(), name);
    const char *argv[64];
    int k = 0;
    argv[k++] = "synth";
    for (int i = 0; synth_args[i]; i++) {
        cr_assert_lt(k, 60, "too many synth arguments");
        argv[k++] = synth_args[i];
    }
    argv[k++] = "-o";
    argv[k++] = dir;
    argv[k] = NULL;
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    for (int i = 0; i < n; i++) {
        char out[4300];
        snprintf(out, sizeof out, "%s/%s", dir, files[i]);
        const char *conv[] = {"convert", dir, "-o", out, "--type", types[i], "-q", NULL};
        test_run_ingot(&r, conv);
        cr_assert_eq(r.exit_code, 0, "convert %s: %s", types[i], r.err);
    }
    return dir;
}

int32_t *arch_corpus_ids(const char *dir, int64_t *n)
{
    char path[4300];
    size_t size;
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    char *text = (char *)test_read_file(path, &size);
    cr_assert_not_null(text, "%s", path);
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    struct tokenizer *t;
    int32_t *ids = NULL;
    cr_assert_eq(tokenizer_create(&t, &src->vocab), 0, "%s", ig_error_message());
    *n = tokenizer_encode(t, text, size, 1, &ids);
    cr_assert_geq(*n, 64, "corpus.txt gives %lld tokens, fewer than one window of 64", (long long)*n);
    free(text);
    tokenizer_destroy(t);
    model_src_close(src);
    return ids;
}

void arch_expect_logits(const char *dir, const int32_t *ids, const struct arch_logits *want, size_t n_want, float tol)
{
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    struct model *m;
    struct model_ctx *c;
    cr_assert_eq(model_create(&m, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_ctx_create(&c, m, 64), 0);
    const int64_t nv = src->hp.n_vocab;
    float *logits = malloc(sizeof(float) * (size_t)(64 * nv));
    cr_assert_not_null(logits);
    cr_assert_eq(model_forward(m, c, ids, 64, 0, logits), 0, "%s", ig_error_message());
    for (size_t k = 0; k < n_want; k++)
        for (int v = 0; v < 8; v++) {
            float got = logits[want[k].pos * nv + v], w = want[k].logits[v];
            cr_expect(fabsf(got - w) <= tol, "position %d logit %d: %.8f, llama.cpp %.8f", want[k].pos, v, (double)got,
                      (double)w);
        }
    free(logits);
    model_ctx_destroy(c);
    model_destroy(m);
    model_src_close(src);
}

void arch_expect_bos_window(const char *dir, const int32_t first_ids[8], const struct arch_logits *want, size_t n_want,
                            float tol)
{
    int64_t n;
    int32_t *ids = arch_corpus_ids(dir, &n);
    cr_expect_eq(ids[0], 1, "BOS first");
    for (int i = 0; i < 8; i++)
        cr_expect_eq(ids[i + 1], first_ids[i], "token %d: %d, llama.cpp %d", i, ids[i + 1], first_ids[i]);
    arch_expect_logits(dir, ids, want, n_want, tol);
    free(ids);
}

/* Runs ingot with argv (whose --json-out is json_path), expects exit 0 and returns the JSON. */
static json_t *verify_json(const char *const *argv, const char *json_path)
{
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    return j;
}

void arch_expect_verify(const char *dir, const char *ctx, const char *f32, double ppl, double ppl_stderr,
                        const struct arch_quant_golden *q, size_t n_q)
{
    char paths[8][4300], text[4300], json_path[4300], what[3][64];
    const char *argv[32];
    size_t k = 0;
    cr_assert_leq(n_q, 7);
    argv[k++] = "verify";
    snprintf(paths[0], sizeof paths[0], "%s/%s", dir, f32);
    argv[k++] = paths[0];
    for (size_t i = 0; i < n_q; i++) {
        snprintf(paths[i + 1], sizeof paths[i + 1], "%s/%s", dir, q[i].file);
        argv[k++] = paths[i + 1];
    }
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(json_path, sizeof json_path, "%s/v%s.json", dir, ctx);
    const char *rest[] = {"--source", dir, "--eval", text, "--ctx", ctx, "--threads", "2", "--json-out", json_path, "-q",
                          NULL};
    for (size_t i = 0; rest[i]; i++)
        argv[k++] = rest[i];
    argv[k] = NULL;
    json_t *j = verify_json(argv, json_path);
    json_t *s = json_object_get(j, "source"), *c = json_object_get(j, "containers");
    test_expect_close(test_json_num(s, "ppl"), ppl, 0.001, "HF source PPL");
    test_expect_close(test_json_num(s, "ppl_stderr"), ppl_stderr, 0.01, "HF source PPL error");
    cr_assert_eq(json_array_size(c), n_q + 1);
    json_t *a = json_array_get(c, 0);
    test_expect_close(test_json_num(a, "ppl"), ppl, 0.001, "F32 GGUF PPL");
    cr_expect_lt(test_json_num(a, "kld_mean"), 1e-9, "the F32 conversion is the source");
    for (size_t i = 0; i < n_q; i++) {
        json_t *b = json_array_get(c, i + 1);
        snprintf(what[0], sizeof what[0], "%s PPL", q[i].type);
        snprintf(what[1], sizeof what[1], "%s mean KLD", q[i].type);
        snprintf(what[2], sizeof what[2], "%s same top", q[i].type);
        test_expect_close(test_json_num(b, "ppl"), q[i].ppl, 0.01, what[0]);
        test_expect_close(test_json_num(b, "kld_mean"), q[i].kld_mean, 0.05, what[1]);
        if (q[i].same_top_pct > 0)
            test_expect_close(test_json_num(b, "same_top_pct"), q[i].same_top_pct, 0.01, what[2]);
    }
    json_decref(j);
}

void arch_expect_calibrated_beat_rtn(const char *dir, const char *rtn_file)
{
    char text[4300], json_path[4300], out[3][4300];
    const char *methods[] = {"rtn", "gptq", "awq"};
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(json_path, sizeof json_path, "%s/v.json", dir);
    struct test_run r;
    for (int i = 0; i < 3; i++) {
        snprintf(out[i], sizeof out[i], "%s/%s.gguf", dir, methods[i]);
        if (i == 0 && rtn_file) {
            snprintf(out[0], sizeof out[0], "%s", rtn_file);
            continue;
        }
        const char *argv[] = {"convert", dir, "-o", out[i], "--method", methods[i], "--type", "Q4_0", "--calib", text,
                              "--samples", "8", "--seq-len", "64", "-q", NULL};
        test_run_ingot(&r, argv);
        cr_assert_eq(r.exit_code, 0, "convert --method %s: %s", methods[i], r.err);
    }
    const char *argv[] = {"verify", out[0], out[1], out[2], "--source", dir, "--eval", text, "--ctx", "64",
                          "--threads", "2", "--json-out", json_path, "-q", NULL};
    json_t *j = verify_json(argv, json_path);
    json_t *c = json_object_get(j, "containers");
    double kld[3];
    for (int i = 0; i < 3; i++)
        kld[i] = test_json_num(json_array_get(c, (size_t)i), "kld_mean");
    cr_expect_lt(kld[1], kld[0], "GPTQ mean KLD %g, RTN %g", kld[1], kld[0]);
    cr_expect_lt(kld[2], kld[0], "AWQ mean KLD %g, RTN %g", kld[2], kld[0]);
    json_decref(j);
}
