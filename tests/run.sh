#!/usr/bin/env bash
# tests/run.sh — run the Criterion suite the way `make test` does, and close with a summary
# that a reader (and CI) cannot misread: how many passed, failed and were skipped, why each
# group was skipped, and how long the run took.
#
#   tests/run.sh UNIT_BINARY LOG [criterion options...]
#
# Criterion's own closing line counts skipped tests nowhere ("Tested" excludes them), so the
# suite runs with --verbose into LOG, the terminal gets everything but the [RUN]/[PASS]
# lines, and the skips are counted from the [SKIP] lines. Exit status: Criterion's.
set -uo pipefail

unit=$1
log=$2
shift 2

start=$(date +%s)
"$unit" --verbose "$@" 2>&1 | tee "$log" | grep -v -E '^\[(RUN |PASS)\]|Test is disabled$'
status=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - start ))

passed=$(grep -c '^\[PASS\]' "$log")
failed=$(grep -c -E '^\[(FAIL|CRASH|ERR )\]' "$log")
# a test skipped at run time, with its reason; a test left out by --filter says "Test is disabled"
skipped=$(grep '^\[SKIP\]' "$log" | grep -v -c 'Test is disabled$')

echo
echo "---- summary ($(( elapsed / 60 )) min $(( elapsed % 60 )) s; full log: $log)"
if [ "$skipped" -gt 0 ]; then
    echo "skipped tests, by reason:"
    grep '^\[SKIP\]' "$log" | grep -v 'Test is disabled$' | sed -E 's/^\[SKIP\] [^:]+::[^:]+: //' |
        sort | uniq -c | sort -rn | sed 's/^/  /'
fi
if [ "$failed" -gt 0 ]; then
    echo "failed tests:"
    grep -E '^\[(FAIL|CRASH|ERR )\]' "$log" | sed 's/^/  /'
fi
# the plain closing line: "N passed, N failed, N skipped"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$failed" -gt 0 ]; then
    status=1
fi
exit "$status"
