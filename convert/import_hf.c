/* import_hf.c — third-party quantized linears into GGUF blocks without a second rounding
 * where a type holds them (the rules and the default policy are in import_hf.h).
 *
 * Sits between convert's plan (which tensor gets which type) and the GGUF writer: for each
 * GPTQ/AWQ/bitsandbytes linear it decides the type and how the values get there, then
 * writes its rows either by moving the stored integers into the type's blocks (repack) or
 * through the type's reference quantizer (re-quantize), and in both cases dequantizes the
 * written blocks again to measure the difference from the folder's own dequantized rows.
 */
#include "import_hf.h"

#include "cli.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf_meta.h"
#include "../formats/gguf_write.h"
#include "../formats/hf_quant.h"
#include "../formats/text_file.h"
#include "../quantizers/ext_types.h"
#include "../quantizers/quant_type.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMPORT_CHUNK_ELEMS (1 << 20)   /* floats per step: 4 MiB of rows, twice (read, check) */

/* 1/127 as bitsandbytes rounds it to f32 (hf_quant.h, LLM.int8). */
#define IMPORT_INV127 ((float)(1.0 / 127.0))

/* Per-row error sums, added in row order after the parallel loop. */
struct row_err {
    double se, sx;       /* sum (y - x)^2, sum x^2 */
    double max_abs;
    int64_t n_differ;
};

static bool is_hfq(const struct src_tensor *t)
{
    return t->read_rows_f32 == hfq_read_rows_f32 && t->aux != NULL;
}

static const char *how_name(const struct import_tensor *it)
{
    if (it->type == GGML_TYPE_F32)
        return "widened to F32";
    return it->how == IMPORT_REPACK ? "repacked" : it->how == IMPORT_REPACK_SCALES ? "repacked, scales rounded to fp16"
                                                                                   : "re-quantized";
}

/* Does it round the folder's values again? Everything but a repack does, except F32, which
 * holds every dequantized value (the fallback when no block divides a row). */
static bool second_rounding(const struct import_tensor *it)
{
    return it->how != IMPORT_REPACK && it->type != GGML_TYPE_F32;
}

/* ---- what a type can hold ----------------------------------------------------------------- */

/* The block of a type that stores integer codes with one scale (and zero) per block, with its
 * code width: 4 (I4_G*, Q4_0) or 8 (I8_G*, Q8_0); 0 for every other type. */
static int64_t int_block(int type, int *bits)
{
    switch (type) {
    case GGML_TYPE_Q4_0: *bits = 4; return 32;
    case GGML_TYPE_Q8_0: *bits = 8; return 32;
    case GGML_TYPE_I4_G32: *bits = 4; return 32;
    case GGML_TYPE_I4_G64: *bits = 4; return 64;
    case GGML_TYPE_I4_G128: *bits = 4; return 128;
    case GGML_TYPE_I8_G32: *bits = 8; return 32;
    case GGML_TYPE_I8_G64: *bits = 8; return 64;
    case GGML_TYPE_I8_G128: *bits = 8; return 128;
    default: *bits = 0; return 0;
    }
}

static bool is_symmetric_type(int type)
{
    return type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q8_0;
}

static bool fp16_exact(float s)
{
    uint32_t a, b;
    float r = ig_fp16_to_fp32(ig_fp32_to_fp16(s));
    memcpy(&a, &s, 4);
    memcpy(&b, &r, 4);
    return isfinite(s) && a == b;
}

static bool fp16_finite(float s)
{
    return isfinite(s) && isfinite(ig_fp16_to_fp32(ig_fp32_to_fp16(s)));
}

/* The scales (GPTQ/AWQ: [n_groups][n_out]; bnb 4-bit: every block's absmax): IMPORT_REPACK
 * when all are fp16 values, IMPORT_REPACK_SCALES when all round to a finite fp16, else
 * IMPORT_REQUANT with *why set. */
