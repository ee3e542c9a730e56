/* vocab.c — allocation and lookup for struct vocab. */
#include "vocab.h"

#include "../common/ig_error.h"

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
    vocab_init(v);
}

int64_t vocab_find(const struct vocab *v, const char *text)
{
    for (int64_t i = 0; i < v->n_tokens; i++)
        if (v->tokens[i] && strcmp(v->tokens[i], text) == 0)
            return i;
    return -1;
}
