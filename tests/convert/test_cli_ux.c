/* test_cli_ux.c — the command line a first-time user meets: messages, exit codes, JSON.
 *
 * Every test runs build/ingot as a subprocess on a fixture (tests/data/tiny-llama) or on a
 * model `ingot synth` makes (seeded, so the same bytes every run), and checks what the
 * user sees: the exit code, the words of a message, where the JSON goes, and that a
 * refused conversion leaves nothing at OUT.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "formats/gguf.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- helpers -------------------------------------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- exit codes and usage ------------------------------------------------------------------- */

Test(cli_ux, usage_and_check_help_say_a_damaged_file_exits_2)
{
    struct test_run r;
    const char *a1[] = {"--help", NULL};
    test_run_ingot(&r, a1);
    cr_expect_eq(r.exit_code, 0);
    cr_expect(strstr(r.out, "1 a quality gate failed; 2 bad input or usage, including a\ndamaged file"), "%s", r.out);
    const char *a2[] = {"check", "--help", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 0);
    cr_expect(strstr(r.out, "2 the file is damaged"), "%s", r.out);
    cr_expect_null(strstr(r.out, "Exit codes: 0 every check holds; 1"), "%s", r.out);
}

Test(cli_ux, help_command_prints_that_commands_usage)
{
    const char *cmds[] = {"convert", "verify", "imatrix", "inspect", "check", "synth"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "usage: ingot %s ", cmds[i]);
        struct test_run r;
        const char *a1[] = {"help", cmds[i], NULL};
        test_run_ingot(&r, a1);
        cr_expect_eq(r.exit_code, 0, "help %s", cmds[i]);
        cr_expect(strncmp(r.out, want, strlen(want)) == 0, "ingot help %s: %s", cmds[i], r.out);
        const char *a2[] = {cmds[i], "--help", NULL};
        test_run_ingot(&r, a2);
        cr_expect_eq(r.exit_code, 0, "%s --help", cmds[i]);
        cr_expect(strncmp(r.out, want, strlen(want)) == 0, "ingot %s --help: %s", cmds[i], r.out);
    }
    struct test_run r;
    const char *a3[] = {"help", "frobnicate", NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
}

Test(cli_ux, version_names_commit_and_build)
{
    struct test_run r;
    const char *a[] = {"--version", NULL};
    test_run_ingot(&r, a);
    cr_expect_eq(r.exit_code, 0);
    cr_expect(strncmp(r.out, "ingot ", 6) == 0, "%s", r.out);
    cr_expect(strstr(r.out, "(commit "), "%s", r.out);
    cr_expect(strstr(r.out, "\nOpenMP: "), "%s", r.out);
    cr_expect(strstr(r.out, "\nBLAS: "), "%s", r.out);
    cr_expect(strstr(r.out, "\nCUDA: "), "%s", r.out);
}