static enum import_how scales_fit(const struct hfq_tensor *q, char *why, size_t size)
{
    bool exact = true;
    int64_t n = q->method == HFQ_BNB4 ? (q->n_out * q->n_in + q->blocksize - 1) / q->blocksize
                : q->method == HFQ_BNB8 ? q->n_out : q->n_groups * q->n_out;
    for (int64_t k = 0; k < n; k++) {
        float s = q->method == HFQ_BNB4 || q->method == HFQ_BNB8 ? hfq_absmax(q, k)
                                                                 : hfq_scale(q, k / q->n_out, k % q->n_out);
        if (!fp16_finite(s)) {
            snprintf(why, size, "scale %lld is %g, which fp16 cannot hold", (long long)k, (double)s);
            return IMPORT_REQUANT;
        }
        exact = exact && fp16_exact(s);
    }
    if (!exact)
        snprintf(why, size, "%s values are not all fp16 numbers: rounded to fp16, codes kept",
                 q->method == HFQ_BNB4 ? "absmax" : "scale");
    return exact ? IMPORT_REPACK : IMPORT_REPACK_SCALES;
}

/* GPTQ/AWQ: every aligned run of G inputs in one group? *why names the first that is not. */
static bool groups_fit(const struct hfq_tensor *q, int64_t G, char *why, size_t size)
{
    for (int64_t i = 0; i < q->n_in; i++) {
        int64_t g0 = hfq_group_of(q, i - i % G), g = hfq_group_of(q, i);
        if (g != g0) {
            if (q->g_idx)
                snprintf(why, size, "g_idx puts inputs %lld and %lld of one %lld-block in groups %lld and %lld "
                         "(act-order)", (long long)(i - i % G), (long long)i, (long long)G, (long long)g0, (long long)g);
            else
                snprintf(why, size, "group size %lld is not a multiple of the type's block of %lld",
                         (long long)q->group_size, (long long)G);
            return false;
        }
    }
    return true;
}

/* Symmetric types store c - 8 (Q4_0) or c (Q8_0) with no zero: every q - zero must lie in
 * [lo, hi]. Codes of fewer bits than the type's always do; otherwise check each one. */
static bool codes_fit_symmetric(const struct hfq_tensor *q, int type_bits, char *why, size_t size)
{
    const int lo = type_bits == 4 ? -8 : -128, hi = type_bits == 4 ? 7 : 127;
    if (q->bits < type_bits)
        return true;
    for (int64_t o = 0; o < q->n_out; o++)
        for (int64_t i = 0, g_last = -1, z = 0; i < q->n_in; i++) {
            int64_t g = hfq_group_of(q, i);
            if (g != g_last) {   /* runs of one group: one zero lookup per run */
                z = hfq_zero(q, g, o);
                g_last = g;
            }
            if (z == hi + 1)   /* sym: q - zero spans [lo, hi] exactly */
                continue;
            int d = (int)hfq_code(q, o, i) - (int)z;
            if (d < lo || d > hi) {
                snprintf(why, size, "output %lld, input %lld: q - zero = %d is outside the symmetric type's [%d, %d]",
                         (long long)o, (long long)i, d, lo, hi);
                return false;
            }
        }
    return true;
}

