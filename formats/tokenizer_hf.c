/* tokenizer_hf.c — HF tokenizers' tokenizer.json (+ tokenizer_config.json,
 * special_tokens_map.json, config.json) → struct vocab.
 *
 * model_src reads an HF folder without a tokenizer.model here. Two kinds of BPE are
 * supported, told apart by model.byte_fallback and the pre_tokenizer:
 *   a. SentencePiece-style BPE (byte_fallback true; "▁" for spaces, as TinyStories and
 *      Llama conversions have it) → model "llama", scores, types.
 *   b. byte-level BPE (a ByteLevel pre_tokenizer, GPT-2 style) → model "gpt2", merges.
 *
 * Scores for (a). llama.cpp's SentencePiece tokenizer starts from single characters and,
 * at each step, merges the adjacent pair whose concatenation is a vocab token of HIGHEST
 * score (ties: leftmost). BPE merges the pair of LOWEST rank in model.merges (ties:
 * leftmost). Giving the token that merge i produces (left + right of merges[i]) the score
 * -(float)i, keeping the lowest i when several merges produce it, makes the first order
 * the second wherever each merged token has one merge and no other pair concatenates to
 * it; that holds for vocabularies BPE training made, where it can fail the two tokenizers
 * may differ. Tokens no merge produces are never the result of a merge step: single
 * characters, bytes and specials get 0.0; a multi-character normal token that no merge
 * makes gets -1e9, so it is never preferred. (On the 98 TinyStories lines the test uses,
 * both orders give the same tokens: tests/formats/test_tokenizer.c.)
 */
#include "tokenizer.h"

#include "../common/ig_error.h"
#include "file_map.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- constants and types ----------------------------------------------------------------- */

/* tokenizer_config.json can hold a chat template, but never more than this. */
#define HF_MAX_CONFIG_BYTES ((size_t)64 << 20)
/* Score of a multi-character normal token that no merge produces. */
#define HF_UNREACHABLE_SCORE -1e9f

static const char hf_space_marker[] = "\xe2\x96\x81";   /* U+2581 "▁" */
static const char hf_gpt2_space[] = "\xc4\xa0";         /* U+0120 "Ġ": a space inside a merge */

enum hf_family { HF_SPM_BPE = 1, HF_BYTE_BPE = 2 };

/* Flags per token id for the types. */
enum { HF_ADDED = 1, HF_SPECIAL = 2 };

/* Token text → id, open addressing with linear probing. */
struct hf_index {
    int64_t *slots;             /* [mask + 1] token id, or -1 for an empty slot */
    uint64_t mask;
    char *const *tokens;        /* borrowed: the vocab's tokens */
};

/* One merge rule, borrowed from the JSON document. */
struct hf_merge {
    const char *left, *right;
    size_t left_len, right_len;
    int64_t id;                 /* the token left + right */
};

struct hf_reader {
    const char *path;
    enum hf_family family;
    json_t *root;
    const json_t *model;        /* borrowed: root.model */
    struct vocab *v;
    uint8_t *flags;             /* [n_tokens] HF_ADDED | HF_SPECIAL */
    struct hf_index index;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static const char *hf_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

/* A token text fit for a one-line message: at most 48 bytes, control bytes as '?'. */
static const char *hf_quote(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; s[n] && n < 48 && n + 4 < size; n++)
        buf[n] = (unsigned char)s[n] < 0x20 ? '?' : s[n];
    size_t kept = n;
    while (s[n] && kept > 0 && ((unsigned char)s[kept] & 0xc0) == 0x80)
        kept--;   /* cut before a character, not inside one */
    buf[kept] = '\0';
    if (s[n])
        strcat(buf, "...");
    return buf;
}

static int hf_is_byte_piece(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    /* strlen first: strchr would also find the terminator */
    return strlen(s) == 6 && memcmp(s, "<0x", 3) == 0 && strchr(hex, s[3]) && strchr(hex, s[4]) && s[5] == '>';
}

