/* inspect_tensor.c — `ingot inspect FILE|FOLDER --tensor NAME [--dump-f32 OUT]` (inspect_tensor.h).
 *
 * Three steps: find the tensor (a GGUF parsed directly; safetensors files opened one by one,
 * so a partial folder works; a GGUF name on a full HF folder or a llama2.c file through
 * model_src), scan its values a chunk of rows at a time (dequantized through the type table,
 * statistics in double, in element order, so the figures do not depend on the thread count)
 * while writing the dump to a temporary file, then print and commit. Nothing here knows a
 * quantized type by name: a type the table can dequantize is shown, any other is refused.
 */
#include "inspect_tensor.h"

#include "cli.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf.h"
#include "../formats/model_src.h"
#include "../formats/out_file.h"
#include "../formats/safetensors.h"
#include "../model/tensor_f32.h"
#include "../quantizers/quant_type.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- constants and types --------------------------------------------------------------------- */

#define CHUNK_ELEMS ((int64_t)1 << 20)  /* values dequantized per step (4 MiB of f32) */
#define N_CLOSE 5                        /* close names offered for an unknown name */
#define SHOWN_MAX 300                    /* a name from a file, escaped, in a message */
#define ST_INDEX_FILE "model.safetensors.index.json"

enum view_kind {
    VIEW_GGUF = 1,         /* a tensor of a GGUF file, as stored */
    VIEW_SAFETENSORS = 2,  /* a tensor of a safetensors file, as stored */
    VIEW_SOURCE = 3,       /* a model_src tensor: the GGUF name and layout convert writes */
};

/* The tensor found, described in the container's own terms. */
struct tensor_view {
    enum view_kind kind;
    const char *name;          /* borrowed: as the container spells it */
    const char *file;          /* borrowed: the file holding its bytes */
    int type;                  /* ggml type id (SRC_TYPE_CALLBACK for a third-party linear) */
    const char *type_name;     /* borrowed: "Q4_K", "F16", ... */
    const char *dtype;         /* safetensors only: the dtype as stored ("U8"), else NULL */
    int n_dims;
    int64_t dims[ST_MAX_DIMS]; /* GGUF and sources: ne[0] first; safetensors: PyTorch order */
    int64_t n_cols, n_rows;    /* the values as n_rows rows of n_cols, row-major */
    uint64_t size_bytes;
    uint64_t offset;           /* GGUF only: from the start of the data section */
    const char *src_name;      /* VIEW_SOURCE: the tensor's name in the source, or NULL */
    bool permuted;             /* VIEW_SOURCE: Q/K rows permuted as llama.cpp's converter does */
    bool plain_ints;           /* integer (or F64) elements converted one by one, not dequantized */
    int64_t block_elems;       /* the quantization block along a row; 1 for element types */
    struct src_tensor st;      /* what tensor_read_rows_f32 reads (not for plain_ints) */
    const uint8_t *data;       /* borrowed: the stored bytes (plain_ints) */
};

/* What is open while the command runs; closed by ctx_close. */
struct inspect_ctx {
    struct gguf_file *gguf;
    struct st_model **st;      /* [n_st], one per safetensors file */
    char **st_paths;           /* [n_st] owned */
    int n_st;
    char *index_path;          /* owned: the folder's model.safetensors.index.json, or NULL */
    struct model_src *src;
    const char **sources;      /* [n_sources] borrowed paths: every input file, for out_check_path */
    int n_sources;
};

/* Summary of the values, accumulated chunk by chunk in element order. */
struct tensor_stats {
    int64_t count;             /* elements */
    int64_t n_finite, n_nan, n_pos_inf, n_neg_inf, n_zero;
    int64_t n_inexact;         /* plain_ints: stored integers f32 cannot hold exactly */
    double min, max;           /* over finite values */
    double mean, m2;           /* mean and sum of squared deviations over finite values */
    int64_t block_elems;       /* elements of a "block" for the zero-block count */
    int64_t n_blocks, n_zero_blocks;
};

/* ---- names in messages ------------------------------------------------------------------------- */

/* s escaped for a message (cli_fputs_escaped: control bytes and invalid UTF-8 as \xNN),
 * cut to fit out[size]. Returns out. */
static const char *shown(const char *s, char *out, size_t size)
{
    FILE *m = fmemopen(out, size, "w");
    if (!m)
        return "?";
    cli_fputs_escaped(m, s, strlen(s), false);
    long n = ftell(m);
    fclose(m);
    out[n < (long)size ? n : (long)size - 1] = '\0';
    return out;
}

