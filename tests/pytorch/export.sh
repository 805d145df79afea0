#!/bin/sh
# Exports the PyTorch oracle's cases (tests/pytorch/export_models.py) into OUTDIR, in ONNX's
# backend-test layout. Skips the export when every case's output is newer than the script.
# Always Debian's /usr/bin/python3 (torch 1.13, onnx 1.12): a python3 on PATH may lack them.
set -e
OUT=${1:?usage: tests/pytorch/export.sh OUTDIR}
HERE=$(dirname "$0")
PY=/usr/bin/python3
fresh=1
for c in pytorch_mlp pytorch_cnn pytorch_gpt; do
  f="$OUT/$c/test_data_set_0/output_0.pb"
  if [ ! -f "$f" ] || [ "$HERE/export_models.py" -nt "$f" ] || [ "$OUT/$c/model.onnx" -nt "$f" ]; then fresh=0; fi
done
[ "$fresh" = 1 ] && exit 0
if ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
  echo "tests/pytorch/export.sh: $PY lacks torch or onnx (apt-get install python3-torch python3-onnx); the pytorch tests will fail" >&2
  exit 0
fi
mkdir -p "$OUT"
"$PY" "$HERE/export_models.py" "$OUT"
