#!/usr/bin/env python3
"""Write the safetensors bad-input catalogue: tests/data/bad/st-<fault>/ and safetensors.tsv.

Each case folder holds tiny-llama's config.json, tokenizer.model and tokenizer_config.json
(valid, so `ingot convert` gets as far as the weights) and a model.safetensors with exactly
one fault, a header with 1-3 small tensors. safetensors.tsv has one line per case:
  st-<fault> TAB substring TAB substring ...
naming what the error message must contain (always the file name and the field).
It also writes the libFuzzer seeds in tests/data/fuzz-seeds/fuzz_safetensors/ (one valid
file with F32/F16/BF16 and a zero-size tensor, two invalid ones).
Deterministic, python3 stdlib only. Run from anywhere: python3 tests/data/bad/gen_safetensors.py
"""
import glob, json, os, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "..", "fuzz-seeds", "fuzz_safetensors")
TINY = os.path.join(HERE, "..", "tiny-llama")
COPIED = ["config.json", "tokenizer.model", "tokenizer_config.json"]
FILE = "model.safetensors"


def header_bytes(header):
    """JSON text of header (a dict, or raw bytes), space-padded to a multiple of 8."""
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return text + b" " * ((8 - len(text) % 8) % 8)


def st(header, data_len=0, header_len=None):
    """A safetensors file: u64 header length (header_len overrides it), header, data_len zero bytes."""
    text = header_bytes(header)
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + bytes(data_len)


def f32(shape, begin, end, dtype="F32"):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


NORM = "model.norm.weight"
META = {"__metadata__": {"format": "pt"}}

