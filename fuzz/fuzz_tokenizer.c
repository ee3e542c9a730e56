/* fuzz_tokenizer.c — libFuzzer harness for the tokenizer readers (formats/tokenizer.h).
 *
 * The first input byte picks the reader; the rest is the file:
 *   0 tokenizer.model (tokenizer_spm_read)      1 tokenizer.json (tokenizer_hf_read)
 *   2 tokenizer.bin (tokenizer_llama2c_read; the next byte + 1 is n_vocab)
 *   3 tokenizer_config.json, then after the first NUL config.json (tokenizer_hf_apply_config
 *     on a 6-token vocabulary)
 * Files 0..2 are written to a memfd and opened through /proc/self/fd/N, so the readers walk
 * the same mmap path as for a real file; 3 needs a folder, made once under /tmp. Any input
 * may be rejected; none may crash, hang, leak or break the struct vocab invariants checked
 * below. Seeds: tests/data/fuzz-seeds/fuzz_tokenizer (written by tests/data/bad/gen_tokenizer.py).
 * Build and run: make build/fuzz/fuzz_tokenizer && build/fuzz/fuzz_tokenizer
 *   -max_total_time=30 tests/data/fuzz-seeds/fuzz_tokenizer
 */
#include "common/ig_error.h"
#include "formats/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { PICK_SPM = 0, PICK_HF = 1, PICK_LLAMA2C = 2, PICK_CONFIG = 3, N_PICKS = 4 };

/* ---- helpers ------------------------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *data, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(data, 1, size, f);
    return fclose(f) == 0 && k == size ? 0 : -1;
}

/* What every reader promises about a vocab it returns. */
static void check_vocab(const struct vocab *v)
{
    if (v->n_tokens <= 0 || v->n_tokens > VOCAB_MAX_TOKENS || !v->tokens || !v->types)
        __builtin_trap();
    for (int64_t i = 0; i < v->n_tokens; i++) {
        if (!v->tokens[i] || strlen(v->tokens[i]) > VOCAB_MAX_TOKEN_BYTES)
            __builtin_trap();
        if (v->types[i] < VOCAB_TOKEN_NORMAL || v->types[i] > VOCAB_TOKEN_BYTE)
            __builtin_trap();
        if (v->scores && v->scores[i] != v->scores[i])
            __builtin_trap();   /* NaN */
    }
    for (int64_t i = 0; i < v->n_merges; i++)
        if (!v->merges[i] || !strchr(v->merges[i], ' '))
            __builtin_trap();
    const int64_t ids[] = {v->bos_id, v->eos_id, v->unk_id, v->pad_id};
    for (int k = 0; k < 4; k++)
        if (ids[k] < -1 || ids[k] >= v->n_tokens)
            __builtin_trap();
    if (strcmp(v->model, "llama") != 0 && strcmp(v->model, "gpt2") != 0)
        __builtin_trap();
}

/* Run one of the file readers on data through a memfd. */
static void fuzz_file(int pick, const uint8_t *data, size_t size)
{
    char path[64];
    struct vocab v;
    int64_t n_vocab = 0;
    if (pick == PICK_LLAMA2C) {
        if (size < 1)
            return;
        n_vocab = (int64_t)data[0] + 1;
        data++;
        size--;
    }
    int fd = memfd_create("fuzz.tokenizer", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write_all(fd, data, size) == 0) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        int rc = pick == PICK_SPM ? tokenizer_spm_read(&v, path)
                 : pick == PICK_HF ? tokenizer_hf_read(&v, path)
                                   : tokenizer_llama2c_read(&v, path, n_vocab);
        if (rc == 0)
            check_vocab(&v);
        else if (v.n_tokens != 0 || v.tokens || ig_error_message()[0] == '\0')
            __builtin_trap();   /* a failure leaves v initialised and says why */
        vocab_free(&v);
    }
    close(fd);
}

static char config_dir[64];   /* made on first use, removed at exit */

static void remove_config_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", config_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", config_dir);
    unlink(path);
    rmdir(config_dir);
}

/* tokenizer_hf_apply_config on a folder holding tokenizer_config.json (and config.json
 * when the input has a NUL). */
static void fuzz_config(const uint8_t *data, size_t size)
{
    static const char *const texts[] = {"<unk>", "<s>", "</s>", "a", "b", "<pad>"};
    const char *dir = config_dir;
    char path[128];
    if (!config_dir[0]) {
        snprintf(config_dir, sizeof config_dir, "/tmp/fuzz-tokenizer-XXXXXX");
        if (!mkdtemp(config_dir)) {
            config_dir[0] = '\0';
            return;
        }
        atexit(remove_config_dir);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t n_first = nul ? (size_t)(nul - data) : size;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (write_file(path, data, n_first))
        return;
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    if (nul && write_file(path, nul + 1, size - n_first - 1))
        return;
    struct vocab v;
    vocab_init(&v);
    if (vocab_alloc(&v, 6, 1) == 0) {
        for (int i = 0; i < 6; i++)
            v.tokens[i] = strdup(texts[i]);
        if (tokenizer_hf_apply_config(&v, dir) == 0) {
            const int64_t ids[] = {v.bos_id, v.eos_id, v.unk_id, v.pad_id};
            for (int k = 0; k < 4; k++)
                if (ids[k] < -1 || ids[k] >= v.n_tokens)
                    __builtin_trap();
        }
    }
    vocab_free(&v);
}

/* ---- entry point ---------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int pick = data[0] % N_PICKS;
    if (pick == PICK_CONFIG)
        fuzz_config(data + 1, size - 1);
    else
        fuzz_file(pick, data + 1, size - 1);
    return 0;
}
