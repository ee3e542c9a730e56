/* test_reliability.c — values and inputs that used to pass without a word.
 *
 * Each test reproduces one hole of the reliability report on a seeded `ingot synth` model
 * (F32 safetensors, one block) with a value poked into it, and checks the refusal: exit 2,
 * a message naming the file or tensor, row and value, and nothing at OUT.
 *   - NaN/Inf in a tensor copied to an F32/F16 output; a finite F32 beyond F16's range.
 *   - NaN/Inf in a source or container that verify reads; logits that overflow.
 *   - a binary file as --calib or --eval text; --seq-len above the training context.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------ */

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* convert model --type type into a fresh folder; *out_dir gets the folder */
static void convert(struct test_run *r, const char *model, const char *type, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s/o.gguf", test_tmp_dir());
    const char *argv[] = {"convert", model, "-o", out, "--type", type, "-q", NULL};
    test_run_ingot(r, argv);
}

static void expect_refused(const struct test_run *r, const char *out, const char *const *needles)
{
    cr_expect_eq(r->exit_code, 2, "%s", r->err);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(r->err, needles[i]), "'%s' in: %s", needles[i], r->err);
    cr_expect_not(exists(out), "a file at OUT");
}

/* ---- convert: non-finite and out-of-range values into float outputs ---------------------------- */

Test(reliability, inf_in_the_embedding_copied_to_f32_is_refused, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.embed_tokens.weight", 7, 11, 1, INFINITY);
    struct test_run r;
    char out[4300];
    convert(&r, model, "F32", out, sizeof out);
    const char *needles[] = {"tensor 'token_embd.weight'", "row 7: element 11 is +Inf", NULL};
    expect_refused(&r, out, needles);
}

Test(reliability, nan_in_a_norm_weight_into_an_f16_file_is_refused, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.layers.0.input_layernorm.weight", 0, 5, 1, NAN);
    struct test_run r;
    char out[4300];
    convert(&r, model, "F16", out, sizeof out);
    const char *needles[] = {"tensor 'blk.0.attn_norm.weight'", "row 0: element 5 is NaN", NULL};
    expect_refused(&r, out, needles);
}

Test(reliability, finite_f32_beyond_f16_range_is_refused_not_made_inf, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.layers.0.mlp.down_proj.weight", 5, 3, 1, 3e38f);
    struct test_run r;
    char out[4300];
    convert(&r, model, "F16", out, sizeof out);
    const char *needles[] = {"tensor 'blk.0.ffn_down.weight'", "row 5: element 3 = 3e+38 overflows F16",
                             "largest finite: 65504", NULL};
    expect_refused(&r, out, needles);
    convert(&r, model, "BF16", out, sizeof out);   /* 3e38 is inside BF16's range */
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
}

/* ---- verify: non-finite weights and logits --------------------------------------------------- */

static void verify(struct test_run *r, const char *container, const char *model)
{
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    const char *argv[] = {"verify", container ? container : "--quiet", "--source", model, "--eval", corpus,
                          "--ctx", "64", "--chunks", "2", "-q", NULL};
    test_run_ingot(r, argv);
}

Test(reliability, verify_refuses_a_source_with_a_nan_weight, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.norm.weight", 0, 9, 1, NAN);
    struct test_run r;
    verify(&r, NULL, model);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "model.safetensors: tensor 'output_norm.weight': row 0: element 9 is NaN"), "%s", r.err);
    cr_expect_null(strstr(r.out, "nan"), "%s", r.out);
}

Test(reliability, verify_refuses_a_container_with_an_inf_weight, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    struct test_run r;
    char out[4300];
    convert(&r, model, "F32", out, sizeof out);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* output_norm.weight of the F32 file: find its offset in the tensor table */
    const char *ia[] = {"inspect", "--json", out, NULL};
    test_run_ingot(&r, ia);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j);
    size_t size;
    uint8_t *b = test_read_file(out, &size);
    cr_assert_not_null(b);
    json_t *ts = json_object_get(j, "tensors");
    uint64_t data_start = 0, off = 0;
    for (size_t i = 0; i < json_array_size(ts); i++) {
        json_t *t = json_array_get(ts, i);
        uint64_t end = (uint64_t)json_integer_value(json_object_get(t, "offset")) +
                       (uint64_t)json_integer_value(json_object_get(t, "bytes"));
        if (end > data_start)
            data_start = end;   /* the largest end, then the data section is the file's tail */
        if (strcmp(json_string_value(json_object_get(t, "name")), "output_norm.weight") == 0)
            off = (uint64_t)json_integer_value(json_object_get(t, "offset"));
    }
    data_start = (uint64_t)size - ((data_start + 31) / 32 * 32);
    float inf = -INFINITY;
    memcpy(b + data_start + off + 4 * 2, &inf, 4);
    cr_assert_eq(test_write_file(out, b, size), 0);
    free(b);
    json_decref(j);
    verify(&r, out, model);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "tensor 'output_norm.weight': row 0: element 2 is -Inf") && strstr(r.err, "o.gguf"), "%s",
              r.err);
}

