/* gguf_write.c — streaming GGUF v3 writer (see gguf_write.h for the protocol).
 *
 * KVs and tensor infos are serialised into one memory buffer; data is streamed through a
 * buffered FILE. Placeholders (the checksum arrays) are patched with pwrite at finish.
 */
#include "gguf_write.h"

#include "../common/ig_error.h"
#include "ggml_type.h"
#include "gguf.h"
#include "out_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_PLACEHOLDERS 8

struct writer_tensor {
    char name[GGUF_MAX_NAME];
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    int type;
    uint64_t size_bytes;
    uint64_t offset;        /* relative to the data section */
    uint64_t xxh3;
};

struct placeholder {
    uint64_t buf_pos;       /* position of the first element in the header buffer */
    uint64_t n;
    uint64_t *values;
};

struct gguf_writer {
    struct out_file out;    /* OUT and its temporary */
    FILE *f;                /* over out.fd */
    int flags;
    uint8_t *kv_buf;        /* serialised KVs */
    size_t kv_len, kv_cap;
    int64_t n_kv;
    struct writer_tensor *tensors;
    int64_t n_tensors, cap_tensors;
    struct placeholder ph[MAX_PLACEHOLDERS];
    int n_ph;
    int checksum_ph;        /* handle of ingot.tensor_xxh3, or -1 */
    uint64_t header_bytes;  /* file offset of the data section */
    uint64_t kv_xxh3_pos;   /* ingot.header_xxh3: buffer, then file offset of its KV entry; 0 if none */
    int64_t cur;            /* tensor being written, -1 before begin_data */
    uint64_t cur_written;
    XXH3_state_t *xxh;
    bool data_started;
};

/* ---- serialisation ------------------------------------------------------------------- */

static int buf_put(struct gguf_writer *w, const void *p, size_t n)
{
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n)
            cap *= 2;
        uint8_t *b = ig_realloc(w->kv_buf, cap);
        if (!b)
            return IG_ENOMEM;
        w->kv_buf = b;
        w->kv_cap = cap;
    }
    memcpy(w->kv_buf + w->kv_len, p, n);
    w->kv_len += n;
    return 0;
}

static int put_u32(struct gguf_writer *w, uint32_t v) { return buf_put(w, &v, 4); }
static int put_u64(struct gguf_writer *w, uint64_t v) { return buf_put(w, &v, 8); }

static int put_str(struct gguf_writer *w, const char *s, uint64_t n)
{
    int rc = put_u64(w, n);
    return rc ? rc : buf_put(w, s, (size_t)n);
}

static int put_key(struct gguf_writer *w, const char *key, int type)
{
    if (w->data_started)
        return ig_error_set(IG_EINVAL, "gguf_writer: key '%s' added after the data began", key);
    w->n_kv++;
    int rc = put_str(w, key, strlen(key));
    return rc ? rc : put_u32(w, (uint32_t)type);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int gguf_writer_open(struct gguf_writer **out, const char *path, int flags)
{
    *out = NULL;
    struct gguf_writer *w = ig_calloc(1, sizeof *w);
    if (!w)
        return IG_ENOMEM;
    w->flags = flags;
    w->cur = -1;
    w->checksum_ph = -1;
    w->kv_xxh3_pos = 0;
    int rc = out_file_open(&w->out, path);
    if (rc) {
        free(w);
        return rc;
    }
    w->f = fdopen(w->out.fd, "wb");
    if (!w->f) {
        gguf_writer_abort(w);
        return ig_error_set(IG_EIO, "%s: cannot open stream", path);
    }
    w->out.fd = -1;   /* the stream owns the descriptor now */
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    *out = w;
    return 0;
}

void gguf_writer_abort(struct gguf_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    out_file_abort(&w->out);
    for (int i = 0; i < w->n_ph; i++)
        free(w->ph[i].values);
    if (w->xxh)
        XXH3_freeState(w->xxh);
    free(w->kv_buf);
    free(w->tensors);
    free(w);
}

const char *gguf_writer_tmp_path(const struct gguf_writer *w)
{
    return w->out.tmp_path;
}

/* ---- KVs ------------------------------------------------------------------------------- */

#define DEFINE_SCALAR(fn, ctype, vtype)                                                           \
    int fn(struct gguf_writer *w, const char *key, ctype v)                                       \
    {                                                                                             \
        int rc = put_key(w, key, vtype);                                                          \
        return rc ? rc : buf_put(w, &v, sizeof v);                                                \
    }

DEFINE_SCALAR(gguf_writer_add_u32, uint32_t, GGUF_VALUE_UINT32)
DEFINE_SCALAR(gguf_writer_add_i32, int32_t, GGUF_VALUE_INT32)
DEFINE_SCALAR(gguf_writer_add_u64, uint64_t, GGUF_VALUE_UINT64)
DEFINE_SCALAR(gguf_writer_add_f32, float, GGUF_VALUE_FLOAT32)

int gguf_writer_add_bool(struct gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    int rc = put_key(w, key, GGUF_VALUE_BOOL);
    return rc ? rc : buf_put(w, &b, 1);
}

int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *v)
{
    int rc = put_key(w, key, GGUF_VALUE_STRING);
    return rc ? rc : put_str(w, v, strlen(v));
}

