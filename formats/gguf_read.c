/* gguf_read.c — GGUF v3 parser over a read-only mapping (layout in gguf.h).
 *
 * The file is hostile: every count is bounded by the bytes that remain before it is used
 * to allocate, every product is overflow-checked, and every failure names the file and
 * the field. Values stay in the mapping; only the tables of KVs and tensor infos (and
 * the offsets of string-array elements) are allocated.
 */
#include "gguf.h"

#include "../common/ig_error.h"
#include "ggml_type.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct gguf_file {
    struct file_map map;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    struct gguf_kv *kvs;             /* [n_kv] */
    int64_t n_tensors;
    struct gguf_tensor_info *tensors; /* [n_tensors] */
    uint64_t **str_offsets;          /* [n_kv], NULL unless a string array */
};

/* A cursor over the mapping. */
struct reader {
    const uint8_t *data;
    uint64_t size;
    uint64_t pos;
    const char *path;
};

/* Keys whose type llama.cpp (or ingot) fixes; a file that stores them otherwise is bad.
 * A leading '.' matches any "<arch>" prefix. */
static const struct {
    const char *key;
    int type;
    int elem_type;  /* arrays; -1 for scalars */
    int alt_type;   /* a second accepted type (per-layer arrays), or -1 */
} known_keys[] = {
    {"general.alignment", GGUF_VALUE_UINT32, -1, -1},
    {"general.architecture", GGUF_VALUE_STRING, -1, -1},
    {"general.name", GGUF_VALUE_STRING, -1, -1},
    {"general.file_type", GGUF_VALUE_UINT32, -1, -1},
    {"general.quantization_version", GGUF_VALUE_UINT32, -1, -1},
    {"tokenizer.ggml.model", GGUF_VALUE_STRING, -1, -1},
    {"tokenizer.ggml.pre", GGUF_VALUE_STRING, -1, -1},
    {"tokenizer.ggml.tokens", GGUF_VALUE_ARRAY, GGUF_VALUE_STRING, -1},
    {"tokenizer.ggml.scores", GGUF_VALUE_ARRAY, GGUF_VALUE_FLOAT32, -1},
    {"tokenizer.ggml.token_type", GGUF_VALUE_ARRAY, GGUF_VALUE_INT32, -1},
    {"tokenizer.ggml.merges", GGUF_VALUE_ARRAY, GGUF_VALUE_STRING, -1},
    {"tokenizer.ggml.bos_token_id", GGUF_VALUE_UINT32, -1, -1},
    {"tokenizer.ggml.eos_token_id", GGUF_VALUE_UINT32, -1, -1},
    {"tokenizer.ggml.unknown_token_id", GGUF_VALUE_UINT32, -1, -1},
    {"tokenizer.ggml.padding_token_id", GGUF_VALUE_UINT32, -1, -1},
    {"tokenizer.ggml.add_bos_token", GGUF_VALUE_BOOL, -1, -1},
    {"tokenizer.ggml.add_eos_token", GGUF_VALUE_BOOL, -1, -1},
    {"tokenizer.ggml.add_space_prefix", GGUF_VALUE_BOOL, -1, -1},
    {"ingot.tensor_xxh3", GGUF_VALUE_ARRAY, GGUF_VALUE_UINT64, -1},
    {GGUF_HEADER_XXH3_KEY, GGUF_VALUE_UINT64, -1, -1},
    {".context_length", GGUF_VALUE_UINT32, -1, -1},
    {".embedding_length", GGUF_VALUE_UINT32, -1, -1},
    {".block_count", GGUF_VALUE_UINT32, -1, -1},
    {".feed_forward_length", GGUF_VALUE_UINT32, GGUF_VALUE_INT32, GGUF_VALUE_ARRAY},
    {".attention.head_count", GGUF_VALUE_UINT32, GGUF_VALUE_INT32, GGUF_VALUE_ARRAY},
    {".attention.head_count_kv", GGUF_VALUE_UINT32, GGUF_VALUE_INT32, GGUF_VALUE_ARRAY},
    {".attention.layer_norm_rms_epsilon", GGUF_VALUE_FLOAT32, -1, -1},
    {".rope.freq_base", GGUF_VALUE_FLOAT32, -1, -1},
    {".rope.dimension_count", GGUF_VALUE_UINT32, -1, -1},
};

