#!/usr/bin/env python3
"""Write the model catalogue: whole sources that parse but lie about themselves (stdlib only).

Each case is a complete tiny model, valid except for ONE contradiction between its tensors
and its hyperparameters (a shape, a missing or extra tensor, a block count, a bad epsilon,
an odd head size, a vocabulary that does not fit the embedding), as a GGUF file
(mdl-gguf-*.gguf) or an HF folder (mdl-hf-*/: config.json, tokenizer.model, model.safetensors).
llama.cpp refuses every one of them at load; ingot must refuse them at convert, through the
one shape table and completeness check in formats/model_src.c. model.tsv lists, per case, the
substrings its message must contain (file, tensor or key, found, expected). The control cases
mdl-gguf-good.gguf and mdl-hf-good/ must convert (tests/convert/test_bad_inputs.c checks both).
Also two files that are not model sources on their own (a config.json, a .safetensors).
Run: python3 tests/data/bad/gen_model.py  (from anywhere; output is deterministic).
"""
import json
import math
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import gen_config as C  # noqa: E402
import gen_gguf as G  # noqa: E402
import make_tiny  # noqa: E402

# ---- the tiny model -----------------------------------------------------------------------

N_EMBD, N_FF, N_LAYER, N_HEAD, N_HEAD_KV, N_VOCAB = 8, 16, 2, 2, 1, 16
HEAD = N_EMBD // N_HEAD
TOKENS = ["<unk>", "<s>", "</s>"] + [chr(ord("a") + i) for i in range(N_VOCAB - 3)]


def values(n, seed):
    """n deterministic small floats."""
    return [0.01 * (((i * 7 + seed * 13) % 17) - 8) for i in range(n)]


def tensors(overrides=None, drop=(), rename=None):
    """name -> ne (ggml order) of the good model, with changes."""
    t = {"token_embd.weight": [N_EMBD, N_VOCAB], "output_norm.weight": [N_EMBD], "output.weight": [N_EMBD, N_VOCAB]}
    for l in range(N_LAYER):
        b = "blk.%d." % l
        t.update({b + "attn_norm.weight": [N_EMBD], b + "attn_q.weight": [N_EMBD, N_HEAD * HEAD],
                  b + "attn_k.weight": [N_EMBD, N_HEAD_KV * HEAD], b + "attn_v.weight": [N_EMBD, N_HEAD_KV * HEAD],
                  b + "attn_output.weight": [N_HEAD * HEAD, N_EMBD], b + "ffn_norm.weight": [N_EMBD],
                  b + "ffn_gate.weight": [N_EMBD, N_FF], b + "ffn_up.weight": [N_EMBD, N_FF],
                  b + "ffn_down.weight": [N_FF, N_EMBD]})
    t.update(overrides or {})
    for name in drop:
        del t[name]
    if rename:
        t = {rename.get(k, k): v for k, v in t.items()}
    return t


def gguf_model(keys=None, **tensor_changes):
    """A GGUF file of the tiny model; keys overrides {suffix: (type, packed value)} of llama.*."""
    hp = {"context_length": (G.U32, struct.pack("<I", 32)), "embedding_length": (G.U32, struct.pack("<I", N_EMBD)),
          "block_count": (G.U32, struct.pack("<I", N_LAYER)), "feed_forward_length": (G.U32, struct.pack("<I", N_FF)),
          "attention.head_count": (G.U32, struct.pack("<I", N_HEAD)),
          "attention.head_count_kv": (G.U32, struct.pack("<I", N_HEAD_KV)),
          "attention.layer_norm_rms_epsilon": (G.F32, struct.pack("<f", 1e-5)),
          "rope.freq_base": (G.F32, struct.pack("<f", 10000.0))}
    hp.update(keys or {})
    kvs = [G.string("general.architecture", "llama"), G.string("general.name", "tiny")]
    kvs += [G.kv("llama." + k, t, v) for k, (t, v) in hp.items()]
    kvs += [G.string("tokenizer.ggml.model", "llama"),
            G.arr("tokenizer.ggml.tokens", G.STR, [G.s(x) for x in TOKENS]),
            G.arr("tokenizer.ggml.scores", G.F32, [struct.pack("<f", -i) for i in range(len(TOKENS))]),
            G.arr("tokenizer.ggml.token_type", G.I32, [struct.pack("<i", 2 if i == 0 else 3 if i < 3 else 1)
                                                      for i in range(len(TOKENS))]),
            G.u32("tokenizer.ggml.bos_token_id", 1), G.u32("tokenizer.ggml.eos_token_id", 2)]
    infos, data = [], b""
    for k, (name, ne) in enumerate(tensors(**tensor_changes).items()):
        n = math.prod(ne)
        infos.append(G.tinfo(name, ne, 0, len(data)))
        blob = struct.pack("<%df" % n, *values(n, k))
        data += blob + b"\0" * ((32 - len(blob) % 32) % 32)
    return G.gguf(kvs, infos, data)


