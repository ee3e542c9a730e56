/* test_llama2c.c — the llama2.c checkpoint reader: the golden comparison against the GGUF
 * llama.cpp's convert-llama2c-to-ggml made from stories260K.bin, a synthetic checkpoint whose
 * floats are their own indices (so every view's offset is checked), tokenizer lookup, and
 * one test per kind of hostile header, each checking that a failed open leaves src untouched.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "formats/llama2c.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------- */

/* A zeroed source as model_src_open hands it to a reader. */
static void src_init(struct model_src *src)
{
    memset(src, 0, sizeof *src);
    vocab_init(&src->vocab);
}

/* What model_src_close does, minus freeing the struct (it lives on the stack here). */
static void src_release(struct model_src *src)
{
    if (src->impl_close)
        src->impl_close(src->impl);
    vocab_free(&src->vocab);
    for (int i = 0; i < src->n_files; i++)
        free(src->files[i].path);
    free(src->files);
    free(src->tensors);
    memset(src, 0, sizeof *src);
}

/* A failed open must leave src as it was given. */
static void expect_untouched(const struct model_src *src, const char *what)
{
    cr_expect_eq(src->n_tensors, 0, "[%s] a failed open left %lld tensors", what, (long long)src->n_tensors);
    cr_expect_null(src->tensors, "[%s] a failed open left the tensor array", what);
    cr_expect_eq(src->n_files, 0, "[%s] a failed open left %d files", what, src->n_files);
    cr_expect_null(src->files, "[%s] a failed open left the file array", what);
    cr_expect_null(src->impl, "[%s] a failed open left its mapping", what);
    cr_expect_eq(src->vocab.n_tokens, 0, "[%s] a failed open left a vocabulary", what);
    cr_expect_eq((int)src->kind, 0, "[%s] a failed open set the kind", what);
}

static const char *stories_bin(void)
{
    const char *p = test_shared_path("llama2c-stories260K/stories260K.bin");
    if (!p)
        cr_skip_test("../shared/data/llama2c-stories260K is missing (set INGOT_DATA)");
    return p;
}

/* Write a llama2.c header and `n_floats` floats whose value is their own index into
 * dir/name; returns the path (static buffer). */
