/* rope_check.c — refuse a rope scaling the forward pass does not compute (verify, imatrix,
 * calibrated convert), instead of scoring a model other than the file's.
 *
 * A llama-family file scales RoPE by {arch}.rope.scaling.type (linear, yarn, longrope) or,
 * for Llama 3.1's "llama3", by a rope_freqs.weight tensor of per-pair divisors (llama.cpp's
 * converter writes no type then). phi3's longrope (Phi-3 128k, Phi-3.5-mini, Phi-4-mini) is
 * likewise carried by rope_factors_long/short.weight and rope.scaling.attn_factor, with no
 * type key in llama.cpp's files. model/llama.c's forward implements the scalings listed in
 * `implemented` below (linear as freq_scale = 1/factor, llama3 through the tensor, longrope
 * through its two tensors and attention factor); YaRN is refused here by name.
 */
#include "cli.h"

#include "../common/ig_error.h"
#include "../formats/model_src.h"
#include "../model/llama.h"

#include <stdio.h>
#include <string.h>

/* Scalings the forward pass computes as llama.cpp does ("" = none). */
static const char *const implemented[] = {"", "linear", "llama3", "longrope"};
#define IMPLEMENTED_TEXT "none, linear, llama3, longrope (rope_factors_long/short)"

static bool has_tensor(const struct model_src *src, const char *name)
{
    for (int64_t i = 0; i < src->n_tensors; i++)
        if (strcmp(src->tensors[i].name, name) == 0)
            return true;
    return false;
}

int cli_check_rope_scaling(const struct model_src *src, const char *cmd)
{
    const char *type = src->hp.rope_scaling_type;
    if (!type[0] && has_tensor(src, "rope_freqs.weight"))
        type = "llama3";   /* a GGUF from llama.cpp's converter: the tensor alone says so */
    if (!type[0] && has_tensor(src, "rope_factors_long.weight"))
        type = "longrope";   /* likewise phi3's longrope */
    for (size_t i = 0; i < sizeof implemented / sizeof implemented[0]; i++)
        if (strcmp(type, implemented[i]) == 0)
            return 0;
    return ig_error_set(IG_EINVAL,
                        "%s: rope scaling '%s'%s is not implemented in ingot's forward pass (implemented: %s), "
                        "so %s's figures would not be the file's",
                        src->path, type, strcmp(type, "llama3") == 0 ? " (rope_freqs.weight)" : "",
                        IMPLEMENTED_TEXT, cmd);
}

void cli_set_rope_ctx(struct model *m, const struct model_src *src, const char *cmd, int64_t n_ctx)
{
    static bool warned;   /* one line per command run, not one per container */
    model_set_ctx_len(m, n_ctx);
    const struct model_hparams *hp = &src->hp;
    if (strcmp(hp->arch, "phi3") != 0 || hp->sliding_window <= 0 || n_ctx <= hp->sliding_window || warned)
        return;
    warned = true;
    fprintf(stderr,
            "ingot %s: warning: %s: window of %lld tokens is longer than phi3's sliding_window of %lld; llama.cpp "
            "disables phi3's sliding-window attention (\"Phi SWA is currently disabled\") and so does ingot, so "
            "every position attends to the whole window\n",
            cmd, src->path, (long long)n_ctx, (long long)hp->sliding_window);
}
