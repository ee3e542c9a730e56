/* hf_quant.h — third-party quantized linears of an HF folder: GPTQ, AWQ and bitsandbytes.
 *
 * An HF folder whose config.json has a quantization_config (or that holds AutoGPTQ's
 * quantize_config.json or AutoAWQ's quant_config.json) stores some linears as packed
 * integers plus their scales. hf_model.c turns each such linear into ONE src_tensor of the
 * logical shape [out][in] (ggml ne = {in, out}) whose rows come from hfq_read_rows_f32.
 * The facts below were checked bit-exactly against the libraries' own dequantized output
 * (shared/reference/thirdparty-formats.md; tests/formats/test_hf_quant.c). Every packed
 * field is read LSB-first from little-endian 32-bit words taken as unsigned: value k of a
 * packed run of b-bit values occupies bits [b*k, b*k + b) of the run's bit stream, which
 * for b = 3 is the 3-word / 32-value cycle AutoGPTQ writes.
 *
 * GPTQ (AutoGPTQ, GPTQModel; quant_method "gptq"), per linear P, bits b in {2,3,4,8}, pf = 32/b:
 *   1. P.qweight I32 [in*b/32, out]: column o is the bit stream of q[0..in) of output o.
 *   2. P.qzeros  I32 [n_groups, out*b/32]: row g is the bit stream of the zeros of group g.
 *      v1 (checkpoint_format "gptq" or absent) stores true zero - 1, read as (z + 1) & (2^b-1)
 *      as AutoGPTQ's dequantizer does; v2 ("gptq_v2") stores the true zero.
 *   3. P.scales  F16|BF16|F32 [n_groups, out];  4. P.g_idx I32 [in] (optional): the group of
 *      each input, any order (act-order); absent: i / group_size. n_groups = in / group_size,
 *      group_size -1 meaning one group.
 *   W[o][i] = scales[g][o] * (q[i][o] - Z[g][o]), g = g_idx[i].
 * AWQ (AutoAWQ; quant_method "awq", 4 bits, zero_point true):
 *   GEMM: P.qweight I32 [in, out/8], word (i, c) field j holds output c*8 + {0,2,4,6,1,3,5,7}[j];
 *         P.qzeros I32 [in/gs, out/8] the same interleave; P.scales [in/gs, out].
 *   GEMV: P.qweight I32 [out, in/8] sequential along inputs; P.qzeros I32 [out, Wz] sequential
 *         along groups; P.scales [out, >= n_groups] (zero-padded).
 *   W[o][i] = (q - z[g][o]) * s[g][o], g = i / group_size; the zero is the true zero.
 * bitsandbytes 4-bit (NF4/FP4), per linear P, n = out*in elements:
 *   1. P.weight: ceil(n/2) bytes (any storage dtype) of codes in row-major [out][in] order,
 *      element 2k in the HIGH nibble;  2. P.weight.absmax F32 [ceil(n/blocksize)], or U8
 *      with double quantization;  3. P.weight.quant_map F32 [16];  4. double quant:
 *      P.weight.nested_absmax F32 [ceil(n_blocks/nested_blocksize)], P.weight.nested_quant_map
 *      F32 [256];  5. P.weight.quant_state.bitsandbytes__nf4|fp4 U8: JSON {quant_type,
 *      blocksize, dtype, shape [out, in], nested_blocksize, nested_offset}.
 *   x[k] = f32(quant_map[code] * absmax[k / blocksize]) (FP4 code 8 gives -0.0, as the
 *   CUDA kernel does); double quant: absmax[j] = f32(f32(nested_quant_map[a[j]] *
 *   nested_absmax[j / nested_blocksize]) + nested_offset).
 * bitsandbytes 8-bit (LLM.int8): P.weight I8 [out, in], P.SCB F32 [out];
 *   W[o][i] = f32(f32(w * SCB[o]) * f32(1/127)).
 */
#ifndef HF_QUANT_H
#define HF_QUANT_H

#include "model_src.h"
#include "safetensors.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hfq_method { HFQ_NONE = 0, HFQ_GPTQ, HFQ_AWQ, HFQ_BNB4, HFQ_BNB8 };

#define HFQ_DESC_MAX 256
#define HFQ_MAX_PARTS 6    /* bnb 4-bit with double quantization has the most */

/* The folder-wide quantization settings, as the config file states them. */
struct hfq_config {
    enum hfq_method method;
    int bits;                   /* GPTQ 2,3,4,8; AWQ 4; bnb 4 or 8 */
    int64_t group_size;         /* GPTQ/AWQ; -1: one group per row (GPTQ only) */
    bool sym;                   /* GPTQ (informative: the zeros are read either way) */
    bool desc_act;              /* GPTQ act-order (informative: g_idx is always followed) */
    bool zeros_v1;              /* GPTQ: stored zero = true zero - 1 */
    bool awq_gemv;              /* AWQ: the GEMV layout instead of GEMM */
    char bnb_quant_type[8];     /* bnb 4-bit: "nf4" or "fp4" from the config ("" if unsaid) */
    bool bnb_double_quant;
    char path[512];             /* the file the settings came from */
    char key_prefix[32];        /* "quantization_config." or "" (quantize_config.json) */
    char desc[HFQ_DESC_MAX];    /* "GPTQ 4-bit, group 128, sym, ..." */
};

/* One quantized linear: borrowed pointers into the safetensors mapping plus its geometry.
 * Plain data so a writer (import/export) can fill one and reuse the row functions. */
