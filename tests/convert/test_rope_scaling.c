/* test_rope_scaling.c — rope_scaling from config.json, as llama.cpp's converter and
 * forward pass treat it.
 *
 * "llama3" (Llama 3.1) becomes a rope_freqs.weight F32 tensor [head_dim/2], first in the
 * file, and no rope.scaling.* key (convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors);
 * its values are checked against the converter's formula in double. A scaling the forward
 * pass does not compute is refused by verify, imatrix and calibrated convert.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A one-block F32 llama model (head_dim 64, rope base 10000, context 64) whose config.json
 * gets rope_scaling (JSON text) and, when top_orig > 0, a top-level
 * original_max_position_embeddings. */
static const char *scaled_model(const char *rope_scaling, int top_orig)
{
    const char *d = test_synth_f32_model("64");
    char path[4300];
    snprintf(path, sizeof path, "%s/config.json", d);
    json_t *c = json_load_file(path, 0, NULL);
    cr_assert_not_null(c);
    if (rope_scaling)
        json_object_set_new(c, "rope_scaling", json_loads(rope_scaling, 0, NULL));
    if (top_orig > 0)
        json_object_set_new(c, "original_max_position_embeddings", json_integer(top_orig));
    cr_assert_eq(json_dump_file(c, path, JSON_INDENT(1)), 0);
    json_decref(c);
    return d;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* llama.cpp's converter, in double: the divisor of rotated pair i */
static double llama3_factor(int i, int dim, double base, double factor, double low, double high, double old_ctx)
{
    double freq = 1.0 / pow(base, 2.0 * i / dim), wavelen = 2 * M_PI / freq;
    if (wavelen < old_ctx / high)
        return 1.0;
    if (wavelen > old_ctx / low)
        return factor;
    double s = (old_ctx / wavelen - low) / (high - low);
    return 1.0 / ((1 - s) / factor + s);
}

Test(rope_scaling, llama3_becomes_rope_freqs_weight_and_no_scaling_key, .timeout = 120)
{
    const char *model = scaled_model("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
                                     "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}",
                                     0);
    char out[4300];
    snprintf(out, sizeof out, "%s/o.gguf", test_tmp_dir());
    struct test_run r;
    /* Q4_0: llama-quantize's order (non-block tensors by name), the tensor kept F32 */
    const char *a0[] = {"convert", model, "-o", out, "--type", "Q4_0", "-q", NULL};
    test_run_ingot(&r, a0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a00[] = {"inspect", out, NULL};
    test_run_ingot(&r, a00);
    cr_expect(strstr(r.out, "rope_freqs.weight                  F32     32 "), "%s", r.out);
    /* F16: the converter's order, rope_freqs.weight first */
    const char *a1[] = {"convert", model, "-o", out, "--type", "F16", "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a2[] = {"inspect", "--json", out, NULL};
    test_run_ingot(&r, a2);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    json_t *meta = json_object_get(j, "metadata");
    cr_expect_null(json_object_get(meta, "llama.rope.scaling.type"), "llama.cpp's converter writes no type");
    cr_expect_null(json_object_get(meta, "llama.rope.scaling.factor"));
    json_t *ts = json_object_get(j, "tensors"), *t0 = json_array_get(ts, 0);
    cr_assert_str_eq(json_string_value(json_object_get(t0, "name")), "rope_freqs.weight", "first, as llama.cpp yields it");
    cr_expect_str_eq(json_string_value(json_object_get(t0, "type")), "F32");
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(t0, "shape"), 0)), 32);
    /* the data section is the file's tail: its length is the last tensor's aligned end */
    uint64_t end = 0;
    for (size_t i = 0; i < json_array_size(ts); i++) {
        json_t *t = json_array_get(ts, i);
        uint64_t e = (uint64_t)json_integer_value(json_object_get(t, "offset")) +
                     (uint64_t)json_integer_value(json_object_get(t, "bytes"));
        end = e > end ? e : end;
    }
    size_t size;
    uint8_t *b = test_read_file(out, &size);
    cr_assert_not_null(b);
    const uint8_t *data = b + size - (end + 31) / 32 * 32 + json_integer_value(json_object_get(t0, "offset"));
    int n_one = 0, n_factor = 0, n_between = 0;
    for (int i = 0; i < 32; i++) {
        float got;
        memcpy(&got, data + 4 * i, 4);
        double want = llama3_factor(i, 64, 10000.0, 8.0, 1.0, 4.0, 8192.0);
        cr_expect_leq(fabs(got - want), 1e-6 * want, "pair %d: %.9g, the converter's formula %.9g", i, got, want);
        n_one += want == 1.0, n_factor += want == 8.0, n_between += want != 1.0 && want != 8.0;
    }
    cr_expect(n_one > 0 && n_factor > 0 && n_between > 0, "all three regions: %d %d %d", n_one, n_factor, n_between);
    free(b);
    json_decref(j);
}