static const char *write_ckpt(const char *dir, const char *name, const int32_t header[7], int64_t n_floats)
{
    static char path[4200];
    size_t size_bytes = 28 + (size_t)n_floats * 4;
    uint8_t *buf = malloc(size_bytes);
    cr_assert(buf);
    memcpy(buf, header, 28);   /* the tests run on little-endian hosts only, as ingot does */
    for (int64_t i = 0; i < n_floats; i++) {
        float f = (float)i;
        memcpy(buf + 28 + 4 * i, &f, 4);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(test_write_file(path, buf, size_bytes), 0, "cannot write %s", path);
    free(buf);
    return path;
}

/* A llama2.c tokenizer.bin of n tokens: "<unk>", "<s>", "</s>", then "t3", "t4", ... */
static void write_tokenizer_bin(const char *path, int n)
{
    uint8_t buf[4096];
    size_t off = 0;
    int32_t max_len = 8;
    memcpy(buf, &max_len, 4);
    off += 4;
    for (int i = 0; i < n; i++) {
        char text[16];
        if (i < 3)
            snprintf(text, sizeof text, "%s", i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : "\n</s>\n");
        else
            snprintf(text, sizeof text, "t%d", i);
        float score = (float)-i;
        int32_t len = (int32_t)strlen(text);
        cr_assert(off + 8 + (size_t)len <= sizeof buf);
        memcpy(buf + off, &score, 4);
        memcpy(buf + off + 4, &len, 4);
        memcpy(buf + off + 8, text, (size_t)len);
        off += 8 + (size_t)len;
    }
    cr_assert_eq(test_write_file(path, buf, off), 0, "cannot write %s", path);
}

/* The synthetic model: dim 8, hidden 12, 2 layers, 4 heads, 2 kv heads (head 2, kv_dim 4),
 * vocab 6, seq_len 3. Float counts per array, in file order (llama2c.h, item 2). */
enum { S_DIM = 8, S_HID = 12, S_L = 2, S_HEADS = 4, S_KV = 2, S_VOCAB = 6, S_SEQ = 3, S_KVDIM = 4 };
static const int64_t s_counts[] = {
    S_VOCAB * S_DIM,           /* token_embedding */
    S_L * S_DIM,               /* rms_att */
    S_L * S_DIM * S_DIM,       /* wq */
    S_L * S_KVDIM * S_DIM,     /* wk */
    S_L * S_KVDIM * S_DIM,     /* wv */
    S_L * S_DIM * S_DIM,       /* wo */
    S_L * S_DIM,               /* rms_ffn */
    S_L * S_HID * S_DIM,       /* w1 */
    S_L * S_DIM * S_HID,       /* w2 */
    S_L * S_HID * S_DIM,       /* w3 */
    S_DIM,                     /* rms_final */
    S_SEQ * (S_DIM / S_HEADS / 2) * 2, /* freq_cis real + imag */
};
enum { A_EMB, A_RMS_ATT, A_WQ, A_WK, A_WV, A_WO, A_RMS_FFN, A_W1, A_W2, A_W3, A_RMS_FINAL, A_FREQ, A_WCLS };

/* Index of the first float of array a (A_WCLS: the one after freq_cis). */
static int64_t s_start(int a)
{
    int64_t start = 0;
    for (int i = 0; i < a; i++)
        start += s_counts[i];
    return start;
}

/* Write the synthetic checkpoint (shared classifier when vocab_sign > 0) and tok6.bin
 * beside it; returns the checkpoint's path. */
static const char *write_synthetic(const char *dir, int vocab_sign)
{
    const int32_t header[7] = {S_DIM, S_HID, S_L, S_HEADS, S_KV, vocab_sign * S_VOCAB, S_SEQ};
    int64_t n = s_start(A_WCLS) + (vocab_sign < 0 ? S_VOCAB * S_DIM : 0);
    char tok[4200];
    snprintf(tok, sizeof tok, "%s/tok%d.bin", dir, S_VOCAB);
    write_tokenizer_bin(tok, S_VOCAB);
    return write_ckpt(dir, "synth.bin", header, n);
}

/* ---- the golden file --------------------------------------------------------------- */

/* Just the tensor-info table of a GGUF v3 file, enough to compare against. */
struct golden_tensor {
    char name[64];
    uint32_t n_dims;
    int64_t ne[4];
    int32_t type;
    const uint8_t *data;
};

struct golden {
    uint8_t *file;
    size_t size_bytes;
    uint64_t n_tensors;
    struct golden_tensor t[64];
};

/* A tiny bounds-checked cursor over the file. */
struct cursor {
    const uint8_t *p;
    size_t off, size;
};

static const uint8_t *take(struct cursor *c, size_t n)
{
    cr_assert(n <= c->size - c->off, "golden GGUF: %zu bytes at %zu run past the end", n, c->off);
    const uint8_t *p = c->p + c->off;
    c->off += n;
    return p;
}

static uint64_t take_u64(struct cursor *c)
{
    uint64_t v;
    memcpy(&v, take(c, 8), 8);
    return v;
}

static uint32_t take_u32(struct cursor *c)
{
    uint32_t v;
    memcpy(&v, take(c, 4), 4);
    return v;
}

/* Skip one KV value of GGUF type t. */
static void skip_value(struct cursor *c, int32_t t)
{
    static const int fixed[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    cr_assert(t >= 0 && t <= 12, "golden GGUF: value type %d", t);
    if (t == 8) {
        take(c, take_u64(c));
    } else if (t == 9) {
        int32_t et = (int32_t)take_u32(c);
        uint64_t n = take_u64(c);
        for (uint64_t i = 0; i < n; i++)
            skip_value(c, et);
    } else {
        take(c, (size_t)fixed[t]);
    }
}

static void golden_load(struct golden *g, const char *path)
{
    memset(g, 0, sizeof *g);
    g->file = test_read_file(path, &g->size_bytes);
    cr_assert(g->file, "cannot read %s", path);
    struct cursor c = {g->file, 0, g->size_bytes};
    cr_assert(memcmp(take(&c, 4), "GGUF", 4) == 0);
    cr_assert_eq(take_u32(&c), 3, "golden GGUF is not version 3");
    g->n_tensors = take_u64(&c);
    uint64_t n_kv = take_u64(&c);
    cr_assert(g->n_tensors <= 64);
    for (uint64_t i = 0; i < n_kv; i++) {
        take(&c, take_u64(&c));                     /* key */
        skip_value(&c, (int32_t)take_u32(&c));
    }
    uint64_t offsets[64];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct golden_tensor *t = &g->t[i];
        uint64_t len = take_u64(&c);
        cr_assert(len < sizeof t->name);
        memcpy(t->name, take(&c, len), len);
        t->n_dims = take_u32(&c);
        cr_assert(t->n_dims >= 1 && t->n_dims <= 4);
        for (int d = 0; d < 4; d++)
            t->ne[d] = d < (int)t->n_dims ? (int64_t)take_u64(&c) : 1;
        t->type = (int32_t)take_u32(&c);
        offsets[i] = take_u64(&c);
    }
    size_t data_start = (c.off + 31) / 32 * 32;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        cr_assert(offsets[i] <= g->size_bytes - data_start, "golden tensor %s offset past the end", g->t[i].name);
        g->t[i].data = g->file + data_start + offsets[i];
    }
}

