/* tokenize.c — the tokenizer object, the merge loop both models share, and the parts of
 * llama_tokenize / llama_detokenize that do not depend on the model (tokenize.h).
 *
 * Data flow: a struct vocab (from any reader) -> tokenizer_create builds hash maps and small tables
 * -> tokenizer_encode cuts user-defined tokens out of the text, hands each text piece to
 * spm.c or bpe.c, and adds BOS/EOS -> ids for calib/ and verify/.
 * Reference: llama.cpp src/llama-vocab.cpp (llama_vocab::impl::load, tokenizer_st_partition,
 * tokenize, token_to_piece, detokenize); each rule below names the llama.cpp behaviour it follows.
 */
#include "tokenize_impl.h"

#include "../common/ig_error.h"
#include "unicode_class.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tokenizer.ggml.pre values and the split llama.cpp's llama_vocab::impl::load gives them. The GPT-2
 * ones take no extra rules there (the jina-v1-en / jina-v2-code / roberta-bpe variants also add a
 * SEP token, so they are left out); the Llama 3 ones also set ignore_merges and default add_bos to
 * on; "gpt-4o" / "llama4" only turn off clean_spaces, a decoding rule we never apply. Any other
 * name is refused, as llama.cpp throws "unknown pre-tokenizer type" for it. */
static const struct {
    const char *name;
    int pre;   /* enum tokenize_pre */
} pre_names[] = {
    {"gpt-2", TOKENIZE_PRE_GPT2}, {"phi-2", TOKENIZE_PRE_GPT2}, {"jina-es", TOKENIZE_PRE_GPT2},
    {"jina-de", TOKENIZE_PRE_GPT2}, {"gigachat", TOKENIZE_PRE_GPT2}, {"jina-v2-es", TOKENIZE_PRE_GPT2},
    {"jina-v2-de", TOKENIZE_PRE_GPT2}, {"a.x-4.0", TOKENIZE_PRE_GPT2}, {"mellum", TOKENIZE_PRE_GPT2},
    {"exaone4", TOKENIZE_PRE_GPT2}, {"qwen2", TOKENIZE_PRE_QWEN2}, {"llama3", TOKENIZE_PRE_LLAMA3},
    {"llama-v3", TOKENIZE_PRE_LLAMA3}, {"llama-bpe", TOKENIZE_PRE_LLAMA3}, {"gpt-4o", TOKENIZE_PRE_GPT4O},
    {"llama4", TOKENIZE_PRE_GPT4O},
};

/* Token texts llama.cpp's loader forces to CONTROL whatever their stored type (its end-of-generation,
 * end-of-turn and fill-in-the-middle detection by text). This assumes the file names none of those
 * ids through tokenizer.ggml.{eot,fim_*}_token_id keys, which struct vocab does not carry. */
static const char *const control_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>",
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>",
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
    "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>",
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the hash map --------------------------------------------------------------------------- */

/* FNV-1a, 32 bits, fed in pieces so a merge "a b" hashes without being built. */
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static uint32_t fnv_feed(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * FNV_PRIME;
    return h;
}

int tokenize_map_init(struct tokenize_map *m, int64_t n_keys)
{
    size_t cap = 16;
    while (cap < (size_t)n_keys * 2)
        cap *= 2;
    m->slots = ig_calloc(cap, sizeof *m->slots);
    m->mask = m->slots ? cap - 1 : 0;
    m->n_keys = 0;
    return m->slots ? 0 : IG_ENOMEM;
}

void tokenize_map_free(struct tokenize_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->n_keys = 0;
}

/* The slot for a key of hash h, or the empty slot where it would go. */
static struct tokenize_slot *map_probe(const struct tokenize_map *m, uint32_t h, const char *key, size_t len)
{
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct tokenize_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

/* Double the table, keeping it at most half full. */
static int map_grow(struct tokenize_map *m)
{
    struct tokenize_map bigger;
    if (tokenize_map_init(&bigger, (int64_t)(m->mask + 1)))
        return IG_ENOMEM;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].key)
            *map_probe(&bigger, m->slots[i].hash, m->slots[i].key, m->slots[i].len) = m->slots[i];
    bigger.n_keys = m->n_keys;
    free(m->slots);
    *m = bigger;
    return 0;
}

