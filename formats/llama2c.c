/* llama2c.c — Karpathy's llama2.c fp32 checkpoints (run.c's legacy format) as a model_src.
 *
 * The file is a 28-byte header and a run of fp32 arrays (layout in llama2c.h); nothing in
 * it says where one array ends, so the header's sizes must add up to the file size exactly,
 * and that equality is both the format probe and the bounds check for every view. Tensors
 * are views into one read-only mapping, named and ordered the way llama.cpp's
 * convert-llama2c-to-ggml writes them. Q/K rows are already in llama.cpp's rope layout, so
 * nothing is permuted. The tokenizer is a separate file found beside the checkpoint.
 */
#include "llama2c.h"

#include "ggml_type.h"
#include "tokenizer.h"
#include "../common/ig_error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- constants and types ----------------------------------------------------------- */

#define L2C_HEADER_BYTES 28   /* 7 x int32 */

/* Byte offsets of each array in the file, from the header (see llama2c.h, item 2). */
struct l2c_layout {
    int64_t dim, hidden, n_layer, n_head, n_head_kv, n_vocab, seq_len;
    int64_t head_size, kv_dim;
    bool shared_cls;           /* vocab_size > 0: output.weight is token_embedding */
    uint64_t token_embd;       /* [vocab][dim] */
    uint64_t rms_att;          /* [L][dim] */
    uint64_t wq, wk, wv, wo;   /* [L][dim][dim], [L][kv_dim][dim] x 2, [L][dim][dim] */
    uint64_t rms_ffn;          /* [L][dim] */
    uint64_t w1, w2, w3;       /* [L][hidden][dim], [L][dim][hidden], [L][hidden][dim] */
    uint64_t rms_final;        /* [dim] */
    uint64_t freq_cis;         /* [seq_len][head_size/2] x 2, unused */
    uint64_t wcls;             /* [vocab][dim], unshared classifier only */
    uint64_t size_bytes;       /* the whole file */
};

/* What src->impl holds: the mapping every tensor views. */
struct l2c_impl {
    struct file_map map;
};

/* ---- header ------------------------------------------------------------------------ */

static int32_t read_i32_le(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void header_read(struct llama2c_header *h, const uint8_t *p)
{
    h->dim = read_i32_le(p);
    h->hidden_dim = read_i32_le(p + 4);
    h->n_layers = read_i32_le(p + 8);
    h->n_heads = read_i32_le(p + 12);
    h->n_kv_heads = read_i32_le(p + 16);
    h->vocab_size = read_i32_le(p + 20);
    h->seq_len = read_i32_le(p + 24);
}

/* Append the next array of a * b * c floats at *off: record its offset in *at and advance.
 * Returns false when the byte offset overflows 64 bits. */
static bool layout_take(uint64_t *off, uint64_t *at, int64_t a, int64_t b, int64_t c)
{
    uint64_t n;
    *at = *off;
    return ig_mul_u64((uint64_t)a, (uint64_t)b, &n) && ig_mul_u64(n, (uint64_t)c, &n) &&
           ig_mul_u64(n, sizeof(float), &n) && ig_add_u64(*off, n, off);
}

/* Check the header and lay the arrays out. Returns 0, or -1 with why[] saying which field
 * is wrong (without the file name, which the caller adds). The size is not compared with
 * the file here: that is the caller's last check. */
static int layout_from_header(struct l2c_layout *lo, const struct llama2c_header *h, char *why,
                              size_t why_size)
{
    const struct { const char *name; int32_t v; } fields[] = {
        {"dim", h->dim}, {"hidden_dim", h->hidden_dim}, {"n_layers", h->n_layers},
        {"n_heads", h->n_heads}, {"n_kv_heads", h->n_kv_heads}, {"seq_len", h->seq_len},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].v <= 0) {
            snprintf(why, why_size, "header field %s is %d, expected > 0", fields[i].name, (int)fields[i].v);
            return -1;
        }
    if (h->vocab_size == 0) {
        snprintf(why, why_size, "header field vocab_size is 0, expected nonzero (negative means the "
                 "classifier is stored separately)");
        return -1;
    }
    if (h->dim % h->n_heads != 0) {
        snprintf(why, why_size, "header field dim=%d is not a multiple of n_heads=%d", (int)h->dim,
                 (int)h->n_heads);
        return -1;
    }
    if (h->n_heads % h->n_kv_heads != 0) {
        snprintf(why, why_size, "header field n_kv_heads=%d does not divide n_heads=%d",
                 (int)h->n_kv_heads, (int)h->n_heads);
        return -1;
    }

    memset(lo, 0, sizeof *lo);
    lo->dim = h->dim;
    lo->hidden = h->hidden_dim;
    lo->n_layer = h->n_layers;
    lo->n_head = h->n_heads;
    lo->n_head_kv = h->n_kv_heads;
    lo->n_vocab = h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size;
    lo->seq_len = h->seq_len;
    lo->shared_cls = h->vocab_size > 0;
    lo->head_size = lo->dim / lo->n_head;
    lo->kv_dim = lo->head_size * lo->n_head_kv;   /* = dim * n_kv_heads / n_heads, exactly */

    /* The arrays in file order; every product is checked, since each factor is up to 2^31. */
    uint64_t off = L2C_HEADER_BYTES, unused;
    int64_t L = lo->n_layer, D = lo->dim, H = lo->hidden, KV = lo->kv_dim;
    bool ok = layout_take(&off, &lo->token_embd, lo->n_vocab, D, 1) &&
              layout_take(&off, &lo->rms_att, L, D, 1) &&
              layout_take(&off, &lo->wq, L, D, D) &&
              layout_take(&off, &lo->wk, L, KV, D) &&
              layout_take(&off, &lo->wv, L, KV, D) &&
              layout_take(&off, &lo->wo, L, D, D) &&
              layout_take(&off, &lo->rms_ffn, L, D, 1) &&
              layout_take(&off, &lo->w1, L, H, D) &&
              layout_take(&off, &lo->w2, L, D, H) &&
              layout_take(&off, &lo->w3, L, H, D) &&
              layout_take(&off, &lo->rms_final, D, 1, 1) &&
              /* freq_cis_real then freq_cis_imag, each [seq_len][head_size/2] */
              layout_take(&off, &lo->freq_cis, lo->seq_len, lo->head_size / 2, 2) &&
              layout_take(&off, lo->shared_cls ? &unused : &lo->wcls, lo->shared_cls ? 0 : lo->n_vocab, D, 1);
    if (!ok) {
        snprintf(why, why_size, "header sizes (dim=%d hidden_dim=%d n_layers=%d vocab_size=%d "
                 "seq_len=%d) overflow 64-bit byte offsets", (int)h->dim, (int)h->hidden_dim,
                 (int)h->n_layers, (int)h->vocab_size, (int)h->seq_len);
        return -1;
    }
    lo->size_bytes = off;
    return 0;
}

