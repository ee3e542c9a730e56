/* safetensors.c — open HF safetensors checkpoints: one file, a folder, or a sharded index.
 *
 * First step of the HF branch of formats/: map each file, validate its JSON header field by
 * field (byte layout in safetensors.h), and expose every tensor as a view into the mapping.
 * model_src.c then renames and reshapes the tensors for GGUF. Every value read from a file
 * is hostile until checked; a failure names the file, the tensor or field, what was found
 * and what was allowed. The per-tensor checks read as one straight run, in field order.
 *
 * Departures from the Rust reader (huggingface/safetensors), on purpose: holes between
 * tensors and bytes after the last one are allowed (only overlaps and overruns are errors),
 * and the header length need not be a multiple of 8, so tensor data may be unaligned.
 */
#include "safetensors.h"

#include "file_map.h"
#include "ggml_type.h"
#include "../common/ig_error.h"

#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants and types ---------------------------------------------------------- */

#define ST_HEADER_MAX_BYTES ((uint64_t)100 << 20) /* 100 MiB of JSON header */
#define ST_INDEX_MAX_BYTES ((size_t)64 << 20)     /* index files of 70B models are ~100 KiB */
#define ST_NAME_MAX 255                          /* bytes in a tensor name */
#define ST_SHOW_MAX 300                          /* a shown name: 255 bytes plus escapes */
#define ST_INDEX_FILE "model.safetensors.index.json"
#define ST_SINGLE_FILE "model.safetensors"
#define ST_SUFFIX ".safetensors"
#define ST_ALLOWED "allowed: F32, F16, BF16"

struct st_file {
    struct file_map map;
    uint64_t data_start;    /* 8 + N: file offset of the data buffer */
    int64_t first_tensor;   /* this file's tensors are st->tensors[first_tensor ..] */
    int64_t n_tensors;
};

struct st_model {
    struct st_file *files;             /* [n_files]; never reallocated: tensors borrow paths */
    int n_files;
    struct st_tensor *tensors;         /* [n_tensors]: file order, then by name */
    int64_t n_tensors;
    const struct st_tensor **by_name;  /* [n_tensors], sorted by name, for st_find */
    json_t *metadata;                  /* first file's __metadata__ (a reference), or NULL */
    unsigned flags;                    /* ST_OPEN_* */
};

/* The dtypes ingot reads, and the other dtypes safetensors defines (named "not supported"
 * rather than "unknown" in messages). */
static const struct {
    const char *name;
    int type;
    size_t elem_bytes;
} st_dtypes[] = {
    {"F32", GGML_TYPE_F32, 4},
    {"F16", GGML_TYPE_F16, 2},
    {"BF16", GGML_TYPE_BF16, 2},
};

/* Integer dtypes, read only under ST_OPEN_INTEGER_DTYPES (third-party quantized checkpoints:
 * GPTQ/AWQ I32 words, bitsandbytes U8 codes and I8 weights). U8 has no ggml id: it is
 * GGML_TYPE_I8 with st_tensor.dtype "U8". */
static const struct {
    const char *name;
    int type;
    size_t elem_bytes;
} st_dtypes_integer[] = {
    {"I32", GGML_TYPE_I32, 4},
    {"I8", GGML_TYPE_I8, 1},
    {"U8", GGML_TYPE_I8, 1},
};

static const char *const st_dtypes_unsupported[] = {
    "BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F64", "C64",
    "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
};

#define N_ST_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])
#define N_ST_DTYPES_UNSUPPORTED (sizeof st_dtypes_unsupported / sizeof st_dtypes_unsupported[0])

/* ---- messages --------------------------------------------------------------------- */

/* Copy s into out[cap] for a message: control bytes become \xNN and a string that does not
 * fit is cut with "...". Names come from hostile files; this keeps terminal escape
 * sequences out of the user's terminal. Returns out. */
static const char *show(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        size_t need = (c < 0x20 || c == 0x7f) ? 4 : 1;
        if (k + need + 4 > cap) {
            memcpy(out + k, "...", 4);
            return out;
        }
        if (need == 4)
            snprintf(out + k, 5, "\\x%02x", c);
        else
            out[k] = (char)c;
        k += need;
    }
    out[k] = '\0';
    return out;
}