/* How exactly type can hold q (see import_hf.h); *why says what is lost when not exactly. */
static enum import_how fit(const struct hfq_tensor *q, int type, char *why, size_t size)
{
    int tbits;
    const int64_t G = int_block(type, &tbits);
    why[0] = '\0';
    if (q->method == HFQ_BNB4) {
        bool nf4 = !q->fp4 && memcmp(q->quant_map, nf4_code, sizeof nf4_code) == 0;
        if (type != GGML_TYPE_NF4_F16)
            snprintf(why, size, "%s holds no NF4 codes", ggml_type_name(type));
        else if (!nf4)
            snprintf(why, size, "%s: ingot's NF4_F16 holds the standard NF4 code table only", q->fp4 ? "FP4 codes" : "quant_map differs from the NF4 table");
        else if (q->blocksize % 64 != 0 || q->n_in % 64 != 0)
            snprintf(why, size, "blocksize %lld / row length %lld: NF4_F16 needs blocks of 64 within rows",
                     (long long)q->blocksize, (long long)q->n_in);
        else
            return scales_fit(q, why, size);
        return IMPORT_REQUANT;
    }
    if (G == 0) {
        snprintf(why, size, "%s holds no integer codes", ggml_type_name(type));
        return IMPORT_REQUANT;
    }
    if (q->n_in % G != 0) {
        snprintf(why, size, "row length %lld is not a multiple of %s's block of %lld", (long long)q->n_in,
                 ggml_type_name(type), (long long)G);
        return IMPORT_REQUANT;
    }
    if (q->method == HFQ_BNB8) {
        if (tbits != 8) {
            snprintf(why, size, "%s cannot hold 8-bit codes", ggml_type_name(type));
            return IMPORT_REQUANT;
        }
        enum import_how h = scales_fit(q, why, size);
        if (h != IMPORT_REQUANT)
            snprintf(why, size, "d = fp16(SCB/127) (bitsandbytes rounds w * SCB, then * 1/127): codes kept");
        return h == IMPORT_REQUANT ? h : IMPORT_REPACK_SCALES;
    }
    if (q->bits > tbits) {
        snprintf(why, size, "%s cannot hold %d-bit codes", ggml_type_name(type), q->bits);
        return IMPORT_REQUANT;
    }
    if (!groups_fit(q, G, why, size))
        return IMPORT_REQUANT;
    if (is_symmetric_type(type) && !codes_fit_symmetric(q, tbits, why, size))
        return IMPORT_REQUANT;
    return scales_fit(q, why, size);
}

/* ---- the default policy ---------------------------------------------------------------------- */

/* Without --type: the smallest ingot type that holds q exactly, else one with rounded scales,
 * else a re-quantization into the first candidate the row length allows (F32 when none). */
static int default_type(const struct hfq_tensor *q, enum import_how *how, char *why, size_t size)
{
    static const int i4[] = {GGML_TYPE_I4_G128, GGML_TYPE_I4_G64, GGML_TYPE_I4_G32};
    static const int i8[] = {GGML_TYPE_I8_G128, GGML_TYPE_I8_G64, GGML_TYPE_I8_G32};
    static const int nf4[] = {GGML_TYPE_NF4_F16};
    static const int q8[] = {GGML_TYPE_Q8_0};
    const int *cand = q->method == HFQ_BNB4 ? nf4 : q->method == HFQ_BNB8 ? q8 : q->bits <= 4 ? i4 : i8;
    const int n_cand = q->method == HFQ_BNB4 || q->method == HFQ_BNB8 ? 1 : 3;
    char w[224];
    for (enum import_how want = IMPORT_REPACK; want <= IMPORT_REPACK_SCALES; want++)
        for (int k = 0; k < n_cand; k++) {
            if (fit(q, cand[k], w, sizeof w) == want) {
                *how = want;
                snprintf(why, size, "%s", w);
                return cand[k];
            }
        }
    /* re-quantized into the largest block the row length allows that is no larger than the
     * source's groups (a coarser grid would add error for nothing), else the smallest the
     * row allows; saying why that one cannot hold the codes */
    *how = IMPORT_REQUANT;
    int pick = -1;
    for (int k = 0; k < n_cand; k++) {   /* candidates go from the largest block down */
        const int64_t G = ggml_type_info_get(cand[k])->block_elems;
        if (q->n_in % G != 0)
            continue;
        pick = k;
        if (q->method == HFQ_BNB4 || q->method == HFQ_BNB8 || G <= q->group_size)
            break;
    }
    if (pick >= 0) {
        fit(q, cand[pick], why, size);
        return cand[pick];
    }
    fit(q, cand[n_cand - 1], why, size);
    snprintf(why + strlen(why), size - strlen(why), "; no block type divides the row: F32 holds every value");
    return GGML_TYPE_F32;
}

/* llama.cpp loads a file whose linears are all Q4_0 or Q8_0: switch to those when every
 * GPTQ/AWQ linear is exact in the one of its width (Q4_0 for <= 4 bits, Q8_0 for 8; an
 * asym 4-bit linear also fits Q8_0, but at twice the bits, which no loader is worth). */
static int llama_type(const struct hfq_tensor *q)
{
    return q->bits <= 4 ? GGML_TYPE_Q4_0 : GGML_TYPE_Q8_0;
}