/* Edit distance between a and b (both < 256 bytes taken), for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    int prev[257], cur[257];
    size_t na = strnlen(a, 256), nb = strnlen(b, 256);
    for (size_t j = 0; j <= nb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (nb + 1) * sizeof *cur);
    }
    return prev[nb];
}

/* The N_CLOSE names nearest to want by edit distance (ties: the earlier name), kept in
 * best[] with their distances. Call once per candidate, in container order. */
struct close_names {
    const char *name[N_CLOSE];
    int dist[N_CLOSE];
    int n;
    int64_t n_seen;    /* candidates seen */
    int64_t n_shown;   /* the tensor count the message gives; 0: n_seen */
};

static void close_names_add(struct close_names *c, const char *want, const char *name)
{
    int d = edit_distance(want, name);
    c->n_seen++;
    if (c->n == N_CLOSE && d >= c->dist[N_CLOSE - 1])
        return;
    int k = c->n < N_CLOSE ? c->n++ : N_CLOSE - 1;   /* when full, the last one drops out */
    while (k > 0 && c->dist[k - 1] > d) {
        c->name[k] = c->name[k - 1];
        c->dist[k] = c->dist[k - 1];
        k--;
    }
    c->name[k] = name;
    c->dist[k] = d;
}

/* "'a', 'b', 'c'" into out[size]. */
static const char *close_names_text(const struct close_names *c, char *out, size_t size)
{
    char one[SHOWN_MAX];
    out[0] = '\0';
    for (int i = 0; i < c->n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s'%s'", i ? ", " : "", shown(c->name[i], one, sizeof one));
    return out;
}

/* IG_EINVAL: "FILE: no tensor named 'NAME' (of N; closest: ...)" plus a hint. */
static int not_found(const char *file, const char *name, const struct close_names *c, const char *hint)
{
    char want[SHOWN_MAX], list[1024];
    return ig_error_set(IG_EINVAL, "%s: no tensor named '%s' (%lld tensors%s%s)%s", file, shown(name, want, sizeof want),
                        (long long)(c->n_shown ? c->n_shown : c->n_seen), c->n ? "; closest: " : "", c->n ? close_names_text(c, list, sizeof list) : "",
                        hint ? hint : "");
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- how a type's values are read ---------------------------------------------------------------- */

/* Element types with no quantization (flags 0, one element per "block") that the type table
 * leaves out: integers, and F64. Their values are converted one by one. */
static bool is_plain_element_type(int type)
{
    const struct ggml_type_info *ti = ggml_type_info_get(type);
    return ti && ti->flags == 0 && ti->block_elems == 1 && !quant_type_get(type);
}

/* Element i of a plain element type as a double; dtype "U8" reads GGML_TYPE_I8 bytes as
 * unsigned (safetensors.h). Little-endian, as both containers store it. */
static double plain_element(int type, const char *dtype, const uint8_t *p, int64_t i)
{
    int16_t i16;
    int32_t i32;
    int64_t i64;
    double f64;
    if (type == GGML_TYPE_I8)
        return dtype && strcmp(dtype, "U8") == 0 ? (double)p[i] : (double)(int8_t)p[i];
    if (type == GGML_TYPE_I16)
        return memcpy(&i16, p + 2 * i, 2), (double)i16;
    if (type == GGML_TYPE_I32)
        return memcpy(&i32, p + 4 * i, 4), (double)i32;
    if (type == GGML_TYPE_I64)
        return memcpy(&i64, p + 8 * i, 8), (double)i64;
    return memcpy(&f64, p + 8 * i, 8), f64;   /* F64, the one other plain element type */
}

/* Decide how v's values are read: the type table's dequantizer, or a plain conversion.
 * IG_EINVAL naming the tensor and type id when this build has neither. */
static int view_prepare(struct tensor_view *v)
{
    char name[SHOWN_MAX];
    const struct ggml_type_info *ti = ggml_type_info_get(v->type);
    const struct quant_type *qt = quant_type_get(v->type);
    v->block_elems = ti && (ti->flags & GGML_TYPE_FLAG_QUANTIZED) ? ti->block_elems : 1;
    if (v->kind == VIEW_SOURCE && v->st.read_rows_f32)
        return 0;   /* a third-party linear: its reader produces the rows */
    if (is_plain_element_type(v->type)) {
        v->plain_ints = true;
        uint64_t need = (uint64_t)(v->n_rows * v->n_cols) * (uint64_t)ti->block_bytes;
        if (need != v->size_bytes)
            return ig_error_set(IG_EINVAL, "%s: tensor '%s': %llu bytes, expected %llu for %lld elements of %s",
                                v->file, shown(v->name, name, sizeof name), (unsigned long long)v->size_bytes,
                                (unsigned long long)need, (long long)(v->n_rows * v->n_cols), v->type_name);
        return 0;
    }
    if (!qt || !qt->dequantize_row_ref)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': type %s (id %d) cannot be dequantized by this build "
                            "(its type table has no dequantizer for it)", v->file, shown(v->name, name, sizeof name),
                            v->type_name, v->type);
    return 0;
}

/* Rows [row0, row0 + n) of v as f32 into dst ([n][n_cols]); for plain_ints, *n_inexact
 * grows by the stored values f32 cannot hold exactly. */
static int view_read_rows(const struct tensor_view *v, int64_t row0, int64_t n, float *dst, int64_t *n_inexact)
{
    if (v->st.read_rows_f32)   /* a third-party linear (model_src.h): its own reader */
        return v->st.read_rows_f32(&v->st, row0, n, dst);
    if (!v->plain_ints)
        return tensor_read_rows_f32(&v->st, row0, n, dst);
    for (int64_t i = 0; i < n * v->n_cols; i++) {
        double x = plain_element(v->type, v->dtype, v->data, row0 * v->n_cols + i);
        dst[i] = (float)x;
        *n_inexact += (double)dst[i] != x && !(isnan(x) && isnan(dst[i]));
    }
    return 0;
}

/* v->st: the stored bytes as a 2-D tensor of n_rows rows of n_cols, for tensor_read_rows_f32
 * (no permutation: the container's own order). */
static void view_rows_tensor(struct tensor_view *v)
{
    struct src_tensor *s = &v->st;
    snprintf(s->name, sizeof s->name, "%.63s", v->name);
    snprintf(s->src_name, sizeof s->src_name, "%s", v->name);
    s->n_dims = 2;
    s->ne[0] = v->n_cols;
    s->ne[1] = v->n_rows;
    s->ne[2] = s->ne[3] = 1;
    s->type = v->type;
    s->data = v->data;
    s->size_bytes = v->size_bytes;
    s->file = v->file;
}

/* ---- finding the tensor: GGUF --------------------------------------------------------------------- */

static int sources_add(struct inspect_ctx *cx, const char *path)
{
    const char **grown = realloc(cx->sources, (size_t)(cx->n_sources + 1) * sizeof *grown);
    if (!grown)
        return ig_error_set(IG_ENOMEM, "out of memory listing the input files");
    cx->sources = grown;
    cx->sources[cx->n_sources++] = path;
    return 0;
}

static int open_gguf(struct inspect_ctx *cx, const char *path, const char *name, struct tensor_view *v)
{
    int rc = gguf_open(&cx->gguf, path);
    if (!rc)
        rc = sources_add(cx, path);
    if (rc)
        return rc;
    int64_t i = gguf_find_tensor(cx->gguf, name);
    if (i < 0) {
        struct close_names c = {0};
        for (int64_t k = 0; k < gguf_n_tensors(cx->gguf); k++)
            close_names_add(&c, name, gguf_tensor_at(cx->gguf, k)->name);
        return not_found(path, name, &c, starts_with(name, "model.") ? "; this is an HF name: a GGUF file uses "
                         "llama.cpp's names (blk.N.attn_q.weight, ...)" : NULL);
    }
    const struct gguf_tensor_info *t = gguf_tensor_at(cx->gguf, i);
    v->kind = VIEW_GGUF;
    v->name = t->name;
    v->file = path;
    v->type = t->type;
    v->type_name = ggml_type_name(t->type);
    v->n_dims = t->n_dims;
    for (int d = 0; d < t->n_dims; d++)
        v->dims[d] = t->ne[d];
    v->n_cols = t->ne[0];
    v->n_rows = t->ne[1] * t->ne[2] * t->ne[3];   /* the reader checked the product */
    v->size_bytes = t->size_bytes;
    v->offset = t->offset;
    v->data = t->data;
    view_rows_tensor(v);
    return 0;
}

/* ---- finding the tensor: model sources (GGUF names of an HF folder, llama2.c) ----------------------- */

static int open_source(struct inspect_ctx *cx, const char *path, const char *name, struct tensor_view *v)
{
    int rc = cx->src ? 0 : cli_model_src_open(&cx->src, path, NULL);
    if (rc)
        return rc;
    for (int i = 0; i < cx->src->n_files && !rc; i++)
        rc = sources_add(cx, cx->src->files[i].path);
    if (rc)
        return rc;
    const struct src_tensor *t = model_src_find(cx->src, name);
    if (!t) {
        struct close_names c = {0};
        for (int64_t k = 0; k < cx->src->n_tensors; k++)
            close_names_add(&c, name, cx->src->tensors[k].name);
        return not_found(path, name, &c, NULL);
    }
    v->kind = VIEW_SOURCE;
    v->name = t->name;
    v->file = t->file;
    v->type = t->type;
    v->type_name = t->type_name ? t->type_name : ggml_type_name(t->type);
    v->n_dims = t->n_dims;
    for (int d = 0; d < t->n_dims; d++)
        v->dims[d] = t->ne[d];
    v->n_cols = t->ne[0];
    v->n_rows = src_tensor_n_rows(t);
    v->size_bytes = t->size_bytes;
    v->src_name = t->src_name;
    v->permuted = t->permute_n_head > 0;
    v->data = t->data;
    v->st = *t;
    return 0;
}

/* ---- finding the tensor: safetensors files ------------------------------------------------------- */

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular *.safetensors file of folder, sorted by name, into cx->st_paths. */
static int folder_list(struct inspect_ctx *cx, const char *folder)
{
    DIR *d = opendir(folder);
    if (!d)
        return ig_error_set(IG_EINVAL, "%s: cannot list the folder: %s", folder, strerror(errno));
    int rc = 0, cap = 0;
    for (struct dirent *e = readdir(d); e && !rc; e = readdir(d)) {
        if (!ends_with(e->d_name, ".safetensors"))
            continue;
        char *p = file_path_join(folder, e->d_name);
        if (!p || !file_is_regular(p)) {
            rc = p ? 0 : IG_ENOMEM;
            free(p);
            continue;
        }
        if (cx->n_st == cap) {
            cap = cap ? 2 * cap : 8;
            char **grown = realloc(cx->st_paths, (size_t)cap * sizeof *grown);
            if (!grown) {
                free(p);
                rc = ig_error_set(IG_ENOMEM, "out of memory listing %s", folder);
                break;
            }
            cx->st_paths = grown;
        }
        cx->st_paths[cx->n_st++] = p;
    }
    closedir(d);
    if (!rc && cx->n_st)
        qsort(cx->st_paths, (size_t)cx->n_st, sizeof *cx->st_paths, path_cmp);
    return rc;
}

/* Where the folder's index puts name ("model-00002-of-00002.safetensors"), into out[size];
 * "" when there is no index or it does not name it. */
static const char *index_file_of(const char *index_path, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    if (!index_path)
        return out;
    json_t *root = json_load_file(index_path, 0, NULL);
    const char *file = json_string_value(json_object_get(json_object_get(root, "weight_map"), name));
    if (file)
        snprintf(out, size, "%s", file);
    json_decref(root);
    return out;
}

/* The not-found message for a safetensors checkpoint, with what the index and the names say. */
static int st_not_found(struct inspect_ctx *cx, const char *path, const char *name, const char *folder)
{
    struct close_names c = {0};
    for (int f = 0; f < cx->n_st; f++)
        for (int64_t k = 0; k < st_n_tensors(cx->st[f]); k++)
            close_names_add(&c, name, st_tensor_at(cx->st[f], k)->name);
    c.n_shown = c.n_seen;
    for (int64_t k = 0; cx->src && k < cx->src->n_tensors; k++)
        close_names_add(&c, name, cx->src->tensors[k].name);   /* the GGUF names, when the folder opened */
    char in_index[256], hint[600], one[SHOWN_MAX];
    index_file_of(cx->index_path, name, in_index, sizeof in_index);
    hint[0] = '\0';
    char *listed = in_index[0] && folder && !strchr(in_index, '/') ? file_path_join(folder, in_index) : NULL;
    if (listed)   /* the index says where it should be */
        snprintf(hint, sizeof hint, "; %s puts it in '%s', which %s", ST_INDEX_FILE, shown(in_index, one, sizeof one),
                 file_is_regular(listed) ? "does not hold it" : "is not in this folder");
    else if (cx->src)
        snprintf(hint, sizeof hint, "; looked up under the checkpoint's names and under the GGUF names convert gives them");
    else if ((starts_with(name, "blk.") || starts_with(name, "token_embd") || starts_with(name, "output")))
        snprintf(hint, sizeof hint, "; a GGUF name is looked up only in a folder that opens as a whole model "
                 "(config.json, tokenizer, every tensor)%s", folder ? "" : ": pass the folder");
    free(listed);
    return not_found(path, name, &c, hint);
}

/* The safetensors files path names into cx->st_paths (a folder: all of them; else the one
 * file), and the folder's index, when there is one, into cx->index_path. */
static int st_files_collect(struct inspect_ctx *cx, const char *path, const char *folder)
{
    if (!folder) {
        cx->st_paths = malloc(sizeof *cx->st_paths);
        char *copy = cx->st_paths ? strdup(path) : NULL;
        if (!copy)
            return ig_error_set(IG_ENOMEM, "out of memory");
        cx->st_paths[cx->n_st++] = copy;
        return 0;
    }
    int rc = folder_list(cx, folder);
    if (!rc && !cx->n_st)
        rc = ig_error_set(IG_EINVAL, "%s: no *.safetensors file in this folder", path);
    cx->index_path = rc ? NULL : file_path_join(folder, ST_INDEX_FILE);
    if (cx->index_path && !file_is_regular(cx->index_path)) {
        free(cx->index_path);
        cx->index_path = NULL;
    }
    return rc;
}

/* Open each file on its own and find name: *found is NULL when no file has it. A name in two
 * files is an error, as it is for the sharded reader. */
static int st_find_in_files(struct inspect_ctx *cx, const char *path, const char *name, const struct st_tensor **found)
{
    char one[SHOWN_MAX];
    *found = NULL;
    cx->st = calloc((size_t)cx->n_st, sizeof *cx->st);
    int rc = cx->st ? 0 : ig_error_set(IG_ENOMEM, "out of memory");
    for (int f = 0; f < cx->n_st && !rc; f++) {
        rc = sources_add(cx, cx->st_paths[f]);
        rc = rc ? rc : st_open_flags(&cx->st[f], cx->st_paths[f], ST_OPEN_INTEGER_DTYPES);
        const struct st_tensor *t = rc ? NULL : st_find(cx->st[f], name);
        if (t && *found)
            rc = ig_error_set(IG_EINVAL, "%s: tensor '%s' is in two files, %s and %s (allowed: once)", path,
                              shown(name, one, sizeof one), (*found)->file, t->file);
        *found = *found ? *found : t;
    }
    return rc;
}

/* v from a safetensors tensor: PyTorch shape, rows along the last dimension. */
static void view_from_st(struct tensor_view *v, const struct st_tensor *t)
{
    v->kind = VIEW_SAFETENSORS;
    v->name = t->name;
    v->file = t->file;
    v->type = t->type;
    v->dtype = t->dtype;
    v->type_name = t->dtype ? t->dtype : ggml_type_name(t->type);
    v->n_dims = t->n_dims;
    v->n_cols = t->n_dims ? t->shape[t->n_dims - 1] : 1;
    v->n_rows = 1;
    for (int d = 0; d < t->n_dims; d++) {
        v->dims[d] = t->shape[d];
        v->n_rows *= d < t->n_dims - 1 ? t->shape[d] : 1;   /* the reader checked the product */
    }
    v->size_bytes = t->size_bytes;
    v->data = t->data;
    view_rows_tensor(v);
}

/* Open every safetensors file the path names and find name in them. A folder may hold any
 * subset of a checkpoint's shards: each file is read on its own, the index is not needed. */
static int open_safetensors(struct inspect_ctx *cx, const char *path, const char *name, struct tensor_view *v)
{
    char *folder = file_is_folder(path) ? strdup(path) : NULL;
    const struct st_tensor *found = NULL;
    int rc = file_is_folder(path) && !folder ? IG_ENOMEM : st_files_collect(cx, path, folder);
    if (!rc)
        rc = st_find_in_files(cx, path, name, &found);
    if (!rc && found)
        view_from_st(v, found);
    if (!rc && !found) {
        /* a GGUF name asked of a whole HF folder: the tensor as convert would write it */
        char *config = folder ? file_path_join(folder, "config.json") : NULL;
        bool whole = config && file_is_regular(config);
        free(config);
        rc = whole && !starts_with(name, "model.") && open_source(cx, folder, name, v) == 0 ? 0
             : st_not_found(cx, path, name, folder);
    }
    free(folder);
    return rc;
}

static void ctx_close(struct inspect_ctx *cx)
{
    gguf_close(cx->gguf);
    for (int f = 0; f < cx->n_st; f++) {
        if (cx->st)
            st_close(cx->st[f]);
        free(cx->st_paths[f]);
    }
    free(cx->st);
    free(cx->st_paths);
    free(cx->index_path);
    free(cx->sources);
    model_src_close(cx->src);
}

/* ---- the scan: statistics and the dump ------------------------------------------------------------- */

static void stats_init(struct tensor_stats *s, const struct tensor_view *v)
{
    memset(s, 0, sizeof *s);
    /* a quantized type's block along a row; for element types, a whole row */
    s->block_elems = v->block_elems > 1 ? v->block_elems : v->n_cols;
    s->min = INFINITY;
    s->max = -INFINITY;
}

/* Add n_rows rows of n_cols values. Within the chunk: sum, then the squared deviations from
 * the chunk's own mean (two passes, so no cancellation); chunks are merged in order by Chan,
 * Golub & LeVeque's update (1979, eq. 2.1b): M2 = M2a + M2b + d^2 na nb / (na + nb). */
static void stats_add(struct tensor_stats *s, const float *x, int64_t n_rows, int64_t n_cols)
{
    int64_t n = n_rows * n_cols, nb = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double xi = x[i];
        if (isnan(xi)) {
            s->n_nan++;
        } else if (isinf(xi)) {
            xi > 0 ? s->n_pos_inf++ : s->n_neg_inf++;
        } else {
            sum += xi;
            nb++;
            s->min = xi < s->min ? xi : s->min;
            s->max = xi > s->max ? xi : s->max;
            s->n_zero += xi == 0;
        }
    }
    double mean_b = nb ? sum / (double)nb : 0, m2_b = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            m2_b += ((double)x[i] - mean_b) * ((double)x[i] - mean_b);
    if (nb) {
        double na = (double)s->n_finite, nt = na + (double)nb, d = mean_b - s->mean;
        s->mean += d * (double)nb / nt;
        s->m2 += m2_b + d * d * na * (double)nb / nt;
        s->n_finite += nb;
    }
    s->count += n;
    /* zero blocks: runs of block_elems values of one row, every value 0 (NaN is not) */
    for (int64_t r = 0; r < n_rows; r++) {
        for (int64_t b = 0; b + s->block_elems <= n_cols; b += s->block_elems) {
            const float *p = x + r * n_cols + b;
            int64_t k = 0;
            while (k < s->block_elems && p[k] == 0)
                k++;
            s->n_zero_blocks += k == s->block_elems;
            s->n_blocks++;
        }
    }
}