Test(reliability, verify_refuses_logits_that_overflow, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    /* a finite lm_head row of 3e38: its logit is ±Inf for any input */
    test_set_f32(model, "lm_head.weight", 10, 0, 256, 3e38f);
    struct test_run r;
    verify(&r, NULL, model);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "the source gives a logit of") && strstr(r.err, "token id 10"), "%s", r.err);
    cr_expect_null(strstr(r.out, "nan"), "%s", r.out);
}

/* ---- text inputs ------------------------------------------------------------------------------ */

Test(reliability, a_binary_file_as_calib_or_eval_text_is_refused, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    const char *elf = getenv("INGOT_BIN");
    cr_assert_not_null(elf);
    char out[4300];
    snprintf(out, sizeof out, "%s/o.gguf", test_tmp_dir());
    struct test_run r;
    const char *a1[] = {"convert", model, "-o", out, "--type", "Q4_0", "--method", "gptq", "--calib", elf, "-q", NULL};
    test_run_ingot(&r, a1);
    const char *needles[] = {elf, "is NUL: this is not a text file", NULL};
    expect_refused(&r, out, needles);
    const char *a2[] = {"verify", "--source", model, "--eval", elf, "-q", NULL};
    test_run_ingot(&r, a2);
    expect_refused(&r, out, needles);
    /* no NUL, but random bytes: mostly invalid UTF-8 */
    char rnd[4300];
    snprintf(rnd, sizeof rnd, "%s/random.txt", test_tmp_dir());
    uint8_t bytes[8192];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof bytes; i++) {
        s = s * 1103515245u + 12345u;
        bytes[i] = (uint8_t)((s >> 16) % 255 + 1);
    }
    cr_assert_eq(test_write_file(rnd, bytes, sizeof bytes), 0);
    const char *a3[] = {"imatrix", model, "--calib", rnd, "-o", out, "-q", NULL};
    test_run_ingot(&r, a3);
    const char *needles3[] = {rnd, "not UTF-8 text", "are not valid UTF-8 (allowed: 10%), the first at byte", NULL};
    expect_refused(&r, out, needles3);
}

Test(reliability, seq_len_above_the_training_context_warns, .timeout = 180)
{
    const char *model = test_synth_f32_model("64");
    char corpus[4300], out[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    snprintf(out, sizeof out, "%s/o.gguf", test_tmp_dir());
    struct test_run r;
    const char *argv[] = {"convert", model, "-o", out, "--type", "Q4_0", "--method", "rtn", "--calib", corpus,
                          "--samples", "2", "--seq-len", "128", "-q", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning: --seq-len 128 is above") && strstr(r.err, "training context of 64 tokens"), "%s",
              r.err);
}

/* ---- calibration: the failing tensor is named ------------------------------------------------- */

/* A gate_proj row of 3e38 makes ffn_down's input Inf/NaN: GPTQ's Cholesky and AWQ's scale
 * search fail there, and the message names the tensor, not only the Hessian or a channel. */
Test(reliability, gptq_and_awq_failures_name_the_tensor, .timeout = 180)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.layers.0.mlp.gate_proj.weight", 10, 0, 256, 3e38f);
    char corpus[4300], out[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    snprintf(out, sizeof out, "%s/o.gguf", test_tmp_dir());
    const char *methods[] = {"gptq", "awq"};
    const char *says[] = {"gptq: the Hessian is not positive definite", "awq_search_scale: input channel"};
    for (int k = 0; k < 2; k++) {
        struct test_run r;
        const char *argv[] = {"convert", model, "-o", out, "--type", "Q4_0", "--method", methods[k], "--calib", corpus,
                              "--samples", "4", "--seq-len", "32", "-q", NULL};
        test_run_ingot(&r, argv);
        const char *needles[] = {"tensor 'blk.0.ffn_down.weight': ", says[k], NULL};
        expect_refused(&r, out, needles);
    }
}
