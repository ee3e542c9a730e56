/* tokenizer.h — readers that turn tokenizer files into a struct vocab (see vocab.h).
 *
 * tokenizer.model (SentencePiece ModelProto, protobuf wire format):
 *   1. field 1 (repeated, length-delimited): SentencePiece { 1: piece (string),
 *      2: score (fixed32 float), 3: type (varint: 1 normal, 2 unknown, 3 control,
 *      4 user-defined, 5 unused, 6 byte) }
 *   2. field 2: TrainerSpec { 40: unk_id, 41: bos_id, 42: eos_id, 43: pad_id (varint int32) }
 *   3. field 3: NormalizerSpec { 3: add_dummy_prefix (bool) }
 *   Every other field is skipped by wire type; lengths are checked against the buffer.
 * tokenizer.json (HF tokenizers): model.type "BPE" with model.vocab {token: id},
 *   model.merges ["a b", ...] or [["a","b"], ...], model.byte_fallback; added_tokens
 *   [{id, content, special}].
 * tokenizer.bin (llama2.c): i32 max_token_length, then per token f32 score, i32 len, bytes.
 */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include "vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read a SentencePiece tokenizer.model into v (model "llama", scores, types, unk/bos/eos/
 * pad ids from the trainer spec, add_space_prefix from the normalizer spec).
 * Returns 0 or IG_EINVAL naming the file and field; v is left initialised on failure. */
int tokenizer_spm_read(struct vocab *v, const char *path);

/* Read an HF tokenizer.json into v. BPE with byte_fallback (SentencePiece-style, "▁" for
 * spaces) becomes model "llama" with scores that make llama.cpp's SentencePiece merge
 * order equal BPE's merge ranks; byte-level BPE becomes model "gpt2" with merges and pre named
 * as llama.cpp's converter names its pre_tokenizer: ByteLevel alone "gpt-2"; a Split with
 * Qwen2's / Llama 3's / GPT-4o's regex (ByteLevel use_regex false) "qwen2" / "llama-bpe" /
 * "gpt-4o"; any other Split or step is refused.
 * Returns 0 or IG_EINVAL naming the file and field. */
int tokenizer_hf_read(struct vocab *v, const char *path);

/* Read a llama2.c tokenizer.bin holding n_vocab tokens (model "llama"; types inferred:
 * id 0 unknown, ids 1 and 2 control, "<0xXX>" byte, the rest normal). */
int tokenizer_llama2c_read(struct vocab *v, const char *path, int64_t n_vocab);

/* Lay path's (a tokenizer.json) added_tokens with ids inside v over v: text, score -1000, type
 * CONTROL (special) or USER_DEFINED, as llama.cpp's Phi3 converter does over tokenizer.model's
 * pieces (tokenizer_hf_added.c). A missing file changes nothing. Returns 0, IG_EINVAL naming the
 * file and entry, IG_EIO, IG_ENOMEM. */
int tokenizer_hf_overlay_added(struct vocab *v, const char *path);

/* What llama.cpp's converter (_create_vocab_sentencepiece) makes of an HF folder's tokenizer.model
 * vocabulary v, already padded to config.json's vocab_size with "[PAD<i>]" tokens past its
 * n_pieces pieces (tokenizer_hf_added.c):
 *   1. piece types as sentencepiece's Is* tests give them: USER_DEFINED pieces become NORMAL
 *      (unknown, control, unused and byte pieces keep their type); padding scores -10000;
 *   2. added_tokens.json {text: id}: each id inside v gets the text, score -1000, USER_DEFINED;
 *   3. tokenizer_config.json's added_tokens_decoder {"id": {"content", "special"}}: each id inside
 *      v gets the content, score -1000, CONTROL when special or tokenizer_token_looks_special,
 *      else USER_DEFINED with "▁" written as " ";
 *   4. pre "default".
 * Missing files change nothing. Returns 0, IG_EINVAL naming the file and entry, IG_EIO, IG_ENOMEM. */
int tokenizer_spm_apply_hf(struct vocab *v, int64_t n_pieces, const char *folder);

/* convert_hf_to_gguf's does_token_look_special: "<pad>", "<mask>", "<2mass>", "[@BOS@]", "<|...|>",
 * "<｜...｜>" and "<unused...>", which llama.cpp's converter types CONTROL even when the file does
 * not mark them special. */
int tokenizer_token_looks_special(const char *text);

/* Apply an HF folder's tokenizer_config.json and special_tokens_map.json (whichever exist):
 * add_bos_token / add_eos_token, and bos/eos/unk/pad token ids from the token texts.
 * Missing files are not an error; malformed ones are (IG_EINVAL). */
int tokenizer_hf_apply_config(struct vocab *v, const char *folder);

#ifdef __cplusplus
}
#endif

#endif /* TOKENIZER_H */