static void prefer_llama_types(struct import_hf *imp)
{
    char w[224];
    for (int64_t k = 0; k < imp->n; k++) {
        const struct hfq_tensor *q = imp->t[k].src->aux;
        if ((q->method != HFQ_GPTQ && q->method != HFQ_AWQ) || fit(q, llama_type(q), w, sizeof w) != IMPORT_REPACK)
            return;
    }
    for (int64_t k = 0; k < imp->n; k++) {
        imp->t[k].type = llama_type(imp->t[k].src->aux);
        imp->t[k].how = IMPORT_REPACK;
        imp->t[k].why[0] = '\0';
    }
}

/* The file type a default import names: the one type of its linears, else "mixed". */
static void set_file_type(struct import_hf *imp, struct plan *plan)
{
    int type = imp->n ? imp->t[0].type : -1;
    for (int64_t k = 1; k < imp->n; k++)
        if (imp->t[k].type != type)
            type = -1;
    const struct file_type *known = type >= 0 ? plan_file_type_find(ggml_type_name(type)) : NULL;
    snprintf(imp->ft_name, sizeof imp->ft_name, "%s", type >= 0 ? ggml_type_name(type) : "mixed");
    imp->ft.name = imp->ft_name;
    imp->ft.ftype = known ? known->ftype : LLAMA_FTYPE_GUESSED;
    imp->ft.tensor_type = type >= 0 ? type : GGML_TYPE_F16;
    imp->ft.quantized = true;
    plan->file_type = &imp->ft;
}

int import_hf_plan(struct import_hf *imp, struct plan *plan, bool type_given)
{
    memset(imp, 0, sizeof *imp);
    imp->type_given = type_given;
    for (int64_t i = 0; i < plan->n_entries; i++)
        imp->n += is_hfq(plan->entries[i].src);
    if (imp->n == 0)
        return 0;
    imp->t = ig_calloc((size_t)imp->n, sizeof *imp->t);
    if (!imp->t)
        return IG_ENOMEM;
    int64_t k = 0;
    for (int64_t i = 0; i < plan->n_entries; i++) {
        struct plan_entry *e = &plan->entries[i];
        if (!is_hfq(e->src))
            continue;
        struct import_tensor *it = &imp->t[k++];
        it->src = e->src;
        if (type_given) {
            it->type = e->type;
            it->how = fit(e->src->aux, e->type, it->why, sizeof it->why);
        } else {
            it->type = default_type(e->src->aux, &it->how, it->why, sizeof it->why);
        }
    }
    if (!type_given)
        prefer_llama_types(imp);
    int64_t n_second = 0;
    for (k = 0; k < imp->n; k++) {
        const struct import_tensor *it = &imp->t[k];
        for (int64_t i = 0; i < plan->n_entries; i++)
            if (plan->entries[i].src == it->src && !type_given) {
                plan->entries[i].type = it->type;
                plan->entries[i].fallback_from = -1;
                plan->n_quantized += it->type != GGML_TYPE_F32;   /* planned F16: not counted before */
            }
        n_second += second_rounding(it);
    }
    if (!type_given)
        set_file_type(imp, plan);
    if (type_given && n_second)
        fprintf(stderr,
                "ingot convert: warning: --type %s gives %lld of %lld third-party linears a second rounding on top of "
                "the checkpoint's own (re-quantized from their dequantized values, or their scales rounded; errors "
                "measured per tensor below)\n",
                plan->file_type->name, (long long)n_second, (long long)imp->n);
    for (k = 0; k < imp->n; k++) {
        const struct import_tensor *it = &imp->t[k];
        if (second_rounding(it))   /* F32 holds every value */
            fprintf(stderr, "ingot convert: warning: %s: %s -> %s is a second rounding (%s): %s\n", it->src->name,
                    src_tensor_type_name(it->src), ggml_type_name(it->type), how_name(it), it->why);
    }
    return 0;
}

struct import_tensor *import_hf_find(struct import_hf *imp, const struct src_tensor *t)
{
    for (int64_t k = 0; imp && k < imp->n; k++)
        if (imp->t[k].src == t)
            return &imp->t[k];
    return NULL;
}

/* ---- repacking: the stored integers into blocks ------------------------------------------------ */