static const char *value_type_names[GGUF_VALUE_COUNT] = {
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
    "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};

static const size_t value_type_sizes[GGUF_VALUE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* ---- small helpers ------------------------------------------------------------------- */

const char *gguf_value_type_name(int type)
{
    return type >= 0 && type < GGUF_VALUE_COUNT ? value_type_names[type] : "?";
}

size_t gguf_value_type_size(int type)
{
    return type >= 0 && type < GGUF_VALUE_COUNT ? value_type_sizes[type] : 0;
}

bool gguf_str_eq(struct gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.data, c, n) == 0;
}

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static bool reader_has(const struct reader *r, uint64_t n)
{
    return n <= r->size - r->pos;
}

/* Read n bytes; fails with a message naming what was being read. */
static int reader_take(struct reader *r, uint64_t n, const uint8_t **out, const char *what)
{
    if (!reader_has(r, n))
        return ig_error_set(IG_EINVAL, "gguf: %s: %s at offset %llu needs %llu bytes, file has %llu left",
                            r->path, what, (unsigned long long)r->pos, (unsigned long long)n,
                            (unsigned long long)(r->size - r->pos));
    *out = r->data + r->pos;
    r->pos += n;
    return 0;
}

static int reader_u32(struct reader *r, uint32_t *v, const char *what)
{
    const uint8_t *p = NULL;
    int rc = reader_take(r, 4, &p, what);
    if (!rc)
        *v = load_u32(p);
    return rc;
}

static int reader_u64(struct reader *r, uint64_t *v, const char *what)
{
    const uint8_t *p = NULL;
    int rc = reader_take(r, 8, &p, what);
    if (!rc)
        *v = load_u64(p);
    return rc;
}

static int reader_str(struct reader *r, struct gguf_str *s, const char *what)
{
    uint64_t len;
    const uint8_t *p = NULL;
    int rc = reader_u64(r, &len, what);
    if (rc)
        return rc;
    if (!reader_has(r, len))
        return ig_error_set(IG_EINVAL, "gguf: %s: %s: string length %llu at offset %llu runs past the end of the file (%llu bytes)",
                            r->path, what, (unsigned long long)len, (unsigned long long)(r->pos - 8),
                            (unsigned long long)r->size);
    rc = reader_take(r, len, &p, what);
    s->data = (const char *)p;
    s->len = len;
    return rc;
}

/* Printable copy of a (possibly hostile) key for messages. */
static void str_printable(struct gguf_str s, char *buf, size_t buf_size)
{
    size_t n = s.len < buf_size - 1 ? (size_t)s.len : buf_size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.data[i];
        buf[i] = c >= 32 && c < 127 ? (char)c : '?';
    }
    buf[n] = '\0';
}

/* ---- KV pairs ------------------------------------------------------------------------ */

/* Read one value of a fixed-size or string type; arrays handled by the caller. */
static int read_array(struct gguf_file *g, struct reader *r, struct gguf_kv *kv, int64_t kv_index, const char *key)
{
    uint32_t et;
    int rc = reader_u32(r, &et, "array element type");
    if (rc)
        return ig_error_wrap(rc, "key '%s'", key);
    if ((int32_t)et < 0 || et >= GGUF_VALUE_COUNT)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': array element type %d is not a GGUF value type (0..12)",
                            r->path, key, (int32_t)et);
    if (et == GGUF_VALUE_ARRAY)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': nested arrays are not supported", r->path, key);
    kv->elem_type = (int)et;
    rc = reader_u64(r, &kv->count, "array count");
    if (rc)
        return ig_error_wrap(rc, "key '%s'", key);
    kv->value = r->data + r->pos;
    uint64_t start = r->pos;
    if (et != GGUF_VALUE_STRING) {
        uint64_t bytes;
        if (!ig_mul_u64(kv->count, value_type_sizes[et], &bytes) || !reader_has(r, bytes))
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': array of %llu %s values runs past the end of the file",
                                r->path, key, (unsigned long long)kv->count, value_type_names[et]);
        r->pos += bytes;
    } else {
        /* each string takes at least 8 bytes: bound the count before allocating */
        if (kv->count > (r->size - r->pos) / 8)
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': array count %llu is larger than the file could hold",
                                r->path, key, (unsigned long long)kv->count);
        uint64_t *offs = ig_malloc((size_t)(kv->count ? kv->count : 1) * sizeof *offs);
        if (!offs)
            return IG_ENOMEM;
        g->str_offsets[kv_index] = offs;
        for (uint64_t i = 0; i < kv->count; i++) {
            struct gguf_str s;
            offs[i] = r->pos - start;
            rc = reader_str(r, &s, "array string");
            if (rc)
                return ig_error_wrap(rc, "key '%s' element %llu", key, (unsigned long long)i);
        }
        kv->str_offsets = offs;
    }
    kv->value_bytes = r->pos - start;
    return 0;
}

