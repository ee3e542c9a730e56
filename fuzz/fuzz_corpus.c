/* fuzz_corpus.c — libFuzzer harness for the calibration corpus reader (calib/corpus.c:
 * calib_corpus_load, calib_corpus_sample).
 *
 * An input is flags (1 byte), then the text:
 *   flags bit 0 clear: the text is one file, calib.txt;
 *   flags bit 0 set:   the text is cut at NULs into up to FUZZ_MAX_PARTS files of a folder,
 *                      part i named "part-<i>.txt", or "part-<i>.md" when flags bit (1 + i) is
 *                      set (not a .txt file: it must be skipped).
 * Then 2 bytes (seq_len - 1, and the seed) are taken from the text's end when it has them.
 * The text is tokenized with the SentencePiece fixture tests/data/tiny-llama/tokenizer.model
 * (found through INGOT_ROOT, fuzz_util.h). Files go into a private temporary folder, emptied
 * per input. Nothing may crash or leak, and:
 *   - the load fails exactly when there is no text (no .txt file, or only empty ones) or a
 *     .txt part is not text (formats/text_file.h: text_check; a NUL byte always fails), with
 *     a message; otherwise n_files, n_bytes and the xxh3-64 are those of the .txt parts
 *     concatenated in name order, and every token is inside the vocabulary;
 *   - calib_corpus_sample fails exactly when the corpus is shorter than one window plus
 *     one token; otherwise every window is a run of the corpus (after its BOS).
 * Build and run: make build/fuzz/fuzz_corpus && build/fuzz/fuzz_corpus -max_total_time=30
 */
#include "calib/calib.h"
#include "common/ig_error.h"
#include "formats/text_file.h"
#include "formats/tokenizer.h"
#include "fuzz/fuzz_util.h"

#include <xxhash.h>

#define FUZZ_MAX_PARTS 6
#define FUZZ_N_SAMPLES 3

static struct vocab spm_vocab;   /* loaded once, in LLVMFuzzerInitialize */

/* ---- setup ------------------------------------------------------------------------------ */

static void free_vocab(void)
{
    vocab_free(&spm_vocab);
}

static void load_vocab(void)
{
    char path[FUZZ_PATH_MAX];
    fuzz_data_path(path, sizeof path, "tests/data/tiny-llama/tokenizer.model");
    vocab_init(&spm_vocab);
    if (tokenizer_spm_read(&spm_vocab, path)) {
        /* a missing fixture is a setup error, not a finding: _exit, since libFuzzer reports
         * exit() and abort() as crashes and writes the input out */
        fprintf(stderr, "fuzz_corpus: %s (set INGOT_ROOT to the checkout)\n", ig_error_message());
        _exit(1);
    }
    atexit(free_vocab);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    load_vocab();
    return 0;
}

/* ---- oracles ---------------------------------------------------------------------------- */

/* Every window of samples ([n][seq_len]) is a run of c's tokens, its first replaced by bos. */
static void check_windows(const struct calib_corpus *c, const int32_t *samples, int64_t n, int64_t seq_len,
                          int32_t bos)
{
    for (int64_t s = 0; s < n; s++) {
        const int32_t *w = samples + s * seq_len;
        bool found = false;
        if (w[0] != bos)
            __builtin_trap();
        for (int64_t start = 0; start < c->n_tokens - seq_len && !found; start++)
            found = memcmp(c->tokens + start + 1, w + 1, (size_t)(seq_len - 1) * sizeof *w) == 0;
        if (!found)
            __builtin_trap();
    }
}

static void check_sample(const struct calib_corpus *c, int64_t seq_len, uint64_t seed)
{
    int32_t *samples = calloc((size_t)(FUZZ_N_SAMPLES * seq_len), sizeof *samples);
    if (!samples)
        return;
    const int32_t bos = (int32_t)spm_vocab.bos_id;
    int rc = calib_corpus_sample(c, FUZZ_N_SAMPLES, seq_len, seed, bos, samples);
    if ((rc == 0) != (c->n_tokens >= seq_len + 1))
        __builtin_trap();
    if (rc == 0 && bos >= 0)
        check_windows(c, samples, FUZZ_N_SAMPLES, seq_len, bos);
    free(samples);
}

/* ---- entry point -------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX], name[32];
    if (size < 1)
        return 0;
    const int flags = data[0];
    data++;
    size--;
    int64_t seq_len = 8;
    uint64_t seed = 0;
    if (size >= 2) {
        seq_len = 1 + data[size - 2];
        seed = data[size - 1];
        size -= 2;
    }
    const char *dir = fuzz_dir("fuzz_corpus");
    if (!dir)
        return 0;

    /* what the reader must see: the .txt parts in name order ("part-0" < "part-1" < ...) */
    uint8_t *want = malloc(size + 1);
    size_t n_want = 0;
    int n_txt = 0;
    bool is_text = true;   /* every .txt part passes text_check */
    if (!want)
        return 0;
    if (!(flags & 1)) {
        if (fuzz_write_file(dir, "calib.txt", data, size))
            goto out_free;
        snprintf(path, sizeof path, "%s/calib.txt", dir);
        memcpy(want, data, size);
        n_want = size;
        n_txt = 1;
        is_text = !memchr(data, 0, size) && text_check("calib.txt", (const char *)data, size) == 0;
    } else {
        const uint8_t *part = data;
        size_t left = size;
        for (int i = 0; i < FUZZ_MAX_PARTS && part; i++) {
            size_t n_part, n_next;
            const uint8_t *next = fuzz_split(part, left, &n_part, &n_next);
            bool txt = !(flags & (2 << i));
            snprintf(name, sizeof name, "part-%d.%s", i, txt ? "txt" : "md");
            if (fuzz_write_file(dir, name, part, n_part))
                goto out_free;
            if (txt) {
                is_text = is_text && text_check(name, (const char *)part, n_part) == 0;
                memcpy(want + n_want, part, n_part);
                n_want += n_part;
                n_txt++;
            }
            part = next;
            left = n_next;
        }
        snprintf(path, sizeof path, "%s", dir);
    }

    struct calib_corpus c;
    ig_error_clear();
    int rc = calib_corpus_load(&c, path, &spm_vocab);
    fuzz_note("fuzz_corpus", "calib_corpus_load", rc, ig_error_message());
    if ((rc == 0) != (n_want > 0 && is_text))
        __builtin_trap();
    if (rc == 0) {
        if (c.n_files != n_txt || c.n_bytes != n_want || c.xxh3 != XXH3_64bits(want, n_want) || c.n_tokens < 0 ||
            (c.n_tokens > 0 && !c.tokens))
            __builtin_trap();
        for (int64_t i = 0; i < c.n_tokens; i++)
            if (c.tokens[i] < 0 || c.tokens[i] >= spm_vocab.n_tokens)
                __builtin_trap();
        check_sample(&c, seq_len, seed);
        calib_corpus_free(&c);
    } else if (ig_error_message()[0] == '\0') {
        __builtin_trap();
    }
out_free:
    free(want);
    return 0;
}