Test(rope_scaling, an_unimplemented_scaling_is_refused_by_verify_imatrix_and_calibration, .timeout = 120)
{
    const char *model = scaled_model("{\"rope_type\": \"yarn\", \"factor\": 4.0, "
                                     "\"original_max_position_embeddings\": 64}", 0);
    char corpus[4300], out[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    snprintf(out, sizeof out, "%s/o.gguf", test_tmp_dir());
    struct test_run r;
    const char *a1[] = {"verify", "--source", model, "--eval", corpus, "--ctx", "64", "-q", NULL};
    test_run_ingot(&r, a1);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "rope scaling 'yarn' is not implemented") && strstr(r.err, model), "%s", r.err);
    const char *a2[] = {"imatrix", model, "--calib", corpus, "-o", out, "-q", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "rope scaling 'yarn' is not implemented"), "%s", r.err);
    const char *a3[] = {"convert", model, "-o", out, "--type", "Q4_0", "--method", "gptq", "--calib", corpus,
                        "--samples", "2", "-q", NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "rope scaling 'yarn' is not implemented"), "%s", r.err);
    cr_expect_not(exists(out), "a file at OUT");
    /* an uncalibrated conversion runs no forward pass: the keys are copied */
    const char *a4[] = {"convert", model, "-o", out, "--type", "Q4_0", "-q", NULL};
    test_run_ingot(&r, a4);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
}

/* ---- the forward pass ------------------------------------------------------------------------- */

/* verify's JSON for SRC (and a container, or NULL) on the model's own corpus */
static json_t *verify_json(const char *container, const char *source, const char *corpus)
{
    struct test_run r;
    const char *argv[] = {"verify", "--source", source, "--eval", corpus, "--ctx", "64", "--chunks", "4", "-q",
                          "--json", container, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    return j;
}

static double source_ppl(json_t *j)
{
    return json_number_value(json_object_get(json_object_get(j, "source"), "ppl"));
}

static double kld_mean(json_t *j)
{
    return json_number_value(json_object_get(json_array_get(json_object_get(j, "containers"), 0), "kld_mean"));
}

/* Linear scaling by 4 turns pair i by (1/4)·θ_i; llama3 whose every wavelength lies above
 * original_max_position_embeddings / low_freq_factor (here 1) divides every θ_i by 4: the
 * same angles bit for bit, so the same perplexity, and not the unscaled one. */
Test(rope_scaling, linear_and_constant_llama3_factors_scale_the_forward_pass_alike, .timeout = 180)
{
    const char *plain = scaled_model(NULL, 0);
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", plain);
    json_t *jp = verify_json(NULL, plain, corpus);
    const char *lin = scaled_model("{\"type\": \"linear\", \"factor\": 4}", 0);
    json_t *jl = verify_json(NULL, lin, corpus);
    const char *l3 = scaled_model("{\"rope_type\": \"llama3\", \"factor\": 4}", 1);
    json_t *j3 = verify_json(NULL, l3, corpus);
    cr_expect_eq(source_ppl(jl), source_ppl(j3), "linear %.9g, llama3 %.9g", source_ppl(jl), source_ppl(j3));
    cr_expect_neq(source_ppl(jl), source_ppl(jp), "scaled %.9g, unscaled %.9g", source_ppl(jl), source_ppl(jp));
    json_decref(jp);
    json_decref(jl);
    json_decref(j3);
}

/* A GGUF carries its scaling (rope.scaling.* keys, or rope_freqs.weight): an F32 container
 * scores KLD 0 against its scaled source, and not against the unscaled model. */
Test(rope_scaling, a_container_is_scored_with_its_own_scaling, .timeout = 180)
{
    const char *plain = scaled_model(NULL, 0);
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", plain);
    const char *models[2] = {scaled_model("{\"type\": \"linear\", \"factor\": 4}", 0),
                             scaled_model("{\"rope_type\": \"llama3\", \"factor\": 8}", 0)};
    for (int k = 0; k < 2; k++) {
        char out[4300];
        snprintf(out, sizeof out, "%s/o.gguf", test_tmp_dir());
        struct test_run r;
        const char *a1[] = {"convert", models[k], "-o", out, "--type", "F32", "-q", NULL};
        test_run_ingot(&r, a1);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        json_t *same = verify_json(out, models[k], corpus), *other = verify_json(out, plain, corpus);
        cr_expect_eq(kld_mean(same), 0.0, "%s: against its source %g", models[k], kld_mean(same));
        cr_expect_gt(kld_mean(other), 0.0, "%s: against the unscaled model", models[k]);
        json_decref(same);
        json_decref(other);
    }
}
