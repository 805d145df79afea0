"""Checks `weft export --onnx` in DIR (tests/test_cli.c): trained.onnx holds the trained weights
(those of tokcls.safetensors, not tokcls.onnx's), and weft's reference output on it (o4/logits.npy)
is the original graph computed by numpy with those weights."""
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

d = sys.argv[1]
init = {i.name: numpy_helper.to_array(i) for i in onnx.load(os.path.join(d, "trained.onnx")).graph.initializer}
orig = {i.name: numpy_helper.to_array(i) for i in onnx.load(os.path.join(d, "tokcls.onnx")).graph.initializer}
b = open(os.path.join(d, "tokcls.safetensors"), "rb").read()
n = struct.unpack("<Q", b[:8])[0]
head = json.loads(b[8:8 + n])
for k, v in head.items():
    if k == "__metadata__":
        continue
    lo, hi = v["data_offsets"]
    st = np.frombuffer(b[8 + n + lo:8 + n + hi], np.float32).reshape(v["shape"])
    assert np.array_equal(st, init[k]), k
    assert not np.array_equal(st, orig[k]), f"{k} did not train"
tok = np.load(os.path.join(d, "tok4.npy"))
want = init["E"][tok].mean(1) @ init["L"]
got = np.load(os.path.join(d, "o4", "logits.npy"))
assert np.abs(got - want).max() < 1e-5, np.abs(got - want).max()
print("ok export --onnx")
