/* tokenizer_hf_added.c — tokenizer.json's added_tokens laid over a SentencePiece vocabulary, as
 * llama.cpp's Phi3 converter does (Phi3MiniModel.set_vocab).
 *
 * Phi-3's tokenizer.model holds 32000 pieces; its chat and end tokens (<|endoftext|> = 32000,
 * <|assistant|>, ...) exist only in tokenizer.json's added_tokens, and config.json's vocab_size
 * (32064) pads the rest. The converter starts from "[PAD<i>]" tokens, puts the pieces at their
 * ids, then each added token with an id inside the vocabulary: its text, score -1000, type
 * CONTROL when special, else USER_DEFINED. ingot pads first (hf_model.c) and lays the added
 * tokens over the padded vocabulary here, so both give the same list.
 */
#include "tokenizer.h"

#include "../common/ig_error.h"
#include "file_map.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDED_MAX_BYTES ((size_t)64 << 20)   /* tokenizer.json: as tokenizer_hf.c allows */
#define ADDED_SCORE -1000.0f                 /* llama.cpp's score for an added token */

/* Lay entry e of added_tokens over v; entries outside the vocabulary are skipped, as the
 * converter skips them. Returns 0, IG_EINVAL naming the entry, IG_ENOMEM. */
static int lay_one(struct vocab *v, const json_t *e, size_t i, const char *path)
{
    const json_t *id = json_object_get(e, "id"), *content = json_object_get(e, "content");
    const json_t *special = json_object_get(e, "special");
    if (!json_is_object(e) || !json_is_integer(id) || !json_is_string(content) ||
        (special && !json_is_boolean(special) && !json_is_null(special)) ||
        json_string_length(content) > VOCAB_MAX_TOKEN_BYTES)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_overlay_added: %s: added_tokens[%zu]: expected {\"id\": integer, "
                            "\"content\": string of at most %d bytes, \"special\": true or false}",
                            path, i, VOCAB_MAX_TOKEN_BYTES);
    json_int_t k = json_integer_value(id);
    if (k < 0 || k >= v->n_tokens)
        return 0;
    char *text = malloc(json_string_length(content) + 1);
    if (!text)
        return IG_ENOMEM;
    memcpy(text, json_string_value(content), json_string_length(content) + 1);
    free(v->tokens[k]);
    v->tokens[k] = text;
    if (v->scores)
        v->scores[k] = ADDED_SCORE;
    v->types[k] = json_is_true(special) ? VOCAB_TOKEN_CONTROL : VOCAB_TOKEN_USER_DEFINED;
    return 0;
}

int tokenizer_hf_overlay_added(struct vocab *v, const char *path)
{
    size_t size = 0;
    json_error_t err;
    if (!file_is_regular(path))
        return 0;
    char *text = file_read_all(path, ADDED_MAX_BYTES, &size);
    if (!text)
        return IG_EIO;
    json_t *root = json_loadb(text, size, 0, &err);
    free(text);
    if (!root)
        return ig_error_set(IG_EINVAL, "tokenizer_hf_overlay_added: %s: not valid JSON: line %d: %s", path, err.line,
                            err.text);
    const json_t *added = json_object_get(root, "added_tokens");
    int rc = 0;
    for (size_t i = 0; json_is_array(added) && i < json_array_size(added) && !rc; i++)
        rc = lay_one(v, json_array_get(added, i), i, path);
    json_decref(root);
    return rc;
}

/* ---- tokenizer.model folders ---------------------------------------------------- */

#define SPM_PAD_SCORE -10000.0f   /* _create_vocab_sentencepiece's score for a "[PAD<i>]" token */

/* folder/name parsed, or NULL with *rc 0 when the file is absent. */
static json_t *load_json(const char *folder, const char *name, int *rc)
{
    json_error_t err;
    size_t size = 0;
    *rc = 0;
    char *path = file_path_join(folder, name);
    if (!path) {
        *rc = IG_ENOMEM;
        return NULL;
    }
    json_t *root = NULL;
    if (file_is_regular(path)) {
        char *text = file_read_all(path, ADDED_MAX_BYTES, &size);
        if (!text)
            *rc = IG_EIO;
        else if (!(root = json_loadb(text, size, JSON_DECODE_INT_AS_REAL, &err)) || !json_is_object(root))
            *rc = ig_error_set(IG_EINVAL, "tokenizer_spm_apply_hf: %s: %s", path,
                               root ? "the document is not an object" : err.text);
        free(text);
    }
    if (*rc) {
        json_decref(root);
        root = NULL;
    }
    free(path);
    return root;
}

