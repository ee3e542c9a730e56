/* hf_quant_build.c — tiny quantized HF folders for the hf_quant tests (see hf_quant_build.h). */
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

/* One [n_out][n_in] F32 weight as GPTQ parts under prefix (see qb_gptq_tiny_llama). */
static void gptq_linear(struct qb_list *l, const char *prefix, const float *W, int64_t n_out, int64_t n_in, int bits,
                        int group, bool sym)
{
    const int maxq = (1 << bits) - 1;
    const int64_t n_groups = n_in / group, qw_rows = n_in * bits / 32, qz_cols = n_out * bits / 32;
    uint32_t *qw = calloc((size_t)(qw_rows * n_out), 4), *qz = calloc((size_t)(n_groups * qz_cols), 4);
    uint16_t *sc = calloc((size_t)(n_groups * n_out), 2);
    int32_t *g_idx = calloc((size_t)n_in, 4);
    cr_assert(qw && qz && sc && g_idx);
    for (int64_t i = 0; i < n_in; i++)
        g_idx[i] = (int32_t)(i / group);
    for (int64_t o = 0; o < n_out; o++)
        for (int64_t g = 0; g < n_groups; g++) {
            float xmin = 0, xmax = 0;
            for (int64_t i = g * group; i < (g + 1) * group; i++) {
                xmin = fminf(xmin, W[o * n_in + i]);
                xmax = fmaxf(xmax, W[o * n_in + i]);
            }
            if (sym) {
                xmax = fmaxf(-xmin, xmax);
                xmin = xmin < 0 ? -xmax : xmin;
            }
            if (xmin == 0 && xmax == 0)
                xmin = -1, xmax = 1;
            uint16_t s16 = ig_fp32_to_fp16((xmax - xmin) / (float)maxq);
            float s = ig_fp16_to_fp32(s16);
            int zero = sym ? (maxq + 1) / 2 : (int)fminf(fmaxf(roundf(-xmin / s), 0), (float)maxq);
            sc[g * n_out + o] = s16;
            qb_pack(qz + g * qz_cols, 1, o, bits, (uint32_t)(sym ? zero - 1 : zero));   /* v1 stores zero - 1 */
            for (int64_t i = g * group; i < (g + 1) * group; i++) {
                int q = (int)fminf(fmaxf(roundf(W[o * n_in + i] / s) + (float)zero, 0), (float)maxq);
                qb_pack(qw + o, n_out, i, bits, (uint32_t)q);
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

const char *qb_gptq_tiny_llama(int bits, int group, bool sym, bool f16_rest)
{
    struct st_model *st = NULL;
    cr_assert_eq(st_open(&st, test_fixture_path("tiny-llama/model.safetensors")), 0);
    struct qb_list l = {0};
    for (int64_t i = 0; i < st_n_tensors(st); i++) {
        const struct st_tensor *t = st_tensor_at(st, i);
        cr_assert_eq(t->type, GGML_TYPE_F32, "%s", t->name);
        char prefix[160];
        size_t n = strlen(t->name);
        float *v = malloc(t->size_bytes);
        cr_assert_not_null(v);
        memcpy(v, t->data, t->size_bytes);
        if (strstr(t->name, "_proj.weight") && n < sizeof prefix) {
            snprintf(prefix, sizeof prefix, "%.*s", (int)(n - strlen(".weight")), t->name);
            gptq_linear(&l, prefix, v, t->shape[0], t->shape[1], bits, group, sym);
        } else {
            for (size_t k = 0; f16_rest && k < t->size_bytes / 4; k++)
                v[k] = ig_fp16_to_fp32(ig_fp32_to_fp16(v[k]));
            qb_add(&l, t->name, "F32", t->n_dims, t->shape[0], t->n_dims > 1 ? t->shape[1] : 0, v, t->size_bytes);
        }
        free(v);
    }
    st_close(st);
    char q[256];
    snprintf(q, sizeof q, "{\"quant_method\": \"gptq\", \"bits\": %d, \"group_size\": %d, \"sym\": %s, \"desc_act\": false%s}",
             bits, group, sym ? "true" : "false", sym ? "" : ", \"checkpoint_format\": \"gptq_v2\"");
    return qb_folder(&l, 32, 64, 4, 2, q);
}

void qb_awq_slice_read(struct qb_awq_slice *s)
{
    size_t n;
    uint8_t *b = qb_fixture(QB_FX "awq_reference/llama_3_2_1b_awq.bin", &n);
    cr_assert_eq(memcmp(b, "AMNA", 4), 0);
    s->file = b;
    s->qweight_bytes = qb_u32_at(b + 4, 6);
    s->scales_bytes = qb_u32_at(b + 4, 7);
    s->qzeros_bytes = qb_u32_at(b + 4, 8);
    s->qweight = b + 48;
    s->scales = s->qweight + s->qweight_bytes;
    s->qzeros = s->scales + s->scales_bytes;
    s->golden = s->qzeros + s->qzeros_bytes + qb_u32_at(b + 4, 9);
}

const char *qb_awq_gemm_folder(const struct qb_awq_slice *s)
{
    struct qb_list l = {0};
    qb_add_base(&l, 256, 275, 2);
    for (int p = 0; p < 7; p++) {
        char name[160];
        snprintf(name, sizeof name, "model.layers.0.%s.qweight", qb_proj[p]);
        qb_add(&l, name, "I32", 2, 256, 32, s->qweight, s->qweight_bytes);
        snprintf(name, sizeof name, "model.layers.0.%s.scales", qb_proj[p]);
        qb_add(&l, name, "F16", 2, 2, 256, s->scales, s->scales_bytes);
        snprintf(name, sizeof name, "model.layers.0.%s.qzeros", qb_proj[p]);
        qb_add(&l, name, "I32", 2, 2, 32, s->qzeros, s->qzeros_bytes);
    }
    return qb_folder(&l, 256, 256, 4, 4,
                     "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 128, \"zero_point\": true, \"version\": \"gemm\"}");
}
