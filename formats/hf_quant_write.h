/* hf_quant_write.h — the writing side of hf_quant.h: one quantized linear's parts in the
 * byte layouts GPTQ, AutoAWQ (GEMM) and bitsandbytes store, and the config entries that
 * announce them.
 *
 * The layouts are hf_quant.h's, which were checked bit-exactly against real third-party
 * checkpoints; the bit streams go through the same hfq_pack the reader's hfq_unpack mirrors.
 * Inputs are plain per-row arrays in the checkpoint's orientation (row o = output feature o
 * of the nn.Linear weight [n_out][n_in]); this file knows bytes, not how the codes were
 * chosen (quantizers/ and convert/export_hf.c do that). Parts, per linear P:
 *   GPTQ (b = 4 or 8 bits, groups of G consecutive inputs, n_groups = n_in / G):
 *     1. P.qweight I32 [n_in*b/32, n_out]: column o is the b-bit stream of codes[0..n_in);
 *     2. P.qzeros  I32 [n_groups, n_out*b/32]: row g is the stream of the zeros of group g,
 *        v1 ("gptq") storing true zero - 1, v2 ("gptq_v2") the true zero;
 *     3. P.scales  F16 [n_groups, n_out];  4. P.g_idx I32 [n_in] = i / G.
 *   AWQ GEMM (4 bits): P.qweight I32 [n_in, n_out/8], output c*8+k in field HFQ_AWQ_FIELD[k]
 *     of word (i, c); P.qzeros I32 [n_groups, n_out/8], same interleave, true zeros;
 *     P.scales F16 [n_groups, n_out].
 *   bitsandbytes NF4, double quantization (n = n_out*n_in): P.weight U8 [ceil(n/2), 1] with
 *     element 2k in the HIGH nibble; P.weight.absmax U8 [n_blocks]; P.weight.quant_map F32
 *     [16]; P.weight.nested_absmax F32 [ceil(n_blocks/256)]; P.weight.nested_quant_map F32
 *     [256]; P.weight.quant_state.bitsandbytes__nf4 U8: the JSON of hfq_bnb4_state_json.
 * A true zero of 0 cannot be stored as v1's zero - 1 (AutoGPTQ's packer would borrow from
 * the next field, GPTQModel's v1->v2 conversion carry into it), so v1 refuses it.
 */
#ifndef HF_QUANT_WRITE_H
#define HF_QUANT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The geometry of one GPTQ or AWQ linear. */
struct hfq_int_geom {
    int bits;                  /* 4 or 8 (AWQ: 4) */
    int64_t n_in, n_out;       /* the nn.Linear weight is [n_out][n_in] */
    int64_t group_size, n_groups;
};

/* Fill g and check it: GPTQ needs n_in*bits and n_out*bits multiples of 32, AWQ n_in and
 * n_out multiples of 8; both need group_size dividing n_in. awq selects the rules.
 * Returns 0 or IG_EINVAL naming what (the caller adds the tensor). */
int hfq_int_geom_init(struct hfq_int_geom *g, bool awq, int bits, int64_t n_in, int64_t n_out, int64_t group_size);

/* Bytes of each part (shapes as at the top). */
size_t hfq_gptq_qweight_bytes(const struct hfq_int_geom *g);
size_t hfq_gptq_qzeros_bytes(const struct hfq_int_geom *g);
size_t hfq_awq_qweight_bytes(const struct hfq_int_geom *g);
size_t hfq_awq_qzeros_bytes(const struct hfq_int_geom *g);
size_t hfq_scales_bytes(const struct hfq_int_geom *g);

/* Store output row o into the caller's buffers (qweight, qzeros zero-filled before the first
 * row; scales [n_groups][n_out] fp16). codes: [n_in] 0..2^bits-1; zeros: [n_groups] true
 * zeros; scales16: [n_groups] fp16 bits. GPTQ v1 (zeros_v1) stores zero - 1. Returns 0, or
 * IG_EINVAL naming the group when v1 meets a true zero of 0 (write gptq_v2 instead). */