static int put_array_head(struct gguf_writer *w, const char *key, int elem_type, uint64_t n)
{
    int rc = put_key(w, key, GGUF_VALUE_ARRAY);
    if (!rc)
        rc = put_u32(w, (uint32_t)elem_type);
    return rc ? rc : put_u64(w, n);
}

int gguf_writer_add_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    int rc = put_array_head(w, key, GGUF_VALUE_STRING, n);
    for (uint64_t i = 0; i < n && !rc; i++)
        rc = put_str(w, v[i], strlen(v[i]));
    return rc;
}

int gguf_writer_add_arr_f32(struct gguf_writer *w, const char *key, const float *v, uint64_t n)
{
    int rc = put_array_head(w, key, GGUF_VALUE_FLOAT32, n);
    return rc ? rc : buf_put(w, v, (size_t)n * sizeof *v);
}

int gguf_writer_add_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, uint64_t n)
{
    int rc = put_array_head(w, key, GGUF_VALUE_INT32, n);
    return rc ? rc : buf_put(w, v, (size_t)n * sizeof *v);
}

int gguf_writer_add_arr_u64(struct gguf_writer *w, const char *key, const uint64_t *v, uint64_t n)
{
    int rc = put_array_head(w, key, GGUF_VALUE_UINT64, n);
    return rc ? rc : buf_put(w, v, (size_t)n * sizeof *v);
}

int gguf_writer_add_raw(struct gguf_writer *w, const char *key, int type, int elem_type, uint64_t count,
                        const void *value_bytes, uint64_t n_bytes)
{
    int rc = type == GGUF_VALUE_ARRAY ? put_array_head(w, key, elem_type, count) : put_key(w, key, type);
    return rc ? rc : buf_put(w, value_bytes, (size_t)n_bytes);
}

int gguf_writer_add_u64_placeholder(struct gguf_writer *w, const char *key, uint64_t n)
{
    if (w->n_ph == MAX_PLACEHOLDERS)
        return ig_error_set(IG_EINVAL, "gguf_writer: more than %d placeholder arrays", MAX_PLACEHOLDERS);
    struct placeholder *p = &w->ph[w->n_ph];
    p->values = ig_calloc((size_t)(n ? n : 1), sizeof *p->values);
    if (!p->values)
        return IG_ENOMEM;
    int rc = put_array_head(w, key, GGUF_VALUE_UINT64, n);
    p->buf_pos = w->kv_len;
    p->n = n;
    for (uint64_t i = 0; i < n && !rc; i++)
        rc = put_u64(w, 0);
    if (rc) {
        free(p->values);
        p->values = NULL;
        return rc;
    }
    return w->n_ph++;
}

int gguf_writer_set_u64_placeholder(struct gguf_writer *w, int handle, uint64_t i, uint64_t v)
{
    if (handle < 0 || handle >= w->n_ph || i >= w->ph[handle].n)
        return ig_error_set(IG_EINVAL, "gguf_writer: placeholder %d has no element %llu", handle,
                            (unsigned long long)i);
    w->ph[handle].values[i] = v;
    return 0;
}

