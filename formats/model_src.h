/* model_src.h — a source checkpoint seen the way a GGUF file will hold it.
 *
 * model_src_open() recognises an HF folder (config.json + *.safetensors [+ index] +
 * tokenizer.model | tokenizer.json), a GGUF file, or a llama2.c .bin checkpoint, and
 * describes it in llama.cpp's terms: hyperparameters, a vocabulary, and tensors under
 * their GGUF names with ggml shapes (ne[0] fastest). Tensor data stays in the source's
 * memory mapping; src_tensor_read_rows_f32() converts a range of rows to fp32 on demand,
 * applying the Q/K row permutation llama.cpp's converter applies to HF llama checkpoints.
 */
#ifndef MODEL_SRC_H
#define MODEL_SRC_H

#include "file_map.h"
#include "vocab.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MODEL_NAME_MAX 64   /* GGML_MAX_NAME: tensor names are at most 63 bytes */

enum model_src_kind { MODEL_SRC_HF = 1, MODEL_SRC_GGUF = 2, MODEL_SRC_LLAMA2C = 3 };

/* Hyperparameters of a llama-family model, in the units of llama.cpp's {arch}.* keys. */
struct model_hparams {
    char arch[16];            /* general.architecture: one of formats/model_arch.h's table */
    char name[128];           /* general.name; "" to leave it out */
    int64_t n_vocab;          /* rows of token_embd */
    int64_t n_ctx_train;      /* context_length */
    int64_t n_embd;           /* embedding_length */
    int64_t n_layer;          /* block_count */
    int64_t n_ff;             /* feed_forward_length */
    int64_t n_head;           /* attention.head_count */
    int64_t n_head_kv;        /* attention.head_count_kv */
    int64_t head_dim;         /* n_embd / n_head unless the config says otherwise */
    int64_t n_rot;            /* rope.dimension_count */
    bool head_dim_explicit;   /* config.json had head_dim: write key_length/value_length */
    float rms_eps;            /* attention.layer_norm_rms_epsilon */
    float rope_theta;         /* rope.freq_base */
    bool tie_embeddings;      /* the output projection is the token embedding */
    char rope_scaling_type[16];     /* "", "linear", "yarn", "llama3", ... */
    float rope_scaling_factor;
    int64_t rope_scaling_orig_ctx;  /* 0 when absent */
    /* llama3 only, as llama.cpp's converter reads them to compute rope_freqs.weight:
     * rope_scaling.low_freq_factor / high_freq_factor (defaults 1, 4) and the top-level
     * original_max_position_embeddings (default 8192; not rope_scaling's) */
    double rope_llama3_low_freq, rope_llama3_high_freq;
    int64_t rope_llama3_orig_ctx;
    bool attn_qkv_bias;       /* q/k/v projections carry biases (qwen2) */
    /* qwen3: RMSNorm over each head of q and of k before RoPE, weights
     * blk.N.attn_q_norm / attn_k_norm [head_dim] shared by the heads */
    bool attn_qk_norm;
    /* mixtral: a sparse MoE feed-forward of n_expert experts, n_expert_used of them
     * per token ({arch}.expert_count / expert_used_count); both 0 for a dense model */
    int64_t n_expert, n_expert_used;
    /* phi3: {arch}.attention.sliding_window (0: none, as llama.cpp's converter writes
     * a missing one), and longrope's attention factor (rope.scaling.attn_factor; 0: unset) */
    int64_t sliding_window;
    float rope_attn_factor;
    /* phi3 longrope: an HF config's rope_scaling.long_factor / short_factor, n_rot/2
     * each (rope_factors_n of them; 0 for any other model). hf_model.c turns them into the
     * rope_factors_long/short.weight tensors; a GGUF source carries those tensors instead */
#define MODEL_ROPE_FACTORS_MAX 256
    int64_t rope_factors_n;
    float rope_factors_long[MODEL_ROPE_FACTORS_MAX], rope_factors_short[MODEL_ROPE_FACTORS_MAX];
    /* gemma2 / gemma3 (formats/gemma_arch.h, model/arch_gemma.c) */
    float attn_softcap;       /* {arch}.attn_logit_softcapping: scores s -> c·tanh(s/c) (gemma2); 0: none */
    float final_softcap;      /* {arch}.final_logit_softcapping: the same on the logits; 0: none */
    int64_t swa_pattern;      /* > 0: block l attends within sliding_window unless l % swa_pattern ==
                               * swa_pattern - 1 (llama.cpp's set_swa_pattern: gemma2 2, gemma3 6);
                               * 0: no block slides, whatever sliding_window says */
    float query_scale;        /* scores q·k are scaled by this (gemma: 1/sqrt(query_pre_attn_scalar));
                               * 0: 1/sqrt(head_dim) */
    float rope_theta_swa;     /* RoPE base of the sliding blocks, unscaled (gemma3: 10000); 0: rope_theta */
};