int hfq_gptq_put_row(const struct hfq_int_geom *g, bool zeros_v1, int64_t o, const uint8_t *codes,
                     const uint8_t *zeros, const uint16_t *scales16, uint8_t *qweight, uint8_t *qzeros,
                     uint8_t *scales);
void hfq_awq_put_row(const struct hfq_int_geom *g, int64_t o, const uint8_t *codes, const uint8_t *zeros,
                     const uint16_t *scales16, uint8_t *qweight, uint8_t *qzeros, uint8_t *scales);

/* GPTQ's g_idx for contiguous groups: [n_in] little-endian int32 i / group_size. */
void hfq_gptq_g_idx(const struct hfq_int_geom *g, uint8_t *g_idx);

/* bitsandbytes' packed codes: codes [n] (0..15) -> out [ceil(n/2)], element 2k in the high
 * nibble of byte k (an odd n leaves the last low nibble 0). */
void hfq_bnb4_pack(const uint8_t *codes, int64_t n, uint8_t *out);

/* The quant_state JSON as bitsandbytes' QuantState.as_dict(packed=True) writes it
 * (json.dumps of {quant_type, blocksize, dtype, shape, nested_blocksize, nested_dtype,
 * nested_offset}, in that order), into buf. dtype: "float16", "bfloat16" or "float32";
 * nested_offset is written as Python's repr of the float32 widened to double.
 * Returns the length, or -1 when buf is too small. */
int hfq_bnb4_state_json(char *buf, size_t size, int64_t blocksize, const char *dtype, int64_t n_out, int64_t n_in,
                        int64_t nested_blocksize, float nested_offset);

/* What the config entry states (hfq_config_json). */
struct hfq_write_config {
    int method;                 /* HFQ_GPTQ, HFQ_AWQ or HFQ_BNB4 (hf_quant.h) */
    int bits;                   /* GPTQ 4 or 8; AWQ 4; bnb 4 */
    int64_t group_size;         /* GPTQ, AWQ */
    bool desc_act;              /* GPTQ: act-order was used (with static groups) */
    bool zeros_v1;              /* GPTQ: checkpoint_format "gptq", else "gptq_v2" */
    double damp_percent;        /* GPTQ: the damping used (informative) */
    const char *quantizer;      /* "ingot:0.1.0" */
    const char *compute_dtype;  /* bnb: "float16", "bfloat16" or "float32" */
};

struct json_t;

/* The quantization_config object, keys in the order the libraries write them:
 *   GPTQ (AutoGPTQ BaseQuantizeConfig.to_dict / GPTQModel): bits, group_size, damp_percent,
 *     desc_act, static_groups (= desc_act: ingot's act-order keeps groups contiguous), sym
 *     (false: ingot's grids are asymmetric), true_sequential, model_name_or_path (null),
 *     model_file_base_name ("model"), quant_method "gptq", checkpoint_format, meta
 *     {quantizer: [quantizer]};
 *   AWQ (AutoAWQ AwqConfig.to_transformers_dict): quant_method "awq", zero_point true,
 *     group_size, bits, version "gemm", modules_to_not_convert null;
 *   bnb (transformers BitsAndBytesConfig.to_dict): _load_in_4bit, _load_in_8bit,
 *     bnb_4bit_compute_dtype, bnb_4bit_quant_storage "uint8", bnb_4bit_quant_type "nf4",
 *     bnb_4bit_use_double_quant true, llm_int8_enable_fp32_cpu_offload,
 *     llm_int8_has_fp16_weight, llm_int8_skip_modules, llm_int8_threshold 6.0, load_in_4bit,
 *     load_in_8bit, quant_method "bitsandbytes".
 * hf_quant_config.c reads each back to the same settings. NULL when out of memory. */
struct json_t *hfq_config_json(const struct hfq_write_config *c);

/* The shortest "%.*g" of (double)f that strtod reads back exactly (Python's repr), into
 * buf[32]; ".0" appended when it has neither '.' nor an exponent, as json.dumps writes. */
const char *hfq_float_repr(float f, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* HF_QUANT_WRITE_H */
