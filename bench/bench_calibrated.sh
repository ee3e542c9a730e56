#!/bin/bash
# bench_calibrated.sh — tl3m quantized by RTN, llama.cpp's imatrix, GPTQ, AWQ and AWQ+GPTQ for
# Q4_0, Q4_K_M, Q3_K_M and Q2_K, each scored by ingot verify against the F16 source on the
# held-out text (split_eval_ts.txt, and the first 400 windows of wiki.test.raw); the tables
# in bench/results/calibrated-tl3m.md came from it (about 15 min on 2 cores; tables by
# bench/calibrated_table.py). usage: bench/bench_calibrated.sh [OUT_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${INGOT_DATA:-../shared/data}
E=${1:-$(mktemp -d)}
for T in Q4_0 Q4_K_M Q3_K_M Q2_K; do
  build/ingot convert $D/tl3m -o $E/rtn-$T.gguf --type $T -q > /dev/null
  build/ingot convert $D/tl3m -o $E/llimx-$T.gguf --type $T --imatrix $D/peers/tl3m/tl3m-imatrix.gguf -q > /dev/null
  for M in gptq awq awq+gptq; do
    build/ingot convert $D/tl3m -o $E/$M-$T.gguf --type $T --method $M --calib $D/tl3m/split_calib.txt --samples 128 --seq-len 256 --json-out $E/$M-$T.json -q > /dev/null
  done
  F="$E/rtn-$T.gguf $E/llimx-$T.gguf $E/gptq-$T.gguf $E/awq-$T.gguf $E/awq+gptq-$T.gguf"
  build/ingot verify $F --source $D/tl3m --eval $D/tl3m/split_eval_ts.txt --ctx 256 -q --json-out $E/verify-$T.json > $E/verify-$T.txt 2>&1
  build/ingot verify $F --source $D/tl3m --eval $D/wikitext-2-raw/wiki.test.raw --ctx 256 --chunks 400 -q --json-out $E/verify-wiki-$T.json > $E/verify-wiki-$T.txt 2>&1
done
python3 bench/calibrated_table.py $E verify-
python3 bench/calibrated_table.py $E verify-wiki-
echo "results in $E"
