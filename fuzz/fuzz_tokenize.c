/* fuzz_tokenize.c — libFuzzer harness for tokenizer_encode / tokenizer_decode (tokenizer/tokenize.h).
 *
 * Two tokenizers are built once: SentencePiece from the fixture tests/data/tiny-llama/tokenizer.model
 * (read with tokenizer_spm_read; found through $INGOT_ROOT, else the checkout the Makefile compiled in
 * as INGOT_ROOT, so it runs from any folder: fuzz_util.h, fuzz_data_path), and
 * a byte-level BPE vocabulary made here (the 256 byte characters plus a few merges), once for each
 * of bpe.c's splits ("gpt-2", "qwen2", "llama-bpe", "gpt-4o": one name per split in tokenize.c's
 * pre_names). An input's first byte picks the BPE split (its value modulo 4), so the fuzzer reaches
 * every split and keeps a finding's split with its input; the rest, any bytes including invalid
 * UTF-8, is the text, encoded by SPM and by that BPE, with add_special set by the text's length
 * parity. Nothing may crash, leak or fail, and:
 *   - every id is inside the vocabulary;
 *   - SPM: decode(encode(x)) == x with each whole "▁" (U+2581) symbol read as " " (expected_text);
 *   - BPE: decode(encode(x)) == x after llama.cpp's UTF-8 reading (each invalid byte -> U+FFFD);
 *   - decoding id by id, appending, gives the same bytes as decoding all at once.
 * Seeds (tests/data/fuzz-seeds/fuzz_tokenize/<text>-<pre>): each text under each split's byte.
 * Build and run: make build/fuzz/fuzz_tokenize && build/fuzz/fuzz_tokenize -max_total_time=30
 * (or make fuzz FUZZ_ONLY=fuzz_tokenize)
 */
#include "common/ig_error.h"
#include "tokenizer/tokenize.h"
#include "formats/tokenizer.h"
#include "tokenizer/unicode_class.h"
#include "fuzz/fuzz_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tokenizer.ggml.pre names, one per split in tokenizer/bpe.c's word_end */
static const char *const bpe_pres[] = {"gpt-2", "qwen2", "llama-bpe", "gpt-4o"};
#define N_BPE ((int)(sizeof bpe_pres / sizeof bpe_pres[0]))

static struct vocab spm_vocab, bpe_vocab[N_BPE];
static struct tokenizer *spm, *bpe[N_BPE];

/* ---- setup ------------------------------------------------------------------------------------ */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_tokenize: %s: %s\n", what, ig_error_message());
    abort();
}

static void build_spm(void)
{
    char path[FUZZ_PATH_MAX];
    fuzz_data_path(path, sizeof path, "tests/data/tiny-llama/tokenizer.model");
    vocab_init(&spm_vocab);
    if (tokenizer_spm_read(&spm_vocab, path)) {
        /* a missing fixture is a setup error, not a finding: _exit, since libFuzzer reports
         * exit() and abort() as crashes and writes the input out */
        fprintf(stderr, "fuzz_tokenize: %s (set INGOT_ROOT to the checkout)\n", ig_error_message());
        _exit(1);
    }
    if (tokenizer_create(&spm, &spm_vocab))
        die("tokenizer_create (spm)");
}

/* Bytes 0..255 as GPT-2 characters (ids 0..255), then one token per merge (ids 256..), with
 * pre-tokenizer pre; v must outlive the tokenizer (it borrows it). The merges join what each split
 * keeps in one word: a space before a letter, letters, "'s" / "'LL" (contractions, either case for
 * the Llama 3 splits), digits (\p{N}{1,3} in llama-bpe and gpt-4o), newline runs and "//". */
static void build_bpe(struct vocab *v, struct tokenizer **t, const char *pre)
{
    static const char *const merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "\xc4\xa0 a", "e r",
                                         "\xc4\xa0 \xc4\xa0", "\xc3\xa2 \xc2\x80", "1 2", "12 3", "' s", "' L",
                                         "'L L", "\xc4\x8a \xc4\x8a", "/ /"};
    const int n_merges = (int)(sizeof merges / sizeof merges[0]);
    vocab_init(v);
    if (vocab_alloc(v, 256 + n_merges, 0))
        die("vocab_alloc");
    snprintf(v->model, sizeof v->model, "gpt2");
    snprintf(v->pre, sizeof v->pre, "%s", pre);
    for (int b = 0; b < 256; b++) {
        uint8_t u[5] = {0};
        unicode_utf8_encode(unicode_byte_to_cpt((uint8_t)b), u);
        v->tokens[b] = strdup((const char *)u);
    }
    v->merges = calloc((size_t)n_merges, sizeof *v->merges);
    for (int i = 0; i < n_merges; i++) {
        char joined[32];
        const char *sp = strchr(merges[i], ' ');
        snprintf(joined, sizeof joined, "%.*s%s", (int)(sp - merges[i]), merges[i], sp + 1);
        v->merges[i] = strdup(merges[i]);
        v->tokens[256 + i] = strdup(joined);
    }
    v->n_merges = n_merges;
    if (tokenizer_create(t, v))
        die(pre);
}

