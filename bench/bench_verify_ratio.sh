#!/usr/bin/env bash
# bench_verify_ratio.sh — ingot verify's tokens/s against llama.cpp's (llama-perplexity's batch
# layout), measured in one run on the same windows and threads, as a ratio (issue 13's target:
# >= 1.3), for
#   (a) ppl:      the F16 model's perplexity alone (ingot: verify --source F16; llama.cpp: one
#                 evaluation of the F16 file),
#   (b) kld_pair: the Q4_K_M file's KL divergence from its F16 source (ingot: one verify of the
#                 Q4_K_M file against the F16 source; llama.cpp: llama-perplexity's two runs,
#                 --kl-divergence-base on the F16 file and --kl-divergence on the Q4_K_M file,
#                 counted as the two evaluations' time),
#   (c) kld_pair with "matmul": "q8": (b) with `ingot verify --matmul q8` (llama.cpp's integer
#                 arithmetic for the quantized weights, kernels/cpu/q8_dot.h); (a) and (b) carry
#                 "matmul": "fp32",
# on tl3m and on a ~100M-parameter synth model (ingot synth: 14 blocks of 768, ff 2048, 12
# heads; made on the first run with ingot convert to F16 and Q4_K_M).
#
# usage: bench/bench_verify_ratio.sh [WINDOWS] [THREADS] [REPEATS]   (defaults 32 2 3)
#   env INGOT=PATH   the ingot binary (default build/ingot)
#   env LLB=DIR      a folder holding node_modules/node-llama-cpp (npm install node-llama-cpp@3.22.1)
#   env DATA=DIR     the shared data (default ../shared/data)
#   env SYNTH=DIR    where the synth model is kept (default /tmp/ingot-bench-s100m)
#   env ONLY=tl3m|s100m  one model only
# Prints one JSON line per model and measure: both sides' median seconds over REPEATS, tokens/s,
# the ratio (ingot / llama.cpp), the commit, the machine, the load average before and after
# (a shared machine makes the figures noisy: compare the repeats' spread) and the commands.
# ingot's time is its own "scored N windows" figure (-v: evaluation and statistics, not loading
# or tokenizing); llama.cpp's is llama_decode's over the same windows (verify_ratio_node.mjs),
# without llama-perplexity's log-softmax/KL pass: in llama.cpp's favour. Both also report the CPU
# seconds spent there (cpu_ratio = llama's / ingot's): on a loaded machine, with THREADS 1, a
# steadier measure than the wall clock (with more threads it counts OpenMP's spinning too).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-32}
T=${2:-2}
R=${3:-3}
INGOT=${INGOT:-build/ingot}
LLB=${LLB:-/tmp/llb}
DATA=$(realpath "${DATA:-../shared/data}")   # absolute: the llama.cpp side runs from $LLB
SYNTH=${SYNTH:-/tmp/ingot-bench-s100m}
CTX=256
[ -x "$INGOT" ] || { echo "no $INGOT: build first (make)" >&2; exit 2; }
[ -d "$LLB/node_modules/node-llama-cpp" ] || { echo "no $LLB/node_modules/node-llama-cpp (npm install node-llama-cpp@3.22.1 there)" >&2; exit 2; }
cp bench/verify_ratio_node.mjs "$LLB/"   # so that it resolves node-llama-cpp from $LLB

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+dirty"
MACHINE="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"

# the synth model, once
if [ "${ONLY:-}" != tl3m ] && [ ! -f "$SYNTH/s100m-Q4_K_M.gguf" ]; then
    echo "making the ~100M synth model in $SYNTH" >&2
    mkdir -p "$SYNTH"
    "$INGOT" synth -o "$SYNTH/hf" --dim 768 --layers 14 --heads 12 --kv-heads 12 --ff 2048 --ctx 512 --dtype f16 >&2
    "$INGOT" convert "$SYNTH/hf" -o "$SYNTH/s100m-F16.gguf" --type F16 -q >&2
    "$INGOT" convert "$SYNTH/s100m-F16.gguf" -o "$SYNTH/s100m-Q4_K_M.gguf" --type Q4_K_M -q >&2