/* Record "safetensors: PATH: <fmt>" and return IG_EINVAL. */
__attribute__((format(printf, 2, 3)))
static int file_fail(const char *path, const char *fmt, ...)
{
    char msg[IG_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ig_error_set(IG_EINVAL, "safetensors: %s: %s", path, msg);
}

/* Record "safetensors: PATH: tensor 'NAME': <fmt>" and return IG_EINVAL. */
__attribute__((format(printf, 3, 4)))
static int tensor_fail(const char *path, const char *name, const char *fmt, ...)
{
    char msg[IG_ERROR_MAX];
    char shown[ST_SHOW_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ig_error_set(IG_EINVAL, "safetensors: %s: tensor '%s': %s", path,
                        show(shown, sizeof shown, name), msg);
}

/* "an integer", "a string", ...; "missing" for NULL (json_object_get found nothing). */
static const char *json_kind(const json_t *v)
{
    if (!v)
        return "missing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

/* Report a json_loadb failure: IG_ENOMEM if jansson ran out of memory, else IG_EINVAL. */
static int json_fail(const char *path, const char *what, const json_error_t *jerr)
{
    char shown[ST_SHOW_MAX];
    if (json_error_code(jerr) == json_error_out_of_memory)
        return ig_error_set(IG_ENOMEM, "safetensors: %s: out of memory parsing the %s", path, what);
    return file_fail(path, "%s is not valid JSON: %s (line %d, column %d)", what,
                     show(shown, sizeof shown, jerr->text), jerr->line, jerr->column);
}

/* "[512, 256]" into out[cap]. */
static const char *dims_format(char *out, size_t cap, const int64_t *dims, int n_dims)
{
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < n_dims && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < cap)
        snprintf(out + k, cap - k, "]");
    return out;
}

/* ---- one tensor entry ------------------------------------------------------------- */

static int dtype_parse(const char *path, const char *name, const json_t *v, struct st_tensor *t,
                       size_t *elem_bytes, unsigned flags)
{
    int *type = &t->type;
    char shown[64];
    if (!json_is_string(v))
        return tensor_fail(path, name, "dtype is %s, expected a string (" ST_ALLOWED ")",
                           json_kind(v));
    const char *s = json_string_value(v);
    for (size_t i = 0; i < N_ST_DTYPES; i++) {
        if (strcmp(s, st_dtypes[i].name) == 0) {
            *type = st_dtypes[i].type;
            *elem_bytes = st_dtypes[i].elem_bytes;
            t->dtype = st_dtypes[i].name;
            return 0;
        }
    }
    for (size_t i = 0; (flags & ST_OPEN_INTEGER_DTYPES) && i < sizeof st_dtypes_integer / sizeof st_dtypes_integer[0]; i++) {
        if (strcmp(s, st_dtypes_integer[i].name) == 0) {
            *type = st_dtypes_integer[i].type;
            *elem_bytes = st_dtypes_integer[i].elem_bytes;
            t->dtype = st_dtypes_integer[i].name;
            return 0;
        }
    }
    bool known = false;
    for (size_t i = 0; i < N_ST_DTYPES_UNSUPPORTED; i++)
        known = known || strcmp(s, st_dtypes_unsupported[i]) == 0;
    return tensor_fail(path, name, "dtype '%s' is %s (" ST_ALLOWED ")", show(shown, sizeof shown, s),
                       known ? "not supported" : "not a safetensors dtype");
}

/* Fill t->shape and t->n_dims; *n_elems is the product, checked against int64. */
static int shape_parse(const char *path, const char *name, const json_t *v, struct st_tensor *t,
                       uint64_t *n_elems)
{
    char dims[256];
    if (!json_is_array(v))
        return tensor_fail(path, name, "shape is %s, expected an array of non-negative integers",
                           json_kind(v));
    size_t n = json_array_size(v);
    if (n > ST_MAX_DIMS)
        return tensor_fail(path, name, "shape has %zu dims (allowed 0..%d)", n, ST_MAX_DIMS);
    bool has_zero = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(v, i);
        if (!json_is_integer(d))
            return tensor_fail(path, name, "shape[%zu] is %s, expected a non-negative integer", i,
                               json_kind(d));
        if (json_integer_value(d) < 0)
            return tensor_fail(path, name, "shape[%zu] is %lld, expected a non-negative integer", i,
                               (long long)json_integer_value(d));
        t->shape[i] = json_integer_value(d);
        has_zero = has_zero || t->shape[i] == 0;
    }
    t->n_dims = (int)n;
    /* a zero anywhere makes the product 0, even after a partial product that overflows */
    uint64_t count = has_zero ? 0 : 1;
    for (int i = 0; i < t->n_dims && !has_zero; i++) {
        if (!ig_mul_u64(count, (uint64_t)t->shape[i], &count) || count > (uint64_t)INT64_MAX)
            return tensor_fail(path, name, "shape %s: the element count overflows int64",
                               dims_format(dims, sizeof dims, t->shape, t->n_dims));
    }
    *n_elems = count;
    return 0;
}

/* Read [begin, end], relative to the data buffer, and check it lies inside it. */
static int offsets_parse(const struct st_file *f, const char *name, const json_t *v,
                         uint64_t *begin, uint64_t *end)
{
    const char *path = f->map.path;
    uint64_t off[2];
    if (!json_is_array(v))
        return tensor_fail(path, name, "data_offsets is %s, expected [begin, end]", json_kind(v));
    if (json_array_size(v) != 2)
        return tensor_fail(path, name, "data_offsets has length %zu, expected 2: [begin, end]",
                           json_array_size(v));
    for (size_t i = 0; i < 2; i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_integer(x))
            return tensor_fail(path, name, "data_offsets[%zu] is %s, expected a non-negative integer",
                               i, json_kind(x));
        if (json_integer_value(x) < 0)
            return tensor_fail(path, name, "data_offsets[%zu] is %lld, expected a non-negative integer",
                               i, (long long)json_integer_value(x));
        off[i] = (uint64_t)json_integer_value(x);
    }
    if (off[0] > off[1])
        return tensor_fail(path, name, "data_offsets [%llu, %llu] begin after they end",
                           (unsigned long long)off[0], (unsigned long long)off[1]);
    uint64_t data_bytes = f->map.size_bytes - f->data_start;
    if (off[1] > data_bytes)
        return tensor_fail(path, name,
                           "data_offsets [%llu, %llu] run past the end of the data buffer, which "
                           "holds %llu bytes (file offsets %llu..%zu)",
                           (unsigned long long)off[0], (unsigned long long)off[1],
                           (unsigned long long)data_bytes, (unsigned long long)f->data_start,
                           f->map.size_bytes);
    *begin = off[0];
    *end = off[1];
    return 0;
}

