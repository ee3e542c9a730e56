/* hf_quant.c — one GPTQ, AWQ or bitsandbytes linear of an HF folder as rows of floats.
 *
 * hf_model.c asks hfq_classify which safetensors entries make up a quantized linear,
 * hfq_tensor_build checks the parts (a validating run of checks, one per field, so it is
 * long) and hfq_read_rows_f32 dequantizes rows on demand, in GGUF row order. The layouts
 * are in hf_quant.h; the bit streams are packed and unpacked only here (hfq_pack,
 * hfq_unpack), so a writer reuses the same code.
 */
#include "hf_quant.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "ggml_type.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* AutoAWQ's AWQ_ORDER [0,2,4,6,1,3,5,7] maps field j -> column offset; its inverse
 * AWQ_REVERSE_ORDER maps column offset k -> field. */
const int HFQ_AWQ_FIELD[8] = {0, 4, 1, 5, 2, 6, 3, 7};

/* 1/127 as bitsandbytes' int8 dequantizer rounds it to f32 (7.874015718698502e-3). */
#define HFQ_INT8_INV127 ((float)(1.0 / 127.0))

#define HFQ_QUANT_STATE_MAX 4096   /* bytes of a bnb quant_state JSON; real ones are ~150 */

/* ---- bit streams ---------------------------------------------------------------------- */

static uint32_t word_at(const uint8_t *base, int64_t stride_words, int64_t j)
{
    uint32_t w;
    memcpy(&w, base + (size_t)(j * stride_words) * 4, 4);
    return w;
}

uint32_t hfq_unpack(const uint8_t *base, int64_t stride_words, int64_t k, int bits)
{
    /* value k spans bits [bits*k, bits*k + bits); with 3 bits it may cross into the next word:
     *   word j:   ... | low (32 - off) bits of v << off
     *   word j+1: high bits of v | ...                                                    */
    const int64_t bit = (int64_t)bits * k;
    const int64_t j = bit >> 5;
    const int off = (int)(bit & 31);
    uint64_t v = word_at(base, stride_words, j) >> off;
    if (off + bits > 32)
        v |= (uint64_t)word_at(base, stride_words, j + 1) << (32 - off);
    return (uint32_t)v & ((1u << bits) - 1u);
}

void hfq_pack(uint8_t *base, int64_t stride_words, int64_t k, int bits, uint32_t v)
{
    const int64_t bit = (int64_t)bits * k;
    const int64_t j = bit >> 5;
    const int off = (int)(bit & 31);
    for (int64_t w = j; w <= j + (off + bits > 32); w++) {
        uint32_t word = word_at(base, stride_words, w);
        word |= w == j ? v << off : v >> (32 - off);
        memcpy(base + (size_t)(w * stride_words) * 4, &word, 4);
    }
}

/* ---- scalars from the mapping ----------------------------------------------------------- */

