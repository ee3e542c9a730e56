#!/usr/bin/env python3
"""calibrated_table.py — the markdown table of bench/results/calibrated-tl3m.md from the
verify-*.json files bench_calibrated.sh writes. usage: calibrated_table.py FOLDER [PREFIX]
(PREFIX "verify-" for split_eval_ts.txt, "verify-wiki-" for wiki.test.raw)."""
import json
import os
import sys

NAMES = {"rtn": "ingot RTN (= llama-quantize)", "llimx": "llama.cpp imatrix (llama-imatrix file)",
         "gptq": "ingot GPTQ", "awq": "ingot AWQ", "awq+gptq": "ingot AWQ+GPTQ"}

folder = sys.argv[1]
prefix = sys.argv[2] if len(sys.argv) > 2 else "verify-"
print("| type | method | mean KLD | ± | same top % | PPL ratio | bytes |")
print("|---|---|---:|---:|---:|---:|---:|")
for t in ["Q4_0", "Q4_K_M", "Q3_K_M", "Q2_K"]:
    path = os.path.join(folder, f"{prefix}{t}.json")
    if not os.path.exists(path):
        continue
    for c in json.load(open(path))["containers"]:
        method = os.path.basename(c["file"])[: -len(f"-{t}.gguf")]
        print(f"| {t} | {NAMES.get(method, method)} | {c['kld_mean']:.6f} | {c['kld_mean_stderr']:.6f} | "
              f"{c['same_top_pct']:.3f} | {c['ppl_ratio']:.5f} | {c['bytes']} |")