static const struct golden_tensor *golden_find(const struct golden *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->t[i].name, name) == 0)
            return &g->t[i];
    return NULL;
}

/* ---- stories260K ------------------------------------------------------------------- */

Test(llama2c, probe_recognises_stories260K_only_at_its_exact_size)
{
    size_t size_bytes = 0;
    uint8_t *data = test_read_file(stories_bin(), &size_bytes);
    cr_assert(data);
    cr_expect(llama2c_probe(data, size_bytes), "the real checkpoint is not recognised");
    cr_expect(!llama2c_probe(data, size_bytes - 1), "one byte short is recognised");
    cr_expect(!llama2c_probe(data, size_bytes + 4), "one float long is recognised");
    cr_expect(!llama2c_probe(data, 27), "a truncated header is recognised");
    int32_t zero = 0;
    memcpy(data + 12, &zero, 4);   /* n_heads = 0 */
    cr_expect(!llama2c_probe(data, size_bytes), "n_heads = 0 is recognised");
    free(data);
}

Test(llama2c, probe_does_not_touch_the_error_message)
{
    uint8_t zeros[64] = {0};
    ig_error_set(IG_EINVAL, "sentinel");
    cr_expect(!llama2c_probe(zeros, sizeof zeros));
    cr_expect_str_eq(ig_error_message(), "sentinel");
}

Test(llama2c, hparams_of_stories260K)
{
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    const struct model_hparams *hp = &src.hp;
    cr_expect_eq(src.kind, MODEL_SRC_LLAMA2C);
    cr_expect_str_eq(hp->arch, "llama");
    cr_expect_str_eq(hp->name, "stories260K");
    cr_expect_eq(hp->n_vocab, 512);
    cr_expect_eq(hp->n_ctx_train, 512);
    cr_expect_eq(hp->n_embd, 64);
    cr_expect_eq(hp->n_ff, 172);
    cr_expect_eq(hp->n_layer, 5);
    cr_expect_eq(hp->n_head, 8);
    cr_expect_eq(hp->n_head_kv, 4);
    cr_expect_eq(hp->head_dim, 8);
    cr_expect_eq(hp->n_rot, 8);
    cr_expect(!hp->head_dim_explicit);
    cr_expect_eq(hp->rms_eps, 1e-5f);
    cr_expect_eq(hp->rope_theta, 10000.0f);
    cr_expect(hp->tie_embeddings);
    cr_expect(!hp->attn_qkv_bias);
    src_release(&src);
}