static float load_scale(const uint8_t *p, int type, int64_t i)
{
    if (type == GGML_TYPE_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return type == GGML_TYPE_F16 ? ig_fp16_to_fp32(h) : ig_bf16_to_fp32(h);
}

static float load_f32(const uint8_t *p, int64_t i)
{
    float f;
    memcpy(&f, p + 4 * i, 4);
    return f;
}

static int32_t load_i32(const uint8_t *p, int64_t i)
{
    int32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

/* ---- rows: the scalar references -------------------------------------------------------- */

static void gptq_row(const struct hfq_tensor *q, int64_t o, float *dst)
{
    const uint32_t mask = (1u << q->bits) - 1u;
    const int64_t out_words = q->n_out;   /* qweight row stride in words */
    for (int64_t i = 0; i < q->n_in; i++) {
        int64_t g = q->g_idx ? load_i32(q->g_idx, i) : i / q->group_size;
        int32_t w = (int32_t)hfq_unpack(q->qweight + 4 * o, out_words, i, q->bits);
        uint32_t z = hfq_unpack(q->qzeros + (size_t)(g * q->qzeros_row_words) * 4, 1, o, q->bits);
        if (q->zeros_v1)
            z = (z + 1u) & mask;   /* v1 stores zero - 1 (AutoGPTQ's dequantizer masks the sum) */
        float s = load_scale(q->scales, q->scales_type, g * q->scales_row + o);
        dst[i] = s * (float)(w - (int32_t)z);
    }
}

static void awq_row(const struct hfq_tensor *q, int64_t o, float *dst)
{
    for (int64_t i = 0; i < q->n_in; i++) {
        int64_t g = i / q->group_size;
        int32_t w, z;
        float s;
        if (q->awq_gemv) {
            w = (int32_t)hfq_unpack(q->qweight + (size_t)(o * (q->n_in / 8)) * 4, 1, i, 4);
            z = (int32_t)hfq_unpack(q->qzeros + (size_t)(o * q->qzeros_row_words) * 4, 1, g, 4);
            s = load_scale(q->scales, q->scales_type, o * q->scales_row + g);
        } else {
            /* field HFQ_AWQ_FIELD[o % 8] of word (row, o / 8) */
            int64_t k = (o / 8) * 8 + HFQ_AWQ_FIELD[o % 8];
            w = (int32_t)hfq_unpack(q->qweight + (size_t)(i * (q->n_out / 8)) * 4, 1, k, 4);
            z = (int32_t)hfq_unpack(q->qzeros + (size_t)(g * (q->n_out / 8)) * 4, 1, k, 4);
            s = load_scale(q->scales, q->scales_type, g * q->n_out + o);
        }
        dst[i] = (float)(w - z) * s;
    }
}

static float bnb_absmax(const struct hfq_tensor *q, int64_t j)
{
    if (!q->absmax_u8)
        return load_f32(q->absmax, j);
    float a = q->nested_quant_map[q->absmax[j]] * load_f32(q->nested_absmax, j / q->nested_blocksize);
    return a + q->nested_offset;
}

static void bnb4_row(const struct hfq_tensor *q, int64_t o, float *dst)
{
    int64_t cached_block = -1;
    float absmax = 0.0f;
    for (int64_t i = 0; i < q->n_in; i++) {
        int64_t k = o * q->n_in + i;
        if (k / q->blocksize != cached_block) {
            cached_block = k / q->blocksize;
            absmax = bnb_absmax(q, cached_block);
        }
        uint8_t byte = q->codes[k / 2];
        int code = k % 2 == 0 ? byte >> 4 : byte & 15;   /* element 2k in the high nibble */
        /* the library's FP4 code 8 is -0 (its table's +0 is not what the kernel returns) */
        dst[i] = q->fp4 && code == 8 ? -0.0f : q->quant_map[code] * absmax;
    }
}

static void bnb8_row(const struct hfq_tensor *q, int64_t o, float *dst)
{
    const float scb = load_f32(q->scb, o);
    for (int64_t i = 0; i < q->n_in; i++) {
        float w = (float)(int8_t)q->weight_i8[o * q->n_in + i];
        float t = w * scb;
        dst[i] = t * HFQ_INT8_INV127;
    }
}

void hfq_dequant_row(const struct hfq_tensor *q, int64_t o, float *dst)
{
    switch (q->method) {
    case HFQ_GPTQ: gptq_row(q, o, dst); break;
    case HFQ_AWQ: awq_row(q, o, dst); break;
    case HFQ_BNB4: bnb4_row(q, o, dst); break;
    case HFQ_BNB8: bnb8_row(q, o, dst); break;
    default: memset(dst, 0, (size_t)q->n_in * sizeof *dst); break;
    }
}

int hfq_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    const struct hfq_tensor *q = t->aux;
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > q->n_out)
        return ig_error_set(IG_EINVAL, "tensor '%s': rows %lld..%lld out of range (%lld rows)", t->name,
                            (long long)row0, (long long)(row0 + n_rows), (long long)q->n_out);
    /* one row per iteration, each by one thread: the bytes do not depend on the split */
#pragma omp parallel for schedule(static) if (n_rows >= 32)
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t s = row0 + r;
        if (t->permute_n_head > 0)
            s = model_permuted_row(s, q->n_out, t->permute_n_head);
        hfq_dequant_row(q, s, dst + r * q->n_in);
    }
    return 0;
}

/* ---- the integers behind the rows --------------------------------------------------------- */

