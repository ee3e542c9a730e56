/* tokenize_impl.h — what tokenize.c shares with spm.c and bpe.c (formats/ only).
 *
 * Both models run the same merge loop over a chain of symbols (byte spans of one text piece): a
 * max-heap of adjacent pairs keyed by a priority (SentencePiece: the merged token's score; BPE: the
 * merge rank, lowest first; ties: leftmost pair), popping the best pair, skipping pairs made stale
 * by an earlier merge, and queueing the merged symbol's new neighbours. Only the priority lookup and
 * the final symbol-to-id step differ, so each model supplies those.
 *
 * Heap key, one uint64_t compared as a whole (bigger pops first):
 *   bits 63..32  priority: an order-preserving image of the float score, or UINT32_MAX - rank
 *   bits 31..0   UINT32_MAX - left symbol index, so the leftmost pair wins a tie
 */
#ifndef TOKENIZE_IMPL_H
#define TOKENIZE_IMPL_H

#include "tokenize.h"

#include <stddef.h>
#include <stdint.h>

/* Longest text tokenizer_encode accepts; keeps symbol indices inside int32_t. */
#define TOKENIZE_MAX_TEXT_BYTES ((size_t)1 << 30)

enum tokenize_kind { TOKENIZE_SPM = 1, TOKENIZE_BPE = 2 };

/* How a BPE piece is split into words before merging (llama.cpp's pre-tokenizer types). */
enum tokenize_pre {
    TOKENIZE_PRE_GPT2 = 0,      /* GPT-2's regex (bpe.c gpt2_word_end) */
    TOKENIZE_PRE_QWEN2 = 1,     /* Qwen2/Qwen3's regex (bpe.c llama3_word_end, single digits) */
    TOKENIZE_PRE_LLAMA3 = 2,    /* Llama 3's regex (bpe.c llama3_word_end, up to 3 digits) */
    TOKENIZE_PRE_GPT4O = 3,     /* GPT-4o's o200k regex (bpe.c gpt4o_word_end) */
};

/* ---- an open-addressing hash map from byte strings to ids --------------------------------- */

struct tokenize_slot {
    const char *key;    /* borrowed: into the vocab; NULL marks an empty slot */
    uint32_t len;       /* key bytes */
    uint32_t hash;
    int32_t value;      /* token id, or merge rank */
    int32_t aux;        /* merges: bytes of the left part (position of the separating space) */
};

struct tokenize_map {
    struct tokenize_slot *slots;   /* [mask + 1], a power of two at least twice n_keys */
    size_t mask;
    size_t n_keys;
};

enum tokenize_put { TOKENIZE_PUT_REPLACE = 0, TOKENIZE_PUT_KEEP = 1 };

/* Size m for n_keys keys (it grows past that when needed). Returns 0 or IG_ENOMEM. */
int tokenize_map_init(struct tokenize_map *m, int64_t n_keys);
void tokenize_map_free(struct tokenize_map *m);
/* Insert key[0..len) (borrowed, len < 4 GiB); an existing key keeps its value under
 * TOKENIZE_PUT_KEEP (std::map::emplace) or takes the new one under TOKENIZE_PUT_REPLACE
 * (operator[]). Returns 0 or IG_ENOMEM (m unchanged). */
int tokenize_map_put(struct tokenize_map *m, const char *key, size_t len, int32_t value, int32_t aux,
                     int policy);
/* The slot holding key[0..len), or NULL. */
const struct tokenize_slot *tokenize_map_get(const struct tokenize_map *m, const char *key, size_t len);
/* The slot holding the key a[0..an) " " b[0..bn) (a merge), or NULL; built without copying. */
const struct tokenize_slot *tokenize_map_get_pair(const struct tokenize_map *m, const char *a, size_t an,
                                                  const char *b, size_t bn);

/* ---- the tokenizer ------------------------------------------------------------------------ */

struct tokenizer {
    const struct vocab *v;      /* borrowed */
    int kind;                   /* enum tokenize_kind */
    int pre;                    /* BPE: enum tokenize_pre */
    int ignore_merges;          /* BPE: a pre-token that is a token is taken whole (llama.cpp's
                                 * ignore_merges, set for Llama 3) */
    int64_t n_tokens;
    struct tokenize_map tokens; /* token text -> id (a later duplicate wins, as in llama.cpp) */
    struct tokenize_map merges; /* BPE: "left right" -> rank (the first duplicate wins) */
    struct tokenize_map pairs;  /* SPM: every two adjacent characters inside some token (see
                                 * spm.c: where no token spans, no merge can cross) */
    uint8_t *attr;              /* [n_tokens] effective enum vocab_token_type (see tokenize.c) */
    int32_t *user_ids;          /* [n_user] user-defined tokens cut out before tokenizing, longest first */
    int64_t n_user;
    int32_t bos_id, eos_id, unk_id;   /* -1 when the vocabulary has none */
    int add_bos, add_eos, add_space_prefix;
    int32_t byte_ids[256];      /* SPM: the fallback token of each byte ("<0xXX>", else the one-byte
                                 * token), or -1 */
    uint8_t byte_utf8[256][3];  /* BPE: [0] = length 1..2, [1..] = UTF-8 of bytes_to_unicode(b) */
    int16_t cpt_byte[0x144];    /* BPE: the byte codepoint c < 0x144 stands for, or -1 */
};

