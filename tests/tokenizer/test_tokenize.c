/* test_tokenize.c — tokenizer_encode / tokenizer_decode (tokenizer/tokenize.h) against llama.cpp.
 *
 * Golden data (../shared/data, see its PROVENANCE.md): llama.cpp's own test vectors
 * llamacpp-vocab/ggml-vocab-{llama-spm,gpt-2}.gguf with .inp (inputs split by the line
 * "__ggml_vocab_test__") and .out (expected ids, one line per input, no BOS), read with the rules of
 * llama.cpp's tests/test-tokenizer-0.cpp; ids llama.cpp produced for "Once upon a time" from the
 * stories260K tok512 vocabulary and from TinyStories-656K's tokenizer.json; wiki.test.raw for
 * timing. Small vocabularies built in memory cover user-defined tokens, byte fallback, decoding
 * rules and the errors. Suites: tokenize_spm, tokenize_bpe, tokenize_decode, tokenize_unicode,
 * tokenize_errors.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenize.h"
#include "formats/tokenizer.h"
#include "tokenizer/unicode_class.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers: vocabularies ---------------------------------------------------------------- */

/* Path under ../shared/data, or skip the test saying what is missing. */
static const char *shared_or_skip(const char *rel)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("../shared/data/%s is missing (set INGOT_DATA)", rel);
    return p;
}

static void load_gguf_vocab(struct vocab *v, const char *rel)
{
    const char *path = shared_or_skip(rel);
    struct gguf_file *g;
    vocab_init(v);
    cr_assert_eq(gguf_open(&g, path), 0, "%s", ig_error_message());
    int rc = gguf_vocab_read(g, v);
    gguf_close(g);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
}

static struct tokenizer *make_tokenizer(const struct vocab *v)
{
    struct tokenizer *t;
    int rc = tokenizer_create(&t, v);
    cr_assert_eq(rc, 0, "tokenizer_create: %s", ig_error_message());
    return t;
}

/* A vocabulary of the given model and token texts (types NORMAL, scores 0, no merges). */
static void make_vocab(struct vocab *v, const char *model, const char *const *texts, int n)
{
    vocab_init(v);
    cr_assert_eq(vocab_alloc(v, n, 1), 0);
    snprintf(v->model, sizeof v->model, "%s", model);
    for (int i = 0; i < n; i++)
        v->tokens[i] = strdup(texts[i]);
}

/* ---- helpers: encoding and printing ------------------------------------------------------- */

static int64_t encode(const struct tokenizer *t, const char *text, size_t n, int add_special, int32_t **ids)
{
    int64_t k = tokenizer_encode(t, text, n, add_special, ids);
    cr_assert_geq(k, 0, "tokenizer_encode: %s", ig_error_message());
    return k;
}

