/* plan.h — which tensor of the source is written, in which order, and as which type.
 *
 * Float file types (F32, F16, BF16) follow llama.cpp's converter: 1-D tensors, norms and
 * anything not named "*.weight" stay F32, the rest take the file type. Quantized file
 * types follow llama-quantize: the same tensors stay as they are, the others get the
 * mix's type (mix.h) unless --pure, a --tensor-type pattern, --output-type or
 * --embed-type says otherwise. Quantized outputs, and any output from a GGUF source, list
 * tensors in llama-quantize's order (non-block tensors first, then blk.0, blk.1, ...,
 * names sorted within each), so the file matches llama-quantize's byte for byte.
 */
#ifndef PLAN_H
#define PLAN_H

#include "../formats/model_src.h"

#include <stdbool.h>

enum plan_flags {
    PLAN_DEFAULT = 0,
    PLAN_TIE_EMBEDDINGS = 1,   /* tied models: omit output.weight, llama.cpp reuses token_embd */
    PLAN_PURE = 2,             /* every quantized tensor gets the base type (llama-quantize --pure) */
    PLAN_HAS_IMATRIX = 4,      /* an importance matrix is used (changes Q4_0/Q5_0/IQ4_NL ffn_down) */
};

/* A file type as the user names it (--type). */
struct file_type {
    const char *name;      /* "Q4_K_M" */
    int ftype;             /* general.file_type */
    int tensor_type;       /* the base ggml type */
    bool quantized;
};

#define PLAN_MAX_OVERRIDES 16

struct plan_opts {
    int flags;
    int output_type;       /* --output-type, or -1 */
    int embed_type;        /* --embed-type, or -1 */
    int n_overrides;
    const char *override_pattern[PLAN_MAX_OVERRIDES];   /* --tensor-type REGEX=TYPE */
    int override_type[PLAN_MAX_OVERRIDES];
};

struct plan_entry {
    const struct src_tensor *src;   /* borrowed: from the model_src */
    int type;                       /* ggml type to write */
    int fallback_from;              /* the type the rules chose, when the row length is not a
                                       whole number of its blocks and `type` is the fallback;
                                       -1 when the tensor got the type it was planned for */
};

struct plan {
    const struct file_type *file_type;
    int64_t n_entries;
    struct plan_entry *entries;     /* [n_entries] owned, in write order */
    int64_t n_fallback;             /* entries with fallback_from >= 0 */
    int64_t n_quantized;            /* entries that take a quantized type without fallback */
};

/* The file type named name (case-insensitive; Q4_K, Q3_K, Q5_K mean the _M mixes), or NULL. */
const struct file_type *plan_file_type_find(const char *name);
/* "F32, F16, ..." for messages. */
const char *plan_file_type_names(void);

/* Decide every tensor's type and the write order. Returns 0, IG_EINVAL for a bad
 * --tensor-type pattern, or IG_ENOMEM. */
int plan_make(struct plan *plan, const struct model_src *src, const struct file_type *ft, const struct plan_opts *opts);

/* Why entry e fell back: "n_cols 64 is not a multiple of 256" into buf (e->fallback_from >= 0). */
const char *plan_fallback_reason(const struct plan_entry *e, char *buf, size_t size);

/* IG_EINVAL naming the first tensor this build cannot write (no quantizer for its type, or
 * a quantized source tensor that would need a dequantizer). */
int plan_check_writable(const struct plan *plan);

void plan_free(struct plan *plan);

#endif /* PLAN_H */