static int check_known_key(const struct reader *r, const struct gguf_kv *kv, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < sizeof known_keys / sizeof known_keys[0]; i++) {
        const char *want = known_keys[i].key;
        size_t wlen = strlen(want);
        bool match = want[0] == '.' ? (klen > wlen && strcmp(key + klen - wlen, want) == 0 &&
                                       strchr(key, '.') == key + klen - wlen)
                                    : strcmp(key, want) == 0;
        if (!match)
            continue;
        int t = known_keys[i].type;
        bool ok = kv->type == t && (t != GGUF_VALUE_ARRAY || kv->elem_type == known_keys[i].elem_type);
        if (known_keys[i].alt_type == GGUF_VALUE_ARRAY)
            ok = ok || (kv->type == GGUF_VALUE_ARRAY && kv->elem_type == known_keys[i].elem_type);
        if (!ok) {
            if (t == GGUF_VALUE_ARRAY)
                return ig_error_set(IG_EINVAL, "gguf: %s: key '%s' has type %s%s%s, expected ARRAY of %s",
                                    r->path, key, gguf_value_type_name(kv->type),
                                    kv->type == GGUF_VALUE_ARRAY ? " of " : "",
                                    kv->type == GGUF_VALUE_ARRAY ? gguf_value_type_name(kv->elem_type) : "",
                                    gguf_value_type_name(known_keys[i].elem_type));
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s' has type %s, expected %s", r->path, key,
                                gguf_value_type_name(kv->type), gguf_value_type_name(t));
        }
    }
    return 0;
}

static int read_kv(struct gguf_file *g, struct reader *r, int64_t i)
{
    struct gguf_kv *kv = &g->kvs[i];
    char key[256];
    uint32_t type;
    int rc = reader_str(r, &kv->key, "key");
    if (rc)
        return ig_error_wrap(rc, "key %lld of %lld", (long long)i, (long long)g->n_kv);
    str_printable(kv->key, key, sizeof key);
    if (kv->key.len == 0 || memchr(kv->key.data, '\0', kv->key.len))
        return ig_error_set(IG_EINVAL, "gguf: %s: key %lld: empty or contains a NUL byte", r->path, (long long)i);
    rc = reader_u32(r, &type, "value type");
    if (rc)
        return ig_error_wrap(rc, "key '%s'", key);
    if ((int32_t)type < 0 || type >= GGUF_VALUE_COUNT)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': value type %d is not a GGUF value type (0..12)",
                            r->path, key, (int32_t)type);
    kv->type = (int)type;
    kv->elem_type = -1;
    kv->count = 1;
    if (type == GGUF_VALUE_ARRAY) {
        rc = read_array(g, r, kv, i, key);
    } else if (type == GGUF_VALUE_STRING) {
        struct gguf_str s;
        uint64_t start = r->pos;
        kv->value = r->data + r->pos;
        rc = reader_str(r, &s, "string value");
        if (rc)
            rc = ig_error_wrap(rc, "key '%s'", key);
        kv->value_bytes = r->pos - start;
    } else {
        kv->value_bytes = value_type_sizes[type];
        rc = reader_take(r, kv->value_bytes, &kv->value, "value");
        if (rc)
            rc = ig_error_wrap(rc, "key '%s'", key);
    }
    if (rc)
        return rc;
    return check_known_key(r, kv, key);
}