Test(cli_ux, integer_option_errors_name_the_option)
{
    const char *model = test_fixture_path("tiny-llama");
    static const struct {
        const char *argv[12];
        const char *want;
    } cases[] = {
        {{"convert", "MODEL", "-o", "/tmp/never.gguf", "--threads", "0"}, "--threads: '0' is not an integer in 1..4096"},
        {{"convert", "MODEL", "-o", "/tmp/never.gguf", "--samples", "-3"}, "--samples: '-3' is not an integer in 1..1048576"},
        {{"convert", "MODEL", "-o", "/tmp/never.gguf", "--seed", "x1"}, "--seed: 'x1' is not an integer in 0.."},
        {{"verify", "--source", "MODEL", "--eval", "/dev/null", "--ctx", "2"}, "--ctx: '2' is not an integer in 4..1048576"},
        {{"imatrix", "MODEL", "--calib", "/dev/null", "-o", "/tmp/never.dat", "--chunks", "many"}, "--chunks: 'many' is not an integer in 1.."},
        {{"synth", "-o", "/tmp/never", "--dim", "0"}, "--dim: '0' is not an integer in 1..65536"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[12];
        int n = 0;
        /* "MODEL" stands for the fixture's path */
        for (int k = 0; k < 11 && cases[i].argv[k]; k++)
            argv[n++] = strcmp(cases[i].argv[k], "MODEL") ? cases[i].argv[k] : model;
        argv[n] = NULL;
        struct test_run r;
        test_run_ingot(&r, argv);
        cr_expect_eq(r.exit_code, 2, "case %zu", i);
        cr_expect(strstr(r.err, cases[i].want), "case %zu: want \"%s\" in: %s", i, cases[i].want, r.err);
        cr_expect_null(strstr(r.err, "option "), "case %zu: %s", i, r.err);
    }
}

/* ---- errors inside parallel loops ----------------------------------------------------------- */

/* Two NaNs in blk.0.ffn_down.weight (256 rows of 512): row 5 and row 200, which a 2- or
 * 3-thread static schedule gives to different threads. The message must name the first
 * one, whatever the thread count, and OUT must not exist afterwards. */
Test(cli_ux, nan_weight_fails_with_the_same_full_message_for_any_thread_count, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.layers.0.mlp.down_proj.weight", 5, 3, 1, NAN);
    test_set_f32(model, "model.layers.0.mlp.down_proj.weight", 200, 7, 1, NAN);
    const char *types[] = {"NF4", "Q4_0"};
    for (size_t ti = 0; ti < 2; ti++) {
        static char first[65536];
        first[0] = '\0';
        const char *threads[] = {"1", "2", "3"};
        for (int k = 0; k < 3; k++) {
            char out_dir[4200], out[4300];
            snprintf(out_dir, sizeof out_dir, "%s", test_tmp_dir());
            snprintf(out, sizeof out, "%s/nan.gguf", out_dir);
            struct test_run r;
            const char *argv[] = {"convert", model, "-o", out, "--type", types[ti], "--threads", threads[k], "-q", NULL};
            test_run_ingot(&r, argv);
            cr_expect_eq(r.exit_code, 2, "%s, %s threads: %s", types[ti], threads[k], r.err);
            cr_expect(strstr(r.err, "tensor 'blk.0.ffn_down.weight'"), "%s/%s: %s", types[ti], threads[k], r.err);
            cr_expect(strstr(r.err, "row 5: element 3 is NaN"), "%s/%s: %s", types[ti], threads[k], r.err);
            cr_expect_not(exists(out), "%s/%s: a file at OUT", types[ti], threads[k]);
            cr_expect_eq(test_count_entries(out_dir), 0, "%s/%s: a temporary file was left", types[ti], threads[k]);
            if (k == 0)
                snprintf(first, sizeof first, "%s", r.err);
            else
                cr_expect_str_eq(r.err, first, "%s: --threads %s differs from --threads 1", types[ti], threads[k]);
        }
    }
}

/* ---- silent degradations -------------------------------------------------------------------- */

Test(cli_ux, fallback_to_f16_everywhere_is_refused_then_reported)
{
    const char *model = test_fixture_path("tiny-llama");
    char out[4300];
    snprintf(out, sizeof out, "%s/i4.gguf", test_tmp_dir());
    struct test_run r;
    const char *a1[] = {"convert", model, "-o", out, "--type", "I4_G128", "-q", NULL};
    test_run_ingot(&r, a1);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "no tensor can take type I4_G128"), "%s", r.err);
    cr_expect(strstr(r.err, "n_cols 32 is not a multiple of I4_G128's block of 128"), "%s", r.err);
    cr_expect(strstr(r.err, "--allow-fallback"), "%s", r.err);
    cr_expect_not(exists(out));
    const char *a2[] = {"convert", model, "-o", out, "--type", "I4_G128", "-q", "--allow-fallback", "--json", NULL};
    test_run_ingot(&r, a2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning: 7 of 12 tensors could not take their planned type"), "%s", r.err);
    cr_expect(strstr(r.err, "  blk.0.attn_q.weight: I4_G128 -> F16 (n_cols 32 is not a multiple of I4_G128's block of 128)"),
              "%s", r.err);
    cr_expect(strstr(r.err, "7 tensors fell back"), "the summary says it too: %s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "stdout: %s", r.out);
    cr_expect_eq(json_integer_value(json_object_get(j, "fallbacks")), 7);
    json_t *tensors = json_object_get(j, "tensors");
    int n_fb = 0;
    for (size_t i = 0; i < json_array_size(tensors); i++) {
        json_t *t = json_array_get(tensors, i), *fb = json_object_get(t, "fallback");
        if (json_is_null(fb))
            continue;
        n_fb++;
        cr_expect_str_eq(json_string_value(json_object_get(fb, "wanted")), "I4_G128");
        cr_expect_str_eq(json_string_value(json_object_get(t, "type")), "F16");
        cr_expect(strstr(json_string_value(json_object_get(fb, "reason")), "is not a multiple of"));
    }
    cr_expect_eq(n_fb, 7);
    json_decref(j);
}

Test(cli_ux, quantized_source_needs_allow_requantize)
{
    const char *model = test_fixture_path("tiny-llama");
    const char *dir = test_tmp_dir();
    char q8[4300], q4[4300];
    snprintf(q8, sizeof q8, "%s/q8.gguf", dir);
    snprintf(q4, sizeof q4, "%s/q4.gguf", dir);
    struct test_run r;
    const char *a1[] = {"convert", model, "-o", q8, "--type", "Q8_0", "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a2[] = {"convert", q8, "-o", q4, "--type", "Q4_0", "-q", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "are already quantized (Q8_0)"), "the source's types are named: %s", r.err);
    cr_expect(strstr(r.err, "--allow-requantize"), "%s", r.err);
    cr_expect_not(exists(q4));
    const char *a3[] = {"convert", q8, "-o", q4, "--type", "Q4_0", "-q", "--allow-requantize", NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning: re-quantizing") && strstr(r.err, "errors of both roundings add up"), "%s", r.err);
    cr_expect(exists(q4));
    /* the same type again is a copy, not a re-quantization */
    const char *a4[] = {"convert", q8, "-o", q4, "--type", "Q8_0", "-q", NULL};
    test_run_ingot(&r, a4);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
}

Test(cli_ux, verify_ctx_above_training_context_warns_and_says_so_in_json, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    struct test_run r;
    const char *a1[] = {"verify", "--source", model, "--eval", corpus, "--ctx", "128", "--chunks", "2", "-q", "--json", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning: --ctx 128 is above") && strstr(r.err, "training context of 64 tokens"), "%s", r.err);
    cr_expect(strstr(r.err, "source "), "the table goes to stderr under --json: %s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "stdout: %s", r.out);
    json_t *ev = json_object_get(j, "eval");
    cr_expect(json_is_true(json_object_get(ev, "ctx_above_training")));
    cr_expect_eq(json_integer_value(json_object_get(ev, "n_ctx_train")), 64);
    json_decref(j);
    const char *a2[] = {"verify", "--source", model, "--eval", corpus, "--ctx", "64", "--chunks", "2", "-q", "--json", NULL};
    test_run_ingot(&r, a2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_null(strstr(r.err, "warning"), "%s", r.err);
    j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j);
    cr_expect(json_is_false(json_object_get(json_object_get(j, "eval"), "ctx_above_training")));
    json_decref(j);
}

/* ingot's type ids start at 4096 = 64 x 64: grouped by `type % 64`, NF4 merged with F32. */
Test(cli_ux, inspect_totals_per_type_separate_ingot_types, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    char out[4300];
    snprintf(out, sizeof out, "%s/nf4.gguf", test_tmp_dir());
    struct test_run r;
    const char *a1[] = {"convert", model, "-o", out, "--type", "NF4", "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0, "%s", ig_error_message());
    int types[8], counts[8], n_types = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        int t = gguf_tensor_at(g, i)->type, k = 0;
        while (k < n_types && types[k] != t)
            k++;
        if (k == n_types)
            types[n_types] = t, counts[n_types++] = 0;
        counts[k]++;
    }
    gguf_close(g);
    cr_assert_geq(n_types, 3, "F32 norms, F16 embeddings, NF4 linears");
    const char *a2[] = {"inspect", out, NULL};
    test_run_ingot(&r, a2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *totals = strstr(r.out, "\ntotals:");
    cr_assert_not_null(totals, "%s", r.out);
    for (int k = 0; k < n_types; k++) {
        char line[64];
        snprintf(line, sizeof line, "  %-7s %4d tensors", ggml_type_name(types[k]), counts[k]);
        cr_expect(strstr(totals, line), "want \"%s\" in:%s", line, totals);
    }
    const char *a3[] = {"inspect", out, "--json", NULL};
    test_run_ingot(&r, a3);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    json_t *by_type = json_object_get(json_object_get(j, "totals"), "by_type");
    cr_expect_eq(json_array_size(by_type), (size_t)n_types);
    for (size_t i = 0; i < json_array_size(by_type); i++) {
        int id = (int)json_integer_value(json_object_get(json_array_get(by_type, i), "type_id"));
        for (int k = 0; k < n_types; k++)
            if (types[k] == id)
                cr_expect_eq(json_integer_value(json_object_get(json_array_get(by_type, i), "tensors")), counts[k],
                             "type %d", id);
    }
    json_decref(j);
}

/* ---- one JSON convention -------------------------------------------------------------------- */

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_expect_not_null(j, "%s: %s", path, e.text);
    return j;
}

Test(cli_ux, json_on_stdout_and_json_out_file_for_every_command, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    const char *dir = test_tmp_dir();
    char out[4300], json[4300], corpus[4300], im[4300];
    snprintf(out, sizeof out, "%s/q.gguf", dir);
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(im, sizeof im, "%s/im.gguf", dir);
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    struct test_run r;
    /* convert, plain RTN: --json-out keeps the summary on stdout */
    const char *c1[] = {"convert", model, "-o", out, "--type", "Q4_0", "-q", "--json-out", json, NULL};
    test_run_ingot(&r, c1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "wrote "), "%s", r.out);
    json_t *j = load_json(json);
    cr_expect_str_eq(json_string_value(json_object_get(j, "type")), "Q4_0");
    cr_expect(json_is_array(json_object_get(j, "tensors")));
    cr_expect(json_is_null(json_object_get(json_object_get(j, "seconds"), "calibration")), "null, not -1");
    json_decref(j);
    /* check, inspect: --json on stdout only; --json-out to a file with the text on stdout */
    const char *cmds[] = {"check", "inspect"};
    for (int k = 0; k < 2; k++) {
        const char *a1[] = {cmds[k], out, "--json", NULL};
        test_run_ingot(&r, a1);
        cr_expect_eq(r.exit_code, 0, "%s: %s", cmds[k], r.err);
        j = json_loads(r.out, 0, NULL);
        cr_expect_not_null(j, "%s --json: stdout is JSON: %s", cmds[k], r.out);
        json_decref(j);
        remove(json);
        const char *a2[] = {cmds[k], out, "--json-out", json, NULL};
        test_run_ingot(&r, a2);
        cr_expect_eq(r.exit_code, 0, "%s: %s", cmds[k], r.err);
        cr_expect_null(json_loads(r.out, 0, NULL), "%s --json-out: stdout is the text", cmds[k]);
        json_decref(load_json(json));
    }
    /* imatrix */
    const char *i1[] = {"imatrix", model, "--calib", corpus, "-o", im, "--ctx", "64", "--chunks", "2", "-q", "--json", NULL};
    test_run_ingot(&r, i1);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    j = json_loads(r.out, 0, NULL);
    cr_expect_not_null(j, "imatrix --json: %s", r.out);
    cr_expect_eq(json_integer_value(json_object_get(j, "windows")), 2);
    json_decref(j);
    remove(json);
    const char *i2[] = {"imatrix", model, "--calib", corpus, "-o", im, "--ctx", "64", "--chunks", "2", "-q", "--json-out", json, NULL};
    test_run_ingot(&r, i2);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "wrote "), "%s", r.out);
    json_decref(load_json(json));
    /* verify --json-out */
    remove(json);
    const char *v1[] = {"verify", out, "--source", model, "--eval", corpus, "--ctx", "64", "--chunks", "2", "-q", "--json-out", json, NULL};
    test_run_ingot(&r, v1);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "PPL"), "%s", r.out);
    j = load_json(json);
    cr_expect_eq(json_array_size(json_object_get(j, "containers")), 1);
    json_decref(j);
}