def hf_folder(path, config_changes=None, spm=None, **tensor_changes):
    """An HF folder of the tiny model (safetensors in torch order: ne reversed)."""
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": N_EMBD,
              "intermediate_size": N_FF, "num_hidden_layers": N_LAYER, "num_attention_heads": N_HEAD,
              "num_key_value_heads": N_HEAD_KV, "vocab_size": make_tiny.VOCAB, "max_position_embeddings": 32,
              "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False}
    config.update(config_changes or {})
    hf_names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                "output.weight": "lm_head.weight"}
    layer = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
             "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    changes = dict(tensor_changes)
    vocab_rows = changes.pop("vocab_rows", make_tiny.VOCAB)
    st = {}
    for k, (name, ne) in enumerate(tensors(**changes).items()):
        ne = [vocab_rows if (name in ("token_embd.weight", "output.weight") and d == 1) else x
              for d, x in enumerate(ne)]
        if name.startswith("blk."):
            _, l, rest = name.split(".", 2)
            base, suffix = rest.rsplit(".", 1)
            hf = "model.layers.%s.%s.%s" % (l, layer[base], suffix)
        else:
            hf = hf_names[name]
        st[hf] = (list(reversed(ne)), values(math.prod(ne), k))
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(path, "tokenizer.model"), "wb") as f:
        f.write(spm if spm is not None else make_tiny.tokenizer_model())
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(make_tiny.safetensors(st))


def u32(v):
    return (G.U32, struct.pack("<I", v))


def f32(v):
    return (G.F32, struct.pack("<f", v))


THREE_PIECES = make_tiny.piece("<unk>", 0.0, 2) + make_tiny.piece("<s>", 0.0, 3) + make_tiny.piece("</s>", 0.0, 3)

# case -> (bytes, substrings besides the file name)
GGUF_CASES = {
    "q-half-rows": (gguf_model(overrides={"blk.0.attn_q.weight": [8, 4]}),
                    ["blk.0.attn_q.weight", "shape [8, 4]", "expected [8, 8]", "llama.attention.head_count"]),
    "embd-fewer-rows": (gguf_model(overrides={"token_embd.weight": [8, 12]}),
                        ["token_embd.weight", "shape [8, 12]", "expected [8, 16]", "tokenizer.ggml.tokens"]),
    "gate-transposed": (gguf_model(overrides={"blk.0.ffn_gate.weight": [16, 8]}),
                        ["blk.0.ffn_gate.weight", "shape [16, 8]", "expected [8, 16]", "llama.feed_forward_length"]),
    "v-3d": (gguf_model(overrides={"blk.1.attn_v.weight": [8, 2, 2]}),
             ["blk.1.attn_v.weight", "shape [8, 2, 2]", "expected [8, 4]"]),
    "k-zero-dim": (gguf_model(overrides={"blk.0.attn_k.weight": [8, 0]}),
                   ["blk.0.attn_k.weight", "shape [8, 0]", "expected [8, 4]"]),
    "up-missing": (gguf_model(drop=["blk.1.ffn_up.weight"]), ["block 1 lacks", "blk.1.ffn_up.weight"]),
    "norm-missing": (gguf_model(drop=["output_norm.weight"]), ["output_norm.weight", "missing"]),
    "q-renamed": (gguf_model(rename={"blk.0.attn_q.weight": "blk.0.attn_qq.weight"}),
                  ["blk.0.attn_qq.weight", "not a tensor of a llama model"]),
    "blocks-more-than-stored": (gguf_model(keys={"block_count": u32(3)}),
                                ["block 2 lacks", "blk.2.attn_norm.weight", "llama.block_count"]),
    "blocks-fewer-than-stored": (gguf_model(keys={"block_count": u32(1)}),
                                 ["blk.1.", "belongs to block 1", "llama.block_count' is 1"]),
    "embd-length-wrong": (gguf_model(keys={"embedding_length": u32(16)}),
                          ["token_embd.weight", "expected [16, 16]", "llama.embedding_length"]),
    "ff-length-wrong": (gguf_model(keys={"feed_forward_length": u32(32)}),
                        ["blk.0.ffn_gate.weight", "expected [8, 32]", "llama.feed_forward_length"]),
    "eps-nan": (gguf_model(keys={"attention.layer_norm_rms_epsilon": f32(float("nan"))}),
                ["llama.attention.layer_norm_rms_epsilon", "nan", "finite number > 0"]),
    "eps-negative": (gguf_model(keys={"attention.layer_norm_rms_epsilon": f32(-1e-5)}),
                     ["llama.attention.layer_norm_rms_epsilon", "-1e-05", "finite number > 0"]),
    "rope-base-zero": (gguf_model(keys={"rope.freq_base": f32(0.0)}), ["llama.rope.freq_base", "is 0"]),
    "head-dim-odd": (gguf_model(keys={"attention.key_length": u32(3)}),
                     ["llama.attention.key_length", "head size 3 is odd", "even"]),
    "rot-odd": (gguf_model(keys={"rope.dimension_count": u32(3)}), ["llama.rope.dimension_count", "is 3", "even"]),
    "vocab-size-key": (gguf_model(keys={"vocab_size": u32(20)}), ["llama.vocab_size", "20", "16 rows"]),
    "rope-scaling-unknown": (gguf_model(keys={"rope.scaling.type": (G.STR, G.s("dynamic"))}),
                             ["llama.rope.scaling.type", "'dynamic'", "longrope"]),
}