/* Put text at id with score -1000 and type. */
static int set_token(struct vocab *v, int64_t id, const char *text, int32_t type)
{
    char *copy = strdup(text);
    if (!copy)
        return IG_ENOMEM;
    free(v->tokens[id]);
    v->tokens[id] = copy;
    if (v->scores)
        v->scores[id] = ADDED_SCORE;
    v->types[id] = type;
    return 0;
}

/* An id from a JSON number: integral and >= 0, else -1 (the caller reports it). */
static int64_t json_id(const json_t *j)
{
    double x = json_is_number(j) ? json_number_value(j) : -1;
    return x >= 0 && x == (double)(int64_t)x ? (int64_t)x : -1;
}

static int apply_added_tokens_json(struct vocab *v, const json_t *root, const char *folder)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)root, key, val) {
        int64_t id = json_id(val);
        if (id < 0 || strlen(key) > VOCAB_MAX_TOKEN_BYTES)
            return ig_error_set(IG_EINVAL, "tokenizer_spm_apply_hf: %s/added_tokens.json: entry '%.40s': expected a "
                                "token id (an integer >= 0)", folder, key);
        int rc = id < v->n_tokens ? set_token(v, id, key, VOCAB_TOKEN_USER_DEFINED) : 0;   /* outside: skipped */
        if (rc)
            return rc;
    }
    return 0;
}

/* "▁" (U+2581) written as " ": the converter pre-normalizes a user-defined token's spaces. */
static char *spaces_from_markers(const char *s)
{
    char *out = strdup(s);
    if (!out)
        return NULL;
    char *o = out;
    for (const char *p = s; *p;) {
        if (strncmp(p, "\xe2\x96\x81", 3) == 0) {
            *o++ = ' ';
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int apply_added_tokens_decoder(struct vocab *v, const json_t *atd, const char *folder)
{
    const char *key;
    const json_t *e;
    json_object_foreach((json_t *)atd, key, e) {
        char *end = NULL;
        long long id = strtoll(key, &end, 10);
        const json_t *content = json_object_get(e, "content"), *special = json_object_get(e, "special");
        if (!end || *end || end == key || id < 0 || !json_is_string(content) ||
            json_string_length(content) > VOCAB_MAX_TOKEN_BYTES || (special && !json_is_boolean(special) && !json_is_null(special)))
            return ig_error_set(IG_EINVAL, "tokenizer_spm_apply_hf: %s/tokenizer_config.json: added_tokens_decoder['%.40s']: "
                                "expected a token id as key and {\"content\": string, \"special\": true or false}",
                                folder, key);
        if (id >= v->n_tokens)
            continue;   /* the converter skips ids past vocab_size */
        const char *text = json_string_value(content);
        int rc;
        if (json_is_true(special) || tokenizer_token_looks_special(text)) {
            rc = set_token(v, id, text, VOCAB_TOKEN_CONTROL);
        } else {
            char *t = spaces_from_markers(text);
            rc = t ? set_token(v, id, t, VOCAB_TOKEN_USER_DEFINED) : IG_ENOMEM;
            free(t);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int tokenizer_spm_apply_hf(struct vocab *v, int64_t n_pieces, const char *folder)
{
    for (int64_t i = 0; i < v->n_tokens; i++) {
        if (i < n_pieces && v->types[i] == VOCAB_TOKEN_USER_DEFINED)
            v->types[i] = VOCAB_TOKEN_NORMAL;   /* sentencepiece has no IsUserDefined test there */
        else if (i >= n_pieces && v->scores)
            v->scores[i] = SPM_PAD_SCORE;
    }
    snprintf(v->pre, sizeof v->pre, "default");
    int rc;
    json_t *added = load_json(folder, "added_tokens.json", &rc);
    if (!rc && added)
        rc = apply_added_tokens_json(v, added, folder);
    json_decref(added);
    json_t *tc = rc ? NULL : load_json(folder, "tokenizer_config.json", &rc);
    const json_t *atd = json_object_get(tc, "added_tokens_decoder");
    if (!rc && atd && !json_is_object(atd) && !json_is_null(atd))
        rc = ig_error_set(IG_EINVAL, "tokenizer_spm_apply_hf: %s/tokenizer_config.json: added_tokens_decoder is not an object",
                          folder);
    else if (!rc && json_is_object(atd))
        rc = apply_added_tokens_decoder(v, atd, folder);
    json_decref(tc);
    return rc;
}
