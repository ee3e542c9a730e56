/* test_iq_verify.c — `ingot verify` scores llama.cpp's IQ/TQ/MXFP4 files as llama-perplexity
 * does.
 *
 * Golden figures: shared/data/peers/tl3m-more/README.md, llama-perplexity -c 256 on
 * tl3m/split_eval_ts.txt with an F16 KLD base (tl3m-F16.gguf), for
 *   tl3m-imx-IQ1_S.gguf (IQ1_S, IQ2_XXS, Q2_K, Q5_K): PPL 13.275153, mean KLD 0.093260
 *   tl3m-imx-TQ1_0.gguf (TQ1_0, Q6_K, Q4_K):           PPL 25.287825, mean KLD 0.697983
 *   tl3m-imx-pure-MXFP4_MOE.gguf (MXFP4):              PPL 12.113132, mean KLD 0.011024
 * Tolerances as for llama.cpp's k-quant files in tests/verify/test_verify_cli.c: 1% for
 * perplexity (llama.cpp also quantizes activations inside its dot products), 5% for mean KLD.
 * Suite: iq_verify.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

Test(iq_verify, tl3m_iq1_s_tq1_0_and_mxfp4_files_match_llama_perplexity, .timeout = 1200)
{
    static const struct {
        const char *file;
        double ppl, kld;
    } want[] = {
        {"tl3m-imx-IQ1_S.gguf", 13.275153, 0.093260},
        {"tl3m-imx-TQ1_0.gguf", 25.287825, 0.697983},
        {"tl3m-imx-pure-MXFP4_MOE.gguf", 12.113132, 0.011024},
    };
    char paths[3][4200], src[4200], text[4200], json_path[4200];
    for (int i = 0; i < 3; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "peers/tl3m-more/%s", want[i].file);
        const char *p = test_shared_path(rel);
        if (!p)
            cr_skip_test("shared/data/peers/tl3m-more is absent");
        snprintf(paths[i], sizeof paths[i], "%s", p);
    }
    const char *s = test_shared_path("peers/tl3m/tl3m-F16.gguf"), *t = test_shared_path("tl3m/split_eval_ts.txt");
    if (!s || !t)
        cr_skip_test("shared/data/peers/tl3m or tl3m is absent");
    snprintf(src, sizeof src, "%s", s);
    snprintf(text, sizeof text, "%s", t);
    snprintf(json_path, sizeof json_path, "%s/v.json", test_tmp_dir());
    const char *argv[] = {"verify", paths[0], paths[1], paths[2], "--source", src, "--eval", text,
                          "--ctx", "256", "--json-out", json_path, "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify failed: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    json_t *c = json_object_get(j, "containers");
    cr_assert_eq(json_array_size(c), 3);
    test_expect_close(test_json_num(json_object_get(j, "source"), "ppl"), 11.9266, 0.001, "F16 source PPL");
    for (size_t i = 0; i < 3; i++) {
        json_t *a = json_array_get(c, i);
        char what[128];
        snprintf(what, sizeof what, "%s PPL", want[i].file);
        test_expect_close(test_json_num(a, "ppl"), want[i].ppl, 0.01, what);
        snprintf(what, sizeof what, "%s mean KLD", want[i].file);
        test_expect_close(test_json_num(a, "kld_mean"), want[i].kld, 0.05, what);
    }
    json_decref(j);
}
