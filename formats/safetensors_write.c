/* safetensors_write.c — one .safetensors file, header first, then data streamed in order.
 *
 * Every tensor is declared before any data, because the header holds the offsets; the data
 * then streams tensor by tensor, each checked to be exactly as long as its shape says, so
 * a file that closes successfully is one safetensors.h reads back. Used by the HF exports
 * (convert/export_hf.c).
 */
#include "safetensors_write.h"

#include "../common/ig_error.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ST_WRITE_MAX_DIMS 8

struct st_decl {
    char *name;
    const char *dtype;   /* static */
    int n_dims;
    int64_t shape[ST_WRITE_MAX_DIMS];
    uint64_t size_bytes;
};

struct st_writer {
    char *path;
    int fd;
    struct st_decl *decls;
    int64_t n_decls, cap_decls;
    bool data_started;
    int64_t cur;          /* the tensor being written */
    uint64_t cur_bytes;   /* bytes of it written so far */
};

/* ---- helpers ---------------------------------------------------------------------------- */

static int dtype_size(const char *dtype, const char **canonical)
{
    static const struct {
        const char *name;
        int size;
    } dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I32", 4}, {"U8", 1}, {"I8", 1}};
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtype, dtypes[i].name) == 0) {
            *canonical = dtypes[i].name;
            return dtypes[i].size;
        }
    return 0;
}

static int write_all(struct st_writer *w, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(w->fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return ig_error_set(IG_EIO, "%s: write failed: %s", w->path, k < 0 ? strerror(errno) : "no progress");
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static void writer_free(struct st_writer *w)
{
    for (int64_t i = 0; i < w->n_decls; i++)
        free(w->decls[i].name);
    free(w->decls);
    free(w->path);
    free(w);
}

/* ---- public ------------------------------------------------------------------------------ */

int st_writer_open(struct st_writer **out, const char *path)
{
    *out = NULL;
    struct st_writer *w = ig_calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return IG_ENOMEM;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = ig_error_set(IG_EIO, "%s: cannot create: %s", path, strerror(errno));
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int st_writer_declare(struct st_writer *w, const char *name, const char *dtype, int n_dims, const int64_t *shape)
{
    const char *canonical = NULL;
    const int esize = dtype_size(dtype, &canonical);
    if (w->data_started || !esize || n_dims < 1 || n_dims > ST_WRITE_MAX_DIMS)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %s", w->path, name,
                            w->data_started ? "declared after the data began" : !esize ? "unknown dtype" : "1 to 8 dimensions expected");
    uint64_t size = (uint64_t)esize;
    for (int d = 0; d < n_dims; d++)
        if (shape[d] < 0 || !ig_mul_u64(size, (uint64_t)shape[d], &size))
            return ig_error_set(IG_EINVAL, "%s: tensor '%s': dimension %d is %lld, or the size overflows", w->path, name,
                                d, (long long)shape[d]);
    for (int64_t i = 0; i < w->n_decls; i++)
        if (strcmp(w->decls[i].name, name) == 0)
            return ig_error_set(IG_EINVAL, "%s: tensor '%s' declared twice", w->path, name);
    if (w->n_decls == w->cap_decls) {
        int64_t cap = w->cap_decls ? 2 * w->cap_decls : 64;
        struct st_decl *d = ig_realloc(w->decls, (size_t)cap * sizeof *d);
        if (!d)
            return IG_ENOMEM;
        w->decls = d;
        w->cap_decls = cap;
    }
    struct st_decl *d = &w->decls[w->n_decls];
    memset(d, 0, sizeof *d);
    if (!(d->name = strdup(name)))
        return IG_ENOMEM;
    d->dtype = canonical;
    d->n_dims = n_dims;
    memcpy(d->shape, shape, (size_t)n_dims * sizeof *shape);
    d->size_bytes = size;
    w->n_decls++;
    return 0;
}

int st_writer_begin_data(struct st_writer *w)
{
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_decls; i++) {
        const struct st_decl *d = &w->decls[i];
        json_t *shape = json_array();
        for (int k = 0; k < d->n_dims; k++)
            json_array_append_new(shape, json_integer((json_int_t)d->shape[k]));
        json_object_set_new(h, d->name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", d->dtype, "shape", shape,
                                                  "data_offsets", (json_int_t)off, (json_int_t)(off + d->size_bytes)));
        off += d->size_bytes;
    }
    char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!text)
        return IG_ENOMEM;
    /* pad with spaces to a multiple of 8 so the data starts aligned */
    const size_t n = strlen(text);
    const uint64_t padded = (n + 7) / 8 * 8;
    uint8_t len[8];
    for (int k = 0; k < 8; k++)
        len[k] = (uint8_t)(padded >> (8 * k));
    int rc = write_all(w, len, 8);
    if (!rc)
        rc = write_all(w, text, n);
    for (uint64_t k = n; k < padded && !rc; k++)
        rc = write_all(w, " ", 1);
    free(text);
    w->data_started = true;
    w->cur = 0;
    w->cur_bytes = 0;
    return rc;
}

int st_writer_write(struct st_writer *w, const void *p, size_t n_bytes)
{
    if (!w->data_started || w->cur >= w->n_decls || w->decls[w->cur].size_bytes - w->cur_bytes < n_bytes)
        return ig_error_set(IG_EINVAL, "%s: %zu bytes written past the declared tensors' sizes", w->path, n_bytes);
    w->cur_bytes += n_bytes;
    return write_all(w, p, n_bytes);
}

int st_writer_end_tensor(struct st_writer *w)
{
    if (!w->data_started || w->cur >= w->n_decls)
        return ig_error_set(IG_EINVAL, "%s: a tensor ended that was never declared", w->path);
    const struct st_decl *d = &w->decls[w->cur];
    if (w->cur_bytes != d->size_bytes)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %llu bytes written, expected %llu", w->path, d->name,
                            (unsigned long long)w->cur_bytes, (unsigned long long)d->size_bytes);
    w->cur++;
    w->cur_bytes = 0;
    return 0;
}

int st_writer_close(struct st_writer *w)
{
    int rc = 0;
    if (!w->data_started || w->cur != w->n_decls)
        rc = ig_error_set(IG_EINVAL, "%s: %lld of %lld tensors written", w->path, (long long)w->cur,
                          (long long)w->n_decls);
    if (!rc && fsync(w->fd) != 0)
        rc = ig_error_set(IG_EIO, "%s: fsync failed: %s", w->path, strerror(errno));
    if (close(w->fd) != 0 && !rc)
        rc = ig_error_set(IG_EIO, "%s: close failed: %s", w->path, strerror(errno));
    w->fd = -1;
    if (rc)
        unlink(w->path);
    writer_free(w);
    return rc;
}

void st_writer_abort(struct st_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->path);
    writer_free(w);
}