/* ---- tensors ----------------------------------------------------------------------- */

/* Add one F32 view: ne = [ne0, ne1] (ne1 = 1 with n_dims 1 for a norm), bytes at off. */
static int add_view(struct model_src *src, const struct file_map *map, const char *name,
                    const char *src_name, int n_dims, int64_t ne0, int64_t ne1, uint64_t off)
{
    struct src_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.src_name, sizeof t.src_name, "%s", src_name);
    t.n_dims = n_dims;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    t.ne[2] = t.ne[3] = 1;
    t.type = GGML_TYPE_F32;
    t.data = map->data + off;   /* in bounds: the layout's total equals the file size */
    t.size_bytes = (uint64_t)ne0 * (uint64_t)ne1 * sizeof(float);
    t.permute_n_head = 0;       /* llama2.c already rotates adjacent pairs, as llama.cpp does */
    t.file = map->path;
    return model_src_add_tensor(src, &t);
}

/* One block's nine tensors, in convert-llama2c-to-ggml's order. */
static int add_block(struct model_src *src, const struct file_map *map, const struct l2c_layout *lo,
                     int64_t l)
{
    const int64_t D = lo->dim, H = lo->hidden, KV = lo->kv_dim;
    const uint64_t f = sizeof(float);
    /* name suffix, llama2.c array, n_dims, ne0, ne1, offset of layer l's slice */
    const struct { const char *suffix, *array; int n_dims; int64_t ne0, ne1; uint64_t off; } views[] = {
        {"attn_q", "wq", 2, D, D, lo->wq + (uint64_t)(l * D * D) * f},
        {"attn_k", "wk", 2, D, KV, lo->wk + (uint64_t)(l * KV * D) * f},
        {"attn_v", "wv", 2, D, KV, lo->wv + (uint64_t)(l * KV * D) * f},
        {"attn_output", "wo", 2, D, D, lo->wo + (uint64_t)(l * D * D) * f},
        {"attn_norm", "rms_att_weight", 1, D, 1, lo->rms_att + (uint64_t)(l * D) * f},
        {"ffn_gate", "w1", 2, D, H, lo->w1 + (uint64_t)(l * H * D) * f},
        {"ffn_down", "w2", 2, H, D, lo->w2 + (uint64_t)(l * D * H) * f},
        {"ffn_up", "w3", 2, D, H, lo->w3 + (uint64_t)(l * H * D) * f},
        {"ffn_norm", "rms_ffn_weight", 1, D, 1, lo->rms_ffn + (uint64_t)(l * D) * f},
    };
    /* The products above are below the file size, which the layout bounded: no overflow. */
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        char name[MODEL_NAME_MAX], src_name[64];
        snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, views[i].suffix);
        snprintf(src_name, sizeof src_name, "%s[%lld]", views[i].array, (long long)l);
        int rc = add_view(src, map, name, src_name, views[i].n_dims, views[i].ne0, views[i].ne1, views[i].off);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_tensors(struct model_src *src, const struct file_map *map, const struct l2c_layout *lo)
{
    const int64_t D = lo->dim, V = lo->n_vocab;
    int rc = add_view(src, map, "token_embd.weight", "token_embedding_table", 2, D, V, lo->token_embd);
    if (!rc)
        rc = add_view(src, map, "output_norm.weight", "rms_final_weight", 1, D, 1, lo->rms_final);
    /* A shared classifier is a second view of the embedding bytes. */
    if (!rc && lo->shared_cls)
        rc = add_view(src, map, "output.weight", "token_embedding_table", 2, D, V, lo->token_embd);
    else if (!rc)
        rc = add_view(src, map, "output.weight", "wcls", 2, D, V, lo->wcls);
    for (int64_t l = 0; !rc && l < lo->n_layer; l++)
        rc = add_block(src, map, lo, l);
    return rc;
}

