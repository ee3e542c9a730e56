/* test_prefix_forward.c — a shared prefix evaluated once (verify/prefix_forward.h) gives the
 * logits model_forward gives on the whole sequence.
 *
 * Tolerance: the two paths run the same operations on the same values, except that the GEMMs
 * see fewer rows and attention more; the CPU backend computes each output element alone in a
 * fixed order (kernels/backend.h), so the rows should agree exactly; 1e-5 absolute on logits of
 * magnitude ~10 (a few float ulps) leaves room for a backend whose GEMM blocking depends on the
 * row count, and is far below the 1e-2 differences a wrong position or mask would make.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "model/tensor_f32.h"
#include "verify/prefix_forward.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOGIT_TOL 1e-5

Test(prefix_forward, branches_match_model_forward)
{
    struct model_src *src;
    struct model *m;
    cr_assert_eq(model_src_open(&src, test_fixture_path("../../examples/tl3m"), NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&m, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    const int64_t n_vocab = model_hparams(m)->n_vocab, n = 48, n_prefix = 20;
    int32_t a[48], b[48];
    for (int64_t t = 0; t < n; t++) {
        a[t] = (int32_t)(t == 0 ? 1 : 3 + (t * 37) % (n_vocab - 3));
        b[t] = t < n_prefix ? a[t] : (int32_t)(3 + (t * 11 + 5) % (n_vocab - 3));
    }
    struct prefix_ctx *p;
    struct model_ctx *c;
    cr_assert_eq(prefix_ctx_create(&p, m, 64), 0, "%s", ig_error_message());
    cr_assert_eq(model_ctx_create(&c, m, 64), 0);
    float *last = malloc((size_t)n_vocab * sizeof *last), *br = malloc((size_t)(n * n_vocab) * sizeof *br);
    float *ref = malloc((size_t)(n * n_vocab) * sizeof *ref);
    cr_assert_eq(prefix_eval(p, a, n_prefix, last), 0, "%s", ig_error_message());
    const int32_t *seqs[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(prefix_eval_branch(p, seqs[s], n_prefix, n, br), 0, "%s", ig_error_message());
        cr_assert_eq(model_forward(m, c, seqs[s], n, n_prefix - 1, ref), 0);
        double worst = 0.0;
        for (int64_t v = 0; v < n_vocab; v++)
            worst = fmax(worst, fabs((double)last[v] - ref[v]));
        for (int64_t r = 0; r < n - n_prefix; r++)
            for (int64_t v = 0; v < n_vocab; v++)
                worst = fmax(worst, fabs((double)br[r * n_vocab + v] - ref[(r + 1) * n_vocab + v]));
        cr_expect_leq(worst, LOGIT_TOL, "branch %d: largest logit difference %.3g", s, worst);
    }
    free(last);
    free(br);
    free(ref);
    model_ctx_destroy(c);
    prefix_ctx_destroy(p);
    model_destroy(m);
    model_src_close(src);
}

/* The task scorer's path on packed weights (verify --tasks without --no-stream): a prefix and its
 * branches over tl3m-Q4_K_M's packed bytes give model_forward's logits on the resident model of
 * the same file (every weight dequantized whole) bit for bit — the same call sequence
 * (model_block_forward_rows) and matmul_rows' tiles give matmul's bits (kernels/backend.h). */
Test(prefix_forward, packed_branches_equal_resident_model_forward, .timeout = 300)
{
    const char *path = test_shared_path("peers/tl3m/tl3m-Q4_K_M.gguf");
    if (!path)
        cr_skip_test("../shared/data is missing");
    struct model_src *src, *src_r;
    struct model *m, *ref;
    cr_assert_eq(model_src_open(&src, path, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_src_open(&src_r, path, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create_packed(&m, src, tensor_rows_f32_checked, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&ref, src_r, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    for (int64_t l = 0; l < model_hparams(m)->n_layer; l++)
        cr_assert_eq(model_layer_load(m, l), 0, "%s", ig_error_message());
    const int64_t n_vocab = model_hparams(m)->n_vocab, n = 40, n_prefix = 17;
    int32_t ids[40];
    for (int64_t t = 0; t < n; t++)
        ids[t] = (int32_t)(t == 0 ? 1 : 3 + (t * 53 + 7) % (n_vocab - 3));
    struct prefix_ctx *p;
    struct model_ctx *c;
    cr_assert_eq(prefix_ctx_create(&p, m, 64), 0, "%s", ig_error_message());
    cr_assert_eq(model_ctx_create(&c, ref, 64), 0);
    float *last = malloc((size_t)n_vocab * sizeof *last), *br = malloc((size_t)(n * n_vocab) * sizeof *br);
    float *want = malloc((size_t)(n * n_vocab) * sizeof *want);
    cr_assert_eq(prefix_eval(p, ids, n_prefix, last), 0, "%s", ig_error_message());
    cr_assert_eq(prefix_eval_branch(p, ids, n_prefix, n, br), 0, "%s", ig_error_message());
    cr_assert_eq(model_forward(ref, c, ids, n, n_prefix - 1, want), 0, "%s", ig_error_message());
    cr_expect_eq(memcmp(last, want, sizeof(float) * (size_t)n_vocab), 0, "the prefix's last row differs");
    cr_expect_eq(memcmp(br, want + n_vocab, sizeof(float) * (size_t)((n - n_prefix) * n_vocab)), 0,
                 "the branch's rows differ");
    free(last);
    free(br);
    free(want);
    model_ctx_destroy(c);
    prefix_ctx_destroy(p);
    model_destroy(m);
    model_destroy(ref);
    model_src_close(src);
    model_src_close(src_r);
}
