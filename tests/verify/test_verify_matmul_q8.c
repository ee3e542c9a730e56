/* test_verify_matmul_q8.c — `ingot verify --matmul q8`: llama.cpp's integer arithmetic for
 * quantized weights (kernels/cpu/q8_dot.h).
 *
 * Golden figures: ../shared/data/peers/README.md, llama-perplexity -c 256 on tl3m's
 * split_eval_ts.txt with the F32 base: tl3m-Q4_K_M.gguf PPL 11.961380, mean KLD 0.002627;
 * tl3m-Q4_0.gguf 11.975426 / 0.003723; tl3m-Q8_0.gguf 11.926332 / 0.000067. With q8 the
 * Q4_K_M file's PPL and KLD, and the other two's KLD, must be at least as close to those as the
 * fp32 mode's (measured 2026-12-06, fp32 -> q8: Q4_K_M 11.959602 / 0.002518 -> 11.961451 /
 * 0.002625; Q4_0 11.975759 / 0.003684 -> 11.974417 / 0.003721, its PPL a little farther;
 * Q8_0 11.925244 / 0.000021 -> 11.925602 / 0.000067).
 * The bits must not depend on the thread count nor on how many windows go through the blocks
 * together (--mem-budget), and q8 with --no-stream is refused (nothing packed to multiply).
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED(var, rel)                                                                           \
    char var##_buf[4096];                                                                          \
    const char *var = test_shared_path(rel);                                                       \
    if (!var)                                                                                      \
        cr_skip_test("../shared/data is missing");                                                 \
    snprintf(var##_buf, sizeof var##_buf, "%s", var);                                              \
    var = var##_buf

/* Run verify with --json-out and the tail; returns the document (asserts exit 0). */
static json_t *verify_json(const char *const *tail, struct test_run *r)
{
    static char json_path[4200];
    snprintf(json_path, sizeof json_path, "%s/v.json", test_tmp_dir());
    const char *argv[40] = {"verify", "--json-out", json_path, "-q"};
    int n = 4;
    for (int i = 0; tail[i]; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    test_run_ingot(r, argv);
    cr_assert_eq(r->exit_code, 0, "verify failed: %s", r->err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    return j;
}

static json_t *container(json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "containers"), i);
}

Test(verify_matmul_q8, tl3m_files_are_at_least_as_close_to_llama_perplexity, .timeout = 900)
{
    SHARED(src, "tl3m");
    SHARED(text, "tl3m/split_eval_ts.txt");
    SHARED(q4km, "peers/tl3m/tl3m-Q4_K_M.gguf");
    SHARED(q40, "peers/tl3m/tl3m-Q4_0.gguf");
    SHARED(q80, "peers/tl3m/tl3m-Q8_0.gguf");
    const double want_ppl = 11.961380, want_kld = 0.002627;
    struct test_run r;
    const char *fp32_tail[] = {q4km, q40, q80, "--source", src, "--eval", text, "--ctx", "256", NULL};
    json_t *f = verify_json(fp32_tail, &r);
    const char *q8_tail[] = {q4km, q40, q80, "--source", src, "--eval", text, "--ctx", "256", "--matmul", "q8", NULL};
    json_t *q = verify_json(q8_tail, &r);
    const double f_ppl = test_json_num(container(f, 0), "ppl"), q_ppl = test_json_num(container(q, 0), "ppl");
    const double f_kld = test_json_num(container(f, 0), "kld_mean"), q_kld = test_json_num(container(q, 0), "kld_mean");
    cr_expect_leq(fabs(q_ppl - want_ppl), fabs(f_ppl - want_ppl), "PPL: q8 %.6f, fp32 %.6f, llama.cpp %.6f", q_ppl,
                  f_ppl, want_ppl);
    cr_expect_leq(fabs(q_kld - want_kld), fabs(f_kld - want_kld), "KLD: q8 %.6f, fp32 %.6f, llama.cpp %.6f", q_kld,
                  f_kld, want_kld);
    /* and close in absolute terms: a summation order apart, not a rounding rule apart */
    test_expect_close(q_ppl, want_ppl, 2e-5, "q8 PPL");
    test_expect_close(q_kld, want_kld, 0.01, "q8 mean KLD");
    /* the 32-element types (Q8_0 activations): the KLD, which is where the arithmetic shows */
    const double want_klds[] = {0.003723, 0.000067};
    for (size_t i = 1; i <= 2; i++) {
        const double fk = test_json_num(container(f, i), "kld_mean"), qk = test_json_num(container(q, i), "kld_mean");
        cr_expect_leq(fabs(qk - want_klds[i - 1]), fabs(fk - want_klds[i - 1]),
                      "%s KLD: q8 %.6f, fp32 %.6f, llama.cpp %.6f", i == 1 ? "Q4_0" : "Q8_0", qk, fk,
                      want_klds[i - 1]);
    }
    /* the source (F32 safetensors) is not touched by the mode */
    cr_expect_eq(test_json_num(json_object_get(f, "source"), "ppl"),
                 test_json_num(json_object_get(q, "source"), "ppl"));
    json_decref(f);
    json_decref(q);
}

