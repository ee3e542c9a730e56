/* test_imatrix.c — llama.cpp's importance-matrix files, both formats.
 *
 * Golden: ../shared/data/peers/tl3m/tl3m-imatrix.gguf, written by llama-imatrix over
 * tl3m/split_calib.txt with -c 256 (416 chunks, PROVENANCE: peers/README.md).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/imatrix.h"
#include "formats/model_src.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

Test(imatrix, reads_llama_imatrix_gguf)
{
    const char *p = test_shared_path("peers/tl3m/tl3m-imatrix.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct imatrix im;
    cr_assert_eq(imatrix_read(&im, p), 0, "%s", ig_error_message());
    /* 4 blocks x 7 weights: the 28 entries llama-quantize reported using */
    cr_expect_eq(im.n_entries, 28);
    cr_expect_eq(im.chunk_count, 416);
    cr_expect(strstr(im.dataset, "split_calib.txt"), "%s", im.dataset);
    const float *q = imatrix_find(&im, "blk.0.attn_q.weight", 256);
    const float *d = imatrix_find(&im, "blk.3.ffn_down.weight", 768);
    cr_assert(q && d);
    cr_expect_null(imatrix_find(&im, "blk.0.attn_q.weight", 255), "a size mismatch finds nothing");
    for (int j = 0; j < 256; j++)
        cr_expect(q[j] > 0 && isfinite(q[j]), "mean x² of column %d is %g", j, q[j]);
    imatrix_free(&im);
}

Test(imatrix, dat_round_trip_keeps_the_importance)
{
    const char *p = test_shared_path("peers/tl3m/tl3m-imatrix.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    struct imatrix a, b, c;
    cr_assert_eq(imatrix_read(&a, p), 0);
    char dat[4200], gg[4200];
    const char *dir = test_tmp_dir();
    snprintf(dat, sizeof dat, "%s/m.dat", dir);
    snprintf(gg, sizeof gg, "%s/m.gguf", dir);
    cr_assert_eq(imatrix_write_dat(&a, dat), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_write_gguf(&a, gg), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_read(&b, dat), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_read(&c, gg), 0, "%s", ig_error_message());
    cr_expect_eq(b.n_entries, a.n_entries);
    for (int64_t i = 0; i < a.n_entries; i++) {
        const struct imatrix_entry *e = &a.entries[i];
        const float *vb = imatrix_find(&b, e->name, e->n), *vc = imatrix_find(&c, e->name, e->n);
        cr_assert(vb && vc, "%s", e->name);
        for (int64_t j = 0; j < e->n; j++) {
            /* .dat stores mean·ncall and divides again: equal to float rounding */
            cr_expect_leq(fabsf(vb[j] - e->importance[j]), 1e-6f * e->importance[j], "%s[%lld]", e->name, (long long)j);
            cr_expect_eq(vc[j], e->importance[j], "GGUF round trip is exact");
        }
    }
    imatrix_free(&a);
    imatrix_free(&b);
    imatrix_free(&c);
}

Test(imatrix, rejects_a_truncated_dat)
{
    const char *dir = test_tmp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.dat", dir);
    const unsigned char bytes[] = {2, 0, 0, 0, 5, 0, 0, 0, 'b', 'l', 'k'};
    cr_assert_eq(test_write_file(path, bytes, sizeof bytes), 0);
    struct imatrix im;
    cr_expect_eq(imatrix_read(&im, path), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "bad.dat"), "%s", ig_error_message());
}

/* ---- validation: what llama-quantize refuses, ingot refuses -------------------------------- */

/* A one-entry imatrix written in format fmt ('g' GGUF, 'd' .dat) with sum2[index] = bad. */
static const char *write_with_value(char fmt, int64_t index, float bad, float count)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/bad.%s", test_tmp_dir(), fmt == 'g' ? "gguf" : "dat");
    float sum2[256];
    for (int j = 0; j < 256; j++)
        sum2[j] = 0.5f + (float)j;
    sum2[index] = bad;
    struct imatrix im = {0};
    cr_assert_eq(imatrix_add(&im, "blk.0.attn_q.weight", sum2, 256, count), 0);
    im.chunk_size = 1;
    cr_assert_eq(fmt == 'g' ? imatrix_write_gguf(&im, path) : imatrix_write_dat(&im, path), 0, "%s", ig_error_message());
    imatrix_free(&im);
    return path;
}

static void expect_refused(const char *path, const char *const *needles)
{
    struct imatrix im;
    cr_expect_eq(imatrix_read(&im, path), IG_EINVAL, "%s was accepted", path);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(ig_error_message(), needles[i]), "message lacks '%s': %s", needles[i], ig_error_message());
}

Test(imatrix, refuses_a_nan_value_in_either_format)
{
    const char *g = write_with_value('g', 7, NAN, 4.0f);
    expect_refused(g, (const char *[]){"bad.gguf", "entry 'blk.0.attn_q.weight'", "value 7 is nan", ">= 0", NULL});
    const char *d = write_with_value('d', 200, NAN, 4.0f);
    expect_refused(d, (const char *[]){"bad.dat", "entry 'blk.0.attn_q.weight'", "value 200 is nan", NULL});
}

Test(imatrix, refuses_infinite_and_negative_values)
{
    expect_refused(write_with_value('g', 0, INFINITY, 4.0f), (const char *[]){"value 0 is inf", NULL});
    expect_refused(write_with_value('d', 255, -1.0f, 4.0f), (const char *[]){"value 255 is -", ">= 0", NULL});
}