# case -> (kwargs of hf_folder, substrings besides "mdl-hf-<case>")
HF_CASES = {
    "vocab-2g": (dict(config_changes={"vocab_size": 2**31 - 1}),
                 ["lm_head.weight", "shape [275, 8]", "expected [2147483647, 8]", "'vocab_size'"]),
    "vocab-50m": (dict(config_changes={"vocab_size": 50_000_000}),
                  ["lm_head.weight", "expected [50000000, 8]", "'vocab_size'"]),
    "q-half-rows": (dict(overrides={"blk.1.attn_q.weight": [8, 4]}),
                    ["model.layers.1.self_attn.q_proj.weight", "shape [4, 8]", "expected [8, 8]"]),
    "tokenizer-3-pieces": (dict(spm=THREE_PIECES, config_changes={"vocab_size": 512}, vocab_rows=512),
                           ["tokenizer.model", "3 tokens", "vocab_size is 512", "at least 256"]),
    "up-missing": (dict(drop=["blk.0.ffn_up.weight"]), ["block 0 lacks", "blk.0.ffn_up.weight"]),
}


def tokenizer_bin(n):
    """A llama2.c tokenizer.bin of n one-letter tokens: i32 max_token_length, then per token
    f32 score, i32 length, bytes."""
    out = struct.pack("<i", 1)
    for i in range(n):
        out += struct.pack("<fi", 0.0, 1) + bytes([ord("a") + i])
    return out


# llama2.c checkpoints, consistent in size (tok4.bin is written beside them)
L2C_ODD = dict(C.TINY, dim=6)
L2C_CASES = {
    "head-size-odd": (struct.pack("<7i", *(L2C_ODD[f] for f in C.FIELDS)) + bytes(C.l2c_size(L2C_ODD) - 28),
                      ["header field dim / n_heads", "head size 3 is odd"]),
}

# Files given as SRC that are a part of a model, not one (relative to this folder).
PART_CASES = [
    ("mdl-hf-good/config.json", ["mdl-hf-good/config.json", "one file of an HF model", "HF folder"]),
    ("mdl-hf-good/model.safetensors", ["mdl-hf-good/model.safetensors", "one file of an HF model", "HF folder"]),
]


def main():
    for name in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, name)
        if name.startswith("mdl-") and os.path.isdir(path):
            shutil.rmtree(path)
        elif name.startswith("mdl-"):
            os.remove(path)
    with open(os.path.join(HERE, "mdl-gguf-good.gguf"), "wb") as f:
        f.write(gguf_model())
    hf_folder(os.path.join(HERE, "mdl-hf-good"))
    lines = []
    for fault, (data, subs) in sorted(GGUF_CASES.items()):
        case = "mdl-gguf-%s.gguf" % fault
        with open(os.path.join(HERE, case), "wb") as f:
            f.write(data)
        lines.append("\t".join([case, case] + subs))
    for fault, (kwargs, subs) in sorted(HF_CASES.items()):
        case = "mdl-hf-" + fault
        hf_folder(os.path.join(HERE, case), **kwargs)
        lines.append("\t".join([case, case] + subs))
    with open(os.path.join(HERE, "tok%d.bin" % C.TINY["vocab_size"]), "wb") as f:
        f.write(tokenizer_bin(C.TINY["vocab_size"]))
    for fault, (data, subs) in sorted(L2C_CASES.items()):
        case = "mdl-l2c-%s.bin" % fault
        with open(os.path.join(HERE, case), "wb") as f:
            f.write(data)
        lines.append("\t".join([case, case] + subs))
    for case, subs in PART_CASES:
        lines.append("\t".join([case] + subs))
    with open(os.path.join(HERE, "model.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