/* Fill t from one header entry: name, then dtype, shape, data_offsets, then the size that
 * ties them together. The name is copied last, so a failure leaves nothing to free. */
static int tensor_parse(const struct st_file *f, const char *name, const json_t *entry,
                        struct st_tensor *t, unsigned flags)
{
    const char *path = f->map.path;
    char shown[72], dims[256];
    size_t elem_bytes = 0;
    uint64_t n_elems = 0, size_bytes, begin = 0, end = 0;
    size_t name_len = strlen(name);
    memset(t, 0, sizeof *t);
    if (name_len == 0)
        return file_fail(path, "a tensor has an empty name (allowed 1..%d bytes)", ST_NAME_MAX);
    if (name_len > ST_NAME_MAX)
        return file_fail(path, "tensor '%s': name is %zu bytes long (allowed 1..%d)",
                         show(shown, sizeof shown, name), name_len, ST_NAME_MAX);
    if (!json_is_object(entry))
        return tensor_fail(path, name, "entry is %s, expected an object with dtype, shape and "
                           "data_offsets", json_kind(entry));
    int rc = dtype_parse(path, name, json_object_get(entry, "dtype"), t, &elem_bytes, flags);
    if (rc)
        return rc;
    rc = shape_parse(path, name, json_object_get(entry, "shape"), t, &n_elems);
    if (rc)
        return rc;
    rc = offsets_parse(f, name, json_object_get(entry, "data_offsets"), &begin, &end);
    if (rc)
        return rc;
    dims_format(dims, sizeof dims, t->shape, t->n_dims);
    if (!ig_mul_u64(n_elems, elem_bytes, &size_bytes))
        return tensor_fail(path, name, "shape %s of %s needs more than 2^64 bytes", dims,
                           ggml_type_name(t->type));
    if (end - begin != size_bytes)
        return tensor_fail(path, name, "data_offsets [%llu, %llu] hold %llu bytes, but shape %s of "
                           "%s needs %llu", (unsigned long long)begin, (unsigned long long)end,
                           (unsigned long long)(end - begin), dims, ggml_type_name(t->type),
                           (unsigned long long)size_bytes);
    t->name = ig_malloc(name_len + 1);
    if (!t->name)
        return IG_ENOMEM;
    memcpy(t->name, name, name_len + 1);
    t->data = f->map.data + f->data_start + begin;
    t->size_bytes = size_bytes;
    t->file = f->map.path;
    return 0;
}

