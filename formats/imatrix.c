/* imatrix.c — read and write llama.cpp's importance matrices (layouts in imatrix.h). */
#include "imatrix.h"

#include "../common/ig_error.h"
#include "file_map.h"
#include "ggml_type.h"
#include "gguf.h"
#include "gguf_write.h"
#include "model_src.h"
#include "out_file.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMATRIX_MAX_NAME 512

/* ---- entries --------------------------------------------------------------------------------- */

static void entry_free(struct imatrix_entry *e)
{
    free(e->name);
    free(e->sum2);
    free(e->counts);
    free(e->importance);
}

void imatrix_free(struct imatrix *im)
{
    if (!im)
        return;
    for (int64_t i = 0; i < im->n_entries; i++)
        entry_free(&im->entries[i]);
    free(im->entries);
    for (int i = 0; i < im->n_warnings; i++)
        free(im->warnings[i]);
    free(im->warnings);
    memset(im, 0, sizeof *im);
}

int imatrix_add_stack(struct imatrix *im, const char *name, const float *sum2, int64_t n_in, int64_t n_mat,
                      const float *counts)
{
    struct imatrix_entry *v = ig_realloc(im->entries, (size_t)(im->n_entries + 1) * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    im->entries = v;
    struct imatrix_entry *e = &im->entries[im->n_entries];
    const int64_t n = n_in * n_mat;
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->sum2 = ig_malloc((size_t)n * sizeof(float));
    e->counts = ig_malloc((size_t)n_mat * sizeof(float));
    e->importance = ig_malloc((size_t)n * sizeof(float));
    if (!e->name || !e->sum2 || !e->counts || !e->importance) {
        entry_free(e);
        return IG_ENOMEM;
    }
    e->n = n;
    e->n_mat = n_mat;
    e->count = counts[0];
    memcpy(e->sum2, sum2, (size_t)n * sizeof(float));
    memcpy(e->counts, counts, (size_t)n_mat * sizeof(float));
    /* llama-quantize's load_imatrix: sums / count per matrix; a matrix that saw no rows
     * (an expert the router never chose) gets 1 everywhere, i.e. plain weighting */
    for (int64_t k = 0; k < n_mat; k++)
        for (int64_t j = 0; j < n_in; j++)
            e->importance[k * n_in + j] = counts[k] > 0 ? sum2[k * n_in + j] / counts[k] : n_mat > 1 ? 1.0f : 0.0f;
    im->n_entries++;
    return 0;
}

int imatrix_add(struct imatrix *im, const char *name, const float *sum2, int64_t n, float count)
{
    return imatrix_add_stack(im, name, sum2, n, 1, &count);
}

const float *imatrix_find(const struct imatrix *im, const char *name, int64_t n)
{
    for (int64_t i = 0; im && i < im->n_entries; i++)
        if (strcmp(im->entries[i].name, name) == 0)
            return im->entries[i].n == n ? im->entries[i].importance : NULL;
    return NULL;
}

/* ---- validation ------------------------------------------------------------------------------ */

static int warn(struct imatrix *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int warn(struct imatrix *im, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **v = ig_realloc(im->warnings, (size_t)(im->n_warnings + 1) * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    im->warnings = v;
    if (!(v[im->n_warnings] = strdup(msg)))
        return IG_ENOMEM;
    im->n_warnings++;
    return 0;
}

/* Values of entry name as stored (sum2, or mean·ncall in .dat) and its count: every value
 * finite and >= 0, the count finite and > 0, as llama-quantize demands. In a stack of experts
 * (stack) a count may be 0: that expert's values are then not divided by it. */
static int check_entry(const char *path, const char *name, const float *v, int64_t n, float count, bool stack)
{
    if (!isfinite(count) || !(count > 0 || (stack && count == 0)))
        return ig_error_set(IG_EINVAL, "imatrix: %s: entry '%s': count %g, expected a finite number %s", path, name,
                            (double)count, stack ? ">= 0" : "> 0");
    for (int64_t j = 0; j < n; j++) {
        float x;
        memcpy(&x, v + j, sizeof x);   /* v may point into a mapping at any 4-byte offset */
        if (!isfinite(x) || x < 0)
            return ig_error_set(IG_EINVAL, "imatrix: %s: entry '%s': value %lld is %g, expected a finite number >= 0",
                                path, name, (long long)j, (double)x);
        /* the importance is value / count: a tiny count can overflow it (fuzz_imatrix found 1e-40) */
        if (count > 0 && !isfinite(x / count))
            return ig_error_set(IG_EINVAL,
                                "imatrix: %s: entry '%s': value %lld / count = %g / %g is not finite, expected a "
                                "finite mean", path, name, (long long)j, (double)x, (double)count);
    }
    return 0;
}

/* A stack whose experts did not all see rows: llama-imatrix keeps such an entry in its GGUF
 * ("partial data") and llama-quantize weights those experts' columns by 1. Say which. */
static int warn_idle_experts(struct imatrix *im, const char *path, const struct imatrix_entry *e)
{
    char list[256] = "";
    int64_t idle = 0;
    for (int64_t k = 0; k < e->n_mat; k++)
        if (e->counts[k] == 0) {
            size_t len = strlen(list);
            if (len < sizeof list - 16)
                snprintf(list + len, sizeof list - len, "%s%lld", idle ? ", " : "", (long long)k);
            idle++;
        }
    if (!idle)
        return 0;
    return warn(im, "imatrix: %s: entry '%s': %lld of %lld experts (%s) saw no rows; their importance is 1 for "
                "every column, as llama-quantize uses it", path, e->name, (long long)idle, (long long)e->n_mat, list);
}

/* After reading: duplicated and all-zero entries are legal but suspicious. */
static int warn_suspicious(struct imatrix *im, const char *path)
{
    int rc = 0;
    for (int64_t i = 0; i < im->n_entries && !rc; i++) {
        const struct imatrix_entry *e = &im->entries[i];
        for (int64_t k = 0; k < i && !rc; k++)
            if (strcmp(im->entries[k].name, e->name) == 0) {
                rc = warn(im, "imatrix: %s: entry '%s' appears twice (entries %lld and %lld); the first is used", path,
                          e->name, (long long)k, (long long)i);
                break;
            }
        bool all_zero = true;
        for (int64_t j = 0; j < e->n && all_zero; j++)
            all_zero = e->sum2[j] == 0;
        if (!rc && all_zero)
            rc = warn(im, "imatrix: %s: entry '%s': all %lld values are 0 (the calibration never reached it?)", path,
                      e->name, (long long)e->n);
        rc = rc ? rc : warn_idle_experts(im, path, e);
    }
    return rc;
}

int imatrix_check_model(struct imatrix *im, const struct model_src *src)
{
    int rc = 0;
    for (int64_t i = 0; i < im->n_entries && !rc; i++) {
        const struct imatrix_entry *e = &im->entries[i];
        const struct src_tensor *t = model_src_find(src, e->name);
        const int64_t n_exp = t && t->n_dims >= 3 ? t->ne[2] : 1;
        if (!t)
            rc = warn(im, "imatrix: %s: entry '%s': the model has no such tensor; ignored", im->path, e->name);
        else if (n_exp > 1 && (e->n != t->ne[0] * n_exp || (e->n_mat > 1 && e->n_mat != n_exp)))
            /* llama-quantize throws here rather than quantize a stack of experts without it */
            rc = ig_error_set(IG_EINVAL,
                              "imatrix: %s: entry '%s': %lld values in %lld matri%s, but the tensor is a stack of "
                              "%lld experts with rows of %lld columns: expected %lld values (columns x experts)",
                              im->path, e->name, (long long)e->n, (long long)e->n_mat, e->n_mat == 1 ? "x" : "ces",
                              (long long)n_exp, (long long)t->ne[0], (long long)(t->ne[0] * n_exp));
        else if (n_exp == 1 && t->ne[0] != e->n)
            rc = warn(im, "imatrix: %s: entry '%s': %lld values, but the tensor's rows have %lld columns; ignored",
                      im->path, e->name, (long long)e->n, (long long)t->ne[0]);
    }
    return rc;
}

/* ---- GGUF ------------------------------------------------------------------------------------ */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcmp(s + a - b, suffix) == 0;
}

static int read_gguf(struct imatrix *im, const char *path)
{
    struct gguf_file *g;
    int rc = gguf_open(&g, path);
    if (rc)
        return rc;
    uint32_t u;
    if (gguf_find_key(g, "imatrix.chunk_count") >= 0 && !gguf_get_u32(g, "imatrix.chunk_count", &u))
        im->chunk_count = u;
    if (gguf_find_key(g, "imatrix.chunk_size") >= 0 && !gguf_get_u32(g, "imatrix.chunk_size", &u))
        im->chunk_size = u;
    const struct gguf_kv *ds = gguf_kv_at(g, gguf_find_key(g, "imatrix.datasets"));
    if (ds && ds->type == GGUF_VALUE_ARRAY && ds->elem_type == GGUF_VALUE_STRING && ds->count > 0) {
        struct gguf_str s = gguf_kv_array_str(ds, 0);
        snprintf(im->dataset, sizeof im->dataset, "%.*s", (int)(s.len < 1000 ? s.len : 1000), s.data);
    }
    for (int64_t i = 0; i < gguf_n_tensors(g) && !rc; i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        if (!has_suffix(t->name, ".in_sum2"))
            continue;
        char name[GGUF_MAX_NAME], counts_name[GGUF_MAX_NAME + 8];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(t->name) - strlen(".in_sum2")), t->name);
        snprintf(counts_name, sizeof counts_name, "%s.counts", name);
        const struct gguf_tensor_info *c = gguf_tensor_at(g, gguf_find_tensor(g, counts_name));
        /* in_sum2 [n_in, n_mat], counts [1, n_mat]: n_mat is n_expert for a stack of experts */
        if (!c || t->type != GGML_TYPE_F32 || c->type != GGML_TYPE_F32 || c->ne[0] != 1 || t->ne[1] < 1 ||
            c->ne[1] != t->ne[1] || t->ne[2] != 1 || c->ne[2] != 1 || t->ne[3] != 1 || c->ne[3] != 1) {
            rc = ig_error_set(IG_EINVAL, "imatrix: %s: entry '%s': expected F32 '%s.in_sum2' [n, n_mat] and F32 '%s' "
                              "[1, n_mat] (n_mat: 1, or the experts of a stack)", path, name, name, counts_name);
            break;
        }
        const int64_t n_in = t->ne[0], n_mat = t->ne[1];
        if (n_in < 1) {
            rc = ig_error_set(IG_EINVAL, "imatrix: %s: entry '%s': '%s.in_sum2' has 0 values, expected at least one",
                              path, name, name);
            break;
        }
        float *sum2 = ig_malloc((size_t)(n_in * n_mat) * sizeof *sum2);
        float *counts = ig_malloc((size_t)n_mat * sizeof *counts);
        if (!sum2 || !counts)
            rc = IG_ENOMEM;
        if (!rc) {
            memcpy(sum2, t->data, (size_t)(n_in * n_mat) * sizeof *sum2);
            memcpy(counts, c->data, (size_t)n_mat * sizeof *counts);
        }
        for (int64_t k = 0; k < n_mat && !rc; k++) {
            char what[GGUF_MAX_NAME + 32];
            if (n_mat > 1)
                snprintf(what, sizeof what, "%s' expert '%lld", name, (long long)k);
            rc = check_entry(path, n_mat > 1 ? what : name, sum2 + k * n_in, n_in, counts[k], n_mat > 1);
        }
        if (!rc)
            rc = imatrix_add_stack(im, name, sum2, n_in, n_mat, counts);
        free(sum2);
        free(counts);
    }
    gguf_close(g);
    return rc;
}

