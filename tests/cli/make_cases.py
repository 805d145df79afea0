"""Cases for tests/test_cli.c, written into OUTDIR with Debian's numpy and onnx (no torch):

  sym.onnx        y = x @ W + b with x declared (batch, n): symbolic dimensions
  ext.onnx        the same model with W and b as external data (ext.bin beside it)
  x.npy           a (2, 3) float32 input; y_ref.npy its output, computed by numpy
  tokx.npy, toky.npy, clsx.npy, clsy.npy
                  training samples: int64 token windows with next-token targets, and float
                  features with class ids
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
W = rng.standard_normal((3, 4)).astype(np.float32)
b = rng.standard_normal((4,)).astype(np.float32)
x = rng.standard_normal((2, 3)).astype(np.float32)


def model(path, external):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"), helper.make_node("Add", ["h", "b"], ["y"], name="add")]
    g = helper.make_graph(nodes, "affine",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
                          [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    if external:
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.bin",
                        size_threshold=0)
    else:
        onnx.save_model(m, path)


model(os.path.join(out, "sym.onnx"), False)
model(os.path.join(out, "ext.onnx"), True)
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "x64.npy"), x.astype(np.float64))
np.save(os.path.join(out, "y_ref.npy"), x @ W + b)
np.save(os.path.join(out, "bad_shape.npy"), np.zeros((5, 3), np.float32))
# a classifier's samples: 64 points in 3-d, the class the side of a plane
cx = rng.standard_normal((64, 3)).astype(np.float32)
np.save(os.path.join(out, "clsx.npy"), cx)
np.save(os.path.join(out, "clsy.npy"), (cx[:, 0] > 0).astype(np.int64))
np.save(os.path.join(out, "clsy_bad.npy"), np.full((64,), 9, np.int64))

# a token classifier: embedding, mean over the sequence, a linear layer: logits (B, C) from
# tokens (B, T), whose targets are (B,) (text data, whose targets are (B, T), does not fit it)
E = (0.1 * rng.standard_normal((64, 8))).astype(np.float32)
L = (0.1 * rng.standard_normal((8, 3))).astype(np.float32)
g = helper.make_graph(
    [helper.make_node("Gather", ["E", "tokens"], ["e"], name="embed"),
     helper.make_node("ReduceMean", ["e"], ["m"], name="mean", axes=[1], keepdims=0),
     helper.make_node("MatMul", ["m", "L"], ["logits"], name="head")],
    "tokcls", [helper.make_tensor_value_info("tokens", TensorProto.INT64, [4, 8])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [4, 3])],
    [numpy_helper.from_array(E, "E"), numpy_helper.from_array(L, "L")])
onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "tokcls.onnx"))
tx = rng.integers(0, 64, (40, 8)).astype(np.int64)
np.save(os.path.join(out, "tokx.npy"), tx)
np.save(os.path.join(out, "toky.npy"), (tx[:, 0] % 3).astype(np.int64))
np.save(os.path.join(out, "tok4.npy"), tx[:4])

# a model that computes its own loss, (x, y) -> mean((x W - y)^2), beside the same prediction
# without it, x -> x W: --loss none on the first trains as --loss mse on the second
P = (0.3 * rng.standard_normal((3, 2))).astype(np.float32)
for name, self_loss in (("pred", False), ("selfloss", True)):
    nodes = [helper.make_node("MatMul", ["x", "P"], ["p"], name="pred")]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])]
    outs = [helper.make_tensor_value_info("p", TensorProto.FLOAT, [4, 2])]
    if self_loss:
        nodes += [helper.make_node("Sub", ["p", "y"], ["e"], name="err"), helper.make_node("Mul", ["e", "e"], ["e2"], name="sq"),
                  helper.make_node("ReduceMean", ["e2"], ["loss"], name="mean", keepdims=0)]
        ins.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 2]))
        outs = [helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])]
    g = helper.make_graph(nodes, name, ins, outs, [numpy_helper.from_array(P, "P")])
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, name + ".onnx"))
rx = rng.standard_normal((32, 3)).astype(np.float32)
np.save(os.path.join(out, "regx.npy"), rx)
np.save(os.path.join(out, "regy.npy"), (rx @ rng.standard_normal((3, 2))).astype(np.float32))