/* ---- one file --------------------------------------------------------------------- */

static int metadata_check(const char *path, const json_t *meta)
{
    char shown[ST_SHOW_MAX];
    const char *key;
    json_t *value;
    if (!json_is_object(meta))
        return file_fail(path, "__metadata__ is %s, expected an object of strings", json_kind(meta));
    json_object_foreach((json_t *)meta, key, value) {
        if (!json_is_string(value))
            return file_fail(path, "__metadata__ key '%s' is %s, expected a string",
                             show(shown, sizeof shown, key), json_kind(value));
    }
    return 0;
}

/* Check the header length, parse the header and check that it is an object. */
static int header_load(struct st_file *f, json_t **root_out)
{
    const struct file_map *m = &f->map;
    json_error_t jerr;
    *root_out = NULL;
    if (m->size_bytes < 8)
        return file_fail(m->path, "file is %zu bytes, too short for the 8-byte header length",
                         m->size_bytes);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)          /* u64 little-endian */
        n = (n << 8) | m->data[i];
    if (n == 0)
        return file_fail(m->path, "header length is 0 (allowed 2..%llu bytes)",
                         (unsigned long long)ST_HEADER_MAX_BYTES);
    if (n > ST_HEADER_MAX_BYTES)
        return file_fail(m->path, "header length %llu bytes is more than the %llu allowed",
                         (unsigned long long)n, (unsigned long long)ST_HEADER_MAX_BYTES);
    if (n > m->size_bytes - 8)
        return file_fail(m->path, "header length %llu bytes runs past the end of the file (%zu "
                         "bytes, so at most %zu)", (unsigned long long)n, m->size_bytes,
                         m->size_bytes - 8);
    f->data_start = 8 + n;
    json_t *root = json_loadb((const char *)m->data + 8, (size_t)n,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return json_fail(m->path, "header", &jerr);
    if (!json_is_object(root)) {
        int rc = file_fail(m->path, "header is %s, expected a JSON object of tensors",
                           json_kind(root));
        json_decref(root);
        return rc;
    }
    *root_out = root;
    return 0;
}

/* Append every tensor of root to st->tensors and check __metadata__. */
static int entries_parse(struct st_model *st, struct st_file *f, json_t *root)
{
    const char *key;
    json_t *value;
    size_t n_entries = json_object_size(root);
    uint64_t n_total, n_bytes;
    if (!ig_add_u64((uint64_t)st->n_tensors, n_entries, &n_total) ||
        !ig_mul_u64(n_total, sizeof *st->tensors, &n_bytes) || n_bytes > SIZE_MAX)
        return ig_error_set(IG_ENOMEM, "safetensors: %s: too many tensors", f->map.path);
    struct st_tensor *grown = ig_realloc(st->tensors, (size_t)n_bytes);
    if (!grown)
        return IG_ENOMEM;
    st->tensors = grown;
    f->first_tensor = st->n_tensors;
    json_object_foreach(root, key, value) {
        int rc;
        if (strcmp(key, "__metadata__") == 0)
            rc = metadata_check(f->map.path, value);
        else
            rc = tensor_parse(f, key, value, &st->tensors[st->n_tensors], st->flags);
        if (rc)
            return rc;
        if (strcmp(key, "__metadata__") != 0) {
            st->n_tensors++;
            f->n_tensors++;
        }
    }
    return 0;
}

static int tensor_by_data_cmp(const void *a, const void *b)
{
    const struct st_tensor *x = *(const struct st_tensor *const *)a;
    const struct st_tensor *y = *(const struct st_tensor *const *)b;
    if (x->data != y->data)
        return x->data < y->data ? -1 : 1;
    return (x->size_bytes > y->size_bytes) - (x->size_bytes < y->size_bytes);
}