static double stats_std(const struct tensor_stats *s)
{
    return s->n_finite ? sqrt(s->m2 / (double)s->n_finite) : NAN;
}

/* f32 values as little-endian bytes, in place (a no-op on little-endian hosts). */
static void to_little_endian(float *x, int64_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        u = __builtin_bswap32(u);
        memcpy(&x[i], &u, 4);
    }
#else
    (void)x;
    (void)n;
#endif
}

/* Read every row of v a chunk at a time into s, and into out (when open). */
static int view_scan(const struct tensor_view *v, struct tensor_stats *s, struct out_file *out)
{
    stats_init(s, v);
    if (v->n_rows == 0 || v->n_cols == 0)
        return 0;
    int64_t rows_per = CHUNK_ELEMS / v->n_cols > 0 ? CHUNK_ELEMS / v->n_cols : 1;
    rows_per = rows_per < v->n_rows ? rows_per : v->n_rows;
    float *buf = ig_malloc((size_t)(rows_per * v->n_cols) * sizeof *buf);
    if (!buf)
        return IG_ENOMEM;
    int rc = 0;
    for (int64_t r = 0; r < v->n_rows && !rc; r += rows_per) {
        int64_t n = v->n_rows - r < rows_per ? v->n_rows - r : rows_per;
        rc = view_read_rows(v, r, n, buf, &s->n_inexact);
        if (rc)
            break;
        stats_add(s, buf, n, v->n_cols);
        if (out) {
            to_little_endian(buf, n * v->n_cols);
            rc = out_file_write(out, buf, (size_t)(n * v->n_cols) * sizeof *buf);
        }
    }
    free(buf);
    return rc;
}

