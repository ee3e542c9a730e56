/* synth_arch.c — the architectures `ingot synth --arch` can write (see synth.h).
 *
 * Each row names the HF model_type and class the architecture's checkpoints carry, lists a
 * block's tensors under their HF names and shapes, and adds the config.json keys that
 * transformers' config class for it has beyond llama's. The llama row is the original
 * synthetic model, unchanged: the same seed gives the same bytes as before --arch existed.
 */
#include "synth.h"

#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------ */

int64_t synth_head_dim(const struct synth_opts *o)
{
    return o->head_dim > 0 ? o->head_dim : o->dim / o->heads;
}

/* t[n] = "model.layers.L.<name>" of [rows, cols]; returns n + 1. */
static int64_t put(struct synth_tensor *t, int64_t n, int64_t l, const char *name, int64_t rows, int64_t cols,
                   enum synth_init init)
{
    snprintf(t[n].name, sizeof t[n].name, "model.layers.%lld.%s", (long long)l, name);
    t[n].rows = rows;
    t[n].cols = cols;
    t[n].init = init;
    return n + 1;
}

/* Llama's attention: q/k/v/o projections and the two norms. */
static int64_t llama_attention(const struct synth_opts *o, int64_t l, struct synth_tensor *t, int64_t n)
{
    const int64_t hd = synth_head_dim(o), q = o->heads * hd, kv = o->kv_heads * hd;
    n = put(t, n, l, "input_layernorm.weight", o->dim, 0, SYNTH_ONES);
    n = put(t, n, l, "post_attention_layernorm.weight", o->dim, 0, SYNTH_ONES);
    n = put(t, n, l, "self_attn.k_proj.weight", kv, o->dim, SYNTH_RANDOM);
    n = put(t, n, l, "self_attn.o_proj.weight", o->dim, q, SYNTH_RANDOM);
    n = put(t, n, l, "self_attn.q_proj.weight", q, o->dim, SYNTH_RANDOM);
    return put(t, n, l, "self_attn.v_proj.weight", kv, o->dim, SYNTH_RANDOM);
}

/* Llama's SwiGLU feed-forward. */
static int64_t llama_mlp(const struct synth_opts *o, int64_t l, struct synth_tensor *t, int64_t n)
{
    n = put(t, n, l, "mlp.down_proj.weight", o->dim, o->ff, SYNTH_RANDOM);
    n = put(t, n, l, "mlp.gate_proj.weight", o->ff, o->dim, SYNTH_RANDOM);
    return put(t, n, l, "mlp.up_proj.weight", o->ff, o->dim, SYNTH_RANDOM);
}

/* ---- llama -------------------------------------------------------------------------------- */

static int64_t llama_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t)
{
    return llama_mlp(o, l, t, llama_attention(o, l, t, 0));
}

/* ---- qwen3: llama + per-head q/k RMSNorm, explicit head_dim, no biases --------------------- */

static int64_t qwen3_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t)
{
    int64_t n = llama_block(o, l, t);
    n = put(t, n, l, "self_attn.q_norm.weight", synth_head_dim(o), 0, SYNTH_NEAR_ONE);
    return put(t, n, l, "self_attn.k_norm.weight", synth_head_dim(o), 0, SYNTH_NEAR_ONE);
}

/* Qwen3Config: head_dim always present, attention_bias false, Qwen3's eps and rope base. */
static void qwen3_config(const struct synth_opts *o, json_t *config)
{
    json_object_set_new(config, "head_dim", json_integer(synth_head_dim(o)));
    json_object_set_new(config, "attention_bias", json_false());
    json_object_set_new(config, "rms_norm_eps", json_real(1e-6));
    json_object_set_new(config, "rope_theta", json_real(1000000.0));
}

/* ---- mixtral: llama attention, a router and experts w1 (gate), w2 (down), w3 (up) ---------- */

static int64_t mixtral_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t)
{
    int64_t n = llama_attention(o, l, t, 0);
    n = put(t, n, l, "block_sparse_moe.gate.weight", o->experts, o->dim, SYNTH_RANDOM);
    for (int64_t e = 0; e < o->experts; e++) {
        char name[64];
        snprintf(name, sizeof name, "block_sparse_moe.experts.%lld.w1.weight", (long long)e);
        n = put(t, n, l, name, o->ff, o->dim, SYNTH_RANDOM);
        snprintf(name, sizeof name, "block_sparse_moe.experts.%lld.w2.weight", (long long)e);
        n = put(t, n, l, name, o->dim, o->ff, SYNTH_RANDOM);
        snprintf(name, sizeof name, "block_sparse_moe.experts.%lld.w3.weight", (long long)e);
        n = put(t, n, l, name, o->ff, o->dim, SYNTH_RANDOM);
    }
    return n;
}

static void mixtral_config(const struct synth_opts *o, json_t *config)
{
    json_object_set_new(config, "num_local_experts", json_integer(o->experts));
    json_object_set_new(config, "num_experts_per_tok", json_integer(o->experts_used));
    json_object_set_new(config, "rope_theta", json_real(1000000.0));
}

static const char *mixtral_check(const struct synth_opts *o)
{
    return o->experts < 2 || o->experts_used < 1 || o->experts_used > o->experts
               ? "--experts must be at least 2 and --experts-used between 1 and --experts"
               : NULL;
}

/* ---- phi3: fused qkv_proj and gate_up_proj ------------------------------------------------ */

