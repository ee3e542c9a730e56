/* vocab.c — allocation, lookup and comparison for struct vocab. */
#include "vocab.h"

#include "../common/ig_error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vocab_init(struct vocab *v)
{
    memset(v, 0, sizeof *v);
    v->bos_id = v->eos_id = v->unk_id = v->pad_id = -1;
    v->add_bos = v->add_eos = v->add_space_prefix = -1;
}

int vocab_alloc(struct vocab *v, int64_t n_tokens, int with_scores)
{
    if (n_tokens <= 0 || n_tokens > VOCAB_MAX_TOKENS)
        return ig_error_set(IG_EINVAL, "vocabulary of %lld tokens (allowed 1..%d)", (long long)n_tokens,
                            VOCAB_MAX_TOKENS);
    v->tokens = ig_calloc((size_t)n_tokens, sizeof *v->tokens);
    v->types = ig_calloc((size_t)n_tokens, sizeof *v->types);
    v->scores = with_scores ? ig_calloc((size_t)n_tokens, sizeof *v->scores) : NULL;
    if (!v->tokens || !v->types || (with_scores && !v->scores)) {
        free(v->tokens);
        free(v->types);
        free(v->scores);
        v->tokens = NULL;
        v->types = NULL;
        v->scores = NULL;
        return IG_ENOMEM;
    }
    for (int64_t i = 0; i < n_tokens; i++)
        v->types[i] = VOCAB_TOKEN_NORMAL;
    v->n_tokens = n_tokens;
    return 0;
}

void vocab_free(struct vocab *v)
{
    if (!v)
        return;
    for (int64_t i = 0; v->tokens && i < v->n_tokens; i++)
        free(v->tokens[i]);
    for (int64_t i = 0; v->merges && i < v->n_merges; i++)
        free(v->merges[i]);
    free(v->tokens);
    free(v->scores);
    free(v->types);
    free(v->merges);
    free(v->chat_template);
    vocab_init(v);
}

int64_t vocab_find(const struct vocab *v, const char *text)
{
    for (int64_t i = 0; i < v->n_tokens; i++)
        if (v->tokens[i] && strcmp(v->tokens[i], text) == 0)
            return i;
    return -1;
}

/* ---- comparison ------------------------------------------------------------------------------- */

/* text quoted with every byte outside printable ASCII as \xNN, cut after 48 bytes */
static const char *quote(const char *text, char *buf, size_t size)
{
    size_t n = 0;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 8 < size; p++) {
        if (p - (const unsigned char *)text == 48) {
            n += (size_t)snprintf(buf + n, size - n, "...");
            break;
        }
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            buf[n++] = (char)*p;
        else
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
    }
    snprintf(buf + n, size - n, "\"");
    return buf;
}

/* "[PAD<id>]": a token llama.cpp's converters append to reach vocab_size */
static bool is_pad_token(const char *text, int64_t id)
{
    char want[40];
    snprintf(want, sizeof want, "[PAD%lld]", (long long)id);
    return text && strcmp(text, want) == 0;
}

/* The id llama.cpp uses for special token `which` (0 bos, 1 eos, 2 unk, 3 pad) when the
 * key is absent: llama-vocab.cpp's defaults per tokenizer.ggml.model. */
static int64_t special_id(const struct vocab *v, int which)
{
    const int64_t ids[4] = {v->bos_id, v->eos_id, v->unk_id, v->pad_id};
    if (ids[which] >= 0)
        return ids[which];
    const int64_t spm[4] = {1, 2, 0, -1}, bpe[4] = {11, 11, -1, -1};
    if (strcmp(v->model, "llama") == 0)
        return spm[which];
    if (strcmp(v->model, "gpt2") == 0)
        return bpe[which];
    return -1;
}

static int compare_tokens(const struct vocab *a, const char *a_name, const struct vocab *b, const char *b_name)
{
    char qa[256], qb[256];
    const int64_t n = a->n_tokens < b->n_tokens ? a->n_tokens : b->n_tokens;
    for (int64_t i = 0; i < n; i++) {
        const char *ta = a->tokens[i] ? a->tokens[i] : "", *tb = b->tokens[i] ? b->tokens[i] : "";
        if (is_pad_token(ta, i) && is_pad_token(tb, i))
            continue;
        if (strcmp(ta, tb) != 0)
            return ig_error_set(IG_EINVAL, "vocabularies differ: token %lld is %s in %s but %s in %s", (long long)i,
                                quote(ta, qa, sizeof qa), a_name, quote(tb, qb, sizeof qb), b_name);
        if (a->types[i] != b->types[i])
            return ig_error_set(IG_EINVAL, "vocabularies differ: token %lld %s has type %d in %s but %d in %s",
                                (long long)i, quote(ta, qa, sizeof qa), a->types[i], a_name, b->types[i], b_name);
    }
    const struct vocab *longer = a->n_tokens > b->n_tokens ? a : b;
    for (int64_t i = n; i < longer->n_tokens; i++)
        if (!is_pad_token(longer->tokens[i], i))
            return ig_error_set(IG_EINVAL,
                                "vocabularies differ: %s has %lld tokens, %s %lld (token %lld is %s, not padding)",
                                a_name, (long long)a->n_tokens, b_name, (long long)b->n_tokens, (long long)i,
                                quote(longer->tokens[i] ? longer->tokens[i] : "", qa, sizeof qa));
    return 0;
}

int vocab_compare(const struct vocab *a, const char *a_name, const struct vocab *b, const char *b_name)
{
    char qa[256], qb[256];
    if (strcmp(a->model, b->model) != 0)
        return ig_error_set(IG_EINVAL, "vocabularies differ: tokenizer model %s in %s but %s in %s",
                            quote(a->model, qa, sizeof qa), a_name, quote(b->model, qb, sizeof qb), b_name);
    int rc = compare_tokens(a, a_name, b, b_name);
    if (rc)
        return rc;
    static const char *const names[4] = {"bos", "eos", "unk", "pad"};
    for (int k = 0; k < 4; k++) {
        int64_t ia = special_id(a, k), ib = special_id(b, k);
        if (ia != ib)
            return ig_error_set(IG_EINVAL, "vocabularies differ: %s token id %lld in %s but %lld in %s", names[k],
                                (long long)ia, a_name, (long long)ib, b_name);
    }
    if (strcmp(a->model, "gpt2") != 0)
        return 0;
    const int64_t n = a->n_merges < b->n_merges ? a->n_merges : b->n_merges;
    for (int64_t i = 0; i < n; i++)
        if (strcmp(a->merges[i], b->merges[i]) != 0)
            return ig_error_set(IG_EINVAL, "vocabularies differ: merge %lld is %s in %s but %s in %s", (long long)i,
                                quote(a->merges[i], qa, sizeof qa), a_name, quote(b->merges[i], qb, sizeof qb), b_name);
    if (a->n_merges != b->n_merges)
        return ig_error_set(IG_EINVAL, "vocabularies differ: %lld merges in %s but %lld in %s", (long long)a->n_merges,
                            a_name, (long long)b->n_merges, b_name);
    return 0;
}
