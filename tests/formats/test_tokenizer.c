/* test_tokenizer.c — the tokenizer readers (tokenizer.h) against llama.cpp's own
 * conversions, and one test per kind of bad input.
 *
 * Golden files: llama.cpp wrote ../shared/data/llamacpp-vocab/ggml-vocab-llama-spm.gguf
 * from llama2-tokenizer/tokenizer.model, and peers/tl3m/tl3m-F16.gguf from ../tl3m
 * (tokenizer.model = tok512.model, plus tokenizer_config.json); a small GGUF reader below
 * pulls their tokenizer.ggml.* keys. Hostile inputs are built in memory (a protobuf writer
 * for tokenizer.model, JSON text for tokenizer.json) and written to a temporary folder. The
 * bad_catalogue tests run tests/data/bad/tokenizer.tsv through the readers directly.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/tokenizer.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers: messages, temporary files -------------------------------------------------- */

/* Expect rc == IG_EINVAL and every needle in the message. */
static void expect_einval(int rc, const char *const *needles)
{
    const char *msg = ig_error_message();
    cr_expect_eq(rc, IG_EINVAL, "rc %d, expected IG_EINVAL; message: %s", rc, msg);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(msg, needles[i]) != NULL, "message \"%s\" lacks \"%s\"", msg, needles[i]);
}

#define EXPECT_EINVAL(rc, ...) expect_einval((rc), (const char *const[]){__VA_ARGS__, NULL})

/* Write data to <fresh tmp dir>/name; returns the path (static buffer). */
static const char *write_tmp(const char *name, const void *data, size_t size)
{
    static char path[4200];
    const char *dir = test_tmp_dir();
    cr_assert(dir, "cannot make a temporary folder");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(test_write_file(path, data ? data : "", size), 0, "cannot write %s", path);
    return path;
}

/* Remove a file written by write_tmp and its folder. */
static void remove_tmp(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    unlink(path);
    if (slash) {
        *slash = '\0';
        rmdir(dir);
    }
}

/* ---- helpers: a minimal GGUF v3 reader (the tokenizer.ggml.* keys of the golden files) ---- */

struct gguf_mini {
    uint8_t *data;
    size_t size;
};

