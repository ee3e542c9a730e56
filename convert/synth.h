/* synth.h — what `ingot synth` shares with its per-architecture tables (convert/ only).
 *
 * cmd_synth.c parses the options, writes the tokenizer, config.json, model.safetensors and the
 * corpus; an architecture (synth_arch.c, one row per --arch value) says which tensors a block
 * has, which keys config.json gets beyond the common ones, and which tokenizer the model uses.
 */
#ifndef SYNTH_H
#define SYNTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Options of one run. */
struct synth_opts {
    const char *out;
    uint64_t seed;
    int64_t dim, layers, heads, kv_heads, ff, ctx, corpus_lines;
    bool f32;
    int64_t vocab;        /* 0: the tokenizer's own size; else padded to it */
    const char *arch;     /* --arch: a row of synth_archs */
    int64_t head_dim;     /* --head-dim: 0 for dim / heads (written to config.json only when given) */
    int64_t experts, experts_used;   /* --experts / --experts-used: MoE architectures */
    /* phi3: --rope longrope writes a seeded longrope rope_scaling (long factors
     * 1..~16, short near 1) with original_max_position_embeddings --orig-ctx (default ctx / 8);
     * --partial-rotary F writes partial_rotary_factor (0: left out) */
    const char *rope;     /* NULL or "longrope" */
    int64_t orig_ctx;
    double partial_rotary;
};

/* How a tensor's values are drawn. */
enum synth_init {
    SYNTH_RANDOM = 0,     /* N(0, 0.02) */
    SYNTH_ONES = 1,       /* 1: RMSNorm weights of llama-style norms */
    SYNTH_NEAR_ONE = 2,   /* 1 + N(0, 0.1): norms whose weights the test should see (q/k norms) */
    SYNTH_NEAR_ZERO = 3,  /* N(0, 0.1): norms applied as (1 + w) (gemma) */
};

/* One tensor of model.safetensors. */
struct synth_tensor {
    char name[96];
    int64_t rows, cols;   /* PyTorch shape [rows, cols]; cols == 0 for 1-D */
    enum synth_init init;
};

/* Which tokenizer.json the model gets. */
enum synth_tok {
    SYNTH_TOK_SPM = 0,        /* SentencePiece-style BPE with byte fallback (llama) */
    SYNTH_TOK_BYTE_BPE = 1,   /* byte-level BPE with Qwen2's split regex (qwen2, qwen3) */
    SYNTH_TOK_GEMMA_SPM = 2,  /* a SentencePiece tokenizer.model with gemma's specials (gemma2, gemma3):
                               * also tied embeddings and (1 + w) norms (synth_gemma.c) */
};

/* Most tensors one block may have beyond 3 per expert. */
#define SYNTH_MAX_BLOCK_TENSORS 24

struct synth_arch {
    const char *name;             /* --arch value */
    const char *model_type;       /* config.json model_type */
    const char *architecture;     /* config.json architectures[0] */
    enum synth_tok tok;
    /* Write block l's tensors into t (room for SYNTH_MAX_BLOCK_TENSORS + 3·experts entries,
     * names "model.layers.L....") and return how many. */
    int64_t (*block_tensors)(const struct synth_opts *o, int64_t l, struct synth_tensor *t);
    /* Add the architecture's own keys to config.json (NULL: none). */
    void (*config)(const struct synth_opts *o, json_t *config);
    /* Check the options for this architecture; returns NULL or a message (NULL: no checks). */
    const char *(*check)(const struct synth_opts *o);
};

/* The architecture named name, or NULL; list the names into buf for messages. */
const struct synth_arch *synth_arch_find(const char *name);
const char *synth_arch_names(char *buf, size_t size);

/* Head size of o: --head-dim, or dim / heads. */
int64_t synth_head_dim(const struct synth_opts *o);

/* Words of the synthetic language (cmd_synth.c): each becomes one token. */
extern const char *const synth_words[];
extern const int synth_n_words;

/* A byte-level BPE tokenizer.json (Qwen2's layout: ByteLevel after a Split on Qwen2's regex,
 * <|endoftext|> / <|im_start|> / <|im_end|> added) over synth_words, padded to pad_to
 * tokens when larger; *n_vocab gets the token count. synth_bpe.c. */
json_t *synth_byte_bpe_tokenizer(int64_t *n_vocab, int64_t pad_to);

/* tokenizer_config.json for it. */
json_t *synth_byte_bpe_tokenizer_config(void);

/* gemma2 / gemma3 (synth_gemma.c): blocks, config.json keys, tokenizer_config.json, and
 * FOLDER/tokenizer.model with gemma's special pieces, padded to pad_to pieces when larger
 * (*n_vocab gets the count). Returns 0, IG_ENOMEM or IG_EIO. */
int64_t synth_gemma2_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t);
int64_t synth_gemma3_block(const struct synth_opts *o, int64_t l, struct synth_tensor *t);
void synth_gemma2_config(const struct synth_opts *o, json_t *config);
void synth_gemma3_config(const struct synth_opts *o, json_t *config);
json_t *synth_gemma_tokenizer_config(void);
int synth_spm_model_write(const char *folder, int64_t pad_to, int64_t *n_vocab);

#endif /* SYNTH_H */
