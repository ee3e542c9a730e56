/* test_imatrix_cli.c — `ingot imatrix` against llama-imatrix.
 *
 * Golden: ../shared/data/peers/tl3m/tl3m-imatrix.gguf, llama-imatrix over
 * tl3m/split_calib.txt with -c 256 (416 chunks). llama.cpp multiplies with fp16 weights
 * and fp16-rounded activations, ingot in fp32, so the mean squares agree to rounding, not
 * bit for bit: every column within 0.5% (0.05% was seen).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/imatrix.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

Test(imatrix_cli, tl3m_matches_llama_imatrix, .timeout = 600)
{
    char src[4096], calib[4096], gold[4096], out[4200];
    const char *p = test_shared_path("tl3m");
    if (!p)
        cr_skip_test("../shared/data is missing");
    snprintf(src, sizeof src, "%s", p);
    snprintf(calib, sizeof calib, "%s", test_shared_path("tl3m/split_calib.txt"));
    snprintf(gold, sizeof gold, "%s", test_shared_path("peers/tl3m/tl3m-imatrix.gguf"));
    snprintf(out, sizeof out, "%s/im.dat", test_tmp_dir());
    struct test_run r;
    const char *argv[] = {"imatrix", src, "--calib", calib, "-o", out, "--ctx", "256", "-q", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct imatrix ours, theirs;
    cr_assert_eq(imatrix_read(&ours, out), 0, "%s", ig_error_message());   /* the legacy .dat, by name */
    cr_assert_eq(imatrix_read(&theirs, gold), 0, "%s", ig_error_message());
    cr_expect_eq(ours.n_entries, theirs.n_entries);
    cr_expect_eq(ours.chunk_count, 416);
    for (int64_t i = 0; i < theirs.n_entries; i++) {
        const struct imatrix_entry *e = &theirs.entries[i];
        const float *v = imatrix_find(&ours, e->name, e->n);
        cr_expect_not_null(v, "%s missing", e->name);
        for (int64_t j = 0; v && j < e->n; j++)
            cr_expect_leq(fabsf(v[j] - e->importance[j]), 0.005f * e->importance[j], "%s[%lld]: %g vs llama %g",
                          e->name, (long long)j, v[j], e->importance[j]);
    }
    imatrix_free(&ours);
    imatrix_free(&theirs);
}
