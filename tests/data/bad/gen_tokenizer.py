#!/usr/bin/env python3
"""Write the bad-input catalogue for tokenizer.model and tokenizer.json (stdlib only).

Each tok-<fault>/ folder holds a copy of tests/data/tiny-llama/config.json and ONE broken
tokenizer file: tokenizer.model (tok-spm-*: the tiny-llama SentencePiece model of
make_tiny.py with one fault) or tokenizer.json (tok-json-*: a small byte-level BPE with one
fault). The converter reads config.json, then the tokenizer, and fails before it needs the
weights. tokenizer.tsv lists every case with substrings its error message must contain:
always the file name and the field. `ingot convert tests/data/bad/<case> -o OUT --type F16`
must exit 2, print those substrings, and write nothing; tests/formats/test_tokenizer.c
(tokenizer_catalogue) runs the same cases through the readers directly.

It also writes the libFuzzer seeds of fuzz/fuzz_tokenizer.c into
tests/data/fuzz-seeds/fuzz_tokenizer/: the first byte picks the reader (0 tokenizer.model,
1 tokenizer.json, 2 tokenizer.bin with n_vocab = second byte + 1, 3 tokenizer_config.json,
then a NUL and config.json).
Run: python3 tests/data/bad/gen_tokenizer.py  (from anywhere; output is deterministic).
"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
SEEDS = os.path.join(DATA, "fuzz-seeds", "fuzz_tokenizer")
sys.dont_write_bytecode = True   # no __pycache__ beside make_tiny.py
sys.path.insert(0, DATA)
import make_tiny  # noqa: E402  (the tiny-llama tokenizer.model writer)

# ---- tokenizer.model ------------------------------------------------------------------------

varint, field, piece = make_tiny.varint, make_tiny.field, make_tiny.piece
GOOD_MODEL = make_tiny.tokenizer_model()   # 275 pieces, trainer spec, normalizer spec
N_PIECES = make_tiny.VOCAB


def raw_piece(body):
    """A SentencePiece message with the given (possibly broken) bytes, as field 1."""
    return field(1, 2, body)


def trainer(**ids):
    numbers = {"unk_id": 40, "bos_id": 41, "eos_id": 42, "pad_id": 43}
    return field(2, 2, b"".join(field(numbers[k], 0, varint(v)) for k, v in sorted(ids.items())))


LAST = "piece %d" % N_PIECES   # a piece appended after the good ones
SPM_CASES = {
    "empty": (b"", ["field 'pieces' (1)", "no pieces"]),
    "no-pieces": (trainer(bos_id=1) + field(3, 2, field(3, 0, varint(1))), ["field 'pieces' (1)", "no pieces"]),
    "truncated": (GOOD_MODEL[:1000], ["field 'pieces' (1)", "runs past the end"]),
    "truncated-varint": (GOOD_MODEL + raw_piece(field(1, 2, b"z") + b"\x18\x80"),
                         [LAST, "field 'type' (3)", "truncated varint"]),
    "length-past-end": (GOOD_MODEL + varint((1 << 3) | 2) + varint(1000) + b"\x0a\x01z",
                        ["field 'pieces' (1)", "length 1000", "runs past the end"]),
    "bad-wire-type": (GOOD_MODEL + raw_piece(field(1, 2, b"z") + varint((2 << 3) | 3)),
                      [LAST, "field 'score' (2)", "wire type 3"]),
    "nul-in-piece": (GOOD_MODEL + piece("a\0b", 0.0, 1), [LAST, "field 'piece' (1)", "NUL byte at position 1"]),
    "bad-piece-type": (GOOD_MODEL + piece("z", 0.0, 9), [LAST, "field 'type' (3)", "9 is not a piece type"]),
    "piece-without-text": (GOOD_MODEL + raw_piece(field(2, 5, struct.pack("<f", -1.0))),
                           [LAST, "field 'piece' (1) is missing"]),
    "bos-id-out-of-range": (GOOD_MODEL + trainer(bos_id=5000),
                            ["trainer_spec", "field 'bos_id' (41)", "5000 is not a piece id"]),
}

# ---- tokenizer.json ---------------------------------------------------------------------------

G = "\u0120"   # "Ġ", byte-level BPE's space


def good_json():
    """A small valid byte-level BPE tokenizer.json, as a dict each case edits."""
    vocab = {"a": 0, "b": 1, "ab": 2, G: 3, G + "ab": 4, "<|endoftext|>": 5}
    return {
        "version": "1.0",
        "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
        "model": {"type": "BPE", "byte_fallback": False, "vocab": vocab, "merges": ["a b", G + " ab"]},
    }


def edit(fn):
    d = good_json()
    fn(d)
    return json.dumps(d, indent=1, ensure_ascii=False)


def set_vocab(key, value):
    return lambda d: d["model"]["vocab"].__setitem__(key, value)


GOOD_TEXT = edit(lambda d: None)
JSON_CASES = {
    "not-json": (GOOD_TEXT[:80], ["not valid JSON", "line"]),
    "duplicate-key": (GOOD_TEXT.replace('"version": "1.0",', '"version": "1.0",\n "version": "2",'),
                      ["duplicate object key", "version"]),
    "unsupported-model": (edit(lambda d: d["model"].__setitem__("type", "Unigram")),
                          ["model.type 'Unigram' is not supported (supported: BPE)"]),
    "missing-vocab": (edit(lambda d: d["model"].pop("vocab")), ["model.vocab is missing"]),
    "vocab-id-not-integer": (edit(set_vocab("ab", "2")), ["model.vocab['ab'] is a string", "integer id"]),
    "negative-id": (edit(set_vocab("ab", -2)), ["model.vocab['ab']: id -2", "allowed 0..4194303"]),
    "id-too-large": (edit(set_vocab("ab", 1 << 22)), ["model.vocab['ab']: id 4194304", "allowed 0..4194303"]),
    "duplicate-id": (edit(set_vocab("ab", 1)), ["model.vocab", "'b' and 'ab' both have id 1"]),
    "id-gap": (edit(set_vocab(G + "ab", 7)), ["model.vocab + added_tokens", "no token has id 4"]),
    "merges-wrong-type": (edit(lambda d: d["model"].__setitem__("merges", [["a", "b"], 7])),
                          ["model.merges[1] is an integer"]),
    "merge-without-space": (edit(lambda d: d["model"].__setitem__("merges", ["a b", "ab"])),
                            ["model.merges[1]", "not \"left right\""]),
    "merge-not-in-vocab": (edit(lambda d: d["model"].__setitem__("merges", ["b a"])),
                           ["model.merges[0]", "'ba' is not in model.vocab"]),
    "added-token-id-not-integer": (edit(lambda d: d["added_tokens"][0].__setitem__("id", "5")),
                                   ["added_tokens[0].id is a string"]),
    "added-token-conflict": (edit(lambda d: d["added_tokens"][0].__setitem__("id", 1)),
                             ["added_tokens[0]: id 1 is '<|endoftext|>' here but 'b'"]),
}

# ---- fuzz seeds -----------------------------------------------------------------------------------


def l2c_bin():
    """A 6-token llama2.c tokenizer.bin (max_token_length 6)."""
    out = struct.pack("<i", 6)
    for score, text in [(0.0, b"<unk>"), (0.0, b"\n<s>\n"), (0.0, b"\n</s>\n"), (0.0, b"<0x41>"),
                        (-1.0, b" a"), (-2.0, b"ab")]:
        out += struct.pack("<fi", score, len(text)) + text
    return out


def small_model():
    out = piece("<unk>", 0.0, 2) + piece("<s>", 0.0, 3) + piece("</s>", 0.0, 3) + piece("<0x41>", 0.0, 6)
    out += piece("\u2581a", -1.0, 1) + piece("ab", -2.0, 1)
    return out + trainer(unk_id=0, bos_id=1, eos_id=2, pad_id=(1 << 64) - 1) + field(3, 2, field(3, 0, varint(1)))


SPM_JSON = {
    "added_tokens": [{"id": 0, "content": "<unk>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                      {"type": "Replace", "pattern": {"String": " "},
                                                       "content": "\u2581"}]},
    "pre_tokenizer": None,
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<0x0A>": 1, "a": 2, "b": 3, "\u2581": 4, "ab": 5, "\u2581ab": 6},
              "merges": [["a", "b"], "\u2581 ab"]},
}

SEED_FILES = {
    "spm-tiny-llama": b"\x00" + GOOD_MODEL,
    "spm-small": b"\x00" + small_model(),
    "json-byte-level": b"\x01" + GOOD_TEXT.encode("utf-8"),
    "json-spm": b"\x01" + json.dumps(SPM_JSON, ensure_ascii=False).encode("utf-8"),
    "bin-small": b"\x02\x05" + l2c_bin(),
    "config": b"\x03" + json.dumps({"add_bos_token": True, "bos_token": "<s>", "eos_token": {"content": "</s>"},
                                    "pad_token": None}).encode() + b"\x00" +
              json.dumps({"bos_token_id": 1, "eos_token_id": [2, 3]}).encode(),
}


def main():
    for name in sorted(os.listdir(HERE)):
        if name.startswith("tok-") and os.path.isdir(os.path.join(HERE, name)):
            shutil.rmtree(os.path.join(HERE, name))
    config = os.path.join(DATA, "tiny-llama", "config.json")
    lines = []
    for prefix, file_name, cases in [("tok-spm-", "tokenizer.model", SPM_CASES),
                                     ("tok-json-", "tokenizer.json", JSON_CASES)]:
        for fault, (content, subs) in sorted(cases.items()):
            case = prefix + fault
            os.makedirs(os.path.join(HERE, case))
            shutil.copyfile(config, os.path.join(HERE, case, "config.json"))
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            with open(os.path.join(HERE, case, file_name), "wb") as f:
                f.write(data)
            lines.append("\t".join([case, file_name] + subs))
    with open(os.path.join(HERE, "tokenizer.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    os.makedirs(SEEDS)
    for name, data in sorted(SEED_FILES.items()):
        with open(os.path.join(SEEDS, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
