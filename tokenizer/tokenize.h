/* tokenize.h — text to token ids and back, exactly as llama.cpp's llama_tokenize and
 * llama_detokenize do it, for the two vocabulary kinds a struct vocab holds (vocab.h).
 *
 * Encoding, in order:
 *   1. User-defined tokens (type VOCAB_TOKEN_USER_DEFINED) are cut out of the text first, longest
 *      first, leftmost occurrence first, and emitted as themselves (llama.cpp does this even with
 *      parse_special = false). Control and unknown tokens ("<s>", "</s>", "<unk>", ...) are NOT
 *      parsed: in the text they are plain characters.
 *   2. Each remaining text piece is tokenized by the vocabulary's model:
 *      "llama" (SentencePiece BPE, spm.c): prepend " " when add_space_prefix (default on)
 *        and the piece starts the text or follows a user-defined token; replace every " " with
 *        "▁" (U+2581); split into UTF-8 characters; repeatedly merge the adjacent pair whose
 *        concatenation is a token with the highest score (ties: leftmost); any piece left that is
 *        no token becomes one "<0xXX>" byte token per byte (else the one-byte token, else unk).
 *      "gpt2" (byte-level BPE, bpe.c): split into words with the regex tokenizer.ggml.pre names:
 *        GPT-2's ("gpt-2", "phi-2", ...)
 *          's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *        Qwen2's ("qwen2"), Llama 3's ("llama-bpe", "llama3", "llama-v3") or GPT-4o's ("gpt-4o",
 *        "llama4"), as llama.cpp runs them (bpe.c); map each word's bytes through
 *        bytes_to_unicode; with Llama 3's, a word that is a token is taken whole (ignore_merges);
 *        else merge the adjacent pair with the lowest merge rank (ties: leftmost) until none applies.
 *   3. With add_special: BOS first when add_bos (default on for "llama" and Llama 3's
 *      pre-tokenizers, off for other "gpt2"), EOS last when add_eos (default off).
 * Decoding gives each token's bytes (llama_token_to_piece with special = false): control and
 * unknown tokens give nothing, "▁" becomes " ", "<0xXX>" gives the byte, gpt2 tokens map their
 * characters back to bytes, user-defined tokens give their text. When add_space_prefix is set
 * (default: on for "llama"), one leading space of the first token of a text is dropped, as
 * llama_detokenize does. Unlike llama_detokenize, gpt2 vocabularies get no clean-up of spaces
 * before punctuation (its clean_spaces), so decode(encode(x)) == x for valid UTF-8 x.
 */
#ifndef TOKENIZE_H
#define TOKENIZE_H

#include "../formats/vocab.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tokenizer;   /* opaque: lookup tables built from a vocab */

/* Build the lookup tables for v, which is borrowed and must outlive the tokenizer.
 * Returns 0, or IG_EINVAL (a model other than "llama"/"gpt2", a gpt2 pre-tokenizer other than those
 * listed above, an empty vocabulary), or IG_ENOMEM. *out is NULL on failure. */
int tokenizer_create(struct tokenizer **out, const struct vocab *v);

/* Release; accepts NULL. */
void tokenizer_destroy(struct tokenizer *t);

/* Tokenize text[0..n) (any bytes: invalid UTF-8 is tokenized, never rejected) like
 * llama_tokenize(vocab, text, n, add_special, parse_special = false). On success *ids_out is a
 * heap array of the returned count of ids (never NULL, even for 0 ids; caller frees) and the
 * count is >= 0. Returns a negative IG_E code on failure, with *ids_out NULL: IG_EINVAL when a
 * byte has no token to fall back to (no "<0xXX>", no one-byte token and no unk), when add_special
 * needs a BOS/EOS id the vocabulary lacks, or when n exceeds 1 GiB; IG_ENOMEM. */
int64_t tokenizer_encode(const struct tokenizer *t, const char *text, size_t n, int add_special,
                         int32_t **ids_out);

/* Append the bytes of ids[0..n) to the text in *text_out / *len_out. *text_out must be NULL (start
 * a new text; *len_out is then ignored) or a buffer an earlier call returned, with *len_out its
 * length; the call reallocates it. Decoding a sequence in several calls gives the same bytes as
 * one call: the leading-space rule applies only to the first token of a new text. On success the
 * buffer is non-NULL and NUL-terminated after *len_out bytes (the text itself may hold NULs);
 * caller frees. Returns 0, or IG_EINVAL for an id outside 0..n_tokens-1 (message names it) or
 * IG_ENOMEM; on failure the buffer and length are left as they were (a new text stays NULL). */
int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, int64_t n, char **text_out,
                     size_t *len_out);

#ifdef __cplusplus
}
#endif

#endif /* TOKENIZE_H */