static size_t gguf_scalar_size(int32_t type)
{
    static const size_t sizes[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type >= 0 && type < 13 ? sizes[type] : 0;
}

static uint64_t rd_u64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static int32_t rd_i32(const uint8_t *p)
{
    int32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* Advance *off past one value of type; asserts the file is well formed. */
static void gguf_skip(const struct gguf_mini *g, size_t *off, int32_t type)
{
    if (type == 8) {
        cr_assert_leq(*off + 8, g->size);
        *off += 8 + rd_u64(g->data + *off);
    } else if (type == 9) {
        cr_assert_leq(*off + 12, g->size);
        int32_t et = rd_i32(g->data + *off);
        uint64_t n = rd_u64(g->data + *off + 4);
        *off += 12;
        for (uint64_t i = 0; i < n; i++)
            gguf_skip(g, off, et);
    } else {
        cr_assert_neq(gguf_scalar_size(type), 0, "GGUF value type %d", type);
        *off += gguf_scalar_size(type);
    }
    cr_assert_leq(*off, g->size, "GGUF value runs past the end");
}

/* Offset of key's value and its type, or 0 when the key is absent. */
static size_t gguf_find(const struct gguf_mini *g, const char *key, int32_t *type)
{
    cr_assert(g->size >= 24 && memcmp(g->data, "GGUF", 4) == 0, "not a GGUF file");
    uint64_t n_kv = rd_u64(g->data + 16);
    size_t off = 24;
    for (uint64_t k = 0; k < n_kv; k++) {
        uint64_t len = rd_u64(g->data + off);
        const char *name = (const char *)g->data + off + 8;
        off += 8 + len;
        *type = rd_i32(g->data + off);
        off += 4;
        if (len == strlen(key) && memcmp(name, key, len) == 0)
            return off;
        gguf_skip(g, &off, *type);
    }
    return 0;
}

static struct gguf_mini gguf_load(const char *path)
{
    struct gguf_mini g;
    g.data = test_read_file(path, &g.size);
    cr_assert(g.data, "cannot read %s", path);
    return g;
}

/* Array key with elements of elem_type: returns the element count and *first (offset). */
static uint64_t gguf_array(const struct gguf_mini *g, const char *key, int32_t elem_type, size_t *first)
{
    int32_t type;
    size_t off = gguf_find(g, key, &type);
    cr_assert(off && type == 9, "GGUF key %s missing or not an array", key);
    cr_assert_eq(rd_i32(g->data + off), elem_type, "GGUF key %s: element type", key);
    *first = off + 12;
    return rd_u64(g->data + off + 4);
}

static int64_t gguf_u32(const struct gguf_mini *g, const char *key)
{
    int32_t type;
    size_t off = gguf_find(g, key, &type);
    if (!off)
        return -1;
    cr_assert_eq(type, 4, "GGUF key %s: type", key);
    return (int64_t)(uint32_t)rd_i32(g->data + off);
}

static int gguf_bool(const struct gguf_mini *g, const char *key)
{
    int32_t type;
    size_t off = gguf_find(g, key, &type);
    if (!off)
        return -1;
    cr_assert_eq(type, 7, "GGUF key %s: type", key);
    return g->data[off] != 0;
}

/* Expect v's tokens, scores and token types to equal the GGUF's, reporting the first few
 * mismatches of each and the total. */
static void expect_vocab_equals_gguf(const struct vocab *v, const struct gguf_mini *g)
{
    size_t t_off, s_off, y_off;
    uint64_t n = gguf_array(g, "tokenizer.ggml.tokens", 8, &t_off);
    cr_assert_eq((uint64_t)v->n_tokens, n, "n_tokens %lld, GGUF has %llu", (long long)v->n_tokens,
                 (unsigned long long)n);
    cr_assert_eq(gguf_array(g, "tokenizer.ggml.scores", 6, &s_off), n);
    cr_assert_eq(gguf_array(g, "tokenizer.ggml.token_type", 5, &y_off), n);
    cr_assert(v->scores, "no scores");
    int bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = rd_u64(g->data + t_off);
        const char *text = (const char *)g->data + t_off + 8;
        t_off += 8 + len;
        float score;
        memcpy(&score, g->data + s_off + 4 * i, 4);
        int32_t type = rd_i32(g->data + y_off + 4 * i);
        int same = strlen(v->tokens[i]) == len && memcmp(v->tokens[i], text, len) == 0 && v->scores[i] == score &&
                   v->types[i] == type;
        if (!same && bad++ < 5)
            cr_expect(0, "token %llu: ours '%s' %g type %d, llama.cpp's '%.*s' %g type %d", (unsigned long long)i,
                      v->tokens[i], (double)v->scores[i], v->types[i], (int)len, text, (double)score, type);
    }
    cr_expect_eq(bad, 0, "%d of %llu tokens differ from llama.cpp's", bad, (unsigned long long)n);
}

/* ---- helpers: a protobuf writer for tokenizer.model ---------------------------------------- */

struct pbuf {
    uint8_t *p;
    size_t n, cap;
};

static void pb_put(struct pbuf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void pb_varint(struct pbuf *b, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        pb_put(b, &c, 1);
        v >>= 7;
    } while (v);
}

static void pb_key(struct pbuf *b, uint32_t num, int wire)
{
    pb_varint(b, (uint64_t)num << 3 | (uint64_t)wire);
}

static void pb_bytes(struct pbuf *b, uint32_t num, const void *d, size_t n)
{
    pb_key(b, num, 2);
    pb_varint(b, n);
    pb_put(b, d, n);
}

static void pb_f32(struct pbuf *b, uint32_t num, float f)
{
    pb_key(b, num, 5);
    pb_put(b, &f, 4);
}

/* A SentencePiece message (type 0: leave the field out) as field 1 of b. */
static void pb_piece(struct pbuf *b, const char *text, size_t len, float score, int type)
{
    struct pbuf p = {0};
    pb_bytes(&p, 1, text, len);
    pb_f32(&p, 2, score);
    if (type) {
        pb_key(&p, 3, 0);
        pb_varint(&p, (uint64_t)type);
    }
    pb_bytes(b, 1, p.p, p.n);
    free(p.p);
}

/* <unk>, <s>, </s>, "a", "b", "ab": a small valid model to break. */
static void pb_good_pieces(struct pbuf *b)
{
    pb_piece(b, "<unk>", 5, 0.0f, 2);
    pb_piece(b, "<s>", 3, 0.0f, 3);
    pb_piece(b, "</s>", 4, 0.0f, 3);
    pb_piece(b, "a", 1, -1.0f, 0);
    pb_piece(b, "b", 1, -2.0f, 1);
    pb_piece(b, "ab", 2, -3.0f, 1);
}

static int spm_read_buf(struct vocab *v, struct pbuf *b)
{
    const char *path = write_tmp("tokenizer.model", b->p, b->n);
    ig_error_clear();
    int rc = tokenizer_spm_read(v, path);
    remove_tmp(path);
    free(b->p);
    memset(b, 0, sizeof *b);
    return rc;
}

/* ---- tokenizer.model: real files ---------------------------------------------------------- */

Test(tokenizer_spm, llama2_model_equals_llamacpp_conversion)
{
    const char *model = test_shared_path("llama2-tokenizer/tokenizer.model");
    const char *gguf = test_shared_path("llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    if (!model || !gguf)
        cr_skip_test("../shared/data (llama2-tokenizer, llamacpp-vocab) is missing (set INGOT_DATA)");
    struct vocab v;
    int rc = tokenizer_spm_read(&v, model);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    struct gguf_mini g = gguf_load(gguf);
    cr_expect_str_eq(v.model, "llama");
    expect_vocab_equals_gguf(&v, &g);
    cr_expect_eq(v.bos_id, gguf_u32(&g, "tokenizer.ggml.bos_token_id"));
    cr_expect_eq(v.eos_id, gguf_u32(&g, "tokenizer.ggml.eos_token_id"));
    cr_expect_eq(v.unk_id, gguf_u32(&g, "tokenizer.ggml.unknown_token_id"));
    cr_expect_eq(v.pad_id, -1);
    cr_expect_eq(v.add_space_prefix, 1);
    free(g.data);
    vocab_free(&v);
}

/* llama.cpp wrote tl3m-F16.gguf from ../tl3m (tokenizer.model + tokenizer_config.json):
 * tokens, scores and types equal, bos 1, eos 2, add_bos true, add_eos false. */
Test(tokenizer_spm, tl3m_folder_equals_llamacpp_conversion)
{
    const char *folder = test_shared_path("tl3m");
    const char *gguf = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    if (!folder || !gguf)
        cr_skip_test("../shared/data (tl3m, peers/tl3m) is missing (set INGOT_DATA)");
    char model[4200];
    snprintf(model, sizeof model, "%s/tokenizer.model", folder);
    struct vocab v;
    int rc = tokenizer_spm_read(&v, model);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    rc = tokenizer_hf_apply_config(&v, folder);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    struct gguf_mini g = gguf_load(gguf);
    expect_vocab_equals_gguf(&v, &g);
    cr_expect_eq(v.bos_id, gguf_u32(&g, "tokenizer.ggml.bos_token_id"));
    cr_expect_eq(v.eos_id, gguf_u32(&g, "tokenizer.ggml.eos_token_id"));
    cr_expect_eq(v.bos_id, 1);
    cr_expect_eq(v.eos_id, 2);
    cr_expect_eq(v.add_bos, gguf_bool(&g, "tokenizer.ggml.add_bos_token"));
    cr_expect_eq(v.add_eos, gguf_bool(&g, "tokenizer.ggml.add_eos_token"));
    cr_expect_eq(v.add_bos, 1);
    cr_expect_eq(v.add_eos, 0);
    free(g.data);
    vocab_free(&v);
}

Test(tokenizer_spm, reads_tiny_fixture)
{
    struct vocab v;
    int rc = tokenizer_spm_read(&v, test_fixture_path("tiny-llama/tokenizer.model"));
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_assert_eq(v.n_tokens, 275);
    cr_expect_str_eq(v.model, "llama");
    cr_expect_str_eq(v.tokens[0], "<unk>");
    cr_expect_eq(v.types[0], VOCAB_TOKEN_UNKNOWN);
    cr_expect_eq(v.types[1], VOCAB_TOKEN_CONTROL);
    cr_expect_str_eq(v.tokens[3], "<0x00>");
    cr_expect_eq(v.types[3], VOCAB_TOKEN_BYTE);
    cr_expect_str_eq(v.tokens[258], "<0xFF>");
    cr_expect_str_eq(v.tokens[259], "\xe2\x96\x81");
    cr_expect_eq(v.types[259], VOCAB_TOKEN_NORMAL);
    cr_expect_eq(v.scores[259], 0.0f);
    cr_expect_str_eq(v.tokens[274], ",");
    cr_expect_eq(v.scores[274], -15.0f);
    cr_expect_eq(v.unk_id, 0);
    cr_expect_eq(v.bos_id, 1);
    cr_expect_eq(v.eos_id, 2);
    cr_expect_eq(v.pad_id, -1, "pad_id -1 arrives as a 10-byte varint and means unset");
    cr_expect_eq(v.add_space_prefix, 1);
    cr_expect_eq(v.add_bos, -1);
    cr_expect_eq(v.n_merges, 0);
    vocab_free(&v);
}

/* ---- tokenizer.model: in-memory variants -------------------------------------------------- */

Test(tokenizer_spm, defaults_without_specs)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    cr_assert_eq(spm_read_buf(&v, &b), 0, "%s", ig_error_message());
    cr_expect_eq(v.n_tokens, 6);
    cr_expect_eq(v.types[3], VOCAB_TOKEN_NORMAL, "type absent -> normal");
    cr_expect_eq(v.scores[5], -3.0f);
    cr_expect_eq(v.unk_id, 0);
    cr_expect_eq(v.bos_id, 1);
    cr_expect_eq(v.eos_id, 2);
    cr_expect_eq(v.pad_id, -1);
    cr_expect_eq(v.add_space_prefix, 1);
    vocab_free(&v);
}

Test(tokenizer_spm, reads_specs_and_skips_unknown_fields)
{
    struct pbuf b = {0}, t = {0}, n = {0}, p = {0};
    struct vocab v;
    uint64_t u64 = 7;
    uint32_t u32 = 9;
    pb_key(&b, 9, 1);                   /* unknown top-level fields of every wire type */
    pb_put(&b, &u64, 8);
    pb_key(&b, 10, 5);
    pb_put(&b, &u32, 4);
    pb_key(&b, 11, 0);
    pb_varint(&b, 300);
    pb_bytes(&b, 12, "xyz", 3);
    pb_good_pieces(&b);
    pb_bytes(&p, 1, "c", 1);            /* a piece with unknown fields of its own */
    pb_key(&p, 7, 1);
    pb_put(&p, &u64, 8);
    pb_key(&p, 8, 5);
    pb_put(&p, &u32, 4);
    pb_bytes(&p, 9, "q", 1);
    pb_bytes(&b, 1, p.p, p.n);
    pb_key(&t, 40, 0);                  /* unk_id -1: 10-byte varint, "no unknown token" */
    pb_varint(&t, UINT64_MAX);
    pb_key(&t, 41, 0);
    pb_varint(&t, 3);
    pb_key(&t, 42, 0);
    pb_varint(&t, 4);
    pb_key(&t, 43, 0);
    pb_varint(&t, 5);
    pb_key(&t, 1, 2);                   /* TrainerSpec.input, a repeated string */
    pb_varint(&t, 2);
    pb_put(&t, "in", 2);
    pb_bytes(&b, 2, t.p, t.n);
    pb_bytes(&n, 1, "nmt", 3);
    pb_key(&n, 3, 0);
    pb_varint(&n, 0);                   /* add_dummy_prefix false */
    pb_bytes(&b, 3, n.p, n.n);
    free(t.p);
    free(n.p);
    free(p.p);
    cr_assert_eq(spm_read_buf(&v, &b), 0, "%s", ig_error_message());
    cr_expect_eq(v.n_tokens, 7);
    cr_expect_str_eq(v.tokens[6], "c");
    cr_expect_eq(v.unk_id, -1);
    cr_expect_eq(v.bos_id, 3);
    cr_expect_eq(v.eos_id, 4);
    cr_expect_eq(v.pad_id, 5);
    cr_expect_eq(v.add_space_prefix, 0);
    vocab_free(&v);
}

Test(tokenizer_spm, fails_cleanly_on_every_allocation)
{
    const char *path = test_fixture_path("tiny-llama/tokenizer.model");
    struct vocab v;
    int rc = IG_ENOMEM;
    long n;
    for (n = 1; n < 10000 && rc; n++) {
        ig_alloc_fail_after(n);
        rc = tokenizer_spm_read(&v, path);
        ig_alloc_fail_after(0);
        cr_assert(rc == 0 || rc == IG_ENOMEM, "allocation %ld: rc %d: %s", n, rc, ig_error_message());
        cr_assert(rc == 0 || (v.n_tokens == 0 && v.tokens == NULL), "allocation %ld: vocab not reset", n);
    }
    cr_expect_eq(rc, 0, "still failing after %ld allocations", n);
    cr_expect_gt(n, 275, "the sweep should walk every piece's allocation");
    vocab_free(&v);
}

/* ---- tokenizer.model: hostile input ------------------------------------------------------- */

Test(tokenizer_spm, rejects_empty_file)
{
    struct pbuf b = {0};
    struct vocab v;
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field 'pieces'", "no pieces");
    cr_expect_eq(v.n_tokens, 0);
}

Test(tokenizer_spm, rejects_model_without_pieces)
{
    struct pbuf b = {0}, t = {0};
    struct vocab v;
    pb_key(&t, 41, 0);
    pb_varint(&t, 1);
    pb_bytes(&b, 2, t.p, t.n);
    free(t.p);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field 'pieces'", "no pieces");
}

Test(tokenizer_spm, rejects_truncated_varint)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_put(&b, "\x80", 1);   /* a field key whose varint never ends */
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "ModelProto", "field key", "truncated varint");

    pb_good_pieces(&b);      /* inside a piece: "type" (3) with a continuation bit, then the end */
    pb_bytes(&b, 1, "\x0a\x01z\x18\x80", 5);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'type' (3)", "truncated varint");
}

