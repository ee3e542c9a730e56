#!/usr/bin/env python3
"""set_pre.py IN.gguf OUT.gguf NAME — copy a vocabulary-only GGUF (no tensors) with its
tokenizer.ggml.pre string replaced by NAME. Used once to make the files these vectors were
recorded with (see README.md)."""
import struct, sys

src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3].encode()
b = open(src, "rb").read()
assert b[:4] == b"GGUF"
n_tensors, n_kv = struct.unpack_from("<QQ", b, 8)
assert n_tensors == 0, "only vocabulary-only files"
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

def skip_value(off, t):
    if t == 8:
        (n,) = struct.unpack_from("<Q", b, off)
        return off + 8 + n
    if t == 9:
        at, n = struct.unpack_from("<IQ", b, off)
        off += 12
        for _ in range(n):
            off = skip_value(off, at)
        return off
    return off + SIZES[t]

off = 24
for _ in range(n_kv):
    (klen,) = struct.unpack_from("<Q", b, off)
    key = b[off + 8:off + 8 + klen]
    off += 8 + klen
    (t,) = struct.unpack_from("<I", b, off)
    off += 4
    end = skip_value(off, t)
    if key == b"tokenizer.ggml.pre":
        assert t == 8
        out = b[:off] + struct.pack("<Q", len(name)) + name + b[end:]
        break
    off = end
else:
    sys.exit("no tokenizer.ggml.pre")
# with no tensors nothing follows the key/value pairs that an offset could point into
open(dst, "wb").write(out)