int64_t hfq_group_of(const struct hfq_tensor *q, int64_t i)
{
    return q->method == HFQ_GPTQ && q->g_idx ? load_i32(q->g_idx, i) : i / q->group_size;
}

uint32_t hfq_code(const struct hfq_tensor *q, int64_t o, int64_t i)
{
    switch (q->method) {
    case HFQ_GPTQ: return hfq_unpack(q->qweight + 4 * o, q->n_out, i, q->bits);
    case HFQ_AWQ:
        if (q->awq_gemv)
            return hfq_unpack(q->qweight + (size_t)(o * (q->n_in / 8)) * 4, 1, i, 4);
        return hfq_unpack(q->qweight + (size_t)(i * (q->n_out / 8)) * 4, 1, (o / 8) * 8 + HFQ_AWQ_FIELD[o % 8], 4);
    case HFQ_BNB4: {
        int64_t k = o * q->n_in + i;
        return k % 2 == 0 ? q->codes[k / 2] >> 4 : q->codes[k / 2] & 15u;
    }
    case HFQ_BNB8: return (uint32_t)((int32_t)(int8_t)q->weight_i8[o * q->n_in + i] + 128);
    default: return 0;
    }
}

uint32_t hfq_zero(const struct hfq_tensor *q, int64_t g, int64_t o)
{
    if (q->method == HFQ_AWQ && q->awq_gemv)
        return hfq_unpack(q->qzeros + (size_t)(o * q->qzeros_row_words) * 4, 1, g, 4);
    if (q->method == HFQ_AWQ)
        return hfq_unpack(q->qzeros + (size_t)(g * (q->n_out / 8)) * 4, 1, (o / 8) * 8 + HFQ_AWQ_FIELD[o % 8], 4);
    uint32_t z = hfq_unpack(q->qzeros + (size_t)(g * q->qzeros_row_words) * 4, 1, o, q->bits);
    return q->zeros_v1 ? (z + 1u) & ((1u << q->bits) - 1u) : z;
}

float hfq_scale(const struct hfq_tensor *q, int64_t g, int64_t o)
{
    if (q->method == HFQ_AWQ && q->awq_gemv)
        return load_scale(q->scales, q->scales_type, o * q->scales_row + g);
    return load_scale(q->scales, q->scales_type, g * q->scales_row + o);
}

float hfq_absmax(const struct hfq_tensor *q, int64_t j)
{
    return q->method == HFQ_BNB8 ? load_f32(q->scb, j) : bnb_absmax(q, j);
}

uint64_t hfq_tensor_xxh3(const struct hfq_tensor *q)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)   /* out of memory: a recognisable non-checksum rather than a crash */
        return 0;
    XXH3_64bits_reset(st);
    for (int k = 0; k < q->n_parts; k++)
        XXH3_64bits_update(st, q->part_data[k], (size_t)q->part_bytes[k]);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

const char *src_tensor_type_name(const struct src_tensor *t)
{
    return t->type_name ? t->type_name : ggml_type_name(t->type);
}

/* ---- which entries belong together ------------------------------------------------------- */

static bool cut_suffix(const char *name, const char *suffix, char *prefix, size_t size)
{
    size_t n = strlen(name), k = strlen(suffix);
    if (n <= k || strcmp(name + n - k, suffix) != 0 || n - k >= size)
        return false;
    memcpy(prefix, name, n - k);
    prefix[n - k] = '\0';
    return true;
}

static bool has_part(const struct st_model *st, const char *prefix, const char *suffix)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    return st_find(st, name) != NULL;
}

/* (A bias stays an ordinary tensor: Qwen2's q/k/v biases are stored beside qweight.) */
static const char *const gptq_parts[] = {".qweight", ".qzeros", ".scales", ".g_idx"};
static const char *const bnb4_parts[] = {".weight.absmax", ".weight.quant_map", ".weight.nested_absmax",
                                         ".weight.nested_quant_map", ".weight.quant_state.bitsandbytes__nf4",
                                         ".weight.quant_state.bitsandbytes__fp4"};