/* One tensor of the source, under its GGUF name. */
struct src_tensor {
    char name[MODEL_NAME_MAX];  /* GGUF name, e.g. "blk.0.attn_q.weight" */
    char src_name[160];         /* name in the source file */
    int n_dims;                 /* 1..4 */
    int64_t ne[4];              /* ggml order: ne[0] is the contiguous dimension */
    int type;                   /* ggml type id of the stored data */
    const uint8_t *data;        /* borrowed: into the source mapping */
    uint64_t size_bytes;
    int64_t permute_n_head;     /* 0, or the head count of llama's Q/K row permutation */
    const char *file;           /* borrowed: path of the file holding the data */
    /* A tensor stored in a form no ggml type describes (a GPTQ, AWQ or bitsandbytes linear
     * of an HF folder, formats/hf_quant.h): type is SRC_TYPE_CALLBACK, data NULL, size_bytes
     * the bytes of every stored part, and read_rows_f32 produces rows [row0, row0 + n_rows)
     * of the logical [ne[1]][ne[0]] matrix in GGUF order (the Q/K permutation applied), as
     * src_tensor_read_rows_f32 would; it returns 0 or IG_EINVAL. NULL for every other tensor. */
    int (*read_rows_f32)(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);
    const void *aux;            /* borrowed: read_rows_f32's state, owned by the source */
    const char *type_name;      /* borrowed: "GPTQ-4bit-g128", ...; NULL: ggml_type_name(type) */
    /* gemma's RMSNorm weights (HF computes x·(1 + w)): llama.cpp's converter writes w + 1, so the
     * GGUF value is the stored one plus norm_shift (1, or 0 for every other tensor), added by
     * src_tensor_read_rows_f32 in the stored precision (F16: rounded to F16 again, as torch adds) */
    float norm_shift;
};

/* src_tensor.type of a tensor only read_rows_f32 can read (no ggml id is negative). */
#define SRC_TYPE_CALLBACK (-1)

/* What t holds, for people: type_name when set, else the ggml type's name. */
const char *src_tensor_type_name(const struct src_tensor *t);

/* One file the source was read from (provenance). */
struct src_file {
    char *path;                 /* owned */
    uint64_t size_bytes;
};

struct gguf_file;

struct model_src {
    enum model_src_kind kind;
    char *path;                 /* owned: as given by the user */
    struct model_hparams hp;
    struct vocab vocab;
    int64_t n_tensors;
    struct src_tensor *tensors; /* [n_tensors] owned, in the order they will be written */
    int n_files;
    struct src_file *files;     /* [n_files] owned */
    struct gguf_file *gguf;     /* GGUF sources only: the parsed file (its KVs are copied) */
    void *impl;                 /* owned: the reader's own state (mappings) */
    void (*impl_close)(void *impl);
};

/* The third-party quantization of an HF folder in words ("GPTQ 4-bit, group size 128, sym,
 * act-order (desc_act), v1 zeros (checkpoint_format gptq); 7 quantized linears; settings
 * from DIR/config.json"), or NULL when the source has none (formats/hf_model.c). The string
 * lives as long as src. */
const char *model_src_quant_desc(const struct model_src *src);

/* Open path as a model source. tokenizer_path overrides where a llama2.c checkpoint's
 * tokenizer is found (NULL: beside it). Returns 0, or IG_EINVAL with a message naming the
 * file and field, IG_EIO, IG_ENOMEM. *out is NULL on failure. */
int model_src_open(struct model_src **out, const char *path, const char *tokenizer_path);

/* Check src against its own hyperparameters, the same way for every kind: counts positive,
 * heads dividing, an even head size and rope.dimension_count (RoPE rotates pairs), a finite
 * positive epsilon and rope base, a known rope scaling type; every tensor one of the model's
 * with the shape the hyperparameters give (llama.cpp's check_tensor_dims: trailing 1s aside,
 * every ne must match) and no block beyond the block count; every required tensor present;
 * model_src_check also one vocabulary token per embedding row. model_src_open runs
 * model_src_check; the HF reader runs model_src_check_tensors before it pads the
 * vocabulary, so a huge vocab_size meets the embedding's rows before the allocator.
 * Returns 0 or IG_EINVAL naming the file, the tensor or key, what was found and expected. */
int model_src_check_tensors(const struct model_src *src);
int model_src_check(const struct model_src *src);

/* Check out_path before any work (out_file.h: out_check_path) against every file of src
 * and the n_extra paths in extra (NULL entries skipped: a calibration text, an imatrix).
 * Returns 0 or IG_EINVAL naming out_path and the problem. */
int model_src_check_out_path(const struct model_src *src, const char *out_path, const char *const *extra, int n_extra);

/* Release everything; accepts NULL. */
void model_src_close(struct model_src *src);

/* The tensor named name (GGUF name), or NULL. */
const struct src_tensor *model_src_find(const struct model_src *src, const char *name);

/* Number of rows of t: the product of ne[1..3]. */
int64_t src_tensor_n_rows(const struct src_tensor *t);

/* xxh3-64 of what t stores, for ingot.source.tensor_xxh3: its bytes, or for a third-party
 * linear (SRC_TYPE_CALLBACK) every stored part's bytes one after another (qweight, qzeros,
 * scales[, g_idx]; bnb's weight, absmax, quant_map, ...: hf_quant.h), so the checksum names
 * the checkpoint's bytes, not a dequantization of them. */
uint64_t src_tensor_xxh3(const struct src_tensor *t);

/* Convert rows [row0, row0 + n_rows) of t to fp32 into dst ([n_rows][ne[0]]),
 * applying the Q/K permutation and t->norm_shift. t must be F32, F16 or BF16 (quantized sources are
 * dequantized by quantizers/). Returns 0 or IG_EINVAL. */
int src_tensor_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);

/* Row of the stored data that becomes row r of the GGUF tensor under llama's Q/K
 * permutation with n_head heads of n_rows / n_head rows each: within each head, GGUF row
 * 2i comes from stored row i and row 2i+1 from stored row i + head_dim/2. */
int64_t model_permuted_row(int64_t r, int64_t n_rows, int64_t n_head);

/* Internal: add a tensor to src (grows the array). Used by the readers. */
int model_src_add_tensor(struct model_src *src, const struct src_tensor *t);

/* Internal: record a source file for provenance. */
int model_src_add_file(struct model_src *src, const char *path, uint64_t size_bytes);

#ifdef __cplusplus
}
#endif

#endif /* MODEL_SRC_H */