int imatrix_write_gguf(const struct imatrix *im, const char *path)
{
    struct gguf_writer *w;
    int rc = gguf_writer_open(&w, path, GGUF_WRITER_PLAIN);
    if (rc)
        return rc;
    const char *ds = im->dataset;
    rc = gguf_writer_add_str(w, "general.type", "imatrix");
    if (!rc)
        rc = gguf_writer_add_arr_str(w, "imatrix.datasets", &ds, im->dataset[0] ? 1 : 0);
    if (!rc)
        rc = gguf_writer_add_u32(w, "imatrix.chunk_count", (uint32_t)im->chunk_count);
    if (!rc)
        rc = gguf_writer_add_u32(w, "imatrix.chunk_size", (uint32_t)im->chunk_size);
    for (int64_t i = 0; i < im->n_entries && !rc; i++) {
        char a[GGUF_MAX_NAME + 16], b[GGUF_MAX_NAME + 16];
        const int64_t n_mat = im->entries[i].n_mat;
        int64_t ne_sum[2] = {im->entries[i].n / n_mat, n_mat}, ne_cnt[2] = {1, n_mat};
        snprintf(a, sizeof a, "%s.in_sum2", im->entries[i].name);
        snprintf(b, sizeof b, "%s.counts", im->entries[i].name);
        rc = gguf_writer_add_tensor(w, a, 2, ne_sum, GGML_TYPE_F32);
        if (!rc)
            rc = gguf_writer_add_tensor(w, b, 2, ne_cnt, GGML_TYPE_F32);
    }
    if (!rc)
        rc = gguf_writer_begin_data(w);
    for (int64_t i = 0; i < im->n_entries && !rc; i++) {
        rc = gguf_writer_write(w, im->entries[i].sum2, (size_t)im->entries[i].n * sizeof(float));
        if (!rc)
            rc = gguf_writer_end_tensor(w);
        if (!rc)
            rc = gguf_writer_write(w, im->entries[i].counts, (size_t)im->entries[i].n_mat * sizeof(float));
        if (!rc)
            rc = gguf_writer_end_tensor(w);
    }
    if (rc) {
        gguf_writer_abort(w);
        return rc;
    }
    return gguf_writer_finish(w);
}