/* ---- tokenizer --------------------------------------------------------------------- */

/* True when s ends with suffix. */
static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The first existing tokenizer beside ckpt_path (heap path, caller frees), or NULL with
 * IG_EINVAL (none found) or IG_ENOMEM recorded in *rc. */
static char *tokenizer_find(const char *ckpt_path, int64_t n_vocab, int *rc)
{
    char names[4][48];
    snprintf(names[0], sizeof names[0], "tokenizer.model");
    snprintf(names[1], sizeof names[1], "tok%lld.model", (long long)n_vocab);
    snprintf(names[2], sizeof names[2], "tokenizer.bin");
    snprintf(names[3], sizeof names[3], "tok%lld.bin", (long long)n_vocab);

    const char *slash = strrchr(ckpt_path, '/');
    char *folder = slash ? strndup(ckpt_path, (size_t)(slash - ckpt_path) + 1) : strdup(".");
    if (!folder) {
        *rc = ig_error_set(IG_ENOMEM, "%s: out of memory", ckpt_path);
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        char *p = file_path_join(folder, names[i]);
        if (!p) {
            *rc = IG_ENOMEM;
            free(folder);
            return NULL;
        }
        if (file_is_regular(p)) {
            free(folder);
            return p;
        }
        free(p);
    }
    free(folder);
    *rc = ig_error_set(IG_EINVAL, "%s: no tokenizer beside the checkpoint (looked for %s, %s, %s, %s); "
                       "pass --tokenizer FILE", ckpt_path, names[0], names[1], names[2], names[3]);
    return NULL;
}

/* Read the tokenizer at tok_path into v (initialised) and check it has n_vocab tokens. */
static int tokenizer_load(struct vocab *v, const char *tok_path, const char *ckpt_path, int64_t n_vocab)
{
    int rc;
    if (ends_with(tok_path, ".model"))
        rc = tokenizer_spm_read(v, tok_path);
    else if (ends_with(tok_path, ".bin"))
        rc = tokenizer_llama2c_read(v, tok_path, n_vocab);
    else
        return ig_error_set(IG_EINVAL, "%s: tokenizer file name must end in .model (SentencePiece) or "
                            ".bin (llama2.c tokenizer.bin)", tok_path);
    if (rc)
        return rc;
    if (v->n_tokens != n_vocab)
        return ig_error_set(IG_EINVAL, "%s: tokenizer has %lld tokens, but the checkpoint %s has "
                            "vocab_size %lld", tok_path, (long long)v->n_tokens, ckpt_path,
                            (long long)n_vocab);
    /* llama2.c's run.c always prepends BOS and never appends EOS. */
    if (v->add_bos < 0)
        v->add_bos = 1;
    if (v->add_eos < 0)
        v->add_eos = 0;
    return 0;
}

/* ---- hyperparameters --------------------------------------------------------------- */

static void hparams_fill(struct model_hparams *hp, const struct l2c_layout *lo, const char *path)
{
    memset(hp, 0, sizeof *hp);
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_vocab = lo->n_vocab;
    hp->n_ctx_train = lo->seq_len;
    hp->n_embd = lo->dim;
    hp->n_ff = lo->hidden;
    hp->n_layer = lo->n_layer;
    hp->n_head = lo->n_head;
    hp->n_head_kv = lo->n_head_kv;
    hp->head_dim = lo->head_size;
    hp->n_rot = lo->head_size;
    hp->rms_eps = 1e-5f;          /* run.c's rmsnorm adds 1e-5 */
    hp->rope_theta = 10000.0f;    /* run.c's rope: 10000^(-i/head_size) */
    hp->tie_embeddings = lo->shared_cls;

    /* name: the file's base name without its extension ("stories260K") */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= sizeof hp->name)
        n = sizeof hp->name - 1;
    memcpy(hp->name, base, n);
    hp->name[n] = '\0';
}