/* The scale (fp16 bits) and true zero of the block of stored row o that starts at input i0. */
static void block_params(const struct hfq_tensor *q, int64_t o, int64_t i0, uint16_t *d, int *zero)
{
    if (q->method == HFQ_BNB8) {
        *d = ig_fp32_to_fp16(hfq_absmax(q, o) * IMPORT_INV127);
        *zero = 128;
        return;
    }
    int64_t g = hfq_group_of(q, i0);
    *d = ig_fp32_to_fp16(hfq_scale(q, g, o));
    *zero = (int)hfq_zero(q, g, o);
}

/* I4_G / I8_G (ext_types.h 3, 4): d | zero | 0 | codes, low nibble first. */
static void repack_int_group(const struct hfq_tensor *q, int64_t o, int64_t G, int bits, uint8_t *dst)
{
    const size_t bb = int_group_block_bytes(G, bits);
    for (int64_t b = 0; b < q->n_in / G; b++) {
        uint8_t *blk = dst + (size_t)b * bb;
        uint16_t d;
        int zero;
        memset(blk, 0, bb);
        block_params(q, o, b * G, &d, &zero);
        memcpy(blk, &d, 2);
        blk[2] = (uint8_t)zero;
        for (int64_t j = 0; j < G; j++) {
            uint32_t c = hfq_code(q, o, b * G + j);
            if (bits == 8)
                blk[INT_GROUP_HEAD_BYTES + j] = (uint8_t)c;
            else
                blk[INT_GROUP_HEAD_BYTES + j / 2] |= (uint8_t)(c << (4 * (j % 2)));
        }
    }
}

/* Q4_0 (ggml): d | qs[16], qs[j] = (x[j] + 8) | (x[j + 16] + 8) << 4 with x = q - zero in
 * [-8, 7] (fit checked it), so y = (c - 8) * d = (q - zero) * d. */
static void repack_q4_0(const struct hfq_tensor *q, int64_t o, uint8_t *dst)
{
    for (int64_t b = 0; b < q->n_in / 32; b++) {
        uint8_t *blk = dst + (size_t)b * 18;
        uint16_t d;
        int zero;
        block_params(q, o, b * 32, &d, &zero);
        memcpy(blk, &d, 2);
        for (int j = 0; j < 16; j++) {
            int lo = (int)hfq_code(q, o, b * 32 + j) - zero + 8, hi = (int)hfq_code(q, o, b * 32 + j + 16) - zero + 8;
            blk[2 + j] = (uint8_t)(lo | hi << 4);
        }
    }
}

/* Q8_0 (ggml): d | int8 qs[32], y = qs * d with qs = q - zero in [-128, 127]. */
static void repack_q8_0(const struct hfq_tensor *q, int64_t o, uint8_t *dst)
{
    for (int64_t b = 0; b < q->n_in / 32; b++) {
        uint8_t *blk = dst + (size_t)b * 34;
        uint16_t d;
        int zero;
        block_params(q, o, b * 32, &d, &zero);
        memcpy(blk, &d, 2);
        for (int j = 0; j < 32; j++) {
            int8_t v = (int8_t)((int)hfq_code(q, o, b * 32 + j) - zero);
            memcpy(blk + 2 + j, &v, 1);
        }
    }
}

/* NF4_F16 (ext_types.h 2): per 64 elements d = fp16(absmax) | codes, high nibble first as
 * bitsandbytes packs them. A 64-run of a row lies in one bnb block (blocksize % 64 == 0). */
static void repack_nf4_f16(const struct hfq_tensor *q, int64_t o, uint8_t *dst)
{
    for (int64_t b = 0; b < q->n_in / 64; b++) {
        uint8_t *blk = dst + (size_t)b * 34;
        uint16_t d = ig_fp32_to_fp16(hfq_absmax(q, (o * q->n_in + b * 64) / q->blocksize));
        memcpy(blk, &d, 2);
        for (int j = 0; j < 32; j++)
            blk[2 + j] = (uint8_t)(hfq_code(q, o, b * 64 + 2 * j) << 4 | hfq_code(q, o, b * 64 + 2 * j + 1));
    }
}

