/* plan.h — which tensor of the source is written, and as which type.
 *
 * For the float file types (F32, F16, BF16) llama.cpp's converter keeps 1-D tensors,
 * norms and anything not named "*.weight" (biases) in F32 and converts the rest. The
 * quantized mixes of llama-quantize extend these rules in a later issue.
 */
#ifndef PLAN_H
#define PLAN_H

#include "../formats/model_src.h"

#include <stdbool.h>

enum plan_flags {
    PLAN_DEFAULT = 0,
    PLAN_TIE_EMBEDDINGS = 1,   /* tied models: omit output.weight, llama.cpp reuses token_embd */
};

/* A file type as the user names it (--type). */
struct file_type {
    const char *name;      /* "F16" */
    int ftype;             /* general.file_type */
    int tensor_type;       /* ggml type of the converted tensors */
    bool quantized;
};

struct plan_entry {
    const struct src_tensor *src;   /* borrowed: from the model_src */
    int type;                       /* ggml type to write */
};

struct plan {
    const struct file_type *file_type;
    int64_t n_entries;
    struct plan_entry *entries;     /* [n_entries] owned, in write order */
};

/* The file type named name (case-insensitive), or NULL. names_out gets the accepted list. */
const struct file_type *plan_file_type_find(const char *name);
const char *plan_file_type_names(void);

/* Decide every tensor's type. Returns 0, or IG_EINVAL naming the tensor that cannot be
 * written (for example a quantized GGUF source tensor that would need dequantizing). */
int plan_make(struct plan *plan, const struct model_src *src, const struct file_type *ft, int flags);

void plan_free(struct plan *plan);

#endif /* PLAN_H */
