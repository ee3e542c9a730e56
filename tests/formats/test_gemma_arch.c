/* test_gemma_arch.c — gemma2 / gemma3 in formats/ and the per-block choices of model/arch_gemma.c.
 *
 * Expected values come from transformers' Gemma2Config / Gemma3TextConfig defaults, llama.cpp's
 * converter (norm weights + 1, its key list) and llama.cpp's loader (llama-model.cpp: gemma2
 * slides on even blocks, gemma3 on l % 6 != 5 with RoPE base 10000 there, query scale
 * 1/sqrt(head_dim) or 1/sqrt(n_embd / n_head) for the 27B shapes), as formats/gemma_arch.h lists.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "common/ig_half.h"
#include "formats/gemma_arch.h"
#include "formats/ggml_type.h"
#include "formats/gguf.h"
#include "formats/hf_config.h"
#include "formats/model_src.h"
#include "model/arch_gemma.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define GEMMA_BASE                                                                                            \
    "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 6, \"num_attention_heads\": 4, " \
    "\"num_key_value_heads\": 2, \"head_dim\": 32, \"vocab_size\": 300"

Test(gemma_arch, gemma2_config_takes_its_keys_and_class_defaults)
{
    struct model_hparams hp;
    const char *json = "{\"model_type\": \"gemma2\", " GEMMA_BASE ", \"query_pre_attn_scalar\": 144, "
                       "\"sliding_window\": 4096, \"hidden_activation\": \"gelu_pytorch_tanh\"}";
    cr_assert_eq(hf_config_parse(&hp, json, "mem/config.json"), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "gemma2");
    cr_expect(hp.head_dim_explicit && hp.head_dim == 32);
    cr_expect_eq(hp.attn_softcap, 50.0f, "Gemma2Config's attn_logit_softcapping default");
    cr_expect_eq(hp.final_softcap, 30.0f, "Gemma2Config's final_logit_softcapping default");
    cr_expect_eq(hp.rms_eps, 1e-6f, "Gemma2Config's rms_norm_eps default");
    cr_expect_eq(hp.sliding_window, 4096);
    cr_expect_eq(hp.swa_pattern, 2);
    cr_expect_eq(hp.query_scale, 1.0f / 12.0f, "1/sqrt(query_pre_attn_scalar 144)");
    cr_expect_eq(hp.rope_theta_swa, 0.0f, "gemma2's blocks share one RoPE base");
    /* null turns a soft cap off, as HF's None does */
    json = "{\"model_type\": \"gemma2\", " GEMMA_BASE ", \"attn_logit_softcapping\": null}";
    cr_assert_eq(hf_config_parse(&hp, json, "mem/config.json"), 0, "%s", ig_error_message());
    cr_expect_eq(hp.attn_softcap, 0.0f);
    cr_expect_eq(hp.final_softcap, 30.0f);
}

Test(gemma_arch, gemma3_config_takes_its_keys)
{
    struct model_hparams hp;
    const char *json = "{\"architectures\": [\"Gemma3ForCausalLM\"], " GEMMA_BASE ", \"sliding_window\": 512, "
                       "\"rope_theta\": 1000000, \"rope_local_base_freq\": 10000, \"sliding_window_pattern\": 6, "
                       "\"final_logit_softcapping\": null, \"attn_logit_softcapping\": null}";
    cr_assert_eq(hf_config_parse(&hp, json, "mem/config.json"), 0, "%s", ig_error_message());
    cr_expect_str_eq(hp.arch, "gemma3");
    cr_expect(hp.attn_qk_norm, "gemma3 has q/k norms");
    cr_expect_eq(hp.attn_softcap, 0.0f);
    cr_expect_eq(hp.final_softcap, 0.0f);
    cr_expect_eq(hp.sliding_window, 512);
    cr_expect_eq(hp.swa_pattern, 6);
    cr_expect_eq(hp.rope_theta, 1e6f);
    cr_expect_eq(hp.rope_theta_swa, 1e4f);
    cr_expect_eq(hp.query_scale, 1.0f / sqrtf(256.0f), "Gemma3TextConfig's query_pre_attn_scalar default 256");
    /* pattern 1: every block global, and no window (the converter writes none) */
    json = "{\"model_type\": \"gemma3_text\", " GEMMA_BASE ", \"sliding_window_pattern\": 1}";
    cr_assert_eq(hf_config_parse(&hp, json, "mem/config.json"), 0, "%s", ig_error_message());
    cr_expect_eq(hp.sliding_window, 0);
}