/* Number of UTF-8 characters (bytes that do not continue a sequence). */
static size_t hf_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static char *hf_strndup(const char *s, size_t len)
{
    char *p = ig_malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static int hf_json_error(const char *fn, const char *path, const json_error_t *e)
{
    return ig_error_set(IG_EINVAL, "%s: %s: not valid JSON: line %d column %d: %s", fn, path, e->line, e->column,
                        e->text);
}

/* ---- the token index ---------------------------------------------------------------------- */

static uint64_t hf_hash(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;   /* FNV-1a */
    return h;
}

#define HF_HASH_SEED 0xcbf29ce484222325ull

/* Id of the token a + b, or -1. */
static int64_t hf_index_find2(const struct hf_index *x, const char *a, size_t na, const char *b, size_t nb)
{
    uint64_t h = hf_hash(hf_hash(HF_HASH_SEED, a, na), b, nb);
    for (uint64_t k = h & x->mask;; k = (k + 1) & x->mask) {
        int64_t id = x->slots[k];
        if (id < 0)
            return -1;
        const char *t = x->tokens[id];
        /* a and b hold no NUL, so strncmp stops at t's end when t is shorter */
        if (strncmp(t, a, na) == 0 && strncmp(t + na, b, nb) == 0 && t[na + nb] == '\0')
            return id;
    }
}

/* Index every token; two ids with one text are an error. */
static int hf_index_build(struct hf_reader *r)
{
    struct vocab *v = r->v;
    uint64_t n_slots = 2;
    while (n_slots < 2 * (uint64_t)v->n_tokens)
        n_slots *= 2;
    r->index.slots = ig_malloc(n_slots * sizeof *r->index.slots);
    if (!r->index.slots)
        return IG_ENOMEM;
    memset(r->index.slots, 0xff, n_slots * sizeof *r->index.slots);   /* every slot -1 */
    r->index.mask = n_slots - 1;
    r->index.tokens = v->tokens;
    for (int64_t id = 0; id < v->n_tokens; id++) {
        const char *t = v->tokens[id];
        size_t len = strlen(t);
        uint64_t k = hf_hash(HF_HASH_SEED, t, len) & r->index.mask;
        for (; r->index.slots[k] >= 0; k = (k + 1) & r->index.mask) {
            int64_t other = r->index.slots[k];
            if (strcmp(v->tokens[other], t) == 0) {
                char q[64];
                return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.vocab + added_tokens: token '%s' has "
                                    "two ids, %lld and %lld (each text may appear once)", r->path,
                                    hf_quote(t, q, sizeof q), (long long)other, (long long)id);
            }
        }
        r->index.slots[k] = id;
    }
    return 0;
}

/* ---- classifying the tokenizer -------------------------------------------------------------- */

typedef int (*hf_step_pred)(const json_t *step);

/* True when node, or a step of it when it is a {"type": "Sequence", list_key: [...]},
 * satisfies pred. normalizer and pre_tokenizer are only consulted to classify the file,
 * so shapes the HF library would refuse simply do not match. */
static int hf_any_step(const json_t *node, const char *list_key, hf_step_pred pred)
{
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type)
        return 0;
    if (strcmp(type, "Sequence") != 0)
        return pred(node);
    size_t i;
    const json_t *step;
    json_array_foreach(json_object_get(node, list_key), i, step)
        if (hf_any_step(step, list_key, pred))
            return 1;
    return 0;
}

static int hf_is_type(const json_t *step, const char *type)
{
    const char *t = json_string_value(json_object_get(step, "type"));
    return t && strcmp(t, type) == 0;
}

/* The Split regexes tokenizer.json files spell, and the tokenizer.ggml.pre name llama.cpp's
 * convert_hf_to_gguf writes for each (it picks the name by hashing how the tokenizer splits a test
 * text; the regex is the split that hash stands for). */
static const struct {
    const char *regex;
    const char *pre;
} hf_split_regexes[] = {
    /* Qwen2, Qwen2.5, Qwen3 */
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "qwen2"},
    /* Llama 3, 3.1, 3.2 */
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "llama-bpe"},
    /* GPT-4o's o200k (Phi-4-mini) */
    {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
     "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "gpt-4o"},
};

/* What the pre_tokenizer steps of a byte-level tokenizer.json amount to (hf_pick_pre). */
struct hf_pre_walk {
    const char *split_pre;   /* the known Split's name, or NULL */
    int n_byte_level_regex;  /* ByteLevel steps that split with GPT-2's regex (use_regex, default on) */
};