int hfq_classify(const struct st_model *st, const struct hfq_config *qc, const char *name, char *prefix, size_t size,
                 bool *is_main)
{
    *is_main = false;
    if (qc->method == HFQ_GPTQ || qc->method == HFQ_AWQ) {
        for (size_t i = 0; i < sizeof gptq_parts / sizeof gptq_parts[0]; i++)
            if (cut_suffix(name, gptq_parts[i], prefix, size) && has_part(st, prefix, ".qweight")) {
                *is_main = i == 0;
                return 1;
            }
    } else if (qc->method == HFQ_BNB4) {
        if (cut_suffix(name, ".weight", prefix, size) &&
            (has_part(st, prefix, bnb4_parts[4]) || has_part(st, prefix, bnb4_parts[5]))) {
            *is_main = true;
            return 1;
        }
        for (size_t i = 0; i < sizeof bnb4_parts / sizeof bnb4_parts[0]; i++)
            if (cut_suffix(name, bnb4_parts[i], prefix, size))
                return 1;
    } else if (qc->method == HFQ_BNB8) {
        if (cut_suffix(name, ".weight", prefix, size) && has_part(st, prefix, ".SCB")) {
            *is_main = true;
            return 1;
        }
        if (cut_suffix(name, ".SCB", prefix, size) || cut_suffix(name, ".weight_format", prefix, size))
            return 1;
    }
    return 0;
}

/* ---- checking the parts ------------------------------------------------------------------ */

/* The part prefix+suffix, checked for a dtype (when want_type >= 0) and a 1-D or 2-D shape
 * (d1 < 0: 1-D [d0]); NULL with the error set. */
static const struct st_tensor *part(const struct st_model *st, const char *prefix, const char *suffix,
                                    int want_type, const char *want_dtype, int64_t d0, int64_t d1, const char *why)
{
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    const struct st_tensor *t = st_find(st, name);
    if (!t) {
        ig_error_set(IG_EINVAL, "%s: tensor '%s' is missing (a quantized linear needs it)",
                     st_n_files(st) ? st_file_path(st, 0) : "?", name);
        return NULL;
    }
    if (want_type >= 0 && t->type != want_type) {
        ig_error_set(IG_EINVAL, "%s: tensor '%s': dtype %s, expected %s", t->file, name, t->dtype ? t->dtype : "?",
                     want_dtype);
        return NULL;
    }
    bool ok = d1 < 0 ? t->n_dims == 1 && t->shape[0] == d0 : t->n_dims == 2 && t->shape[0] == d0 && t->shape[1] == d1;
    if (!ok) {
        char got[96];
        size_t k = (size_t)snprintf(got, sizeof got, "[");
        for (int d = 0; d < t->n_dims && k < sizeof got; d++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        if (k < sizeof got)
            snprintf(got + k, sizeof got - k, "]");
        if (d1 < 0)
            ig_error_set(IG_EINVAL, "%s: tensor '%s': shape %s, expected [%lld] (%s)", t->file, name, got, (long long)d0, why);
        else
            ig_error_set(IG_EINVAL, "%s: tensor '%s': shape %s, expected [%lld, %lld] (%s)", t->file, name, got,
                         (long long)d0, (long long)d1, why);
        return NULL;
    }
    return t;
}

static bool is_scale_type(int type)
{
    return type == GGML_TYPE_F16 || type == GGML_TYPE_BF16 || type == GGML_TYPE_F32;
}

/* The group geometry of GPTQ/AWQ: group_size divides in_features (-1: one group). */
static int groups_check(struct hfq_tensor *q, const struct hfq_config *qc, const struct st_model *st, const char *prefix)
{
    q->group_size = qc->group_size == -1 ? q->n_in : qc->group_size;
    if (q->n_in % q->group_size != 0) {
        char name[512];
        snprintf(name, sizeof name, "%s.qweight", prefix);
        const struct st_tensor *t = st_find(st, name);
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': in_features %lld is not a multiple of group_size %lld (key '%sgroup_size' in %s)",
                            t ? t->file : qc->path, name, (long long)q->n_in, (long long)qc->group_size, qc->key_prefix,
                            qc->path);
    }
    q->n_groups = q->n_in / q->group_size;
    return 0;
}

