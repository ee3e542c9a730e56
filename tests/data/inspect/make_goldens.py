#!/usr/bin/env python3
"""make_goldens.py - golden values for tests/convert/test_inspect_tensor.c, made once with numpy.

Independent of ingot's C code: a GGUF v3 parser and the Q4_K / Q8_0 / F16 dequantizers are
written here from the layouts in ggml (ggml-common.h, ggml-quants.c: dequantize_row_q4_K,
dequantize_row_q8_0), in float32 arithmetic without fused multiply-add as ggml's scalar code
does; safetensors is read from its JSON header. For each case it prints one line:
  case  fnv1a64(f32 LE bytes of all values)  count  min  max  mean  std  zeros  v[0] v[1] v[257] v[last]
std is numpy's (population, ddof=0) in float64. Run: /usr/bin/python3 make_goldens.py DATA > goldens.txt
(DATA = ../shared/data). Needs numpy (Debian: python3-numpy).
"""
import json
import struct
import sys

import numpy as np

GGUF_SCALAR = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}


def gguf_tensors(path):
    """{name: (type, ne, bytes_from_data_start)} and the file bytes and the data start."""
    buf = open(path, 'rb').read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from('<' + fmt, buf, pos)
        pos += struct.calcsize('<' + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take('Q')
        s = buf[pos:pos + n]
        pos += n
        return s.decode('utf-8', 'replace')

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take('I'), take('Q')
            return [value(et) for _ in range(n)]
        return take(GGUF_SCALAR[t])

    assert buf[:4] == b'GGUF'
    pos = 4
    take('I')
    n_t, n_kv = take('Q'), take('Q')
    align = 32
    for _ in range(n_kv):
        k = string()
        v = value(take('I'))
        if k == 'general.alignment':
            align = v
    infos = {}
    for _ in range(n_t):
        name = string()
        nd = take('I')
        ne = [take('q') for _ in range(nd)]
        infos[name] = (take('I'), ne, take('Q'))
    data = (pos + align - 1) // align * align
    return buf, data, infos


def f16(b):
    return np.frombuffer(b, dtype='<f2').astype(np.float32)


def deq_q8_0(raw):
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
    d = f16(blocks[:, :2].tobytes()).reshape(-1, 1)
    q = blocks[:, 2:].view(np.int8).astype(np.float32)
    return (d * q).astype(np.float32).reshape(-1)


def scale_min_k4(j, s):
    if j < 4:
        return s[j] & 63, s[j + 4] & 63
    return (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)


def deq_q4_k(raw):
    out = []
    one = np.float32
    for b in range(len(raw) // 144):
        blk = raw[b * 144:(b + 1) * 144]
        d, dmin = f16(blk[0:2])[0], f16(blk[2:4])[0]
        sc = blk[4:16]
        qs = np.frombuffer(blk[16:144], dtype=np.uint8)
        y = np.empty(256, dtype=np.float32)
        for j in range(4):   # 64 values per step: low nibbles then high nibbles of 32 bytes
            s1, m1 = scale_min_k4(2 * j, sc)
            s2, m2 = scale_min_k4(2 * j + 1, sc)
            d1, mm1 = one(d * one(s1)), one(dmin * one(m1))
            d2, mm2 = one(d * one(s2)), one(dmin * one(m2))
            q = qs[32 * j:32 * j + 32]
            y[64 * j:64 * j + 32] = (d1 * (q & 0xF).astype(np.float32)) - mm1
            y[64 * j + 32:64 * j + 64] = (d2 * (q >> 4).astype(np.float32)) - mm2
        out.append(y)
    return np.concatenate(out)


def gguf_values(path, name):
    buf, data, infos = gguf_tensors(path)
    t, ne, off = infos[name]
    n = int(np.prod(ne))
    start = data + off
    if t == 0:
        return np.frombuffer(buf[start:start + 4 * n], dtype='<f4')
    if t == 1:
        return f16(buf[start:start + 2 * n])
    if t == 8:
        return deq_q8_0(buf[start:start + n // 32 * 34])
    if t == 12:
        return deq_q4_k(buf[start:start + n // 256 * 144])
    raise SystemExit('type %d not handled here' % t)


def safetensors_values(path, name):
    buf = open(path, 'rb').read()
    n = struct.unpack_from('<Q', buf, 0)[0]
    head = json.loads(buf[8:8 + n])
    e = head[name]
    b, end = e['data_offsets']
    raw = buf[8 + n + b:8 + n + end]
    dt = {'F32': '<f4', 'F16': '<f2', 'I32': '<i4', 'I8': 'i1', 'U8': 'u1'}[e['dtype']]
    return np.frombuffer(raw, dtype=dt).astype(np.float32)


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def line(case, v):
    v = v.astype('<f4')
    fin = v[np.isfinite(v)].astype(np.float64)
    print('%s %016x %d %.9g %.9g %.17g %.17g %d %.9g %.9g %.9g %.9g' % (
        case, fnv1a64(v.tobytes()), v.size, fin.min(), fin.max(), fin.mean(), fin.std(),
        int(np.sum(v == 0)), v[0], v[1], v[257], v[-1]))


def main():
    data = sys.argv[1]
    line('gguf-q4_k', gguf_values(data + '/peers/tl3m/tl3m-Q4_K_M.gguf', 'blk.0.attn_q.weight'))
    line('gguf-q8_0', gguf_values(data + '/peers/tl3m/tl3m-Q8_0.gguf', 'blk.1.ffn_down.weight'))
    line('gguf-f16', gguf_values(data + '/peers/tl3m/tl3m-F16.gguf', 'blk.3.attn_v.weight'))
    line('hf-f16', safetensors_values(data + '/tl3m/model.safetensors', 'model.layers.0.self_attn.q_proj.weight'))
    line('hf-f32', safetensors_values(data + '/hf-TinyStories-656K/model.safetensors', 'model.layers.1.mlp.gate_proj.weight'))


main()
