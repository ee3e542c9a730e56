/* text_file.c — text or not: NUL bytes and invalid UTF-8 (see text_file.h). */
#include "text_file.h"

#include "../common/ig_error.h"

#include <string.h>

size_t text_utf8_seq_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    /* overlong 3- and 4-byte forms, UTF-16 surrogates, above U+10FFFF */
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
        (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

int text_check(const char *path, const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return ig_error_set(IG_EINVAL, "%s: byte %zu is NUL: this is not a text file (expected UTF-8 text)", path,
                            (size_t)(nul - text));
    const unsigned char *p = (const unsigned char *)text;
    size_t n_invalid = 0, first = 0;
    for (size_t i = 0; i < len;) {
        size_t k = text_utf8_seq_len(p + i, len - i);
        if (k == 0 && n_invalid++ == 0)
            first = i;
        i += k ? k : 1;
    }
    if (n_invalid * 1000 > (size_t)TEXT_MAX_INVALID_PERMILLE * len)
        return ig_error_set(IG_EINVAL,
                            "%s: not UTF-8 text: %zu of %zu bytes are not valid UTF-8 (allowed: %d%%), the first at "
                            "byte %zu",
                            path, n_invalid, len, TEXT_MAX_INVALID_PERMILLE / 10, first);
    return 0;
}