/* ---- public ------------------------------------------------------------------------ */

int llama2c_probe(const uint8_t *data, uint64_t size_bytes)
{
    struct llama2c_header h;
    struct l2c_layout lo;
    char why[256];
    if (!data || size_bytes < L2C_HEADER_BYTES)
        return 0;
    header_read(&h, data);
    return layout_from_header(&lo, &h, why, sizeof why) == 0 && lo.size_bytes == size_bytes;
}

/* Undo what llama2c_open added to src after n_tensors0 / n_files0, so that a failed open
 * leaves src as it found it (model_src_close then works the same either way). */
static void src_rollback(struct model_src *src, int64_t n_tensors0, int n_files0)
{
    src->n_tensors = n_tensors0;
    if (n_tensors0 == 0) {
        free(src->tensors);
        src->tensors = NULL;
    }
    for (int i = n_files0; i < src->n_files; i++)
        free(src->files[i].path);
    src->n_files = n_files0;
    if (n_files0 == 0) {
        free(src->files);
        src->files = NULL;
    }
}

static void l2c_impl_close(void *impl)
{
    struct l2c_impl *p = impl;
    if (!p)
        return;
    file_map_close(&p->map);
    free(p);
}

/* The order matters for the messages: every header fault is reported before the tokenizer
 * is looked for, and src is touched only after everything that reads input succeeded,
 * except for model_src_add_* (out of memory only), which src_rollback undoes. */
int llama2c_open(struct model_src *src, const char *path, const char *tokenizer_path)
{
    struct llama2c_header h;
    struct l2c_layout lo;
    struct vocab v;
    struct stat tok_st;
    char why[256];
    char *tok_found = NULL;
    const struct file_map *map;
    const int64_t n_tensors0 = src->n_tensors;
    const int n_files0 = src->n_files;
    int rc;

    vocab_init(&v);
    struct l2c_impl *impl = ig_calloc(1, sizeof *impl);
    if (!impl)
        return IG_ENOMEM;
    if ((rc = file_map_open(&impl->map, path)))
        goto out_free_impl;
    map = &impl->map;
    if (map->size_bytes < L2C_HEADER_BYTES) {
        rc = ig_error_set(IG_EINVAL, "%s: %zu bytes, too short for the %d-byte llama2.c header", path,
                          map->size_bytes, L2C_HEADER_BYTES);
        goto out_unmap;
    }
    header_read(&h, map->data);
    if (layout_from_header(&lo, &h, why, sizeof why)) {
        rc = ig_error_set(IG_EINVAL, "%s: %s", path, why);
        goto out_unmap;
    }
    if (lo.size_bytes != map->size_bytes) {
        rc = ig_error_set(IG_EINVAL, "%s: header says dim=%d hidden_dim=%d n_layers=%d n_heads=%d "
                          "n_kv_heads=%d vocab_size=%d seq_len=%d, which needs %llu bytes, file has %zu",
                          path, (int)h.dim, (int)h.hidden_dim, (int)h.n_layers, (int)h.n_heads,
                          (int)h.n_kv_heads, (int)h.vocab_size, (int)h.seq_len,
                          (unsigned long long)lo.size_bytes, map->size_bytes);
        goto out_unmap;
    }

    if (!tokenizer_path) {
        tok_found = tokenizer_find(path, lo.n_vocab, &rc);
        if (!tok_found)
            goto out_unmap;
        tokenizer_path = tok_found;
    }
    if ((rc = tokenizer_load(&v, tokenizer_path, path, lo.n_vocab)))
        goto out_vocab;
    if (stat(tokenizer_path, &tok_st) != 0) {   /* its size, for provenance */
        rc = ig_error_set(IG_EIO, "%s: cannot stat: %s", tokenizer_path, strerror(errno));
        goto out_vocab;
    }

    if ((rc = add_tensors(src, map, &lo)) ||
        (rc = model_src_add_file(src, map->path, map->size_bytes)) ||
        (rc = model_src_add_file(src, tokenizer_path, (uint64_t)tok_st.st_size)))
        goto out_rollback;

    src->kind = MODEL_SRC_LLAMA2C;
    hparams_fill(&src->hp, &lo, path);
    vocab_free(&src->vocab);
    src->vocab = v;              /* moved: v's arrays now belong to src */
    src->impl = impl;
    src->impl_close = l2c_impl_close;
    free(tok_found);
    return 0;

out_rollback:
    src_rollback(src, n_tensors0, n_files0);
out_vocab:
    vocab_free(&v);
    free(tok_found);
out_unmap:
    file_map_close(&impl->map);
out_free_impl:
    free(impl);
    return rc;
}