/* Every tensor must equal, in name, order, shape, type and bytes, the one llama.cpp's
 * convert-llama2c-to-ggml wrote into gguf-stories260K/stories260K.gguf. */
Test(llama2c, tensors_match_llama_cpp_converter)
{
    const char *gpath = test_shared_path("gguf-stories260K/stories260K.gguf");
    if (!gpath)
        cr_skip_test("../shared/data/gguf-stories260K is missing (set INGOT_DATA)");
    struct golden g;
    golden_load(&g, gpath);
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(src.n_tensors, 48);
    cr_expect_eq((uint64_t)src.n_tensors, g.n_tensors);
    for (int64_t i = 0; i < src.n_tensors; i++) {
        const struct src_tensor *t = &src.tensors[i];
        const struct golden_tensor *gt = golden_find(&g, t->name);
        cr_expect(gt, "tensor %s is not in the golden file", t->name);
        if (!gt)
            continue;
        cr_expect_str_eq(t->name, g.t[i].name, "tensor %lld: %s, golden order has %s", (long long)i, t->name,
                         g.t[i].name);
        cr_expect_eq((uint32_t)t->n_dims, gt->n_dims, "%s: n_dims %d vs %u", t->name, t->n_dims, gt->n_dims);
        for (int d = 0; d < 4; d++)
            cr_expect_eq(t->ne[d], gt->ne[d], "%s: ne[%d] %lld vs %lld", t->name, d, (long long)t->ne[d],
                         (long long)gt->ne[d]);
        cr_expect_eq(t->type, GGML_TYPE_F32);
        cr_expect_eq(gt->type, GGML_TYPE_F32);
        uint64_t n = (uint64_t)gt->ne[0] * gt->ne[1] * gt->ne[2] * gt->ne[3] * 4;
        cr_expect_eq(t->size_bytes, n, "%s: %llu bytes vs %llu", t->name, (unsigned long long)t->size_bytes,
                     (unsigned long long)n);
        cr_expect(gt->data + n <= g.file + g.size_bytes, "%s: golden data past the end", t->name);
        if (t->size_bytes == n && gt->data + n <= g.file + g.size_bytes)
            cr_expect(memcmp(t->data, gt->data, n) == 0, "%s: bytes differ from the golden file", t->name);
        cr_expect_eq(t->permute_n_head, 0, "%s is permuted", t->name);
        cr_expect_str_eq(t->file, stories_bin());
    }
    src_release(&src);
    free(g.file);
}

Test(llama2c, shared_classifier_is_a_view_of_the_embedding)
{
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    const struct src_tensor *emb = model_src_find(&src, "token_embd.weight");
    const struct src_tensor *out = model_src_find(&src, "output.weight");
    cr_assert(emb && out);
    cr_expect_eq(out->data, emb->data);
    cr_expect_eq(emb->data, (const uint8_t *)src.tensors[0].data);
    cr_expect_str_eq(emb->src_name, "token_embedding_table");
    const struct src_tensor *wq3 = model_src_find(&src, "blk.3.attn_q.weight");
    cr_assert(wq3);
    cr_expect_str_eq(wq3->src_name, "wq[3]");
    src_release(&src);
}

Test(llama2c, finds_tok512_model_beside_checkpoint)
{
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(src.vocab.n_tokens, 512);
    cr_expect_str_eq(src.vocab.model, "llama");
    cr_expect_eq(src.vocab.add_bos, 1);
    cr_expect_eq(src.vocab.add_eos, 0);
    cr_assert_eq(src.n_files, 2);
    cr_expect_str_eq(src.files[0].path, stories_bin());
    cr_expect_eq(src.files[0].size_bytes, 1056540);
    cr_expect(strstr(src.files[1].path, "tok512.model") != NULL, "tokenizer recorded as %s", src.files[1].path);
    cr_expect_eq(src.files[1].size_bytes, 7522);
    src_release(&src);
}

