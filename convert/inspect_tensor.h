/* inspect_tensor.h — `ingot inspect FILE|FOLDER --tensor NAME [--dump-f32 OUT]`: one tensor.
 *
 * The tensor is found without building a model: a GGUF file is parsed directly (no
 * architecture keys needed: a vision projector or an unknown architecture works), and an HF
 * checkpoint is read file by file, so a folder holding only some shards (no index, no
 * config.json) works too. Its values are dequantized through the type table
 * (quantizers/quant_type.h), whatever type it knows, and summarised in double in one fixed
 * order; --dump-f32 writes them as raw little-endian f32, atomically (formats/out_file.h).
 */
#ifndef INSPECT_TENSOR_H
#define INSPECT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

struct inspect_tensor_opts {
    const char *path;        /* FILE or FOLDER, as given */
    const char *name;        /* --tensor NAME */
    const char *dump_path;   /* --dump-f32 OUT, or NULL */
    bool as_json;            /* --json: the JSON document on stdout instead of the text */
    const char *json_out;    /* --json-out FILE, or NULL */
};

/* Find, summarise and optionally dump one tensor, printing the result or the error.
 * Returns the exit code: 0; 2 bad input (no such tensor, a type this build cannot
 * dequantize, OUT equal to an input, a damaged file); 3 I/O. */
int inspect_tensor_run(const struct inspect_tensor_opts *o);

/* True when the file at path starts with the GGUF magic. */
bool inspect_is_gguf(const char *path);

/* How an HF folder stores its weights, in words, into buf[size] (returns buf): today
 * "safetensors" plus the dtypes seen. The one place where the storage format of an HF
 * folder is named, so third-party formats (GPTQ, AWQ, bitsandbytes) are described here. */
const char *inspect_hf_format(const char *folder, const char *dtypes, char *buf, size_t size);

#endif /* INSPECT_TENSOR_H */
