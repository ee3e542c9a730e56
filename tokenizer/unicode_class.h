/* unicode_class.h — the few Unicode facts the tokenizers need, bit-compatible with llama.cpp's
 * src/unicode.cpp: UTF-8 decoding with its error rule, the letter / number / whitespace classes
 * behind the GPT-2 pre-tokenizer regex (\p{L}, \p{N}, \s), and GPT-2's bytes_to_unicode table.
 *
 * Byte layout of UTF-8 as llama.cpp reads it (no check for overlong forms or surrogates):
 *   1. 0xxxxxxx                             one byte, U+0000..U+007F
 *   2. 110xxxxx 10xxxxxx                    two bytes
 *   3. 1110xxxx 10xxxxxx 10xxxxxx           three bytes
 *   4. 11110xxx 10xxxxxx 10xxxxxx 10xxxxxx  four bytes (up to 0x1FFFFF; beyond U+10FFFF is kept)
 *   Anything else (a stray continuation byte, a lead byte whose continuation bytes are missing or
 *   wrong, 0xF8..0xFF) decodes to U+FFFD and consumes exactly one byte.
 * The class table covers Unicode 15.1 (the version of llama.cpp's unicode-data.cpp).
 */
#ifndef UNICODE_CLASS_H
#define UNICODE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNICODE_REPLACEMENT 0xFFFDu

/* A codepoint's class for the GPT-2 regex. Whitespace is Unicode's White_Space property (25
 * codepoints); letter is general category L*, number N*; everything else (punctuation, symbols,
 * marks, controls, unassigned, > U+10FFFF) is UNICODE_OTHER. */
enum unicode_class {
    UNICODE_OTHER = 0,
    UNICODE_LETTER = 1,
    UNICODE_NUMBER = 2,
    UNICODE_SPACE = 3,
};

/* Length of the UTF-8 sequence that lead byte b starts, from its high nibble alone
 * (llama.cpp's unicode_len_utf8: continuation bytes count as 1). Always 1..4. */
size_t unicode_utf8_len(uint8_t b);

/* Decode the codepoint at s[0..n) (n >= 1) into *cpt and return the bytes consumed (1..4).
 * Invalid input gives U+FFFD and 1, as described above. */
size_t unicode_utf8_decode(const uint8_t *s, size_t n, uint32_t *cpt);

/* Encode cpt (<= 0x1FFFFF) into out[0..4); returns the byte count (1..4). */
size_t unicode_utf8_encode(uint32_t cpt, uint8_t out[4]);

/* Class of cpt (enum unicode_class). */
int unicode_cpt_class(uint32_t cpt);

/* GPT-2's bytes_to_unicode: the printable codepoint byte b stands for in byte-level BPE
 * (bytes 0x21..0x7E, 0xA1..0xAC, 0xAE..0xFF map to themselves, the other 68 to U+0100..U+0143). */
uint32_t unicode_byte_to_cpt(uint8_t b);

/* The inverse of unicode_byte_to_cpt: the byte for cpt, or -1 if cpt stands for no byte. */
int unicode_cpt_to_byte(uint32_t cpt);

#ifdef __cplusplus
}
#endif

#endif /* UNICODE_CLASS_H */