Test(llama2c, explicit_tokenizer_bin)
{
    const char *tok = test_shared_path("llama2c-stories260K/tok512.bin");
    if (!tok)
        cr_skip_test("../shared/data/llama2c-stories260K/tok512.bin is missing");
    char tok_path[4200];
    snprintf(tok_path, sizeof tok_path, "%s", tok);
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), tok_path);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(src.vocab.n_tokens, 512);
    cr_expect_eq(src.vocab.add_bos, 1);
    cr_assert_eq(src.n_files, 2);
    cr_expect_str_eq(src.files[1].path, tok_path);
    cr_expect_eq(src.files[1].size_bytes, 6227);
    src_release(&src);
}

Test(llama2c, tokenizer_of_another_size_is_refused)
{
    const char *tok = test_shared_path("llama2-tokenizer/tokenizer.model");
    if (!tok)
        cr_skip_test("../shared/data/llama2-tokenizer is missing");
    char tok_path[4200];
    snprintf(tok_path, sizeof tok_path, "%s", tok);
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), tok_path);
    const char *msg = ig_error_message();
    cr_expect_eq(rc, IG_EINVAL, "rc %d: %s", rc, msg);
    cr_expect(strstr(msg, "32000") && strstr(msg, "512") && strstr(msg, "tokenizer.model"),
              "message names neither size or the file: %s", msg);
    expect_untouched(&src, "vocab mismatch");
}

Test(llama2c, no_tokenizer_beside_checkpoint)
{
    size_t size_bytes = 0;
    uint8_t *data = test_read_file(stories_bin(), &size_bytes);
    cr_assert(data);
    const char *dir = test_tmp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/stories260K.bin", dir);
    cr_assert_eq(test_write_file(path, data, size_bytes), 0);
    free(data);
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, path, NULL);
    const char *msg = ig_error_message();
    char want[4600];
    snprintf(want, sizeof want, "%s: no tokenizer beside the checkpoint (looked for tokenizer.model, "
             "tok512.model, tokenizer.bin, tok512.bin); pass --tokenizer FILE", path);
    cr_expect_eq(rc, IG_EINVAL);
    cr_expect_str_eq(msg, want);
    expect_untouched(&src, "no tokenizer");
}

Test(llama2c, tokenizer_with_unknown_extension_is_refused)
{
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, stories_bin(), "/tmp/tokenizer.txt");
    cr_expect_eq(rc, IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "/tmp/tokenizer.txt") != NULL, "%s", ig_error_message());
    expect_untouched(&src, "tokenizer.txt");
}

/* ---- the synthetic checkpoint ------------------------------------------------------ */

