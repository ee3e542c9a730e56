/* export_hf.h — `ingot convert SRC --format gptq|gptq_v2|awq|bnb -o FOLDER`: an HF folder
 * that transformers, vLLM and bitsandbytes load, instead of a GGUF file.
 *
 * The conversion itself is the ordinary one (cmd_convert.c, every option included), written
 * as a GGUF into a temporary folder beside FOLDER; its quantized linears are then re-laid
 * into the format's tensors (formats/hf_quant_write.h), the other tensors copied (F16, or
 * F32 where F16 would round them, e.g. AWQ-folded norms), config.json rewritten with a
 * quantization_config, the tokenizer files copied, and the temporary folder renamed over
 * FOLDER. So the exported weights dequantize to exactly the GGUF's (gptq, awq); bnb
 * re-quantizes the linears from the source floats with bitsandbytes' own rule (its absmax
 * must be the true per-64 maximum, which ingot's NF4 blocks do not keep; quantizers/bnb4.h),
 * and its GGUF run takes --allow-fallback (bnb's blocks run over the flattened tensor, so a
 * row that is no whole 256-block is no obstacle).
 * FOLDER must be absent, an empty folder, or a folder an earlier export wrote (it holds
 * ingot_export.json); that folder is replaced whole, atomically (renameat2 RENAME_EXCHANGE).
 * The source must be an HF folder (its config.json and tokenizer files are what is copied;
 * a GGUF or llama2.c source is refused).
 */
#ifndef EXPORT_HF_H
#define EXPORT_HF_H

#include <stdbool.h>

struct export_hf_args {
    const char *format;      /* "gptq" (v1 zeros), "gptq_v2", "awq" or "bnb" */
    const char *src_path;    /* SRC as given */
    const char *out_path;    /* -o FOLDER */
    const char *type_name;   /* --type: I4_G32.., I8_G32.. (gptq), I4_G* (awq), NF4 (bnb) */
    const char *method;      /* --method: rtn, gptq, awq, awq+gptq (bnb: rtn only) */
    bool quiet, json_stdout; /* -q; --json (the summary then goes to stderr) */
};

/* Run the export: check the format, type, method, source and FOLDER (exit 2 with a message
 * naming what is wrong, before any work), run cmd_convert(argc, argv) again with
 * "--format gguf -o TMP/ingot-intermediate.gguf" added, then write FOLDER. argv is the
 * convert command's (argv[0] "convert"). Returns the exit code (cli.h: 0, 2 bad input, 3 I/O),
 * having printed any error; nothing is left at FOLDER on failure. */
int export_hf_main(const struct export_hf_args *a, int argc, char **argv);

#endif /* EXPORT_HF_H */