static void repack_row(const struct hfq_tensor *q, int type, int64_t o, uint8_t *dst)
{
    int bits;
    const int64_t G = int_block(type, &bits);
    if (type == GGML_TYPE_Q4_0)
        repack_q4_0(q, o, dst);
    else if (type == GGML_TYPE_Q8_0)
        repack_q8_0(q, o, dst);
    else if (type == GGML_TYPE_NF4_F16)
        repack_nf4_f16(q, o, dst);
    else
        repack_int_group(q, o, G, bits, dst);
}

/* ---- writing -------------------------------------------------------------------------------------- */

static int check_finite(const float *x, int64_t n, const char *what)
{
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(x[j]))
            return ig_error_set(IG_EINVAL, "element %lld is %s (%s)", (long long)j,
                                isnan(x[j]) ? "NaN" : x[j] > 0 ? "+Inf" : "-Inf", what);
    return 0;
}

/* y (written, dequantized) against x (the folder's row): one row's sums, in element order. */
static void measure_row(const float *x, const float *y, int64_t n, struct row_err *e)
{
    memset(e, 0, sizeof *e);
    for (int64_t j = 0; j < n; j++) {
        uint32_t a, b;
        memcpy(&a, &x[j], 4);
        memcpy(&b, &y[j], 4);
        double d = (double)y[j] - (double)x[j];
        e->n_differ += a != b;
        e->se += d * d;
        e->sx += (double)x[j] * (double)x[j];
        if (fabs(d) > e->max_abs)
            e->max_abs = fabs(d);
    }
}

/* One row: repacked or re-quantized into dst, dequantized into y, measured against x. */
static int write_row(const struct import_tensor *it, const struct quant_type *qt, int64_t r, const float *x,
                     uint8_t *dst, float *y, const float *imatrix, struct row_err *e)
{
    const struct src_tensor *t = it->src;
    const struct hfq_tensor *q = t->aux;
    const int64_t n = t->ne[0];
    int rc = 0;
    if (it->how == IMPORT_REQUANT) {
        rc = check_finite(x, n, "only finite values can be re-quantized");
        if (!rc)
            rc = qt->quantize_row_ref(x, dst, n, imatrix);
    } else {
        int64_t o = t->permute_n_head > 0 ? model_permuted_row(r, q->n_out, t->permute_n_head) : r;
        repack_row(q, it->type, o, dst);
    }
    if (rc)
        return rc;
    qt->dequantize_row_ref(dst, y, n);
    measure_row(x, y, n, e);
    return check_finite(y, n, "the written value overflows the type");
}

/* Rows [r0, r0 + nr) into packed, measured into errs: in parallel, each row by one thread. */
static int write_rows(const struct import_tensor *it, const struct quant_type *qt, int64_t r0, int64_t nr,
                      const float *x, float *y, uint8_t *packed, const float *imatrix, struct row_err *errs)
{
    const int64_t n = it->src->ne[0];
    const size_t row_bytes = quant_row_size_bytes(qt, n);
    struct ig_par_error pe;
    ig_par_error_init(&pe);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < nr; r++) {
        if (ig_par_error_skip(&pe, r))
            continue;
        int k = write_row(it, qt, r0 + r, x + r * n, packed + (size_t)r * row_bytes, y + r * n, imatrix, &errs[r]);
        if (k) {
            ig_error_wrap(k, "row %lld", (long long)(r0 + r));
            ig_par_error_record(&pe, r, k);
        }
    }
    return ig_par_error_raise(&pe);
}