int tokenize_map_put(struct tokenize_map *m, const char *key, size_t len, int32_t value, int32_t aux,
                     int policy)
{
    if (2 * (m->n_keys + 1) > m->mask + 1 && map_grow(m))
        return IG_ENOMEM;
    uint32_t h = fnv_feed(FNV_OFFSET, key, len);
    struct tokenize_slot *s = map_probe(m, h, key, len);
    if (s->key && policy == TOKENIZE_PUT_KEEP)
        return 0;
    m->n_keys += !s->key;
    *s = (struct tokenize_slot){key, (uint32_t)len, h, value, aux};
    return 0;
}

const struct tokenize_slot *tokenize_map_get(const struct tokenize_map *m, const char *key, size_t len)
{
    if (len > UINT32_MAX)
        return NULL;
    uint32_t h = fnv_feed(FNV_OFFSET, key, len);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct tokenize_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

const struct tokenize_slot *tokenize_map_get_pair(const struct tokenize_map *m, const char *a, size_t an,
                                                  const char *b, size_t bn)
{
    size_t len = an + 1 + bn;
    if (len > UINT32_MAX)
        return NULL;
    uint32_t h = fnv_feed(fnv_feed(fnv_feed(FNV_OFFSET, a, an), " ", 1), b, bn);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct tokenize_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, a, an) == 0 && s->key[an] == ' ' &&
            memcmp(s->key + an + 1, b, bn) == 0)
            return s;
    }
}

/* ---- growing buffers ------------------------------------------------------------------------ */

/* Grow *p (elements of elem bytes, capacity *cap) to hold need elements. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *q = ig_realloc(*p, cap2 * elem);
    if (!q)
        return IG_ENOMEM;
    *p = q;
    *cap = cap2;
    return 0;
}

int tokenize_ids_push(struct tokenize_ids *out, int32_t id)
{
    size_t cap = (size_t)out->cap;
    int rc = grow((void **)&out->ids, &cap, (size_t)out->n + 1, sizeof *out->ids);
    out->cap = (int64_t)cap;
    if (!rc)
        out->ids[out->n++] = id;
    return rc;
}

int tokenize_text_append(struct tokenize_text *b, const void *s, size_t n)
{
    int rc = grow((void **)&b->p, &b->cap, b->n + n + 1, 1);
    if (rc)
        return rc;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int tokenize_work_reserve_buf(struct tokenize_work *w, size_t n)
{
    return grow((void **)&w->buf, &w->buf_cap, n, 1);
}

static void work_free(struct tokenize_work *w)
{
    free(w->buf);
    free(w->sym);
    free(w->heap);
    free(w->cpts);
}

/* ---- the merge loop ------------------------------------------------------------------------- */

int tokenize_split_chars(struct tokenize_work *w, const char *text, size_t n)
{
    /* at most one symbol per byte; no more than TOKENIZE_MAX_TEXT_BYTES + 1 characters, so the
     * indices fit int32_t (and an escaped piece, at most 3 * TOKENIZE_MAX_TEXT_BYTES + 3 bytes, fits
     * a bigram's uint32_t size) */
    if (grow((void **)&w->sym, &w->sym_cap, n, sizeof *w->sym))
        return IG_ENOMEM;
    int32_t k = 0;
    for (size_t off = 0; off < n; k++) {
        size_t len = unicode_utf8_len((uint8_t)text[off]);
        if (len > n - off)
            len = n - off;
        w->sym[k] = (struct tokenize_symbol){off, len, k - 1, off + len == n ? -1 : k + 1};
        off += len;
    }
    w->n_sym = k;
    return 0;
}

/* Max-heap on the key (llama.cpp's llm_bigram comparators: best priority, then leftmost). */
static void sift_down(struct tokenize_bigram *h, size_t n, size_t i)
{
    struct tokenize_bigram x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].key > h[c].key)
            c++;
        if (h[c].key <= x.key)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void heap_push(struct tokenize_work *w, struct tokenize_bigram b)
{
    size_t i = w->heap_n++;
    while (i > 0 && b.key > w->heap[(i - 1) / 2].key) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = b;
}

