/* escape.c — bytes from a file, made safe to show: on a terminal (control characters and
 * invalid UTF-8 as \xNN, so a hostile file cannot move the cursor or retitle the window)
 * and in JSON (invalid UTF-8 replaced by U+FFFD, which jansson would otherwise refuse,
 * leaving the document unprinted). Used by inspect for keys, values and tensor names. */
#include "cli.h"

#include "../formats/text_file.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

bool cli_fputs_escaped(FILE *f, const char *s, size_t len, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    bool escaped = false;
    for (size_t i = 0; i < len;) {
        size_t k = text_utf8_seq_len(p + i, len - i);
        /* C0 controls, DEL, and the C1 controls U+0080..U+009F (0xc2 0x80..0x9f) */
        bool control = k == 1 ? p[i] < 0x20 || p[i] == 0x7f : k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0;
        if (k == 0 || control) {
            for (size_t j = 0; j < (k ? k : 1); j++)
                fprintf(f, "\\x%02x", p[i + j]);
            i += k ? k : 1;
            escaped = true;
        } else if (quote && k == 1 && (p[i] == '"' || p[i] == '\\')) {
            fprintf(f, "\\%c", p[i++]);
        } else {
            fwrite(p + i, 1, k, f);
            i += k;
        }
    }
    return escaped;
}

struct json_t *cli_json_string_lossy(const char *s, size_t len, int64_t *n_replaced)
{
    const unsigned char *p = (const unsigned char *)s;
    char *buf = malloc(3 * len + 1);   /* each invalid byte becomes the 3 bytes of U+FFFD */
    if (!buf)
        return NULL;
    size_t n = 0;
    *n_replaced = 0;
    for (size_t i = 0; i < len;) {
        size_t k = text_utf8_seq_len(p + i, len - i);
        if (k == 0) {
            memcpy(buf + n, "\xef\xbf\xbd", 3);
            n += 3, i++, (*n_replaced)++;
        } else {
            memcpy(buf + n, p + i, k);
            n += k, i += k;
        }
    }
    json_t *j = json_stringn(buf, n);
    free(buf);
    return j;
}
