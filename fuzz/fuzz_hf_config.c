/* fuzz_hf_config.c — libFuzzer harness for the config.json reader (formats/hf_config.h).
 *
 * Each input is a config.json. It is parsed twice: from memory (hf_config_parse, which
 * reads up to the first NUL) and from a file in a private temporary folder
 * (hf_config_read, which reads every byte, so a NUL inside is a JSON error). Any input may
 * be rejected; none may crash, leak or leave fields set on failure, and:
 *   - an accepted config satisfies what hf_config.h promises (counts in 1..2^31-1, heads
 *     dividing, an even head size, finite positive eps and rope base, a known scaling);
 *   - when the input has no NUL, both entry points agree on the status and every field.
 * Seeds: tests/data/fuzz-seeds/fuzz_hf_config (written by fuzz/make_seeds.py).
 * Build and run: make build/fuzz/fuzz_hf_config && build/fuzz/fuzz_hf_config -max_total_time=30
 */
#include "common/ig_error.h"
#include "formats/hf_config.h"
#include "formats/model_arch.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

/* ---- oracles ---------------------------------------------------------------------------- */

static bool in_dim_range(int64_t v)
{
    return v > 0 && v <= INT32_MAX;
}

static void check_accepted(const struct model_hparams *hp)
{
    if (!model_arch_find(hp->arch))   /* one of formats/model_arch.h's table */
        __builtin_trap();
    /* gemma: soft caps and the query scale finite and >= 0, the window pattern sane */
    if (!isfinite(hp->attn_softcap) || hp->attn_softcap < 0 || !isfinite(hp->final_softcap) || hp->final_softcap < 0 ||
        !isfinite(hp->query_scale) || hp->query_scale < 0 || hp->swa_pattern < 0 || hp->sliding_window < 0)
        __builtin_trap();
    const int64_t dims[] = {hp->n_vocab, hp->n_ctx_train, hp->n_embd, hp->n_layer, hp->n_ff,
                            hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_rot};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (!in_dim_range(dims[i]))
            __builtin_trap();
    if (hp->n_head % hp->n_head_kv != 0 || hp->head_dim % 2 != 0 || hp->n_rot != hp->head_dim ||
        hp->n_head * hp->head_dim > INT32_MAX)
        __builtin_trap();
    if (!isfinite(hp->rms_eps) || !(hp->rms_eps > 0) || !isfinite(hp->rope_theta) || !(hp->rope_theta > 0))
        __builtin_trap();
    if (!isfinite(hp->rope_scaling_factor) || hp->rope_scaling_factor < 0 || hp->rope_scaling_orig_ctx < 0)
        __builtin_trap();
    if (strcmp(hp->arch, "qwen2") == 0 && !hp->attn_qkv_bias)
        __builtin_trap();
    /* mixtral: no experts, or at least 2 with 1..n_expert per token */
    if (hp->n_expert != 0 && (hp->n_expert < 2 || hp->n_expert_used < 1 || hp->n_expert_used > hp->n_expert))
        __builtin_trap();
    if (hp->n_expert == 0 && hp->n_expert_used != 0)
        __builtin_trap();
}

/* A failed parse leaves *hp zeroed and says why. */
static void check_rejected(const struct model_hparams *hp)
{
    static const struct model_hparams zero;
    if (memcmp(hp, &zero, sizeof zero) != 0 || ig_error_message()[0] == '\0')
        __builtin_trap();
}

static bool same_hparams(const struct model_hparams *a, const struct model_hparams *b)
{
    return strcmp(a->arch, b->arch) == 0 && strcmp(a->name, b->name) == 0 && a->n_vocab == b->n_vocab &&
           a->n_ctx_train == b->n_ctx_train && a->n_embd == b->n_embd && a->n_layer == b->n_layer &&
           a->n_ff == b->n_ff && a->n_head == b->n_head && a->n_head_kv == b->n_head_kv &&
           a->head_dim == b->head_dim && a->n_rot == b->n_rot && a->head_dim_explicit == b->head_dim_explicit &&
           memcmp(&a->rms_eps, &b->rms_eps, sizeof a->rms_eps) == 0 &&
           memcmp(&a->rope_theta, &b->rope_theta, sizeof a->rope_theta) == 0 &&
           a->tie_embeddings == b->tie_embeddings && strcmp(a->rope_scaling_type, b->rope_scaling_type) == 0 &&
           memcmp(&a->rope_scaling_factor, &b->rope_scaling_factor, sizeof(float)) == 0 &&
           a->rope_scaling_orig_ctx == b->rope_scaling_orig_ctx && a->attn_qkv_bias == b->attn_qkv_bias;
}

/* ---- entry point -------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_hparams mem, file;
    char path[FUZZ_PATH_MAX];
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ig_error_clear();
    int rc_mem = hf_config_parse(&mem, text, "config.json");
    fuzz_note("fuzz_hf_config", "hf_config_parse", rc_mem, ig_error_message());
    if (rc_mem == 0)
        check_accepted(&mem);
    else
        check_rejected(&mem);
    free(text);

    const char *dir = fuzz_dir("fuzz_hf_config");
    if (!dir || fuzz_write_file(dir, "config.json", data, size))
        return 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    ig_error_clear();
    int rc_file = hf_config_read(&file, path);
    if (rc_file == 0)
        check_accepted(&file);
    else
        check_rejected(&file);
    if (!memchr(data, 0, size) && (rc_mem != rc_file || (rc_mem == 0 && !same_hparams(&mem, &file))))
        __builtin_trap();
    return 0;
}