Test(tokenizer_spm, rejects_overlong_varint)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_key(&b, 11, 0);
    pb_put(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field 11", "longer than 10 bytes");
}

Test(tokenizer_spm, rejects_length_past_end)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_key(&b, 1, 2);
    pb_varint(&b, 100);
    pb_put(&b, "\x0a\x01z", 3);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field 'pieces' (1)", "length 100", "past the end");

    pb_good_pieces(&b);      /* a piece whose text claims more bytes than the piece holds */
    pb_bytes(&b, 1, "\x0a\x09z", 3);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'piece' (1)", "length 9");

    pb_good_pieces(&b);      /* a fixed32 cut short */
    pb_bytes(&b, 1, "\x0a\x01z\x15\x00\x00", 6);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'score' (2)", "4-byte value");
}

Test(tokenizer_spm, rejects_piece_without_text)
{
    struct pbuf b = {0}, p = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_f32(&p, 2, -1.0f);
    pb_bytes(&b, 1, p.p, p.n);
    free(p.p);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'piece' (1) is missing");
}

Test(tokenizer_spm, rejects_empty_and_oversized_piece)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_piece(&b, "", 0, 0.0f, 0);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'piece' (1)", "0 bytes");

    char *big = malloc(VOCAB_MAX_TOKEN_BYTES + 1);
    cr_assert(big);
    memset(big, 'x', VOCAB_MAX_TOKEN_BYTES + 1);
    pb_good_pieces(&b);
    pb_piece(&b, big, VOCAB_MAX_TOKEN_BYTES + 1, 0.0f, 0);
    free(big);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'piece' (1)", "65537 bytes",
                  "allowed 1..65536");
}

Test(tokenizer_spm, rejects_nul_in_piece)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_piece(&b, "a\0b", 3, 0.0f, 0);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'piece' (1)", "NUL byte at position 1");
}

Test(tokenizer_spm, rejects_bad_piece_type)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_piece(&b, "c", 1, 0.0f, 7);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'type' (3)", "7 is not a piece type",
                  "allowed 1 normal");

    pb_good_pieces(&b);      /* 0 is no type either: an explicit 0, not an absent field */
    pb_bytes(&b, 1, "\x0a\x01z\x18\x00", 5);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'type' (3)", "0 is not a piece type");
}

Test(tokenizer_spm, rejects_bad_wire_types)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_bytes(&b, 1, "\x0a\x01z\x13", 4);   /* score (2) as a group start */
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'score' (2)", "wire type 3");

    pb_good_pieces(&b);
    pb_key(&b, 20, 7);                     /* wire type 7 does not exist */
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "ModelProto", "field 20", "wire type 7");

    pb_good_pieces(&b);
    pb_bytes(&b, 1, "\x0a\x01z\x10\x01", 5);  /* score as a varint */
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'score' (2)", "wire type 0 (varint)",
                  "expected 5 (32-bit)");

    pb_good_pieces(&b);
    pb_key(&b, 2, 0);                      /* trainer_spec as a varint */
    pb_varint(&b, 1);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field 'trainer_spec' (2)", "expected 2");

    pb_good_pieces(&b);
    pb_key(&b, 0, 0);                      /* field number 0 */
    pb_varint(&b, 1);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field number 0");
}

Test(tokenizer_spm, rejects_special_id_outside_vocab)
{
    struct pbuf b = {0}, t = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_key(&t, 41, 0);
    pb_varint(&t, 6);
    pb_bytes(&b, 2, t.p, t.n);
    free(t.p);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "trainer_spec", "field 'bos_id' (41)",
                  "6 is not a piece id", "allowed -1..5");
}

Test(tokenizer_spm, rejects_non_finite_score)
{
    struct pbuf b = {0};
    struct vocab v;
    pb_good_pieces(&b);
    pb_piece(&b, "c", 1, NAN, 0);
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "piece 6", "field 'score' (2)", "not finite");
}

Test(tokenizer_spm, rejects_too_many_pieces)
{
    struct pbuf b = {0};
    struct vocab v;
    /* empty pieces, two bytes each: the count is checked before any piece is read */
    size_t n = (size_t)VOCAB_MAX_TOKENS + 1;
    b.p = malloc(2 * n);
    cr_assert(b.p);
    for (size_t i = 0; i < n; i++)
        memcpy(b.p + 2 * i, "\x0a\x00", 2);
    b.n = b.cap = 2 * n;
    EXPECT_EINVAL(spm_read_buf(&v, &b), "tokenizer.model", "field 'pieces' (1)", "more than 4194304 pieces");
}

/* ---- tokenizer.bin (llama2.c) ------------------------------------------------------------- */