static struct tokenize_bigram heap_pop(struct tokenize_work *w)
{
    struct tokenize_bigram top = w->heap[0];
    w->heap[0] = w->heap[--w->heap_n];
    if (w->heap_n > 0)
        sift_down(w->heap, w->heap_n, 0);
    return top;
}

static int32_t bigram_left(const struct tokenize_bigram *b)
{
    return (int32_t)(UINT32_MAX - (uint32_t)b->key);
}

/* Queue the pair (left, right) if it merges: pushed in heap order when sift, else appended for a
 * later heap construction. Returns 0 or IG_ENOMEM. */
static int add_bigram(struct tokenize_work *w, const struct tokenizer *t, const char *text,
                      tokenize_priority_fn priority, int32_t left, int32_t right, int sift)
{
    uint32_t p;
    if (left < 0 || right < 0 || !priority(t, text, &w->sym[left], &w->sym[right], &p))
        return 0;
    if (grow((void **)&w->heap, &w->heap_cap, w->heap_n + 1, sizeof *w->heap))
        return IG_ENOMEM;
    struct tokenize_bigram b = {(uint64_t)p << 32 | (UINT32_MAX - (uint32_t)left), right,
                                (uint32_t)(w->sym[left].n + w->sym[right].n)};
    if (sift)
        heap_push(w, b);
    else
        w->heap[w->heap_n++] = b;
    return 0;
}