static int tensor_by_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct st_tensor *)a)->name, ((const struct st_tensor *)b)->name);
}

static int tensor_ptr_by_name_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct st_tensor *const *)a)->name,
                  (*(const struct st_tensor *const *)b)->name);
}

/* Sort the file's tensors by begin and check that no two share a byte. Zero-size tensors
 * hold no bytes and cannot overlap anything. */
static int overlaps_check(const struct st_model *st, const struct st_file *f)
{
    const struct st_tensor *base = st->tensors + f->first_tensor;
    const uint8_t *data = f->map.data + f->data_start;
    const struct st_tensor *prev = NULL;  /* the sized tensor reaching furthest so far */
    char shown_a[ST_SHOW_MAX], shown_b[ST_SHOW_MAX];
    int rc = 0;
    if (f->n_tensors < 2)
        return 0;
    const struct st_tensor **order = ig_malloc((size_t)f->n_tensors * sizeof *order);
    if (!order)
        return IG_ENOMEM;
    for (int64_t i = 0; i < f->n_tensors; i++)
        order[i] = &base[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, tensor_by_data_cmp);
    for (int64_t i = 0; i < f->n_tensors && !rc; i++) {
        const struct st_tensor *t = order[i];
        if (t->size_bytes == 0)
            continue;
        if (prev && t->data < prev->data + prev->size_bytes) {
            uint64_t b0 = (uint64_t)(prev->data - data), b1 = (uint64_t)(t->data - data);
            rc = file_fail(f->map.path, "tensors '%s' (data_offsets [%llu, %llu]) and '%s' "
                           "(data_offsets [%llu, %llu]) overlap",
                           show(shown_a, sizeof shown_a, prev->name), (unsigned long long)b0,
                           (unsigned long long)(b0 + prev->size_bytes),
                           show(shown_b, sizeof shown_b, t->name), (unsigned long long)b1,
                           (unsigned long long)(b1 + t->size_bytes));
        }
        if (!prev || t->data + t->size_bytes > prev->data + prev->size_bytes)
            prev = t;
    }
    free(order);
    return rc;
}

/* Map path as st->files[i], validate it, append its tensors sorted by name, and keep the
 * first file's __metadata__. On failure the mapping stays in st for st_close. */
static int file_load(struct st_model *st, int i, const char *path)
{
    struct st_file *f = &st->files[i];
    json_t *root = NULL;
    int rc = file_map_open(&f->map, path);
    if (rc)
        return ig_error_wrap(rc, "safetensors");
    rc = header_load(f, &root);
    if (rc)
        return rc;
    rc = entries_parse(st, f, root);
    if (rc)
        goto out_decref;
    rc = overlaps_check(st, f);
    if (rc)
        goto out_decref;
    qsort(st->tensors + f->first_tensor, (size_t)f->n_tensors, sizeof *st->tensors,
          tensor_by_name_cmp);
    if (i == 0)
        st->metadata = json_incref(json_object_get(root, "__metadata__"));
out_decref:
    json_decref(root);
    return rc;
}

/* ---- sharded checkpoints ---------------------------------------------------------- */

/* One weight_map entry. Strings are borrowed from the index's JSON. */
struct wm_entry {
    const char *name;
    const char *file;
    int64_t rank;                   /* position in name order */
    struct wm_entry *leader;        /* the entry of the same file with the lowest rank */
    int shard;                      /* index into st->files */
};

static int wm_by_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct wm_entry *)a)->name, ((const struct wm_entry *)b)->name);
}

