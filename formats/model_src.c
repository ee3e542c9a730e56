/* model_src.c — recognise a source checkpoint and give uniform access to its tensors.
 *
 * Dispatch: a folder is an HF checkpoint (hf_model.c); a file starting with "GGUF" is a
 * GGUF file (gguf_model.c); any other file is tried as a llama2.c checkpoint (llama2c.c),
 * whose reader explains precisely why it is not one.
 */
#include "model_src.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "ggml_type.h"
#include "gguf.h"
#include "llama2c.h"
#include "model_src_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- open / close ---------------------------------------------------------------------- */

static int read_magic(const char *path, char magic[4])
{
    FILE *f = fopen(path, "rb");
    memset(magic, 0, 4);
    if (!f)
        return ig_error_set(IG_EINVAL, "%s: cannot open: no such file or folder", path);
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    (void)n;
    return 0;
}

static bool has_suffix_nocase(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int model_src_open(struct model_src **out, const char *path, const char *tokenizer_path)
{
    *out = NULL;
    struct model_src *src = ig_calloc(1, sizeof *src);
    if (!src)
        return IG_ENOMEM;
    vocab_init(&src->vocab);
    src->path = strdup(path);
    int rc = src->path ? 0 : IG_ENOMEM;
    char magic[4];
    if (rc)
        goto out_fail;
    if (file_is_folder(path)) {
        rc = hf_model_open(src, path);
    } else if ((rc = read_magic(path, magic)) == 0) {
        /* a .gguf name is taken at its word, so a damaged magic is reported as such */
        if (memcmp(magic, GGUF_MAGIC, 4) == 0 || has_suffix_nocase(path, ".gguf")) {
            rc = gguf_model_open(src, path);
        } else {
            rc = llama2c_open(src, path, tokenizer_path);
            if (rc == IG_EINVAL)
                ig_error_wrap(rc, "%s: not a GGUF file (no \"GGUF\" magic) nor a valid llama2.c checkpoint", path);
        }
    }
    if (rc)
        goto out_fail;
    *out = src;
    return 0;
out_fail:
    model_src_close(src);
    return rc;
}

void model_src_close(struct model_src *src)
{
    if (!src)
        return;
    if (src->impl_close)
        src->impl_close(src->impl);
    gguf_close(src->gguf);
    vocab_free(&src->vocab);
    for (int i = 0; i < src->n_files; i++)
        free(src->files[i].path);
    free(src->files);
    free(src->tensors);
    free(src->path);
    free(src);
}

/* ---- building --------------------------------------------------------------------------- */

int model_src_add_tensor(struct model_src *src, const struct src_tensor *t)
{
    if (model_src_find(src, t->name))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' (from '%s') appears twice", src->path, t->name, t->src_name);
    struct src_tensor *v = ig_realloc(src->tensors, (size_t)(src->n_tensors + 1) * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    src->tensors = v;
    src->tensors[src->n_tensors++] = *t;
    return 0;
}

int model_src_add_file(struct model_src *src, const char *path, uint64_t size_bytes)
{
    struct stat st;
    if (size_bytes == 0 && stat(path, &st) == 0)
        size_bytes = (uint64_t)st.st_size;
    struct src_file *v = ig_realloc(src->files, (size_t)(src->n_files + 1) * sizeof *v);
    if (!v)
        return IG_ENOMEM;
    src->files = v;
    src->files[src->n_files].path = strdup(path);
    src->files[src->n_files].size_bytes = size_bytes;
    if (!src->files[src->n_files].path)
        return IG_ENOMEM;
    src->n_files++;
    return 0;
}

const struct src_tensor *model_src_find(const struct model_src *src, const char *name)
{
    for (int64_t i = 0; i < src->n_tensors; i++)
        if (strcmp(src->tensors[i].name, name) == 0)
            return &src->tensors[i];
    return NULL;
}

/* ---- reading rows ------------------------------------------------------------------------- */

int64_t src_tensor_n_rows(const struct src_tensor *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

int64_t model_permuted_row(int64_t r, int64_t n_rows, int64_t n_head)
{
    int64_t head_rows = n_rows / n_head;   /* rows of one head: head_dim */
    int64_t head = r / head_rows, j = r % head_rows;
    int64_t half = head_rows / 2;
    /* GGUF row 2i <- stored row i; GGUF row 2i+1 <- stored row i + half */
    return head * head_rows + (j % 2) * half + j / 2;
}

/* fp16 -> fp32 through a table of all 65536 values, built from ig_fp16_to_fp32 (so it is
 * exact by construction), as ggml does on CPUs without F16C: 3x faster than the bit
 * arithmetic, and conversion is most of a float-to-F16 or F16-to-Q4_0 run. */
static float fp16_table[65536];
static pthread_once_t fp16_table_once = PTHREAD_ONCE_INIT;

static void fp16_table_init(void)
{
    for (uint32_t h = 0; h < 65536; h++)
        fp16_table[h] = ig_fp16_to_fp32((uint16_t)h);
}

static void convert_row(int type, const uint8_t *src, float *dst, int64_t n)
{
    if (type == GGML_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (type == GGML_TYPE_F16) {
        pthread_once(&fp16_table_once, fp16_table_init);
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = fp16_table[h];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = ig_bf16_to_fp32(h);
        }
    }
}

int src_tensor_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is %s; only F32, F16 and BF16 can be read as floats here",
                            t->file, t->name, ggml_type_name(t->type));
    int64_t n_cols = t->ne[0], total = src_tensor_n_rows(t);
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > total)
        return ig_error_set(IG_EINVAL, "tensor '%s': rows %lld..%lld out of range (%lld rows)", t->name,
                            (long long)row0, (long long)(row0 + n_rows), (long long)total);
    size_t elem = t->type == GGML_TYPE_F32 ? 4 : 2;
    if (t->permute_n_head > 0 && t->n_dims == 1) {
        /* a 1-D bias permuted like the rows of its matrix: each element is a "row" */
        for (int64_t i = 0; i < n_cols; i++) {
            int64_t s = model_permuted_row(i, n_cols, t->permute_n_head);
            convert_row(t->type, t->data + (size_t)s * elem, dst + i, 1);
        }
        return 0;
    }
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t s = row0 + r;
        if (t->permute_n_head > 0)
            s = model_permuted_row(s, total, t->permute_n_head);
        convert_row(t->type, t->data + (size_t)s * (size_t)n_cols * elem, dst + r * n_cols, n_cols);
    }
    return 0;
}
