#!/bin/sh
# Runs each libFuzzer target (make fuzz) in turn for SECONDS on its seed corpus, and prints per
# target the executions and the findings. New inputs go to /tmp/weft-fuzz/TARGET/corpus, findings
# (crash-*, leak-*, timeout-*, oom-*) to /tmp/weft-fuzz/TARGET/; the seed corpora in tests/corpus
# are only read. A finding worth keeping goes into tests/corpus/ (see tests/test_bad_input.c).
#
#     make fuzz && scripts/fuzz.sh 120            # two minutes each
#     FUZZ_TARGETS="arch graph" scripts/fuzz.sh 60
set -u
SECONDS_EACH=${1:-60}
OUT=${WEFT_FUZZ_OUT:-/tmp/weft-fuzz}
BIN=${WEFT_FUZZ_BIN:-build-fuzz}
TARGETS=${FUZZ_TARGETS:-onnx arch graph program checkpoint}
seeds() {
    case $1 in
    onnx) echo tests/corpus/onnx ;;
    arch) echo tests/corpus/arch ;;
    graph | program) echo tests/corpus/graph ;;
    checkpoint) echo tests/corpus/checkpoint ;;
    esac
}
total=0
printf '%-11s %8s %12s %9s\n' target seconds execs findings
for t in $TARGETS; do
    if [ ! -x "$BIN/fuzz_$t" ]; then echo "$BIN/fuzz_$t is not built: run make fuzz" >&2; exit 2; fi
    mkdir -p "$OUT/$t/corpus"
    log="$OUT/$t/log.txt"
    touch "$OUT/$t/.start"
    # -rss_limit_mb: an input that needs more is a finding (an allocation the reader should bound);
    # -timeout: one input taking longer is a finding (a hang)
    "$BIN/fuzz_$t" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$OUT/$t/" "$OUT/$t/corpus" $(seeds "$t") >"$log" 2>&1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    found=$(find "$OUT/$t" -maxdepth 1 -newer "$OUT/$t/.start" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-11s %8s %12s %9s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "$found"
    total=$((total + found))
done
echo "findings: $total (in $OUT/TARGET/; logs in $OUT/TARGET/log.txt)"
[ "$total" -eq 0 ]
