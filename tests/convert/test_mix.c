/* test_mix.c — ingot's per-tensor types equal llama-quantize's for every mix.
 *
 * Golden: ../shared/data/peers/{tl3m,stories260K}/hashes/<model>-<MIX>.txt, one line per
 * tensor written by llama-quantize: "name ggml_type_id shape bytes sha256". The plan for the
 * same input GGUF must give every tensor the same type, in the same order.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "convert/mix.h"
#include "convert/plan.h"
#include "formats/ggml_type.h"
#include "formats/model_src.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare the plan of src for mix with the hash file; returns tensors compared. */
static int check_mix(const char *model_rel, const char *hashes_rel, const char *mix, int flags, const char *ffn_down_type)
{
    const char *mp = test_shared_path(model_rel), *hp = test_shared_path(hashes_rel);
    if (!mp || !hp)
        cr_skip_test("../shared/data is missing");
    struct model_src *src;
    cr_assert_eq(model_src_open(&src, mp, NULL), 0, "%s", ig_error_message());
    struct plan_opts po = {.flags = flags, .output_type = -1, .embed_type = -1};
    if (ffn_down_type) {
        po.n_overrides = 1;
        po.override_pattern[0] = "ffn_down";
        po.override_type[0] = ggml_type_from_name(ffn_down_type);
    }
    struct plan plan;
    const struct file_type *ft = plan_file_type_find(mix);
    cr_assert_not_null(ft, "%s", mix);
    cr_assert_eq(plan_make(&plan, src, ft, &po), 0, "%s", ig_error_message());
    FILE *f = fopen(hp, "r");
    cr_assert_not_null(f);
    char line[512], name[128];
    int type, n = 0;
    /* the hash files list tensors sorted by name; look each up */
    while (fgets(line, sizeof line, f) && sscanf(line, "%127s %d", name, &type) == 2) {
        const struct plan_entry *e = NULL;
        for (int64_t i = 0; i < plan.n_entries; i++)
            if (strcmp(plan.entries[i].src->name, name) == 0)
                e = &plan.entries[i];
        cr_expect_not_null(e, "%s: %s is not in the plan", mix, name);
        if (e)
            cr_expect_eq(e->type, type, "%s: %s is %s, llama-quantize wrote %s", mix, name, ggml_type_name(e->type),
                         ggml_type_name(type));
        n++;
    }
    fclose(f);
    cr_expect_eq(n, plan.n_entries, "%s: tensor count", mix);
    plan_free(&plan);
    model_src_close(src);
    return n;
}

#define TL3M "peers/tl3m/tl3m-F16.gguf"

Test(mix, tl3m_every_mix_matches_llama_quantize)
{
    const char *mixes[] = {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M",
                           "Q6_K", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "F16"};
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        char hashes[128];
        snprintf(hashes, sizeof hashes, "peers/tl3m/hashes/tl3m-%s.txt", mixes[i]);
        cr_expect_eq(check_mix(TL3M, hashes, mixes[i], PLAN_DEFAULT, NULL), 39, "%s", mixes[i]);
    }
}

Test(mix, tl3m_imatrix_mixes_match_llama_quantize)
{
    const char *mixes[] = {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q4_0", "IQ4_NL"};
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        char hashes[128];
        snprintf(hashes, sizeof hashes, "peers/tl3m/hashes/tl3m-imx-%s.txt", mixes[i]);
        cr_expect_eq(check_mix(TL3M, hashes, mixes[i], PLAN_HAS_IMATRIX, NULL), 39, "imx %s", mixes[i]);
    }
}

Test(mix, stories260K_fallbacks_and_tensor_type_overrides)
{
    /* rows of 64 and 172: k-quants fall back (Q5_0, Q8_0, F16); Q8_0 and Q4_0 were made with
     * --tensor-type ffn_down=f16 (PROVENANCE: ffn_down rows are 172 wide) */
    const char *m = "gguf-stories260K/stories260K.gguf";
    cr_expect_eq(check_mix(m, "peers/stories260K/hashes/stories260K-Q4_K_M.txt", "Q4_K_M", 0, NULL), 48);
    cr_expect_eq(check_mix(m, "peers/stories260K/hashes/stories260K-Q8_0.txt", "Q8_0", 0, "F16"), 48);
    cr_expect_eq(check_mix(m, "peers/stories260K/hashes/stories260K-Q4_0.txt", "Q4_0", 0, "F16"), 48);
    cr_expect_eq(check_mix(m, "peers/stories260K/hashes/stories260K-F16.txt", "F16", 0, NULL), 48);
}

Test(mix, tensor_order_matches_llama_quantize_files)
{
    const char *files[] = {"peers/tl3m/tl3m-Q4_K_M.gguf", "peers/stories260K/stories260K-Q4_0.gguf"};
    const char *srcs[] = {TL3M, "gguf-stories260K/stories260K.gguf"};
    for (int k = 0; k < 2; k++) {
        const char *qp = test_shared_path(files[k]), *sp = test_shared_path(srcs[k]);
        if (!qp || !sp)
            cr_skip_test("../shared/data is missing");
        struct model_src *src, *q;
        cr_assert_eq(model_src_open(&src, sp, NULL), 0);
        cr_assert_eq(model_src_open(&q, qp, NULL), 0);
        struct plan plan;
        cr_assert_eq(plan_make(&plan, src, plan_file_type_find("Q4_K_M"), NULL), 0);
        cr_expect_eq(plan.n_entries, q->n_tensors);
        for (int64_t i = 0; i < plan.n_entries && i < q->n_tensors; i++)
            cr_expect_str_eq(plan.entries[i].src->name, q->tensors[i].name, "%s: tensor %lld", files[k], (long long)i);
        plan_free(&plan);
        model_src_close(src);
        model_src_close(q);
    }
}

Test(mix, use_more_bits_matches_the_published_layer_sets)
{
    /* gguf-facts.md section 4: n = 16 -> {0,1,4,7,10,13,14,15} */
    const int want16[] = {0, 1, 4, 7, 10, 13, 14, 15};
    int k = 0;
    for (int i = 0; i < 16; i++) {
        bool expect = k < 8 && want16[k] == i;
        cr_expect_eq(mix_use_more_bits(i, 16), expect, "layer %d of 16", i);
        k += expect;
    }
    cr_expect(mix_use_more_bits(27, 32) && !mix_use_more_bits(26, 32) && mix_use_more_bits(24, 32));
}