/* ---- output ------------------------------------------------------------------------------------------ */

static const char *container_name(const struct tensor_view *v)
{
    return v->kind == VIEW_GGUF ? "gguf" : v->kind == VIEW_SAFETENSORS ? "safetensors" : "model source";
}

/* Shape in the container's order: "256 x 768" (GGUF) or "[768, 256]" (safetensors). */
static const char *shape_text(const struct tensor_view *v, char *buf, size_t size)
{
    bool torch = v->kind == VIEW_SAFETENSORS;
    snprintf(buf, size, "%s", torch ? "[" : "");
    for (int d = 0; d < v->n_dims; d++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%lld", d ? (torch ? ", " : " x ") : "", (long long)v->dims[d]);
    snprintf(buf + strlen(buf), size - strlen(buf), "%s", torch ? "]" : v->n_dims ? "" : "scalar");
    return buf;
}

/* Which order the dumped values come in, in words. */
static const char *layout_text(const struct tensor_view *v, char *buf, size_t size)
{
    char one[SHOWN_MAX];
    if (v->kind == VIEW_GGUF)
        snprintf(buf, size, "row-major, ne[0] fastest: %lld rows of %lld", (long long)v->n_rows, (long long)v->n_cols);
    else if (v->kind == VIEW_SAFETENSORS)
        snprintf(buf, size, "the checkpoint's own: row-major in the stored PyTorch shape, last dimension fastest "
                 "(a linear's [out_features, in_features]: %lld rows of %lld), as stored (no Q/K rope permutation)",
                 (long long)v->n_rows, (long long)v->n_cols);
    else
        snprintf(buf, size, "GGUF, as convert writes it: row-major, ne[0] fastest: %lld rows of %lld, from source "
                 "tensor '%s'%s", (long long)v->n_rows, (long long)v->n_cols, shown(v->src_name, one, sizeof one),
                 v->permuted ? ", rows permuted for rope as llama.cpp's converter does" : "");
    return buf;
}

static const char *values_text(const struct tensor_view *v)
{
    if (v->plain_ints)
        return "the stored values converted to f32 (integers beyond 2^24 in magnitude are rounded; 'inexact' counts them)";
    return v->block_elems > 1 || v->st.read_rows_f32 ? "dequantized to f32 by the type's reference dequantizer"
                                                      : "converted to f32 (exact for F32, F16 and BF16)";
}

static const char *block_text(const struct tensor_view *v, const struct tensor_stats *s, char *buf, size_t size)
{
    if (v->block_elems > 1)
        snprintf(buf, size, "%s blocks of %lld values along a row", v->type_name, (long long)s->block_elems);
    else
        snprintf(buf, size, "whole rows of %lld values (an element type has no quantization block)",
                 (long long)s->block_elems);
    return buf;
}

static void print_text(const struct tensor_view *v, const struct tensor_stats *s, const char *dump_path,
                       const char *path)
{
    char buf[1024], one[SHOWN_MAX];
    printf("file: %s (%s)\n", v->file, container_name(v));
    if (v->kind == VIEW_SAFETENSORS)
        printf("format: %s\n", inspect_hf_format(file_is_folder(path) ? path : NULL, v->dtype, buf, sizeof buf));
    printf("tensor: %s\n", shown(v->name, one, sizeof one));
    if (v->kind == VIEW_SAFETENSORS)
        printf("type: %s (safetensors dtype)", v->type_name);
    else
        printf("type: %s (id %d)", v->type_name, v->type);
    if (v->block_elems > 1)
        printf(", blocks of %lld values", (long long)v->block_elems);
    printf("\nshape: %s (%s); %lld values, %llu bytes", shape_text(v, buf, sizeof buf),
           v->kind == VIEW_SAFETENSORS ? "PyTorch order" : "ggml order, ne[0] first", (long long)s->count,
           (unsigned long long)v->size_bytes);
    if (v->kind == VIEW_GGUF)
        printf(" at data offset %llu", (unsigned long long)v->offset);
    printf("\nlayout: %s\nvalues: %s\n", layout_text(v, buf, sizeof buf), values_text(v));
    printf("\nstats (in double, in element order; min/max/mean/std over the finite values; std: population):\n");
    if (s->n_finite)
        printf("  min   %.9g\n  max   %.9g\n  mean  %.17g\n  std   %.17g\n", s->min, s->max, s->mean, stats_std(s));
    else
        printf("  min, max, mean, std: none (no finite value)\n");
    printf("  NaN   %lld\n  +Inf  %lld\n  -Inf  %lld\n  zeros %lld\n", (long long)s->n_nan, (long long)s->n_pos_inf,
           (long long)s->n_neg_inf, (long long)s->n_zero);
    if (v->plain_ints)
        printf("  inexact %lld (stored values f32 cannot hold exactly)\n", (long long)s->n_inexact);
    printf("  zero blocks %lld of %lld (block: %s)\n", (long long)s->n_zero_blocks, (long long)s->n_blocks,
           block_text(v, s, buf, sizeof buf));
    if (dump_path)
        printf("\ndumped: %s (%lld little-endian f32, %llu bytes)\n", dump_path, (long long)s->count,
               (unsigned long long)s->count * 4ull);
}

static json_t *stats_json(const struct tensor_view *v, const struct tensor_stats *s)
{
    bool any = s->n_finite > 0;
    char buf[256];
    json_t *j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "count",
                          (json_int_t)s->count, "finite", (json_int_t)s->n_finite, "min",
                          any ? json_real(s->min) : json_null(), "max", any ? json_real(s->max) : json_null(), "mean",
                          any ? json_real(s->mean) : json_null(), "std", cli_json_number(stats_std(s)), "nan",
                          (json_int_t)s->n_nan, "pos_inf", (json_int_t)s->n_pos_inf, "neg_inf",
                          (json_int_t)s->n_neg_inf, "zeros", (json_int_t)s->n_zero, "zero_blocks",
                          (json_int_t)s->n_zero_blocks, "blocks", (json_int_t)s->n_blocks, "block_elems",
                          (json_int_t)s->block_elems, "block", block_text(v, s, buf, sizeof buf));
    if (j && v->plain_ints)
        json_object_set_new(j, "inexact", json_integer(s->n_inexact));
    return j;
}