Test(gemma_arch, bad_gemma_keys_are_named)
{
    struct model_hparams hp;
    const char *json = "{\"model_type\": \"gemma2\", " GEMMA_BASE ", \"hidden_activation\": \"gelu\"}";
    cr_expect_eq(hf_config_parse(&hp, json, "mem/config.json"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "key 'hidden_activation'") && strstr(ig_error_message(), "gelu_pytorch_tanh"),
              "%s", ig_error_message());
    json = "{\"model_type\": \"gemma2\", " GEMMA_BASE ", \"attn_logit_softcapping\": \"50\"}";
    cr_expect_eq(hf_config_parse(&hp, json, "mem/config.json"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "key 'attn_logit_softcapping'"), "%s", ig_error_message());
    json = "{\"model_type\": \"gemma2\", " GEMMA_BASE ", \"sliding_window\": 16.5}";
    cr_expect_eq(hf_config_parse(&hp, json, "mem/config.json"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "key 'sliding_window'"), "%s", ig_error_message());
}

/* llama.cpp's converter adds 1 in the tensor's dtype (F16 stays F16, rounded again; F32 and BF16,
 * which it has made F32, add in F32), and only to names ending in "norm.weight". */
Test(gemma_arch, norm_weights_are_read_plus_one_in_the_stored_precision)
{
    cr_expect_eq(gemma_norm_shift("gemma2", "model.layers.0.post_feedforward_layernorm.weight"), 1.0f);
    cr_expect_eq(gemma_norm_shift("gemma3", "model.layers.3.self_attn.q_norm.weight"), 1.0f);
    cr_expect_eq(gemma_norm_shift("gemma2", "model.layers.0.mlp.up_proj.weight"), 0.0f);
    cr_expect_eq(gemma_norm_shift("llama", "model.norm.weight"), 0.0f);
    /* 0.0123 in F16 is 0.0122985...; 1 + that = 1.0122985 is 12.59 F16 ulps (2^-10) above 1, so it
     * rounds to 1 + 13·2^-10 = 1.0126953125 (in F32 it would stay 1.0122985) */
    const uint16_t h[2] = {ig_fp32_to_fp16(0.0123f), ig_fp32_to_fp16(-0.5f)};
    struct src_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "blk.0.attn_norm.weight");
    t.n_dims = 1;
    t.ne[0] = 2;
    t.ne[1] = t.ne[2] = t.ne[3] = 1;
    t.type = GGML_TYPE_F16;
    t.data = (const uint8_t *)h;
    t.size_bytes = sizeof h;
    t.norm_shift = 1.0f;
    float out[2];
    cr_assert_eq(src_tensor_read_rows_f32(&t, 0, 1, out), 0);
    cr_expect_eq(out[0], 1.0126953125f, "F16: %.9g", (double)out[0]);
    cr_expect_eq(out[1], 0.5f);
    const float f[2] = {0.0123f, -0.5f};
    t.type = GGML_TYPE_F32;
    t.data = (const uint8_t *)f;
    t.size_bytes = sizeof f;
    cr_assert_eq(src_tensor_read_rows_f32(&t, 0, 1, out), 0);
    cr_expect_eq(out[0], 0.0123f + 1.0f, "F32: added in F32");
}

Test(gemma_arch, gguf_defaults_follow_llama_cpps_loader)
{
    struct model_hparams hp;
    memset(&hp, 0, sizeof hp);
    snprintf(hp.arch, sizeof hp.arch, "gemma2");
    hp.n_layer = 46;   /* gemma-2-27b: 4608 / 32 heads = 144, head_dim 128 */
    hp.n_embd = 4608;
    hp.n_head = 32;
    hp.head_dim = 128;
    gemma_hparams_gguf_defaults(&hp);
    cr_expect_eq(hp.query_scale, 1.0f / 12.0f);
    cr_expect(hp.attn_softcap == 50.0f && hp.final_softcap == 30.0f && hp.sliding_window == 4096 && hp.swa_pattern == 2);
    hp.n_layer = 42;   /* gemma-2-9b: head_dim 256 */
    hp.head_dim = 256;
    gemma_hparams_gguf_defaults(&hp);
    cr_expect_eq(hp.query_scale, 1.0f / 16.0f);
    snprintf(hp.arch, sizeof hp.arch, "gemma3");
    gemma_hparams_gguf_defaults(&hp);
    cr_expect(hp.attn_softcap == 0.0f && hp.final_softcap == 0.0f && hp.swa_pattern == 6 && hp.rope_theta_swa == 1e4f);
}

