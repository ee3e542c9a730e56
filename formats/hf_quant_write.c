/* hf_quant_write.c — GPTQ, AWQ and bitsandbytes parts of one linear, and their config entry.
 *
 * The mirror of hf_quant.c: rows of codes, zeros and fp16 scales go into the packed words
 * with hfq_pack (the one bit-stream packer, whose unpacker the reader uses), so what is
 * written here is what the reader was proven to read on real third-party bytes. The layouts
 * are drawn in hf_quant_write.h. convert/export_hf.c decides the codes and calls these a row
 * at a time.
 */
#include "hf_quant_write.h"

#include "hf_quant.h"

#include "../common/ig_error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- geometry ---------------------------------------------------------------------------- */

int hfq_int_geom_init(struct hfq_int_geom *g, bool awq, int bits, int64_t n_in, int64_t n_out, int64_t group_size)
{
    memset(g, 0, sizeof *g);
    if (bits != 4 && (awq || bits != 8))
        return ig_error_set(IG_EINVAL, "%d bits: %s", bits, awq ? "AutoAWQ's GEMM layout is 4-bit only" : "expected 4 or 8");
    if (awq ? n_in % 8 != 0 || n_out % 8 != 0 : (n_in * bits) % 32 != 0 || (n_out * bits) % 32 != 0)
        return ig_error_set(IG_EINVAL, "[%lld, %lld] (out, in): %s", (long long)n_out, (long long)n_in,
                            awq ? "AWQ packs 8 outputs per word, expected in and out features that are multiples of 8"
                                : "GPTQ bit streams fill whole 32-bit words only when in and out features x bits are multiples of 32");
    if (group_size <= 0 || n_in % group_size != 0)
        return ig_error_set(IG_EINVAL, "in_features %lld is not a multiple of group size %lld", (long long)n_in,
                            (long long)group_size);
    g->bits = bits;
    g->n_in = n_in;
    g->n_out = n_out;
    g->group_size = group_size;
    g->n_groups = n_in / group_size;
    return 0;
}

size_t hfq_gptq_qweight_bytes(const struct hfq_int_geom *g)
{
    return (size_t)(g->n_in * g->bits / 32) * (size_t)g->n_out * 4;
}

size_t hfq_gptq_qzeros_bytes(const struct hfq_int_geom *g)
{
    return (size_t)g->n_groups * (size_t)(g->n_out * g->bits / 32) * 4;
}

size_t hfq_awq_qweight_bytes(const struct hfq_int_geom *g)
{
    return (size_t)g->n_in * (size_t)(g->n_out / 8) * 4;
}

size_t hfq_awq_qzeros_bytes(const struct hfq_int_geom *g)
{
    return (size_t)g->n_groups * (size_t)(g->n_out / 8) * 4;
}

size_t hfq_scales_bytes(const struct hfq_int_geom *g)
{
    return (size_t)g->n_groups * (size_t)g->n_out * 2;
}

/* ---- rows -------------------------------------------------------------------------------- */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

int hfq_gptq_put_row(const struct hfq_int_geom *g, bool zeros_v1, int64_t o, const uint8_t *codes,
                     const uint8_t *zeros, const uint16_t *scales16, uint8_t *qweight, uint8_t *qzeros,
                     uint8_t *scales)
{
    const uint32_t mask = (1u << g->bits) - 1u;
    const int64_t zero_row_words = g->n_out * g->bits / 32;
    for (int64_t k = 0; k < g->n_groups; k++) {
        if (zeros_v1 && zeros[k] == 0)
            return ig_error_set(IG_EINVAL, "output row %lld, group %lld: true zero 0 cannot be stored as GPTQ v1's "
                                "zero - 1 (it would underflow into the next field); write --format gptq_v2",
                                (long long)o, (long long)k);
        /* v1's zero - 1 is stored masked to the field, as AutoGPTQ's dequantizer reads it back */
        const uint32_t z = zeros_v1 ? ((uint32_t)zeros[k] - 1u) & mask : zeros[k];
        hfq_pack(qzeros + (size_t)(k * zero_row_words) * 4, 1, o, g->bits, z);
        put_u16(scales + 2 * (size_t)(k * g->n_out + o), scales16[k]);
    }
    /* column o of qweight: the words at o, o + n_out, o + 2 n_out, ... */
    for (int64_t i = 0; i < g->n_in; i++)
        hfq_pack(qweight + 4 * (size_t)o, g->n_out, i, g->bits, codes[i] & mask);
    return 0;
}

void hfq_awq_put_row(const struct hfq_int_geom *g, int64_t o, const uint8_t *codes, const uint8_t *zeros,
                     const uint16_t *scales16, uint8_t *qweight, uint8_t *qzeros, uint8_t *scales)
{
    const int64_t row_words = g->n_out / 8;
    const int64_t k = (o / 8) * 8 + HFQ_AWQ_FIELD[o % 8];   /* value index of output o in a row's stream */
    for (int64_t gi = 0; gi < g->n_groups; gi++) {
        hfq_pack(qzeros + (size_t)(gi * row_words) * 4, 1, k, 4, zeros[gi] & 15u);
        put_u16(scales + 2 * (size_t)(gi * g->n_out + o), scales16[gi]);
    }
    for (int64_t i = 0; i < g->n_in; i++)
        hfq_pack(qweight + (size_t)(i * row_words) * 4, 1, k, 4, codes[i] & 15u);
}

