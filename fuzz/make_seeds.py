#!/usr/bin/env python3
"""Write the seeds of the fuzz harnesses added with it (stdlib only, deterministic).

tests/data/fuzz-seeds/<harness>/ gets a few small valid inputs (and a near miss or two) per
harness, each a few KB, built from the fixtures' generators (tests/data/make_tiny.py,
tests/data/bad/gen_gguf.py, gen_model.py) in the framing each harness documents in its
opening comment. Nothing is copied from shared data. Seeds of fuzz_gguf, fuzz_safetensors
and fuzz_tokenizer are written by tests/data/bad/gen_*.py, not here.
Run: python3 fuzz/make_seeds.py  (from anywhere).
"""
import json
import math
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "tests", "data", "fuzz-seeds")
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "data", "bad"))
sys.path.insert(0, os.path.join(ROOT, "tests", "data"))
import gen_gguf as G  # noqa: E402
import gen_model as M  # noqa: E402
import make_tiny  # noqa: E402


def write(harness, name, data):
    folder = os.path.join(SEEDS, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def values(n, seed):
    return M.values(n, seed)


# ---- fuzz_hf_config: one config.json per input -------------------------------------------

def hf_config():
    base = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32,
            "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 275, "max_position_embeddings": 128,
            "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": False}
    write("fuzz_hf_config", "llama.json", json.dumps(base, indent=2))
    qwen = dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2", rope_theta=1000000.0)
    write("fuzz_hf_config", "qwen2.json", json.dumps(qwen, indent=2))
    scaled = dict(base, head_dim=16, attention_bias=True,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 64})
    write("fuzz_hf_config", "llama3-scaling-head-dim.json", json.dumps(scaled, indent=2))
    mistral = {k: v for k, v in base.items() if k != "model_type"}
    mistral.update(architectures=["MistralForCausalLM"], rope_scaling=None, num_key_value_heads=None)
    write("fuzz_hf_config", "mistral-by-architectures.json", json.dumps(mistral))
    write("fuzz_hf_config", "bad-odd-head.json", json.dumps(dict(base, hidden_size=24)))


# ---- fuzz_st_index: index \0 (u32 length, shard)* ------------------------------------------

def st_index():
    shard1 = {"model.embed_tokens.weight": ([4, 8], values(32, 1)), "model.norm.weight": ([8], values(8, 2))}
    shard2 = {"lm_head.weight": ([4, 8], values(32, 3)),
              "model.layers.0.input_layernorm.weight": ([8], values(8, 4))}
    files = {"model-00001-of-00002.safetensors": shard1, "model-00002-of-00002.safetensors": shard2}

    def framed(weight_map, shards, meta=True):
        index = {"metadata": {"total_size": 320}} if meta else {}
        index["weight_map"] = weight_map
        out = json.dumps(index, indent=1).encode() + b"\0"
        for blob in shards:
            out += struct.pack("<I", len(blob)) + blob
        return out

    wm = {name: f for f, tensors in files.items() for name in tensors}
    blobs = [make_tiny.safetensors(files[f]) for f in files]
    write("fuzz_st_index", "two-shards", framed(wm, blobs))
    one = {name: "model.safetensors" for name in shard1}
    write("fuzz_st_index", "one-shard", framed(one, [make_tiny.safetensors(shard1)], meta=False))
    missing = dict(wm, **{"model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors"})
    write("fuzz_st_index", "names-a-missing-tensor", framed(missing, blobs))


# ---- fuzz_llama2c: flags | u16 tokenizer length | tokenizer | checkpoint ----------------------

FIT, SPM, TOK_PATH = 1, 2, 4


def l2c_checkpoint(h, shared=True):
    head = struct.pack("<7i", h["dim"], h["hidden_dim"], h["n_layers"], h["n_heads"], h["n_kv_heads"],
                       h["vocab_size"] if shared else -h["vocab_size"], h["seq_len"])
    n = (M.C.l2c_size(dict(h, vocab_size=h["vocab_size"] if shared else -h["vocab_size"])) - 28) // 4
    return head + struct.pack("<%df" % n, *values(n, 5))


def l2c_input(flags, tokenizer, checkpoint):
    return bytes([flags]) + struct.pack("<H", len(tokenizer)) + tokenizer + checkpoint


def llama2c():
    h = dict(M.C.TINY)   # dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 4, seq_len 4
    tok = M.tokenizer_bin(h["vocab_size"])
    write("fuzz_llama2c", "tiny-shared-cls", l2c_input(0, tok, l2c_checkpoint(h)))
    write("fuzz_llama2c", "tiny-own-cls-tokenizer-path", l2c_input(TOK_PATH, tok, l2c_checkpoint(h, shared=False)))
    # header only, fitted by the harness (zeros): two layers, no GQA
    h2 = dict(h, n_layers=2, n_kv_heads=2)
    write("fuzz_llama2c", "fit-two-layers", l2c_input(FIT, tok, l2c_checkpoint(h2)[:28]))
    # the SentencePiece fixture as tokenizer.model: vocab_size must be its token count
    spm = make_tiny.tokenizer_model()
    hs = dict(h, vocab_size=make_tiny.VOCAB)
    write("fuzz_llama2c", "fit-spm-tokenizer", l2c_input(FIT | SPM, spm, l2c_checkpoint(hs)[:28]))
    write("fuzz_llama2c", "size-mismatch", l2c_input(0, tok, l2c_checkpoint(h)[:-4]))