static int wm_ptr_by_file_cmp(const void *a, const void *b)
{
    const struct wm_entry *x = *(const struct wm_entry *const *)a;
    const struct wm_entry *y = *(const struct wm_entry *const *)b;
    int c = strcmp(x->file, y->file);
    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

static int wm_ptr_by_rank_cmp(const void *a, const void *b)
{
    const struct wm_entry *x = *(const struct wm_entry *const *)a;
    const struct wm_entry *y = *(const struct wm_entry *const *)b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* A shard must be a plain file name in the index's folder. */
static int shard_name_check(const char *index_path, const char *name, const json_t *v)
{
    char shown_a[ST_SHOW_MAX], shown_b[ST_SHOW_MAX];
    if (!json_is_string(v))
        return file_fail(index_path, "weight_map: tensor '%s' maps to %s, expected a file name",
                         show(shown_a, sizeof shown_a, name), json_kind(v));
    const char *s = json_string_value(v);
    bool bad = s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strchr(s, '/');
    for (const char *p = s; *p && !bad; p++)
        bad = (unsigned char)*p < 0x20;
    if (bad)
        return file_fail(index_path, "weight_map: tensor '%s' maps to '%s', expected a file name "
                         "in the index's folder (not empty, '.' or '..', no '/' or control bytes)",
                         show(shown_a, sizeof shown_a, name), show(shown_b, sizeof shown_b, s));
    return 0;
}

/* Give every entry its shard: files in the order of their first tensor by name. Sorting
 * (not a linear search per entry) keeps a hostile index with a million shard names fast.
 * Returns the number of shards, with leaders[s] the first entry of shard s. */
static int shards_assign(struct wm_entry *entries, size_t n, struct wm_entry **by_file,
                         struct wm_entry **leaders)
{
    size_t n_shards = 0;
    for (size_t i = 0; i < n; i++)
        by_file[i] = &entries[i];
    qsort(by_file, n, sizeof *by_file, wm_ptr_by_file_cmp);
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(by_file[i - 1]->file, by_file[i]->file) != 0;
        by_file[i]->leader = first ? by_file[i] : by_file[i - 1]->leader;
        if (first)
            leaders[n_shards++] = by_file[i];
    }
    qsort(leaders, n_shards, sizeof *leaders, wm_ptr_by_rank_cmp);
    for (size_t s = 0; s < n_shards; s++)
        leaders[s]->shard = (int)s;
    for (size_t i = 0; i < n; i++)
        entries[i].shard = entries[i].leader->shard;
    return (int)n_shards;
}

/* The tensor named name among base[0..n), sorted by name, or NULL. */
static const struct st_tensor *tensor_search(const struct st_tensor *base, int64_t n,
                                             const char *name)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(base[mid].name, name);
        if (c == 0)
            return &base[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Read weight_map into entries[n] sorted by name, each with a checked file name. */
static int weight_map_read(const char *index_path, const json_t *root, struct wm_entry **out,
                           size_t *n_out)
{
    const char *key;
    json_t *value;
    size_t n = 0;
    const json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(root))
        return file_fail(index_path, "index is %s, expected an object with a weight_map",
                         json_kind(root));
    if (!json_is_object(wm))
        return file_fail(index_path, "weight_map is %s, expected an object of tensor name -> "
                         "file name", json_kind(wm));
    if (json_object_size(wm) == 0)
        return file_fail(index_path, "weight_map is empty, expected at least one tensor");
    struct wm_entry *entries = ig_calloc(json_object_size(wm), sizeof *entries);
    if (!entries)
        return IG_ENOMEM;
    json_object_foreach((json_t *)wm, key, value) {
        int rc = shard_name_check(index_path, key, value);
        if (rc) {
            free(entries);
            return rc;
        }
        entries[n].name = key;
        entries[n].file = json_string_value(value);
        n++;
    }
    qsort(entries, n, sizeof *entries, wm_by_name_cmp);
    for (size_t i = 0; i < n; i++)
        entries[i].rank = (int64_t)i;
    *out = entries;
    *n_out = n;
    return 0;
}

/* Heap copy of the folder part of path ("." when there is none). */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 1;
    if (slash == path)
        len = 1;                    /* "/model.safetensors.index.json" -> "/" */
    char *dir = ig_malloc(len + 1);
    if (!dir)
        return NULL;
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    return dir;
}

/* Map each shard once, then check that every tensor the index names is in its shard. */
static int shards_load(struct st_model *st, const char *index_path, struct wm_entry *entries,
                       size_t n, struct wm_entry **leaders)
{
    char shown[ST_SHOW_MAX];
    char *dir = folder_of(index_path);
    int rc = 0;
    if (!dir)
        return IG_ENOMEM;
    for (int s = 0; s < st->n_files && !rc; s++) {
        char *path = file_path_join(dir, leaders[s]->file);
        rc = path ? file_load(st, s, path) : IG_ENOMEM;
        free(path);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const struct st_file *f = &st->files[entries[i].shard];
        if (!tensor_search(st->tensors + f->first_tensor, f->n_tensors, entries[i].name))
            rc = file_fail(index_path, "weight_map: tensor '%s' should be in %s, but that file "
                           "has no such tensor", show(shown, sizeof shown, entries[i].name),
                           entries[i].file);
    }
    free(dir);
    return rc;
}

