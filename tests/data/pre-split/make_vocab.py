#!/usr/bin/env python3
"""make_vocab.py OUT.gguf PRE INPUT.inp... — a small byte-level BPE vocabulary (vocabulary-only
GGUF, tokenizer.ggml.model "gpt2", tokenizer.ggml.pre PRE) whose merges cross the boundaries the
pre-tokenizers disagree on, so the token ids show where a split fell.

1. The 256 byte tokens in GPT-2's bytes_to_unicode order.
2. Merges learned on the inputs themselves, each case one sequence with NO pre-split: the most
   frequent adjacent pair first (ties: the smaller pair), until every input is one token (at most
   4000), so each input's ids change wherever a split moves.
3. Whole words of the inputs (as Llama 3's tokenizer.json regex splits them, byte-mapped) that
   are no token yet, without merges: only llama.cpp's ignore_merges (Llama 3) reaches them.
4. <|endoftext|> (control), the BOS/EOS id.
Deterministic: the same inputs give the same bytes."""
import struct, sys
import regex

out, pre, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
SEP = "\n__ggml_vocab_test__\n"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_map():
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}, [chr(c) for c in cs]


BMAP, BYTE_TOKENS = byte_map()


def mapped(s):
    return "".join(BMAP[b] for b in s.encode("utf-8"))


cases = []
for path in inputs:
    text = open(path, encoding="utf-8").read()
    cases += [c for c in text.split(SEP) if c]

tokens = list(BYTE_TOKENS)
have = set(tokens)
merges = []
seqs = [list(mapped(c)) for c in cases]
while len(merges) < 4000:
    counts = {}
    for s in seqs:
        for a, b in zip(s, s[1:]):
            counts[(a, b)] = counts.get((a, b), 0) + 1
    if not counts:
        break
    best = min(counts, key=lambda p: (-counts[p], p))
    a, b = best
    merges.append(a + " " + b)
    if a + b not in have:
        tokens.append(a + b)
        have.add(a + b)
    for i, s in enumerate(seqs):
        j, t = 0, []
        while j < len(s):
            if j + 1 < len(s) and s[j] == a and s[j + 1] == b:
                t.append(a + b)
                j += 2
            else:
                t.append(s[j])
                j += 1
        seqs[i] = t
for c in cases:
    for w in regex.findall(LLAMA3, c):
        m = mapped(w)
        if m not in have:
            tokens.append(m)
            have.add(m)
tokens.append("<|endoftext|>")
types = [1] * (len(tokens) - 1) + [3]
eos = len(tokens) - 1


def gstr(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv_str(k, v):
    return gstr(k) + struct.pack("<I", 8) + gstr(v)


def kv_u32(k, v):
    return gstr(k) + struct.pack("<II", 4, v)


def kv_arr_str(k, vs):
    return gstr(k) + struct.pack("<IIQ", 9, 8, len(vs)) + b"".join(gstr(v) for v in vs)


def kv_arr_i32(k, vs):
    return gstr(k) + struct.pack("<IIQ", 9, 5, len(vs)) + b"".join(struct.pack("<i", v) for v in vs)


kvs = [
    kv_str("general.architecture", "gpt2"), kv_str("general.name", "pre-split test vocabulary"),
    kv_u32("gpt2.block_count", 1), kv_u32("gpt2.context_length", 512), kv_u32("gpt2.embedding_length", 16),
    kv_u32("gpt2.feed_forward_length", 32), kv_u32("gpt2.attention.head_count", 1),
    gstr("gpt2.attention.layer_norm_epsilon") + struct.pack("<If", 6, 1e-5),
    kv_str("tokenizer.ggml.model", "gpt2"), kv_str("tokenizer.ggml.pre", pre),
    kv_arr_str("tokenizer.ggml.tokens", tokens), kv_arr_i32("tokenizer.ggml.token_type", types),
    kv_arr_str("tokenizer.ggml.merges", merges),
    kv_u32("tokenizer.ggml.bos_token_id", eos), kv_u32("tokenizer.ggml.eos_token_id", eos),
]
with open(out, "wb") as f:
    f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
print(len(tokens), "tokens,", len(merges), "merges")