# ---- fuzz_imatrix: one file, GGUF or legacy .dat --------------------------------------------

IM_ENTRIES = [("blk.0.attn_q.weight", 8), ("blk.0.ffn_down.weight", 16), ("output.weight", 8)]


def imatrix_gguf(entries=IM_ENTRIES, count=12.0):
    kvs = [G.string("general.type", "imatrix"), G.arr("imatrix.datasets", G.STR, [G.s("calib.txt")]),
           G.u32("imatrix.chunk_count", 3), G.u32("imatrix.chunk_size", 4)]
    infos, data = [], b""
    for k, (name, n) in enumerate(entries):
        for suffix, ne, blob in ((".in_sum2", [n, 1], struct.pack("<%df" % n, *[abs(x) * 10 for x in values(n, k)])),
                                 (".counts", [1, 1], struct.pack("<f", count))):
            infos.append(G.tinfo(name + suffix, ne, 0, len(data)))
            data += blob + b"\0" * ((32 - len(blob) % 32) % 32)
    return G.gguf(kvs, infos, data)


def imatrix_dat(entries=IM_ENTRIES, ncall=3, dataset=b"calib.txt"):
    out = struct.pack("<i", len(entries))
    for k, (name, n) in enumerate(entries):
        out += struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", ncall, n)
        out += struct.pack("<%df" % n, *[abs(x) for x in values(n, k)])
    return out + struct.pack("<ii", 3, len(dataset)) + dataset


def imatrix():
    write("fuzz_imatrix", "three-entries.gguf", imatrix_gguf())
    write("fuzz_imatrix", "three-entries.dat", imatrix_dat())
    write("fuzz_imatrix", "no-trailer.dat", imatrix_dat()[:-(8 + len(b"calib.txt"))])
    write("fuzz_imatrix", "duplicate-entry.dat", imatrix_dat(IM_ENTRIES + IM_ENTRIES[:1]))
    # the known findings of fuzz_imatrix.c (skipped there until formats/imatrix.c is fixed;
    # FUZZ_STRICT=1 build/fuzz/fuzz_imatrix FILE reproduces each)
    write("fuzz_imatrix", "known-1-empty-name.dat", struct.pack("<ii", 1, 1) + b"\0" + struct.pack("<iif", 1, 1, 1.0))
    one = [("blk.0.attn_q.weight", 8)]
    write("fuzz_imatrix", "known-2-ncall-overflows-int32.gguf", imatrix_gguf(one, count=1e10))
    write("fuzz_imatrix", "known-3-importance-inf.gguf", imatrix_gguf(one, count=1e-40))
    name = "blk.0.attn_q.weight"   # counts first, then the empty in_sum2 at the end
    zero = G.gguf([G.string("general.type", "imatrix")],
                  [G.tinfo(name + ".counts", [1, 1], 0, 0), G.tinfo(name + ".in_sum2", [0, 1], 0, 32)],
                  struct.pack("<f", 1.0) + bytes(28))
    write("fuzz_imatrix", "known-4-zero-values.gguf", zero)
    write("fuzz_imatrix", "experts-stack.gguf", imatrix_stack_gguf())