/* Record a stored part for hfq_tensor_xxh3 (the builders call it in the layout's order). */
static void add_part(struct hfq_tensor *q, const struct st_tensor *t)
{
    if (q->n_parts < HFQ_MAX_PARTS) {
        q->part_data[q->n_parts] = t->data;
        q->part_bytes[q->n_parts++] = t->size_bytes;
    }
}

/* The packed words, zeros and scales of a GPTQ or AWQ linear, found and sized by the caller:
 * the scales must be a float type. Returns 0 or IG_EINVAL naming the tensor. */
static int set_int_parts(struct hfq_tensor *q, const char *prefix, const struct st_tensor *qw,
                         const struct st_tensor *qz, const struct st_tensor *sc)
{
    if (!is_scale_type(sc->type))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s.scales': dtype %s, expected F16, BF16 or F32", sc->file, prefix,
                            sc->dtype ? sc->dtype : "?");
    q->qweight = qw->data;
    q->qzeros = qz->data;
    q->scales = sc->data;
    q->scales_type = sc->type;
    add_part(q, qw);
    add_part(q, qz);
    add_part(q, sc);
    return 0;
}

static int gptq_build(struct hfq_tensor *q, const struct hfq_config *qc, const struct st_model *st, const char *prefix,
                      uint64_t *size_bytes)
{
    const int b = qc->bits;
    char why[768];
    /* a bit stream of n b-bit values fills n*b/32 words exactly only when 32 | n*b */
    if ((q->n_in * b) % 32 != 0 || (q->n_out * b) % 32 != 0)
        return ig_error_set(IG_EINVAL, "%s: linear '%s' is [%lld, %lld] (out, in): %d-bit GPTQ bit streams fill whole 32-bit words only when in_features x %d and out_features x %d are multiples of 32 (key '%sbits')",
                            qc->path, prefix, (long long)q->n_out, (long long)q->n_in, b, b, b, qc->key_prefix);
    int rc = groups_check(q, qc, st, prefix);
    if (rc)
        return rc;
    snprintf(why, sizeof why, "in_features %lld x bits %d / 32, out_features %lld, from %s", (long long)q->n_in, b,
             (long long)q->n_out, qc->path);
    const struct st_tensor *qw = part(st, prefix, ".qweight", GGML_TYPE_I32, "I32", q->n_in * b / 32, q->n_out, why);
    if (!qw)
        return IG_EINVAL;
    snprintf(why, sizeof why, "in_features %lld / group_size %lld groups, out_features %lld x bits %d / 32",
             (long long)q->n_in, (long long)q->group_size, (long long)q->n_out, b);
    const struct st_tensor *qz = part(st, prefix, ".qzeros", GGML_TYPE_I32, "I32", q->n_groups, q->n_out * b / 32, why);
    if (!qz)
        return IG_EINVAL;
    snprintf(why, sizeof why, "in_features %lld / group_size %lld groups, out_features %lld", (long long)q->n_in,
             (long long)q->group_size, (long long)q->n_out);
    const struct st_tensor *sc = part(st, prefix, ".scales", -1, "", q->n_groups, q->n_out, why);
    if (!sc)
        return IG_EINVAL;
    rc = set_int_parts(q, prefix, qw, qz, sc);
    if (rc)
        return rc;
    q->qzeros_row_words = q->n_out * b / 32;
    q->scales_row = q->n_out;
    q->zeros_v1 = qc->zeros_v1;
    *size_bytes = qw->size_bytes + qz->size_bytes + sc->size_bytes;
    if (has_part(st, prefix, ".g_idx")) {
        const struct st_tensor *gi = part(st, prefix, ".g_idx", GGML_TYPE_I32, "I32", q->n_in, -1, "in_features");
        if (!gi)
            return IG_EINVAL;
        /* every group index is used to address scales and qzeros rows: check them all */
        for (int64_t i = 0; i < q->n_in; i++) {
            int32_t g = load_i32(gi->data, i);
            if (g < 0 || g >= q->n_groups)
                return ig_error_set(IG_EINVAL, "%s: tensor '%s.g_idx': element %lld is %d, expected 0..%lld (in_features %lld / group_size %lld groups)",
                                    gi->file, prefix, (long long)i, (int)g, (long long)q->n_groups - 1,
                                    (long long)q->n_in, (long long)q->group_size);
        }
        q->g_idx = gi->data;
        add_part(q, gi);
        *size_bytes += gi->size_bytes;
    }
    snprintf(q->type_name, sizeof q->type_name, "GPTQ-%dbit-g%lld", b, (long long)qc->group_size);
    return 0;
}

