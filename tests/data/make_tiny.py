#!/usr/bin/env python3
"""Write tests/data/tiny-llama (and its variants, below): a seeded, 1-block llama HF folder for tests (stdlib only).

config.json, model.safetensors (F32, HF layout, separate lm_head) and a SentencePiece
tokenizer.model built by hand in protobuf wire format: <unk>, <s>, </s>, 256 byte pieces
<0x00>..<0xFF>, then 16 normal pieces. Weights are N(0, 0.1) from random.Random(1234).
Run: python3 tests/data/make_tiny.py  (from the repository root).
"""
import json, os, random, struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny-llama")
DIM, FF, HEADS, KV_HEADS, LAYERS = 32, 64, 4, 2, 1
NORMAL = ["\u2581", "e", "t", "a", "o", "\u2581t", "he", "\u2581the", "n", "s", "i", "r", "d", "l", ".", ","]
VOCAB = 3 + 256 + len(NORMAL)

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload

def piece(text, score, ptype):
    body = field(1, 2, text.encode("utf-8")) + field(2, 5, struct.pack("<f", score))
    if ptype != 1:
        body += field(3, 0, varint(ptype))
    return field(1, 2, body)

def tokenizer_model():
    out = piece("<unk>", 0.0, 2) + piece("<s>", 0.0, 3) + piece("</s>", 0.0, 3)
    for b in range(256):
        out += piece("<0x%02X>" % b, 0.0, 6)
    for i, t in enumerate(NORMAL):
        out += piece(t, -float(i), 1)
    trainer = field(40, 0, varint(0)) + field(41, 0, varint(1)) + field(42, 0, varint(2)) + \
        field(43, 0, varint((1 << 64) - 1))  # pad_id = -1 as int32 varint (10 bytes)
    normalizer = field(3, 0, varint(1))
    return out + field(2, 2, trainer) + field(3, 2, normalizer)

def safetensors(tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        shape, values = tensors[name]
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)

def write_folder(name, tensors, config, tok_config):
    out = os.path.join(os.path.dirname(OUT), name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=2)
    with open(os.path.join(out, "tokenizer.model"), "wb") as f:
        f.write(tokenizer_model())
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(safetensors(tensors))


def main():
    rng = random.Random(1234)
    def w(*shape):
        n = 1
        for s in shape:
            n *= s
        return [list(shape), [rng.gauss(0.0, 0.1) for _ in range(n)]]
    head_dim = DIM // HEADS
    t = {"model.embed_tokens.weight": w(VOCAB, DIM), "lm_head.weight": w(VOCAB, DIM),
         "model.norm.weight": [[DIM], [1.0 + 0.01 * i for i in range(DIM)]]}
    for l in range(LAYERS):
        p = "model.layers.%d." % l
        t[p + "input_layernorm.weight"] = [[DIM], [1.0 - 0.01 * i for i in range(DIM)]]
        t[p + "post_attention_layernorm.weight"] = [[DIM], [1.0 + 0.02 * i for i in range(DIM)]]
        t[p + "self_attn.q_proj.weight"] = w(HEADS * head_dim, DIM)
        t[p + "self_attn.k_proj.weight"] = w(KV_HEADS * head_dim, DIM)
        t[p + "self_attn.v_proj.weight"] = w(KV_HEADS * head_dim, DIM)
        t[p + "self_attn.o_proj.weight"] = w(DIM, HEADS * head_dim)
        t[p + "mlp.gate_proj.weight"] = w(FF, DIM)
        t[p + "mlp.up_proj.weight"] = w(FF, DIM)
        t[p + "mlp.down_proj.weight"] = w(DIM, FF)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": DIM,
              "intermediate_size": FF, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
              "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB, "max_position_embeddings": 128,
              "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": False,
              "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    tok_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
                  "eos_token": "</s>", "unk_token": "<unk>"}
    write_folder("tiny-llama", t, config, tok_config)
    # The same weights with q/k/v biases, twice: as a llama (attention_bias, GGUF rope layout
    # after ingot permutes q/k) and as a qwen2 (HF/NEOX rope layout, no permutation). Both
    # describe one function, so their logits must agree (tests/model/test_llama.c).
    biased = dict(t)
    for l in range(LAYERS):
        p = "model.layers.%d.self_attn." % l
        biased[p + "q_proj.bias"] = w(HEADS * head_dim)
        biased[p + "k_proj.bias"] = w(KV_HEADS * head_dim)
        biased[p + "v_proj.bias"] = w(KV_HEADS * head_dim)
    write_folder("tiny-llama-bias", biased, dict(config, attention_bias=True), tok_config)
    qwen = dict(config, architectures=["Qwen2ForCausalLM"], model_type="qwen2")
    write_folder("tiny-qwen2", biased, qwen, tok_config)
    # qwen2 without grouped-query attention (k/v as wide as q, drawn after everything above
    # so the other fixtures stay as they were): AWQ folds o's scales into v, bias included
    # (tests/verify/test_calib.c).
    mha = dict(biased)
    for l in range(LAYERS):
        p = "model.layers.%d.self_attn." % l
        for name in ("k_proj", "v_proj"):
            mha[p + name + ".weight"] = w(HEADS * head_dim, DIM)
            mha[p + name + ".bias"] = w(HEADS * head_dim)
    write_folder("tiny-qwen2-mha", mha, dict(qwen, num_key_value_heads=HEADS), tok_config)

if __name__ == "__main__":
    main()
