#!/bin/sh
# `make bench`: times weft's reference executor on one GPT-2 124M forward pass (batch 1, 128
# tokens) against PyTorch on the same machine, and both against this machine's sgemm rate; then
# one training step of a small GPT: weft's reference, weft on the fabric, PyTorch.
# Usage: bench/run.sh [BUILD] [extra options for bench/gpt2_forward.py]
set -e
BUILD=${1:-build}
[ $# -gt 0 ] && shift
# Debian's python3 has torch; a python3 earlier on PATH may not.
/usr/bin/python3 "$(dirname "$0")/gpt2_forward.py" --weft "$BUILD/weft" "$@"
echo
exec /usr/bin/python3 "$(dirname "$0")/train_step.py" --weft "$BUILD/weft"