static int compare_str(const struct gguf_str *a, const struct gguf_str *b)
{
    uint64_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->data, b->data, (size_t)n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int compare_kv_ptr(const void *a, const void *b)
{
    return compare_str(&(*(const struct gguf_kv *const *)a)->key, &(*(const struct gguf_kv *const *)b)->key);
}

static int check_duplicate_keys(const struct gguf_file *g, const char *path)
{
    if (g->n_kv < 2)
        return 0;
    const struct gguf_kv **sorted = ig_malloc((size_t)g->n_kv * sizeof *sorted);
    if (!sorted)
        return IG_ENOMEM;
    for (int64_t i = 0; i < g->n_kv; i++)
        sorted[i] = &g->kvs[i];
    qsort(sorted, (size_t)g->n_kv, sizeof *sorted, compare_kv_ptr);
    int rc = 0;
    for (int64_t i = 1; i < g->n_kv && !rc; i++) {
        if (compare_str(&sorted[i - 1]->key, &sorted[i]->key) == 0) {
            char key[256];
            str_printable(sorted[i]->key, key, sizeof key);
            rc = ig_error_set(IG_EINVAL, "gguf: %s: key '%s' appears twice", path, key);
        }
    }
    free(sorted);
    return rc;
}

static int read_alignment(struct gguf_file *g, const char *path)
{
    int64_t i = gguf_find_key(g, "general.alignment");
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (i < 0)
        return 0;
    uint32_t a = load_u32(g->kvs[i].value); /* type checked by check_known_key */
    if (a == 0 || (a & (a - 1)) != 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: key 'general.alignment' is %u, expected a power of two", path, a);
    g->alignment = a;
    return 0;
}

/* ---- tensor infos -------------------------------------------------------------------- */

static int check_tensor_type(const char *path, const char *name, int type)
{
    const char *was = ggml_type_removed_name(type);
    if (was)
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': type id %d (%s) was removed from ggml", path, name,
                            type, was);
    if (!ggml_type_info_get(type))
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': type id %d is not a known ggml type (0..%d, or ingot's from %d)",
                            path, name, type, GGML_TYPE_COUNT - 1, GGML_TYPE_INGOT_BASE);
    return 0;
}

static int read_tensor_info(struct gguf_file *g, struct reader *r, int64_t i)
{
    struct gguf_tensor_info *t = &g->tensors[i];
    struct gguf_str name;
    uint32_t n_dims, type;
    int rc = reader_str(r, &name, "tensor name");
    if (rc)
        return ig_error_wrap(rc, "tensor %lld of %lld", (long long)i, (long long)g->n_tensors);
    if (name.len == 0 || name.len >= GGUF_MAX_NAME || memchr(name.data, '\0', name.len)) {
        char shown[GGUF_MAX_NAME + 4];
        str_printable(name, shown, sizeof shown);
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor %lld: name '%s' has %llu bytes, expected 1..%d without NUL",
                            r->path, (long long)i, shown, (unsigned long long)name.len, GGUF_MAX_NAME - 1);
    }
    memcpy(t->name, name.data, (size_t)name.len);
    t->name[name.len] = '\0';
    if ((rc = reader_u32(r, &n_dims, "n_dims")))
        return ig_error_wrap(rc, "tensor '%s'", t->name);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': n_dims %u, expected 1..%d", r->path, t->name, n_dims,
                            GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    uint64_t n_elems = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && (rc = reader_u64(r, &ne, "ne")))
            return ig_error_wrap(rc, "tensor '%s'", t->name);
        if ((int64_t)ne < 0)
            return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': ne[%d] = %lld is negative", r->path, t->name, d,
                                (long long)(int64_t)ne);
        if (!ig_mul_u64(n_elems, ne, &n_elems) || n_elems > (uint64_t)INT64_MAX)
            return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': the product of its dimensions overflows",
                                r->path, t->name);
        t->ne[d] = (int64_t)ne;
    }
    if ((rc = reader_u32(r, &type, "type")))
        return ig_error_wrap(rc, "tensor '%s'", t->name);
    t->type = (int32_t)type;
    if ((rc = check_tensor_type(r->path, t->name, t->type)))
        return rc;
    const struct ggml_type_info *ti = ggml_type_info_get(t->type);
    if (t->ne[0] % ti->block_elems != 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': row of %lld elements is not a multiple of %s's block of %lld",
                            r->path, t->name, (long long)t->ne[0], ti->name, (long long)ti->block_elems);
    uint64_t row_bytes;
    if (!ggml_type_row_bytes(t->type, t->ne[0], &row_bytes) ||
        !ig_mul_u64(row_bytes, n_elems / (t->ne[0] ? (uint64_t)t->ne[0] : 1), &t->size_bytes))
        return ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': byte size overflows", r->path, t->name);
    if (t->ne[0] == 0)
        t->size_bytes = 0;
    if ((rc = reader_u64(r, &t->offset, "offset")))
        return ig_error_wrap(rc, "tensor '%s'", t->name);
    return 0;
}