# (fault, file bytes, substrings the message must contain besides the file name)
CASES = [
    ("header-len-too-large", st({NORM: f32([4], 0, 16)}, 16, header_len=1 << 40),
     ["header length 1099511627776", "allowed"]),
    ("header-len-past-end", st({NORM: f32([4], 0, 16)}, 16, header_len=4096),
     ["header length 4096", "past the end of the file"]),
    ("header-len-zero", st({NORM: f32([4], 0, 16)}, 16, header_len=0),
     ["header length is 0"]),
    ("truncated", b"\x10\x00\x00\x00\x00", ["is 5 bytes", "too short", "header length"]),
    ("header-not-json", st(b'{"model.norm.weight": {"dtype": "F32",'),
     ["header is not valid JSON"]),
    ("header-not-object", st(b"[1, 2, 3]"), ["header is an array", "expected a JSON object"]),
    ("entry-not-object", st({NORM: 5}), ["tensor 'model.norm.weight'", "entry is an integer"]),
    ("dtype-unsupported", st({NORM: f32([4], 0, 4, dtype="I8")}, 4),
     ["tensor 'model.norm.weight'", "dtype 'I8' is not supported", "F32, F16, BF16"]),
    ("dtype-fp8", st({NORM: f32([4], 0, 4, dtype="F8_E4M3")}, 4),
     ["dtype 'F8_E4M3' is not supported"]),
    ("dtype-unknown", st({NORM: f32([4], 0, 16, dtype="Q4_K")}, 16),
     ["dtype 'Q4_K' is not a safetensors dtype", "F32, F16, BF16"]),
    ("dtype-number", st({NORM: {"dtype": 1, "shape": [4], "data_offsets": [0, 16]}}, 16),
     ["tensor 'model.norm.weight'", "dtype is an integer", "expected a string"]),
    ("dtype-missing", st({NORM: {"shape": [4], "data_offsets": [0, 16]}}, 16),
     ["tensor 'model.norm.weight'", "dtype is missing"]),
    ("shape-negative", st({NORM: f32([-4], 0, 16)}, 16),
     ["tensor 'model.norm.weight'", "shape[0] is -4", "non-negative integer"]),
    ("shape-not-integer", st({NORM: f32([2.5], 0, 16)}, 16),
     ["tensor 'model.norm.weight'", "shape[0] is a real number"]),
    ("shape-not-array", st({NORM: f32("4", 0, 16)}, 16),
     ["tensor 'model.norm.weight'", "shape is a string"]),
    ("shape-overflow", st({NORM: f32([4294967296, 4294967296, 16], 0, 16)}, 16),
     ["tensor 'model.norm.weight'", "shape [4294967296, 4294967296, 16]", "overflows"]),
    ("shape-too-many-dims", st({NORM: f32([1] * 9, 0, 4)}, 4),
     ["tensor 'model.norm.weight'", "shape has 9 dims", "allowed 0..8"]),
    ("offsets-past-end", st({NORM: f32([4], 0, 16)}, 8),
     ["tensor 'model.norm.weight'", "data_offsets [0, 16]", "past the end of the data buffer"]),
    ("offsets-size-mismatch", st({NORM: f32([64], 0, 12)}, 12),
     ["tensor 'model.norm.weight'", "data_offsets [0, 12] hold 12 bytes", "shape [64] of F32 needs 256"]),
    ("offsets-begin-after-end", st({NORM: f32([4], 16, 0)}, 16),
     ["tensor 'model.norm.weight'", "data_offsets [16, 0]", "begin after"]),
    ("offsets-one-value", st({NORM: {"dtype": "F32", "shape": [4], "data_offsets": [16]}}, 16),
     ["tensor 'model.norm.weight'", "data_offsets has length 1"]),
    ("offsets-negative", st({NORM: f32([4], -16, 0)}, 16),
     ["tensor 'model.norm.weight'", "data_offsets[0] is -16"]),
    ("offsets-overlap", st({"a.weight": f32([4], 0, 16), "b.weight": f32([4], 8, 24), **META}, 24),
     ["tensors 'a.weight' (data_offsets [0, 16]) and 'b.weight' (data_offsets [8, 24]) overlap"]),
    ("duplicate-key", st(b'{"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
                         b'"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}', 32),
     ["header is not valid JSON", "duplicate object key"]),
    ("metadata-not-string", st({"__metadata__": {"format": 1}, NORM: f32([4], 0, 16)}, 16),
     ["__metadata__ key 'format' is an integer", "expected a string"]),
    ("metadata-not-object", st({"__metadata__": ["pt"], NORM: f32([4], 0, 16)}, 16),
     ["__metadata__ is an array", "expected an object of strings"]),
    ("name-empty", st({"": f32([4], 0, 16)}, 16), ["empty name", "allowed 1..255"]),
    ("name-too-long", st({"w" * 300: f32([4], 0, 16)}, 16),
     ["name is 300 bytes long", "allowed 1..255"]),
    ("name-nul", st(b'{"a\\u0000b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 16),
     ["header is not valid JSON"]),
]

SEED_FILES = [
    ("valid-three-tensors.safetensors",
     st({"__metadata__": {"format": "pt"}, "a.weight": f32([2, 2], 0, 16),
         "b.weight": f32([3], 16, 22, dtype="F16"), "c.weight": f32([0, 4], 22, 22, dtype="BF16")}, 22)),
    ("invalid-overlap.safetensors", st({"a": f32([4], 0, 16), "b": f32([4], 8, 24)}, 24)),
    ("invalid-dtype-shape-offsets.safetensors",
     st({"x": f32([4294967296, 4294967296, 16], 16, 0, dtype="I8")}, 4)),
]


def main():
    for old in glob.glob(os.path.join(HERE, "st-*")):
        shutil.rmtree(old)
    lines = []
    for fault, data, subs in CASES:
        case = "st-" + fault
        folder = os.path.join(HERE, case)
        os.makedirs(folder)
        for name in COPIED:
            shutil.copyfile(os.path.join(TINY, name), os.path.join(folder, name))
        with open(os.path.join(folder, FILE), "wb") as f:
            f.write(data)
        lines.append("\t".join([case, FILE] + subs))
    with open(os.path.join(HERE, "safetensors.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.makedirs(SEEDS, exist_ok=True)
    for name, data in SEED_FILES:
        with open(os.path.join(SEEDS, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