static int awq_build(struct hfq_tensor *q, const struct hfq_config *qc, const struct st_model *st, const char *prefix,
                     uint64_t *size_bytes)
{
    char why[768];
    if (q->n_out % 8 != 0 || q->n_in % 8 != 0)
        return ig_error_set(IG_EINVAL, "%s: linear '%s' is [%lld, %lld]: AWQ packs 8 values per word, expected in_features and out_features that are multiples of 8",
                            qc->path, prefix, (long long)q->n_out, (long long)q->n_in);
    int rc = groups_check(q, qc, st, prefix);
    if (rc)
        return rc;
    const struct st_tensor *qw, *qz, *sc;
    if (!qc->awq_gemv) {
        snprintf(why, sizeof why, "in_features %lld, out_features %lld / 8, from %s", (long long)q->n_in,
                 (long long)q->n_out, qc->path);
        qw = part(st, prefix, ".qweight", GGML_TYPE_I32, "I32", q->n_in, q->n_out / 8, why);
        snprintf(why, sizeof why, "in_features %lld / group_size %lld, out_features %lld / 8", (long long)q->n_in,
                 (long long)q->group_size, (long long)q->n_out);
        qz = qw ? part(st, prefix, ".qzeros", GGML_TYPE_I32, "I32", q->n_groups, q->n_out / 8, why) : NULL;
        snprintf(why, sizeof why, "in_features %lld / group_size %lld, out_features %lld", (long long)q->n_in,
                 (long long)q->group_size, (long long)q->n_out);
        sc = qz ? part(st, prefix, ".scales", -1, "", q->n_groups, q->n_out, why) : NULL;
        q->scales_row = q->n_out;
        q->qzeros_row_words = q->n_out / 8;
    } else {
        snprintf(why, sizeof why, "out_features %lld, in_features %lld / 8, from %s", (long long)q->n_out,
                 (long long)q->n_in, qc->path);
        qw = part(st, prefix, ".qweight", GGML_TYPE_I32, "I32", q->n_out, q->n_in / 8, why);
        /* GEMV pads the group columns; take the widths as stored, then check they cover n_groups */
        char name[512];
        snprintf(name, sizeof name, "%s.qzeros", prefix);
        const struct st_tensor *z0 = st_find(st, name);
        int64_t wz = z0 && z0->n_dims == 2 ? z0->shape[1] : 0;
        if (qw && wz * 8 < q->n_groups)
            wz = (q->n_groups + 7) / 8;
        snprintf(why, sizeof why, "out_features %lld, at least in_features %lld / group_size %lld / 8 words",
                 (long long)q->n_out, (long long)q->n_in, (long long)q->group_size);
        qz = qw ? part(st, prefix, ".qzeros", GGML_TYPE_I32, "I32", q->n_out, wz, why) : NULL;
        snprintf(name, sizeof name, "%s.scales", prefix);
        const struct st_tensor *s0 = st_find(st, name);
        int64_t ws = s0 && s0->n_dims == 2 && s0->shape[1] >= q->n_groups ? s0->shape[1] : q->n_groups;
        snprintf(why, sizeof why, "out_features %lld, at least in_features %lld / group_size %lld",
                 (long long)q->n_out, (long long)q->n_in, (long long)q->group_size);
        sc = qz ? part(st, prefix, ".scales", -1, "", q->n_out, ws, why) : NULL;
        q->scales_row = ws;
        q->qzeros_row_words = wz;
    }
    if (!sc)
        return IG_EINVAL;
    rc = set_int_parts(q, prefix, qw, qz, sc);
    if (rc)
        return rc;
    q->awq_gemv = qc->awq_gemv;
    *size_bytes = qw->size_bytes + qz->size_bytes + sc->size_bytes;
    snprintf(q->type_name, sizeof q->type_name, "AWQ-4bit-g%lld%s", (long long)q->group_size, qc->awq_gemv ? "-gemv" : "");
    return 0;
}

