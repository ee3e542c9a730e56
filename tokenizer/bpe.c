/* bpe.c — byte-level BPE ("gpt2" vocabularies) for one text piece, as llama.cpp's
 * llm_tokenizer_bpe_session::tokenize does it with the GPT-2 pre-tokenizer, and the reverse byte
 * map for decoding.
 *
 * 1. Decode the piece to codepoints (invalid UTF-8 -> U+FFFD per bad byte, unicode_class.h).
 * 2. Split into words with the GPT-2 regex, written out by hand as llama.cpp's
 *    unicode_regex_split_custom_gpt2 does (same branch order, so the same words):
 *      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * 3. Re-encode each word as UTF-8, map every byte through bytes_to_unicode, and merge the
 *    characters through tokenize_merge: lowest merge rank first (ties: leftmost).
 * 4. Each final symbol is its token; a symbol that is none contributes the one-byte tokens of its
 *    bytes that exist (llama.cpp's fallback; for byte-level vocabularies it never triggers).
 */
#include "tokenize_impl.h"

#include "../common/ig_error.h"
#include "unicode_class.h"

#include <stdio.h>
#include <string.h>

#define OUT_OF_WORD (-1)   /* the class of a position past the piece */

/* ---- pre-tokenizer -------------------------------------------------------------------------- */

static int class_at(const uint32_t *cpts, size_t n, size_t pos)
{
    return pos < n ? unicode_cpt_class(cpts[pos]) : OUT_OF_WORD;
}

/* [^\s\p{L}\p{N}]: anything inside the piece that is no space, letter or number. */
static int is_other(int cls)
{
    return cls == UNICODE_OTHER;
}

/* End of the word that starts at pos (pos < n). */
static size_t gpt2_word_end(const uint32_t *cpts, size_t n, size_t pos)
{
    uint32_t c = cpts[pos];
    if (c == '\'' && pos + 1 < n) {   /* 's|'t|'re|'ve|'m|'ll|'d (case-sensitive) */
        uint32_t c1 = cpts[pos + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
            return pos + 2;
        if (pos + 2 < n) {
            uint32_t c2 = cpts[pos + 2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                return pos + 3;
        }
    }
    /* ` ?X+` for X in letter, number, other: the class after an optional leading space */
    size_t start = pos + (c == ' ');
    int cls = class_at(cpts, n, start);
    if (cls == UNICODE_LETTER || cls == UNICODE_NUMBER || is_other(cls)) {
        size_t end = start;
        while (class_at(cpts, n, end) == cls)
            end++;
        return end;
    }
    size_t n_space = 0;
    while (class_at(cpts, n, pos + n_space) == UNICODE_SPACE)
        n_space++;
    if (n_space > 1 && pos + n_space < n)   /* \s+(?!\S): leave the last space for the next word */
        return pos + n_space - 1;
    if (n_space > 0)   /* \s+ */
        return pos + n_space;
    return pos + 1;   /* no branch matched (a space before the end cannot reach here) */
}

/* Qwen2's regex (tokenizer.json of Qwen2/2.5/3; llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN2):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * llama.cpp runs it through std::regex (no hand-written splitter matches it: its llama3 one has
 * \p{N}{1,3}); this is the same leftmost-alternative match written out, the llama3 splitter's
 * branch order with single digits. End of the word that starts at pos (pos < n). */
static size_t qwen2_word_end(const uint32_t *cpts, size_t n, size_t pos)
{
    uint32_t c = cpts[pos];
    int cls = class_at(cpts, n, pos);
    if (c == '\'' && pos + 1 < n) {   /* contractions, either case */
        uint32_t c1 = cpts[pos + 1] | 0x20;   /* ASCII lower case; harmless for the letters compared */
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
            return pos + 2;
        if (pos + 2 < n) {
            uint32_t c2 = cpts[pos + 2] | 0x20;
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                return pos + 3;
        }
    }
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (cls == UNICODE_LETTER || (c != '\r' && c != '\n' && cls != UNICODE_NUMBER &&
                                  class_at(cpts, n, pos + 1) == UNICODE_LETTER)) {
        size_t end = pos + 1;
        while (class_at(cpts, n, end) == UNICODE_LETTER)
            end++;
        return end;
    }
    if (cls == UNICODE_NUMBER)   /* \p{N}: one at a time */
        return pos + 1;
    /* " ?[^\s\p{L}\p{N}]+[\r\n]*" */
    size_t start = pos + (c == ' ' && is_other(class_at(cpts, n, pos + 1)));
    if (is_other(class_at(cpts, n, start))) {
        size_t end = start;
        while (is_other(class_at(cpts, n, end)))
            end++;
        while (end < n && (cpts[end] == '\r' || cpts[end] == '\n'))
            end++;
        return end;
    }
    /* whitespace: \s*[\r\n]+ ends after the run's last newline; then \s+(?!\S), \s+ */
    size_t n_space = 0, last_nl = 0;
    while (class_at(cpts, n, pos + n_space) == UNICODE_SPACE) {
        if (cpts[pos + n_space] == '\r' || cpts[pos + n_space] == '\n')
            last_nl = pos + n_space + 1;
        n_space++;
    }
    if (last_nl > 0)
        return last_nl;
    if (n_space > 1 && pos + n_space < n)
        return pos + n_space - 1;
    if (n_space > 0)
        return pos + n_space;
    return pos + 1;
}

/* ---- merging one word ----------------------------------------------------------------------- */

/* A pair merges when "a b" is a merge whose left part is exactly a; the lowest rank goes first. */
static int bpe_priority(const struct tokenizer *t, const char *text, const struct tokenize_symbol *a,
                        const struct tokenize_symbol *b, uint32_t *priority)
{
    const struct tokenize_slot *s = tokenize_map_get_pair(&t->merges, text + a->off, a->n, text + b->off, b->n);
    if (!s || (size_t)s->aux != a->n)
        return 0;
    *priority = UINT32_MAX - (uint32_t)s->value;
    return 1;
}

/* The word cpts[0..n) in byte-level form (bytes_to_unicode of its UTF-8) into w->buf. */
static int map_word(const struct tokenizer *t, struct tokenize_work *w, const uint32_t *cpts, size_t n,
                    size_t *len_out)
{
    if (tokenize_work_reserve_buf(w, n * 4 * 2))
        return IG_ENOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t u[4];
        /* llama.cpp throws on a codepoint past U+10FFFF here; we keep its four bytes */
        size_t k = unicode_utf8_encode(cpts[i], u);
        for (size_t j = 0; j < k; j++) {
            const uint8_t *m = t->byte_utf8[u[j]];
            memcpy(w->buf + len, m + 1, m[0]);
            len += m[0];
        }
    }
    *len_out = len;
    return 0;
}

static int emit_symbol(const struct tokenizer *t, const char *s, size_t n, struct tokenize_ids *out)
{
    const struct tokenize_slot *tok = tokenize_map_get(&t->tokens, s, n);
    if (tok)
        return tokenize_ids_push(out, tok->value);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        tok = tokenize_map_get(&t->tokens, s + i, 1);
        if (tok)
            rc = tokenize_ids_push(out, tok->value);
    }
    return rc;
}

