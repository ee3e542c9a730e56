#!/usr/bin/env bash
# bench_hellaswag.sh — HellaSwag items/s, ingot vs llama.cpp, on the same model, items and threads.
# usage: bench/bench_hellaswag.sh [MODEL.gguf] [N_TASKS] [THREADS]
#   env HS=FILE   llama.cpp's 6-line HellaSwag text (default /tmp/hellaswag_val_full.txt, made from
#                 /work/shared/data/hellaswag/hellaswag_val_full.txt.bz2 when missing)
#   env LLB=DIR   a folder holding node_modules/node-llama-cpp (npm install node-llama-cpp@3.22.1);
#                 default /tmp/llb; without it only ingot's line is printed
# Prints JSON lines: ingot's, llama.cpp's (scored as llama-perplexity scores), llama.cpp's decode
# only (no log-probs read), then the ratios. Each line carries the load average before its run.
#
# ingot's time: `ingot verify MODEL --source MODEL` scores the source and then the container (the
# same file) one after the other; the figure is the source's own scoring time, which verify
# writes as tasks.<task>.source.seconds (tokenization and loading are not in it). The whole
# command's wall time is printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-/work/shared/data/peers/tl3m/tl3m-F16.gguf}
N=${2:-400}
T=${3:-2}
HS=${HS:-/tmp/hellaswag_val_full.txt}
LLB=${LLB:-/tmp/llb}
INGOT=${INGOT:-build/ingot}
if [ ! -s "$HS" ]; then bzip2 -dc /work/shared/data/hellaswag/hellaswag_val_full.txt.bz2 > "$HS"; fi
load() { cut -d' ' -f1 /proc/loadavg; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

l0=$(load); t0=$(date +%s.%N)
"$INGOT" verify "$MODEL" --source "$MODEL" --tasks "hellaswag:$HS" --task-limit "$N" --threads "$T" \
    --json-out "$tmp/ingot.json" -q > /dev/null
t1=$(date +%s.%N)
python3 - "$tmp/ingot.json" "$MODEL" "$N" "$T" "$l0" "$t0" "$t1" > "$tmp/ingot.line" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); model, n, t, load, t0, t1 = sys.argv[2:]
task = next(iter(d["tasks"].values())); src = task["source"]
print(json.dumps({"bench": "ingot verify HellaSwag, source model (tasks.*.source.seconds)", "model": model,
                  "n_tasks": task["n_items"], "threads": int(t), "acc_norm": src["acc_norm"],
                  "seconds": src["seconds"], "items_per_s": task["n_items"] / src["seconds"],
                  "verify_wall_s_two_models": float(t1) - float(t0), "load1_before": float(load)}))
PY
cat "$tmp/ingot.line"

if [ -d "$LLB/node_modules/node-llama-cpp" ]; then
    cp bench/hellaswag_llama_node.mjs "$LLB/"   # so that it resolves node-llama-cpp from $LLB
    for mode in score decode; do
        l0=$(load)
        HS_MODE=$mode node "$LLB/hellaswag_llama_node.mjs" "$MODEL" "$HS" "$N" "$T" \
            | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["load1_before"]=float(sys.argv[1]); print(json.dumps(d))' "$l0" \
            > "$tmp/llama_$mode.line"
        cat "$tmp/llama_$mode.line"
    done
    python3 - "$tmp/ingot.line" "$tmp/llama_score.line" "$tmp/llama_decode.line" <<'PY'
import json, sys
i, s, d = (json.loads(open(p).read()) for p in sys.argv[1:])
print(json.dumps({"ratio_ingot_over_llama": i["items_per_s"] / s["items_per_s"],
                  "ratio_ingot_over_llama_decode_only": i["items_per_s"] / d["items_per_s"],
                  "acc_norm_ingot": i["acc_norm"], "acc_norm_llama": s["acc_norm"],
                  "n_tasks": i["n_tasks"], "threads": i["threads"]}))
PY
else
    echo "no $LLB/node_modules/node-llama-cpp: llama.cpp side skipped (npm install node-llama-cpp@3.22.1 there)" >&2
fi
