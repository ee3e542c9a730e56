/* import_hf.h — `ingot convert FOLDER` from a GPTQ, AWQ or bitsandbytes HF folder.
 *
 * A third-party quantized linear (formats/hf_quant.h) already holds integer codes with their
 * scales. Re-quantizing its dequantized rows would round them a second time, so by default
 * (no --type) each linear is written WITHOUT a second rounding wherever a GGUF type can hold
 * its codes exactly, and the rest is said per tensor, with the error measured. The rules:
 *
 *   GPTQ / AWQ, block G of the target type (32 for Q4_0/Q8_0, G for I4_G / I8_G):
 *     exact when every aligned run of G inputs lies in ONE quantization group (group size a
 *     multiple of G, or group -1, or an act-order g_idx that happens to keep runs together),
 *     every scale is exactly an fp16 (F16 always; BF16/F32 checked value by value), and the
 *     codes fit: I4 holds bits <= 4 (zero 0..15), I8 bits <= 8; Q4_0 holds y = (c - 8) d, so
 *     every q - zero must lie in [-8, 7] (always for 2/3 bits, sym 4-bit's zero 8); Q8_0
 *     every q - zero in [-128, 127]. v1 zeros are stored as the true zero.
 *     Scales that are not fp16 but fit it: codes kept, scales rounded (a second rounding of
 *     the scales only). Anything else (act-order with groups that split a block): the
 *     dequantized rows re-quantized.
 *   bitsandbytes NF4 (standard code table, blocksize a multiple of 64): codes kept in NF4_F16,
 *     each block's absmax (double quantization decoded) rounded to fp16 — exact only when
 *     every absmax already is an fp16. FP4 and other code tables: re-quantized to NF4_F16.
 *   LLM.int8: codes kept in Q8_0 with d = fp16(SCB * f32(1/127)) (bitsandbytes multiplies by
 *     SCB, then by 1/127: two roundings ingot's one multiply cannot repeat).
 *
 * Default types: when EVERY third-party linear is exact in the llama.cpp type of its width
 * (Q4_0 for 2-4 bits, Q8_0 for 8), all take it, so stock llama.cpp loads the file
 * (embeddings, norms and lm_head are F16/F32 as `convert` writes them); this costs 0.25
 * bits per weight over I4_G128 for group-128 files, and is what sym GPTQ (zero 8 / 128) and
 * every 2/3-bit GPTQ give. An asym 4-bit linear would fit Q8_0 too, at twice the size: no.
 * Otherwise each linear takes the smallest ingot INT-group type that holds it exactly
 * (I4_G128, I4_G64, I4_G32 for <= 4 bits; I8_G* for 8 bits), then one that holds it with
 * rounded scales, then a re-quantization into the largest of those whose block the row
 * length allows and that is no coarser than the source's groups (act-order g32 -> I4_G32).
 * bitsandbytes 4-bit takes NF4_F16, LLM.int8 Q8_0. A row length no block divides is F32
 * ("widened to F32": every value exact).
 *
 * With --type T the plan's types stand; a linear is repacked (no second rounding) where T
 * holds it exactly as above, and re-quantized from its dequantized rows otherwise, with a
 * warning (no --allow-requantize needed: the dequantized checkpoint is the best source there
 * is). Either way every linear's written values are dequantized again and compared with the
 * folder's dequantized rows: elements whose bits differ, relative RMS error and max |error|
 * appear in the text and JSON reports, so "exact" is a measurement, not a claim.
 */
#ifndef IMPORT_HF_H
#define IMPORT_HF_H

#include "plan.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct gguf_writer;
struct json_t;

/* How a linear's values reach its type. */
enum import_how {
    IMPORT_REPACK = 1,        /* codes, zeros and fp16 scales moved into the type's blocks */
    IMPORT_REPACK_SCALES,     /* codes kept; scales / absmax rounded to fp16 */
    IMPORT_REQUANT,           /* the dequantized rows through the type's reference quantizer */
};

struct import_tensor {
    const struct src_tensor *src;   /* borrowed: a third-party linear of the plan's source */
    int type;                       /* ggml type written */
    enum import_how how;
    char why[224];                  /* why not repacked exactly ("" when it is) */
    /* measured while writing, against the folder's dequantized rows */
    bool measured;
    int64_t n_elems, n_differ;      /* elements; elements whose f32 bits differ */
    double rel_rms_error;           /* sqrt(sum (y - x)^2 / sum x^2); 0 when both sums are 0 */
    double max_abs_error;
};

struct import_hf {
    bool type_given;                /* --type: the plan's types stand */
    int64_t n;
    struct import_tensor *t;        /* [n] owned, in plan order */
    struct file_type ft;            /* default import: the file type the plan then names */
    char ft_name[48];
    /* --eval TEXT: the written file's KLD against the folder (import_hf_measure_kld) */
    const char *eval_path;          /* borrowed: NULL when not measured */
    double kld_mean, kld_mean_stderr, same_top_pct;
};

/* For every third-party linear of plan (none: imp->n = 0, nothing changes): decide its
 * type (default policy above, or the plan's own when type_given) and how it is written;
 * without type_given set each entry's type and point plan->file_type at imp->ft. Prints
 * one warning line on stderr per linear that gets a second rounding, saying why.
 * Returns 0 or IG_ENOMEM. */
int import_hf_plan(struct import_hf *imp, struct plan *plan, bool type_given);

/* imp's record for t, or NULL when t is not a third-party linear. */
struct import_tensor *import_hf_find(struct import_hf *imp, const struct src_tensor *t);

/* Write it->src's tensor data to w (then gguf_writer_end_tensor) and measure its error.
 * imatrix: [ne0] importance for a re-quantization, or NULL. Returns 0, IG_EINVAL naming the
 * tensor, row and element (a NaN or Inf among the dequantized values of a re-quantized
 * linear), IG_ENOMEM, or the writer's IG_EIO. Rows are done in parallel, each by one
 * thread, and the sums are added in row order: the figures do not depend on threads. */
int import_hf_write_tensor(struct import_tensor *it, struct gguf_writer *w, const float *imatrix);

/* Before any work: path must be a readable text file verify will take (formats/text_file.h
 * rules). Returns 0, or IG_EINVAL / IG_EIO naming it. */
int import_hf_check_eval(const char *path);

/* --eval TEXT: the mean KL divergence of out_path against the folder src_path over text, by
 * `ingot verify` run in this process (its table on stdout, or on stderr when stdout_is_json),
 * into imp->kld_*. Returns 0, or IG_EINVAL / IG_EIO when verify failed (its message printed). */
int import_hf_measure_kld(struct import_hf *imp, const char *out_path, const char *src_path, const char *text,
                          bool stdout_is_json);

/* The closing lines: a summary on human; each linear with a second rounding, with its
 * measured error, on stderr; the `ingot verify` command that measures the KLD. */
void import_hf_print(const struct import_hf *imp, FILE *human, const char *out_path, const char *src_path);

/* {"policy", "exact", "second_rounding", "kld": {text, mean, mean_stderr, same_top_pct} or null,
 * "tensors": [{tensor, source_type, type, how, exact, elements, elements_differing,
 * rel_rms_error, max_abs_error, why}]}, or JSON null when the source has no third-party linears. */
struct json_t *import_hf_json(const struct import_hf *imp);

/* Release imp's array; accepts a zeroed imp. */
void import_hf_free(struct import_hf *imp);

#endif /* IMPORT_HF_H */