/* ---- progress and detail -------------------------------------------------------------------- */

Test(cli_ux, calibrated_run_shows_progress_within_a_block_and_the_total_time, .timeout = 180)
{
    const char *model = test_synth_f32_model("64");
    char out[4300], corpus[4300];
    snprintf(out, sizeof out, "%s/g.gguf", test_tmp_dir());
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    struct test_run r;
    const char *a[] = {"convert", model, "-o", out, "--type", "Q4_0", "--method", "gptq", "--calib", corpus,
                       "--samples", "4", "--seq-len", "32", NULL};
    test_run_ingot(&r, a);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* stderr is not a terminal here: plain lines */
    cr_expect(strstr(r.err, "block 1/1 step 1/") && strstr(r.err, ": capturing the input of attn_q.weight"),
              "progress within the block, before it ends: %s", r.err);
    cr_expect(strstr(r.err, "ETA "), "an estimate of the time left: %s", r.err);
    cr_expect(strstr(r.err, "block 1 of 1 calibrated"), "%s", r.err);
    cr_expect(strstr(r.out, "s in all (calibration ") && strstr(r.out, "s, writing "), "the closing line: %s", r.out);
}

Test(cli_ux, verbose_prints_one_line_per_tensor)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/v.gguf", test_tmp_dir());
    struct test_run r;
    const char *a[] = {"convert", test_fixture_path("tiny-llama"), "-o", out, "--type", "Q8_0", "-q", "-v", NULL};
    test_run_ingot(&r, a);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "blk.0.attn_q.weight") && strstr(r.err, "F32    -> Q8_0"), "%s", r.err);
}

