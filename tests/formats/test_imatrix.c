/* test_imatrix.c — llama.cpp's importance-matrix files, both formats.
 *
 * Golden: ../shared/data/peers/tl3m/tl3m-imatrix.gguf, written by llama-imatrix over
 * tl3m/split_calib.txt with -c 256 (416 chunks, PROVENANCE: peers/README.md).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/imatrix.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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