int import_hf_write_tensor(struct import_tensor *it, struct gguf_writer *w, const float *imatrix)
{
    const struct src_tensor *t = it->src;
    const struct quant_type *qt = quant_type_get(it->type);
    if (!qt || !qt->quantize_row_ref || !qt->dequantize_row_ref)
        return ig_error_set(IG_EINVAL, "tensor '%s': type %s cannot be written by this build", t->name,
                            ggml_type_name(it->type));
    const int64_t n = t->ne[0], n_rows = src_tensor_n_rows(t);
    const int64_t per = n < IMPORT_CHUNK_ELEMS ? IMPORT_CHUNK_ELEMS / n : 1;
    const size_t row_bytes = quant_row_size_bytes(qt, n);
    float *x = ig_malloc((size_t)(per * n) * sizeof *x), *y = ig_malloc((size_t)(per * n) * sizeof *y);
    uint8_t *packed = ig_malloc((size_t)per * row_bytes);
    struct row_err *errs = ig_malloc((size_t)per * sizeof *errs);
    int rc = x && y && packed && errs ? 0 : IG_ENOMEM;
    double se = 0, sx = 0;
    it->n_differ = 0;
    it->max_abs_error = 0;
    for (int64_t r0 = 0; r0 < n_rows && !rc; r0 += per) {
        int64_t nr = n_rows - r0 < per ? n_rows - r0 : per;
        rc = t->read_rows_f32(t, r0, nr, x);
        if (!rc)
            rc = write_rows(it, qt, r0, nr, x, y, packed, imatrix, errs);
        for (int64_t r = 0; r < nr && !rc; r++) {   /* in row order: the sums do not depend on threads */
            se += errs[r].se;
            sx += errs[r].sx;
            it->n_differ += errs[r].n_differ;
            if (errs[r].max_abs > it->max_abs_error)
                it->max_abs_error = errs[r].max_abs;
        }
        if (!rc)
            rc = gguf_writer_write(w, packed, (size_t)nr * row_bytes);
    }
    free(x);
    free(y);
    free(packed);
    free(errs);
    if (rc)
        return ig_error_wrap(rc, "%s: tensor '%s'", t->file ? t->file : "?", t->name);
    it->n_elems = n * n_rows;
    it->rel_rms_error = sx > 0 ? sqrt(se / sx) : se > 0 ? INFINITY : 0.0;
    it->measured = true;
    return gguf_writer_end_tensor(w);
}

/* ---- the KLD against the folder ------------------------------------------------------------------ */

