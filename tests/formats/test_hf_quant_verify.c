/* test_hf_quant_verify.c — `ingot verify GPTQ_FOLDER --source FP_FOLDER` scores a third-party
 * quantized folder like any container.
 *
 * tests/data/tiny-llama's linears are quantized (qb_gptq_tiny_llama) the way AutoGPTQ's quantizer sets scale
 * and zero (shared/reference/thirdparty-formats.md, "Scale, zero and sym/asym": range widened
 * to include 0, scale = (xmax - xmin)/maxq rounded to f16, zero = round(-xmin/scale),
 * q = clamp(round(w/scale) + zero, 0, maxq)) — round-to-nearest, no Hessian update, which is
 * all the reader needs — and stored as GPTQ v2 (asym) folders of 4 and 8 bits, group 16.
 * Expected: verify exits 0, every figure finite, KLD > 0, and 8 bits drift less than 4.
 */
#include "hf_quant_build.h"

#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(hf_quant_verify, gptq_folder_scored_against_its_source, .timeout = 300)
{
    char q4[4096], q8[4096], text[4200], json[4200];
    snprintf(q4, sizeof q4, "%s", qb_gptq_tiny_llama(4, 16, false, false));
    snprintf(q8, sizeof q8, "%s", qb_gptq_tiny_llama(8, 16, false, false));
    const char *dir = test_tmp_dir();
    snprintf(text, sizeof text, "%s/eval.txt", dir);
    snprintf(json, sizeof json, "%s/v.json", dir);
    char body[8192] = "";
    for (int k = 0; k < 40; k++)
        strcat(body, "the cat sat on the mat and the dog ran to the park. ");
    cr_assert_eq(test_write_file(text, body, strlen(body)), 0);
    const char *argv[] = {"verify", q4, q8, "--source", test_fixture_path("tiny-llama"), "--eval", text, "--ctx", "32",
                          "--json-out", json, "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    json_t *c = json_object_get(j, "containers");
    cr_assert_eq(json_array_size(c), 2);
    double kld[2];
    for (int k = 0; k < 2; k++) {
        json_t *e = json_array_get(c, (size_t)k);
        kld[k] = json_number_value(json_object_get(e, "kld_mean"));
        double ppl = json_number_value(json_object_get(e, "ppl")), bpw = json_number_value(json_object_get(e, "bits_per_weight"));
        cr_expect(isfinite(kld[k]) && kld[k] > 0, "container %d: mean KLD %g", k, kld[k]);
        cr_expect(isfinite(ppl) && ppl > 1, "container %d: PPL %g", k, ppl);
        cr_expect(bpw > 0, "container %d: bpw %g", k, bpw);
    }
    cr_expect_lt(kld[1], kld[0], "8-bit KLD %g should be below 4-bit %g", kld[1], kld[0]);
    cr_log_info("tiny-llama GPTQ g16: mean KLD 4-bit %g, 8-bit %g", kld[0], kld[1]);
    json_decref(j);
}