int tokenize_merge(struct tokenize_work *w, const struct tokenizer *t, const char *text,
                   tokenize_priority_fn priority, int32_t first, int32_t end)
{
    int rc = 0;
    w->heap_n = 0;
    w->sym[first].prev = -1;
    w->sym[end - 1].next = -1;
    for (int32_t i = first + 1; i < end && !rc; i++)
        rc = add_bigram(w, t, text, priority, i - 1, i, 0);
    for (size_t i = w->heap_n / 2; i-- > 0;)   /* Floyd's heap construction, O(n) */
        sift_down(w->heap, w->heap_n, i);
    while (w->heap_n > 0 && !rc) {
        struct tokenize_bigram b = heap_pop(w);
        int32_t left = bigram_left(&b);
        struct tokenize_symbol *l = &w->sym[left], *r = &w->sym[b.right];
        /* stale: one side was merged away, or grew since the pair was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = left;
        rc = add_bigram(w, t, text, priority, l->prev, left, 1);
        if (!rc)
            rc = add_bigram(w, t, text, priority, left, l->next, 1);
    }
    return rc;
}

/* ---- building the tables -------------------------------------------------------------------- */

/* The model and, for gpt2, the pre-tokenizer; or IG_EINVAL naming what is unsupported. */
static int pick_kind(const struct vocab *v, int *kind, int *pre)
{
    if (strcmp(v->model, "llama") == 0) {
        *kind = TOKENIZE_SPM;
        return 0;
    }
    if (strcmp(v->model, "gpt2") != 0)
        return ig_error_set(IG_EINVAL, "tokenizer_create: tokenizer model '%s' is not supported (known: llama, gpt2)",
                            v->model);
    *kind = TOKENIZE_BPE;
    for (size_t i = 0; i < COUNT_OF(pre_names); i++)
        if (strcmp(v->pre, pre_names[i].name) == 0) {
            *pre = pre_names[i].pre;
            return 0;
        }
    char known[512] = "";
    for (size_t i = 0; i < COUNT_OF(pre_names); i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", pre_names[i].name);
    return ig_error_set(IG_EINVAL, "tokenizer_create: gpt2 pre-tokenizer '%s' is not supported (known: %s)", v->pre,
                        known);
}

/* An id from the vocab, else llama.cpp's default for the model; -1 if out of range. */
static int32_t resolve_id(int64_t id, int64_t fallback, int64_t n_tokens)
{
    int64_t x = id >= 0 ? id : fallback;
    return x >= 0 && x < n_tokens ? (int32_t)x : -1;
}

static void resolve_specials(struct tokenizer *t, const struct vocab *v)
{
    int spm = t->kind == TOKENIZE_SPM;
    /* llama.cpp defaults: llama bos 1, eos 2, unk 0; gpt2 bos = eos = 11, no unk */
    t->bos_id = resolve_id(v->bos_id, spm ? 1 : 11, t->n_tokens);
    t->eos_id = resolve_id(v->eos_id, spm ? 2 : 11, t->n_tokens);
    t->unk_id = resolve_id(v->unk_id, spm ? 0 : -1, t->n_tokens);
    /* llama.cpp's Llama 3 pre-tokenizers turn add_bos on unless the file says otherwise */
    t->add_bos = v->add_bos >= 0 ? v->add_bos : spm || t->pre == TOKENIZE_PRE_LLAMA3;
    t->add_eos = v->add_eos >= 0 ? v->add_eos : 0;
    t->add_space_prefix = v->add_space_prefix >= 0 ? v->add_space_prefix : spm;
}

static const char *token_text(const struct vocab *v, int64_t id)
{
    return v->tokens[id] ? v->tokens[id] : "";
}

/* Token types as llama.cpp's attributes: unknown numbers become UNDEFINED, control-looking texts
 * become CONTROL. */
static int build_attr(struct tokenizer *t, const struct vocab *v)
{
    t->attr = ig_malloc((size_t)t->n_tokens);
    if (!t->attr)
        return IG_ENOMEM;
    for (int64_t i = 0; i < t->n_tokens; i++) {
        int32_t ty = v->types ? v->types[i] : VOCAB_TOKEN_NORMAL;
        t->attr[i] = ty >= VOCAB_TOKEN_NORMAL && ty <= VOCAB_TOKEN_BYTE ? (uint8_t)ty : VOCAB_TOKEN_UNDEFINED;
    }
    for (size_t k = 0; k < COUNT_OF(control_texts); k++) {
        const struct tokenize_slot *s = tokenize_map_get(&t->tokens, control_texts[k], strlen(control_texts[k]));
        if (s)
            t->attr[s->value] = VOCAB_TOKEN_CONTROL;
    }
    return 0;
}

struct user_token {
    size_t len;
    int32_t id;
};

static int by_length_desc(const void *pa, const void *pb)
{
    const struct user_token *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len < b->len ? 1 : -1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The user-defined tokens tokenizer_encode cuts out first, longest first, then by id (llama.cpp's
 * cache_special_tokens less the control and unknown ones, which parse_special = false skips). */
static int build_user_list(struct tokenizer *t, const struct vocab *v)
{
    int64_t n = 0;
    for (int64_t i = 0; i < t->n_tokens; i++)
        n += t->attr[i] == VOCAB_TOKEN_USER_DEFINED && token_text(v, i)[0];
    struct user_token *u = ig_malloc((size_t)(n ? n : 1) * sizeof *u);
    t->user_ids = ig_malloc((size_t)(n ? n : 1) * sizeof *t->user_ids);
    if (!u || !t->user_ids) {
        free(u);
        return IG_ENOMEM;
    }
    for (int64_t i = 0, k = 0; i < t->n_tokens; i++)
        if (t->attr[i] == VOCAB_TOKEN_USER_DEFINED && token_text(v, i)[0])
            u[k++] = (struct user_token){strlen(token_text(v, i)), (int32_t)i};
    qsort(u, (size_t)n, sizeof *u, by_length_desc);
    for (int64_t k = 0; k < n; k++)
        t->user_ids[k] = u[k].id;
    t->n_user = n;
    free(u);
    return 0;
}

/* SPM: the token each byte falls back to (llama.cpp's byte_to_token: "<0xXX>", else the byte as a
 * one-character token). */
static void build_byte_ids(struct tokenizer *t)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        char one = (char)b;
        const struct tokenize_slot *s = tokenize_map_get(&t->tokens, name, 6);
        if (!s && b != 0)   /* llama.cpp looks up the C string {b, 0}: for b = 0 that is "" */
            s = tokenize_map_get(&t->tokens, &one, 1);
        t->byte_ids[b] = s ? s->value : -1;
    }
}

/* BPE: bytes_to_unicode as UTF-8, and its inverse for decoding. */
static void build_byte_maps(struct tokenizer *t)
{
    for (size_t c = 0; c < COUNT_OF(t->cpt_byte); c++)
        t->cpt_byte[c] = -1;
    for (int b = 0; b < 256; b++) {
        uint8_t u[4];
        uint32_t c = unicode_byte_to_cpt((uint8_t)b);
        size_t n = unicode_utf8_encode(c, u);
        t->byte_utf8[b][0] = (uint8_t)n;
        memcpy(&t->byte_utf8[b][1], u, n);
        t->cpt_byte[c] = (int16_t)b;
    }
}

/* llama.cpp splits each merge at its first space from the second byte on; a merge without one
 * becomes the pair ("", ""), which no lookup finds, so it is skipped. */
static int build_merges(struct tokenizer *t, const struct vocab *v)
{
    int rc = tokenize_map_init(&t->merges, v->n_merges);
    for (int64_t i = 0; i < v->n_merges && !rc && i <= INT32_MAX; i++) {
        const char *m = v->merges[i] ? v->merges[i] : "";
        const char *sp = m[0] ? strchr(m + 1, ' ') : NULL;
        if (sp)
            rc = tokenize_map_put(&t->merges, m, strlen(m), (int32_t)i, (int32_t)(sp - m), TOKENIZE_PUT_KEEP);
    }
    return rc;
}

static int build_tokens(struct tokenizer *t, const struct vocab *v)
{
    int rc = tokenize_map_init(&t->tokens, t->n_tokens);
    for (int64_t i = 0; i < t->n_tokens && !rc; i++) {
        const char *s = token_text(v, i);
        if (s[0])   /* llama.cpp renames an empty token "[EMPTY_<id>]"; we leave it out */
            rc = tokenize_map_put(&t->tokens, s, strlen(s), (int32_t)i, 0, TOKENIZE_PUT_REPLACE);
    }
    return rc;
}

/* SPM: each two adjacent characters inside a token (split as tokenize_split_chars splits text). */
static int build_pairs(struct tokenizer *t, const struct vocab *v)
{
    int rc = tokenize_map_init(&t->pairs, 1024);
    for (int64_t i = 0; i < t->n_tokens && !rc; i++) {
        const char *s = token_text(v, i);
        size_t n = strlen(s), a = 0, b;
        for (; a < n && !rc; a = b) {
            b = a + unicode_utf8_len((uint8_t)s[a]);
            if (b >= n)
                break;
            size_t c = b + unicode_utf8_len((uint8_t)s[b]);
            rc = tokenize_map_put(&t->pairs, s + a, (c < n ? c : n) - a, 0, 0, TOKENIZE_PUT_KEEP);
        }
    }
    return rc;
}

/* ---- create / destroy ----------------------------------------------------------------------- */

int tokenizer_create(struct tokenizer **out, const struct vocab *v)
{
    *out = NULL;
    if (!v || v->n_tokens <= 0 || v->n_tokens > VOCAB_MAX_TOKENS || !v->tokens)
        return ig_error_set(IG_EINVAL, "tokenizer_create: the vocabulary is empty (%lld tokens)",
                            v ? (long long)v->n_tokens : 0LL);
    int kind = 0, pre = TOKENIZE_PRE_GPT2, rc = pick_kind(v, &kind, &pre);
    if (rc)
        return rc;
    struct tokenizer *t = ig_calloc(1, sizeof *t);
    if (!t)
        return IG_ENOMEM;
    t->v = v;
    t->kind = kind;
    t->pre = pre;
    t->ignore_merges = pre == TOKENIZE_PRE_LLAMA3;
    t->n_tokens = v->n_tokens;
    resolve_specials(t, v);
    rc = build_tokens(t, v);
    if (!rc)
        rc = build_attr(t, v);
    if (!rc)
        rc = build_user_list(t, v);
    if (!rc && kind == TOKENIZE_BPE)
        rc = build_merges(t, v);
    if (!rc && kind == TOKENIZE_SPM)
        rc = build_pairs(t, v);
    if (rc) {
        tokenizer_destroy(t);
        return rc;
    }
    build_byte_ids(t);
    build_byte_maps(t);
    *out = t;
    return 0;
}

void tokenizer_destroy(struct tokenizer *t)
{
    if (!t)
        return;
    tokenize_map_free(&t->tokens);
    tokenize_map_free(&t->merges);
    tokenize_map_free(&t->pairs);
    free(t->attr);
    free(t->user_ids);
    free(t);
}

/* ---- encode --------------------------------------------------------------------------------- */

/* A part of the text: raw bytes text[off..off+len), or one user-defined token. */
struct fragment {
    size_t off, len;
    int32_t token;   /* -1 for raw text */
};

struct fragments {
    struct fragment *f;   /* [cap] */
    size_t n, cap;
};

static int fragments_push(struct fragments *fs, size_t off, size_t len, int32_t token)
{
    if (grow((void **)&fs->f, &fs->cap, fs->n + 1, sizeof *fs->f))
        return IG_ENOMEM;
    fs->f[fs->n++] = (struct fragment){off, len, token};
    return 0;
}

/* Split every raw fragment of *fs at each occurrence of token id (leftmost first, no overlaps),
 * as tokenizer_st_partition does for one special token. */
static int cut_token(const struct tokenizer *t, const char *text, struct fragments *fs, int32_t id)
{
    const char *s = token_text(t->v, id);
    size_t slen = strlen(s);
    struct fragments next = {0};
    int rc = 0;
    for (size_t i = 0; i < fs->n && !rc; i++) {
        struct fragment f = fs->f[i];
        if (f.token >= 0) {
            rc = fragments_push(&next, f.off, f.len, f.token);
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        const char *m;
        while (!rc && (m = memmem(text + pos, end - pos, s, slen)) != NULL) {
            size_t at = (size_t)(m - text);
            if (at > pos)
                rc = fragments_push(&next, pos, at - pos, -1);
            if (!rc)
                rc = fragments_push(&next, 0, 0, id);
            pos = at + slen;
        }
        if (!rc && pos < end)
            rc = fragments_push(&next, pos, end - pos, -1);
    }
    free(fs->f);
    *fs = next;
    return rc;
}

static int partition(const struct tokenizer *t, const char *text, size_t n, struct fragments *fs)
{
    int rc = n ? fragments_push(fs, 0, n, -1) : 0;   /* empty text: no fragment at all */
    for (int64_t k = 0; k < t->n_user && !rc && fs->n > 0; k++)
        rc = cut_token(t, text, fs, t->user_ids[k]);
    return rc;
}

static int push_special(struct tokenize_ids *out, int32_t id, const char *which)
{
    if (id < 0)
        return ig_error_set(IG_EINVAL, "tokenizer_encode: add_special asks for %s but the vocabulary has no %s token",
                            which, which);
    return tokenize_ids_push(out, id);
}

/* Every fragment in order; SPM prefixes a space to a text piece that starts the text or follows a
 * user-defined token (llama.cpp's is_prev_special). */
static int encode_fragments(const struct tokenizer *t, const char *text, const struct fragments *fs,
                            struct tokenize_ids *out)
{
    struct tokenize_work w = {0};
    int rc = 0, prev_special = 1;
    for (size_t i = 0; i < fs->n && !rc; i++) {
        const struct fragment *f = &fs->f[i];
        if (f->token >= 0) {
            rc = tokenize_ids_push(out, f->token);
            prev_special = 1;
        } else if (t->kind == TOKENIZE_SPM) {
            rc = tokenize_spm_piece(t, &w, text + f->off, f->len, t->add_space_prefix && prev_special, out);
            prev_special = 0;
        } else {
            rc = tokenize_bpe_piece(t, &w, text + f->off, f->len, out);
        }
    }
    work_free(&w);
    return rc;
}

int64_t tokenizer_encode(const struct tokenizer *t, const char *text, size_t n, int add_special,
                         int32_t **ids_out)
{
    *ids_out = NULL;
    if (n > 0 && !text)
        return ig_error_set(IG_EINVAL, "tokenizer_encode: text is NULL but n is %zu", n);
    if (n > TOKENIZE_MAX_TEXT_BYTES)
        return ig_error_set(IG_EINVAL, "tokenizer_encode: text of %zu bytes is longer than the %zu allowed", n,
                            TOKENIZE_MAX_TEXT_BYTES);
    struct tokenize_ids out = {0};
    struct fragments fs = {0};
    int rc = tokenize_ids_push(&out, 0);   /* so that *ids_out is never NULL */
    out.n = 0;
    if (!rc && add_special && t->add_bos)
        rc = push_special(&out, t->bos_id, "BOS");
    if (!rc)
        rc = partition(t, text, n, &fs);
    if (!rc)
        rc = encode_fragments(t, text, &fs, &out);
    if (!rc && add_special && t->add_eos)
        rc = push_special(&out, t->eos_id, "EOS");
    free(fs.f);
    if (rc) {
        free(out.ids);
        return rc;
    }
    *ids_out = out.ids;
    return out.n;
}

/* ---- decode --------------------------------------------------------------------------------- */

/* SPM byte token "<0xXX>": llama.cpp's strtol(text.substr(3, 2), NULL, 16); len >= 3. */
static uint8_t spm_byte_value(const char *s, size_t len)
{
    char hex[3] = {0};
    memcpy(hex, s + 3, len - 3 < 2 ? len - 3 : 2);
    return (uint8_t)strtol(hex, NULL, 16);
}

/* Replace every "▁" with " " (llama_unescape_whitespace). */
static int spm_unescape(const char *s, size_t len, struct tokenize_text *out)
{
    int rc = 0;
    size_t i = 0;
    while (i < len && !rc) {
        const char *m = memmem(s + i, len - i, "\xe2\x96\x81", 3);
        size_t stop = m ? (size_t)(m - s) : len;
        rc = tokenize_text_append(out, s + i, stop - i);
        if (!rc && m)
            rc = tokenize_text_append(out, " ", 1);
        i = m ? stop + 3 : len;
    }
    return rc;
}

/* Append the piece for id (llama_token_to_piece, special = false); with lstrip, drop one leading
 * space of it. */
static int decode_piece(const struct tokenizer *t, int32_t id, int lstrip, struct tokenize_text *out)
{
    const char *s = token_text(t->v, id);
    size_t len = strlen(s), start = out->n;
    int attr = t->attr[id], rc = 0;
    if (attr == VOCAB_TOKEN_CONTROL || attr == VOCAB_TOKEN_UNKNOWN)
        return 0;
    if (attr == VOCAB_TOKEN_USER_DEFINED) {
        rc = tokenize_text_append(out, s, len);
    } else if (t->kind == TOKENIZE_SPM && attr == VOCAB_TOKEN_NORMAL) {
        rc = spm_unescape(s, len, out);
    } else if (t->kind == TOKENIZE_SPM && attr == VOCAB_TOKEN_BYTE) {
        uint8_t b = len >= 3 ? spm_byte_value(s, len) : 0;
        if (len >= 3)   /* llama.cpp throws on a shorter one; we give nothing */
            rc = tokenize_text_append(out, &b, 1);
    } else if (t->kind == TOKENIZE_BPE && attr == VOCAB_TOKEN_NORMAL) {
        rc = tokenize_bpe_unmap(t, s, len, out);
    }   /* other types give nothing */
    if (!rc && lstrip && out->n > start && out->p[start] == ' ') {
        memmove(out->p + start, out->p + start + 1, out->n - start - 1);
        out->p[--out->n] = '\0';
    }
    return rc;
}

int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, int64_t n, char **text_out,
                     size_t *len_out)
{
    int fresh = *text_out == NULL;
    size_t len0 = fresh ? 0 : *len_out;
    struct tokenize_text out = {*text_out, len0, fresh ? 0 : len0 + 1};
    int rc = tokenize_text_append(&out, "", 0);   /* allocate a new text; keep the NUL */
    for (int64_t i = 0; i < n && !rc; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_tokens)
            rc = ig_error_set(IG_EINVAL, "tokenizer_decode: token %lld: id %d is outside 0..%lld",
                              (long long)i, ids[i], (long long)t->n_tokens - 1);
        else   /* llama_detokenize: remove_space applies to the first token only */
            rc = decode_piece(t, ids[i], fresh && i == 0 && t->add_space_prefix, &out);
    }
    if (rc) {
        if (fresh) {
            free(out.p);
            return rc;
        }
        out.n = len0;   /* roll back what this call appended */
        out.p[len0] = '\0';
    }
    *text_out = out.p;
    *len_out = out.n;
    return rc;
}