int import_hf_check_eval(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ig_error_set(IG_EINVAL, "--eval %s: cannot be read: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0, k;
    char *text = ig_malloc(cap);
    int rc = text ? 0 : IG_ENOMEM;
    while (!rc && (k = fread(text + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            char *grown = ig_realloc(text, cap *= 2);
            rc = grown ? 0 : IG_ENOMEM;
            if (grown)
                text = grown;
        }
    }
    if (!rc && ferror(f))
        rc = ig_error_set(IG_EIO, "--eval %s: read error", path);
    fclose(f);
    if (!rc)
        rc = text_check(path, text, len);
    free(text);
    return rc;
}

int import_hf_measure_kld(struct import_hf *imp, const char *out_path, const char *src_path, const char *text,
                          bool stdout_is_json)
{
    char json[4200];
    snprintf(json, sizeof json, "%s.verify.tmp.%ld.json", out_path, (long)getpid());
    const char *argv[] = {"verify", out_path, "--source", src_path, "--eval", text, "--json-out", json, "-q", NULL};
    /* convert's stdout may carry its own JSON: then verify's table goes to stderr */
    int saved = -1;
    fflush(stdout);
    if (stdout_is_json && (saved = dup(1)) >= 0)
        dup2(2, 1);
    optind = 0;   /* glibc: a fresh getopt scan for verify's arguments */
    int code = cmd_verify((int)(sizeof argv / sizeof argv[0]) - 1, (char **)argv);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
    json_error_t err;
    json_t *j = code == EXIT_OK ? json_load_file(json, 0, &err) : NULL;
    remove(json);
    json_t *c = json_array_get(json_object_get(j, "containers"), 0);
    if (!c) {
        json_decref(j);
        return ig_error_set(code == EXIT_IO ? IG_EIO : IG_EINVAL, "--eval %s: ingot verify %s --source %s failed (above)",
                            text, out_path, src_path);
    }
    imp->eval_path = text;
    imp->kld_mean = json_number_value(json_object_get(c, "kld_mean"));
    imp->kld_mean_stderr = json_number_value(json_object_get(c, "kld_mean_stderr"));
    imp->same_top_pct = json_number_value(json_object_get(c, "same_top_pct"));
    json_decref(j);
    return 0;
}

/* ---- reporting ------------------------------------------------------------------------------------- */

void import_hf_print(const struct import_hf *imp, FILE *human, const char *out_path, const char *src_path)
{
    if (!imp || imp->n == 0)
        return;
    int64_t n_exact = 0, n_second = 0;
    for (int64_t k = 0; k < imp->n; k++) {
        n_exact += imp->t[k].measured && imp->t[k].n_differ == 0;
        n_second += second_rounding(&imp->t[k]);
    }
    fprintf(human, "import: %lld third-party linears: %lld written exactly (every value bit for bit as the folder "
            "dequantizes it), %lld with a second rounding\n", (long long)imp->n, (long long)n_exact, (long long)n_second);
    fprintf(human, "  %-28s %-18s %-8s %-34s %12s %12s\n", "tensor", "source", "type", "how", "rel RMS err", "max |err|");
    for (int64_t k = 0; k < imp->n; k++) {
        const struct import_tensor *it = &imp->t[k];
        if (!it->measured)
            continue;
        fprintf(human, "  %-28s %-18s %-8s %-34s %12.4g %12.4g%s\n", it->src->name, src_tensor_type_name(it->src),
                ggml_type_name(it->type), how_name(it), it->rel_rms_error, it->max_abs_error,
                it->n_differ == 0 ? "  exact" : "");
    }
    for (int64_t k = 0; k < imp->n; k++) {
        const struct import_tensor *it = &imp->t[k];
        if (it->measured && it->n_differ > 0)
            fprintf(stderr, "ingot convert: warning: %s: second rounding %s -> %s: %lld of %lld values differ from the "
                    "folder's, relative RMS error %.4g, max |error| %.4g\n", it->src->name, src_tensor_type_name(it->src),
                    ggml_type_name(it->type), (long long)it->n_differ, (long long)it->n_elems, it->rel_rms_error,
                    it->max_abs_error);
    }
    if (imp->eval_path)
        fprintf(human, "import: mean KLD against the folder's dequantized weights over %s: %.6g ± %.2g (same top "
                "token %.2f%%)\n", imp->eval_path, imp->kld_mean, imp->kld_mean_stderr, imp->same_top_pct);
    else if (n_second)
        fprintf(stderr, "ingot convert: the KLD this adds, against the folder's dequantized weights: ingot verify %s "
                "--source %s --eval TEXT (or convert --eval TEXT)\n", out_path, src_path);
}

json_t *import_hf_json(const struct import_hf *imp)
{
    if (!imp || imp->n == 0)
        return json_null();
    json_t *arr = json_array();
    int64_t n_exact = 0, n_second = 0;
    for (int64_t k = 0; k < imp->n; k++) {
        const struct import_tensor *it = &imp->t[k];
        bool exact = it->measured && it->n_differ == 0;
        n_exact += exact;
        n_second += second_rounding(it);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:o, s:o, s:o, s:o}", "tensor", it->src->name, "source_type",
                           src_tensor_type_name(it->src), "type", ggml_type_name(it->type), "how", how_name(it),
                           "exact", exact, "elements", (json_int_t)it->n_elems, "elements_differing",
                           it->measured ? json_integer(it->n_differ) : json_null(), "rel_rms_error",
                           it->measured ? cli_json_number(it->rel_rms_error) : json_null(), "max_abs_error",
                           it->measured ? cli_json_number(it->max_abs_error) : json_null(), "why",
                           it->why[0] ? json_string(it->why) : json_null()));
    }
    json_t *kld = !imp->eval_path ? json_null()
                                  : json_pack("{s:s, s:o, s:o, s:o}", "text", imp->eval_path, "mean",
                                              cli_json_number(imp->kld_mean), "mean_stderr",
                                              cli_json_number(imp->kld_mean_stderr), "same_top_pct",
                                              cli_json_number(imp->same_top_pct));
    return json_pack("{s:s, s:I, s:I, s:o, s:o}", "policy", imp->type_given ? "type" : "exact-where-possible", "exact",
                     (json_int_t)n_exact, "second_rounding", (json_int_t)n_second, "kld", kld, "tensors", arr);
}

void import_hf_free(struct import_hf *imp)
{
    if (!imp)
        return;
    free(imp->t);
    memset(imp, 0, sizeof *imp);
}