/* Expected name, ne, first float (= its index in the file) of each tensor, in order. */
static void expect_synthetic_layout(const struct model_src *src, int shared)
{
    struct want { char name[64]; int n_dims; int64_t ne0, ne1, first; } w[3 + 9 * S_L];
    int n = 0;
    w[n++] = (struct want){"token_embd.weight", 2, S_DIM, S_VOCAB, s_start(A_EMB)};
    w[n++] = (struct want){"output_norm.weight", 1, S_DIM, 1, s_start(A_RMS_FINAL)};
    w[n++] = (struct want){"output.weight", 2, S_DIM, S_VOCAB, shared ? s_start(A_EMB) : s_start(A_WCLS)};
    for (int l = 0; l < S_L; l++) {
        const struct { const char *suffix; int a, n_dims; int64_t ne0, ne1; } b[9] = {
            {"attn_q", A_WQ, 2, S_DIM, S_DIM},    {"attn_k", A_WK, 2, S_DIM, S_KVDIM},
            {"attn_v", A_WV, 2, S_DIM, S_KVDIM},  {"attn_output", A_WO, 2, S_DIM, S_DIM},
            {"attn_norm", A_RMS_ATT, 1, S_DIM, 1}, {"ffn_gate", A_W1, 2, S_DIM, S_HID},
            {"ffn_down", A_W2, 2, S_HID, S_DIM},  {"ffn_up", A_W3, 2, S_DIM, S_HID},
            {"ffn_norm", A_RMS_FFN, 1, S_DIM, 1},
        };
        for (int k = 0; k < 9; k++, n++) {
            snprintf(w[n].name, sizeof w[n].name, "blk.%d.%s.weight", l, b[k].suffix);
            w[n].n_dims = b[k].n_dims;
            w[n].ne0 = b[k].ne0;
            w[n].ne1 = b[k].ne1;
            w[n].first = s_start(b[k].a) + l * b[k].ne0 * b[k].ne1;
        }
    }
    cr_assert_eq(src->n_tensors, n, "%lld tensors, expected %d", (long long)src->n_tensors, n);
    for (int i = 0; i < n; i++) {
        const struct src_tensor *t = &src->tensors[i];
        float first, last;
        memcpy(&first, t->data, 4);
        memcpy(&last, t->data + t->size_bytes - 4, 4);
        cr_expect_str_eq(t->name, w[i].name, "tensor %d", i);
        cr_expect_eq(t->n_dims, w[i].n_dims, "%s: n_dims %d", t->name, t->n_dims);
        cr_expect(t->ne[0] == w[i].ne0 && t->ne[1] == w[i].ne1 && t->ne[2] == 1 && t->ne[3] == 1,
                  "%s: ne [%lld, %lld, %lld, %lld], expected [%lld, %lld, 1, 1]", t->name, (long long)t->ne[0],
                  (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], (long long)w[i].ne0,
                  (long long)w[i].ne1);
        cr_expect_eq(t->size_bytes, (uint64_t)(w[i].ne0 * w[i].ne1 * 4), "%s: size", t->name);
        cr_expect_eq(first, (float)w[i].first, "%s: starts at float %g, expected %lld", t->name, (double)first,
                     (long long)w[i].first);
        cr_expect_eq(last, (float)(w[i].first + w[i].ne0 * w[i].ne1 - 1), "%s: ends at float %g", t->name,
                     (double)last);
        cr_expect_eq(t->type, GGML_TYPE_F32);
    }
}

Test(llama2c, synthetic_shared_layout)
{
    const char *path = write_synthetic(test_tmp_dir(), 1);
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, path, NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    expect_synthetic_layout(&src, 1);
    cr_expect(src.hp.tie_embeddings);
    cr_expect_str_eq(src.hp.name, "synth");
    cr_expect_eq(src.hp.head_dim, 2);
    cr_expect_eq(src.hp.n_head_kv, S_KV);
    cr_expect_eq(src.vocab.n_tokens, S_VOCAB);
    cr_expect_str_eq(src.vocab.tokens[1], "<s>");
    src_release(&src);
}

Test(llama2c, synthetic_unshared_classifier_is_wcls)
{
    const char *path = write_synthetic(test_tmp_dir(), -1);
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, path, NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    expect_synthetic_layout(&src, 0);
    cr_expect(!src.hp.tie_embeddings);
    cr_expect_eq(src.hp.n_vocab, S_VOCAB);
    const struct src_tensor *out = model_src_find(&src, "output.weight");
    cr_assert(out);
    cr_expect_str_eq(out->src_name, "wcls");
    src_release(&src);
}

Test(llama2c, name_without_extension_or_folder)
{
    const char *dir = test_tmp_dir();
    const int32_t header[7] = {S_DIM, S_HID, S_L, S_HEADS, S_KV, S_VOCAB, S_SEQ};
    char tok[4200];
    snprintf(tok, sizeof tok, "%s/tokenizer.bin", dir);
    write_tokenizer_bin(tok, S_VOCAB);
    const char *path = write_ckpt(dir, "model.v2.ckpt", header, s_start(A_WCLS));
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, path, NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_str_eq(src.hp.name, "model.v2");
    cr_expect(strstr(src.files[1].path, "tokenizer.bin") != NULL, "%s", src.files[1].path);
    src_release(&src);
}