/* ---- the shared merge loop ---------------------------------------------------------------- */

struct tokenize_symbol {
    size_t off;             /* first byte in the piece */
    size_t n;               /* bytes; 0 once merged into its left neighbour */
    int32_t prev, next;     /* neighbours in the chain, -1 at the ends */
};

struct tokenize_bigram {
    uint64_t key;           /* priority and left symbol, as drawn above */
    int32_t right;          /* right symbol index */
    uint32_t size;          /* bytes of left + right when queued; differs once either grew */
};

/* Scratch memory for one tokenizer_encode call, reused across pieces and words. */
struct tokenize_work {
    char *buf;              /* [buf_cap] the piece being merged (escaped or byte-mapped) */
    size_t buf_cap;
    struct tokenize_symbol *sym;   /* [sym_cap] */
    size_t sym_cap;
    int32_t n_sym;
    struct tokenize_bigram *heap;  /* [heap_cap] binary max-heap */
    size_t heap_n, heap_cap;
    uint32_t *cpts;         /* BPE: [cpts_cap] codepoints of the piece */
    size_t cpts_cap;
};

/* A growing byte buffer, kept NUL-terminated after n bytes once allocated. */
struct tokenize_text {
    char *p;                /* [cap] */
    size_t n, cap;
};

/* The ids produced so far. */
struct tokenize_ids {
    int32_t *ids;           /* [cap] */
    int64_t n, cap;
};

/* Priority of merging symbols a and b (adjacent, a first) of text: 1 with *priority set (bigger
 * merges first), or 0 when the pair does not merge. */
typedef int (*tokenize_priority_fn)(const struct tokenizer *t, const char *text,
                                    const struct tokenize_symbol *a, const struct tokenize_symbol *b,
                                    uint32_t *priority);

/* A float score as a uint32_t that orders like the float (-0 and +0 equal; NaN somewhere). */
static inline uint32_t tokenize_score_priority(float score)
{
    union {
        float f;
        uint32_t u;
    } x = {score == 0.0f ? 0.0f : score};
    return x.u & 0x80000000u ? ~x.u : x.u | 0x80000000u;
}

/* Grow w->buf to hold n bytes. Returns 0 or IG_ENOMEM. */
int tokenize_work_reserve_buf(struct tokenize_work *w, size_t n);
/* Split text[0..n) into one symbol per UTF-8 character (llama.cpp's rule: the lead byte's length,
 * cut at the end of the text). Returns 0 or IG_ENOMEM. */
int tokenize_split_chars(struct tokenize_work *w, const char *text, size_t n);
/* Merge the symbols first..end-1 of w (cut from their neighbours outside) by priority until no
 * pair merges; symbol first then heads the merged chain. Returns 0 or IG_ENOMEM. */
int tokenize_merge(struct tokenize_work *w, const struct tokenizer *t, const char *text,
                   tokenize_priority_fn priority, int32_t first, int32_t end);
/* Append id. Returns 0 or IG_ENOMEM. */
int tokenize_ids_push(struct tokenize_ids *out, int32_t id);
/* Append s[0..n). Returns 0 or IG_ENOMEM. */
int tokenize_text_append(struct tokenize_text *b, const void *s, size_t n);

/* ---- the two models (spm.c, bpe.c) -------------------------------------- */

/* Tokenize one text piece (no user-defined tokens inside) with SentencePiece BPE, prefixing "▁"
 * when add_prefix. Returns 0, IG_EINVAL (a byte without a fallback token) or IG_ENOMEM. */
int tokenize_spm_piece(const struct tokenizer *t, struct tokenize_work *w, const char *text, size_t n,
                       int add_prefix, struct tokenize_ids *out);
/* Tokenize one text piece with t's pre-tokenizer and byte-level BPE. Returns 0 or IG_ENOMEM. */
int tokenize_bpe_piece(const struct tokenizer *t, struct tokenize_work *w, const char *text, size_t n,
                       struct tokenize_ids *out);
/* Append the bytes gpt2 token text[0..len) stands for (llama.cpp's llama_decode_text). Returns 0 or
 * IG_ENOMEM. */
int tokenize_bpe_unmap(const struct tokenizer *t, const char *text, size_t len, struct tokenize_text *out);

#endif /* TOKENIZE_IMPL_H */