def imatrix_stack_gguf(n_in=8, counts=(5.0, 0.0, 3.0)):
    """moe: one stack of experts, in_sum2 [n_in, n_expert] and counts [1, n_expert], expert 1 idle."""
    name, n_mat = "blk.0.ffn_up_exps.weight", len(counts)
    sums = [0.0 if counts[i // n_in] == 0 else abs(x) * 10 for i, x in enumerate(values(n_in * n_mat, 0))]
    blob = struct.pack("<%df" % len(sums), *sums)
    pad = b"\0" * ((32 - len(blob) % 32) % 32)
    infos = [G.tinfo(name + ".in_sum2", [n_in, n_mat], 0, 0),
             G.tinfo(name + ".counts", [1, n_mat], 0, len(blob) + len(pad))]
    kvs = [G.string("general.type", "imatrix"), G.u32("imatrix.chunk_count", 2), G.u32("imatrix.chunk_size", 4)]
    return G.gguf(kvs, infos, blob + pad + struct.pack("<%df" % n_mat, *counts))


# ---- fuzz_gguf_model: one GGUF model file ----------------------------------------------------

def f16_bits(x):
    return struct.unpack("<H", struct.pack("<e", x))[0]


def mixed_types_model():
    """A 1-block llama (embd 32, ff 32, 2 heads, 1 kv head, vocab 16) whose tensors use
    F32, F16, BF16, Q8_0 and Q4_0, so the walk reads rows of each kind."""
    F32, F16, Q4_0, Q8_0, BF16 = 0, 1, 2, 8, 30
    E, FF, V, KV = 32, 32, 16, 16
    spec = [("token_embd.weight", [E, V], Q8_0), ("output_norm.weight", [E], F32), ("output.weight", [E, V], F32),
            ("blk.0.attn_norm.weight", [E], F32), ("blk.0.attn_q.weight", [E, E], F16),
            ("blk.0.attn_k.weight", [E, KV], BF16), ("blk.0.attn_v.weight", [E, KV], F32),
            ("blk.0.attn_output.weight", [E, E], Q8_0), ("blk.0.ffn_norm.weight", [E], F32),
            ("blk.0.ffn_gate.weight", [E, FF], F32), ("blk.0.ffn_up.weight", [E, FF], F16),
            ("blk.0.ffn_down.weight", [FF, E], Q4_0)]
    hp = [G.u32("llama.context_length", 32), G.u32("llama.embedding_length", E), G.u32("llama.block_count", 1),
          G.u32("llama.feed_forward_length", FF), G.u32("llama.attention.head_count", 2),
          G.u32("llama.attention.head_count_kv", 1),
          G.kv("llama.attention.layer_norm_rms_epsilon", G.F32, struct.pack("<f", 1e-5))]
    kvs = [G.string("general.architecture", "llama")] + hp + [
        G.string("tokenizer.ggml.model", "llama"), G.arr("tokenizer.ggml.tokens", G.STR, [G.s(x) for x in M.TOKENS]),
        G.arr("tokenizer.ggml.scores", G.F32, [struct.pack("<f", -i) for i in range(V)])]
    infos, data = [], b""
    for k, (name, ne, t) in enumerate(spec):
        n = math.prod(ne)
        v = values(n, k)
        if t == F32:
            blob = struct.pack("<%df" % n, *v)
        elif t == F16:
            blob = struct.pack("<%de" % n, *v)
        elif t == BF16:
            blob = b"".join(struct.pack("<f", x)[2:] for x in v)
        elif t == Q8_0:   # per 32: fp16 d, 32 x int8
            blob = b"".join(struct.pack("<H", f16_bits(0.01)) + bytes((i * 7 + b) % 256 for i in range(32))
                            for b in range(n // 32))
        else:             # Q4_0, per 32: fp16 d, 16 bytes of nibbles
            blob = b"".join(struct.pack("<H", f16_bits(0.02)) + bytes((i * 37 + b) % 256 for i in range(16))
                            for b in range(n // 32))
        infos.append(G.tinfo(name, ne, t, len(data)))
        data += blob + b"\0" * ((32 - len(blob) % 32) % 32)
    return G.gguf(kvs, infos, data)


def gguf_model():
    write("fuzz_gguf_model", "tiny-llama.gguf", M.gguf_model())
    write("fuzz_gguf_model", "mixed-types.gguf", mixed_types_model())
    write("fuzz_gguf_model", "tied-embeddings.gguf", M.gguf_model(drop=["output.weight"]))
    write("fuzz_gguf_model", "q-half-rows.gguf",
          M.gguf_model(overrides={"blk.0.attn_q.weight": [M.N_EMBD, M.N_EMBD // 2]}))


# ---- fuzz_corpus: flags | text (| seq_len - 1 | seed) ----------------------------------------

TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. "
        "One day she saw a big red ball in the park.\n")


def corpus():
    write("fuzz_corpus", "one-file", b"\0" + TEXT.encode() + bytes([7, 1]))
    parts = [TEXT[:60], TEXT[60:], "caf\u00e9 \u2581 \u00fc\u00df\n"]
    write("fuzz_corpus", "folder-three-parts", b"\1" + b"\0".join(p.encode() for p in parts) + bytes([3, 9]))
    write("fuzz_corpus", "folder-skips-md", bytes([1 | 4]) + b"\0".join(p.encode() for p in parts) + bytes([15, 2]))


# ---- fuzz_tokenize: any text -------------------------------------------------------------------

def tokenize():
    write("fuzz_tokenize", "ascii", TEXT)
    write("fuzz_tokenize", "utf8", "caf\u00e9 na\u00efve \u2581\u2581 \u65e5\u672c \U0001f600 12345\n")
    write("fuzz_tokenize", "invalid-utf8", b"a\xff\xc3 \xe2\x96 \xf0\x9f\x98 b\x80")


def main():
    hf_config()
    st_index()
    llama2c()
    imatrix()
    gguf_model()
    corpus()
    tokenize()


if __name__ == "__main__":
    main()
