/* plan.c — per-tensor output types (see plan.h). */
#include "plan.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf_meta.h"
#include "../quantizers/quant_type.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct file_type file_types[] = {
    {"F32", LLAMA_FTYPE_ALL_F32, GGML_TYPE_F32, false},
    {"F16", LLAMA_FTYPE_MOSTLY_F16, GGML_TYPE_F16, false},
    {"BF16", LLAMA_FTYPE_MOSTLY_BF16, GGML_TYPE_BF16, false},
};

const struct file_type *plan_file_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof file_types / sizeof file_types[0]; i++)
        if (strcasecmp(file_types[i].name, name) == 0)
            return &file_types[i];
    return NULL;
}

const char *plan_file_type_names(void)
{
    return "F32, F16, BF16";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* llama.cpp's converter: 1-D tensors, norms and non-".weight" tensors stay F32. */
static bool keeps_f32(const struct src_tensor *t)
{
    return t->n_dims == 1 || ends_with(t->name, "_norm.weight") || !ends_with(t->name, ".weight");
}

static int choose_type(const struct src_tensor *t, const struct file_type *ft, int *type)
{
    *type = keeps_f32(t) ? GGML_TYPE_F32 : ft->tensor_type;
    /* a quantized source tensor can be copied as it is, but not yet converted */
    bool src_float = t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16;
    if (!src_float && t->type != *type && !quant_type_get(t->type))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is stored as %s; converting it to %s needs a %s dequantizer, which this build lacks",
                            t->file, t->name, ggml_type_name(t->type), ggml_type_name(*type), ggml_type_name(t->type));
    if (!quant_type_get(*type))
        return ig_error_set(IG_EINVAL, "tensor '%s': type %s cannot be written by this build", t->name,
                            ggml_type_name(*type));
    return 0;
}

int plan_make(struct plan *plan, const struct model_src *src, const struct file_type *ft, int flags)
{
    memset(plan, 0, sizeof *plan);
    plan->file_type = ft;
    plan->entries = ig_calloc((size_t)(src->n_tensors ? src->n_tensors : 1), sizeof *plan->entries);
    if (!plan->entries)
        return IG_ENOMEM;
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const struct src_tensor *t = &src->tensors[i];
        bool tied_copy = src->hp.tie_embeddings && src->kind != MODEL_SRC_GGUF && strcmp(t->name, "output.weight") == 0;
        if (tied_copy && (flags & PLAN_TIE_EMBEDDINGS))
            continue;
        struct plan_entry *e = &plan->entries[plan->n_entries];
        e->src = t;
        int rc = choose_type(t, ft, &e->type);
        if (rc) {
            plan_free(plan);
            return rc;
        }
        plan->n_entries++;
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
