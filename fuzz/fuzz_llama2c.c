/* fuzz_llama2c.c — libFuzzer harness for llama2.c checkpoints (formats/llama2c.h) opened
 * as a model source (model_src_open), with their tokenizer.
 *
 * A checkpoint is accepted only when its header's sizes add up to the file size exactly,
 * which random bytes never do, so the harness can make that true. An input is
 *     flags (1 byte) | tokenizer length (u16 LE, cut to what is left) | tokenizer | checkpoint
 * flags bit 0: fit the checkpoint to the size its header asks for (zero-padded or cut),
 *              when the header is well formed and that size is at most FUZZ_L2C_MAX_BYTES;
 *       bit 1: the tokenizer is a SentencePiece tokenizer.model (else a llama2.c tokenizer.bin);
 *       bit 2: pass the tokenizer's path (else the reader finds it beside the checkpoint).
 * Files go into a private temporary folder, emptied per input. Any input may be rejected;
 * none may crash, leak or read outside the mapping, and:
 *   - llama2c_probe on the checkpoint's bytes agrees with the reader whenever it accepts;
 *   - an accepted source passes fuzz_model_walk (every tensor's rows read, see fuzz_model.h).
 * Seeds: tests/data/fuzz-seeds/fuzz_llama2c (written by fuzz/make_seeds.py).
 * Build and run: make build/fuzz/fuzz_llama2c && build/fuzz/fuzz_llama2c -max_total_time=30
 */
#include "common/ig_error.h"
#include "formats/llama2c.h"
#include "fuzz/fuzz_model.h"

#define FUZZ_L2C_MAX_BYTES ((uint64_t)256 << 10)
#define FLAG_FIT 1
#define FLAG_SPM 2
#define FLAG_TOKENIZER_PATH 4

/* ---- sizing --------------------------------------------------------------------------------- */

static int32_t i32_le(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* The file size the 28-byte header at h asks for (llama2c.h, item 2), or 0 when the
 * header is malformed or the size overflows; computed here independently of the reader. */
static uint64_t wanted_size(const uint8_t *h)
{
    int64_t dim = i32_le(h), hid = i32_le(h + 4), L = i32_le(h + 8), nh = i32_le(h + 12), nkv = i32_le(h + 16),
            voc = i32_le(h + 20), seq = i32_le(h + 24);
    if (dim <= 0 || hid <= 0 || L <= 0 || nh <= 0 || nkv <= 0 || seq <= 0 || voc == 0 || dim % nh || nh % nkv)
        return 0;
    uint64_t v = (uint64_t)(voc < 0 ? -voc : voc), head = (uint64_t)(dim / nh), kv = head * (uint64_t)nkv;
    uint64_t d = (uint64_t)dim, f = 0, t;
    const uint64_t terms[][3] = {
        {v, d, 1}, {(uint64_t)L, d, 1}, {(uint64_t)L, d, d}, {(uint64_t)L, kv, d}, {(uint64_t)L, kv, d},
        {(uint64_t)L, d, d}, {(uint64_t)L, d, 1}, {(uint64_t)L, (uint64_t)hid, d}, {(uint64_t)L, d, (uint64_t)hid},
        {(uint64_t)L, (uint64_t)hid, d}, {d, 1, 1}, {(uint64_t)seq, head / 2, 2}, {voc < 0 ? v : 0, d, 1},
    };
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++)
        if (__builtin_mul_overflow(terms[i][0], terms[i][1], &t) || __builtin_mul_overflow(t, terms[i][2], &t) ||
            __builtin_add_overflow(f, t, &f))
            return 0;
    if (__builtin_mul_overflow(f, 4, &f) || __builtin_add_overflow(f, 28, &f))
        return 0;
    return f;
}

/* ---- entry point -------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ckpt[FUZZ_PATH_MAX], tok[FUZZ_PATH_MAX];
    if (size < 3)
        return 0;
    const int flags = data[0];
    size_t n_tok = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    n_tok = n_tok < size ? n_tok : size;
    const uint8_t *tok_bytes = data, *body = data + n_tok;
    size_t n_body = size - n_tok;

    /* the checkpoint, fitted to its header's size when asked */
    uint8_t *fitted = NULL;
    uint64_t want = n_body >= 28 && (flags & FLAG_FIT) ? wanted_size(body) : 0;
    if (want && want <= FUZZ_L2C_MAX_BYTES && want != n_body) {
        fitted = calloc(1, (size_t)want);
        if (!fitted)
            return 0;
        memcpy(fitted, body, n_body < want ? n_body : (size_t)want);
        body = fitted;
        n_body = (size_t)want;
    }

    const char *dir = fuzz_dir("fuzz_llama2c");
    const char *tok_name = flags & FLAG_TOKENIZER_PATH ? (flags & FLAG_SPM ? "tok.model" : "tok.bin")
                                                       : (flags & FLAG_SPM ? "tokenizer.model" : "tokenizer.bin");
    if (!dir || fuzz_write_file(dir, "model.bin", body, n_body) || fuzz_write_file(dir, tok_name, tok_bytes, n_tok))
        goto out_free;
    snprintf(ckpt, sizeof ckpt, "%s/model.bin", dir);
    snprintf(tok, sizeof tok, "%s/%s", dir, tok_name);

    struct model_src *src = NULL;
    int rc = model_src_open(&src, ckpt, flags & FLAG_TOKENIZER_PATH ? tok : NULL);
    fuzz_note("fuzz_llama2c", "model_src_open", rc, ig_error_message());
    if (rc == 0) {
        bool is_gguf = n_body >= 4 && memcmp(body, "GGUF", 4) == 0;
        if (!is_gguf && (src->kind != MODEL_SRC_LLAMA2C || !llama2c_probe(body, n_body)))
            __builtin_trap();
        fuzz_model_walk(src);
    } else if (src) {
        __builtin_trap();   /* *out is NULL on failure */
    }
    model_src_close(src);
out_free:
    free(fitted);
    return 0;
}