static int index_load(struct st_model *st, const char *index_path)
{
    struct file_map map;
    json_error_t jerr;
    struct wm_entry *entries = NULL, **by_file = NULL, **leaders = NULL;
    json_t *root = NULL;
    size_t n = 0;
    int rc = file_map_open(&map, index_path);
    if (rc)
        return ig_error_wrap(rc, "safetensors");
    if (map.size_bytes == 0 || map.size_bytes > ST_INDEX_MAX_BYTES) {
        rc = file_fail(index_path, "index is %zu bytes (allowed 1..%zu)", map.size_bytes,
                       ST_INDEX_MAX_BYTES);
        goto out_unmap;
    }
    root = json_loadb((const char *)map.data, map.size_bytes, JSON_REJECT_DUPLICATES |
                              JSON_DECODE_ANY, &jerr);
    if (!root) {
        rc = json_fail(index_path, "index", &jerr);
        goto out_unmap;
    }
    rc = weight_map_read(index_path, root, &entries, &n);
    if (rc)
        goto out_decref;
    by_file = ig_calloc(n, sizeof *by_file);
    leaders = ig_calloc(n, sizeof *leaders);
    if (!by_file || !leaders) {
        rc = IG_ENOMEM;
        goto out_free;
    }
    int n_shards = shards_assign(entries, n, by_file, leaders);
    st->files = ig_calloc((size_t)n_shards, sizeof *st->files);
    if (!st->files) {
        rc = IG_ENOMEM;
        goto out_free;
    }
    st->n_files = n_shards;
    rc = shards_load(st, index_path, entries, n, leaders);
out_free:
    free(leaders);
    free(by_file);
    free(entries);
out_decref:
    json_decref(root);
out_unmap:
    file_map_close(&map);
    return rc;
}

/* ---- finding the files ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static char *string_dup(const char *s)
{
    size_t len = strlen(s);
    char *p = ig_malloc(len + 1);
    if (p)
        memcpy(p, s, len + 1);
    return p;
}

/* Without an index or model.safetensors, a folder must hold exactly one *.safetensors file.
 * The message names the two smallest names, so it does not depend on readdir order. */
static int folder_scan(const char *folder, char **file)
{
    char first[256] = "", second[256] = "";
    int n_found = 0, rc = 0;
    struct dirent *e;
    DIR *d = opendir(folder);
    if (!d)
        return ig_error_set(IG_EIO, "safetensors: %s: cannot list folder", folder);
    while ((e = readdir(d)) && !rc) {
        if (!ends_with(e->d_name, ST_SUFFIX) || strlen(e->d_name) >= sizeof first)
            continue;
        char *path = file_path_join(folder, e->d_name);
        if (!path) {
            rc = IG_ENOMEM;
            break;
        }
        if (file_is_regular(path)) {
            n_found++;
            if (n_found == 1 || strcmp(e->d_name, first) < 0) {
                strcpy(second, first);
                strcpy(first, e->d_name);
            } else if (n_found == 2 || strcmp(e->d_name, second) < 0) {
                strcpy(second, e->d_name);
            }
        }
        free(path);
    }
    closedir(d);
    if (rc)
        return rc;
    if (n_found == 0)
        return file_fail(folder, "no " ST_INDEX_FILE ", " ST_SINGLE_FILE " or other *"
                         ST_SUFFIX " file in this folder");
    if (n_found > 1)
        return file_fail(folder, "%d *" ST_SUFFIX " files (%s, %s%s) and no " ST_INDEX_FILE
                         " to say how they fit together", n_found, first, second,
                         n_found > 2 ? ", ..." : "");
    *file = file_path_join(folder, first);
    return *file ? 0 : IG_ENOMEM;
}