static json_t *result_json(const struct tensor_view *v, const struct tensor_stats *s, const char *dump_path,
                           const char *path)
{
    char layout[1024], fmt[512];
    json_t *shape = json_array();
    for (int d = 0; d < v->n_dims; d++)
        json_array_append_new(shape, json_integer(v->dims[d]));
    int64_t n_bad = 0;   /* a name that is not UTF-8 shows U+FFFD, as the whole-file JSON does */
    json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:i, s:o, s:s, s:I, s:I, s:I, s:s, s:s, s:o}", "file", v->file,
                          "container", container_name(v), "tensor",
                          cli_json_string_lossy(v->name, strlen(v->name), &n_bad), "type", v->type_name,
                          "type_id", v->type, "shape", shape, "shape_order",
                          v->kind == VIEW_SAFETENSORS ? "pytorch" : "ggml", "elements", (json_int_t)s->count,
                          "rows", (json_int_t)v->n_rows, "cols", (json_int_t)v->n_cols, "layout",
                          layout_text(v, layout, sizeof layout), "values", values_text(v), "stats", stats_json(v, s));
    if (!j)
        return NULL;
    json_object_set_new(j, "bytes", json_integer((json_int_t)v->size_bytes));
    if (v->kind == VIEW_GGUF)
        json_object_set_new(j, "offset", json_integer((json_int_t)v->offset));
    if (v->kind == VIEW_SAFETENSORS) {
        json_object_set_new(j, "dtype", json_string(v->dtype ? v->dtype : v->type_name));
        json_object_set_new(j, "format", json_string(inspect_hf_format(file_is_folder(path) ? path : NULL, v->dtype,
                                                                       fmt, sizeof fmt)));
    }
    if (v->kind == VIEW_SOURCE)
        json_object_set_new(j, "source_name", cli_json_string_lossy(v->src_name, strlen(v->src_name), &n_bad));
    json_object_set_new(j, "dump", dump_path ? json_pack("{s:s, s:I}", "path", dump_path, "bytes",
                                                         (json_int_t)(s->count * 4)) : json_null());
    return j;
}