/* ---- messages that name their file ---------------------------------------------------------- */

Test(cli_ux, short_texts_are_named_in_the_message, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    char text[4300], out[4300];
    snprintf(text, sizeof text, "%s/short.txt", test_tmp_dir());
    snprintf(out, sizeof out, "%s/never.gguf", test_tmp_dir());
    cr_assert_eq(test_write_file(text, "once upon", 9), 0);
    struct test_run r;
    const char *a1[] = {"convert", model, "-o", out, "--type", "Q4_0", "--method", "gptq", "--calib", text, "-q", NULL};
    test_run_ingot(&r, a1);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, text) && strstr(r.err, "tokens, fewer than one window"), "%s", r.err);
    cr_expect_not(exists(out));
    const char *a2[] = {"verify", "--source", model, "--eval", text, "-q", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, text) && strstr(r.err, "the text has"), "%s", r.err);
    const char *a3[] = {"imatrix", model, "--calib", text, "-o", out, "-q", NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, text) && strstr(r.err, "the text has"), "%s", r.err);
}

Test(cli_ux, one_file_of_an_hf_folder_as_src_says_what_src_must_be)
{
    const char *files[] = {"tiny-llama/config.json", "tiny-llama/model.safetensors"};
    for (int k = 0; k < 2; k++) {
        struct test_run r;
        const char *a[] = {"convert", test_fixture_path(files[k]), "-o", "/tmp/never.gguf", NULL};
        test_run_ingot(&r, a);
        cr_expect_eq(r.exit_code, 2);
        cr_expect(strstr(r.err, "SRC must be an HF folder"), "%s: %s", files[k], r.err);
        cr_expect(strstr(r.err, "a GGUF file or a llama2.c .bin"), "%s", r.err);
        cr_expect_null(strstr(r.err, "llama2c"), "not diagnosed as a llama2.c header: %s", r.err);
    }
}

/* A flipped bit is a damaged file: bad input, exit 2, in text and in JSON alike. */
Test(cli_ux, check_json_reports_a_flipped_bit_with_exit_2)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/c.gguf", test_tmp_dir());
    struct test_run r;
    const char *a1[] = {"convert", test_fixture_path("tiny-llama"), "-o", out, "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, out), 0);
    const struct gguf_tensor_info *t = gguf_tensor_at(g, gguf_find_tensor(g, "blk.0.attn_k.weight"));
    uint64_t pos = gguf_data_offset(g) + t->offset + 5;
    gguf_close(g);
    size_t n;
    uint8_t *bytes = test_read_file(out, &n);
    bytes[pos] ^= 0x01;
    cr_assert_eq(test_write_file(out, bytes, n), 0);
    free(bytes);
    const char *a2[] = {"check", out, "--json", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect(json_is_false(json_object_get(j, "ok")));
    json_t *f = json_array_get(json_object_get(j, "failures"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(f, "tensor")), "blk.0.attn_k.weight");
    json_decref(j);
}
