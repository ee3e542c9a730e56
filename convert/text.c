/* text.c — read a text file and tokenize it with a model's vocabulary (verify, imatrix). */
#include "cli.h"

#include "../common/ig_error.h"
#include "../formats/file_map.h"
#include "../formats/text_file.h"
#include "../tokenizer/tokenize.h"

#include <stdlib.h>

int cli_tokenize_file(const struct vocab *v, const char *path, int32_t **ids, int64_t *n_ids)
{
    size_t len;
    char *text = file_read_all(path, (size_t)1 << 31, &len);
    if (!text)
        return IG_EINVAL;
    int rc = text_check(path, text, len);
    if (rc) {
        free(text);
        return rc;
    }
    struct tokenizer *tok = NULL;
    rc = tokenizer_create(&tok, v);
    if (!rc) {
        int64_t n = tokenizer_encode(tok, text, len, 1, ids);
        if (n < 0)
            rc = ig_error_wrap((int)n, "%s", path);
        else
            *n_ids = n;
    }
    tokenizer_destroy(tok);
    free(text);
    return rc;
}
