/* text_file.h — is this buffer text? The check every text input (calibration corpus,
 * evaluation text) passes before it is tokenized: a binary file (an ELF executable, a
 * safetensors file, an image) would otherwise tokenize into byte tokens without a word.
 *   1. No NUL byte anywhere (no text format uses one; every binary format has them).
 *   2. At most TEXT_MAX_INVALID_PERMILLE of the bytes outside well-formed UTF-8
 *      (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), so a Latin-1
 *      text with a few accents passes and random bytes do not.
 */
#ifndef TEXT_FILE_H
#define TEXT_FILE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TEXT_MAX_INVALID_PERMILLE 100   /* 10% */

/* Length of the well-formed UTF-8 sequence at p[0..n) (1..4), or 0 when the bytes there
 * do not start one. n must be >= 1. */
size_t text_utf8_seq_len(const unsigned char *p, size_t n);

/* Check text[0..len), the contents of path, against the rules above. Returns 0, or
 * IG_EINVAL naming path, the byte offset of the first NUL or invalid byte, and what was
 * expected. */
int text_check(const char *path, const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* TEXT_FILE_H */
