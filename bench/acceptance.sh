#!/bin/sh
# The acceptance runs of the modes and chips issues (timing only): each run's mode, samples/s, tokens/s, FLOP/s
# against the peak, bytes streamed or spilled, what bounds it, host time and peak RSS.
# Usage: bench/acceptance.sh [BUILD]   (about 10 minutes on 2 cores)
BUILD=${1:-build}
W=$BUILD/weft
run() {
    echo "== $*"
    /usr/bin/time -f "   host %e s, peak RSS %M KB" "$W" run "$@" --timing-only 2>&1 |
        grep -E "^mode|^micro|simulated on|data parallel|samples/s|tokens/s|  step|weight stream|DDR  |bottleneck|FLOP/s|  vs |host |error|sections:" | cut -c1-400
}
run "builtin:gpt2:seq=2048,positions=2048" --arch wse2 --train --precision bf16 --batch 112 --mode weight-streaming --vs a100,h100
# several chips (data parallel): the same step on 4 CS-2s; GPT-2 XL on an SN30 node; Llama-2 7B on 4 CS-3s; a 13B GPT on 4 RDUs
run "builtin:gpt2:seq=2048,positions=2048" --arch cs2x4 --train --precision bf16 --batch 112 --mode weight-streaming
run builtin:gpt2-xl --arch sn30-node --train --precision bf16 --batch 16 --mode sections
run "builtin:llama:size=llama2-7b,seq=4096" --arch cs3x4 --train --precision bf16 --batch 32 --micro-batch 1 --mode weight-streaming
run "builtin:gpt2:layers=40,dim=5120,heads=40,seq=2048,positions=2048" --arch sn30-node --replicas 4 --train --precision bf16 --batch 128 --mode sections
run "builtin:resnet:batch=64" --arch wse2 --train --precision bf16 --vs a100,h100
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