/* Visit node, or each step of a Sequence; 0, or IG_EINVAL for a step ingot cannot split like llama.cpp. */
static int hf_pre_visit(const struct hf_reader *r, const json_t *node, struct hf_pre_walk *w)
{
    static const char known[] = "(known: GPT-2's ByteLevel regex -> gpt-2, and the Split regexes of Qwen2 -> "
                                "qwen2, Llama 3 -> llama-bpe, GPT-4o/Phi-4-mini -> gpt-4o)";
    const char *type = json_string_value(json_object_get(node, "type"));
    char q[200];
    if (type && strcmp(type, "Sequence") == 0) {
        size_t i;
        const json_t *step;
        int rc = 0;
        json_array_foreach(json_object_get(node, "pretokenizers"), i, step)
            if (!rc)
                rc = hf_pre_visit(r, step, w);
        return rc;
    }
    if (type && strcmp(type, "ByteLevel") == 0) {
        w->n_byte_level_regex += !json_is_false(json_object_get(node, "use_regex"));
        return 0;
    }
    if (!type || strcmp(type, "Split") != 0)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: pre_tokenizer step '%s' is not supported for a "
                            "byte-level BPE %s", r->path, type ? hf_quote(type, q, sizeof q) : "(no type)", known);
    const char *re = json_string_value(json_object_get(json_object_get(node, "pattern"), "Regex"));
    for (size_t k = 0; re && k < sizeof hf_split_regexes / sizeof hf_split_regexes[0]; k++)
        if (strcmp(re, hf_split_regexes[k].regex) == 0 && !w->split_pre) {
            w->split_pre = hf_split_regexes[k].pre;
            return 0;
        }
    if (!re)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: pre_tokenizer Split has no pattern.Regex %s", r->path,
                            known);
    return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: pre_tokenizer Split pattern '%.200s%s' is %s %s", r->path,
                        re, strlen(re) > 200 ? "..." : "", w->split_pre ? "a second Split" : "not one ingot knows",
                        known);
}

/* tokenizer.ggml.pre of a byte-level tokenizer.json into pre[0..size): the name of its one known
 * Split regex (with ByteLevel's own regex off), or "gpt-2" when ByteLevel alone splits, with
 * GPT-2's regex. Anything else is IG_EINVAL: as llama.cpp's converter refuses a pre-tokenizer it
 * does not know, so do we, rather than split with the wrong regex in silence. */
static int hf_pick_pre(const struct hf_reader *r, char *pre, size_t size)
{
    struct hf_pre_walk w = {NULL, 0};
    int rc = hf_pre_visit(r, json_object_get(r->root, "pre_tokenizer"), &w);
    if (rc)
        return rc;
    if (w.split_pre && w.n_byte_level_regex == 0)
        snprintf(pre, size, "%s", w.split_pre);
    else if (!w.split_pre && w.n_byte_level_regex == 1)
        snprintf(pre, size, "gpt-2");
    else if (w.split_pre)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: pre_tokenizer splits with both a Split regex and "
                            "ByteLevel's GPT-2 regex (expected ByteLevel's use_regex false beside a Split)", r->path);
    else
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: pre_tokenizer splits %s (expected one Split regex, "
                            "or one ByteLevel with use_regex on)", r->path,
                            w.n_byte_level_regex ? "with GPT-2's regex more than once"
                                                 : "nothing (ByteLevel's use_regex is false and no Split)");
    return 0;
}

static int hf_is_byte_level(const json_t *step)
{
    return hf_is_type(step, "ByteLevel");
}

static int hf_is_prepend_space(const json_t *step)
{
    const char *p = json_string_value(json_object_get(step, "prepend"));
    return hf_is_type(step, "Prepend") && p && strcmp(p, hf_space_marker) == 0;
}

static int hf_is_prepending_metaspace(const json_t *step)
{
    if (!hf_is_type(step, "Metaspace"))
        return 0;
    const char *scheme = json_string_value(json_object_get(step, "prepend_scheme"));
    if (scheme)
        return strcmp(scheme, "never") != 0;
    const json_t *old = json_object_get(step, "add_prefix_space");   /* before tokenizers 0.14 */
    return !json_is_false(old);
}

/* model must be {"type": "BPE", ...}; then pick the family. */
static int hf_classify(struct hf_reader *r)
{
    r->model = json_object_get(r->root, "model");
    if (!json_is_object(r->model))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: field 'model' is %s (expected an object)", r->path,
                            r->model ? hf_kind(r->model) : "missing");
    const json_t *type = json_object_get(r->model, "type");
    if (!json_is_string(type))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.type is %s (expected a string; supported: "
                            "BPE)", r->path, type ? hf_kind(type) : "missing");
    if (strcmp(json_string_value(type), "BPE") != 0) {
        char q[64];
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.type '%s' is not supported (supported: BPE)",
                            r->path, hf_quote(json_string_value(type), q, sizeof q));
    }
    const json_t *fallback = json_object_get(r->model, "byte_fallback");
    if (fallback && !json_is_boolean(fallback) && !json_is_null(fallback))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.byte_fallback is %s (expected true or false)",
                            r->path, hf_kind(fallback));
    if (json_is_true(fallback)) {
        r->family = HF_SPM_BPE;
        return 0;
    }
    if (hf_any_step(json_object_get(r->root, "pre_tokenizer"), "pretokenizers", hf_is_byte_level)) {
        r->family = HF_BYTE_BPE;
        return 0;
    }
    return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.byte_fallback is not true and pre_tokenizer holds "
                        "no ByteLevel step: this BPE is neither SentencePiece-style nor byte-level (supported: "
                        "those two)", r->path);
}