/* ---- public ---------------------------------------------------------------------------------------- */

bool inspect_is_gguf(const char *path)
{
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool yes = fread(magic, 1, 4, f) == 4 && memcmp(magic, GGUF_MAGIC, 4) == 0;
    fclose(f);
    return yes;
}

const char *inspect_hf_format(const char *folder, const char *dtypes, char *buf, size_t size)
{
    /* Third-party quantized folders (GPTQ, AWQ, bitsandbytes; formats/hf_quant.h) are named
     * here once their reader lands: "GPTQ 4-bit g128 sym ..." from folder's config. Until
     * then their packed tensors are shown as stored (I32 words, U8 codes, F16 scales). */
    (void)folder;
    snprintf(buf, size, "safetensors%s%s", dtypes ? ", dtype " : "", dtypes ? dtypes : "");
    return buf;
}

/* Find the tensor path and name point at. */
static int view_open(struct inspect_ctx *cx, const char *path, const char *name, struct tensor_view *v)
{
    if (inspect_is_gguf(path))
        return open_gguf(cx, path, name, v);
    if (file_is_folder(path) || ends_with(path, ".safetensors"))
        return open_safetensors(cx, path, name, v);
    if (!file_is_regular(path))
        return ig_error_set(IG_EINVAL, "%s: no such file or folder", path);
    return open_source(cx, path, name, v);   /* a llama2.c checkpoint: GGUF names */
}