/* ---- legacy .dat ------------------------------------------------------------------------------ */

struct cursor {
    const uint8_t *p;
    size_t left;
    const char *path;
};

static int take(struct cursor *c, void *dst, size_t n, const char *what)
{
    if (n > c->left)
        return ig_error_set(IG_EINVAL, "imatrix: %s: %s needs %zu bytes, %zu left", c->path, what, n, c->left);
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int read_dat_entry(struct imatrix *im, struct cursor *c, int32_t k)
{
    int32_t len = 0, ncall = 0, nval = 0;
    char name[IMATRIX_MAX_NAME];
    int rc = take(c, &len, 4, "name length");
    if (!rc && (len <= 0 || len >= IMATRIX_MAX_NAME))
        rc = ig_error_set(IG_EINVAL, "imatrix: %s: entry %d: name length %d, expected 1..%d", c->path, k, len,
                          IMATRIX_MAX_NAME - 1);
    if (!rc)
        rc = take(c, name, (size_t)len, "name");
    if (rc)
        return rc;
    name[len] = '\0';
    if (strlen(name) != (size_t)len)
        return ig_error_set(IG_EINVAL, "imatrix: %s: entry %d: the name holds a NUL byte at offset %zu of %d",
                            c->path, k, strlen(name), len);
    if ((rc = take(c, &ncall, 4, "ncall")) || (rc = take(c, &nval, 4, "nval")))
        return rc;
    if (nval <= 0 || (size_t)nval > c->left / 4)
        return ig_error_set(IG_EINVAL, "imatrix: %s: entry '%s': nval %d does not fit the file", c->path, name, nval);
    float *v = ig_malloc((size_t)nval * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    take(c, v, (size_t)nval * 4, "values");
    rc = check_entry(c->path, name, v, nval, (float)ncall, false);
    /* the file holds mean · ncall: sum2 / count with count = ncall reproduces the mean */
    if (!rc)
        rc = imatrix_add(im, name, v, nval, (float)ncall);
    free(v);
    return rc;
}

static int read_dat(struct imatrix *im, const struct file_map *m)
{
    struct cursor c = {m->data, m->size_bytes, m->path};
    int32_t n = 0;
    int rc = take(&c, &n, 4, "n_entries");
    if (!rc && (n < 0 || (size_t)n > c.left / 16))
        rc = ig_error_set(IG_EINVAL, "imatrix: %s: n_entries %d does not fit the file", m->path, n);
    for (int32_t k = 0; k < n && !rc; k++)
        rc = read_dat_entry(im, &c, k);
    int32_t chunks = 0, ds_len = 0;
    if (!rc && c.left >= 8 && !take(&c, &chunks, 4, "chunks") && !take(&c, &ds_len, 4, "dataset length") &&
        ds_len > 0 && (size_t)ds_len <= c.left && (size_t)ds_len < sizeof im->dataset) {
        im->chunk_count = chunks;
        memcpy(im->dataset, c.p, (size_t)ds_len);
        im->dataset[ds_len] = '\0';
    }
    return rc;
}

/* The rows of an entry's busiest matrix (0: none of its matrices saw a row). */
static float max_count(const struct imatrix_entry *e)
{
    float max = 0.0f;
    for (int64_t k = 0; k < e->n_mat; k++)
        max = e->counts[k] > max ? e->counts[k] : max;
    return max;
}

/* The ncall a .dat entry records: chunks seen by its busiest matrix (count / chunk_size,
 * rounded up, as llama-imatrix's legacy writer), kept in 1..INT32_MAX and small enough that
 * every importance · ncall stays a finite float (the file stores mean · ncall; a count of 1e10
 * once overflowed the int32 conversion). */
static int32_t dat_ncall(const struct imatrix *im, const struct imatrix_entry *e)
{
    double ncall = im->chunk_size > 0 ? ceil((double)max_count(e) / (double)im->chunk_size) : 1.0;
    float max = 0.0f;
    for (int64_t j = 0; j < e->n; j++)
        max = e->importance[j] > max ? e->importance[j] : max;
    if (max > 0.0f && ncall * (double)max > (double)FLT_MAX)
        ncall = floor((double)FLT_MAX / (double)max);
    if (!(ncall >= 1.0))
        ncall = 1.0;
    return ncall > (double)INT32_MAX ? INT32_MAX : (int32_t)ncall;
}

/* The .dat body (layout in imatrix.h); write errors are collected by the stream. An entry
 * none of whose matrices saw a row is left out, as llama-imatrix's legacy writer leaves it;
 * each value is (sum2 / its matrix's count) · ncall, 1 · ncall for a matrix that saw none. */
static void write_dat_body(const struct imatrix *im, FILE *f)
{
    int32_t n = 0;
    for (int64_t i = 0; i < im->n_entries; i++)
        n += max_count(&im->entries[i]) > 0;
    fwrite(&n, 4, 1, f);
    for (int64_t i = 0; i < im->n_entries; i++) {
        const struct imatrix_entry *e = &im->entries[i];
        if (!(max_count(e) > 0))
            continue;
        int32_t len = (int32_t)strlen(e->name), nval = (int32_t)e->n;
        int32_t ncall = dat_ncall(im, e);
        fwrite(&len, 4, 1, f);
        fwrite(e->name, 1, (size_t)len, f);
        fwrite(&ncall, 4, 1, f);
        fwrite(&nval, 4, 1, f);
        for (int64_t j = 0; j < e->n; j++) {
            float v = e->importance[j] * (float)ncall;
            fwrite(&v, 4, 1, f);
        }
    }
    int32_t chunks = (int32_t)im->chunk_count, ds_len = (int32_t)strlen(im->dataset);
    fwrite(&chunks, 4, 1, f);
    fwrite(&ds_len, 4, 1, f);
    fwrite(im->dataset, 1, (size_t)ds_len, f);
}

/* Atomic like every output (out_file.h): a temporary, fsync, rename, fsync of the folder. */
int imatrix_write_dat(const struct imatrix *im, const char *path)
{
    struct out_file out;
    int rc = out_file_open(&out, path);
    if (rc)
        return rc;
    FILE *f = fdopen(dup(out.fd), "wb");
    if (!f) {
        rc = ig_error_set(IG_EIO, "imatrix: %s: cannot open a stream: %s", out.tmp_path, strerror(errno));
        out_file_abort(&out);
        return rc;
    }
    write_dat_body(im, f);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        rc = ig_error_set(IG_EIO, "imatrix: %s: write failed: %s", out.tmp_path, strerror(errno));
        out_file_abort(&out);
        return rc;
    }
    return out_file_commit(&out);
}

/* ---- reading either ----------------------------------------------------------------------------- */

int imatrix_read(struct imatrix *im, const char *path)
{
    memset(im, 0, sizeof *im);
    struct file_map m;
    int rc = file_map_open(&m, path);
    if (rc)
        return rc;
    bool is_gguf = m.size_bytes >= 4 && memcmp(m.data, GGUF_MAGIC, 4) == 0;
    snprintf(im->path, sizeof im->path, "%s", path);
    rc = is_gguf ? read_gguf(im, path) : read_dat(im, &m);
    file_map_close(&m);
    if (!rc)
        rc = warn_suspicious(im, path);
    if (rc)
        imatrix_free(im);
    return rc;
}