/* ---- tokens: model.vocab and added_tokens ---------------------------------------------------- */

/* Check an id from the file; name is the field, for messages. */
static int hf_check_id(const struct hf_reader *r, const json_t *id, const char *name, int64_t *out)
{
    if (!json_is_integer(id))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: %s is %s (expected an integer id)", r->path, name,
                            id ? hf_kind(id) : "missing");
    json_int_t x = json_integer_value(id);
    if (x < 0 || x >= VOCAB_MAX_TOKENS)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: %s: id %lld (allowed 0..%d)", r->path, name,
                            (long long)x, VOCAB_MAX_TOKENS - 1);
    *out = x;
    return 0;
}

/* jansson refuses "\u0000" (in keys always, in strings without JSON_ALLOW_NUL), so
 * texts from the document hold no NUL; only the length is left to check. */
static int hf_check_len(const struct hf_reader *r, size_t len, const char *name)
{
    if (len > VOCAB_MAX_TOKEN_BYTES)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: %s: token of %zu bytes (allowed 0..%d)", r->path,
                            name, len, VOCAB_MAX_TOKEN_BYTES);
    return 0;
}

/* Validate added_tokens[i] and return its parts (borrowed). */
static int hf_added_entry(const struct hf_reader *r, const json_t *added, size_t i, int64_t *id,
                          const json_t **content, int *special)
{
    char name[64];
    const json_t *e = json_array_get(added, i);
    if (!json_is_object(e))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: added_tokens[%zu] is %s (expected an object)",
                            r->path, i, hf_kind(e));
    snprintf(name, sizeof name, "added_tokens[%zu].id", i);
    int rc = hf_check_id(r, json_object_get(e, "id"), name, id);
    if (rc)
        return rc;
    *content = json_object_get(e, "content");
    if (!json_is_string(*content))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: added_tokens[%zu].content is %s (expected a string)",
                            r->path, i, *content ? hf_kind(*content) : "missing");
    snprintf(name, sizeof name, "added_tokens[%zu].content", i);
    if ((rc = hf_check_len(r, json_string_length(*content), name)))
        return rc;
    const json_t *sp = json_object_get(e, "special");
    if (sp && !json_is_boolean(sp) && !json_is_null(sp))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: added_tokens[%zu].special is %s (expected true or "
                            "false)", r->path, i, hf_kind(sp));
    *special = json_is_true(sp);
    return 0;
}

/* Pass 1: check every id and text; *n_tokens = highest id + 1. */
static int hf_scan_tokens(const struct hf_reader *r, const json_t *vocab, const json_t *added, int64_t *n_tokens)
{
    const char *key;
    const json_t *val;
    int64_t id, max_id = -1;
    char name[96], q[64];
    int rc, special;
    json_object_foreach((json_t *)vocab, key, val) {
        snprintf(name, sizeof name, "model.vocab['%s']", hf_quote(key, q, sizeof q));
        if ((rc = hf_check_id(r, val, name, &id)) || (rc = hf_check_len(r, strlen(key), name)))
            return rc;
        max_id = id > max_id ? id : max_id;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *content;
        if ((rc = hf_added_entry(r, added, i, &id, &content, &special)))
            return rc;
        max_id = id > max_id ? id : max_id;
    }
    if (max_id < 0)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.vocab is empty and there are no added_tokens "
                            "(allowed 1..%d tokens)", r->path, VOCAB_MAX_TOKENS);
    *n_tokens = max_id + 1;
    return 0;
}

/* Pass 2: put every token at its id; then every id below n_tokens must be taken. */
static int hf_place_tokens(struct hf_reader *r, const json_t *vocab, const json_t *added)
{
    struct vocab *v = r->v;
    const char *key;
    const json_t *val;
    char q1[64], q2[64];
    int special;
    json_object_foreach((json_t *)vocab, key, val) {
        int64_t id = json_integer_value(val);
        if (v->tokens[id])
            return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.vocab: '%s' and '%s' both have id %lld",
                                r->path, hf_quote(v->tokens[id], q1, sizeof q1), hf_quote(key, q2, sizeof q2),
                                (long long)id);
        if (!(v->tokens[id] = hf_strndup(key, strlen(key))))
            return IG_ENOMEM;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        const json_t *content;
        int64_t id;
        hf_added_entry(r, added, i, &id, &content, &special);   /* checked in pass 1 */
        const char *text = json_string_value(content);
        if (v->tokens[id] && strcmp(v->tokens[id], text) != 0)
            return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: added_tokens[%zu]: id %lld is '%s' here but '%s' "
                                "in model.vocab or an earlier added token", r->path, i, (long long)id,
                                hf_quote(text, q1, sizeof q1), hf_quote(v->tokens[id], q2, sizeof q2));
        if (!v->tokens[id] && !(v->tokens[id] = hf_strndup(text, json_string_length(content))))
            return IG_ENOMEM;
        r->flags[id] = HF_ADDED | (special ? HF_SPECIAL : 0);
    }
    for (int64_t id = 0; id < v->n_tokens; id++)
        if (!v->tokens[id])
            return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.vocab + added_tokens: no token has id %lld "
                                "(ids must be exactly 0..%lld)", r->path, (long long)id, (long long)v->n_tokens - 1);
    return 0;
}

