/* test_hf_quant_verify.c — `ingot verify GPTQ_FOLDER --source FP_FOLDER` scores a third-party
 * quantized folder like any container.
 *
 * tests/data/tiny-llama's linears are quantized here the way AutoGPTQ's quantizer sets scale
 * and zero (shared/reference/thirdparty-formats.md, "Scale, zero and sym/asym": range widened
 * to include 0, scale = (xmax - xmin)/maxq rounded to f16, zero = round(-xmin/scale),
 * q = clamp(round(w/scale) + zero, 0, maxq)) — round-to-nearest, no Hessian update, which is
 * all the reader needs — and stored as GPTQ v2 (asym) folders of 4 and 8 bits, group 16.
 * Expected: verify exits 0, every figure finite, KLD > 0, and 8 bits drift less than 4.
 */
#include "hf_quant_build.h"

#include "../test_util.h"
#include "../../common/ig_half.h"
#include "../../formats/ggml_type.h"
#include "../../formats/safetensors.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GS 16

/* Quantize one [n_out][n_in] F32 weight into GPTQ v2 parts under prefix. */
static void quantize_linear(struct qb_list *l, const char *prefix, const float *W, int64_t n_out, int64_t n_in, int bits)
{
    const int maxq = (1 << bits) - 1;
    const int64_t n_groups = n_in / GS, qw_rows = n_in * bits / 32, qz_cols = n_out * bits / 32;
    uint32_t *qw = calloc((size_t)(qw_rows * n_out), 4), *qz = calloc((size_t)(n_groups * qz_cols), 4);
    uint16_t *sc = calloc((size_t)(n_groups * n_out), 2);
    int32_t *g_idx = calloc((size_t)n_in, 4);
    for (int64_t i = 0; i < n_in; i++)
        g_idx[i] = (int32_t)(i / GS);
    for (int64_t o = 0; o < n_out; o++) {
        for (int64_t g = 0; g < n_groups; g++) {
            float xmin = 0, xmax = 0;
            for (int64_t i = g * GS; i < (g + 1) * GS; i++) {
                xmin = fminf(xmin, W[o * n_in + i]);
                xmax = fmaxf(xmax, W[o * n_in + i]);
            }
            if (xmin == 0 && xmax == 0)
                xmin = -1, xmax = 1;
            uint16_t s16 = ig_fp32_to_fp16((xmax - xmin) / (float)maxq);
            float s = ig_fp16_to_fp32(s16);
            int zero = (int)fminf(fmaxf(roundf(-xmin / s), 0), (float)maxq);
            sc[g * n_out + o] = s16;
            qb_pack(qz + g * qz_cols, 1, o, bits, (uint32_t)zero);
            for (int64_t i = g * GS; i < (g + 1) * GS; i++) {
                int q = (int)fminf(fmaxf(roundf(W[o * n_in + i] / s) + (float)zero, 0), (float)maxq);
                qb_pack(qw + o, n_out, i, bits, (uint32_t)q);
            }
        }
    }
    char name[200];
    snprintf(name, sizeof name, "%s.qweight", prefix);
    qb_add(l, name, "I32", 2, qw_rows, n_out, qw, (size_t)(qw_rows * n_out) * 4);
    snprintf(name, sizeof name, "%s.qzeros", prefix);
    qb_add(l, name, "I32", 2, n_groups, qz_cols, qz, (size_t)(n_groups * qz_cols) * 4);
    snprintf(name, sizeof name, "%s.scales", prefix);
    qb_add(l, name, "F16", 2, n_groups, n_out, sc, (size_t)(n_groups * n_out) * 2);
    snprintf(name, sizeof name, "%s.g_idx", prefix);
    qb_add(l, name, "I32", 1, n_in, 0, g_idx, (size_t)n_in * 4);
    free(qw);
    free(qz);
    free(sc);
    free(g_idx);
}

static const char *gptq_of_tiny_llama(int bits)
{
    struct st_model *st = NULL;
    cr_assert_eq(st_open(&st, test_fixture_path("tiny-llama/model.safetensors")), 0);
    struct qb_list l = {0};
    for (int64_t i = 0; i < st_n_tensors(st); i++) {
        const struct st_tensor *t = st_tensor_at(st, i);
        cr_assert_eq(t->type, GGML_TYPE_F32, "%s", t->name);
        char prefix[160];
        size_t n = strlen(t->name);
        bool linear = strstr(t->name, "_proj.weight") && n < sizeof prefix;
        if (linear) {
            snprintf(prefix, sizeof prefix, "%.*s", (int)(n - strlen(".weight")), t->name);
            float *W = malloc(t->size_bytes);
            memcpy(W, t->data, t->size_bytes);
            quantize_linear(&l, prefix, W, t->shape[0], t->shape[1], bits);
            free(W);
        } else {
            qb_add(&l, t->name, "F32", t->n_dims, t->shape[0], t->n_dims > 1 ? t->shape[1] : 0, t->data, t->size_bytes);
        }
    }
    st_close(st);
    char q[256];
    snprintf(q, sizeof q, "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": %d, \"sym\": false, \"desc_act\": false, \"checkpoint_format\": \"gptq_v2\"}",
             bits, GS);
    return qb_folder(&l, 32, 64, 4, 2, q);
}

Test(hf_quant_verify, gptq_folder_scored_against_its_source, .timeout = 300)
{
    char q4[4096], q8[4096], text[4200], json[4200];
    snprintf(q4, sizeof q4, "%s", gptq_of_tiny_llama(4));
    snprintf(q8, sizeof q8, "%s", gptq_of_tiny_llama(8));
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