Test(imatrix, refuses_a_count_that_is_not_positive)
{
    expect_refused(write_with_value('g', 0, 1.0f, 0.0f), (const char *[]){"bad.gguf", "'blk.0.attn_q.weight'", "count 0", NULL});
    expect_refused(write_with_value('g', 0, 1.0f, -3.0f), (const char *[]){"count -3", NULL});
    /* .dat: ncall 0 written by hand (ingot's writer never writes it) */
    char path[4200];
    snprintf(path, sizeof path, "%s/zero-ncall.dat", test_tmp_dir());
    unsigned char b[4 + 4 + 1 + 4 + 4 + 4] = {1, 0, 0, 0, 1, 0, 0, 0, 'w', 0, 0, 0, 0, 1, 0, 0, 0};
    float one = 1.0f;
    memcpy(b + 17, &one, 4);
    cr_assert_eq(test_write_file(path, b, sizeof b), 0);
    expect_refused(path, (const char *[]){"zero-ncall.dat", "entry 'w'", "count 0", NULL});
}

Test(imatrix, warns_about_duplicated_all_zero_and_foreign_entries)
{
    float ones[32], zeros[32] = {0};
    for (int j = 0; j < 32; j++)
        ones[j] = 1.0f;
    struct imatrix a = {0};
    cr_assert_eq(imatrix_add(&a, "blk.0.attn_q.weight", ones, 32, 2.0f), 0);
    cr_assert_eq(imatrix_add(&a, "blk.0.attn_q.weight", ones, 32, 2.0f), 0);
    cr_assert_eq(imatrix_add(&a, "blk.0.ffn_up.weight", zeros, 32, 2.0f), 0);
    cr_assert_eq(imatrix_add(&a, "blk.0.attn_k.weight", ones, 31, 2.0f), 0);
    cr_assert_eq(imatrix_add(&a, "blk.7.attn_k.weight", ones, 32, 2.0f), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/w.dat", test_tmp_dir());   /* GGUF cannot hold a name twice */
    cr_assert_eq(imatrix_write_dat(&a, path), 0, "%s", ig_error_message());
    imatrix_free(&a);

    struct imatrix im;
    cr_assert_eq(imatrix_read(&im, path), 0, "%s", ig_error_message());
    cr_assert_eq(im.n_warnings, 2, "a duplicate and an all-zero entry");
    cr_expect(strstr(im.warnings[0], "'blk.0.attn_q.weight' appears twice"), "%s", im.warnings[0]);
    cr_expect(strstr(im.warnings[1], "'blk.0.ffn_up.weight': all 32 values are 0"), "%s", im.warnings[1]);
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, test_fixture_path("tiny-llama"), NULL), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_check_model(&im, src), 0);
    cr_assert_eq(im.n_warnings, 4, "a wrong length and a tensor the model lacks");
    cr_expect(strstr(im.warnings[2], "'blk.0.attn_k.weight': 31 values") && strstr(im.warnings[2], "32 columns"), "%s",
              im.warnings[2]);
    cr_expect(strstr(im.warnings[3], "'blk.7.attn_k.weight'") && strstr(im.warnings[3], "no such tensor"), "%s",
              im.warnings[3]);
    model_src_close(src);
    imatrix_free(&im);
}

Test(imatrix, convert_refuses_a_nan_imatrix_and_writes_nothing)
{
    const char *bad = write_with_value('g', 5, NAN, 4.0f);
    char copy[4200], out[4200];
    snprintf(copy, sizeof copy, "%s", bad);
    snprintf(out, sizeof out, "%s/out-dir", test_tmp_dir());
    cr_assert_eq(mkdir(out, 0755), 0);
    strcat(out, "/q.gguf");
    struct test_run r;
    const char *argv[] = {"convert", test_fixture_path("tiny-llama"), "-o", out, "--type", "Q4_0", "--imatrix", copy, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_expect(strstr(r.err, "bad.gguf") && strstr(r.err, "blk.0.attn_q.weight") && strstr(r.err, "value 5 is nan"), "%s",
              r.err);
    struct stat st;
    cr_expect_neq(stat(out, &st), 0, "nothing written");
}

/* The four inputs fuzz_imatrix found (tests/data/fuzz-seeds/fuzz_imatrix/known-*): three are
 * refused with a message naming the fault, the fourth (a count of 1e10 chunks) is read and
 * written as .dat without an int32 overflow, and reads back finite. */
Test(imatrix, fuzz_findings_are_refused_or_round_trip)
{
    static const struct {
        const char *file, *expect;   /* expect NULL: accepted */
    } cases[] = {
        {"fuzz-seeds/fuzz_imatrix/known-1-empty-name.dat", "NUL byte"},
        {"fuzz-seeds/fuzz_imatrix/known-2-ncall-overflows-int32.gguf", NULL},
        {"fuzz-seeds/fuzz_imatrix/known-3-importance-inf.gguf", "is not finite"},
        {"fuzz-seeds/fuzz_imatrix/known-4-zero-values.gguf", "0 values"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct imatrix im;
        int rc = imatrix_read(&im, test_fixture_path(cases[i].file));
        if (cases[i].expect) {
            cr_expect_eq(rc, IG_EINVAL, "%s: expected a refusal", cases[i].file);
            cr_expect(strstr(ig_error_message(), cases[i].expect), "%s: message '%s' lacks '%s'", cases[i].file,
                      ig_error_message(), cases[i].expect);
            continue;
        }
        cr_assert_eq(rc, 0, "%s: %s", cases[i].file, ig_error_message());
        char dat[512];
        snprintf(dat, sizeof dat, "%s/back.dat", test_tmp_dir());
        cr_expect_eq(imatrix_write_dat(&im, dat), 0, "%s", ig_error_message());
        struct imatrix back;
        cr_expect_eq(imatrix_read(&back, dat), 0, "%s: its .dat is refused: %s", cases[i].file, ig_error_message());
        imatrix_free(&back);
        imatrix_free(&im);
    }
}