Test(verify_matmul_q8, bits_do_not_depend_on_threads_or_window_batch, .timeout = 300)
{
    SHARED(f16, "peers/tl3m/tl3m-F16.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    SHARED(q4km, "peers/tl3m/tl3m-Q4_K_M.gguf");
    struct test_run r;
    /* one batch of 6 windows on 1 thread; batches of about 1 window (a tiny budget) on 3 */
    const char *a_tail[] = {q4km, "--source", f16, "--eval", text, "--ctx", "256", "--chunks", "6", "--matmul", "q8",
                            "--threads", "1", NULL};
    const char *b_tail[] = {q4km, "--source", f16, "--eval", text, "--ctx", "256", "--chunks", "6", "--matmul", "q8",
                            "--threads", "3", "--mem-budget", "1M", NULL};
    json_t *a = verify_json(a_tail, &r), *b = verify_json(b_tail, &r);
    cr_expect_neq(test_json_num(a, "window_batch"), test_json_num(b, "window_batch"), "two window batchings");
    const char *keys[] = {"ppl", "kld_mean", "kld_max", "kld_p99", "same_top_pct", "dp_rms"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const double x = test_json_num(container(a, 0), keys[k]), y = test_json_num(container(b, 0), keys[k]);
        cr_expect(memcmp(&x, &y, sizeof x) == 0, "%s: %.17g on 1 thread, %.17g on 3", keys[k], x, y);
    }
    json_decref(a);
    json_decref(b);
}

Test(verify_matmul_q8, reports_the_mode_per_type, .timeout = 300)
{
    SHARED(f16, "peers/tl3m/tl3m-F16.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    SHARED(q4km, "peers/tl3m/tl3m-Q4_K_M.gguf");
    struct test_run r;
    const char *tail[] = {q4km, "--source", f16, "--eval", text, "--ctx", "256", "--chunks", "2", "--matmul", "q8",
                          NULL};
    json_t *j = verify_json(tail, &r);
    json_t *mm = json_object_get(j, "matmul"), *types = json_object_get(mm, "types");
    cr_assert_not_null(types, "no \"matmul\".types in the JSON");
    cr_expect_str_eq(json_string_value(json_object_get(mm, "mode")), "q8");
    cr_expect_str_eq(json_string_value(json_object_get(types, "Q4_K")), "q8");
    cr_expect_str_eq(json_string_value(json_object_get(types, "Q6_K")), "q8");
    cr_expect_str_eq(json_string_value(json_object_get(types, "F16")), "fp32");
    cr_expect(strstr(r.err, "--matmul q8") && strstr(r.err, "F16 in fp32"), "the note on stderr: %s", r.err);
    json_decref(j);
    /* the default says fp32 for every type, and prints no note */
    const char *tail_fp32[] = {q4km, "--source", f16, "--eval", text, "--ctx", "256", "--chunks", "2", NULL};
    j = verify_json(tail_fp32, &r);
    mm = json_object_get(j, "matmul");
    cr_expect_str_eq(json_string_value(json_object_get(mm, "mode")), "fp32");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(mm, "types"), "Q4_K")), "fp32");
    cr_expect_null(strstr(r.err, "--matmul q8"), "%s", r.err);
    json_decref(j);
}

Test(verify_matmul_q8, refuses_no_stream_and_unknown_modes)
{
    SHARED(f16, "peers/tl3m/tl3m-F16.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    struct test_run r;
    const char *a[] = {"verify", "--source", f16, "--eval", text, "--matmul", "q8", "--no-stream", NULL};
    test_run_ingot(&r, a);
    cr_expect_eq(r.exit_code, 2, "q8 with --no-stream: exit %d", r.exit_code);
    cr_expect(strstr(r.err, "--no-stream") && strstr(r.err, "--matmul q8"), "%s", r.err);
    const char *b[] = {"verify", "--source", f16, "--eval", text, "--matmul", "int8", NULL};
    test_run_ingot(&r, b);
    cr_expect_eq(r.exit_code, 2, "--matmul int8: exit %d", r.exit_code);
    cr_expect(strstr(r.err, "'int8'") && strstr(r.err, "fp32 or q8"), "%s", r.err);
}
