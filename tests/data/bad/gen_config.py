#!/usr/bin/env python3
"""Write the bad-input catalogue for config.json and llama2.c checkpoints (stdlib only).

Each cfg-<fault>/ folder holds only a broken config.json (the converter reads config.json
before anything else in an HF folder); each l2c-<fault>.bin is a llama2.c checkpoint with one
fault in its header or size. config.tsv lists every case with substrings its error message
must contain: the file name and the field. `ingot convert tests/data/bad/<case> -o OUT
--type F16` must exit 2, print those substrings, and write nothing.
Run: python3 tests/data/bad/gen_config.py  (from anywhere; output is deterministic).
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# A valid llama config; each case changes one thing.
GOOD = """{
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "hidden_size": 64,
  "intermediate_size": 172,
  "num_hidden_layers": 2,
  "num_attention_heads": 8,
  "num_key_value_heads": 4,
  "vocab_size": 512,
  "max_position_embeddings": 512,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "tie_word_embeddings": true
}
"""


def edit(key, value):
    """GOOD with key's line set to value (raw JSON text), or removed when value is None."""
    out = []
    for line in GOOD.splitlines(keepends=True):
        if line.strip().startswith('"%s"' % key):
            if value is None:
                continue
            comma = "," if line.rstrip().endswith(",") else ""
            line = '  "%s": %s%s\n' % (key, value, comma)
        out.append(line)
    text = "".join(out)
    return text.replace(",\n}", "\n}")  # removing the last key leaves a trailing comma


# case -> (config.json text, substrings its message must contain besides "config.json")
CFG_CASES = {
    "not-json": (GOOD[:120], ["not valid JSON"]),
    "top-array": ("[" + GOOD.strip() + "]\n", ["top level", "array"]),
    "missing-hidden-size": (edit("hidden_size", None), ["'hidden_size'", "missing"]),
    "hidden-size-string": (edit("hidden_size", '"64"'), ["'hidden_size'", 'string "64"']),
    "negative-layers": (edit("num_hidden_layers", "-2"), ["'num_hidden_layers'", "integer -2"]),
    "kv-heads-not-dividing": (edit("num_key_value_heads", "3"), ["'num_key_value_heads'", "does not divide"]),
    "unsupported-model-type": (edit("model_type", '"gpt2"'), ["'model_type'", "'gpt2'", "not supported"]),
    "eps-string": (edit("rms_norm_eps", '"1e-05"'), ["'rms_norm_eps'", "string"]),
    "rope-scaling-string": (edit("rope_theta", '10000.0,\n  "rope_scaling": "linear"'),
                            ["'rope_scaling'", "null or an object"]),
    "duplicate-key": (GOOD.replace('"vocab_size": 512,', '"vocab_size": 512,\n  "hidden_size": 128,'),
                      ["duplicate", "hidden_size"]),
    "heads-not-dividing-hidden": (edit("hidden_size", "60"), ["'num_attention_heads'", "hidden_size 60"]),
    "dim-too-large": (edit("intermediate_size", "4294967296"), ["'intermediate_size'", "4294967296"]),
    "tie-string": (edit("tie_word_embeddings", '"true"'), ["'tie_word_embeddings'", "true or false"]),
    "theta-zero": (edit("rope_theta", "0"), ["'rope_theta'", "integer 0"]),
    "eps-overflows-fp32": (edit("rms_norm_eps", "1e300"), ["'rms_norm_eps'", "fp32"]),
    "empty": ("", ["not valid JSON"]),
    "head-dim-odd": (edit("rope_theta", '10000.0,\n  "head_dim": 3'), ["'head_dim'", "3 is odd", "even"]),
    "head-size-odd": (edit("hidden_size", "24"), ["'num_attention_heads'", "head size 3", "odd"]),
    "rope-scaling-unknown": (edit("rope_theta", '10000.0,\n  "rope_scaling": {"rope_type": "dynamic2", "factor": 2.0}'),
                             ["'rope_scaling.rope_type'", '"dynamic2"', '"linear"', '"longrope"', '"none"']),
}

# llama2.c header fields, in file order
FIELDS = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")
TINY = dict(dim=8, hidden_dim=16, n_layers=1, n_heads=2, n_kv_heads=1, vocab_size=4, seq_len=4)


def l2c_size(h):
    """Bytes a llama2.c checkpoint with header h must have (llama2c.h, item 2)."""
    d, hid, L, vocab = h["dim"], h["hidden_dim"], h["n_layers"], abs(h["vocab_size"])
    head = d // h["n_heads"]
    kv = head * h["n_kv_heads"]
    floats = (vocab * d + L * d + 2 * L * d * d + 2 * L * kv * d + L * d + 3 * L * hid * d + d
              + h["seq_len"] * (head // 2) * 2 + (vocab * d if h["vocab_size"] < 0 else 0))
    return 28 + 4 * floats


def l2c(size_delta=0, raw=None, **changes):
    """A checkpoint of TINY's shape with changes to the header; the body is zeros of the size
    TINY needs plus size_delta bytes. raw, when given, is the whole file."""
    if raw is not None:
        return raw
    h = dict(TINY, **changes)
    return struct.pack("<7i", *(h[f] for f in FIELDS)) + bytes(l2c_size(TINY) - 28 + size_delta)


# case -> (file bytes, substrings its message must contain besides the file name)
L2C_CASES = {
    "empty": (b"", ["0 bytes", "header"]),
    "truncated-header": (struct.pack("<3i", 8, 16, 1), ["12 bytes", "header"]),
    "zero-dim": (l2c(dim=0), ["dim is 0"]),
    "negative-layers": (l2c(n_layers=-1), ["n_layers is -1"]),
    "zero-vocab": (l2c(vocab_size=0), ["vocab_size is 0"]),
    "heads-not-dividing": (l2c(n_kv_heads=3, n_heads=4), ["n_kv_heads=3", "n_heads=4"]),
    "dim-not-multiple": (l2c(dim=10, n_heads=4), ["dim=10", "n_heads=4"]),
    "size-mismatch": (l2c(size_delta=-4), ["needs %d bytes" % l2c_size(TINY), "file has %d" % (l2c_size(TINY) - 4)]),
    "overflow": (l2c(dim=2**31 - 1, hidden_dim=2**31 - 1, n_layers=2**31 - 1, n_heads=1, n_kv_heads=1),
                 ["overflow", "dim=2147483647"]),
}


def main():
    for name in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, name)
        if name.startswith("cfg-") and os.path.isdir(path):
            shutil.rmtree(path)
        elif name.startswith("l2c-") and name.endswith(".bin"):
            os.remove(path)
    lines = []
    for fault, (text, subs) in sorted(CFG_CASES.items()):
        case = "cfg-" + fault
        os.makedirs(os.path.join(HERE, case))
        with open(os.path.join(HERE, case, "config.json"), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        lines.append("\t".join([case, "config.json"] + subs))
    for fault, (data, subs) in sorted(L2C_CASES.items()):
        case = "l2c-%s.bin" % fault
        with open(os.path.join(HERE, case), "wb") as f:
            f.write(data)
        lines.append("\t".join([case, case] + subs))
    with open(os.path.join(HERE, "config.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
