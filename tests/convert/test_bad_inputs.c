/* test_bad_inputs.c — the bad-input catalogue, run through the command line.
 *
 * Every line of the .tsv files in tests/data/bad names a handcrafted broken file or folder and the
 * substrings its error must contain (the file name and the field). Each must make
 * `ingot convert CASE -o OUT --type F16` exit with status 2, print those substrings, and
 * leave nothing at OUT nor any temporary file beside it.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_catalogue(const char *tsv_name)
{
    char rel[64];
    snprintf(rel, sizeof rel, "bad/%s", tsv_name);
    char *tsv = (char *)test_read_file(test_fixture_path(rel), NULL);
    cr_assert_not_null(tsv, "%s is missing", rel);
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *fields[16];
        int nf = 0;
        for (char *f = strtok(line, "\t"); f && nf < 16; f = strtok(NULL, "\t"))
            fields[nf++] = f;
        char case_rel[512];
        snprintf(case_rel, sizeof case_rel, "bad/%s", fields[0]);
        const char *dir = test_tmp_dir();
        char out[4200];
        snprintf(out, sizeof out, "%s/out.gguf", dir);
        struct test_run r;
        const char *argv[] = {"convert", test_fixture_path(case_rel), "-o", out, "--type", "F16", "-q", NULL};
        test_run_ingot(&r, argv);
        cr_expect_eq(r.exit_code, 2, "%s: exit %d, expected 2; stderr: %s", fields[0], r.exit_code, r.err);
        for (int k = 1; k < nf; k++)
            cr_expect(strstr(r.err, fields[k]), "%s: message lacks '%s': %s", fields[0], fields[k], r.err);
        cr_expect_eq(test_count_entries(dir), 0, "%s: something was left in the output folder", fields[0]);
        n++;
    }
    free(tsv);
    return n;
}

Test(bad_inputs, gguf_catalogue) { cr_expect_geq(run_catalogue("gguf.tsv"), 30); }
Test(bad_inputs, safetensors_catalogue) { cr_expect_geq(run_catalogue("safetensors.tsv"), 12); }
Test(bad_inputs, config_catalogue) { cr_expect_geq(run_catalogue("config.tsv"), 8); }
Test(bad_inputs, tokenizer_catalogue) { cr_expect_geq(run_catalogue("tokenizer.tsv"), 10); }
/* whole models that contradict their own hyperparameters (gen_model.py) */
Test(bad_inputs, model_catalogue, .timeout = 120) { cr_expect_geq(run_catalogue("model.tsv"), 26); }

/* The catalogue's models differ from these controls by one fault each: the controls convert. */
Test(bad_inputs, model_catalogue_controls_convert)
{
    const char *controls[] = {"bad/mdl-gguf-good.gguf", "bad/mdl-hf-good"};
    for (size_t i = 0; i < 2; i++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/out.gguf", test_tmp_dir());
        struct test_run r;
        const char *argv[] = {"convert", test_fixture_path(controls[i]), "-o", out, "--type", "F16", "-q", NULL};
        test_run_ingot(&r, argv);
        cr_expect_eq(r.exit_code, 0, "%s: exit %d; stderr: %s", controls[i], r.exit_code, r.err);
    }
}

Test(bad_inputs, failed_convert_keeps_an_existing_output)
{
    const char *dir = test_tmp_dir();
    char out[4200];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    cr_assert_eq(test_write_file(out, "previous", 8), 0);
    struct test_run r;
    const char *argv[] = {"convert", test_fixture_path("bad/gguf-data-short.gguf"), "-o", out, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    size_t n;
    char *b = (char *)test_read_file(out, &n);
    cr_expect(b && n == 8 && memcmp(b, "previous", 8) == 0, "the old file was damaged");
    free(b);
    cr_expect_eq(test_count_entries(dir), 1, "no temporary file left");
}