struct hfq_tensor {
    enum hfq_method method;
    int bits;
    int64_t n_in, n_out;        /* the logical nn.Linear weight is [n_out][n_in] */
    int64_t group_size, n_groups;
    /* GPTQ / AWQ */
    const uint8_t *qweight, *qzeros, *scales, *g_idx;   /* g_idx may be NULL */
    int scales_type;            /* GGML_TYPE_F16, _BF16 or _F32 */
    int64_t qzeros_row_words;   /* words per row of qzeros */
    int64_t scales_row;         /* elements per row of scales */
    bool zeros_v1, awq_gemv;
    /* bitsandbytes 4-bit */
    const uint8_t *codes, *absmax, *nested_absmax;
    bool absmax_u8, fp4;
    int64_t blocksize, nested_blocksize;
    float quant_map[16], nested_quant_map[256], nested_offset;
    /* bitsandbytes 8-bit */
    const uint8_t *weight_i8, *scb;
    char type_name[32];         /* "GPTQ-4bit-g128", "AWQ-4bit-g128", "BNB-NF4-b64", ... */
    /* every stored part in the order of the layout above (qweight, qzeros, scales[, g_idx];
     * weight, absmax, quant_map[, nested_absmax, nested_quant_map], quant_state; weight, SCB):
     * what hfq_tensor_xxh3 hashes. borrowed: into the safetensors mapping */
    int n_parts;
    const uint8_t *part_data[HFQ_MAX_PARTS];
    uint64_t part_bytes[HFQ_MAX_PARTS];
};

/* ---- config (hf_quant_config.c) -------------------------------------------------------- */

/* Read folder's quantization settings: config.json's quantization_config, else
 * quantize_config.json (GPTQ), else quant_config.json (AWQ). qc->method is HFQ_NONE when
 * there is none. Returns 0, or IG_EINVAL naming the file and key ("quantization_config.bits:
 * found integer 5, expected 2, 3, 4 or 8"), IG_EIO, IG_ENOMEM. */
int hfq_config_read(struct hfq_config *qc, const char *folder);

/* The same from a JSON object's text (path for messages; key_prefix as in hfq_config). */
int hfq_config_parse(struct hfq_config *qc, const char *json_text, const char *path, const char *key_prefix);

/* ---- one linear (hf_quant.c) ------------------------------------------------------------ */

/* Which role name plays, for a folder quantized as qc: 1 and the module prefix in
 * prefix[size] ("model.layers.0.mlp.gate_proj") when name is a part of a quantized linear
 * (*is_main for the one part that stands for the linear: qweight, or bnb's weight), else 0. */
int hfq_classify(const struct st_model *st, const struct hfq_config *qc, const char *name, char *prefix, size_t size,
                 bool *is_main);

/* Fill q for the linear prefix, whose logical weight must be [n_out][n_in] (from the model's
 * hyperparameters), checking every part's presence, dtype and shape, the group geometry and
 * every g_idx value; *size_bytes gets the bytes of all its parts. Returns 0 or IG_EINVAL
 * naming the file, the tensor and the field, what was found and what was expected. */
int hfq_tensor_build(struct hfq_tensor *q, const struct hfq_config *qc, const struct st_model *st,
                     const char *prefix, int64_t n_in, int64_t n_out, uint64_t *size_bytes);

/* Stored output row o of q (0 <= o < n_out) as n_in floats into dst: the scalar reference,
 * one element at a time in input order. */
void hfq_dequant_row(const struct hfq_tensor *q, int64_t o, float *dst);

/* The src_tensor.read_rows_f32 of these tensors: t->aux is a struct hfq_tensor; applies
 * t->permute_n_head. Returns 0, or IG_EINVAL for rows out of range. */
int hfq_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);

/* ---- the integers behind the rows (hf_quant.c): for a writer that keeps them ------------------ */

/* GPTQ/AWQ: the group of input i (g_idx[i], or i / group_size). */
int64_t hfq_group_of(const struct hfq_tensor *q, int64_t i);

/* The stored code of output o, input i: GPTQ/AWQ the b-bit integer q; bnb 4-bit the code
 * index into quant_map (element o*n_in + i of the flattened weight); bnb 8-bit the int8
 * weight as stored, plus 128 (0..255). */
uint32_t hfq_code(const struct hfq_tensor *q, int64_t o, int64_t i);

/* GPTQ/AWQ: the true zero of group g, output o (v1's stored zero - 1 already undone, as the
 * row functions do). */
uint32_t hfq_zero(const struct hfq_tensor *q, int64_t g, int64_t o);

/* GPTQ/AWQ: the scale of group g, output o, exactly as stored (F16/BF16 widen exactly). */
float hfq_scale(const struct hfq_tensor *q, int64_t g, int64_t o);

/* bnb 4-bit: the absmax of block j (of blocksize elements of the flattened weight) as the
 * dequantizer computes it (double quantization decoded); bnb 8-bit: SCB of row j. */
float hfq_absmax(const struct hfq_tensor *q, int64_t j);

/* xxh3-64 over every stored part's bytes, one after another in part order (the provenance
 * checksum of a tensor that has no single byte range). */
uint64_t hfq_tensor_xxh3(const struct hfq_tensor *q);

/* ---- packing (hf_quant.c): the one place that knows the bit streams ----------------------- */

/* Value k of the b-bit stream held in the words at base, base + stride_words, ... (little-
 * endian u32, possibly unaligned). */
uint32_t hfq_unpack(const uint8_t *base, int64_t stride_words, int64_t k, int bits);

/* Store v (< 2^bits) as value k of such a stream (the words must start zeroed where written). */
void hfq_pack(uint8_t *base, int64_t stride_words, int64_t k, int bits, uint32_t v);

/* AutoAWQ's GEMM interleave: output column c*8 + k sits in 4-bit field HFQ_AWQ_FIELD[k]. */
extern const int HFQ_AWQ_FIELD[8];

#ifdef __cplusplus
}
#endif

#endif /* HF_QUANT_H */