static void cleanup(void)
{
    tokenizer_destroy(spm);
    vocab_free(&spm_vocab);
    for (int i = 0; i < N_BPE; i++) {
        tokenizer_destroy(bpe[i]);
        vocab_free(&bpe_vocab[i]);
    }
}

/* ---- oracles ---------------------------------------------------------------------------------- */

/* What decode(encode(x)) must give.
 * SPM: escape x ("▁" + x with " " -> "▁") and split it like the tokenizer (a lead byte's length,
 * whatever follows); each symbol that is exactly "▁" reads back as " ", any other comes back as its
 * bytes (as a token or as byte tokens), and decoding drops the prefix's space. So a "▁" that an
 * invalid lead byte swallows stays three raw bytes, as in llama.cpp.
 * BPE: x as llama.cpp reads it (each invalid byte -> U+FFFD), re-encoded. */
static uint8_t *expected_text(const uint8_t *x, size_t n, int bpe_model, size_t *len)
{
    uint8_t *e = malloc(4 * n + 4), *out = malloc(4 * n + 4);
    size_t k = 0, m = 0;
    if (bpe_model) {
        for (size_t i = 0; i < n;) {
            uint32_t c;
            i += unicode_utf8_decode(x + i, n - i, &c);
            k += unicode_utf8_encode(c, out + k);
        }
        free(e);
        *len = k;
        return out;
    }
    memcpy(e, "\xe2\x96\x81", 3);
    m = 3;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == ' ')
            memcpy(e + m, "\xe2\x96\x81", 3);
        else
            e[m] = x[i];
        m += x[i] == ' ' ? 3 : 1;
    }
    for (size_t i = 0; i < m;) {
        size_t l = unicode_utf8_len(e[i]);
        l = l < m - i ? l : m - i;
        if (l == 3 && memcmp(e + i, "\xe2\x96\x81", 3) == 0) {
            out[k++] = ' ';
        } else {
            memcpy(out + k, e + i, l);
            k += l;
        }
        i += l;
    }
    free(e);
    *len = n ? k - 1 : 0;   /* the prefix's space; an empty text has no tokens at all */
    memmove(out, out + (n ? 1 : 0), *len);
    return out;
}

static void check(const struct tokenizer *t, int64_t n_tokens, const uint8_t *data, size_t size, int bpe_model,
                  int add_special)
{
    int32_t *ids;
    int64_t n = tokenizer_encode(t, (const char *)data, size, add_special, &ids);
    if (n < 0 || !ids)
        __builtin_trap();   /* both vocabularies have a token for every byte */
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= n_tokens)
            __builtin_trap();
    char *whole = NULL, *parts = NULL;
    size_t whole_len = 0, parts_len = 0, want_len;
    if (tokenizer_decode(t, ids, n, &whole, &whole_len))
        __builtin_trap();
    for (int64_t i = 0; i < n; i++)
        if (tokenizer_decode(t, ids + i, 1, &parts, &parts_len))
            __builtin_trap();
    if (n > 0 && (parts_len != whole_len || memcmp(parts, whole, whole_len) != 0))
        __builtin_trap();
    uint8_t *want = expected_text(data, size, bpe_model, &want_len);
    if (!add_special && (whole_len != want_len || memcmp(whole, want, want_len) != 0))
        __builtin_trap();
    free(want);
    free(whole);
    free(parts);
    free(ids);
}

/* ---- entry point ------------------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Once, before the first input: SPM and a BPE per split. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    build_spm();
    for (int i = 0; i < N_BPE; i++)
        build_bpe(&bpe_vocab[i], &bpe[i], bpe_pres[i]);
    atexit(cleanup);
    return 0;
}

/* data[0] % N_BPE picks the BPE split; data[1..] is the text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const int which = data[0] % N_BPE;
    const uint8_t *text = data + 1;
    const size_t n = size - 1;
    int add_special = (int)(n & 1);
    check(spm, spm_vocab.n_tokens, text, n, 0, add_special);
    check(bpe[which], bpe_vocab[which].n_tokens, text, n, 1, add_special);
    return 0;
}
