#!/usr/bin/env python3
"""Write the GGUF cases of the bad-input catalogue (stdlib only, deterministic).

Each case is a small GGUF file with exactly one fault; gguf.tsv lists, per case, the
substrings the error message must contain (the file name and the field). A runner in
tests/convert/test_bad_inputs.c converts each case and expects exit code 2, those
substrings, and nothing at the output path.
Run: python3 tests/data/bad/gen_gguf.py  (from the repository root).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return s(key) + struct.pack("<i", vtype) + payload


def u32(key, v):
    return kv(key, U32, struct.pack("<I", v))


def string(key, v):
    return kv(key, STR, s(v))


def arr(key, etype, items):
    return kv(key, ARR, struct.pack("<iQ", etype, len(items)) + b"".join(items))


def tinfo(name, ne, ttype, offset):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", x) for x in ne) + \
        struct.pack("<iQ", ttype, offset)


def gguf(kvs, infos, data=b"", version=3, n_kv=None, n_tensors=None, magic=b"GGUF", pad=True):
    head = magic + struct.pack("<IQQ", version, len(infos) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(infos)
    if pad:
        body += b"\0" * ((32 - len(body) % 32) % 32)
    return body + data


ARCH = [string("general.architecture", "llama")]
F32_NORM = [tinfo("output_norm.weight", [32], 0, 0)]
NORM_DATA = struct.pack("<32f", *([1.0] * 32))

CASES = [
    ("gguf-bad-magic.gguf", gguf(ARCH, [], magic=b"GGUX"), ["gguf-bad-magic.gguf", "magic"]),
    ("gguf-future-version.gguf", gguf(ARCH, [], version=4), ["gguf-future-version.gguf", "version 4"]),
    ("gguf-version-1.gguf", gguf(ARCH, [], version=1), ["gguf-version-1.gguf", "version 1"]),
    ("gguf-truncated-header.gguf", b"GGUF\x03\0\0\0\x01\0", ["gguf-truncated-header.gguf", "n_tensors"]),
    ("gguf-n-kv-huge.gguf", gguf(ARCH, [], n_kv=1 << 62), ["gguf-n-kv-huge.gguf", "n_kv"]),
    ("gguf-n-tensors-huge.gguf", gguf(ARCH, [], n_tensors=1 << 61), ["gguf-n-tensors-huge.gguf", "n_tensors"]),
    ("gguf-truncated-string.gguf", gguf([struct.pack("<Q", 1000) + b"general.arch"], [], pad=False),
     ["gguf-truncated-string.gguf", "key", "string length 1000"]),
    ("gguf-bad-value-type.gguf", gguf([kv("general.name", 13, b"\0" * 8)], []),
     ["gguf-bad-value-type.gguf", "general.name", "value type 13"]),
    ("gguf-nested-array.gguf", gguf([kv("x.nested", ARR, struct.pack("<iQ", ARR, 1))], []),
     ["gguf-nested-array.gguf", "x.nested", "nested"]),
    ("gguf-array-overflow.gguf", gguf([kv("x.values", ARR, struct.pack("<iQ", U32, 1 << 62))], []),
     ["gguf-array-overflow.gguf", "x.values", "past the end"]),
    ("gguf-string-array-count.gguf", gguf([kv("tokenizer.ggml.tokens", ARR, struct.pack("<iQ", STR, 1 << 40))], []),
     ["gguf-string-array-count.gguf", "tokenizer.ggml.tokens", "count"]),
    ("gguf-duplicate-key.gguf", gguf(ARCH + ARCH, []), ["gguf-duplicate-key.gguf", "general.architecture", "twice"]),
    ("gguf-alignment-type.gguf", gguf(ARCH + [kv("general.alignment", U64, struct.pack("<Q", 32))], []),
     ["gguf-alignment-type.gguf", "general.alignment", "UINT64", "expected UINT32"]),
    ("gguf-alignment-value.gguf", gguf(ARCH + [u32("general.alignment", 48)], []),
     ["gguf-alignment-value.gguf", "general.alignment", "power of two"]),
    ("gguf-arch-type.gguf", gguf([u32("general.architecture", 1)], []),
     ["gguf-arch-type.gguf", "general.architecture", "expected STRING"]),
    ("gguf-context-type.gguf", gguf(ARCH + [kv("llama.context_length", I32, struct.pack("<i", 256))], []),
     ["gguf-context-type.gguf", "llama.context_length", "INT32", "expected UINT32"]),
    ("gguf-tokens-type.gguf", gguf(ARCH + [arr("tokenizer.ggml.tokens", I32, [struct.pack("<i", 1)])], []),
     ["gguf-tokens-type.gguf", "tokenizer.ggml.tokens", "expected ARRAY of STRING"]),
    ("gguf-removed-type.gguf", gguf(ARCH, [tinfo("blk.0.attn_q.weight", [32, 2], 4, 0)], b"\0" * 64),
     ["gguf-removed-type.gguf", "blk.0.attn_q.weight", "type id 4", "removed"]),
    ("gguf-unknown-type.gguf", gguf(ARCH, [tinfo("blk.0.attn_q.weight", [32, 2], 99, 0)], b"\0" * 64),
     ["gguf-unknown-type.gguf", "blk.0.attn_q.weight", "type id 99"]),
    ("gguf-dims-overflow.gguf", gguf(ARCH, [tinfo("token_embd.weight", [1 << 32, 1 << 32, 16], 0, 0)]),
     ["gguf-dims-overflow.gguf", "token_embd.weight", "overflows"]),
    ("gguf-negative-dim.gguf", gguf(ARCH, [tinfo("token_embd.weight", [32, -4], 0, 0)]),
     ["gguf-negative-dim.gguf", "token_embd.weight", "ne[1]", "negative"]),
    ("gguf-too-many-dims.gguf", gguf(ARCH, [tinfo("token_embd.weight", [1, 1, 1, 1, 1], 0, 0)]),
     ["gguf-too-many-dims.gguf", "token_embd.weight", "n_dims 5"]),
    ("gguf-offset-past-end.gguf", gguf(ARCH, [tinfo("output_norm.weight", [32], 0, 4096)], NORM_DATA),
     ["gguf-offset-past-end.gguf", "output_norm.weight", "offset 4096", "past the end"]),
    ("gguf-misaligned.gguf", gguf(ARCH, [tinfo("output_norm.weight", [32], 0, 16)], NORM_DATA + b"\0" * 32),
     ["gguf-misaligned.gguf", "output_norm.weight", "offset 16", "alignment"]),
    ("gguf-duplicate-tensor.gguf", gguf(ARCH, [tinfo("output_norm.weight", [32], 0, 0),
                                               tinfo("output_norm.weight", [32], 0, 128)], NORM_DATA * 2),
     ["gguf-duplicate-tensor.gguf", "output_norm.weight", "twice"]),
    ("gguf-data-short.gguf", gguf(ARCH, [tinfo("output_norm.weight", [32], 0, 0)], NORM_DATA[:100]),
     ["gguf-data-short.gguf", "output_norm.weight", "128 bytes", "past the end"]),
    ("gguf-q4-row-not-blocks.gguf", gguf(ARCH, [tinfo("blk.0.attn_q.weight", [30, 2], 2, 0)], b"\0" * 64),
     ["gguf-q4-row-not-blocks.gguf", "blk.0.attn_q.weight", "Q4_0", "block of 32"]),
    ("gguf-name-too-long.gguf", gguf(ARCH, [tinfo("blk.0." + "x" * 70 + ".weight", [32], 0, 0)], NORM_DATA),
     ["gguf-name-too-long.gguf", "name", "1..63"]),
    ("gguf-overlap.gguf", gguf(ARCH, [tinfo("output_norm.weight", [32], 0, 0),
                                      tinfo("blk.0.attn_norm.weight", [64], 0, 96)], b"\0" * 512),
     ["gguf-overlap.gguf", "overlaps"]),
    ("gguf-no-architecture.gguf", gguf([string("general.name", "x")], F32_NORM, NORM_DATA),
     ["gguf-no-architecture.gguf", "general.architecture", "missing"]),
    ("gguf-arch-unsupported.gguf", gguf([string("general.architecture", "gpt2")], F32_NORM, NORM_DATA),
     ["gguf-arch-unsupported.gguf", "general.architecture", "gpt2", "not supported"]),
]


def main():
    lines = []
    for name, data, expect in CASES:
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        lines.append("\t".join([name] + expect))
    with open(os.path.join(HERE, "gguf.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
