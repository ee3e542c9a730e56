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
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    json_t *c = json_object_get(j, "containers");
    double kld[3];
    for (int i = 0; i < 3; i++)
        kld[i] = test_json_num(json_array_get(c, (size_t)i), "kld_mean");
    cr_expect_lt(kld[1], kld[0], "GPTQ mean KLD %g, RTN %g", kld[1], kld[0]);
    cr_expect_lt(kld[2], kld[0], "AWQ mean KLD %g, RTN %g", kld[2], kld[0]);
    json_decref(j);
}