static int64_t phi3_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t)
{
    const int64_t hd = synth_head_dim(o), q = o->heads * hd, kv = o->kv_heads * hd;
    int64_t n = put(t, 0, l, "input_layernorm.weight", o->dim, 0, SYNTH_ONES);
    n = put(t, n, l, "post_attention_layernorm.weight", o->dim, 0, SYNTH_ONES);
    n = put(t, n, l, "self_attn.qkv_proj.weight", q + 2 * kv, o->dim, SYNTH_RANDOM);
    n = put(t, n, l, "self_attn.o_proj.weight", o->dim, q, SYNTH_RANDOM);
    n = put(t, n, l, "mlp.gate_up_proj.weight", 2 * o->ff, o->dim, SYNTH_RANDOM);
    return put(t, n, l, "mlp.down_proj.weight", o->dim, o->ff, SYNTH_RANDOM);
}

/* Rotated dimensions of a phi3 head: int(partial_rotary_factor · dim) // heads, as llama.cpp's
 * converter computes them, or the whole head. */
static int64_t phi3_rope_dims(const struct synth_opts *o)
{
    return o->partial_rotary > 0 ? (int64_t)(o->partial_rotary * (double)o->dim) / o->heads : synth_head_dim(o);
}

/* Phi3Config: no sliding window (llama.cpp's converter writes 0 then); no rope scaling, or with
 * --rope longrope Phi-3-128k's kind: long_factor and short_factor of rope dims / 2 entries
 * each, seeded, rounded to fp32 so the GGUF holds the config's values exactly. The long factors
 * grow from 1 to about 16 across the pairs (low frequencies stretched most, as in the real
 * releases), the short ones stay within 1..1.25. */
static void phi3_config(const struct synth_opts *o, json_t *config)
{
    const bool longrope = o->rope && strcmp(o->rope, "longrope") == 0;
    const int64_t orig = longrope ? (o->orig_ctx > 0 ? o->orig_ctx : o->ctx / 8) : o->ctx;
    json_object_set_new(config, "original_max_position_embeddings", json_integer(orig));
    json_object_set_new(config, "sliding_window", json_null());
    if (o->partial_rotary > 0)
        json_object_set_new(config, "partial_rotary_factor", json_real(o->partial_rotary));
    if (!longrope) {
        json_object_set_new(config, "rope_scaling", json_null());
        return;
    }
    const int64_t n = phi3_rope_dims(o) / 2;
    json_t *lf = json_array(), *sf = json_array(), *rs = json_object();
    uint64_t state = o->seed * 0x9e3779b97f4a7c15ull + 0x10e6;
    for (int64_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const double u = (double)(state >> 11) / 9007199254740992.0;   /* [0, 1) */
        const double r = n > 1 ? (double)i / (double)(n - 1) : 0.0;
        json_array_append_new(lf, json_real((double)(float)(1.0 + 15.0 * r * r * (0.9 + 0.2 * u))));
        json_array_append_new(sf, json_real((double)(float)(1.0 + 0.25 * r * u)));
    }
    json_object_set_new(rs, "type", json_string("longrope"));
    json_object_set_new(rs, "long_factor", lf);
    json_object_set_new(rs, "short_factor", sf);
    json_object_set_new(config, "rope_scaling", rs);
}

static const char *phi3_check(const struct synth_opts *o)
{
    if (o->rope && strcmp(o->rope, "longrope") != 0)
        return "--rope: expected longrope";
    if (o->orig_ctx > 0 && !o->rope)
        return "--orig-ctx applies to --rope longrope only";
    if (o->rope && (o->orig_ctx > 0 ? o->orig_ctx : o->ctx / 8) < 2)
        return "--orig-ctx (default --ctx / 8) must be at least 2";
    const int64_t d = phi3_rope_dims(o);
    if (o->partial_rotary > 0 && (d <= 0 || d % 2 || d > synth_head_dim(o)))
        return "--partial-rotary F must give int(F x dim) / heads rotated dimensions, even and at most the head size";
    return NULL;
}

/* ---- the table ---------------------------------------------------------------------------- */

static const struct synth_arch archs[] = {
    {"llama", "llama", "LlamaForCausalLM", SYNTH_TOK_SPM, llama_block, NULL, NULL},
    {"qwen3", "qwen3", "Qwen3ForCausalLM", SYNTH_TOK_BYTE_BPE, qwen3_block, qwen3_config, NULL},
    {"mixtral", "mixtral", "MixtralForCausalLM", SYNTH_TOK_SPM, mixtral_block, mixtral_config, mixtral_check},
    {"phi3", "phi3", "Phi3ForCausalLM", SYNTH_TOK_SPM, phi3_block, phi3_config, phi3_check},
    /* synth_gemma.c */
    {"gemma2", "gemma2", "Gemma2ForCausalLM", SYNTH_TOK_GEMMA_SPM, synth_gemma2_block, synth_gemma2_config, NULL},
    {"gemma3", "gemma3_text", "Gemma3ForCausalLM", SYNTH_TOK_GEMMA_SPM, synth_gemma3_block, synth_gemma3_config, NULL},
};
#define N_ARCHS (sizeof archs / sizeof archs[0])

const struct synth_arch *synth_arch_find(const char *name)
{
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strcmp(name, archs[i].name) == 0)
            return &archs[i];
    return NULL;
}

const char *synth_arch_names(char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_ARCHS && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", archs[i].name);
    return buf;
}
