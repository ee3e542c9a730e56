/* hf_quant_build.c — tiny quantized HF folders for the hf_quant tests (see hf_quant_build.h). */
#include "hf_quant_build.h"

#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const qb_proj[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
const char *const qb_gguf[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

uint8_t *qb_fixture(const char *rel, size_t *n)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("%s is missing (../shared/data)", rel);
    uint8_t *b = test_read_file(p, n);
    cr_assert_not_null(b, "%s", p);
    return b;
}

uint32_t qb_u32_at(const uint8_t *p, int64_t i)
{
    uint32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

void qb_add(struct qb_list *l, const char *name, const char *dtype, int n_dims, int64_t d0, int64_t d1, const void *data,
            size_t size)
{
    cr_assert_lt(l->n, QB_MAX);
    struct qb_entry *e = &l->e[l->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->dtype, sizeof e->dtype, "%s", dtype);
    e->n_dims = n_dims;
    e->shape[0] = d0;
    e->shape[1] = d1;
    e->data = malloc(size ? size : 1);
    cr_assert_not_null(e->data);
    memcpy(e->data, data, size);
    e->size = size;
}

float qb_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / 16777216.0f;
}

static void add_f32(struct qb_list *l, const char *name, int n_dims, int64_t d0, int64_t d1, float value, uint32_t *seed)
{
    int64_t n = n_dims == 1 ? d0 : d0 * d1;
    float *v = malloc((size_t)n * sizeof *v);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = seed ? qb_rand(seed) - 0.5f : value;
    qb_add(l, name, "F32", n_dims, d0, d1, v, (size_t)n * sizeof *v);
    free(v);
}

void qb_add_base(struct qb_list *l, int64_t hidden, int64_t vocab, uint32_t seed)
{
    add_f32(l, "model.embed_tokens.weight", 2, vocab, hidden, 0, &seed);
    add_f32(l, "lm_head.weight", 2, vocab, hidden, 0, &seed);
    add_f32(l, "model.norm.weight", 1, hidden, 0, 1.0f, NULL);
    add_f32(l, "model.layers.0.input_layernorm.weight", 1, hidden, 0, 1.0f, NULL);
    add_f32(l, "model.layers.0.post_attention_layernorm.weight", 1, hidden, 0, 1.0f, NULL);
}

void qb_write_st(const char *path, const struct qb_list *l)
{
    json_t *h = json_object();
    size_t off = 0;
    for (int i = 0; i < l->n; i++) {
        const struct qb_entry *e = &l->e[i];
        json_t *shape = json_array();
        for (int d = 0; d < e->n_dims; d++)
            json_array_append_new(shape, json_integer(e->shape[d]));
        json_object_set_new(h, e->name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", e->dtype, "shape", shape,
                                                  "data_offsets", (json_int_t)off, (json_int_t)(off + e->size)));
        off += e->size;
    }
    char *text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    uint64_t len = padded;
    fwrite(&len, 8, 1, f);
    fwrite(text, 1, n, f);
    for (size_t i = n; i < padded; i++)
        fputc(' ', f);
    for (int i = 0; i < l->n; i++)
        fwrite(l->e[i].data, 1, l->e[i].size, f);
    cr_assert_eq(fclose(f), 0);
    free(text);
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = test_read_file(from, &n);
    cr_assert_not_null(b, "%s", from);
    cr_assert_eq(test_write_file(to, b, n), 0, "%s", to);
    free(b);
}

const char *qb_folder(struct qb_list *l, int64_t hidden, int64_t ff, int64_t heads, int64_t kv, const char *quant_json)
{
    static char ring[8][4096];
    static int next;
    char *dir = ring[next++ % 8];
    snprintf(dir, sizeof ring[0], "%s", test_tmp_dir());
    char path[4300], cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": %lld, "
             "\"intermediate_size\": %lld, \"num_hidden_layers\": 1, \"num_attention_heads\": %lld, "
             "\"num_key_value_heads\": %lld, \"vocab_size\": 275, \"max_position_embeddings\": 128, "
             "\"rms_norm_eps\": 1e-05, \"tie_word_embeddings\": false%s%s}",
             (long long)hidden, (long long)ff, (long long)heads, (long long)kv, quant_json ? ", \"quantization_config\": " : "",
             quant_json ? quant_json : "");
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert_eq(test_write_file(path, cfg, strlen(cfg)), 0);
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    copy_file(test_fixture_path("tiny-llama/tokenizer.model"), path);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    copy_file(test_fixture_path("tiny-llama/tokenizer_config.json"), path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    qb_write_st(path, l);
    for (int i = 0; i < l->n; i++)
        free(l->e[i].data);
    l->n = 0;
    return dir;
}

void qb_pack(uint32_t *w, int64_t stride, int64_t k, int bits, uint32_t v)
{
    for (int b = 0; b < bits; b++) {
        int64_t bit = (int64_t)bits * k + b;
        if ((v >> b) & 1u)
            w[(bit / 32) * stride] |= 1u << (bit % 32);
    }
}