/* Fail each allocation in turn: every failure must report and leave src untouched. */
Test(llama2c, every_allocation_failure_is_clean)
{
    const char *path = write_synthetic(test_tmp_dir(), -1);
    int n_failed = 0;
    for (long n = 1; n < 1000; n++) {
        struct model_src src;
        src_init(&src);
        ig_alloc_fail_after(n);
        int rc = llama2c_open(&src, path, NULL);
        ig_alloc_fail_after(0);
        if (rc == 0) {
            expect_synthetic_layout(&src, 0);
            src_release(&src);
            break;
        }
        cr_expect_eq(rc, IG_ENOMEM, "allocation %ld failed: rc %d: %s", n, rc, ig_error_message());
        char what[32];
        snprintf(what, sizeof what, "alloc %ld", n);
        expect_untouched(&src, what);
        n_failed++;
    }
    cr_expect_gt(n_failed, 0, "no allocation was failed");
    cr_expect_lt(n_failed, 999, "llama2c_open never succeeded");
}

/* ---- hostile headers --------------------------------------------------------------- */

struct bad_header {
    const char *what;
    int32_t header[7];       /* dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len */
    int64_t n_floats;        /* after the header; -1: write only the first 12 bytes */
    const char *needles[3];
};

static const struct bad_header bad_headers[] = {
    {"truncated header", {8, 12, 2, 4, 2, 6, 3}, -1, {"12 bytes, too short", "header", NULL}},
    {"zero dim", {0, 12, 2, 4, 2, 6, 3}, 100, {"header field dim is 0, expected > 0", NULL}},
    {"negative hidden", {8, -12, 2, 4, 2, 6, 3}, 100, {"header field hidden_dim is -12", NULL}},
    {"zero layers", {8, 12, 0, 4, 2, 6, 3}, 100, {"header field n_layers is 0", NULL}},
    {"zero heads", {8, 12, 2, 0, 2, 6, 3}, 100, {"header field n_heads is 0", NULL}},
    {"zero kv heads", {8, 12, 2, 4, 0, 6, 3}, 100, {"header field n_kv_heads is 0", NULL}},
    {"zero seq_len", {8, 12, 2, 4, 2, 6, 0}, 100, {"header field seq_len is 0", NULL}},
    {"zero vocab", {8, 12, 2, 4, 2, 0, 3}, 100, {"header field vocab_size is 0", NULL}},
    {"dim not a multiple of heads", {10, 12, 2, 4, 2, 6, 3}, 100, {"dim=10 is not a multiple of n_heads=4", NULL}},
    {"kv heads not dividing", {8, 12, 2, 4, 3, 6, 3}, 100, {"n_kv_heads=3 does not divide n_heads=4", NULL}},
    {"more kv heads than heads", {8, 12, 2, 4, 8, 6, 3}, 100, {"n_kv_heads=8 does not divide n_heads=4", NULL}},
    {"sizes overflow", {2147483647, 2147483647, 2147483647, 1, 1, 2147483647, 2147483647}, 100,
     {"overflow", "dim=2147483647", NULL}},
    {"vocab_size INT32_MIN", {8, 12, 2, 4, 2, (int32_t)0x80000000, 3}, 100,
     {"vocab_size=-2147483648", "file has 428", NULL}},
    /* the synthetic model's shape: 1054 floats, 4244 bytes */
    {"one float short", {8, 12, 2, 4, 2, 6, 3}, 1053, {"which needs 4244 bytes, file has 4240", NULL}},
    {"one float long", {8, 12, 2, 4, 2, 6, 3}, 1055, {"which needs 4244 bytes, file has 4248", NULL}},
    {"shared size, unshared header", {8, 12, 2, 4, 2, -6, 3}, 1054, {"vocab_size=-6", "needs 4436 bytes, file has 4244", NULL}},
};

/* Criterion runs each parameter in a fresh process of a re-executed (address-randomised)
 * binary, so a parameter may not hold pointers: it is the row's index. */
ParameterizedTestParameters(llama2c, rejects_bad_header)
{
    static int rows[sizeof bad_headers / sizeof bad_headers[0]];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        rows[i] = (int)i;
    return cr_make_param_array(int, rows, sizeof rows / sizeof rows[0]);
}