/* Decide what path names: *file (heap) is an index when *is_index, else one file. */
static int path_resolve(const char *path, char **file, bool *is_index)
{
    *file = NULL;
    *is_index = false;
    if (file_is_folder(path)) {
        char *index = file_path_join(path, ST_INDEX_FILE);
        char *single = file_path_join(path, ST_SINGLE_FILE);
        int rc = index && single ? 0 : IG_ENOMEM;
        if (!rc && file_is_regular(index)) {
            *is_index = true;
            *file = index;
            index = NULL;
        } else if (!rc && file_is_regular(single)) {
            *file = single;
            single = NULL;
        } else if (!rc) {
            rc = folder_scan(path, file);
        }
        free(single);
        free(index);
        return rc;
    }
    if (!file_is_regular(path))
        return ig_error_set(IG_EINVAL, "safetensors: %s: no such file or folder", path);
    *is_index = ends_with(path, ".json");
    *file = string_dup(path);
    return *file ? 0 : IG_ENOMEM;
}

/* Sort pointers to every tensor by name; a name in two shards is an error. */
static int by_name_build(struct st_model *st)
{
    char shown[ST_SHOW_MAX];
    st->by_name = ig_malloc((size_t)st->n_tensors * sizeof *st->by_name);
    if (!st->by_name)
        return IG_ENOMEM;
    for (int64_t i = 0; i < st->n_tensors; i++)
        st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, (size_t)st->n_tensors, sizeof *st->by_name, tensor_ptr_by_name_cmp);
    for (int64_t i = 1; i < st->n_tensors; i++) {
        const struct st_tensor *a = st->by_name[i - 1], *b = st->by_name[i];
        if (strcmp(a->name, b->name) == 0)
            return ig_error_set(IG_EINVAL, "safetensors: tensor '%s' is in two files, %s and %s "
                                "(allowed: once)", show(shown, sizeof shown, a->name), a->file,
                                b->file);
    }
    return 0;
}

/* ---- public ----------------------------------------------------------------------- */

int st_open(struct st_model **out, const char *path)
{
    return st_open_flags(out, path, 0);
}

int st_open_flags(struct st_model **out, const char *path, unsigned flags)
{
    char *file = NULL;
    bool is_index = false;
    int rc;
    *out = NULL;
    if (!path)
        return ig_error_set(IG_EINVAL, "safetensors: no path given");
    struct st_model *st = ig_calloc(1, sizeof *st);
    if (!st)
        return IG_ENOMEM;
    st->flags = flags;
    rc = path_resolve(path, &file, &is_index);
    if (rc)
        goto out_close;
    if (is_index) {
        rc = index_load(st, file);
    } else {
        st->files = ig_calloc(1, sizeof *st->files);
        st->n_files = st->files ? 1 : 0;
        rc = st->files ? file_load(st, 0, file) : IG_ENOMEM;
    }
    if (rc)
        goto out_free_file;
    rc = by_name_build(st);
    if (rc)
        goto out_free_file;
    free(file);
    *out = st;
    return 0;
out_free_file:
    free(file);
out_close:
    st_close(st);
    return rc;
}

void st_close(struct st_model *st)
{
    if (!st)
        return;
    for (int64_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    free(st->by_name);
    json_decref(st->metadata);
    for (int i = 0; i < st->n_files; i++)
        file_map_close(&st->files[i].map);
    free(st->files);
    free(st);
}

int64_t st_n_tensors(const struct st_model *st)
{
    return st ? st->n_tensors : 0;
}

const struct st_tensor *st_tensor_at(const struct st_model *st, int64_t i)
{
    return st && i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const struct st_tensor *st_find(const struct st_model *st, const char *name)
{
    int64_t lo = 0, hi = st ? st->n_tensors : 0;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0)
            return st->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *st_metadata_get(const struct st_model *st, const char *key)
{
    if (!st || !st->metadata)
        return NULL;
    return json_string_value(json_object_get(st->metadata, key));
}

int st_n_files(const struct st_model *st)
{
    return st ? st->n_files : 0;
}

const char *st_file_path(const struct st_model *st, int i)
{
    return st && i >= 0 && i < st->n_files ? st->files[i].map.path : NULL;
}

uint64_t st_file_size(const struct st_model *st, int i)
{
    return st && i >= 0 && i < st->n_files ? st->files[i].map.size_bytes : 0;
}
