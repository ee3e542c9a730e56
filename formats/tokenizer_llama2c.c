/* tokenizer_llama2c.c — llama2.c tokenizer.bin → struct vocab.
 *
 * llama2c_open reads a checkpoint's tokenizer here when only a tokenizer.bin sits beside it.
 * The file (karpathy/llama2.c tokenizer.py export) is:
 *   1. i32 max_token_length
 *   2. n_vocab times: f32 score, i32 len, len bytes of text (no terminator)
 * n_vocab is not in the file; it comes from the checkpoint header. The export wrote spaces
 * for SentencePiece's "▁" and "\n<s>\n" / "\n</s>\n" for bos / eos, so this reader undoes
 * both the way llama.cpp's convert-llama2c-to-ggml does, which gives back the pieces of the
 * tokenizer.model the file was made from. Types are inferred as that tool infers them.
 */
#include "tokenizer.h"

#include "../common/ig_error.h"
#include "file_map.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- constants ------------------------------------------------------------------------ */

/* llama2.c's fixed special ids. */
enum { L2C_UNK_ID = 0, L2C_BOS_ID = 1, L2C_EOS_ID = 2 };
/* vocab_alloc's with_scores: every token has one. */
enum { L2C_WITH_SCORES = 1 };

static const char l2c_space_marker[] = "\xe2\x96\x81";   /* U+2581 "▁", 3 bytes */

/* ---- helpers ---------------------------------------------------------------------------- */

static int32_t l2c_i32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)u;
}

static float l2c_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)l2c_i32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* "<0xXX>" with two upper-case hex digits: the byte-fallback pieces. */
static int l2c_is_byte_piece(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    return strlen(s) == 6 && memcmp(s, "<0x", 3) == 0 && s[3] && s[4] && strchr(hex, s[3]) &&
           strchr(hex, s[4]) && s[5] == '>';
}

/* Copy len bytes of text with each space written as "▁" (caller frees), or NULL. */
static char *l2c_unescape(const uint8_t *text, size_t len)
{
    size_t n_spaces = 0;
    for (size_t i = 0; i < len; i++)
        n_spaces += text[i] == ' ';
    char *out = ig_malloc(len + 2 * n_spaces + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(o, l2c_space_marker, 3);
            o += 3;
        } else {
            *o++ = (char)text[i];
        }
    }
    *o = '\0';
    return out;
}

/* Text and type of token id, whose bytes in the file are text[0..len). */
static int l2c_set_token(struct vocab *v, int64_t id, const uint8_t *text, size_t len)
{
    static const char *const fixed[] = {"<unk>", "<s>", "</s>"};
    if (id <= L2C_EOS_ID) {
        /* llama.cpp replaces these texts whatever the file holds ("\n<s>\n" for bos). */
        v->tokens[id] = ig_malloc(strlen(fixed[id]) + 1);
        if (!v->tokens[id])
            return IG_ENOMEM;
        strcpy(v->tokens[id], fixed[id]);
        v->types[id] = id == L2C_UNK_ID ? VOCAB_TOKEN_UNKNOWN : VOCAB_TOKEN_CONTROL;
        return 0;
    }
    v->tokens[id] = l2c_unescape(text, len);
    if (!v->tokens[id])
        return IG_ENOMEM;
    if (len == 0)
        v->types[id] = VOCAB_TOKEN_CONTROL;   /* as convert-llama2c-to-ggml types empty texts */
    else if (l2c_is_byte_piece(v->tokens[id]))
        v->types[id] = VOCAB_TOKEN_BYTE;
    else
        v->types[id] = VOCAB_TOKEN_NORMAL;
    return 0;
}

/* ---- public ------------------------------------------------------------------------------ */

/* One straight run of checks over the file, so it runs a little past 40 lines. */
int tokenizer_llama2c_read(struct vocab *v, const char *path, int64_t n_vocab)
{
    struct file_map map;
    int rc;
    vocab_init(v);
    if (n_vocab <= 0 || n_vocab > VOCAB_MAX_TOKENS)
        return ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: the checkpoint declares %lld tokens "
                            "(allowed 1..%d)", path, (long long)n_vocab, VOCAB_MAX_TOKENS);
    if ((rc = file_map_open(&map, path)))
        return rc;
    const uint8_t *d = map.data;
    size_t size = map.size_bytes, off = 4;
    if (size < 4) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: field 'max_token_length': the file is %zu bytes, "
                          "too short for this 4-byte header", path, size);
        goto out_close;
    }
    int32_t max_len = l2c_i32(d);
    if (max_len < 0 || max_len > VOCAB_MAX_TOKEN_BYTES) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: field 'max_token_length': %d (allowed 0..%d)",
                          path, max_len, VOCAB_MAX_TOKEN_BYTES);
        goto out_close;
    }
    if ((rc = vocab_alloc(v, n_vocab, L2C_WITH_SCORES)))
        goto out_close;
    for (int64_t id = 0; id < n_vocab; id++) {
        if (size - off < 8) {
            rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: token %lld: fields 'score' and 'len' at byte "
                              "offset %zu run past the end of the file (%zu bytes; the checkpoint declares %lld "
                              "tokens)", path, (long long)id, off, size, (long long)n_vocab);
            goto out_free;
        }
        float score = l2c_f32(d + off);
        int32_t len = l2c_i32(d + off + 4);
        if (!isfinite(score)) {
            rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: token %lld: field 'score': %f is not finite",
                              path, (long long)id, (double)score);
            goto out_free;
        }
        if (len < 0 || len > VOCAB_MAX_TOKEN_BYTES) {
            rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: token %lld: field 'len': %d (allowed 0..%d)",
                              path, (long long)id, len, VOCAB_MAX_TOKEN_BYTES);
            goto out_free;
        }
        off += 8;
        if ((size_t)len > size - off) {
            rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: token %lld: field 'len': %d bytes at byte "
                              "offset %zu run past the end of the file (%zu bytes)", path, (long long)id, len,
                              off, size);
            goto out_free;
        }
        const uint8_t *nul = memchr(d + off, 0, (size_t)len);
        if (nul) {
            rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: token %lld: field 'text': NUL byte at "
                              "position %zu of %d (token texts are NUL-terminated; a NUL inside is not allowed)",
                              path, (long long)id, (size_t)(nul - (d + off)), len);
            goto out_free;
        }
        if ((rc = l2c_set_token(v, id, d + off, (size_t)len)))
            goto out_free;
        v->scores[id] = score;
        off += (size_t)len;
    }
    if (off != size) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_llama2c_read: %s: %zu bytes follow token %lld (the checkpoint "
                          "declares %lld tokens; the file holds more)", path, size - off, (long long)n_vocab - 1,
                          (long long)n_vocab);
        goto out_free;
    }
    snprintf(v->model, sizeof v->model, "llama");
    v->unk_id = L2C_UNK_ID;
    v->bos_id = n_vocab > L2C_BOS_ID ? L2C_BOS_ID : -1;
    v->eos_id = n_vocab > L2C_EOS_ID ? L2C_EOS_ID : -1;
    file_map_close(&map);
    return 0;
out_free:
    vocab_free(v);
out_close:
    file_map_close(&map);
    return rc;
}