void hfq_gptq_g_idx(const struct hfq_int_geom *g, uint8_t *g_idx)
{
    for (int64_t i = 0; i < g->n_in; i++) {
        const uint32_t v = (uint32_t)(i / g->group_size);
        for (int b = 0; b < 4; b++)
            g_idx[4 * i + b] = (uint8_t)(v >> (8 * b));
    }
}

void hfq_bnb4_pack(const uint8_t *codes, int64_t n, uint8_t *out)
{
    /* byte k:  bit 7 6 5 4 | 3 2 1 0
     *          code[2k]    | code[2k+1]   */
    for (int64_t k = 0; 2 * k < n; k++) {
        const uint8_t lo = 2 * k + 1 < n ? codes[2 * k + 1] & 15u : 0;
        out[k] = (uint8_t)((codes[2 * k] & 15u) << 4 | lo);
    }
}

/* ---- JSON --------------------------------------------------------------------------------- */

const char *hfq_float_repr(float f, char *buf)
{
    /* Python's repr of float(f): the fewest digits that read back to the double (f), as
     * json.dumps writes QuantState's offset.item(); a float32 reader gets f back exactly */
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, 32, "%.*g", p, (double)f);
        if (strtod(buf, NULL) == (double)f)
            break;
    }
    /* json.dumps writes a float with a '.' or an exponent; so do we */
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    return buf;
}

int hfq_bnb4_state_json(char *buf, size_t size, int64_t blocksize, const char *dtype, int64_t n_out, int64_t n_in,
                        int64_t nested_blocksize, float nested_offset)
{
    char off[40];
    int n = snprintf(buf, size,
                     "{\"quant_type\": \"nf4\", \"blocksize\": %lld, \"dtype\": \"%s\", \"shape\": [%lld, %lld], "
                     "\"nested_blocksize\": %lld, \"nested_dtype\": \"float32\", \"nested_offset\": %s}",
                     (long long)blocksize, dtype, (long long)n_out, (long long)n_in, (long long)nested_blocksize,
                     hfq_float_repr(nested_offset, off));
    return n < 0 || (size_t)n >= size ? -1 : n;
}

static json_t *gptq_json(const struct hfq_write_config *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "bits", json_integer(c->bits));
    json_object_set_new(o, "group_size", json_integer((json_int_t)c->group_size));
    json_object_set_new(o, "damp_percent", json_real(c->damp_percent));
    json_object_set_new(o, "desc_act", json_boolean(c->desc_act));
    json_object_set_new(o, "static_groups", json_boolean(c->desc_act));
    json_object_set_new(o, "sym", json_false());
    json_object_set_new(o, "true_sequential", json_true());
    json_object_set_new(o, "model_name_or_path", json_null());
    json_object_set_new(o, "model_file_base_name", json_string("model"));
    json_object_set_new(o, "quant_method", json_string("gptq"));
    json_object_set_new(o, "checkpoint_format", json_string(c->zeros_v1 ? "gptq" : "gptq_v2"));
    json_object_set_new(o, "meta", json_pack("{s:[s]}", "quantizer", c->quantizer));
    return o;
}

static json_t *awq_json(const struct hfq_write_config *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "quant_method", json_string("awq"));
    json_object_set_new(o, "zero_point", json_true());
    json_object_set_new(o, "group_size", json_integer((json_int_t)c->group_size));
    json_object_set_new(o, "bits", json_integer(c->bits));
    json_object_set_new(o, "version", json_string("gemm"));
    json_object_set_new(o, "modules_to_not_convert", json_null());
    return o;
}

static json_t *bnb_json(const struct hfq_write_config *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "_load_in_4bit", json_true());
    json_object_set_new(o, "_load_in_8bit", json_false());
    json_object_set_new(o, "bnb_4bit_compute_dtype", json_string(c->compute_dtype ? c->compute_dtype : "float16"));
    json_object_set_new(o, "bnb_4bit_quant_storage", json_string("uint8"));
    json_object_set_new(o, "bnb_4bit_quant_type", json_string("nf4"));
    json_object_set_new(o, "bnb_4bit_use_double_quant", json_true());
    json_object_set_new(o, "llm_int8_enable_fp32_cpu_offload", json_false());
    json_object_set_new(o, "llm_int8_has_fp16_weight", json_false());
    json_object_set_new(o, "llm_int8_skip_modules", json_null());
    json_object_set_new(o, "llm_int8_threshold", json_real(6.0));
    json_object_set_new(o, "load_in_4bit", json_true());
    json_object_set_new(o, "load_in_8bit", json_false());
    json_object_set_new(o, "quant_method", json_string("bitsandbytes"));
    return o;
}

struct json_t *hfq_config_json(const struct hfq_write_config *c)
{
    switch (c->method) {
    case HFQ_GPTQ: return gptq_json(c);
    case HFQ_AWQ: return awq_json(c);
    case HFQ_BNB4: return bnb_json(c);
    default: return NULL;
    }
}
