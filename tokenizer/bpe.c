/* bpe.c — byte-level BPE ("gpt2" vocabularies) for one text piece, as llama.cpp's
 * llm_tokenizer_bpe_session::tokenize does it, and the reverse byte map for decoding.
 *
 * 1. Decode the piece to codepoints (invalid UTF-8 -> U+FFFD per bad byte, unicode_class.h).
 * 2. Split into words with the vocabulary's pre-tokenizer regex (tokenizer.ggml.pre), each
 *    written out by hand so it gives the words llama.cpp's splitter gives:
 *      GPT-2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      Qwen2, Llama 3 (\p{N} one or up to three digits a word), GPT-4o (case-aware letters): below.
 * 3. Re-encode each word as UTF-8 and map every byte through bytes_to_unicode. With
 *    ignore_merges (Llama 3) a word that is itself a token becomes that token; otherwise merge the
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

/* The whitespace alternatives Qwen2's, Llama 3's and GPT-4o's regexes end with, in order:
 *   \s*[\r\n]+  ends after the run's last newline; \s+(?!\S) leaves the run's last space for the
 *   next word unless the run ends the piece; \s+
 * End of the word that starts at pos, or pos when cpts[pos] is no space. */
static size_t space_word_end(const uint32_t *cpts, size_t n, size_t pos)
{
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
    return pos + n_space;
}

/* Bytes of the contraction (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]) at pos: 2, 3 or
 * 0 for none. llama.cpp lowers the letters with its full case table; only ASCII letters lower to
 * the ones compared, so folding bit 5 is the same test. */
static size_t contraction_len(const uint32_t *cpts, size_t n, size_t pos)
{
    if (pos + 1 >= n || cpts[pos] != '\'')
        return 0;
    uint32_t c1 = cpts[pos + 1] | 0x20;
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        return 2;
    if (pos + 2 >= n)
        return 0;
    uint32_t c2 = cpts[pos + 2] | 0x20;
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
        return 3;
    return 0;
}

/* Llama 3's regex (llama.cpp's LLAMA_VOCAB_PRE_TYPE_LLAMA3, "llama-bpe"), written out as
 * llama.cpp's unicode_regex_split_custom_llama3 does it:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Qwen2's regex (LLAMA_VOCAB_PRE_TYPE_QWEN2) is the same with \p{N} for \p{N}{1,3}: max_digits is
 * 3 or 1. End of the word that starts at pos (pos < n). */
static size_t llama3_word_end(const uint32_t *cpts, size_t n, size_t pos, size_t max_digits)
{
    uint32_t c = cpts[pos];
    int cls = class_at(cpts, n, pos);
    size_t k = contraction_len(cpts, n, pos);
    if (k)
        return pos + k;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (cls == UNICODE_LETTER || (c != '\r' && c != '\n' && cls != UNICODE_NUMBER &&
                                  class_at(cpts, n, pos + 1) == UNICODE_LETTER)) {
        size_t end = pos + 1;
        while (class_at(cpts, n, end) == UNICODE_LETTER)
            end++;
        return end;
    }
    if (cls == UNICODE_NUMBER) {   /* \p{N}{1,max_digits}: a longer run splits from its left */
        size_t end = pos + 1;
        while (end - pos < max_digits && class_at(cpts, n, end) == UNICODE_NUMBER)
            end++;
        return end;
    }
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
    size_t end = space_word_end(cpts, n, pos);
    return end > pos ? end : pos + 1;   /* pos + 1: no branch matched (cannot happen) */
}

/* GPT-4o's letter classes as llama.cpp reads them. Its tokenizer.json regex has
 * [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] ("upper") and [\p{Ll}\p{Lm}\p{Lo}\p{M}] ("lower"), but llama.cpp
 * runs the rewrite ((?=[\p{L}])([^a-z])) and ((?=[\p{L}])([^A-Z])) through std::regex on text where
 * every non-ASCII codepoint is collapsed to one byte per class (unicode_regex_split): so "upper" is
 * any letter but a-z, "lower" any letter but A-Z (a non-ASCII letter is both, whatever its case),
 * and a mark (\p{M}) is no letter at all but an "other" like punctuation. Whitespace is \s of the
 * collapsed text, i.e. White_Space, as in unicode_class.h. */
