#!/usr/bin/env python3
"""make_random.py OUT.inp — 600 random short texts (seed 7) over the characters the split regexes
treat differently: ASCII letters of both cases, contraction letters and apostrophes, digits,
ASCII and non-ASCII spaces, \\r \\n /, punctuation, non-ASCII letters of each case class, marks,
non-ASCII numbers, CJK, an emoji, controls. Each text ends with "\\n__ggml_vocab_test__\\n"."""
import random, sys

random.seed(7)
alpha = list("abcxyzABCXYZ'sStTlLdD0123456789  \t\r\n/.,!?-_\"") + [
    "\u00e9", "\u00c9", "\u0301", "\u0308", "\u00a0", "\u2003", "\u3000", "\u0661", "\u00bd", "\u216b", "\u01c5",
    "\u02b0", "\u65e5", "\u0416", "\u0436", "\u03a9", "\u00df", "\U0001f999", "\u0085", "\u200b", "\x0b", "\x0c",
    "\x1f"]
cases = ["".join(random.choice(alpha) for _ in range(random.randint(1, 24))) for _ in range(600)]
open(sys.argv[1], "w", encoding="utf-8", newline="").write("".join(c + "\n__ggml_vocab_test__\n" for c in cases))