Test(tokenizer_llama2c, tok512_bin_equals_tok512_model)
{
    const char *bin = test_shared_path("llama2c-stories260K/tok512.bin");
    const char *model = test_shared_path("llama2c-stories260K/tok512.model");
    if (!bin || !model)
        cr_skip_test("../shared/data/llama2c-stories260K is missing (set INGOT_DATA)");
    struct vocab a, b;
    cr_assert_eq(tokenizer_llama2c_read(&a, bin, 512), 0, "%s", ig_error_message());
    cr_assert_eq(tokenizer_spm_read(&b, model), 0, "%s", ig_error_message());
    cr_assert_eq(a.n_tokens, b.n_tokens);
    cr_expect_str_eq(a.model, "llama");
    int bad = 0;
    for (int64_t i = 0; i < a.n_tokens; i++) {
        int same = strcmp(a.tokens[i], b.tokens[i]) == 0 && a.scores[i] == b.scores[i] && a.types[i] == b.types[i];
        if (!same && bad++ < 5)
            cr_expect(0, "token %lld: bin '%s' %g type %d, model '%s' %g type %d", (long long)i, a.tokens[i],
                      (double)a.scores[i], a.types[i], b.tokens[i], (double)b.scores[i], b.types[i]);
    }
    cr_expect_eq(bad, 0, "%d tokens differ", bad);
    cr_expect_str_eq(a.tokens[1], "<s>");
    cr_expect_eq(a.types[3], VOCAB_TOKEN_BYTE);
    cr_expect_eq(a.unk_id, 0);
    cr_expect_eq(a.bos_id, 1);
    cr_expect_eq(a.eos_id, 2);
    vocab_free(&a);
    vocab_free(&b);
}

Test(tokenizer_llama2c, llama2_bin_equals_llama2_model)
{
    const char *bin = test_shared_path("llama2-tokenizer/tokenizer.bin");
    const char *model = test_shared_path("llama2-tokenizer/tokenizer.model");
    if (!bin || !model)
        cr_skip_test("../shared/data/llama2-tokenizer is missing (set INGOT_DATA)");
    struct vocab a, b;
    cr_assert_eq(tokenizer_llama2c_read(&a, bin, 32000), 0, "%s", ig_error_message());
    cr_assert_eq(tokenizer_spm_read(&b, model), 0, "%s", ig_error_message());
    int bad = 0;
    for (int64_t i = 0; i < a.n_tokens; i++)
        if (strcmp(a.tokens[i], b.tokens[i]) != 0 || a.scores[i] != b.scores[i])
            if (bad++ < 5)
                cr_expect(0, "token %lld: bin '%s' %g, model '%s' %g", (long long)i, a.tokens[i],
                          (double)a.scores[i], b.tokens[i], (double)b.scores[i]);
    cr_expect_eq(bad, 0, "%d tokens differ", bad);
    vocab_free(&a);
    vocab_free(&b);
}

/* Append one llama2.c token record. */
static void l2c_token(struct pbuf *b, float score, int32_t len, const char *text)
{
    pb_put(b, &score, 4);
    pb_put(b, &len, 4);
    pb_put(b, text, len > 0 ? (size_t)len : 0);
}

/* max_token_length 8, then <unk>, \n<s>\n, \n</s>\n, "<0x41>", " a", "": six tokens. */
static void l2c_good(struct pbuf *b)
{
    int32_t max_len = 8;
    pb_put(b, &max_len, 4);
    l2c_token(b, 0.0f, 5, "<unk>");
    l2c_token(b, 0.0f, 5, "\n<s>\n");
    l2c_token(b, 0.0f, 6, "\n</s>\n");
    l2c_token(b, 0.0f, 6, "<0x41>");
    l2c_token(b, -1.5f, 2, " a");
    l2c_token(b, -2.0f, 0, "");
}

static int l2c_read_buf(struct vocab *v, struct pbuf *b, int64_t n_vocab)
{
    const char *path = write_tmp("tokenizer.bin", b->p, b->n);
    ig_error_clear();
    int rc = tokenizer_llama2c_read(v, path, n_vocab);
    remove_tmp(path);
    free(b->p);
    memset(b, 0, sizeof *b);
    return rc;
}

Test(tokenizer_llama2c, infers_types_like_llamacpp)
{
    struct pbuf b = {0};
    struct vocab v;
    l2c_good(&b);
    cr_assert_eq(l2c_read_buf(&v, &b, 6), 0, "%s", ig_error_message());
    const char *texts[] = {"<unk>", "<s>", "</s>", "<0x41>", ("\xe2\x96\x81" "a"), ""};
    const int32_t types[] = {VOCAB_TOKEN_UNKNOWN, VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_CONTROL, VOCAB_TOKEN_BYTE,
                             VOCAB_TOKEN_NORMAL, VOCAB_TOKEN_CONTROL};
    for (int i = 0; i < 6; i++) {
        cr_expect_str_eq(v.tokens[i], texts[i], "token %d", i);
        cr_expect_eq(v.types[i], types[i], "token %d", i);
    }
    cr_expect_eq(v.scores[4], -1.5f);
    vocab_free(&v);
}

Test(tokenizer_llama2c, rejects_bad_files)
{
    struct pbuf b = {0};
    struct vocab v;
    int32_t i32;
    pb_put(&b, "\x01\x00", 2);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 6), "tokenizer.bin", "field 'max_token_length'", "2 bytes");

    i32 = -3;
    pb_put(&b, &i32, 4);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 6), "tokenizer.bin", "field 'max_token_length'", "-3");

    l2c_good(&b);
    l2c_token(&b, 0.0f, -1, "");
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 7), "tokenizer.bin", "token 6", "field 'len'", "-1 (allowed 0..65536)");

    l2c_good(&b);
    float zero = 0.0f;
    pb_put(&b, &zero, 4);
    i32 = VOCAB_MAX_TOKEN_BYTES + 1;   /* no text follows: the length is checked first */
    pb_put(&b, &i32, 4);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 7), "tokenizer.bin", "token 6", "field 'len'", "65537");

    l2c_good(&b);
    i32 = 0;
    pb_put(&b, &i32, 4);
    i32 = 50;
    pb_put(&b, &i32, 4);
    pb_put(&b, "abc", 3);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 7), "tokenizer.bin", "token 6", "field 'len'", "past the end");

    l2c_good(&b);
    pb_put(&b, "\0\0\0", 3);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 7), "tokenizer.bin", "token 6", "'score' and 'len'", "past the end");

    l2c_good(&b);
    l2c_token(&b, 0.0f, 3, "a\0b");
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 7), "tokenizer.bin", "token 6", "NUL byte at position 1");

    l2c_good(&b);
    l2c_token(&b, INFINITY, 1, "c");
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 7), "tokenizer.bin", "token 6", "field 'score'", "not finite");

    l2c_good(&b);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 5), "tokenizer.bin", "follow token 4", "declares 5 tokens");

    l2c_good(&b);
    EXPECT_EINVAL(l2c_read_buf(&v, &b, 0), "tokenizer.bin", "declares 0 tokens");
    cr_expect_eq(v.n_tokens, 0);
}

Test(tokenizer_llama2c, fails_cleanly_on_every_allocation)
{
    struct pbuf b = {0};
    l2c_good(&b);
    const char *path = write_tmp("tokenizer.bin", b.p, b.n);
    free(b.p);
    struct vocab v;
    int rc = IG_ENOMEM;
    long n;
    for (n = 1; n < 100 && rc; n++) {
        ig_alloc_fail_after(n);
        rc = tokenizer_llama2c_read(&v, path, 6);
        ig_alloc_fail_after(0);
        cr_assert(rc == 0 || rc == IG_ENOMEM, "allocation %ld: rc %d: %s", n, rc, ig_error_message());
    }
    cr_expect_eq(rc, 0);
    cr_expect_gt(n, 6);
    vocab_free(&v);
    remove_tmp(path);
}

