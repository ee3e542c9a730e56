#!/usr/bin/env bash
# bench_stream_7b.sh — peak resident memory and tokens/s of the block-streamed `ingot verify`
# and `ingot imatrix` on a 7B-shaped model (issue 13's target: peak RSS <= 3 GB).
#
#   bench/bench_stream_7b.sh [INGOT] > bench/results/stream_7b.jsonl
#
# Makes (once, kept under WORK) a seeded `ingot synth` HF folder in F16 with Llama-2-7B's
# shapes (32 blocks, 4096 hidden, 11008 FFN, 32 heads, vocab 32000: 13.5 GB) and its Q4_K_M
# GGUF (`ingot convert --type Q4_K_M`: 4 GB), then runs under /usr/bin/time -f %M:
#   ingot verify Q4_K_M --source F16 --eval corpus.txt --ctx 512 --chunks 8 --json
#   ingot imatrix F16 --calib corpus.txt --ctx 512 --chunks 8 --json
# and prints one JSON line per command: machine, commit, shape, command, seconds, tokens/s
# (windows x ctx / wall seconds), the peak RSS time measured and the one ingot reports, the
# window batch. Environment overrides, for a smaller check of the same scaling:
#   WORK (default /tmp/ingot-bench-7b), LAYERS DIM FF HEADS KV_HEADS VOCAB, CHUNKS (8),
#   CTX (512), THREADS (all cores), BUDGET (--mem-budget, default: ingot's own),
#   KEEP_PAGES=1 (INGOT_KEEP_PAGES: measure without giving the file's pages back).
# e.g. a quarter of the 7B: LAYERS=8 DIM=2048 FF=5504 HEADS=16 KV_HEADS=16 WORK=/tmp/b2k
set -euo pipefail

INGOT=${1:-${INGOT:-build/ingot}}
WORK=${WORK:-/tmp/ingot-bench-7b}
LAYERS=${LAYERS:-32} DIM=${DIM:-4096} FF=${FF:-11008} HEADS=${HEADS:-32} KV_HEADS=${KV_HEADS:-$HEADS}
VOCAB=${VOCAB:-32000} CHUNKS=${CHUNKS:-8} CTX=${CTX:-512} THREADS=${THREADS:-$(nproc)}
BUDGET=${BUDGET:-}
[ -x "$INGOT" ] || { echo "bench_stream_7b: no ingot binary at $INGOT (make first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_stream_7b: /usr/bin/time is missing (GNU time)" >&2; exit 2; }

shape="${LAYERS}x${DIM}_ff${FF}_h${HEADS}_kv${KV_HEADS}_v${VOCAB}"
model=$WORK/$shape-F16
quant=$WORK/$shape-Q4_K_M.gguf
mkdir -p "$WORK"
if [ ! -f "$model/model.safetensors" ]; then
    echo "bench_stream_7b: synth $shape into $model" >&2
    "$INGOT" synth -o "$model" --layers "$LAYERS" --dim "$DIM" --ff "$FF" --heads "$HEADS" --kv-heads "$KV_HEADS" \
        --vocab "$VOCAB" --ctx 4096 --dtype f16 --corpus-lines 20000 >&2
fi
if [ ! -f "$quant" ]; then
    echo "bench_stream_7b: convert to Q4_K_M: $quant" >&2
    "$INGOT" convert "$model" -o "$quant" --type Q4_K_M --threads "$THREADS" -q >&2
fi

commit=$(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$(dirname "$0")/.." status --porcelain --untracked-files=no 2>/dev/null | head -1)
[ -n "$dirty" ] && commit="$commit+dirty"
machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
budget_args=()
[ -n "$BUDGET" ] && budget_args=(--mem-budget "$BUDGET")
export INGOT_KEEP_PAGES=${KEEP_PAGES:-0}

# run NAME JSONFILE CMD...: time it, then print the JSON line
run() {
    local name=$1 json=$2
    shift 2
    local t0 t1 rss
    t0=$(date +%s.%N)
    /usr/bin/time -f %M -o "$WORK/time.txt" "$@" > "$json"
    t1=$(date +%s.%N)
    rss=$(tail -1 "$WORK/time.txt")
    python3 - "$name" "$json" "$t0" "$t1" "$rss" "$*" <<'PY'
import json, sys
name, path, t0, t1, rss_kb, cmd = sys.argv[1:]
import os
d = json.load(open(path))
secs = float(t1) - float(t0)
chunks, ctx = int(os.environ["CHUNKS"]), int(os.environ["CTX"])
out = {
    "bench": "stream_7b", "command_name": name, "machine": os.environ["MACHINE"], "commit": os.environ["COMMIT"],
    "shape": os.environ["SHAPE"], "threads": int(os.environ["THREADS"]), "windows": chunks, "ctx": ctx,
    "keep_pages": os.environ.get("INGOT_KEEP_PAGES", "0") not in ("", "0"),
    "seconds": round(secs, 2), "tokens_per_s": round(chunks * ctx / secs, 2),
    "peak_rss_bytes_time": int(rss_kb) * 1024, "peak_rss_bytes_ingot": d.get("peak_rss_bytes"),
    "window_batch": d.get("window_batch"), "command": cmd,
}
if name == "verify":
    out["ppl_source"] = d["source"]["ppl"]
    out["kld_mean"] = d["containers"][0]["kld_mean"]
print(json.dumps(out))
PY
}
export MACHINE="$machine" COMMIT="$commit" SHAPE="$shape" THREADS CHUNKS CTX

run verify "$WORK/verify.json" "$INGOT" verify "$quant" --source "$model" --eval "$model/corpus.txt" --ctx "$CTX" \
    --chunks "$CHUNKS" --threads "$THREADS" "${budget_args[@]}" --json -q
run imatrix "$WORK/imatrix.json" "$INGOT" imatrix "$model" --calib "$model/corpus.txt" -o "$WORK/imatrix.gguf" \
    --ctx "$CTX" --chunks "$CHUNKS" --threads "$THREADS" "${budget_args[@]}" --json -q