/* ---- tensors ---------------------------------------------------------------------------- */

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type)
{
    size_t len = strlen(name);
    if (len == 0 || len >= GGUF_MAX_NAME)
        return ig_error_set(IG_EINVAL, "gguf_writer: tensor name '%s' has %zu bytes, allowed 1..%d", name, len,
                            GGUF_MAX_NAME - 1);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return ig_error_set(IG_EINVAL, "gguf_writer: tensor '%s': n_dims %d", name, n_dims);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return ig_error_set(IG_EINVAL, "gguf_writer: tensor '%s' added twice", name);
    if (w->n_tensors == w->cap_tensors) {
        int64_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        struct writer_tensor *t = ig_realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return IG_ENOMEM;
        w->tensors = t;
        w->cap_tensors = cap;
    }
    struct writer_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->n_dims = n_dims;
    t->type = type;
    uint64_t rows = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = d < n_dims ? ne[d] : 1;
        if (d > 0 && !ig_mul_u64(rows, (uint64_t)t->ne[d], &rows))
            return ig_error_set(IG_EINVAL, "gguf_writer: tensor '%s': size overflows", name);
    }
    uint64_t row_bytes;
    if (!ggml_type_row_bytes(type, t->ne[0], &row_bytes) || !ig_mul_u64(row_bytes, rows, &t->size_bytes))
        return ig_error_set(IG_EINVAL, "gguf_writer: tensor '%s': %lld columns are not whole %s blocks", name,
                            (long long)t->ne[0], ggml_type_name(type));
    uint64_t off = 0;
    if (w->n_tensors > 0) {
        const struct writer_tensor *p = &w->tensors[w->n_tensors - 1];
        off = (p->offset + p->size_bytes + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
    }
    t->offset = off;
    w->n_tensors++;
    return 0;
}

uint64_t gguf_writer_tensor_size(const struct gguf_writer *w, int64_t i)
{
    return w->tensors[i].size_bytes;
}

uint64_t gguf_writer_tensor_xxh3(const struct gguf_writer *w, int64_t i)
{
    return w->tensors[i].xxh3;
}

static int write_file(struct gguf_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return ig_error_set(IG_EIO, "%s: write failed: %s", w->out.tmp_path, strerror(errno));
    return 0;
}

static int write_zeros(struct gguf_writer *w, size_t n)
{
    static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT];
    return write_file(w, zeros, n);
}