/* ---- tokenizer.json: TinyStories-656K (SentencePiece-style BPE) ---------------------------- */

/* Sorted text → value table for the BPE cross-check below. */
struct tword {
    char *key;
    int64_t value;
};

static int tword_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tword *)a)->key, ((const struct tword *)b)->key);
}

static int64_t tword_find(const struct tword *t, size_t n, const char *key)
{
    struct tword k = {(char *)key, 0};
    const struct tword *hit = bsearch(&k, t, n, sizeof *t, tword_cmp);
    return hit ? hit->value : -1;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Split s into UTF-8 characters: sym[i] owns a copy. Returns the count. */
static size_t utf8_split(const char *s, char **sym)
{
    size_t n = 0;
    while (*s) {
        size_t len = 1;
        while (((unsigned char)s[len] & 0xc0) == 0x80)
            len++;
        sym[n] = strndup(s, len);
        n++;
        s += len;
    }
    return n;
}

static char *concat2(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + strlen(b) + 1);
    strcpy(out, a);
    strcat(out, b);
    return out;
}

/* HF BPE: merge the adjacent pair of lowest rank (ranks: "left right" keys) until none
 * is left. llama.cpp SPM: merge the adjacent pair whose concatenation is a token of
 * highest score, ties leftmost. Both leave the final symbols in sym. */
static size_t tokenize(char **sym, size_t n, const struct tword *ranks, size_t n_ranks, const struct vocab *v,
                       const struct tword *ids, size_t n_ids, int spm)
{
    for (;;) {
        size_t best_i = 0;
        double best = spm ? -INFINITY : INFINITY;
        int found = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            char *key = spm ? concat2(sym[i], sym[i + 1]) : malloc(strlen(sym[i]) + strlen(sym[i + 1]) + 2);
            if (!spm)
                sprintf(key, "%s %s", sym[i], sym[i + 1]);
            int64_t x = spm ? tword_find(ids, n_ids, key) : tword_find(ranks, n_ranks, key);
            free(key);
            if (x < 0)
                continue;
            double s = spm ? (double)v->scores[x] : (double)x;
            if (!found || (spm ? s > best : s < best)) {
                best = s;
                best_i = i;
                found = 1;
            }
        }
        if (!found)
            return n;
        char *m = concat2(sym[best_i], sym[best_i + 1]);
        free(sym[best_i]);
        free(sym[best_i + 1]);
        sym[best_i] = m;
        memmove(sym + best_i + 1, sym + best_i + 2, (n - best_i - 2) * sizeof *sym);
        n--;
    }
}

Test(tokenizer_hf, reads_tinystories)
{
    const char *path = test_shared_path("hf-TinyStories-656K/tokenizer.json");
    if (!path)
        cr_skip_test("../shared/data/hf-TinyStories-656K is missing (set INGOT_DATA)");
    struct vocab v;
    cr_assert_eq(tokenizer_hf_read(&v, path), 0, "%s", ig_error_message());
    cr_assert_eq(v.n_tokens, 2048);
    cr_expect_str_eq(v.model, "llama");
    cr_expect_str_eq(v.pre, "");
    cr_expect_str_eq(v.tokens[0], "<unk>");
    cr_expect_eq(v.types[0], VOCAB_TOKEN_UNKNOWN);
    cr_expect_eq(v.unk_id, 0);
    cr_expect_str_eq(v.tokens[1], "<|start_story|>");
    cr_expect_eq(v.types[1], VOCAB_TOKEN_CONTROL);
    cr_expect_eq(v.types[2], VOCAB_TOKEN_CONTROL);
    cr_expect_eq(v.add_space_prefix, 1);
    cr_expect_eq(v.n_merges, 0);
    cr_assert(v.scores);
    /* The first merge "e ▁" makes "e▁": highest score among merged tokens. */
    int64_t first = vocab_find(&v, "e\xe2\x96\x81");
    cr_assert_geq(first, 0);
    cr_expect_eq(v.scores[first], 0.0f);
    int64_t second = vocab_find(&v, "d\xe2\x96\x81");
    cr_assert_geq(second, 0);
    cr_expect_eq(v.scores[second], -1.0f);
    for (int64_t i = 0; i < v.n_tokens; i++) {
        if (i != first && utf8_chars(v.tokens[i]) > 1 && v.types[i] == VOCAB_TOKEN_NORMAL)
            cr_expect_lt(v.scores[i], v.scores[first], "token %lld '%s' scores %g", (long long)i, v.tokens[i],
                         (double)v.scores[i]);
        cr_expect(v.types[i] != VOCAB_TOKEN_BYTE, "TinyStories has no byte pieces; token %lld", (long long)i);
    }
    cr_expect_eq(v.scores[vocab_find(&v, "e")], 0.0f, "single characters score 0");
    vocab_free(&v);
}

/* The scores' purpose: llama.cpp's SentencePiece merge order must give the tokens HF's BPE
 * gives. Checked on every TinyStories line in the first 20000 bytes of the validation text
 * whose characters are all in the vocabulary (98 lines). */
Test(tokenizer_hf, tinystories_scores_reproduce_bpe)
{
    const char *path = test_shared_path("hf-TinyStories-656K/tokenizer.json");
    const char *text_path = test_shared_path("tinystories/tinystories_val_head.txt");
    if (!path || !text_path)
        cr_skip_test("../shared/data (hf-TinyStories-656K, tinystories) is missing (set INGOT_DATA)");
    struct vocab v;
    cr_assert_eq(tokenizer_hf_read(&v, path), 0, "%s", ig_error_message());
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    cr_assert(root, "%s", jerr.text);
    json_t *merges = json_object_get(json_object_get(root, "model"), "merges");
    size_t n_ranks = json_array_size(merges);
    struct tword *ranks = calloc(n_ranks, sizeof *ranks), *ids = calloc((size_t)v.n_tokens, sizeof *ids);
    for (size_t i = 0; i < n_ranks; i++)
        ranks[i] = (struct tword){strdup(json_string_value(json_array_get(merges, i))), (int64_t)i};
    qsort(ranks, n_ranks, sizeof *ranks, tword_cmp);   /* ranks are unique per pair here */
    for (int64_t i = 0; i < v.n_tokens; i++)
        ids[i] = (struct tword){v.tokens[i], i};
    qsort(ids, (size_t)v.n_tokens, sizeof *ids, tword_cmp);

    size_t size;
    char *text = (char *)test_read_file(text_path, &size);
    cr_assert(text);
    text[size < 20000 ? size : 20000] = '\0';
    int n_lines = 0, n_diff = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char norm[8192] = "\xe2\x96\x81", *o = norm + 3;   /* Prepend "▁", Replace " " -> "▁" */
        for (const char *c = line; *c && o < norm + sizeof norm - 4; c++) {
            if (*c == ' ') {
                memcpy(o, "\xe2\x96\x81", 3);
                o += 3;
            } else {
                *o++ = *c;
            }
        }
        *o = '\0';
        char *a[8192], *b[8192];
        size_t n = utf8_split(norm, a), known = 1;
        for (size_t i = 0; i < n; i++)
            known &= tword_find(ids, (size_t)v.n_tokens, a[i]) >= 0;
        size_t nb = utf8_split(norm, b);
        if (known) {
            size_t na = tokenize(a, n, ranks, n_ranks, &v, ids, (size_t)v.n_tokens, 0);
            nb = tokenize(b, nb, ranks, n_ranks, &v, ids, (size_t)v.n_tokens, 1);
            int same = na == nb;
            for (size_t i = 0; same && i < na; i++)
                same = strcmp(a[i], b[i]) == 0;
            n_lines++;
            if (!same && n_diff++ < 3)
                cr_expect(0, "line '%.60s': BPE gives %zu tokens, llama.cpp's SPM order %zu", line, na, nb);
            n = na;
        }
        for (size_t i = 0; i < n; i++)
            free(a[i]);
        for (size_t i = 0; i < nb; i++)
            free(b[i]);
    }
    cr_expect_geq(n_lines, 90, "only %d lines were compared", n_lines);
    cr_expect_eq(n_diff, 0, "%d of %d lines tokenize differently", n_diff, n_lines);
    for (size_t i = 0; i < n_ranks; i++)
        free(ranks[i].key);
    free(ranks);
    free(ids);
    free(text);
    json_decref(root);
    vocab_free(&v);
}

