#!/bin/sh
# The modes issue's acceptance runs (timing only): each run's mode, samples/s, tokens/s, FLOP/s
# against the peak, bytes streamed or spilled, what bounds it, host time and peak RSS.
# Usage: bench/acceptance.sh [BUILD]   (about 10 minutes on 2 cores)
BUILD=${1:-build}
W=$BUILD/weft
run() {
    echo "== $*"
    /usr/bin/time -f "   host %e s, peak RSS %M KB" "$W" run "$@" --timing-only 2>&1 |
        grep -E "^mode|^micro|simulated on|samples/s|tokens/s|  step|weight stream|DDR  |bottleneck|FLOP/s|host |error|sections:" | cut -c1-400
}
run "builtin:gpt2:seq=2048,positions=2048" --arch wse2 --train --precision bf16 --batch 112 --mode weight-streaming
run builtin:gpt2 --arch wse2 --train --mode pipelined
run builtin:gpt2 --arch wse2 --train --precision bf16 --mode pipelined
run builtin:gpt2-xl --arch wse2 --train --precision bf16 --batch 16 --mode weight-streaming
run "builtin:gptj:seq=2048" --arch wse2 --train --precision bf16 --batch 66 --mode weight-streaming
run "builtin:llama:size=llama2-7b,seq=1024" --arch wse3 --train --precision bf16 --batch 8 --micro-batch 1 --mode weight-streaming
run "builtin:llama:size=llama2-7b,seq=4096" --arch wse3 --train --precision bf16 --batch 8 --micro-batch 1 --mode weight-streaming
run "builtin:bert:size=large,seq=128" --arch wse2 --train --precision bf16 --mode pipelined
run "builtin:bert:size=large,seq=128" --arch wse2 --train --precision bf16 --batch 1024 --mode weight-streaming
run builtin:gpt2 --arch sn30 --train --precision bf16 --mode sections
run "builtin:unet:batch=256" --arch sn30 --train --precision bf16 --mode sections
run "builtin:unet:batch=16" --arch sn30 --train --precision bf16 --mode sections