static int encode_word(const struct tokenizer *t, struct tokenize_work *w, const uint32_t *cpts, size_t n,
                       struct tokenize_ids *out)
{
    size_t len;
    int rc = map_word(t, w, cpts, n, &len);
    if (!rc)
        rc = tokenize_split_chars(w, w->buf, len);
    if (!rc)
        rc = tokenize_merge(w, t, w->buf, bpe_priority, 0, w->n_sym);
    for (int32_t i = 0; !rc && w->n_sym > 0 && i != -1; i = w->sym[i].next)
        rc = emit_symbol(t, w->buf + w->sym[i].off, w->sym[i].n, out);
    return rc;
}

/* ---- the piece ------------------------------------------------------------------------------ */

int tokenize_bpe_piece(const struct tokenizer *t, struct tokenize_work *w, const char *text, size_t n,
                       struct tokenize_ids *out)
{
    if (n > w->cpts_cap) {
        uint32_t *c = ig_realloc(w->cpts, n * sizeof *c);
        if (!c)
            return IG_ENOMEM;
        w->cpts = c;
        w->cpts_cap = n;
    }
    size_t n_cpts = 0;
    for (size_t off = 0; off < n;)
        off += unicode_utf8_decode((const uint8_t *)text + off, n - off, &w->cpts[n_cpts++]);
    int rc = 0;
    for (size_t pos = 0; pos < n_cpts && !rc;) {
        size_t end = t->pre == TOKENIZE_PRE_QWEN2 ? qwen2_word_end(w->cpts, n_cpts, pos) : gpt2_word_end(w->cpts, n_cpts, pos);
        rc = encode_word(t, w, w->cpts + pos, end - pos, out);
        pos = end;
    }
    return rc;
}

/* ---- decoding ------------------------------------------------------------------------------- */

int tokenize_bpe_unmap(const struct tokenizer *t, const char *text, size_t len, struct tokenize_text *out)
{
    int rc = 0;
    for (size_t off = 0; off < len && !rc;) {
        uint32_t c;
        off += unicode_utf8_decode((const uint8_t *)text + off, len - off, &c);
        int b = c < sizeof t->cpt_byte / sizeof t->cpt_byte[0] ? t->cpt_byte[c] : -1;
        if (b >= 0) {
            uint8_t byte = (uint8_t)b;
            rc = tokenize_text_append(out, &byte, 1);
            continue;
        }
        /* llama_decode_text: "[UNK_BYTE_0x" + the character's UTF-8 in hex + the whole token + "]" */
        uint8_t u[4];
        char hex[9] = {0};
        size_t k = unicode_utf8_encode(c, u);
        for (size_t j = 0; j < k; j++)
            snprintf(hex + 2 * j, 3, "%02x", u[j]);
        rc = tokenize_text_append(out, "[UNK_BYTE_0x", 12);
        if (!rc)
            rc = tokenize_text_append(out, hex, 2 * k);
        if (!rc)
            rc = tokenize_text_append(out, text, len);
        if (!rc)
            rc = tokenize_text_append(out, "]", 1);
    }
    return rc;
}
