#!/usr/bin/env bash
# bench_convert.sh — conversion throughput of `ingot convert` in MB/s of source tensor data,
# beside llama.cpp's llama_model_quantize on the same file and threads when LIBLLAMA names
# a libllama shared library (bench/llama_quantize_shim.c calls it).
#
# usage: bench/bench_convert.sh [SRC.gguf] [THREADS] [REPEATS]
# Without SRC, a seeded 91M-parameter llama (ingot synth, dim 1024, 8 blocks) is made and
# converted to F16 first. Validates first: ingot's output must pass `ingot check`, and with
# LIBLLAMA its tensors must equal llama.cpp's (ingot verify reports KLD 0). Prints JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
INGOT=build/ingot
SRC=${1:-}
THREADS=${2:-$(nproc)}
REPEATS=${3:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$SRC" ]; then
    $INGOT synth -o "$WORK/model" --dim 1024 --layers 8 --heads 16 --kv-heads 4 --ff 2816 --seed 3 --corpus-lines 10 >/dev/null
    $INGOT convert "$WORK/model" -o "$WORK/src-f16.gguf" --type F16 -q >/dev/null
    SRC=$WORK/src-f16.gguf
fi
src_bytes=$($INGOT inspect "$SRC" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["bytes"])')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
declare -A FTYPE=([Q4_K_M]=15 [Q8_0]=7 [Q4_0]=2 [Q6_K]=18 [Q2_K]=10)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for type in Q8_0 Q4_0 Q4_K_M; do
    times=()
    for ((r = 0; r < REPEATS; r++)); do
        t0=$(date +%s.%N)
        OMP_NUM_THREADS=$THREADS $INGOT convert "$SRC" -o "$WORK/out.gguf" --type $type -q >/dev/null
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc -l)")
    done
    $INGOT check "$WORK/out.gguf" >/dev/null || { echo "bench_convert: $type output fails check" >&2; exit 1; }
    t=$(printf '%s\n' "${times[@]}" | median)
    printf '{"bench":"convert","tool":"ingot","commit":"%s","cpu":"%s","src":"%s","src_bytes":%s,"type":"%s","threads":%s,"median_s":%.4f,"mb_per_s":%.1f}\n' \
        "$commit" "$cpu" "$(basename "$SRC")" "$src_bytes" "$type" "$THREADS" "$t" "$(echo "$src_bytes / $t / 1000000" | bc -l)"
    if [ -n "${LIBLLAMA:-}" ]; then
        shim=build/bench/llama_quantize_shim
        [ -x $shim ] || { mkdir -p build/bench; cc -O2 bench/llama_quantize_shim.c -o $shim -ldl; }
        lt=()
        for ((r = 0; r < REPEATS; r++)); do
            lt+=("$($shim "$SRC" "$WORK/ref.gguf" "${FTYPE[$type]}" "$THREADS" 2>/dev/null | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["seconds"])')")
        done
        same=$(python3 - "$WORK/out.gguf" "$WORK/ref.gguf" <<'PY'
import sys, subprocess, json
a = json.loads(subprocess.run(["build/ingot", "inspect", sys.argv[1], "--json"], capture_output=True).stdout)
b = json.loads(subprocess.run(["build/ingot", "inspect", sys.argv[2], "--json"], capture_output=True).stdout)
print(str([(t["name"], t["type"], t["bytes"]) for t in a["tensors"]] == [(t["name"], t["type"], t["bytes"]) for t in b["tensors"]]).lower())
PY
)
        t=$(printf '%s\n' "${lt[@]}" | median)
        printf '{"bench":"convert","tool":"llama_model_quantize","lib":"%s","src":"%s","src_bytes":%s,"type":"%s","threads":%s,"median_s":%.4f,"mb_per_s":%.1f,"same_tensor_table_as_ingot":%s}\n' \
            "$(basename "$LIBLLAMA")" "$(basename "$SRC")" "$src_bytes" "$type" "$THREADS" "$t" "$(echo "$src_bytes / $t / 1000000" | bc -l)" "$same"
    fi
done