Test(tokenizer_hf, tinystories_config)
{
    const char *folder = test_shared_path("hf-TinyStories-656K");
    if (!folder)
        cr_skip_test("../shared/data/hf-TinyStories-656K is missing (set INGOT_DATA)");
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", folder);
    struct vocab v;
    cr_assert_eq(tokenizer_hf_read(&v, path), 0, "%s", ig_error_message());
    cr_assert_eq(tokenizer_hf_apply_config(&v, folder), 0, "%s", ig_error_message());
    cr_expect_eq(v.bos_id, 1);
    cr_expect_eq(v.eos_id, 2);
    cr_expect_eq(v.unk_id, 0);
    cr_expect_eq(v.pad_id, 0, "pad_token is <unk>");
    cr_expect_eq(v.add_bos, 1);
    cr_expect_eq(v.add_eos, 0);
    vocab_free(&v);
}

/* ---- tokenizer.json: in-memory variants --------------------------------------------------- */

static int hf_read_text(struct vocab *v, const char *json)
{
    const char *path = write_tmp("tokenizer.json", json, strlen(json));
    ig_error_clear();
    int rc = tokenizer_hf_read(v, path);
    remove_tmp(path);
    return rc;
}

/* A byte-level BPE (GPT-2 style): "Ġ" is U+0120. */
#define GPT2_VOCAB "{\"a\": 0, \"b\": 1, \"ab\": 2, \"\\u0120\": 3, \"\\u0120ab\": 4, \"<|endoftext|>\": 5}"
#define GPT2_ADDED "[{\"id\": 5, \"content\": \"<|endoftext|>\", \"special\": true}, " \
                   "{\"id\": 6, \"content\": \"<x>\", \"special\": false}]"

Test(tokenizer_hf, reads_byte_level_bpe)
{
    static const char json[] =
        "{\"version\": \"1.0\", \"added_tokens\": " GPT2_ADDED ", \"normalizer\": null,"
        " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
        " {\"type\": \"ByteLevel\", \"add_prefix_space\": false}]},"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"vocab\": " GPT2_VOCAB ","
        " \"merges\": [\"a b\", \"\\u0120 ab\"]}}";
    struct vocab v;
    cr_assert_eq(hf_read_text(&v, json), 0, "%s", ig_error_message());
    cr_assert_eq(v.n_tokens, 7);
    cr_expect_str_eq(v.model, "gpt2");
    cr_expect_str_eq(v.pre, "gpt-2", "ByteLevel splits with GPT-2's regex");
    cr_expect_null(v.scores);
    cr_assert_eq(v.n_merges, 2);
    cr_expect_str_eq(v.merges[0], "a b");
    cr_expect_str_eq(v.merges[1], "\xc4\xa0 ab");
    cr_expect_str_eq(v.tokens[3], "\xc4\xa0");
    cr_expect_eq(v.types[0], VOCAB_TOKEN_NORMAL);
    cr_expect_eq(v.types[5], VOCAB_TOKEN_CONTROL);
    cr_expect_eq(v.types[6], VOCAB_TOKEN_USER_DEFINED);
    cr_expect_str_eq(v.tokens[6], "<x>");
    cr_expect_eq(v.unk_id, -1);
    cr_expect_eq(v.add_space_prefix, -1);
    vocab_free(&v);
}

Test(tokenizer_hf, reads_merges_as_pairs)
{
    static const char json[] =
        "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\","
        " \"vocab\": {\"a\": 0, \"b c\": 1, \"ab c\": 2}, \"merges\": [[\"a\", \"b c\"]]}}";
    struct vocab v;
    cr_assert_eq(hf_read_text(&v, json), 0, "%s", ig_error_message());
    cr_assert_eq(v.n_merges, 1);
    cr_expect_str_eq(v.merges[0], "a b\xc4\xa0" "c", "a space inside a side is written as U+0120, as gguf-py does");
    vocab_free(&v);
}

/* A SentencePiece-style BPE with byte pieces, an added token past the vocab and a
 * multi-character token that no merge makes. */
Test(tokenizer_hf, scores_follow_merge_ranks)
{
    static const char json[] =
        "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
        " {\"id\": 8, \"content\": \"<extra>\", \"special\": false}],"
        " \"normalizer\": {\"type\": \"Sequence\","
        " \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\\u2581\"}]},"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": \"<unk>\","
        " \"vocab\": {\"<unk>\": 0, \"<0x0A>\": 1, \"a\": 2, \"b\": 3, \"\\u2581\": 4, \"ab\": 5, \"\\u2581ab\": 6,"
        " \"zz\": 7}, \"merges\": [\"a b\", \"\\u2581 ab\", \"a b\"]}}";
    struct vocab v;
    cr_assert_eq(hf_read_text(&v, json), 0, "%s", ig_error_message());
    cr_assert_eq(v.n_tokens, 9);
    cr_expect_str_eq(v.model, "llama");
    const float scores[9] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, -0.0f, -1.0f, -1e9f, 0.0f};
    const int32_t types[9] = {VOCAB_TOKEN_UNKNOWN, VOCAB_TOKEN_BYTE, VOCAB_TOKEN_NORMAL, VOCAB_TOKEN_NORMAL,
                              VOCAB_TOKEN_NORMAL, VOCAB_TOKEN_NORMAL, VOCAB_TOKEN_NORMAL, VOCAB_TOKEN_NORMAL,
                              VOCAB_TOKEN_USER_DEFINED};
    for (int i = 0; i < 9; i++) {
        cr_expect_eq(v.scores[i], scores[i], "token %d '%s': score %g, expected %g", i, v.tokens[i],
                     (double)v.scores[i], (double)scores[i]);
        cr_expect_eq(v.types[i], types[i], "token %d '%s': type %d", i, v.tokens[i], v.types[i]);
    }
    cr_expect_eq(v.unk_id, 0);
    cr_expect_eq(v.add_space_prefix, 1);
    vocab_free(&v);
}

Test(tokenizer_hf, space_prefix_from_metaspace)
{
    struct vocab v;
    static const char with[] =
        "{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"first\"},"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}}";
    static const char never[] =
        "{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"never\"},"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}}";
    cr_assert_eq(hf_read_text(&v, with), 0, "%s", ig_error_message());
    cr_expect_eq(v.add_space_prefix, 1);
    vocab_free(&v);
    cr_assert_eq(hf_read_text(&v, never), 0, "%s", ig_error_message());
    cr_expect_eq(v.add_space_prefix, 0);
    vocab_free(&v);
}