static int hf_read_tokens(struct hf_reader *r)
{
    const json_t *vocab = json_object_get(r->model, "vocab");
    const json_t *added = json_object_get(r->root, "added_tokens");
    int64_t n_tokens = 0;
    int rc;
    if (!json_is_object(vocab))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.vocab is %s (expected an object {token: id})",
                            r->path, vocab ? hf_kind(vocab) : "missing");
    if (added && !json_is_array(added) && !json_is_null(added))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: added_tokens is %s (expected an array)", r->path,
                            hf_kind(added));
    if ((rc = hf_scan_tokens(r, vocab, added, &n_tokens)))
        return rc;
    if ((rc = vocab_alloc(r->v, n_tokens, r->family == HF_SPM_BPE)))
        return rc;
    if (!(r->flags = ig_calloc((size_t)n_tokens, 1)))
        return IG_ENOMEM;
    if ((rc = hf_place_tokens(r, vocab, added)))
        return rc;
    return hf_index_build(r);
}

/* convert_hf_to_gguf's does_token_look_special: added tokens some models leave "special": false
 * that llama.cpp's converter still types CONTROL (gemma's <mask> and <unusedN>, "<|...|>" such as
 * Qwen's <|fim_prefix|>, deepseek's "<｜...｜>"). */
int tokenizer_token_looks_special(const char *t)
{
    static const char *const exact[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    static const char fw_open[] = "<\xef\xbd\x9c", fw_close[] = "\xef\xbd\x9c>";   /* "<｜", "｜>" */
    const size_t n = strlen(t);
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(t, exact[i]) == 0)
            return 1;
    if (n >= 4 && strncmp(t, "<|", 2) == 0 && strcmp(t + n - 2, "|>") == 0)
        return 1;
    if (n >= 8 && strncmp(t, fw_open, 4) == 0 && strcmp(t + n - 4, fw_close) == 0)
        return 1;
    return n >= 8 && strncmp(t, "<unused", 7) == 0 && t[n - 1] == '>';
}

/* Types as convert_hf_to_gguf gives them, plus the unknown token. */
static int hf_read_types(struct hf_reader *r)
{
    struct vocab *v = r->v;
    const json_t *unk = json_object_get(r->model, "unk_token");
    if (unk && !json_is_string(unk) && !json_is_null(unk))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.unk_token is %s (expected a string or null)",
                            r->path, hf_kind(unk));
    const char *unk_text = json_string_value(unk);
    v->unk_id = unk_text ? hf_index_find2(&r->index, unk_text, strlen(unk_text), "", 0) : -1;
    for (int64_t id = 0; id < v->n_tokens; id++) {
        int32_t t = VOCAB_TOKEN_NORMAL;
        if (r->family == HF_SPM_BPE && hf_is_byte_piece(v->tokens[id]))
            t = VOCAB_TOKEN_BYTE;
        else if (r->family == HF_SPM_BPE && id == v->unk_id)
            t = VOCAB_TOKEN_UNKNOWN;   /* before CONTROL: SentencePiece types <unk> so */
        else if ((r->flags[id] & HF_SPECIAL) || ((r->flags[id] & HF_ADDED) && tokenizer_token_looks_special(v->tokens[id])))
            t = VOCAB_TOKEN_CONTROL;
        else if (r->flags[id] & HF_ADDED)
            t = VOCAB_TOKEN_USER_DEFINED;
        v->types[id] = t;
    }
    return 0;
}

/* ---- merges -------------------------------------------------------------------------------- */

/* Parse model.merges[i] ("left right" or [left, right]) into *m and check that left,
 * right and left + right are tokens. */
