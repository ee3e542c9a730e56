/* synth_bpe.c — a byte-level BPE tokenizer.json in Qwen2's layout for `ingot synth --arch qwen3`.
 *
 * Qwen2, Qwen2.5 and Qwen3 ship a GPT-2-style byte-level BPE: every byte is a token (the byte
 * mapped to a printable character by GPT-2's bytes_to_unicode, ids 0..255 in that table's
 * order, as Qwen's vocabulary starts), text is first split by Qwen2's regex (a Split step),
 * merges build longer tokens, and <|endoftext|> / <|im_start|> / <|im_end|> follow the
 * vocabulary as added special tokens. Here the merges spell each word of the synthetic
 * language letter by letter, first with a leading space ("Ġ") and then without, so every word
 * of the corpus becomes one token whether or not a space precedes it.
 */
#include "synth.h"

#include <stdio.h>
#include <string.h>

/* Qwen2's split regex, byte for byte as its tokenizer.json has it (formats/tokenizer_hf.c
 * recognises it and writes tokenizer.ggml.pre "qwen2"). */
static const char qwen2_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 + k in byte
 * order. Writes the UTF-8 of byte b's character into out (3 bytes with the NUL). */
static void byte_char(int b, char out[3])
{
    int printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    unsigned cpt = (unsigned)b;
    if (!printable) {
        int k = 0;
        for (int c = 0; c < b; c++)
            k += !((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff));
        cpt = 0x100u + (unsigned)k;
    }
    if (cpt < 0x80) {
        out[0] = (char)cpt;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xc0 | (cpt >> 6));
        out[1] = (char)(0x80 | (cpt & 0x3f));
        out[2] = '\0';
    }
}

/* The 256 byte tokens in bytes_to_unicode's order: printable ranges first, then the rest. */
static void add_byte_tokens(json_t *vocab, int64_t *id)
{
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++) {
            int printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            if (printable != (pass == 0))
                continue;
            char t[3];
            byte_char(b, t);
            json_object_set_new(vocab, t, json_integer((*id)++));
        }
}

/* Merges spelling word w letter by letter after prefix ("Ġ" or ""). */
static void add_word(json_t *vocab, json_t *merges, const char *prefix, const char *w, int64_t *id)
{
    char left[72];
    size_t skip = 0;
    if (!prefix[0]) {   /* no prefix: start from the first letter */
        snprintf(left, sizeof left, "%c", w[0]);
        skip = 1;
    } else {
        snprintf(left, sizeof left, "%s", prefix);
    }
    for (size_t k = skip; w[k]; k++) {
        char merged[64], merge[144];
        snprintf(merged, sizeof merged, "%.60s%c", left, w[k]);
        if (!json_object_get(vocab, merged)) {
            snprintf(merge, sizeof merge, "%s %c", left, w[k]);
            json_array_append_new(merges, json_string(merge));
            json_object_set_new(vocab, merged, json_integer((*id)++));
        }
        snprintf(left, sizeof left, "%s", merged);
    }
}

static json_t *byte_level_step(void)
{
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 0,
                     "use_regex", 0);
}

json_t *synth_byte_bpe_tokenizer(int64_t *n_vocab, int64_t pad_to)
{
    static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    json_t *vocab = json_object(), *merges = json_array(), *added = json_array();
    int64_t id = 0;
    add_byte_tokens(vocab, &id);
    for (int pass = 0; pass < 2; pass++)
        for (int w = 0; w < synth_n_words; w++)
            add_word(vocab, merges, pass == 0 ? "\xc4\xa0" : "", synth_words[w], &id);   /* "Ġ" */
    while (id < pad_to - 3) {   /* padding the text never produces; the specials come last */
        char t[32];
        snprintf(t, sizeof t, "<extra_%lld>", (long long)id);
        json_object_set_new(vocab, t, json_integer(id++));
    }
    for (int i = 0; i < 3; i++)
        json_array_append_new(added, json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)(id + i),
                                               "content", specials[i], "single_word", 0, "lstrip", 0, "rstrip", 0,
                                               "normalized", 0, "special", 1));
    *n_vocab = id + 3;
    json_t *pre = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type",
                            "Split", "pattern", "Regex", qwen2_regex, "behavior", "Isolated", "invert", 0,
                            byte_level_step());
    json_t *model = json_pack("{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
                              "unk_token", "continuing_subword_prefix", "", "end_of_word_suffix", "", "fuse_unk", 0,
                              "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", merges);
    return json_pack("{s:s, s:n, s:n, s:o, s:{s:s}, s:o, s:o, s:o, s:o}", "version", "1.0", "truncation", "padding",
                     "added_tokens", added, "normalizer", "type", "NFC", "pre_tokenizer", pre, "post_processor",
                     byte_level_step(), "decoder", byte_level_step(), "model", model);
}

/* Qwen's base-model tokenizer_config.json: no BOS, <|endoftext|> ends and pads. */
json_t *synth_byte_bpe_tokenizer_config(void)
{
    return json_pack("{s:b, s:b, s:n, s:s, s:s, s:s}", "add_bos_token", 0, "add_eos_token", 0, "bos_token",
                     "eos_token", "<|endoftext|>", "pad_token", "<|endoftext|>", "tokenizer_class", "Qwen2Tokenizer");
}