int inspect_tensor_run(const struct inspect_tensor_opts *o)
{
    struct inspect_ctx cx = {0};
    struct tensor_view v = {0};
    struct tensor_stats s;
    struct out_file out = {.fd = -1};
    bool dumping = false;
    int rc = view_open(&cx, o->path, o->name, &v);
    if (!rc)
        rc = view_prepare(&v);
    /* OUT is checked before any value is read: never the input, never a folder */
    if (!rc && o->dump_path)
        rc = out_check_path(o->dump_path, cx.sources, cx.n_sources);
    if (!rc && o->dump_path) {
        rc = out_file_open(&out, o->dump_path);
        dumping = rc == 0;
        if (dumping)
            cli_set_tmp_output(out.tmp_path);
    }
    if (!rc)
        rc = view_scan(&v, &s, dumping ? &out : NULL);
    if (dumping) {
        rc = rc ? rc : out_file_commit(&out);
        if (rc)
            out_file_abort(&out);
        cli_set_tmp_output(NULL);
    }
    if (!rc && !o->as_json)
        print_text(&v, &s, o->dump_path, o->path);
    if (!rc && (o->as_json || o->json_out))
        rc = cli_json_emit(result_json(&v, &s, o->dump_path, o->path), o->as_json, o->json_out);
    ctx_close(&cx);
    return rc ? cli_fail("inspect", rc) : EXIT_OK;
}