fi

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# ingot_time ARGS...: "WALL CPU", the medians of R runs' "scored N windows ... in S s (cpu C s)",
# each run's on stderr too
ingot_time() {
    local i s c line all="" cpus=""
    for ((i = 0; i < R; i++)); do
        line=$("$INGOT" verify -v "$@" --ctx $CTX --chunks "$W" --threads "$T" 2>&1 >/dev/null |
               grep 'scored [0-9]* windows')
        s=$(echo "$line" | sed -n 's/.*tokens in \([0-9.]*\)s.*/\1/p')
        c=$(echo "$line" | sed -n 's/.*(cpu \([0-9.]*\)s).*/\1/p')
        [ -n "$s" ] && [ -n "$c" ] || { echo "ingot verify $* gave no timing" >&2; exit 1; }
        all="$all $s"
        cpus="$cpus $c"
    done
    echo "$(echo "$all" | tr ' ' '\n' | grep . | median) $(echo "$cpus" | tr ' ' '\n' | grep . | median)"
    echo "ingot verify $*: $all s (cpu $cpus s)" >&2
}

run_model() {   # NAME F16 Q4_K_M TEXT
    local name=$1 f16=$2 q4=$3 text=$4 load0 ll llf16 llq4 nwin ig_ppl ig_kld ig_kld_q8
    load0=$(loadavg)
    ll=$(cd "$LLB" && ROUNDS=$R node verify_ratio_node.mjs "$(realpath "$text")" $CTX "$W" "$T" \
         "$(realpath "$f16")" "$(realpath "$q4")")
    echo "$ll" >&2
    llf16=$(echo "$ll" | python3 -c 'import json,sys; m=json.load(sys.stdin)["models"][0]; print(m["median_s"], m["cpu_s"])')
    llq4=$(echo "$ll" | python3 -c 'import json,sys; m=json.load(sys.stdin)["models"][1]; print(m["median_s"], m["cpu_s"])')
    nwin=$(echo "$ll" | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["windows"])')
    ig_ppl=$(ingot_time --source "$f16" --eval "$text")
    ig_kld=$(ingot_time --source "$f16" "$q4" --eval "$text")
    ig_kld_q8=$(ingot_time --source "$f16" "$q4" --eval "$text" --matmul q8)
    python3 - "$name" "$nwin" "$ig_ppl" "$ig_kld" "$ig_kld_q8" "$llf16" "$llq4" "$load0" "$(loadavg)" <<EOF
import json, sys
name, nwin = sys.argv[1], int(sys.argv[2])
# each timing is "WALL CPU"
ig_ppl, ig_kld, ig_kld_q8, llf16, llq4 = ([float(v) for v in a.split()] for a in sys.argv[3:8])
l0, l1 = float(sys.argv[8]), float(sys.argv[9])
tok = nwin * $CTX
common = {"model": name, "n_ctx": $CTX, "windows": nwin, "threads": $T, "repeats": $R, "commit": "$COMMIT",
          "machine": "$MACHINE", "load_avg_before": l0, "load_avg_after": l1}
cmd_ig = "$INGOT verify -v --source $f16 %s--eval $text --ctx $CTX --chunks $W --threads $T%s"
cmd_ll = "node bench/verify_ratio_node.mjs $text $CTX $W $T $f16 $q4 (node-llama-cpp 3.22.1, ROUNDS=$R)"
pair = [llf16[0] + llq4[0], llf16[1] + llq4[1]]
for what, mm, ig, ll, ntok, extra in (("ppl", "fp32", ig_ppl, llf16, tok, ""),
                                      ("kld_pair", "fp32", ig_kld, pair, 2 * tok, "$q4 "),
                                      ("kld_pair", "q8", ig_kld_q8, pair, 2 * tok, "$q4 ")):
    ig_s, ll_s = ig[0], ll[0]
    print(json.dumps({"bench": "verify_ratio", "what": what, "matmul": mm, **common, "tokens": ntok,
                      "ingot_s": ig_s, "ingot_tokens_per_s": round(ntok / ig_s, 1),
                      "llama_s": round(ll_s, 4), "llama_tokens_per_s": round(ntok / ll_s, 1),
                      "ratio": round(ll_s / ig_s, 3), "ingot_cpu_s": ig[1], "llama_cpu_s": round(ll[1], 4),
                      "cpu_ratio": round(ll[1] / ig[1], 3),
                      "command": cmd_ig % (extra, " --matmul q8" if mm == "q8" else "") + " ; " + cmd_ll}))
EOF
}

if [ "${ONLY:-}" != s100m ]; then
    run_model tl3m "$DATA/peers/tl3m/tl3m-F16.gguf" "$DATA/peers/tl3m/tl3m-Q4_K_M.gguf" "$DATA/tl3m/split_eval_ts.txt"
fi
if [ "${ONLY:-}" != tl3m ]; then
    run_model s100m "$SYNTH/s100m-F16.gguf" "$SYNTH/s100m-Q4_K_M.gguf" "$SYNTH/hf/corpus.txt"
fi
