/* fuzz_st_index.c — libFuzzer harness for sharded safetensors checkpoints
 * (model.safetensors.index.json + its shards, formats/safetensors.h: st_open on a folder).
 *
 * An input is the index, a NUL (JSON text holds none), then its shards, each as a
 * little-endian u32 length (cut to what is left) and that many bytes:
 *     index JSON \0 len1 shard 1 len2 shard 2 ...
 * Shard k is written under the k-th distinct file name the weight_map names that
 * is a plain file name (at most FUZZ_MAX_SHARDS), so shards are found without the fuzzer
 * having to guess names; a named shard without bytes stays missing. All of it goes into
 * a private temporary folder, emptied per input, and st_open opens the folder (the index
 * wins). Any input may be rejected; none may crash, leak or read outside a mapping, and
 * an accepted checkpoint's views are read end to end, each found again by name.
 * Seeds: tests/data/fuzz-seeds/fuzz_st_index (written by fuzz/make_seeds.py).
 * Build and run: make build/fuzz/fuzz_st_index && build/fuzz/fuzz_st_index -max_total_time=30
 */
#include "common/ig_error.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_util.h"

#include <jansson.h>

#define FUZZ_MAX_SHARDS 4
#define INDEX_NAME "model.safetensors.index.json"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Up to FUZZ_MAX_SHARDS distinct shard names from weight_map, in the order first named.
 * The strings borrow from root. */
static int shard_names(const json_t *root, const char **names)
{
    const json_t *wm = json_object_get(root, "weight_map");
    const char *key;
    json_t *value;
    int n = 0;
    if (!json_is_object(wm))
        return 0;
    json_object_foreach((json_t *)wm, key, value) {
        const char *s = json_string_value(value);
        if (!s || !s[0] || strchr(s, '/') || strlen(s) > 200 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
            strcmp(s, INDEX_NAME) == 0)
            continue;
        bool seen = false;
        for (int k = 0; k < n && !seen; k++)
            seen = strcmp(names[k], s) == 0;
        if (!seen && n < FUZZ_MAX_SHARDS)
            names[n++] = s;
    }
    return n;
}

/* What an accepted checkpoint promises: views inside their files, names unique and found. */
static void walk(const struct st_model *st)
{
    for (int64_t i = 0; i < st_n_tensors(st); i++) {
        const struct st_tensor *t = st_tensor_at(st, i);
        if (!t || !t->name || !t->file || t->n_dims < 0 || t->n_dims > ST_MAX_DIMS)
            __builtin_trap();
        fuzz_touch(t->data, t->size_bytes);
        if (st_find(st, t->name) != t)
            __builtin_trap();
    }
    if (st_n_files(st) < 1)
        __builtin_trap();
    for (int i = 0; i < st_n_files(st); i++)
        if (!st_file_path(st, i))
            __builtin_trap();
    st_metadata_get(st, "format");
}

/* ---- entry point -------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_dir("fuzz_st_index");
    size_t n_index, n_rest;
    const uint8_t *rest = fuzz_split(data, size, &n_index, &n_rest);
    if (!dir || fuzz_write_file(dir, INDEX_NAME, data, n_index))
        return 0;

    /* the harness's own reading of the index, only to name the shard files */
    const char *names[FUZZ_MAX_SHARDS];
    json_t *root = json_loadb((const char *)data, n_index, JSON_DECODE_ANY, NULL);
    int n_names = root ? shard_names(root, names) : 0;
    for (int k = 0; k < n_names && rest && n_rest >= 4; k++) {
        size_t n_shard = (size_t)rest[0] | (size_t)rest[1] << 8 | (size_t)rest[2] << 16 | (size_t)rest[3] << 24;
        rest += 4;
        n_rest -= 4;
        n_shard = n_shard < n_rest ? n_shard : n_rest;
        fuzz_write_file(dir, names[k], rest, n_shard);   /* an unwritable name stays missing */
        rest += n_shard;
        n_rest -= n_shard;
    }
    json_decref(root);

    struct st_model *st = NULL;
    int rc = st_open(&st, dir);
    fuzz_note("fuzz_st_index", "st_open", rc, ig_error_message());
    if (rc == 0)
        walk(st);
    else if (st)
        __builtin_trap();   /* *out is NULL on failure */
    st_close(st);
    return 0;
}