ParameterizedTest(int *row, llama2c, rejects_bad_header)
{
    const struct bad_header *c = &bad_headers[*row];
    const char *dir = test_tmp_dir();
    char path[4200];
    if (c->n_floats < 0) {
        snprintf(path, sizeof path, "%s/bad.bin", dir);
        cr_assert_eq(test_write_file(path, c->header, 12), 0);
    } else {
        snprintf(path, sizeof path, "%s", write_ckpt(dir, "bad.bin", c->header, c->n_floats));
    }
    /* The probe must refuse it too. */
    size_t size_bytes = 0;
    uint8_t *data = test_read_file(path, &size_bytes);
    cr_assert(data);
    cr_expect(!llama2c_probe(data, size_bytes), "[%s] the probe accepts it", c->what);
    free(data);

    struct model_src src;
    src_init(&src);
    ig_error_clear();
    int rc = llama2c_open(&src, path, NULL);
    const char *msg = ig_error_message();
    cr_expect_eq(rc, IG_EINVAL, "[%s] rc %d: %s", c->what, rc, msg);
    cr_expect(strncmp(msg, path, strlen(path)) == 0, "[%s] message does not start with the file: %s", c->what,
              msg);
    for (int i = 0; c->needles[i]; i++)
        cr_expect(strstr(msg, c->needles[i]) != NULL, "[%s] message \"%s\" lacks \"%s\"", c->what, msg,
                  c->needles[i]);
    expect_untouched(&src, c->what);
}

Test(llama2c, missing_file_is_bad_input)
{
    struct model_src src;
    src_init(&src);
    int rc = llama2c_open(&src, "/nonexistent/ingot/x.bin", NULL);
    cr_expect_eq(rc, IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "/nonexistent/ingot/x.bin") != NULL, "%s", ig_error_message());
    expect_untouched(&src, "missing file");
}

/* ---- the catalogue under tests/data/bad -------------------------------------------- */

/* Every l2c-* line of config.tsv (written by tests/data/bad/gen_config.py): llama2c_open
 * must fail with IG_EINVAL, a message holding every substring, and src untouched. */
Test(llama2c, bad_catalogue)
{
    size_t size_bytes = 0;
    char *tsv = (char *)test_read_file(test_fixture_path("bad/config.tsv"), &size_bytes);
    cr_assert(tsv, "tests/data/bad/config.tsv is missing: run tests/data/bad/gen_config.py");
    tsv[size_bytes] = '\0';
    int n_cases = 0;
    char *save_line = NULL;
    for (char *line = strtok_r(tsv, "\n", &save_line); line; line = strtok_r(NULL, "\n", &save_line)) {
        char *save = NULL, *fields[8];
        int n = 0;
        for (char *f = strtok_r(line, "\t", &save); f && n < 8; f = strtok_r(NULL, "\t", &save))
            fields[n++] = f;
        if (n == 0 || strncmp(fields[0], "l2c-", 4) != 0)
            continue;
        cr_expect_geq(n, 3, "[%s] config.tsv names fewer than two substrings", fields[0]);
        char rel[256];
        snprintf(rel, sizeof rel, "bad/%s", fields[0]);
        struct model_src src;
        src_init(&src);
        ig_error_clear();
        int rc = llama2c_open(&src, test_fixture_path(rel), NULL);
        const char *msg = ig_error_message();
        cr_expect_eq(rc, IG_EINVAL, "[%s] rc %d; message: %s", fields[0], rc, msg);
        for (int i = 1; i < n; i++)
            cr_expect(strstr(msg, fields[i]) != NULL, "[%s] message \"%s\" lacks \"%s\"", fields[0], msg,
                      fields[i]);
        expect_untouched(&src, fields[0]);
        n_cases++;
    }
    cr_expect_geq(n_cases, 4, "at least 4 l2c-* cases, found %d", n_cases);
    free(tsv);
}