static int hf_merge_at(const struct hf_reader *r, const json_t *merges, size_t i, struct hf_merge *m)
{
    const json_t *e = json_array_get(merges, i);
    char q[64];
    memset(m, 0, sizeof *m);
    if (json_is_string(e)) {
        const char *s = json_string_value(e), *sp = strchr(s, ' ');
        if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' '))
            return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.merges[%zu]: '%s' is not \"left right\" "
                                "(exactly one space between two non-empty texts)", r->path, i,
                                hf_quote(s, q, sizeof q));
        m->left = s;
        m->left_len = (size_t)(sp - s);
        m->right = sp + 1;
        m->right_len = strlen(sp + 1);
    } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
               json_is_string(json_array_get(e, 1))) {
        m->left = json_string_value(json_array_get(e, 0));
        m->right = json_string_value(json_array_get(e, 1));
        m->left_len = strlen(m->left);
        m->right_len = strlen(m->right);
    } else {
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.merges[%zu] is %s (expected a string \"left "
                            "right\" or an array of two strings)", r->path, i, hf_kind(e));
    }
    const char *parts[3][2] = {{m->left, ""}, {m->right, ""}, {m->left, m->right}};
    size_t lens[3][2] = {{m->left_len, 0}, {m->right_len, 0}, {m->left_len, m->right_len}};
    static const char *const what[3] = {"its left side", "its right side", "the merged token"};
    for (int k = 0; k < 3; k++) {
        int64_t id = hf_index_find2(&r->index, parts[k][0], lens[k][0], parts[k][1], lens[k][1]);
        if (id >= 0) {
            m->id = id;
            continue;
        }
        char text[64];
        snprintf(text, sizeof text, "%.*s%.*s", (int)lens[k][0], parts[k][0], (int)lens[k][1], parts[k][1]);
        return ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.merges[%zu]: %s '%s' is not in model.vocab",
                            r->path, i, what[k], hf_quote(text, q, sizeof q));
    }
    return 0;
}

static const json_t *hf_merges(const struct hf_reader *r)
{
    const json_t *merges = json_object_get(r->model, "merges");
    if (!json_is_array(merges))
        ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: model.merges is %s (expected an array)", r->path,
                     merges ? hf_kind(merges) : "missing");
    return json_is_array(merges) ? merges : NULL;
}

/* SentencePiece-style: scores from merge ranks (see the top of the file). */
static int hf_read_scores(struct hf_reader *r)
{
    struct vocab *v = r->v;
    const json_t *merges = hf_merges(r);
    struct hf_merge m;
    int rc = 0;
    if (!merges)
        return IG_EINVAL;
    uint8_t *made = ig_calloc((size_t)v->n_tokens, 1);
    if (!made)
        return IG_ENOMEM;
    for (size_t i = 0; i < json_array_size(merges); i++) {
        if ((rc = hf_merge_at(r, merges, i, &m)))
            goto out_free;
        if (!made[m.id]) {
            v->scores[m.id] = -(float)i;
            made[m.id] = 1;
        }
    }
    for (int64_t id = 0; id < v->n_tokens; id++)
        if (!made[id])
            v->scores[id] = v->types[id] == VOCAB_TOKEN_NORMAL && hf_utf8_chars(v->tokens[id]) > 1
                                ? HF_UNREACHABLE_SCORE : 0.0f;
out_free:
    free(made);
    return rc;
}

/* Copy len bytes of s to o with each space as "Ġ" (2 bytes); returns the end. */
static char *hf_copy_escaped(char *o, const char *s, size_t len)
{
    for (size_t k = 0; k < len; k++) {
        if (s[k] == ' ') {
            memcpy(o, hf_gpt2_space, 2);
            o += 2;
        } else {
            *o++ = s[k];
        }
    }
    return o;
}

/* "left right", with spaces inside either text written as "Ġ", as gguf-py does for the
 * [left, right] form (llama.cpp splits each merge at its first space). */
static char *hf_merge_string(const struct hf_merge *m)
{
    size_t n_spaces = 0;
    for (size_t k = 0; k < m->left_len; k++)
        n_spaces += m->left[k] == ' ';
    for (size_t k = 0; k < m->right_len; k++)
        n_spaces += m->right[k] == ' ';
    char *out = ig_malloc(m->left_len + m->right_len + n_spaces + 2);
    if (!out)
        return NULL;
    char *o = hf_copy_escaped(out, m->left, m->left_len);
    *o++ = ' ';
    o = hf_copy_escaped(o, m->right, m->right_len);
    *o = '\0';
    return out;
}

/* Byte-level: merges as "left right" strings, in rank order. */
static int hf_read_merge_strings(struct hf_reader *r)
{
    struct vocab *v = r->v;
    const json_t *merges = hf_merges(r);
    struct hf_merge m;
    int rc;
    if (!merges)
        return IG_EINVAL;
    size_t n = json_array_size(merges);
    if (n == 0)
        return 0;
    if (!(v->merges = ig_calloc(n, sizeof *v->merges)))
        return IG_ENOMEM;
    v->n_merges = (int64_t)n;   /* entries stay NULL until filled; vocab_free frees them all */
    for (size_t i = 0; i < n; i++) {
        if ((rc = hf_merge_at(r, merges, i, &m)))
            return rc;
        if (!(v->merges[i] = hf_merge_string(&m)))
            return IG_ENOMEM;
    }
    return 0;
}

