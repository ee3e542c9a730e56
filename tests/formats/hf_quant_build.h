/* hf_quant_build.h — tiny quantized HF folders for the hf_quant tests.
 *
 * A list of safetensors entries written as model.safetensors beside a config.json and the
 * SentencePiece tokenizer of tests/data/tiny-llama (275 tokens), so model_src_open and the
 * ingot binary read it like any HF folder. The bit packer here is the test's own: it sets
 * one bit at a time from the definition "value k occupies bits [b*k, b*k + b) of the
 * little-endian word stream", independent of formats/hf_quant.c's word arithmetic.
 */
#ifndef HF_QUANT_BUILD_H
#define HF_QUANT_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define QB_MAX 64

struct qb_entry {
    char name[160];
    char dtype[8];
    int n_dims;
    int64_t shape[2];
    uint8_t *data;   /* owned */
    size_t size;
};

struct qb_list {
    struct qb_entry e[QB_MAX];
    int n;
};

/* Append a copy of data (size bytes) under name. */
void qb_add(struct qb_list *l, const char *name, const char *dtype, int n_dims, int64_t d0, int64_t d1, const void *data,
            size_t size);

/* The F32 tensors every llama folder needs besides its linears: embed_tokens [vocab, hidden],
 * norms (ones), lm_head [vocab, hidden]; values seeded uniform in [-0.5, 0.5). */
void qb_add_base(struct qb_list *l, int64_t hidden, int64_t vocab, uint32_t seed);

/* A fresh folder with config.json (llama, 1 block, vocab 275; quant_json, if not NULL, is
 * inserted as "quantization_config"), the tiny-llama tokenizer and l as model.safetensors.
 * Frees l's data. Returns the folder (static ring). */
const char *qb_folder(struct qb_list *l, int64_t hidden, int64_t ff, int64_t heads, int64_t kv, const char *quant_json);

/* Write l as a safetensors file (entries in list order); asserts on failure. */
void qb_write_st(const char *path, const struct qb_list *l);

/* Test-side packer: value v as element k of the b-bit stream in words w[0], w[stride], ... */
void qb_pack(uint32_t *w, int64_t stride, int64_t k, int bits, uint32_t v);

/* Seeded uniform floats in [0, 1). */
float qb_rand(uint32_t *state);

/* The anamnesis fixtures' folder under ../shared/data. */
#define QB_FX "thirdparty/anamnesis-fixtures/"

/* The seven linears of a llama block: HF names and llama.cpp's, in the same order. */
extern const char *const qb_proj[7];
extern const char *const qb_gguf[7];

/* A file under ../shared/data, read whole (*n bytes); skips the test where it is absent. */
uint8_t *qb_fixture(const char *rel, size_t *n);

/* The i-th little-endian u32 of p. */
uint32_t qb_u32_at(const uint8_t *p, int64_t i);

/* tests/data/tiny-llama with its linears quantized the way AutoGPTQ sets scale and zero
 * (shared/reference/thirdparty-formats.md, "Scale, zero and sym/asym": range widened to include 0;
 * sym: the range made symmetric and zero 2^(b-1); asym: zero = round(-xmin / scale);
 * q = clamp(round(w / scale) + zero, 0, maxq); F16 scales) — round to nearest, no Hessian update.
 * Stored v1 when sym, v2 when asym. f16_rest rounds the other tensors to fp16 values (kept F32),
 * so a conversion's F16 embeddings and lm_head are exact. Returns the folder (qb_folder's ring). */
const char *qb_gptq_tiny_llama(int bits, int group, bool sym, bool f16_rest);

/* anamnesis' AutoAWQ GEMM slice (awq_reference/llama_3_2_1b_awq.bin: 256 inputs x 256 outputs,
 * 4 bits, group 128, "AMNA" header): the stored parts and AutoAWQ's dequantized golden, F32
 * [in][out]. file is owned (free it); skips the test where the fixture is absent. */
struct qb_awq_slice {
    uint8_t *file;
    const uint8_t *qweight, *scales, *qzeros, *golden;
    size_t qweight_bytes, scales_bytes, qzeros_bytes;
};
void qb_awq_slice_read(struct qb_awq_slice *s);

/* A folder whose seven linears are that slice, stored as AutoAWQ GEMM (qb_folder's ring). */
const char *qb_awq_gemm_folder(const struct qb_awq_slice *s);

#endif /* HF_QUANT_BUILD_H */
