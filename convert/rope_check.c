/* rope_check.c — refuse a rope scaling the forward pass does not compute (verify, imatrix,
 * calibrated convert), instead of scoring a model other than the file's.
 *
 * A llama-family file scales RoPE by {arch}.rope.scaling.type (linear, yarn, longrope) or,
 * for Llama 3.1's "llama3", by a rope_freqs.weight tensor of per-pair divisors (llama.cpp's
 * converter writes no type then). model/llama.c's forward implements the scalings listed
 * in `implemented` below (linear as freq_scale = 1/factor, llama3 through the tensor);
 * YaRN and longrope are refused here by name.
 */
#include "cli.h"

#include "../common/ig_error.h"
#include "../formats/model_src.h"

#include <string.h>

/* Scalings the forward pass computes as llama.cpp does ("" = none). */
static const char *const implemented[] = {"", "linear", "llama3"};
#define IMPLEMENTED_TEXT "none, linear, llama3"

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
    for (size_t i = 0; i < sizeof implemented / sizeof implemented[0]; i++)
        if (strcmp(type, implemented[i]) == 0)
            return 0;
    return ig_error_set(IG_EINVAL,
                        "%s: rope scaling '%s'%s is not implemented in ingot's forward pass (implemented: %s), "
                        "so %s's figures would not be the file's",
                        src->path, type, strcmp(type, "llama3") == 0 ? " (rope_freqs.weight)" : "",
                        IMPLEMENTED_TEXT, cmd);
}
