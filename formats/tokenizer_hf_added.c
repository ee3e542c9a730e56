/* tokenizer_hf_added.c — tokenizer.json's added_tokens laid over a SentencePiece vocabulary, as
 * llama.cpp's Phi3 converter does (Phi3MiniModel.set_vocab, engineer q3p).
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