/* ---- public: tokenizer.json ------------------------------------------------------------------- */

int tokenizer_hf_read(struct vocab *v, const char *path)
{
    struct file_map map;
    struct hf_reader r = {.path = path, .v = v};
    json_error_t jerr;
    int rc;
    vocab_init(v);
    if ((rc = file_map_open(&map, path)))
        return rc;
    if (map.size_bytes == 0) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: empty file (expected a JSON object)", path);
        goto out_close;
    }
    r.root = json_loadb((const char *)map.data, map.size_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (!r.root) {
        rc = hf_json_error("tokenizer_hf_read", path, &jerr);
        goto out_close;
    }
    if (!json_is_object(r.root)) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_hf_read: %s: the document is %s (expected an object)", path,
                          hf_kind(r.root));
        goto out_free;
    }
    if ((rc = hf_classify(&r)) || (rc = hf_read_tokens(&r)) || (rc = hf_read_types(&r)))
        goto out_free;
    if (r.family == HF_SPM_BPE) {
        if ((rc = hf_read_scores(&r)))
            goto out_free;
        snprintf(v->model, sizeof v->model, "llama");
        v->add_space_prefix =
            hf_any_step(json_object_get(r.root, "normalizer"), "normalizers", hf_is_prepend_space) ||
            hf_any_step(json_object_get(r.root, "pre_tokenizer"), "pretokenizers", hf_is_prepending_metaspace);
    } else {
        if ((rc = hf_read_merge_strings(&r)))
            goto out_free;
        snprintf(v->model, sizeof v->model, "gpt2");
        if ((rc = hf_pick_pre(&r, v->pre, sizeof v->pre)))
            goto out_free;
    }
out_free:
    free(r.index.slots);
    free(r.flags);
    json_decref(r.root);
    if (rc)
        vocab_free(v);
out_close:
    file_map_close(&map);
    return rc;
}

/* ---- public: tokenizer_config.json, special_tokens_map.json, config.json ------------------------ */

/* Parse folder/name into *out when the file exists (*out stays NULL when it does not).
 * Integers decode as reals: tokenizer_config.json often holds model_max_length = 1e30,
 * which jansson refuses as an integer; the ids read here are checked to be integral. */
static int hf_load_optional(const char *folder, const char *name, json_t **out)
{
    json_error_t jerr;
    size_t size;
    int rc = 0;
    *out = NULL;
    char *path = file_path_join(folder, name);
    if (!path)
        return IG_ENOMEM;
    if (!file_is_regular(path))
        goto out_free;
    char *text = file_read_all(path, HF_MAX_CONFIG_BYTES, &size);
    if (!text) {
        rc = ig_error_wrap(IG_EINVAL, "tokenizer_hf_apply_config");
        goto out_free;
    }
    *out = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    free(text);
    if (!*out) {
        rc = hf_json_error("tokenizer_hf_apply_config", path, &jerr);
    } else if (!json_is_object(*out)) {
        rc = ig_error_set(IG_EINVAL, "tokenizer_hf_apply_config: %s: the document is %s (expected an object)", path,
                          hf_kind(*out));
        json_decref(*out);
        *out = NULL;
    }
out_free:
    free(path);
    return rc;
}

/* key from tokenizer_config.json when it gives a non-null value there, else from
 * special_tokens_map.json; NULL when neither has it. *file names where it came from. */
static const json_t *hf_pick(const json_t *tc, const json_t *stm, const char *key, const char **file)
{
    const json_t *a = json_object_get(tc, key), *b = json_object_get(stm, key);
    *file = a && (!json_is_null(a) || !b) ? "tokenizer_config.json" : "special_tokens_map.json";
    return a && (!json_is_null(a) || !b) ? a : b;
}

static int hf_apply_flag(const json_t *tc, const json_t *stm, const char *folder, const char *key, int *flag)
{
    const char *file;
    const json_t *j = hf_pick(tc, stm, key, &file);
    if (!j || json_is_null(j))
        return 0;
    if (!json_is_boolean(j))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_apply_config: %s/%s: '%s' is %s (expected true or false)",
                            folder, file, key, hf_kind(j));
    *flag = json_is_true(j);
    return 0;
}

/* A special token given as "text" or {"content": "text", ...}; null unsets the id, a
 * text the vocabulary lacks leaves it as it was. */