/* Encode text (NUL-terminated) without specials and expect exactly want[0..n_want). */
static void expect_ids(const struct tokenizer *t, const char *text, const int32_t *want, int64_t n_want)
{
    int32_t *ids;
    int64_t n = encode(t, text, strlen(text), 0, &ids);
    int same = n == n_want;
    for (int64_t i = 0; same && i < n; i++)
        same = ids[i] == want[i];
    char got[512] = "", exp[512] = "";
    for (int64_t i = 0; i < n && strlen(got) < 480; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
    for (int64_t i = 0; i < n_want && strlen(exp) < 480; i++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %d", want[i]);
    cr_expect(same, "\"%s\": got [%s ], want [%s ]", text, got, exp);
    free(ids);
}

#define EXPECT_IDS(t, text, ...)                                                                      \
    expect_ids((t), (text), (const int32_t[]){__VA_ARGS__},                                           \
               sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

/* text with non-printing bytes escaped, for messages (static buffer). */
static const char *printable(const char *s, size_t n)
{
    static char buf[1024];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < sizeof buf; i++) {
        uint8_t c = (uint8_t)s[i];
        k += (size_t)(c >= 0x20 && c < 0x7F && c != '\\' ? snprintf(buf + k, sizeof buf - k, "%c", c)
                                                          : snprintf(buf + k, sizeof buf - k, "\\x%02x", c));
    }
    buf[k] = '\0';
    return buf;
}

/* decode(ids) as a fresh text; the caller frees. */
static char *decode(const struct tokenizer *t, const int32_t *ids, int64_t n, size_t *len)
{
    char *text = NULL;
    cr_assert_eq(tokenizer_decode(t, ids, n, &text, len), 0, "tokenizer_decode: %s", ig_error_message());
    cr_assert(text != NULL);
    return text;
}

/* ---- helpers: llama.cpp's test vectors ---------------------------------------------------- */

#define MAX_CASES 64

struct vectors {
    uint8_t *inp, *out;          /* the two files, NUL-terminated */
    const char *text[MAX_CASES]; /* into inp (separators overwritten) */
    size_t len[MAX_CASES];
    char *ids[MAX_CASES];        /* each .out line, into out */
    int n_inp, n_out;
};

/* Split like test-tokenizer-0.cpp's read_tests: inputs are the pieces between occurrences of
 * "\n__ggml_vocab_test__\n" (so the newline before each separator is not part of the input, and
 * nothing follows the last separator); outputs are the .out lines. */
static void read_vectors(struct vectors *vt, const char *vocab_rel, const char *inp_rel)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char out_rel[256];
    size_t n_inp, n_out;
    snprintf(out_rel, sizeof out_rel, "%s.out", vocab_rel);
    memset(vt, 0, sizeof *vt);
    vt->inp = test_read_file(shared_or_skip(inp_rel), &n_inp);
    vt->out = test_read_file(shared_or_skip(out_rel), &n_out);
    cr_assert(vt->inp && vt->out, "cannot read %s / %s", inp_rel, out_rel);
    char *s = (char *)vt->inp;
    for (size_t pos = 0; pos < n_inp;) {
        char *next = memmem(s + pos, n_inp - pos, sep, sizeof sep - 1);
        cr_assert_lt(vt->n_inp, MAX_CASES);
        vt->text[vt->n_inp] = s + pos;
        vt->len[vt->n_inp++] = next ? (size_t)(next - (s + pos)) : n_inp - pos;
        if (!next)
            break;
        pos = (size_t)(next - s) + sizeof sep - 1;
    }
    for (char *line = (char *)vt->out; line < (char *)vt->out + n_out;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cr_assert_lt(vt->n_out, MAX_CASES);
        vt->ids[vt->n_out++] = line;
        line = nl ? nl + 1 : (char *)vt->out + n_out;
    }
}

static void free_vectors(struct vectors *vt)
{
    free(vt->inp);
    free(vt->out);
}

/* Parse a .out line ("  1 2 3", spaces stripped) into want; returns the count. */
static int64_t parse_ids(const char *line, int32_t *want, int64_t cap)
{
    int64_t n = 0;
    char *end;
    for (const char *p = line;; p = end) {
        long x = strtol(p, &end, 10);
        if (end == p)
            break;
        cr_assert_lt(n, cap);
        want[n++] = (int32_t)x;
    }
    return n;
}

/* Encode every input without specials and compare with the .out ids; returns how many match. */
static int check_vectors(const struct tokenizer *t, const struct vectors *vt)
{
    int n_pass = 0;
    for (int c = 0; c < vt->n_inp; c++) {
        int32_t want[1024], *ids;
        int64_t n_want = parse_ids(vt->ids[c], want, 1024);
        int64_t n = encode(t, vt->text[c], vt->len[c], 0, &ids);
        int same = n == n_want;
        for (int64_t i = 0; same && i < n; i++)
            same = ids[i] == want[i];
        int64_t first = 0;
        while (first < n && first < n_want && ids[first] == want[first])
            first++;
        cr_expect(same, "case %d \"%s\": %lld ids, want %lld; first difference at %lld (got %d, want %d)", c,
                  printable(vt->text[c], vt->len[c]), (long long)n, (long long)n_want, (long long)first,
                  first < n ? ids[first] : -1, first < n_want ? want[first] : -1);
        n_pass += same;
        free(ids);
    }
    return n_pass;
}

/* decode(encode(x)) == x for every input; returns how many round-trip. */
static int check_roundtrip(const struct tokenizer *t, const struct vectors *vt)
{
    int n_pass = 0;
    for (int c = 0; c < vt->n_inp; c++) {
        int32_t *ids;
        size_t len;
        int64_t n = encode(t, vt->text[c], vt->len[c], 0, &ids);
        char *text = decode(t, ids, n, &len);
        int same = len == vt->len[c] && memcmp(text, vt->text[c], len) == 0;
        char want[1024];
        snprintf(want, sizeof want, "%s", printable(vt->text[c], vt->len[c]));
        cr_expect(same, "case %d: decode(encode(\"%s\")) = \"%s\"", c, want, printable(text, len));
        n_pass += same;
        free(ids);
        free(text);
    }
    return n_pass;
}

static void run_vectors(const char *vocab_rel, int roundtrip)
{
    struct vectors vt;
    struct vocab v;
    load_gguf_vocab(&v, vocab_rel);
    read_vectors(&vt, vocab_rel, "llamacpp-vocab/ggml-vocab-llama-spm.gguf.inp");
    cr_assert_eq(vt.n_inp, vt.n_out, "%d inputs but %d expected-id lines", vt.n_inp, vt.n_out);
    cr_assert_geq(vt.n_inp, 40, "only %d test vectors", vt.n_inp);
    struct tokenizer *t = make_tokenizer(&v);
    int n_pass = roundtrip ? check_roundtrip(t, &vt) : check_vectors(t, &vt);
    printf("%s: %s %d/%d\n", vocab_rel, roundtrip ? "round trip" : "llama.cpp ids", n_pass, vt.n_inp);
    tokenizer_destroy(t);
    vocab_free(&v);
    free_vectors(&vt);
}

/* ---- SentencePiece ------------------------------------------------------------------------ */

Test(tokenize_spm, matches_llamacpp_test_vectors)
{
    run_vectors("llamacpp-vocab/ggml-vocab-llama-spm.gguf", 0);
}

Test(tokenize_spm, decode_inverts_encode_on_test_vectors)
{
    run_vectors("llamacpp-vocab/ggml-vocab-llama-spm.gguf", 1);
}

Test(tokenize_spm, llama2c_tok512_matches_llamacpp)
{
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(tokenizer_spm_read(&v, shared_or_skip("llama2c-stories260K/tok512.model")), 0, "%s",
                 ig_error_message());
    struct tokenizer *t = make_tokenizer(&v);
    EXPECT_IDS(t, "Once upon a time", 403, 407, 261, 378);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_spm, hf_byte_fallback_bpe_matches_llamacpp)
{
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(tokenizer_hf_read(&v, shared_or_skip("hf-TinyStories-656K/tokenizer.json")), 0, "%s",
                 ig_error_message());
    cr_assert_str_eq(v.model, "llama", "tokenizer_hf_read should make an SPM vocab of this BPE");
    struct tokenizer *t = make_tokenizer(&v);
    EXPECT_IDS(t, "Once upon a time", 80, 147, 201, 282, 57);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_spm, add_special_puts_bos_first_and_eos_last_when_asked)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    int32_t *ids;
    int64_t n = encode(t, "Hello", 5, 1, &ids);
    cr_expect(n == 2 && ids[0] == 1 && ids[1] == 15043, "BOS + \"▁Hello\": got %lld ids, first %d",
              (long long)n, n > 0 ? ids[0] : -1);
    free(ids);
    n = encode(t, "", 0, 1, &ids);
    cr_expect(n == 1 && ids[0] == 1, "empty text with add_special gives BOS alone, got %lld ids", (long long)n);
    free(ids);
    tokenizer_destroy(t);
    v.add_eos = 1;
    v.add_bos = 0;
    t = make_tokenizer(&v);
    n = encode(t, "Hello", 5, 1, &ids);
    cr_expect(n == 2 && ids[0] == 15043 && ids[1] == 2, "\"▁Hello\" + EOS: got %lld ids, last %d",
              (long long)n, n > 0 ? ids[n - 1] : -1);
    free(ids);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_spm, control_token_text_is_not_parsed)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    int32_t *ids;
    int64_t n = encode(t, "<s>", 3, 0, &ids);
    cr_expect_gt(n, 1, "\"<s>\" should be plain text, got %lld ids", (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_expect_neq(ids[i], 1, "\"<s>\" became the BOS token");
    free(ids);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_spm, invalid_utf8_falls_back_to_byte_tokens)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    /* "▁" (29871), then <0xFF> and <0xC3> (byte tokens are 3 + byte in Llama's vocab); a truncated
     * 2-byte sequence at the end is one symbol of one byte */
    EXPECT_IDS(t, "\xff\xc3", 29871, 3 + 0xFF, 3 + 0xC3);
    const char bad[] = "a\x80z\xf0\x9f";
    int32_t *ids;
    size_t len;
    int64_t n = encode(t, bad, sizeof bad - 1, 0, &ids);
    char *text = decode(t, ids, n, &len);
    cr_expect(len == sizeof bad - 1 && memcmp(text, bad, len) == 0, "round trip gave \"%s\"", printable(text, len));
    free(ids);
    free(text);
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* "a<sep>b" with <sep> user-defined: cut out first, and the piece after it gets "▁" again. */
Test(tokenize_spm, user_defined_tokens_are_cut_out_first)
{
    static const char *const texts[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "\xe2\x96\201a", "<sep>", "<se"};
    struct vocab v;
    make_vocab(&v, "llama", texts, 9);
    v.types[0] = VOCAB_TOKEN_UNKNOWN;
    v.types[1] = v.types[2] = VOCAB_TOKEN_CONTROL;
    v.types[7] = VOCAB_TOKEN_USER_DEFINED;
    v.types[8] = VOCAB_TOKEN_USER_DEFINED;
    struct tokenizer *t = make_tokenizer(&v);
    EXPECT_IDS(t, "a<sep>b", 6, 7, 3, 5);
    EXPECT_IDS(t, "<sep><sep>", 7, 7);
    EXPECT_IDS(t, "<sea", 8, 6);      /* "<se", then "▁a": a piece after a cut token gets "▁" */
    EXPECT_IDS(t, "<s>", 3, 0, 0, 0); /* the control "<s>" is text: "▁", then unk for "<", "s", ">" */
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* llama.cpp's loader forces end-of-generation texts to CONTROL: not cut out, decoded as nothing. */
Test(tokenize_spm, control_looking_user_token_is_treated_as_control)
{
    static const char *const texts[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "<|endoftext|>"};
    struct vocab v;
    make_vocab(&v, "llama", texts, 6);
    v.types[5] = VOCAB_TOKEN_USER_DEFINED;
    struct tokenizer *t = make_tokenizer(&v);
    EXPECT_IDS(t, "a<|endoftext|>", 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const int32_t id = 5;
    size_t len;
    char *text = decode(t, &id, 1, &len);
    cr_expect_eq(len, 0, "\"<|endoftext|>\" decoded to \"%s\"", text);
    free(text);
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* Merges by best score wherever it sits, ties leftmost; no token and no byte tokens: unk. */
Test(tokenize_spm, merges_highest_score_first_and_ties_leftmost)
{
    static const char *const texts[] = {"<unk>", "\xe2\x96\x81", "a", "b", "ab", "ba", "aba"};
    struct vocab v;
    make_vocab(&v, "llama", texts, 7);
    v.types[0] = VOCAB_TOKEN_UNKNOWN;
    v.add_space_prefix = 0;
    v.scores[4] = -1.0f;   /* "ab" beats "ba" */
    v.scores[5] = -2.0f;
    struct tokenizer *t = make_tokenizer(&v);
    EXPECT_IDS(t, "bab", 3, 4);        /* b|ab although "ba" is further left */
    EXPECT_IDS(t, "aba", 6);           /* ab|a, then "ab"+"a" = "aba" (score 0) */
    EXPECT_IDS(t, "c", 0);             /* no token, no byte tokens: unk */
    tokenizer_destroy(t);
    v.scores[4] = -2.0f;   /* a tie: the leftmost pair "ba" merges first */
    t = make_tokenizer(&v);
    EXPECT_IDS(t, "bab", 5, 3);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_spm, wikitext_test_split_tokenizes_and_round_trips)
{
    size_t size;
    uint8_t *text = test_read_file(shared_or_skip("wikitext-2-raw/wiki.test.raw"), &size);
    cr_assert(text, "cannot read wiki.test.raw");
    struct vocab v;
    vocab_init(&v);
    cr_assert_eq(tokenizer_spm_read(&v, shared_or_skip("llama2c-stories260K/tok512.model")), 0, "%s",
                 ig_error_message());
    struct tokenizer *t = make_tokenizer(&v);
    struct timespec t0, t1;
    int32_t *ids;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t n = encode(t, (const char *)text, size, 1, &ids);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("tokenize_spm: wiki.test.raw, %zu bytes -> %lld tokens (tok512) in %.3f s (%.1f MB/s)\n", size,
           (long long)n, s, (double)size / s / 1e6);
    cr_expect_gt(n, (int64_t)(size / 8), "suspiciously few tokens: %lld", (long long)n);
    cr_expect_eq(ids[0], v.bos_id >= 0 ? v.bos_id : 1, "add_special should start with BOS");
    size_t len;
    char *back = decode(t, ids + 1, n - 1, &len);
    cr_expect(len == size && memcmp(back, text, size) == 0, "decode(encode(wiki.test.raw)) differs (%zu bytes back)",
              len);
    free(back);
    free(ids);
    free(text);
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* ---- byte-level BPE ----------------------------------------------------------------------- */

Test(tokenize_bpe, matches_llamacpp_test_vectors)
{
    run_vectors("llamacpp-vocab/ggml-vocab-gpt-2.gguf", 0);
}

Test(tokenize_bpe, decode_inverts_encode_on_test_vectors)
{
    run_vectors("llamacpp-vocab/ggml-vocab-gpt-2.gguf", 1);
}

Test(tokenize_bpe, add_special_adds_nothing_by_default)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    int32_t *ids;
    int64_t n = encode(t, "Hello", 5, 1, &ids);
    cr_expect(n == 1 && ids[0] == 15496, "\"Hello\" with add_special: %lld ids, first %d", (long long)n,
              n > 0 ? ids[0] : -1);
    free(ids);
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* llama.cpp reads an invalid byte as U+FFFD before the byte map. */
Test(tokenize_bpe, invalid_utf8_becomes_replacement_character)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    int32_t *a, *b;
    int64_t na = encode(t, "x\xff y\xe2\x82", 6, 0, &a);
    static const char fffd[] = "x\xef\xbf\xbd y\xef\xbf\xbd\xef\xbf\xbd";
    int64_t nb = encode(t, fffd, sizeof fffd - 1, 0, &b);
    cr_expect(na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0, "%lld vs %lld ids", (long long)na, (long long)nb);
    free(a);
    free(b);
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* The pre-tokenizer's regex branches, seen through a vocabulary of single characters and merges. */
Test(tokenize_bpe, splits_words_like_the_gpt2_regex)
{
    /* bytes_to_unicode: ' ' -> "Ġ" (U+0120), '\n' -> "Ċ" (U+010A) */
    static const char *const texts[] = {"a", "b", "'", "s", "\xc4\xa0", "1", "!", "\xc4\x8a", "ab",
                                        "\xc4\240a", "'s", "\xc4\xa0\xc4\xa0", "\xc4\xa0!", "11"};
    static const char *const merges[] = {"a b", "\xc4\xa0 a", "' s", "\xc4\xa0 \xc4\xa0", "\xc4\xa0 !", "1 1",
                                         "ab a"};
    struct vocab v;
    make_vocab(&v, "gpt2", texts, 14);
    snprintf(v.pre, sizeof v.pre, "gpt-2");
    v.merges = calloc(7, sizeof *v.merges);
    for (int i = 0; i < 7; i++)
        v.merges[i] = strdup(merges[i]);
    v.n_merges = 7;
    struct tokenizer *t = make_tokenizer(&v);
    EXPECT_IDS(t, "ab's a", 8, 10, 9);          /* ab | 's | Ġa */
    EXPECT_IDS(t, "a   a", 0, 11, 9);           /* a | ĠĠ | Ġa  (\s+(?!\S) leaves one space) */
    EXPECT_IDS(t, "a  ", 0, 11);                /* trailing spaces stay together */
    EXPECT_IDS(t, "11 !!", 13, 12, 6);          /* 11 | Ġ!! -> "Ġ!" "!" ; words never merge across */
    EXPECT_IDS(t, "a\n a", 0, 7, 9);            /* a | \n | Ġa */
    EXPECT_IDS(t, "aba", 0, 1, 0);              /* merges to "aba", no token: its one-byte tokens */
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* ---- decoding ----------------------------------------------------------------------------- */

Test(tokenize_decode, pieces_follow_llama_token_to_piece)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    /* BOS, "▁Hello", <0x0A>, "▁world", </s>: control tokens give nothing; the first token's
     * leading space is dropped only when it is the very first token of the text */
    const int32_t ids[] = {15043, 3 + 0x0A, 3186, 2};
    size_t len;
    char *text = decode(t, ids, 4, &len);
    cr_expect_str_eq(text, "Hello\n world");
    free(text);
    const int32_t with_bos[] = {1, 15043};
    text = decode(t, with_bos, 2, &len);
    cr_expect_str_eq(text, " Hello", "llama_detokenize keeps the space after a leading BOS");
    free(text);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_decode, appending_in_pieces_equals_one_call)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    int32_t *ids;
    const char *s = " Hello, y'all!\n How are you?";
    int64_t n = encode(t, s, strlen(s), 0, &ids);
    size_t whole_len, len = 0;
    char *whole = decode(t, ids, n, &whole_len), *text = NULL;
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(tokenizer_decode(t, ids + i, 1, &text, &len), 0, "%s", ig_error_message());
    cr_expect(len == whole_len && memcmp(text, whole, len) == 0, "\"%s\" vs \"%s\"", text, whole);
    cr_expect_str_eq(whole, s);
    free(ids);
    free(whole);
    free(text);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_decode, rejects_id_out_of_range_and_keeps_the_text)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-llama-spm.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    const int32_t ok[] = {15043}, bad[] = {3186, 32000};
    size_t len;
    char *text = decode(t, ok, 1, &len);
    cr_expect_eq(tokenizer_decode(t, bad, 2, &text, &len), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "32000") != NULL, "message: %s", ig_error_message());
    cr_expect(len == 5 && strcmp(text, "Hello") == 0, "text after a failed append: \"%s\"", text);
    free(text);
    char *fresh = NULL;
    const int32_t neg[] = {-1};
    cr_expect_eq(tokenizer_decode(t, neg, 1, &fresh, &len), IG_EINVAL);
    cr_expect_null(fresh);
    tokenizer_destroy(t);
    vocab_free(&v);
}

Test(tokenize_decode, gpt2_maps_characters_back_to_bytes)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    struct tokenizer *t = make_tokenizer(&v);
    const char s[] = " \xe2\x9c\x85 caf\xc3\xa9\n\t";
    int32_t *ids;
    int64_t n = encode(t, s, sizeof s - 1, 0, &ids);
    size_t len;
    char *text = decode(t, ids, n, &len);
    cr_expect(len == sizeof s - 1 && memcmp(text, s, len) == 0, "got \"%s\"", printable(text, len));
    free(ids);
    free(text);
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* ---- unicode_class ------------------------------------------------------------------------ */

Test(tokenize_unicode, classes_match_unicode_15_1)
{
    static const struct {
        uint32_t cpt;
        int cls;
    } cases[] = {
        {'A', UNICODE_LETTER},     {'z', UNICODE_LETTER},   {'0', UNICODE_NUMBER},     {'_', UNICODE_OTHER},
        {' ', UNICODE_SPACE},      {'\n', UNICODE_SPACE},   {0x0B, UNICODE_SPACE},     {0x1C, UNICODE_OTHER},
        {0x85, UNICODE_SPACE},     {0xA0, UNICODE_SPACE},   {0xAA, UNICODE_LETTER},    {0xB2, UNICODE_NUMBER},
        {0xBD, UNICODE_NUMBER},    {0x300, UNICODE_OTHER},  {0x378, UNICODE_OTHER},    {0x0663, UNICODE_NUMBER},
        {0x0CF3, UNICODE_OTHER},   {0x1780, UNICODE_LETTER}, {0x17B6, UNICODE_OTHER},  {0x180E, UNICODE_OTHER},
        {0x200B, UNICODE_OTHER},   {0x3000, UNICODE_SPACE}, {0x3007, UNICODE_NUMBER},  {0x4E00, UNICODE_LETTER},
        {0x1F600, UNICODE_OTHER},  {0x2EBF0, UNICODE_LETTER}, {0x2EE5D, UNICODE_LETTER}, {0x2EE5E, UNICODE_OTHER},
        {0x31350, UNICODE_LETTER}, {0x323B0, UNICODE_OTHER}, {0xD800, UNICODE_OTHER},  {0x110000, UNICODE_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(unicode_cpt_class(cases[i].cpt), cases[i].cls, "U+%04X: class %d, want %d", cases[i].cpt,
                     unicode_cpt_class(cases[i].cpt), cases[i].cls);
}

Test(tokenize_unicode, decodes_utf8_like_llamacpp)
{
    static const struct {
        const char *s;
        size_t n;
        uint32_t cpt;
        size_t used;
    } cases[] = {
        {"A", 1, 'A', 1},
        {"\xc3\xa9", 2, 0xE9, 2},
        {"\xe2\x96\x81", 3, 0x2581, 3},
        {"\xf0\x9f\xa6\x99", 4, 0x1F999, 4},
        {"\xc0\x80", 2, 0, 2},                 /* overlong: accepted */
        {"\xed\xa0\x80", 3, 0xD800, 3},        /* surrogate: accepted */
        {"\xf5\x80\x80\x80", 4, 0x140000, 4},  /* past U+10FFFF: accepted */
        {"\x80", 1, UNICODE_REPLACEMENT, 1},   /* stray continuation byte */
        {"\xc3", 1, UNICODE_REPLACEMENT, 1},   /* truncated */
        {"\xe2\x96", 2, UNICODE_REPLACEMENT, 1},
        {"\xe2" "A", 2, UNICODE_REPLACEMENT, 1},
        {"\xf8\x80\x80\x80", 4, UNICODE_REPLACEMENT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t c = 0;
        size_t used = unicode_utf8_decode((const uint8_t *)cases[i].s, cases[i].n, &c);
        cr_expect(c == cases[i].cpt && used == cases[i].used, "case %zu: U+%04X/%zu, want U+%04X/%zu", i, c, used,
                  cases[i].cpt, cases[i].used);
    }
}

Test(tokenize_unicode, byte_map_is_gpt2_bytes_to_unicode)
{
    cr_expect_eq(unicode_byte_to_cpt(' '), 0x120u);
    cr_expect_eq(unicode_byte_to_cpt('\n'), 0x10Au);
    cr_expect_eq(unicode_byte_to_cpt(0), 0x100u);
    cr_expect_eq(unicode_byte_to_cpt(0xAD), 0x143u);
    cr_expect_eq(unicode_byte_to_cpt('!'), (uint32_t)'!');
    cr_expect_eq(unicode_byte_to_cpt(0xFF), 0xFFu);
    for (int b = 0; b < 256; b++)
        cr_expect_eq(unicode_cpt_to_byte(unicode_byte_to_cpt((uint8_t)b)), b, "byte 0x%02X", b);
    cr_expect_eq(unicode_cpt_to_byte(' '), -1);
    cr_expect_eq(unicode_cpt_to_byte(0x144), -1);
}

/* ---- errors ------------------------------------------------------------------------------- */

Test(tokenize_errors, rejects_unknown_model_and_pre_tokenizer)
{
    static const char *const texts[] = {"a", "b"};
    struct vocab v;
    struct tokenizer *t = (struct tokenizer *)&v;
    make_vocab(&v, "bert", texts, 2);
    cr_expect_eq(tokenizer_create(&t, &v), IG_EINVAL);
    cr_expect_null(t);
    cr_expect(strstr(ig_error_message(), "'bert'") != NULL, "message: %s", ig_error_message());
    snprintf(v.model, sizeof v.model, "gpt2");
    snprintf(v.pre, sizeof v.pre, "deepseek-llm");   /* llama.cpp knows it; ingot does not split it yet */
    cr_expect_eq(tokenizer_create(&t, &v), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "'deepseek-llm'") != NULL, "message: %s", ig_error_message());
    vocab_free(&v);
    vocab_init(&v);
    snprintf(v.model, sizeof v.model, "llama");
    cr_expect_eq(tokenizer_create(&t, &v), IG_EINVAL, "an empty vocabulary");
}

Test(tokenize_errors, byte_without_fallback_token_fails_with_its_value)
{
    static const char *const texts[] = {"a", "\xe2\x96\x81"};
    struct vocab v;
    make_vocab(&v, "llama", texts, 2);
    v.unk_id = -1;
    struct tokenizer *t;
    /* llama.cpp's default unk id for SPM is 0: "a" would stand in for every unknown byte */
    cr_assert_eq(tokenizer_create(&t, &v), 0);
    EXPECT_IDS(t, "\x01", 1, 0);
    tokenizer_destroy(t);
    v.unk_id = 5;   /* out of range: no unk at all; likewise no BOS */
    v.bos_id = 7;
    cr_assert_eq(tokenizer_create(&t, &v), 0);
    int32_t *ids = (int32_t *)&v;
    cr_expect_eq(tokenizer_encode(t, "a\x01", 2, 0, &ids), IG_EINVAL);
    cr_expect_null(ids);
    cr_expect(strstr(ig_error_message(), "0x01") != NULL, "message: %s", ig_error_message());
    cr_expect_eq(tokenizer_encode(t, "a", 1, 1, &ids), IG_EINVAL, "add_bos without a BOS id in range");
    tokenizer_destroy(t);
    vocab_free(&v);
}

/* Fail each allocation in turn: every call returns IG_ENOMEM or succeeds, and nothing leaks (asan). */
Test(tokenize_errors, survives_every_failed_allocation)
{
    struct vocab v;
    load_gguf_vocab(&v, "llamacpp-vocab/ggml-vocab-gpt-2.gguf");
    const char *s = "Hello, y'all! How are you \xf0\x9f\x98\x81 ?";
    for (long k = 1; k < 40; k++) {
        struct tokenizer *t = NULL;
        int32_t *ids = NULL;
        char *text = NULL;
        size_t len;
        ig_alloc_fail_after(k);
        int rc_create = tokenizer_create(&t, &v);
        int64_t n = rc_create ? 0 : tokenizer_encode(t, s, strlen(s), 0, &ids);
        int rc_decode = n > 0 ? tokenizer_decode(t, ids, n, &text, &len) : 0;
        ig_alloc_fail_after(0);
        cr_expect(rc_create == 0 || rc_create == IG_ENOMEM, "failing allocation %ld: create gave %d", k, rc_create);
        cr_expect(n >= 0 || n == IG_ENOMEM, "failing allocation %ld: encode gave %lld", k, (long long)n);
        cr_expect(rc_decode == 0 || rc_decode == IG_ENOMEM, "failing allocation %ld: decode gave %d", k, rc_decode);
        cr_expect(rc_create == 0 || t == NULL, "failing allocation %ld: a failed create left a tokenizer", k);
        free(ids);
        free(text);
        tokenizer_destroy(t);
    }
    vocab_free(&v);
}
