/* vocab.h — a tokenizer vocabulary in the shape llama.cpp's tokenizer.ggml.* keys take.
 *
 * Every tokenizer reader (SentencePiece tokenizer.model, HF tokenizer.json, llama2.c
 * tokenizer.bin, a GGUF's own keys) fills this struct; the GGUF writer turns it into:
 *   1. tokenizer.ggml.model       STRING  "llama" (SentencePiece) or "gpt2" (byte-level BPE)
 *   2. tokenizer.ggml.pre         STRING  only when pre[0] != 0 (BPE pre-tokenizer name)
 *   3. tokenizer.ggml.tokens      ARRAY of STRING, n_tokens
 *   4. tokenizer.ggml.scores      ARRAY of FLOAT32, when scores != NULL
 *   5. tokenizer.ggml.token_type  ARRAY of INT32 (VOCAB_TOKEN_* below)
 *   6. tokenizer.ggml.merges      ARRAY of STRING "left right", when n_merges > 0
 *   7. tokenizer.ggml.{bos,eos,unknown,padding}_token_id  UINT32, each when >= 0
 *   8. tokenizer.ggml.add_{bos,eos}_token, add_space_prefix  BOOL, each when >= 0
 *   9. tokenizer.chat_template    STRING, when chat_template != NULL (an HF folder's
 *      tokenizer_config.json "chat_template", or its chat_template.jinja, as gguf-py's
 *      SpecialVocab takes it)
 */
#ifndef VOCAB_H
#define VOCAB_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* llama.cpp's token types (the same numbers as SentencePiece's ModelProto piece types). */
enum vocab_token_type {
    VOCAB_TOKEN_UNDEFINED = 0,
    VOCAB_TOKEN_NORMAL = 1,
    VOCAB_TOKEN_UNKNOWN = 2,
    VOCAB_TOKEN_CONTROL = 3,
    VOCAB_TOKEN_USER_DEFINED = 4,
    VOCAB_TOKEN_UNUSED = 5,
    VOCAB_TOKEN_BYTE = 6,
};

/* Longest token accepted from any file (llama.cpp has no limit; a hostile length field
 * must not make us allocate gigabytes). */
#define VOCAB_MAX_TOKEN_BYTES 65536
/* Most tokens accepted (the largest real vocabularies hold about 260k). */
#define VOCAB_MAX_TOKENS (1 << 22)

struct vocab {
    char model[16];         /* "llama" or "gpt2" */
    char pre[32];           /* tokenizer.ggml.pre, or "" to leave the key out */
    int64_t n_tokens;
    char **tokens;          /* [n_tokens] owned, UTF-8, NUL-terminated (a NUL inside is rejected) */
    float *scores;          /* [n_tokens] owned, or NULL */
    int32_t *types;         /* [n_tokens] owned, enum vocab_token_type */
    int64_t n_merges;
    char **merges;          /* [n_merges] owned, "left right" */
    int64_t bos_id, eos_id, unk_id, pad_id;   /* -1 when not set */
    int add_bos, add_eos, add_space_prefix;   /* -1 when not set, else 0 or 1 */
    char *chat_template;    /* owned, or NULL */
};

/* Zero the struct and set every id and flag to "not set". */
void vocab_init(struct vocab *v);

/* Allocate n_tokens tokens (NULL strings), scores when with_scores != 0, and types set
 * to VOCAB_TOKEN_NORMAL. Returns 0 or IG_ENOMEM / IG_EINVAL (n_tokens out of range). */
int vocab_alloc(struct vocab *v, int64_t n_tokens, int with_scores);

/* Free everything the struct owns and re-initialise it. Accepts an initialised vocab. */
void vocab_free(struct vocab *v);

/* Id of the token whose text is text, or -1 (linear scan; for special tokens only). */
int64_t vocab_find(const struct vocab *v, const char *text);

/* Compare the tokenizers two models would run with: model kind ("llama"/"gpt2"), every
 * token's text and type, the special ids bos/eos/unk/pad as llama.cpp resolves them (a
 * missing key takes llama.cpp's default for the kind: "llama" bos 1, eos 2, unk 0; "gpt2"
 * bos = eos = 11), and for "gpt2" the merges. Scores, pre and the add_* flags are not
 * compared (they change how text is split, not what an id means). "[PAD<i>]" tokens, which
 * llama.cpp's converters append up to vocab_size, compare equal whatever their type, and
 * a vocabulary longer than the other only by such tokens compares equal.
 * Returns 0 when equal, else IG_EINVAL with a message naming a_name, b_name and the first
 * difference (the token id and both texts, or the special id and both values). */
int vocab_compare(const struct vocab *a, const char *a_name, const struct vocab *b, const char *b_name);

#ifdef __cplusplus
}
#endif

#endif /* VOCAB_H */