static int compare_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const struct gguf_tensor_info *const *)a)->name, (*(const struct gguf_tensor_info *const *)b)->name);
}

static int compare_tensor_offset(const void *a, const void *b)
{
    uint64_t x = (*(const struct gguf_tensor_info *const *)a)->offset;
    uint64_t y = (*(const struct gguf_tensor_info *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Names unique; data aligned, inside the file, not overlapping. */
static int check_tensor_layout(struct gguf_file *g, const char *path)
{
    int rc = 0;
    if (g->n_tensors == 0)
        return 0;
    const struct gguf_tensor_info **v = ig_malloc((size_t)g->n_tensors * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    for (int64_t i = 0; i < g->n_tensors; i++)
        v[i] = &g->tensors[i];
    qsort(v, (size_t)g->n_tensors, sizeof *v, compare_tensor_name);
    for (int64_t i = 1; i < g->n_tensors && !rc; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0)
            rc = ig_error_set(IG_EINVAL, "gguf: %s: tensor name '%s' appears twice", path, v[i]->name);
    uint64_t data_size = g->map.size_bytes > g->data_offset ? g->map.size_bytes - g->data_offset : 0;
    for (int64_t i = 0; i < g->n_tensors && !rc; i++) {
        struct gguf_tensor_info *t = &g->tensors[i];
        uint64_t end;
        if (t->offset % g->alignment != 0)
            rc = ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                              path, t->name, (unsigned long long)t->offset, g->alignment);
        else if (!ig_add_u64(t->offset, t->size_bytes, &end) || end > data_size)
            rc = ig_error_set(IG_EINVAL,
                              "gguf: %s: tensor '%s': data at offset %llu + %llu bytes (%s %lldx%lldx%lldx%lld) runs past the end of the data section (%llu bytes)",
                              path, t->name, (unsigned long long)t->offset, (unsigned long long)t->size_bytes,
                              ggml_type_name(t->type), (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                              (long long)t->ne[3], (unsigned long long)data_size);
        else
            t->data = g->map.data + g->data_offset + t->offset;
    }
    qsort(v, (size_t)g->n_tensors, sizeof *v, compare_tensor_offset);
    for (int64_t i = 1; i < g->n_tensors && !rc; i++)
        if (v[i - 1]->size_bytes && v[i - 1]->offset + v[i - 1]->size_bytes > v[i]->offset)
            rc = ig_error_set(IG_EINVAL, "gguf: %s: tensor '%s' overlaps tensor '%s'", path, v[i]->name, v[i - 1]->name);
    free(v);
    return rc;
}

/* ---- open / close -------------------------------------------------------------------- */

static int read_header(struct gguf_file *g, struct reader *r, uint64_t *n_tensors, uint64_t *n_kv)
{
    const uint8_t *magic = NULL;
    int rc = reader_take(r, 4, &magic, "magic");
    if (rc)
        return rc;
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return ig_error_set(IG_EINVAL, "gguf: %s: magic is %02x %02x %02x %02x, expected \"GGUF\"", r->path,
                            magic[0], magic[1], magic[2], magic[3]);
    if ((rc = reader_u32(r, &g->version, "version")))
        return rc;
    if (g->version == 1)
        return ig_error_set(IG_EINVAL, "gguf: %s: version 1 (32-bit counts) is not supported, expected 2 or 3", r->path);
    if (g->version < 2 || g->version > GGUF_VERSION)
        return ig_error_set(IG_EINVAL, "gguf: %s: version %u is not supported, expected 2 or 3", r->path, g->version);
    if ((rc = reader_u64(r, n_tensors, "n_tensors")) || (rc = reader_u64(r, n_kv, "n_kv")))
        return rc;
    /* smallest KV: 8-byte key length + 4-byte type + 1-byte value; smallest tensor info: 8 + 1 + 4 + 8 + 4 + 8 */
    if (*n_kv > (r->size - r->pos) / 13)
        return ig_error_set(IG_EINVAL, "gguf: %s: n_kv %llu is more than the file could hold", r->path,
                            (unsigned long long)*n_kv);
    if (*n_tensors > (r->size - r->pos) / 33)
        return ig_error_set(IG_EINVAL, "gguf: %s: n_tensors %llu is more than the file could hold", r->path,
                            (unsigned long long)*n_tensors);
    return 0;
}

static int parse(struct gguf_file *g)
{
    struct reader r = {g->map.data, g->map.size_bytes, 0, g->map.path};
    uint64_t n_tensors = 0, n_kv = 0;
    int rc = read_header(g, &r, &n_tensors, &n_kv);
    if (rc)
        return rc;
    g->kvs = ig_calloc((size_t)n_kv + 1, sizeof *g->kvs);
    g->str_offsets = ig_calloc((size_t)n_kv + 1, sizeof *g->str_offsets);
    g->tensors = ig_calloc((size_t)n_tensors + 1, sizeof *g->tensors);
    if (!g->kvs || !g->str_offsets || !g->tensors)
        return IG_ENOMEM;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    for (int64_t i = 0; i < g->n_kv; i++)
        if ((rc = read_kv(g, &r, i)))
            return rc;
    if ((rc = check_duplicate_keys(g, r.path)) || (rc = read_alignment(g, r.path)))
        return rc;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((rc = read_tensor_info(g, &r, i)))
            return rc;
    g->data_offset = (r.pos + g->alignment - 1) / g->alignment * g->alignment;
    return check_tensor_layout(g, r.path);
}

int gguf_open(struct gguf_file **out, const char *path)
{
    *out = NULL;
    struct gguf_file *g = ig_calloc(1, sizeof *g);
    if (!g)
        return IG_ENOMEM;
    int rc = file_map_open(&g->map, path);
    if (rc) {
        free(g);
        return rc;
    }
    rc = parse(g);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gguf_close(struct gguf_file *g)
{
    if (!g)
        return;
    for (int64_t i = 0; g->str_offsets && i < g->n_kv; i++)
        free(g->str_offsets[i]);
    free(g->str_offsets);
    free(g->kvs);
    free(g->tensors);
    file_map_close(&g->map);
    free(g);
}

/* ---- accessors ------------------------------------------------------------------------ */

const char *gguf_path(const struct gguf_file *g) { return g->map.path; }
uint32_t gguf_version(const struct gguf_file *g) { return g->version; }
uint64_t gguf_file_size(const struct gguf_file *g) { return g->map.size_bytes; }
uint32_t gguf_alignment(const struct gguf_file *g) { return g->alignment; }
uint64_t gguf_data_offset(const struct gguf_file *g) { return g->data_offset; }
int64_t gguf_n_kv(const struct gguf_file *g) { return g->n_kv; }
int64_t gguf_n_tensors(const struct gguf_file *g) { return g->n_tensors; }

const struct gguf_kv *gguf_kv_at(const struct gguf_file *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const struct gguf_tensor_info *gguf_tensor_at(const struct gguf_file *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

int64_t gguf_find_key(const struct gguf_file *g, const char *key)
{
    for (int64_t i = 0; i < g->n_kv; i++)
        if (gguf_str_eq(g->kvs[i].key, key))
            return i;
    return -1;
}

int64_t gguf_find_tensor(const struct gguf_file *g, const char *name)
{
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return -1;
}

static const struct gguf_kv *get_typed(const struct gguf_file *g, const char *key, int type, int *rc)
{
    int64_t i = gguf_find_key(g, key);
    if (i < 0) {
        *rc = ig_error_set(IG_EINVAL, "gguf: %s: key '%s' is missing", g->map.path, key);
        return NULL;
    }
    if (g->kvs[i].type != type) {
        *rc = ig_error_set(IG_EINVAL, "gguf: %s: key '%s' has type %s, expected %s", g->map.path, key,
                           gguf_value_type_name(g->kvs[i].type), gguf_value_type_name(type));
        return NULL;
    }
    *rc = 0;
    return &g->kvs[i];
}

int gguf_get_u32(const struct gguf_file *g, const char *key, uint32_t *out)
{
    int rc;
    const struct gguf_kv *kv = get_typed(g, key, GGUF_VALUE_UINT32, &rc);
    if (kv)
        *out = load_u32(kv->value);
    return rc;
}

int gguf_get_f32(const struct gguf_file *g, const char *key, float *out)
{
    int rc;
    const struct gguf_kv *kv = get_typed(g, key, GGUF_VALUE_FLOAT32, &rc);
    if (kv)
        memcpy(out, kv->value, sizeof *out);
    return rc;
}

int gguf_get_bool(const struct gguf_file *g, const char *key, bool *out)
{
    int rc;
    const struct gguf_kv *kv = get_typed(g, key, GGUF_VALUE_BOOL, &rc);
    if (kv)
        *out = kv->value[0] != 0;
    return rc;
}

int gguf_get_str(const struct gguf_file *g, const char *key, char *buf, size_t buf_size)
{
    int rc;
    const struct gguf_kv *kv = get_typed(g, key, GGUF_VALUE_STRING, &rc);
    if (!kv)
        return rc;
    uint64_t len = load_u64(kv->value);
    const char *s = (const char *)kv->value + 8;
    if (len >= buf_size || memchr(s, '\0', (size_t)len))
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': string of %llu bytes is longer than %zu or holds a NUL",
                            g->map.path, key, (unsigned long long)len, buf_size - 1);
    memcpy(buf, s, (size_t)len);
    buf[len] = '\0';
    return 0;
}

struct gguf_str gguf_kv_array_str(const struct gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = kv->value + kv->str_offsets[i];
    struct gguf_str s = {(const char *)p + 8, load_u64(p)};
    return s;
}

double gguf_scalar_as_f64(int type, const uint8_t *p)
{
    switch (type) {
    case GGUF_VALUE_UINT8: return p[0];
    case GGUF_VALUE_INT8: return (int8_t)p[0];
    case GGUF_VALUE_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_VALUE_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_VALUE_UINT32: return load_u32(p);
    case GGUF_VALUE_INT32: return (int32_t)load_u32(p);
    case GGUF_VALUE_FLOAT32: { float v; memcpy(&v, p, 4); return v; }
    case GGUF_VALUE_BOOL: return p[0] != 0;
    case GGUF_VALUE_UINT64: return (double)load_u64(p);
    case GGUF_VALUE_INT64: return (double)(int64_t)load_u64(p);
    case GGUF_VALUE_FLOAT64: { double v; memcpy(&v, p, 8); return v; }
    default: return 0;
    }
}

/* ---- the header checksum ----------------------------------------------------------------- */

uint64_t gguf_header_xxh3(const uint8_t *head, uint64_t n, uint64_t skip_begin, uint64_t skip_end)
{
    XXH3_state_t *st = XXH3_createState();
    uint64_t h = 0;
    if (!st)
        return 0;   /* out of memory: a mismatch, reported as such */
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, head, (size_t)skip_begin);
    XXH3_64bits_update(st, head + skip_end, (size_t)(n - skip_end));
    h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

int gguf_check_header_xxh3(const struct gguf_file *g, bool *present)
{
    int64_t k = gguf_find_key(g, GGUF_HEADER_XXH3_KEY);
    *present = k >= 0;
    if (k < 0) {
        /* ingot.format_version 2 promises the key: a flip in its name must not disable it */
        uint32_t version = 0;
        if (gguf_find_key(g, "ingot.format_version") >= 0 && gguf_get_u32(g, "ingot.format_version", &version) == 0 &&
            version >= 2)
            return ig_error_set(IG_EINVAL, "gguf: %s: key '%s' is missing, but ingot.format_version %u always writes it: the metadata changed after it was written",
                                g->map.path, GGUF_HEADER_XXH3_KEY, version);
        return 0;
    }
    const struct gguf_kv *kv = &g->kvs[k];   /* UINT64: checked by the parser */
    uint64_t begin = (uint64_t)((const uint8_t *)kv->key.data - 8 - g->map.data);
    uint64_t end = (uint64_t)(kv->value + 8 - g->map.data);
    uint64_t want, got = gguf_header_xxh3(g->map.data, g->data_offset, begin, end);
    memcpy(&want, kv->value, 8);
    if (got != want)
        return ig_error_set(IG_EINVAL, "gguf: %s: key '%s': the header (keys, values, tensor infos) hashes to %016llx, recorded %016llx: the metadata changed after it was written",
                            g->map.path, GGUF_HEADER_XXH3_KEY, (unsigned long long)got, (unsigned long long)want);
    return 0;
}