int gguf_writer_begin_data(struct gguf_writer *w)
{
    int rc = 0;
    if (w->flags & GGUF_WRITER_CHECKSUMS) {
        rc = gguf_writer_add_u64_placeholder(w, "ingot.tensor_xxh3", (uint64_t)w->n_tensors);
        if (rc < 0)
            return rc;
        w->checksum_ph = rc;
        /* the header checksum's entry comes last (see gguf_write.h) */
        w->kv_xxh3_pos = w->kv_len;
        rc = gguf_writer_add_u64(w, GGUF_HEADER_XXH3_KEY, 0);
        if (rc)
            return rc;
    }
    w->data_started = true;
    uint32_t version = GGUF_VERSION;
    uint64_t nt = (uint64_t)w->n_tensors, nkv = (uint64_t)w->n_kv;
    if ((rc = write_file(w, GGUF_MAGIC, 4)) || (rc = write_file(w, &version, 4)) ||
        (rc = write_file(w, &nt, 8)) || (rc = write_file(w, &nkv, 8)))
        return rc;
    uint64_t kv_start = 24;
    for (int i = 0; i < w->n_ph; i++)
        w->ph[i].buf_pos += kv_start;   /* from buffer position to file offset */
    if (w->kv_xxh3_pos)
        w->kv_xxh3_pos += kv_start;
    if ((rc = write_file(w, w->kv_buf, w->kv_len)))
        return rc;
    uint64_t pos = kv_start + w->kv_len;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const struct writer_tensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims;
        int32_t type = t->type;
        if ((rc = write_file(w, &len, 8)) || (rc = write_file(w, t->name, len)) || (rc = write_file(w, &nd, 4)) ||
            (rc = write_file(w, t->ne, 8 * (size_t)t->n_dims)) || (rc = write_file(w, &type, 4)) ||
            (rc = write_file(w, &t->offset, 8)))
            return rc;
        pos += 8 + len + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    w->header_bytes = (pos + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
    if ((rc = write_zeros(w, (size_t)(w->header_bytes - pos))))
        return rc;
    w->xxh = XXH3_createState();
    if (!w->xxh)
        return ig_error_set(IG_ENOMEM, "gguf_writer: out of memory for the xxh3 state");
    w->cur = 0;
    w->cur_written = 0;
    XXH3_64bits_reset(w->xxh);
    return 0;
}

int gguf_writer_write(struct gguf_writer *w, const void *data, size_t size_bytes)
{
    if (w->cur < 0 || w->cur >= w->n_tensors)
        return ig_error_set(IG_EINVAL, "gguf_writer: data written outside a tensor");
    struct writer_tensor *t = &w->tensors[w->cur];
    if (w->cur_written + size_bytes > t->size_bytes)
        return ig_error_set(IG_EINVAL, "gguf_writer: tensor '%s': %llu bytes written, more than its %llu",
                            t->name, (unsigned long long)(w->cur_written + size_bytes),
                            (unsigned long long)t->size_bytes);
    XXH3_64bits_update(w->xxh, data, size_bytes);
    w->cur_written += size_bytes;
    return write_file(w, data, size_bytes);
}

int gguf_writer_end_tensor(struct gguf_writer *w)
{
    if (w->cur < 0 || w->cur >= w->n_tensors)
        return ig_error_set(IG_EINVAL, "gguf_writer: end_tensor without a tensor");
    struct writer_tensor *t = &w->tensors[w->cur];
    if (w->cur_written != t->size_bytes)
        return ig_error_set(IG_EINVAL, "gguf_writer: tensor '%s': %llu bytes written, expected %llu", t->name,
                            (unsigned long long)w->cur_written, (unsigned long long)t->size_bytes);
    t->xxh3 = XXH3_64bits_digest(w->xxh);
    if (w->checksum_ph >= 0)
        w->ph[w->checksum_ph].values[w->cur] = t->xxh3;
    uint64_t padded = (t->size_bytes + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
    int rc = write_zeros(w, (size_t)(padded - t->size_bytes));
    w->cur++;
    w->cur_written = 0;
    XXH3_64bits_reset(w->xxh);
    return rc;
}

/* ---- finish ------------------------------------------------------------------------------ */

/* ingot.header_xxh3: xxh3-64 of the file's bytes [0, header_bytes) without the bytes of its own
 * KV entry, read back after the placeholders are patched, so it covers their final values. */
static int patch_header_xxh3(struct gguf_writer *w)
{
    if (!w->kv_xxh3_pos)
        return 0;
    int fd = fileno(w->f);
    uint8_t *head = ig_malloc((size_t)w->header_bytes);
    if (!head)
        return IG_ENOMEM;
    int rc = 0;
    if (pread(fd, head, (size_t)w->header_bytes, 0) != (ssize_t)w->header_bytes) {
        rc = ig_error_set(IG_EIO, "%s: cannot read back the header: %s", w->out.tmp_path, strerror(errno));
    } else {
        uint64_t entry = w->kv_xxh3_pos, entry_end = entry + GGUF_HEADER_XXH3_ENTRY_BYTES;
        uint64_t h = gguf_header_xxh3(head, w->header_bytes, entry, entry_end);
        if (pwrite(fd, &h, 8, (off_t)(entry_end - 8)) != 8)
            rc = ig_error_set(IG_EIO, "%s: cannot patch the header checksum: %s", w->out.tmp_path, strerror(errno));
    }
    free(head);
    return rc;
}

static int patch_placeholders(struct gguf_writer *w)
{
    int fd = fileno(w->f);
    for (int i = 0; i < w->n_ph; i++) {
        size_t n = (size_t)w->ph[i].n * sizeof(uint64_t);
        if (n && pwrite(fd, w->ph[i].values, n, (off_t)w->ph[i].buf_pos) != (ssize_t)n)
            return ig_error_set(IG_EIO, "%s: cannot patch checksums: %s", w->out.tmp_path, strerror(errno));
    }
    return 0;
}

int gguf_writer_finish(struct gguf_writer *w)
{
    int rc = 0;
    if (!w->data_started && (rc = gguf_writer_begin_data(w)))
        goto out_abort;
    if (w->cur != w->n_tensors) {
        rc = ig_error_set(IG_EINVAL, "gguf_writer: %s: %lld of %lld tensors written", w->out.path, (long long)w->cur,
                          (long long)w->n_tensors);
        goto out_abort;
    }
    if (fflush(w->f) != 0) {
        rc = ig_error_set(IG_EIO, "%s: write failed: %s", w->out.tmp_path, strerror(errno));
        goto out_abort;
    }
    if ((rc = patch_placeholders(w)) || (rc = patch_header_xxh3(w)))
        goto out_abort;
    /* hand the descriptor back to out_file, which syncs, closes and renames */
    w->out.fd = dup(fileno(w->f));
    int close_rc = fclose(w->f);
    w->f = NULL;
    if (w->out.fd < 0 || close_rc != 0) {
        rc = ig_error_set(IG_EIO, "%s: close failed: %s", w->out.tmp_path, strerror(errno));
        goto out_abort;
    }
    rc = out_file_commit(&w->out);
out_abort:
    gguf_writer_abort(w);
    return rc;
}