/* The JSON of bnb's quant_state entry: quant_type, blocksize, shape, nested fields. */
static int bnb_state_parse(struct hfq_tensor *q, const struct st_tensor *js, bool *nested)
{
    if (js->size_bytes > HFQ_QUANT_STATE_MAX)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %llu bytes of JSON, more than the %d allowed", js->file, js->name,
                            (unsigned long long)js->size_bytes, HFQ_QUANT_STATE_MAX);
    json_error_t err;
    json_t *root = json_loadb((const char *)js->data, (size_t)js->size_bytes, 0, &err);
    if (!root)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': not valid JSON: %s", js->file, js->name, err.text);
    int rc = 0;
    const json_t *qt = json_object_get(root, "quant_type"), *bs = json_object_get(root, "blocksize");
    const json_t *shape = json_object_get(root, "shape");
    if (!json_is_string(qt) || (strcmp(json_string_value(qt), "nf4") != 0 && strcmp(json_string_value(qt), "fp4") != 0))
        rc = ig_error_set(IG_EINVAL, "%s: tensor '%s': field 'quant_type' is not \"nf4\" or \"fp4\"", js->file, js->name);
    else if (!json_is_integer(bs) || json_integer_value(bs) <= 0 || json_integer_value(bs) > (1 << 24))
        rc = ig_error_set(IG_EINVAL, "%s: tensor '%s': field 'blocksize' is not a positive integer", js->file, js->name);
    else if (!json_is_array(shape) || json_array_size(shape) != 2 ||
             json_integer_value(json_array_get(shape, 0)) != q->n_out ||
             json_integer_value(json_array_get(shape, 1)) != q->n_in)
        rc = ig_error_set(IG_EINVAL, "%s: tensor '%s': field 'shape' is not [%lld, %lld] (the linear's [out, in] from the config)",
                          js->file, js->name, (long long)q->n_out, (long long)q->n_in);
    if (!rc) {
        q->fp4 = strcmp(json_string_value(qt), "fp4") == 0;
        q->blocksize = json_integer_value(bs);
        const json_t *nbs = json_object_get(root, "nested_blocksize"), *off = json_object_get(root, "nested_offset");
        *nested = nbs != NULL;
        if (*nested && (!json_is_integer(nbs) || json_integer_value(nbs) <= 0 || json_integer_value(nbs) > (1 << 24)))
            rc = ig_error_set(IG_EINVAL, "%s: tensor '%s': field 'nested_blocksize' is not a positive integer", js->file, js->name);
        else if (*nested && (!json_is_number(off) || !isfinite(json_number_value(off))))
            rc = ig_error_set(IG_EINVAL, "%s: tensor '%s': field 'nested_offset' is not a finite number", js->file, js->name);
        else if (*nested) {
            q->nested_blocksize = json_integer_value(nbs);
            q->nested_offset = (float)json_number_value(off);
        }
    }
    json_decref(root);
    return rc;
}

