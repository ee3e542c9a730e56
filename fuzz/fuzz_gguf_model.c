/* fuzz_gguf_model.c — libFuzzer harness for a GGUF file opened as a model source
 * (formats/gguf_model.c behind model_src_open, formats/model_src.h).
 *
 * fuzz_gguf covers the container; this covers the layer above it: hyperparameters from
 * {arch}.* keys, the vocabulary from tokenizer.ggml.*, tensors as stored, and
 * model_src_check's shape table and completeness rule. Each input is written as model.gguf
 * into a private temporary folder and opened with model_src_open. Any input may be
 * rejected; none may crash, leak or read outside the mapping, and an accepted source
 * passes fuzz_model_walk: every float tensor's rows read through src_tensor_read_rows_f32,
 * every quantized one's through tensor_read_rows_f32 (the reference dequantizers), see
 * fuzz_model.h.
 * Seeds: tests/data/fuzz-seeds/fuzz_gguf_model (written by fuzz/make_seeds.py).
 * Build and run: make build/fuzz/fuzz_gguf_model && build/fuzz/fuzz_gguf_model -max_total_time=30
 */
#define FUZZ_DEQUANT   /* quantized tensors' rows too (Makefile: FUZZ_EXTRA_fuzz_gguf_model) */

#include "common/ig_error.h"
#include "fuzz/fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX];
    const char *dir = fuzz_dir("fuzz_gguf_model");
    if (!dir || fuzz_write_file(dir, "model.gguf", data, size))
        return 0;
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    struct model_src *src = NULL;
    ig_error_clear();
    int rc = model_src_open(&src, path, NULL);
    fuzz_note("fuzz_gguf_model", "model_src_open", rc, ig_error_message());
    if (rc == 0) {
        if (src->kind != MODEL_SRC_GGUF || !src->gguf)
            __builtin_trap();
        fuzz_model_walk(src);
    } else if (src || ig_error_message()[0] == '\0') {
        __builtin_trap();   /* *out is NULL on failure, and the message says why */
    }
    model_src_close(src);
    return 0;
}
