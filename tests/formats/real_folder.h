/* real_folder.h — turn an `ingot synth` folder into one laid out as a released HF checkpoint is
 * (tests/formats/test_real_configs.c): a config.json with a real model's keys, BF16 weights in
 * shards with model.safetensors.index.json, and the tokenizer side files. */
#ifndef TEST_REAL_FOLDER_H
#define TEST_REAL_FOLDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct real_weights {
    int n_shards;           /* >= 1: model-0000K-of-0000N.safetensors + index */
    const char *prefix;     /* put before every name ("language_model."), or NULL */
    bool drop_lm_head;      /* tied checkpoints store no lm_head.weight */
    int64_t embed_rows;     /* > 0: model.embed_tokens.weight gets this many rows (its first rows, or
                             * all of them and then copies of row r % n scaled by 0.5) */
    bool vision;            /* add a vision tower and projector (BF16 zeros), as Gemma3ForConditionalGeneration has */
};

/* Rewrite dir/model.safetensors as described; asserts on failure. */
void real_rewrite_weights(const char *dir, const struct real_weights *w);

/* Write obj as dir/name (steals the reference); asserts on failure. */
void real_put_json(const char *dir, const char *name, json_t *obj);

/* Parse JSON text (asserting it is valid). */
json_t *real_json(const char *text);

#endif
