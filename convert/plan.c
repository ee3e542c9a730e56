/* plan.c — per-tensor output types and order (see plan.h). */
#include "plan.h"

#include "mix.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf_meta.h"
#include "../quantizers/quant_type.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct file_type file_types[] = {
    {"F32", LLAMA_FTYPE_ALL_F32, GGML_TYPE_F32, false},
    {"F16", LLAMA_FTYPE_MOSTLY_F16, GGML_TYPE_F16, false},
    {"BF16", LLAMA_FTYPE_MOSTLY_BF16, GGML_TYPE_BF16, false},
    {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0, GGML_TYPE_Q8_0, true},
    {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0, GGML_TYPE_Q4_0, true},
    {"Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1, GGML_TYPE_Q4_1, true},
    {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0, GGML_TYPE_Q5_0, true},
    {"Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1, GGML_TYPE_Q5_1, true},
    {"IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL, GGML_TYPE_IQ4_NL, true},
    {"IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS, GGML_TYPE_IQ4_XS, true},
    {"Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K, GGML_TYPE_Q2_K, true},
    {"Q3_K_S", LLAMA_FTYPE_MOSTLY_Q3_K_S, GGML_TYPE_Q3_K, true},
    {"Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M, GGML_TYPE_Q3_K, true},
    {"Q3_K_L", LLAMA_FTYPE_MOSTLY_Q3_K_L, GGML_TYPE_Q3_K, true},
    {"Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S, GGML_TYPE_Q4_K, true},
    {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M, GGML_TYPE_Q4_K, true},
    {"Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S, GGML_TYPE_Q5_K, true},
    {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M, GGML_TYPE_Q5_K, true},
    {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K, GGML_TYPE_Q6_K, true},
    /* ingot's extension types: llama.cpp has no file type for them (1024 = "guessed") */
    {"NF4", LLAMA_FTYPE_GUESSED, GGML_TYPE_NF4, true},
    {"I4_G32", LLAMA_FTYPE_GUESSED, GGML_TYPE_I4_G32, true},
    {"I4_G64", LLAMA_FTYPE_GUESSED, GGML_TYPE_I4_G64, true},
    {"I4_G128", LLAMA_FTYPE_GUESSED, GGML_TYPE_I4_G128, true},
    {"I8_G32", LLAMA_FTYPE_GUESSED, GGML_TYPE_I8_G32, true},
    {"I8_G64", LLAMA_FTYPE_GUESSED, GGML_TYPE_I8_G64, true},
    {"I8_G128", LLAMA_FTYPE_GUESSED, GGML_TYPE_I8_G128, true},
};

#define N_FILE_TYPES (sizeof file_types / sizeof file_types[0])

/* ---- file types -------------------------------------------------------------------------- */

const struct file_type *plan_file_type_find(const char *name)
{
    static const struct {
        const char *alias, *name;
    } aliases[] = {{"Q4_K", "Q4_K_M"}, {"Q3_K", "Q3_K_M"}, {"Q5_K", "Q5_K_M"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(aliases[i].alias, name) == 0)
            name = aliases[i].name;
    for (size_t i = 0; i < N_FILE_TYPES; i++)
        if (strcasecmp(file_types[i].name, name) == 0)
            return &file_types[i];
    return NULL;
}

const char *plan_file_type_names(void)
{
    static char names[256];
    if (!names[0])
        for (size_t i = 0; i < N_FILE_TYPES; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", file_types[i].name);
    return names;
}

/* ---- order ------------------------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static long block_of(const char *name)
{
    long l;
    return sscanf(name, "blk.%ld.", &l) == 1 ? l : -1;
}

/* llama.cpp's weights_map comparator: block number (non-block tensors first), then name. */
static int compare_quantize_order(const void *a, const void *b)
{
    const char *x = ((const struct plan_entry *)a)->src->name, *y = ((const struct plan_entry *)b)->src->name;
    long bx = block_of(x), by = block_of(y);
    if (bx != by)
        return bx < by ? -1 : 1;
    return strcmp(x, y);
}

/* ---- types ------------------------------------------------------------------------------------- */

/* llama-quantize quantizes ≥2-D "*weight" tensors that are not norms nor an MoE router
 * (ffn_gate_inp: "do not quantize expert gating tensors"); llama.cpp's converter keeps the
 * same set in F32. */
static bool is_quantizable(const struct src_tensor *t)
{
    return t->n_dims >= 2 && ends_with(t->name, "weight") && !strstr(t->name, "_norm.weight") &&
           !strstr(t->name, "ffn_gate_inp.weight");
}

struct overrides {
    regex_t re[PLAN_MAX_OVERRIDES];
    int n;
};

static int compile_overrides(struct overrides *o, const struct plan_opts *opts)
{
    o->n = 0;
    for (int i = 0; opts && i < opts->n_overrides; i++) {
        if (regcomp(&o->re[i], opts->override_pattern[i], REG_EXTENDED | REG_NOSUB) != 0)
            return ig_error_set(IG_EINVAL, "--tensor-type: '%s' is not a valid regular expression",
                                opts->override_pattern[i]);
        o->n = i + 1;
    }
    return 0;
}

static void free_overrides(struct overrides *o)
{
    for (int i = 0; i < o->n; i++)
        regfree(&o->re[i]);
}

/* Extension types follow bitsandbytes / GPTQ / AWQ practice: the linear layers of the
 * blocks are quantized, the embedding and output stay F16; NF4 rows that are not whole
 * 256-blocks take NF4_F16 (64), anything else F16. */
static int ext_type(int base, const struct src_tensor *t, int *fallback_from)
{
    *fallback_from = -1;
    if (strcmp(t->name, "token_embd.weight") == 0 || strcmp(t->name, "output.weight") == 0)
        return GGML_TYPE_F16;
    int64_t ne0 = t->ne[0];
    const struct ggml_type_info *bi = ggml_type_info_get(base);
    if (ne0 % bi->block_elems == 0)
        return base;
    *fallback_from = base;
    if (base == GGML_TYPE_NF4 && ne0 % GGML_BLOCK_ELEMS_NF4_F16 == 0)
        return GGML_TYPE_NF4_F16;
    return GGML_TYPE_F16;
}

/* The type of quantizable tensor t; *fallback_from as in struct plan_entry. */
static int quantized_type(struct mix_state *ms, const struct src_tensor *t, const struct plan_opts *opts,
                          const struct overrides *ov, int *fallback_from)
{
    int type = ms->default_type;
    *fallback_from = -1;
    if (ms->default_type >= GGML_TYPE_INGOT_BASE)
        type = ext_type(ms->default_type, t, fallback_from);
    bool manual = false;
    for (int i = 0; i < ov->n && !manual; i++) {
        if (regexec(&ov->re[i], t->name, 0, NULL, 0) == 0) {
            type = opts->override_type[i];
            manual = true;   /* llama-quantize skips its rules (and their counters) here */
            *fallback_from = -1;
        }
    }
    if (!manual && !(opts && (opts->flags & PLAN_PURE)) && ms->default_type < GGML_TYPE_INGOT_BASE) {
        type = mix_tensor_type(ms, t->name, t->ne[0]);
        *fallback_from = ms->fallback_from;
    }
    if (opts && opts->embed_type >= 0 && strcmp(t->name, "token_embd.weight") == 0)
        type = opts->embed_type, *fallback_from = -1;
    if (opts && opts->output_type >= 0 && strcmp(t->name, "output.weight") == 0)
        type = opts->output_type, *fallback_from = -1;
    return type;
}

static bool is_float_type(int type)
{
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

static void init_mix(struct mix_state *ms, const struct model_src *src, const struct file_type *ft, int flags)
{
    memset(ms, 0, sizeof *ms);
    ms->ftype = ft->ftype;
    ms->default_type = ft->tensor_type;
    ms->n_gqa = src->hp.n_head_kv > 0 ? src->hp.n_head / src->hp.n_head_kv : 1;
    ms->has_output = model_src_find(src, "output.weight") && !(flags & PLAN_TIE_EMBEDDINGS && src->hp.tie_embeddings);
    ms->has_imatrix = (flags & PLAN_HAS_IMATRIX) != 0;
    for (int64_t i = 0; i < src->n_tensors; i++)
        ms->n_attention_wv += strstr(src->tensors[i].name, "attn_v.weight") || strstr(src->tensors[i].name, "attn_qkv.weight");
    ms->n_ffn_down = src->hp.n_layer;
    ms->n_expert = src->hp.n_expert;
}

int plan_make(struct plan *plan, const struct model_src *src, const struct file_type *ft, const struct plan_opts *opts)
{
    int flags = opts ? opts->flags : 0;
    memset(plan, 0, sizeof *plan);
    plan->file_type = ft;
    plan->entries = ig_calloc((size_t)(src->n_tensors ? src->n_tensors : 1), sizeof *plan->entries);
    if (!plan->entries)
        return IG_ENOMEM;
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const struct src_tensor *t = &src->tensors[i];
        bool tied_copy = src->hp.tie_embeddings && src->kind != MODEL_SRC_GGUF && strcmp(t->name, "output.weight") == 0;
        if (!(tied_copy && (flags & PLAN_TIE_EMBEDDINGS)))
            plan->entries[plan->n_entries++].src = t;
    }
    if (ft->quantized || src->kind == MODEL_SRC_GGUF)
        qsort(plan->entries, (size_t)plan->n_entries, sizeof *plan->entries, compare_quantize_order);
    struct overrides ov;
    int rc = compile_overrides(&ov, opts);
    struct mix_state ms;
    init_mix(&ms, src, ft, flags);
    for (int64_t i = 0; i < plan->n_entries && !rc; i++) {
        struct plan_entry *e = &plan->entries[i];
        e->fallback_from = -1;
        if (!is_quantizable(e->src))
            e->type = src->kind == MODEL_SRC_GGUF ? e->src->type : GGML_TYPE_F32;
        else
            e->type = ft->quantized ? quantized_type(&ms, e->src, opts, &ov, &e->fallback_from) : ft->tensor_type;
        plan->n_fallback += e->fallback_from >= 0;
        plan->n_quantized += e->fallback_from < 0 && is_quantizable(e->src) && !is_float_type(e->type);
    }
    free_overrides(&ov);
    if (rc)
        plan_free(plan);
    return rc;
}

const char *plan_fallback_reason(const struct plan_entry *e, char *buf, size_t size)
{
    const struct ggml_type_info *bi = ggml_type_info_get(e->fallback_from);
    snprintf(buf, size, "n_cols %lld is not a multiple of %s's block of %lld", (long long)e->src->ne[0],
             ggml_type_name(e->fallback_from), bi ? (long long)bi->block_elems : 0LL);
    return buf;
}

int plan_check_writable(const struct plan *plan)
{
    for (int64_t i = 0; i < plan->n_entries; i++) {
        const struct plan_entry *e = &plan->entries[i];
        const struct src_tensor *t = e->src;
        /* a third-party linear (read_rows_f32) reads as floats too */
        bool src_float = t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16 ||
                         t->read_rows_f32 != NULL;
        const struct quant_type *sq = quant_type_get(t->type);
        if (t->type != e->type && !src_float && !(sq && sq->dequantize_row_ref))
            return ig_error_set(IG_EINVAL, "%s: tensor '%s' is stored as %s; converting it to %s needs a %s dequantizer, which this build lacks",
                                t->file, t->name, ggml_type_name(t->type), ggml_type_name(e->type),
                                ggml_type_name(t->type));
        const struct quant_type *qt = quant_type_get(e->type);
        if (t->type != e->type && !(qt && qt->quantize_row_ref))
            return ig_error_set(IG_EINVAL, "tensor '%s': type %s cannot be written by this build", t->name,
                                ggml_type_name(e->type));
    }
    return 0;
}

void plan_free(struct plan *plan)
{
    if (!plan)
        return;
    free(plan->entries);
    memset(plan, 0, sizeof *plan);
}