static int hf_apply_special(struct vocab *v, const json_t *tc, const json_t *stm, const char *folder,
                            const char *key, int64_t *id)
{
    const char *file;
    const json_t *j = hf_pick(tc, stm, key, &file);
    if (!j)
        return 0;
    if (json_is_null(j)) {
        *id = -1;
        return 0;
    }
    const json_t *content = json_is_object(j) ? json_object_get(j, "content") : j;
    if (!json_is_string(content))
        return ig_error_set(IG_EINVAL, "tokenizer_hf_apply_config: %s/%s: '%s'%s is %s (expected a string or an "
                            "object with a string \"content\")", folder, file, key,
                            json_is_object(j) ? ".content" : "", content ? hf_kind(content) : "missing");
    int64_t found = vocab_find(v, json_string_value(content));
    if (found >= 0)
        *id = found;
    return 0;
}

/* config.json's bos_token_id / eos_token_id: an integer or a list whose first element is
 * one. Ids outside the vocabulary are ignored, as convert_hf_to_gguf ignores them. */
static int hf_apply_config_id(struct vocab *v, const json_t *config, const char *folder, const char *key,
                              int64_t *id)
{
    const json_t *j = json_object_get(config, key);
    if (json_is_array(j))
        j = json_array_get(j, 0);
    if (!j || json_is_null(j) || *id >= 0)
        return 0;
    double x = json_number_value(j);
    if (!json_is_number(j) || floor(x) != x)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_apply_config: %s/config.json: '%s' is %s (expected an integer "
                            "or a list of integers)", folder, key, json_is_number(j) ? "not integral" : hf_kind(j));
    if (x >= 0 && x < (double)v->n_tokens)
        *id = (int64_t)x;
    return 0;
}

/* gguf-py's SpecialVocab: tokenizer_config.json's chat_template (a string, or a list of
 * {"name", "template"} of which "default" is tokenizer.chat_template), else the folder's
 * chat_template.jinja (newer transformers save it there). */
static int hf_apply_chat_template(struct vocab *v, const json_t *tc, const char *folder)
{
    const json_t *ct = json_object_get(tc, "chat_template");
    const char *text = json_string_value(ct);
    size_t i;
    const json_t *e;
    if (json_is_array(ct))
        json_array_foreach(ct, i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            if (name && strcmp(name, "default") == 0)
                text = json_string_value(json_object_get(e, "template"));
        }
    else if (ct && !json_is_null(ct) && !text)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_apply_config: %s/tokenizer_config.json: 'chat_template' is %s "
                            "(expected a string or a list of {\"name\", \"template\"})", folder, hf_kind(ct));
    char *copy = NULL;
    if (text) {
        copy = hf_strndup(text, strlen(text));
    } else {
        char *path = file_path_join(folder, "chat_template.jinja");
        size_t size = 0;
        if (!path)
            return IG_ENOMEM;
        if (file_is_regular(path) && !(copy = file_read_all(path, HF_MAX_CONFIG_BYTES, &size))) {
            free(path);
            return ig_error_wrap(IG_EIO, "tokenizer_hf_apply_config");
        }
        free(path);
        if (copy && memchr(copy, 0, size)) {
            free(copy);
            return ig_error_set(IG_EINVAL, "tokenizer_hf_apply_config: %s/chat_template.jinja holds a NUL byte", folder);
        }
        if (!copy)
            return 0;
    }
    if (!copy)
        return IG_ENOMEM;
    free(v->chat_template);
    v->chat_template = copy;
    return 0;
}

int tokenizer_hf_apply_config(struct vocab *v, const char *folder)
{
    static const char *const special_keys[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    int64_t *special_ids[] = {&v->bos_id, &v->eos_id, &v->unk_id, &v->pad_id};
    json_t *tc = NULL, *stm = NULL, *config = NULL;
    int rc;
    if ((rc = hf_load_optional(folder, "tokenizer_config.json", &tc)) ||
        (rc = hf_load_optional(folder, "special_tokens_map.json", &stm)))
        goto out_free;
    if ((rc = hf_apply_flag(tc, stm, folder, "add_bos_token", &v->add_bos)) ||
        (rc = hf_apply_flag(tc, stm, folder, "add_eos_token", &v->add_eos)))
        goto out_free;
    for (int k = 0; k < 4; k++)
        if ((rc = hf_apply_special(v, tc, stm, folder, special_keys[k], special_ids[k])))
            goto out_free;
    if ((rc = hf_apply_chat_template(v, tc, folder)))
        goto out_free;
    if (v->bos_id >= 0 && v->eos_id >= 0)
        goto out_free;
    if ((rc = hf_load_optional(folder, "config.json", &config)))
        goto out_free;
    if ((rc = hf_apply_config_id(v, config, folder, "bos_token_id", &v->bos_id)) ||
        (rc = hf_apply_config_id(v, config, folder, "eos_token_id", &v->eos_id)))
        goto out_free;
out_free:
    json_decref(config);
    json_decref(stm);
    json_decref(tc);
    return rc;
}