Test(tokenizer_hf, fails_cleanly_on_every_allocation)
{
    static const char json[] =
        "{\"added_tokens\": " GPT2_ADDED ", \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": " GPT2_VOCAB ", \"merges\": [\"a b\", \"\\u0120 ab\"]}}";
    const char *path = write_tmp("tokenizer.json", json, strlen(json));
    struct vocab v;
    int rc = IG_ENOMEM;
    long n;
    for (n = 1; n < 1000 && rc; n++) {
        ig_alloc_fail_after(n);
        rc = tokenizer_hf_read(&v, path);
        ig_alloc_fail_after(0);
        cr_assert(rc == 0 || rc == IG_ENOMEM, "allocation %ld: rc %d: %s", n, rc, ig_error_message());
    }
    cr_expect_eq(rc, 0);
    cr_expect_gt(n, 10);
    vocab_free(&v);
    remove_tmp(path);
}

/* ---- tokenizer.json: hostile input -------------------------------------------------------- */

/* A byte-level tokenizer.json with model.<field> = value (raw JSON), the rest valid. */
static int hf_read_model(struct vocab *v, const char *vocab, const char *merges, const char *added)
{
    char json[8192];
    snprintf(json, sizeof json,
             "{\"added_tokens\": %s, \"pre_tokenizer\": {\"type\": \"ByteLevel\"},"
             " \"model\": {\"type\": \"BPE\", \"vocab\": %s, \"merges\": %s}}",
             added, vocab, merges);
    return hf_read_text(v, json);
}

Test(tokenizer_hf, rejects_bad_documents)
{
    struct vocab v;
    EXPECT_EINVAL(hf_read_text(&v, ""), "tokenizer.json", "empty file");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"type\": "), "tokenizer.json", "not valid JSON", "line 1");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {}, \"model\": {}}"), "tokenizer.json", "duplicate object key");
    EXPECT_EINVAL(hf_read_text(&v, "[]"), "tokenizer.json", "the document is an array", "expected an object");
    EXPECT_EINVAL(hf_read_text(&v, "{}"), "tokenizer.json", "field 'model' is missing");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": 3}"), "tokenizer.json", "field 'model' is an integer");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"vocab\": {}}}"), "tokenizer.json", "model.type is missing");
    cr_expect_eq(v.n_tokens, 0);
}

Test(tokenizer_hf, rejects_unsupported_models)
{
    struct vocab v;
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}"),
                  "tokenizer.json", "model.type 'Unigram' is not supported (supported: BPE)");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}"),
                  "tokenizer.json", "model.type 'WordPiece' is not supported (supported: BPE)");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}"),
                  "tokenizer.json", "model.byte_fallback", "pre_tokenizer", "ByteLevel");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": 1, \"vocab\": {}}}"),
                  "tokenizer.json", "model.byte_fallback is an integer");
}

Test(tokenizer_hf, rejects_bad_vocab)
{
    struct vocab v;
    EXPECT_EINVAL(hf_read_model(&v, "[]", "[]", "[]"), "tokenizer.json", "model.vocab is an array");
    EXPECT_EINVAL(hf_read_model(&v, "{\"a\": \"0\"}", "[]", "[]"), "tokenizer.json", "model.vocab['a'] is a string",
                  "expected an integer id");
    EXPECT_EINVAL(hf_read_model(&v, "{\"a\": 0.5}", "[]", "[]"), "tokenizer.json", "model.vocab['a'] is a number");
    EXPECT_EINVAL(hf_read_model(&v, "{\"a\": -1}", "[]", "[]"), "tokenizer.json", "model.vocab['a']: id -1");
    EXPECT_EINVAL(hf_read_model(&v, "{\"a\": 4194304}", "[]", "[]"), "tokenizer.json",
                  "model.vocab['a']: id 4194304 (allowed 0..4194303)");
    EXPECT_EINVAL(hf_read_model(&v, "{\"a\": 0, \"b\": 0}", "[]", "[]"), "tokenizer.json", "model.vocab",
                  "'a' and 'b' both have id 0");
    EXPECT_EINVAL(hf_read_model(&v, "{\"a\": 0, \"b\": 2}", "[]", "[]"), "tokenizer.json", "no token has id 1",
                  "0..2");
    EXPECT_EINVAL(hf_read_model(&v, "{}", "[]", "[]"), "tokenizer.json", "model.vocab is empty");
    EXPECT_EINVAL(hf_read_text(&v, "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\"}}"),
                  "tokenizer.json", "model.vocab is missing");
    EXPECT_EINVAL(hf_read_text(&v, "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": 0,"
                                   " \"vocab\": {\"a\": 0}, \"merges\": []}}"),
                  "tokenizer.json", "model.unk_token is an integer");
}

Test(tokenizer_hf, rejects_oversized_token)
{
    size_t n = VOCAB_MAX_TOKEN_BYTES + 1;
    char *vocab = malloc(n + 16);
    cr_assert(vocab);
    strcpy(vocab, "{\"");
    memset(vocab + 2, 'x', n);
    strcpy(vocab + 2 + n, "\": 0}");
    char *json = malloc(n + 256);
    cr_assert(json);
    sprintf(json, "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": %s,"
                  " \"merges\": []}}", vocab);
    struct vocab v;
    EXPECT_EINVAL(hf_read_text(&v, json), "tokenizer.json", "model.vocab['xxx", "65537 bytes");
    free(vocab);
    free(json);
}

Test(tokenizer_hf, rejects_bad_merges)
{
    struct vocab v;
    const char *vocab = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[3]", "[]"), "tokenizer.json", "model.merges[0] is an integer");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[[\"a\", \"b\", \"c\"]]", "[]"), "tokenizer.json",
                  "model.merges[0] is an array");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[\"a b\", \"ab\"]", "[]"), "tokenizer.json", "model.merges[1]",
                  "'ab' is not \"left right\"");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[\" ab\"]", "[]"), "tokenizer.json", "model.merges[0]",
                  "is not \"left right\"");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[\"a b c\"]", "[]"), "tokenizer.json", "model.merges[0]");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[\"b a\"]", "[]"), "tokenizer.json", "model.merges[0]",
                  "the merged token 'ba' is not in model.vocab");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[\"a c\"]", "[]"), "tokenizer.json", "model.merges[0]",
                  "its right side 'c'");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "{}", "[]"), "tokenizer.json", "model.merges is an object");
}

Test(tokenizer_hf, rejects_bad_added_tokens)
{
    struct vocab v;
    const char *vocab = "{\"a\": 0, \"b\": 1}";
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "{}"), "tokenizer.json", "added_tokens is an object");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[3]"), "tokenizer.json", "added_tokens[0] is an integer");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[{\"id\": \"2\", \"content\": \"c\"}]"), "tokenizer.json",
                  "added_tokens[0].id is a string");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[{\"id\": 2}]"), "tokenizer.json",
                  "added_tokens[0].content is missing");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[{\"id\": 2, \"content\": \"c\", \"special\": \"yes\"}]"),
                  "tokenizer.json", "added_tokens[0].special is a string");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[{\"id\": 1, \"content\": \"c\"}]"), "tokenizer.json",
                  "added_tokens[0]: id 1 is 'c' here but 'b'");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[{\"id\": 2, \"content\": \"a\"}]"), "tokenizer.json",
                  "token 'a' has two ids, 0 and 2");
    EXPECT_EINVAL(hf_read_model(&v, vocab, "[]", "[{\"id\": 3, \"content\": \"c\"}]"), "tokenizer.json",
                  "no token has id 2");
}

/* ---- tokenizer_hf_apply_config ---------------------------------------------------------- */

/* A folder holding the given files (NULL text: leave the file out); returns the folder. */
static const char *config_folder(const char *tokenizer_config, const char *special_map, const char *config)
{
    static char dir[4200];
    const char *names[3] = {"tokenizer_config.json", "special_tokens_map.json", "config.json"};
    const char *texts[3] = {tokenizer_config, special_map, config};
    const char *d = test_tmp_dir();
    cr_assert(d);
    snprintf(dir, sizeof dir, "%s", d);
    for (int i = 0; i < 3; i++) {
        if (!texts[i])
            continue;
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cr_assert_eq(test_write_file(path, texts[i], strlen(texts[i])), 0);
    }
    return dir;
}