static int gpt4o_upper(const uint32_t *cpts, size_t n, size_t pos)
{
    return class_at(cpts, n, pos) == UNICODE_LETTER && !(cpts[pos] >= 'a' && cpts[pos] <= 'z');
}

static int gpt4o_lower(const uint32_t *cpts, size_t n, size_t pos)
{
    return class_at(cpts, n, pos) == UNICODE_LETTER && !(cpts[pos] >= 'A' && cpts[pos] <= 'Z');
}

/* GPT-4o's regex (o200k; llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT4O, "gpt-4o"), with U and W the
 * upper / lower classes above, P = [^\r\n\p{L}\p{N}] and C the contraction:
 *   P?U*W+C? | P?U+W*C? | \p{N}{1,3} | " ?[^\s\p{L}\p{N}]+[\r\n/]*" | \s*[\r\n]+ | \s+(?!\S) | \s+
 * llama.cpp has no hand-written splitter for it; this is the match a backtracking engine
 * (std::regex, ECMAScript: first alternative that matches, greedy quantifiers) finds, worked out
 * branch by branch. End of the word that starts at pos (pos < n). */
static size_t gpt4o_word_end(const uint32_t *cpts, size_t n, size_t pos)
{
    uint32_t c = cpts[pos];
    int cls = class_at(cpts, n, pos);
    /* P?: taken when it is one; leaving it out never helps, as cpts[pos] is then no letter */
    size_t start = pos + (c != '\r' && c != '\n' && cls != UNICODE_LETTER && cls != UNICODE_NUMBER);
    size_t upper_end = start;
    while (gpt4o_upper(cpts, n, upper_end))
        upper_end++;
    size_t end = pos;
    if (gpt4o_lower(cpts, n, upper_end)) {   /* U* all of the run, W+ from a-z on */
        end = upper_end;
        while (gpt4o_lower(cpts, n, end))
            end++;
    } else {
        /* U* backs off until W+ can take one: the run's last non-ASCII letter (U and W both) ends
         * the match; with none, the second alternative takes the run of A-Z as U+ */
        size_t k = upper_end;
        while (k > start && !gpt4o_lower(cpts, n, k - 1))
            k--;
        end = k > start ? k : upper_end;
    }
    if (end > start)
        return end + contraction_len(cpts, n, end);
    if (cls == UNICODE_NUMBER) {   /* \p{N}{1,3} */
        end = pos + 1;
        while (end - pos < 3 && class_at(cpts, n, end) == UNICODE_NUMBER)
            end++;
        return end;
    }
    /* " ?[^\s\p{L}\p{N}]+[\r\n/]*" */
    start = pos + (c == ' ' && is_other(class_at(cpts, n, pos + 1)));
    if (is_other(class_at(cpts, n, start))) {
        end = start;
        while (is_other(class_at(cpts, n, end)))
            end++;
        while (end < n && (cpts[end] == '\r' || cpts[end] == '\n' || cpts[end] == '/'))
            end++;
        return end;
    }
    end = space_word_end(cpts, n, pos);
    return end > pos ? end : pos + 1;   /* pos + 1: no branch matched (cannot happen) */
}

/* End of the word that starts at pos under t's pre-tokenizer. */
static size_t word_end(const struct tokenizer *t, const uint32_t *cpts, size_t n, size_t pos)
{
    switch (t->pre) {
    case TOKENIZE_PRE_QWEN2: return llama3_word_end(cpts, n, pos, 1);
    case TOKENIZE_PRE_LLAMA3: return llama3_word_end(cpts, n, pos, 3);
    case TOKENIZE_PRE_GPT4O: return gpt4o_word_end(cpts, n, pos);
    default: return gpt2_word_end(cpts, n, pos);
    }
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
    if (rc)
        return rc;
    if (t->ignore_merges) {   /* llama.cpp: a word that is a token is that token, merges or not */
        const struct tokenize_slot *tok = tokenize_map_get(&t->tokens, w->buf, len);
        if (tok)
            return tokenize_ids_push(out, tok->value);
    }
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
        size_t end = word_end(t, w->cpts, n_cpts, pos);
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