Test(gemma_arch, blocks_slide_and_take_their_rope_base_by_pattern)
{
    struct model_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.rope_theta = 1e6f;
    hp.rope_theta_swa = 1e4f;
    hp.sliding_window = 512;
    hp.swa_pattern = 6;
    hp.query_scale = 0.0625f;
    for (int64_t l = 0; l < 12; l++) {
        struct backend_attn_opts o;
        float base;
        bool scaled;
        model_block_attn(&hp, l, &o, &base, &scaled);
        const bool global = l % 6 == 5;
        cr_expect_eq(o.window, global ? 0 : 512, "block %lld", (long long)l);
        cr_expect_eq(base, global ? 1e6f : 1e4f, "block %lld", (long long)l);
        cr_expect_eq(scaled, global, "block %lld: the linear RoPE scaling is the global blocks'", (long long)l);
        cr_expect_eq(o.scale, 0.0625f);
    }
    hp.swa_pattern = 2;   /* gemma2: even blocks slide */
    hp.rope_theta_swa = 0;
    cr_expect(model_block_slides(&hp, 0) && !model_block_slides(&hp, 1) && model_block_slides(&hp, 2));
    hp.swa_pattern = 0;   /* phi3 and llama: a window key alone slides nothing */
    cr_expect(!model_block_slides(&hp, 0));
    struct backend_attn_opts o;
    float base;
    bool scaled;
    memset(&hp, 0, sizeof hp);
    hp.rope_theta = 10000.0f;
    model_block_attn(&hp, 3, &o, &base, &scaled);
    cr_expect(!model_attn_opts_any(&o) && base == 10000.0f && scaled, "llama: plain attention");
}

/* `ingot convert` of a synthetic gemma2 writes the converter's keys, with their types, and no
 * output.weight (llama.cpp's gemma2 loads none: one more tensor fails its count). */
Test(gemma_arch, converted_gemma2_has_the_converters_keys, .timeout = 120)
{
    char dir[4200], gguf[4300];
    snprintf(dir, sizeof dir, "%s/g2", test_tmp_dir());
    snprintf(gguf, sizeof gguf, "%s/g2.gguf", test_tmp_dir());
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "gemma2", "-o", dir, "--dim", "64", "--layers", "2", "--heads", "4",
                           "--kv-heads", "2", "--ff", "128", "--corpus-lines", "10", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    const char *conv[] = {"convert", dir, "-o", gguf, "--type", "F16", "-q", NULL};
    test_run_ingot(&r, conv);
    cr_assert_eq(r.exit_code, 0, "convert: %s", r.err);
    struct gguf_file *g;
    cr_assert_eq(gguf_open(&g, gguf), 0, "%s", ig_error_message());
    uint32_t u;
    float f;
    bool b;
    cr_expect(gguf_get_u32(g, "gemma2.attention.sliding_window", &u) == 0 && u == 16);
    cr_expect(gguf_get_u32(g, "gemma2.attention.key_length", &u) == 0 && u == 16);
    cr_expect(gguf_get_u32(g, "gemma2.attention.value_length", &u) == 0 && u == 16);
    cr_expect(gguf_get_f32(g, "gemma2.attn_logit_softcapping", &f) == 0 && f == 50.0f);
    cr_expect(gguf_get_f32(g, "gemma2.final_logit_softcapping", &f) == 0 && f == 30.0f);
    cr_expect(gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b) == 0 && !b);
    cr_expect(gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u) == 0 && u == 2);
    cr_expect(gguf_find_key(g, "gemma2.rope.freq_base") < 0 && gguf_find_key(g, "gemma2.vocab_size") < 0,
              "Gemma2Model writes neither");
    cr_expect(gguf_find_tensor(g, "output.weight") < 0);
    cr_expect(gguf_find_tensor(g, "blk.1.post_ffw_norm.weight") >= 0 && gguf_find_tensor(g, "blk.1.post_attention_norm.weight") >= 0);
    /* the norms hold 1 + w: near 1, not near 0 (the synthetic w is N(0, 0.1)) */
    int64_t i = gguf_find_tensor(g, "output_norm.weight");
    cr_assert_geq(i, 0);
    const struct gguf_tensor_info *ti = gguf_tensor_at(g, i);
    cr_assert_eq(ti->type, GGML_TYPE_F32, "1-D tensors are F32, as the converter writes them");
    double mean = 0;
    for (int k = 0; k < 64; k++) {
        float v;
        memcpy(&v, ti->data + 4 * k, 4);
        mean += v / 64.0;
    }
    cr_expect(fabs(mean - 1.0) < 0.1, "mean of output_norm %g", mean);
    gguf_close(g);
}