static int bnb4_build(struct hfq_tensor *q, const struct st_model *st, const char *prefix, uint64_t *size_bytes)
{
    char name[512];
    const struct st_tensor *js = NULL;
    for (int k = 0; k < 2 && !js; k++) {
        snprintf(name, sizeof name, "%s%s", prefix, bnb4_parts[4 + k]);
        js = st_find(st, name);
    }
    bool nested = false;
    int rc = js ? bnb_state_parse(q, js, &nested) : IG_EINVAL;
    if (rc)
        return rc;
    const int64_t n = q->n_out * q->n_in, n_blocks = (n + q->blocksize - 1) / q->blocksize;
    snprintf(name, sizeof name, "%s.weight", prefix);
    const struct st_tensor *w = st_find(st, name);
    if (w->size_bytes != (uint64_t)((n + 1) / 2))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %llu bytes, expected %lld (two 4-bit codes per byte of [%lld, %lld])",
                            w->file, name, (unsigned long long)w->size_bytes, (long long)((n + 1) / 2), (long long)q->n_out,
                            (long long)q->n_in);
    char why[768];
    snprintf(why, sizeof why, "%lld elements / blocksize %lld", (long long)n, (long long)q->blocksize);
    const struct st_tensor *am = part(st, prefix, ".weight.absmax", nested ? GGML_TYPE_I8 : GGML_TYPE_F32,
                                      nested ? "U8 (double quantization)" : "F32", n_blocks, -1, why);
    const struct st_tensor *qm = am ? part(st, prefix, ".weight.quant_map", GGML_TYPE_F32, "F32", 16, -1, "16 codes") : NULL;
    if (!qm)
        return IG_EINVAL;
    *size_bytes = w->size_bytes + am->size_bytes + qm->size_bytes + js->size_bytes;
    add_part(q, w);
    add_part(q, am);
    add_part(q, qm);
    for (int c = 0; c < 16; c++)
        q->quant_map[c] = load_f32(qm->data, c);
    if (nested) {
        snprintf(why, sizeof why, "%lld blocks / nested_blocksize %lld", (long long)n_blocks, (long long)q->nested_blocksize);
        const struct st_tensor *na = part(st, prefix, ".weight.nested_absmax", GGML_TYPE_F32, "F32",
                                          (n_blocks + q->nested_blocksize - 1) / q->nested_blocksize, -1, why);
        const struct st_tensor *nm =
            na ? part(st, prefix, ".weight.nested_quant_map", GGML_TYPE_F32, "F32", 256, -1, "256 codes") : NULL;
        if (!nm)
            return IG_EINVAL;
        for (int c = 0; c < 256; c++)
            q->nested_quant_map[c] = load_f32(nm->data, c);
        q->nested_absmax = na->data;
        *size_bytes += na->size_bytes + nm->size_bytes;
        add_part(q, na);
        add_part(q, nm);
    }
    add_part(q, js);
    q->codes = w->data;
    q->absmax = am->data;
    q->absmax_u8 = nested;
    snprintf(q->type_name, sizeof q->type_name, "BNB-%s%s-b%lld", q->fp4 ? "FP4" : "NF4", nested ? "-dq" : "",
             (long long)q->blocksize);
    return 0;
}

static int bnb8_build(struct hfq_tensor *q, const struct st_model *st, const char *prefix, uint64_t *size_bytes)
{
    char why[768];
    snprintf(why, sizeof why, "out_features %lld, in_features %lld", (long long)q->n_out, (long long)q->n_in);
    const struct st_tensor *w = part(st, prefix, ".weight", GGML_TYPE_I8, "I8", q->n_out, q->n_in, why);
    const struct st_tensor *scb = w ? part(st, prefix, ".SCB", GGML_TYPE_F32, "F32", q->n_out, -1, "out_features") : NULL;
    if (!scb)
        return IG_EINVAL;
    if (strcmp(w->dtype, "I8") != 0)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s.weight': dtype %s, expected I8", w->file, prefix, w->dtype);
    q->weight_i8 = w->data;
    q->scb = scb->data;
    add_part(q, w);
    add_part(q, scb);
    *size_bytes = w->size_bytes + scb->size_bytes;
    snprintf(q->type_name, sizeof q->type_name, "BNB-INT8");
    return 0;
}

int hfq_tensor_build(struct hfq_tensor *q, const struct hfq_config *qc, const struct st_model *st,
                     const char *prefix, int64_t n_in, int64_t n_out, uint64_t *size_bytes)
{
    memset(q, 0, sizeof *q);
    q->method = qc->method;
    q->bits = qc->bits;
    q->n_in = n_in;
    q->n_out = n_out;
    *size_bytes = 0;
    switch (qc->method) {
    case HFQ_GPTQ: return gptq_build(q, qc, st, prefix, size_bytes);
    case HFQ_AWQ: return awq_build(q, qc, st, prefix, size_bytes);
    case HFQ_BNB4: return bnb4_build(q, st, prefix, size_bytes);
    case HFQ_BNB8: return bnb8_build(q, st, prefix, size_bytes);
    default: return ig_error_set(IG_EINVAL, "%s: no quantization method for '%s'", qc->path, prefix);
    }
}
