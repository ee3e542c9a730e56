/* spm.c — SentencePiece BPE ("llama" vocabularies) for one text piece, as llama.cpp's
 * llm_tokenizer_spm_session::tokenize does it.
 *
 * The piece is escaped (optional leading "▁", every " " -> "▁"), split into UTF-8 characters, and
 * merged through tokenize_merge: a pair merges when its concatenation is a token, best score first
 * (ties: leftmost). Each final symbol is its token, or, when it is none (a character outside the
 * vocabulary, or an invalid byte), one byte-fallback token per byte.
 *
 * Speed-up with the same result: llama.cpp runs one heap over the whole piece (a 1.3 MB text is one
 * piece). Every merged symbol is a token, so a merge can span the boundary between characters x and
 * y only if some token holds xy as adjacent characters. Where none does, the two sides never
 * interact: no pair across is ever queued, and each side pops its own pairs in the same relative
 * order as in the shared heap. So the piece is cut at those boundaries (t->pairs) and each segment,
 * about a word, is merged with its own small heap.
 */
#include "tokenize_impl.h"

#include "../common/ig_error.h"

#include <string.h>

#define SPM_SPACE "\xe2\x96\x81"   /* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space */
#define SPM_SPACE_BYTES 3

/* ---- helpers -------------------------------------------------------------------------------- */

/* Write [▁]text with spaces escaped into w->buf; returns the escaped length via *n_out. */
static int escape(struct tokenize_work *w, const char *text, size_t n, int add_prefix, size_t *n_out)
{
    size_t n_spaces = 0;
    for (size_t i = 0; i < n; i++)
        n_spaces += text[i] == ' ';
    size_t len = n + n_spaces * (SPM_SPACE_BYTES - 1) + (add_prefix ? SPM_SPACE_BYTES : 0);
    if (tokenize_work_reserve_buf(w, len))
        return IG_ENOMEM;
    char *p = w->buf;
    if (add_prefix) {
        memcpy(p, SPM_SPACE, SPM_SPACE_BYTES);
        p += SPM_SPACE_BYTES;
    }
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') {
            memcpy(p, SPM_SPACE, SPM_SPACE_BYTES);
            p += SPM_SPACE_BYTES;
        } else {
            *p++ = text[i];
        }
    }
    *n_out = len;
    return 0;
}

/* A pair merges when a + b (adjacent in text) is a token; its priority is that token's score. */
static int spm_priority(const struct tokenizer *t, const char *text, const struct tokenize_symbol *a,
                        const struct tokenize_symbol *b, uint32_t *priority)
{
    const struct tokenize_slot *s = tokenize_map_get(&t->tokens, text + a->off, a->n + b->n);
    if (!s)
        return 0;
    *priority = tokenize_score_priority(t->v->scores ? t->v->scores[s->value] : 0.0f);
    return 1;
}

/* Whether some token holds characters a and b (adjacent in text) side by side. */
static int spans(const struct tokenizer *t, const char *text, const struct tokenize_symbol *a,
                 const struct tokenize_symbol *b)
{
    return tokenize_map_get(&t->pairs, text + a->off, a->n + b->n) != NULL;
}

/* One symbol's ids: its token, else a byte token per byte (else unk). llama.cpp's resegment also
 * splits a symbol through its merge history, but every merged symbol is a token, so that path never
 * runs. */
static int emit_symbol(const struct tokenizer *t, const char *s, size_t n, struct tokenize_ids *out)
{
    const struct tokenize_slot *tok = tokenize_map_get(&t->tokens, s, n);
    if (tok)
        return tokenize_ids_push(out, tok->value);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t id = t->byte_ids[b] >= 0 ? t->byte_ids[b] : t->unk_id;
        if (id < 0)
            return ig_error_set(IG_EINVAL,
                                "tokenizer_encode: byte 0x%02X has no token (no <0x%02X>, no one-byte token, no unk)",
                                b, b);
        rc = tokenize_ids_push(out, id);
    }
    return rc;
}

/* ---- the piece ------------------------------------------------------------------------------ */

int tokenize_spm_piece(const struct tokenizer *t, struct tokenize_work *w, const char *text, size_t n,
                       int add_prefix, struct tokenize_ids *out)
{
    size_t len;
    int rc = escape(w, text, n, add_prefix, &len);
    if (!rc)
        rc = tokenize_split_chars(w, w->buf, len);
    for (int32_t first = 0, end = 1; !rc && first < w->n_sym; first = end++) {
        while (end < w->n_sym && spans(t, w->buf, &w->sym[end - 1], &w->sym[end]))
            end++;
        rc = tokenize_merge(w, t, w->buf, spm_priority, first, end);
        for (int32_t i = first; !rc && i != -1; i = w->sym[i].next)
            rc = emit_symbol(t, w->buf + w->sym[i].off, w->sym[i].n, out);
    }
    return rc;
}