/* A 6-token vocab ("<unk>" "<s>" "</s>" "a" "b" "<pad>") with every id unset. */
static void small_vocab(struct vocab *v)
{
    static const char *const texts[] = {"<unk>", "<s>", "</s>", "a", "b", "<pad>"};
    vocab_init(v);
    cr_assert_eq(vocab_alloc(v, 6, 1), 0);
    for (int i = 0; i < 6; i++)
        v->tokens[i] = strdup(texts[i]);
}

static int apply(struct vocab *v, const char *tc, const char *stm, const char *config)
{
    static const char *const names[3] = {"tokenizer_config.json", "special_tokens_map.json", "config.json"};
    const char *dir = config_folder(tc, stm, config);
    ig_error_clear();
    int rc = tokenizer_hf_apply_config(v, dir);
    for (int i = 0; i < 3; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}

Test(tokenizer_hf_config, missing_files_change_nothing)
{
    struct vocab v;
    small_vocab(&v);
    cr_expect_eq(apply(&v, NULL, NULL, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(v.bos_id, -1);
    cr_expect_eq(v.add_bos, -1);
    vocab_free(&v);
}

Test(tokenizer_hf_config, tokenizer_config_wins_over_special_tokens_map)
{
    struct vocab v;
    small_vocab(&v);
    int rc = apply(&v, "{\"add_bos_token\": false, \"bos_token\": \"<s>\", \"eos_token\": null,"
                       " \"model_max_length\": 1000000000000000019884624838656}",
                   "{\"add_bos_token\": true, \"add_eos_token\": true, \"bos_token\": \"a\","
                   " \"eos_token\": {\"content\": \"</s>\", \"lstrip\": false}, \"pad_token\": \"<pad>\"}", NULL);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(v.add_bos, 0);
    cr_expect_eq(v.add_eos, 1, "add_eos_token only in special_tokens_map.json");
    cr_expect_eq(v.bos_id, 1);
    cr_expect_eq(v.eos_id, 2, "a null in tokenizer_config.json defers to special_tokens_map.json");
    cr_expect_eq(v.pad_id, 5);
    vocab_free(&v);
}

Test(tokenizer_hf_config, null_unsets_and_unknown_text_leaves_alone)
{
    struct vocab v;
    small_vocab(&v);
    v.unk_id = 0;
    v.pad_id = 5;
    v.bos_id = 1;
    cr_assert_eq(apply(&v, "{\"unk_token\": null, \"pad_token\": {\"content\": \"<nope>\"}, \"bos_token\": \"x\"}",
                       NULL, NULL), 0, "%s", ig_error_message());
    cr_expect_eq(v.unk_id, -1);
    cr_expect_eq(v.pad_id, 5);
    cr_expect_eq(v.bos_id, 1);
    vocab_free(&v);
}

Test(tokenizer_hf_config, falls_back_to_config_json)
{
    struct vocab v;
    small_vocab(&v);
    cr_assert_eq(apply(&v, "{\"bos_token\": null}", NULL, "{\"bos_token_id\": 1, \"eos_token_id\": [2, 4]}"), 0,
                 "%s", ig_error_message());
    cr_expect_eq(v.bos_id, 1);
    cr_expect_eq(v.eos_id, 2);
    vocab_free(&v);

    small_vocab(&v);   /* ids outside the vocabulary are ignored, as convert_hf_to_gguf ignores them */
    cr_assert_eq(apply(&v, NULL, NULL, "{\"bos_token_id\": 60000, \"eos_token_id\": null}"), 0, "%s",
                 ig_error_message());
    cr_expect_eq(v.bos_id, -1);
    cr_expect_eq(v.eos_id, -1);
    vocab_free(&v);

    small_vocab(&v);   /* bos already set: config.json only fills eos */
    v.bos_id = 3;
    cr_assert_eq(apply(&v, NULL, NULL, "{\"bos_token_id\": 1, \"eos_token_id\": 2}"), 0, "%s", ig_error_message());
    cr_expect_eq(v.bos_id, 3);
    cr_expect_eq(v.eos_id, 2);
    vocab_free(&v);
}

Test(tokenizer_hf_config, rejects_wrong_types)
{
    struct vocab v;
    small_vocab(&v);
    EXPECT_EINVAL(apply(&v, "{\"add_bos_token\": \"true\"}", NULL, NULL), "tokenizer_config.json",
                  "'add_bos_token' is a string", "expected true or false");
    EXPECT_EINVAL(apply(&v, NULL, "{\"add_eos_token\": 1}", NULL), "special_tokens_map.json",
                  "'add_eos_token' is a number");
    EXPECT_EINVAL(apply(&v, "{\"bos_token\": 1}", NULL, NULL), "tokenizer_config.json", "'bos_token' is a number");
    EXPECT_EINVAL(apply(&v, "{\"eos_token\": {\"lstrip\": true}}", NULL, NULL), "tokenizer_config.json",
                  "'eos_token'.content is missing");
    EXPECT_EINVAL(apply(&v, NULL, NULL, "{\"bos_token_id\": \"1\"}"), "config.json", "'bos_token_id' is a string");
    EXPECT_EINVAL(apply(&v, NULL, NULL, "{\"eos_token_id\": 1.5}"), "config.json", "'eos_token_id' is not integral");
    EXPECT_EINVAL(apply(&v, "{\"bos_token\": ", NULL, NULL), "tokenizer_config.json", "not valid JSON");
    EXPECT_EINVAL(apply(&v, "[1]", NULL, NULL), "tokenizer_config.json", "is an array", "expected an object");
    vocab_free(&v);
}

/* ---- the bad-input catalogue ------------------------------------------------------------ */

/* Each line of tests/data/bad/tokenizer.tsv: case, then substrings the message must hold.
 * The case folder's tokenizer.model or tokenizer.json goes through its reader. */
Test(tokenizer_catalogue, every_case_fails_naming_file_and_field)
{
    size_t size;
    char *tsv = (char *)test_read_file(test_fixture_path("bad/tokenizer.tsv"), &size);
    cr_assert(tsv, "cannot read tests/data/bad/tokenizer.tsv (set INGOT_ROOT)");
    tsv = realloc(tsv, size + 1);
    tsv[size] = '\0';
    int n_cases = 0;
    char *save_line;
    for (char *line = strtok_r(tsv, "\n", &save_line); line; line = strtok_r(NULL, "\n", &save_line)) {
        char *save_field, *name = strtok_r(line, "\t", &save_field);
        char rel[512];
        snprintf(rel, sizeof rel, "bad/%s/tokenizer.model", name);
        char path[4200];
        snprintf(path, sizeof path, "%s", test_fixture_path(rel));
        struct vocab v;
        int rc;
        ig_error_clear();
        if (access(path, F_OK) == 0) {
            rc = tokenizer_spm_read(&v, path);
        } else {
            snprintf(rel, sizeof rel, "bad/%s/tokenizer.json", name);
            snprintf(path, sizeof path, "%s", test_fixture_path(rel));
            rc = tokenizer_hf_read(&v, path);
        }
        const char *msg = ig_error_message();
        cr_expect_eq(rc, IG_EINVAL, "%s: rc %d; message: %s", name, rc, msg);
        for (char *needle = strtok_r(NULL, "\t", &save_field); needle; needle = strtok_r(NULL, "\t", &save_field))
            cr_expect(strstr(msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", name, msg, needle);
        if (rc == 0)
            vocab_free(&v);
        n_cases++;
    }
    cr_expect_geq(n_cases, 10, "only %d cases in tokenizer.tsv", n_cases);
    free(tsv);
}
