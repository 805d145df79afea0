#!/usr/bin/python3
"""Writes the corpus of broken (and a few valid) ONNX files into tests/corpus/onnx/.

The files are checked in, so the tests need no Python; rerun this only to change the corpus:

    /usr/bin/python3 tests/bad/make_bad.py          # needs onnx (1.12) and numpy

Deterministic: the same bytes on every run. Each file is a few hundred bytes at most. Files named
bad_*.onnx must fail to load (tests/test_bad_input.c says with which status and message);
good_*.onnx must load; probe_*.onnx and crash_*.onnx (inputs that crashed shared code when
found) must load or fail cleanly.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "corpus", "onnx")

F = TensorProto.FLOAT


def vi(name, dims, elem=F):
    return helper.make_tensor_value_info(name, elem, dims)


def model(nodes, inputs, outputs, inits=(), opset=17, name="g", extra_opsets=()):
    g = helper.make_graph(list(nodes), name, list(inputs), list(outputs), initializer=list(inits))
    imports = [helper.make_opsetid("", opset)] if opset is not None else []
    imports += [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=imports, producer_name="weft-make-bad")
    m.ir_version = 8
    return m


def f32(name, dims, values=None):
    dims = list(dims)
    n = int(np.prod(dims)) if dims else 1
    if values is None:
        values = np.arange(n, dtype=np.float32) * 0.5 - 1
    return helper.make_tensor(name, F, dims, np.asarray(values, np.float32).tobytes(), raw=True)


def raw_tensor(name, elem, dims, raw):
    """A TensorProto built by hand: helper.make_tensor refuses payloads that disagree with dims."""
    t = onnx.TensorProto()
    t.name, t.data_type = name, elem
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def relu_model(**kw):
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu0")], [vi("x", [2, 3])], [vi("y", [2, 3])], **kw)


def cases():
    """Yields (file name, bytes)."""
    # ---- valid seeds (the fuzzer starts from these too) ----
    yield "good_relu.onnx", relu_model()
    yield "good_add.onnx", model([helper.make_node("Add", ["x", "b"], ["y"], name="add0")],
                                 [vi("x", [2, 3])], [vi("y", [2, 3])], inits=[f32("b", [3])])
    yield "good_add_relu.onnx", model(
        [helper.make_node("Add", ["x", "x"], ["s"], name="add0"), helper.make_node("Relu", ["s"], ["y"], name="relu0")],
        [vi("x", [4])], [vi("y", [4])])

    # ---- files that are not ONNX models ----
    good = relu_model().SerializeToString()
    # cut inside the graph field: the length prefix promises more bytes than there are
    yield "bad_truncated.onnx", good[: len(good) // 2]
    rng = np.random.RandomState(1234)
    # a leading 0xff 0xff: field number 31, wire type 7 (no such wire type): never a protobuf
    yield "bad_garbage.onnx", b"\xff\xff" + rng.bytes(254)
    yield "bad_empty.onnx", b""
    m = onnx.ModelProto()
    m.ir_version = 8
    m.producer_name = "weft-make-bad"
    m.opset_import.add().version = 17
    yield "bad_no_graph.onnx", m

    # ---- the model header ----
    yield "bad_opset_too_new.onnx", relu_model(opset=99)
    yield "bad_opset_too_old.onnx", relu_model(opset=0)
    yield "bad_no_opset.onnx", relu_model(opset=None)
    yield "bad_only_custom_domain.onnx", relu_model(opset=None, extra_opsets=[("com.example", 1)])

    # ---- nodes ----
    yield "bad_unknown_op.onnx", model([helper.make_node("FooBar", ["x"], ["y"], name="mystery")],
                                       [vi("x", [2, 3])], [vi("y", [2, 3])])
    yield "bad_custom_domain.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="custom0", domain="com.example")],
        [vi("x", [2, 3])], [vi("y", [2, 3])], extra_opsets=[("com.example", 1)])
    yield "bad_unsupported_attr.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0", alpha_bogus=1.0)],
                                             [vi("x", [2, 3])], [vi("y", [2, 3])])
    # an attribute of a kind weft has no use for (a subgraph)
    body = helper.make_graph([], "body", [], [])
    yield "bad_attr_graph_type.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0", body=body)],
                                            [vi("x", [2, 3])], [vi("y", [2, 3])])
    yield "bad_arity.onnx", model([helper.make_node("Relu", ["x", "x"], ["y"], name="relu2")],
                                  [vi("x", [2, 3])], [vi("y", [2, 3])])
    yield "bad_add_shape_mismatch.onnx", model([helper.make_node("Add", ["a", "b"], ["y"], name="add0")],
                                               [vi("a", [2, 3]), vi("b", [4, 5])], [vi("y", [2, 3])])
    yield "bad_add_dtype_mismatch.onnx", model([helper.make_node("Add", ["a", "b"], ["y"], name="add0")],
                                               [vi("a", [2, 3]), vi("b", [2, 3], TensorProto.INT64)], [vi("y", [2, 3])])
    yield "bad_matmul_shape_mismatch.onnx", model([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm0")],
                                                  [vi("a", [2, 3]), vi("b", [4, 5])], [vi("y", [2, 5])])
    yield "bad_missing_initializer.onnx", model([helper.make_node("Add", ["x", "W"], ["y"], name="add0")],
                                                [vi("x", [2, 3])], [vi("y", [2, 3])])
    # 'first' uses 'a', which only a later node computes
    yield "bad_use_before_def.onnx", model(
        [helper.make_node("Relu", ["a"], ["b"], name="first"), helper.make_node("Relu", ["x"], ["a"], name="second")],
        [vi("x", [2, 3])], [vi("b", [2, 3])])
    yield "bad_cycle.onnx", model(
        [helper.make_node("Add", ["x", "q"], ["p"], name="loop_p"), helper.make_node("Relu", ["p"], ["q"], name="loop_q")],
        [vi("x", [2, 3])], [vi("q", [2, 3])])
    # two nodes both define 'y' (ONNX graphs are single-assignment)
    yield "bad_defined_twice.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="first"), helper.make_node("Neg", ["x"], ["y"], name="second")],
        [vi("x", [2, 3])], [vi("y", [2, 3])])

    # ---- graph inputs and outputs ----
    yield "bad_symbolic_dim.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                         [vi("x", ["batch", 3])], [vi("y", ["batch", 3])])
    yield "bad_input_string_dtype.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                               [vi("x", [2], TensorProto.STRING)], [vi("y", [2])])
    yield "bad_input_no_shape.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                           [vi("x", None)], [vi("y", [2, 3])])
    yield "bad_input_negative_dim.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                               [vi("x", [2, -3])], [vi("y", [2, 3])])
    yield "bad_input_absurd_dims.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                              [vi("x", [1 << 40, 1 << 40])], [vi("y", [2, 3])])
    yield "bad_output_never_produced.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                                   [vi("x", [2, 3])], [vi("y", [2, 3]), vi("ghost", [2, 3])])
    # issue 13 item 6: a declared output shape that disagrees with the computed one was replaced silently
    yield "bad_output_shape_mismatch.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                                  [vi("x", [2, 3])], [vi("y", [3, 2])])
    yield "bad_output_empty_name.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu0")],
                                              [vi("x", [2, 3])], [vi("", [2, 3])])

    # ---- initializers ----
    def add_with(init, shape=(2, 3)):
        return model([helper.make_node("Add", ["x", init.name], ["y"], name="add0")],
                     [vi("x", list(shape))], [vi("y", list(shape))], inits=[init])

    t = raw_tensor("huge", F, [1 << 40, 1 << 40], b"\0\0\0\0")
    yield "bad_init_absurd_dims.onnx", add_with(t)
    # 4 GiB declared: under weft's size limit, so only the payload check stands between it and a calloc
    t = raw_tensor("big", F, [1 << 30], b"\0\0\0\0")
    yield "bad_init_big_short_data.onnx", add_with(t)
    t = raw_tensor("w", F, [2, 3], np.zeros(5, np.float32).tobytes())
    yield "bad_init_raw_mismatch.onnx", add_with(t)
    t = raw_tensor("w", F, [2, 3], np.zeros(6, np.float32).tobytes()[:22])
    yield "bad_init_raw_partial.onnx", add_with(t)
    t = onnx.TensorProto()
    t.name, t.data_type = "w", F
    t.dims.extend([2, 3])
    t.float_data.extend([0.0] * 4)
    yield "bad_init_float_data_mismatch.onnx", add_with(t)
    t = raw_tensor("w", F, [-1, 3], b"")
    yield "bad_init_negative_dim.onnx", add_with(t)
    t = helper.make_tensor("w", F, [1] * 9, np.zeros(1, np.float32).tobytes(), raw=True)
    yield "bad_init_rank_too_high.onnx", add_with(t)
    t = helper.make_tensor("names", TensorProto.STRING, [2], [b"ab", b"cd"])
    yield "bad_init_string_dtype.onnx", add_with(t, shape=(2,))
    t = onnx.TensorProto()
    t.name, t.data_type = "w", F
    t.dims.extend([2, 3])
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "weights.bin"
    yield "bad_init_external.onnx", add_with(t)

    # ---- optional proto2 strings left unset (protobuf-c reads them as NULL) ----
    m = model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")], [vi("x", [3])], [vi("y", [3])],
              inits=[f32("w", [3])])
    m.graph.initializer[0].ClearField("name")
    yield "bad_init_no_name.onnx", m
    m = relu_model()
    m.graph.input[0].ClearField("name")
    yield "bad_input_no_name.onnx", m
    m = relu_model()
    m.graph.output[0].ClearField("name")
    yield "bad_output_no_name.onnx", m
    m = model([helper.make_node("Relu", ["x"], ["y"], name="relu0", alpha_bogus=1.0)], [vi("x", [2, 3])],
              [vi("y", [2, 3])])
    m.graph.node[0].attribute[0].ClearField("name")
    yield "bad_attr_no_name.onnx", m
    m = relu_model()
    m.graph.node[0].ClearField("op_type")
    yield "bad_node_no_op_type.onnx", m

    # ---- probes: ops given absurd sizes, indices out of range, odd attributes. Each must load or
    # fail cleanly (the replay test runs them; no op family is required to exist) ----
    B = 1 << 40

    def ints(name, vals):
        return helper.make_tensor(name, TensorProto.INT64, [len(vals)] if isinstance(vals, list) else [],
                                  vals if isinstance(vals, list) else [vals])

    def floats(name, vals, dims=None):
        return helper.make_tensor(name, F, dims if dims is not None else [len(vals)], vals)

    def node(op, ins, outs=("y",), **attrs):
        return helper.make_node(op, list(ins), list(outs), name=op.lower() + "0", **attrs)

    def probe(n, inputs, inits=(), outs=("y",), opset=17):
        return model([n], inputs, [vi(o, None) for o in outs], inits=list(inits), opset=opset)

    x23, x4, img = vi("x", [2, 3]), vi("x", [4]), vi("x", [1, 1, 4, 4])
    w33 = floats("w", [0.0] * 9, [1, 1, 3, 3])
    yield "probe_constantofshape_huge.onnx", probe(node("ConstantOfShape", ["s"]), [], [ints("s", [B, B])])
    yield "probe_expand_huge.onnx", probe(node("Expand", ["x", "s"]), [vi("x", [1])], [ints("s", [B, B])])
    yield "probe_tile_huge.onnx", probe(node("Tile", ["x", "r"]), [vi("x", [2])], [ints("r", [1 << 62])])
    yield "probe_range_huge.onnx", probe(node("Range", ["a", "b", "c"]), [],
                                         [ints("a", 0), ints("b", 1 << 62), ints("c", 1)])
    yield "probe_pad_huge.onnx", probe(node("Pad", ["x", "p"]), [vi("x", [2])], [ints("p", [B, B])])
    yield "probe_onehot_huge.onnx", probe(node("OneHot", ["i", "d", "v"]), [],
                                          [ints("i", [1]), ints("d", [B]), floats("v", [0, 1])])
    yield "probe_conv_pads_huge.onnx", probe(node("Conv", ["x", "w"], pads=[B, B, B, B]), [img], [w33])
    yield "probe_conv_dilation_huge.onnx", probe(node("Conv", ["x", "w"], dilations=[B, B]), [img], [w33])
    yield "probe_conv_stride_zero.onnx", probe(node("Conv", ["x", "w"], strides=[0, 0]), [img], [w33])
    yield "probe_gather_oob.onnx", probe(node("Gather", ["d", "i"]), [], [floats("d", [1, 2, 3]), ints("i", [100])])
    yield "probe_scatternd_oob.onnx", probe(node("ScatterND", ["d", "i", "u"]), [],
                                            [floats("d", [1, 2, 3]), helper.make_tensor("i", TensorProto.INT64, [1, 1], [77]),
                                             floats("u", [5])])
    yield "probe_transpose_oob.onnx", probe(node("Transpose", ["x"], perm=[5, -9]), [x23])
    yield "probe_reshape_two_minus_one.onnx", probe(node("Reshape", ["x", "s"]), [x23], [ints("s", [-1, -1])])
    yield "probe_slice_huge.onnx", probe(node("Slice", ["x", "a", "b"]), [x4], [ints("a", [-(1 << 62)]), ints("b", [1 << 62])])
    yield "probe_einsum_garbage.onnx", probe(node("Einsum", ["x"], equation="...........->"), [x23])
    yield "probe_resize_nan.onnx", probe(node("Resize", ["x", "", "s"]), [img], [floats("s", [1, 1, float("nan"), -1])])
    yield "probe_div_int_zero.onnx", probe(node("Div", ["a", "b"]), [], [ints("a", [1]), ints("b", [0])])
    yield "probe_maxunpool_oob.onnx", probe(node("MaxUnpool", ["x", "i"], kernel_shape=[2, 2]), [vi("x", [1, 1, 2, 2])],
                                            [helper.make_tensor("i", TensorProto.INT64, [1, 1, 2, 2], [1000] * 4)])
    yield "probe_nll_target_oob.onnx", probe(node("NegativeLogLikelihoodLoss", ["x", "t"]), [x23], [ints("t", [5, -9])])
    yield "probe_topk_too_many.onnx", probe(node("TopK", ["x", "k"], ["v", "i"]), [vi("x", [3])], [ints("k", [100])],
                                            outs=("v", "i"))
    yield "probe_sum_70_inputs.onnx", probe(node("Sum", ["x"] * 70), [x4])
    yield "probe_unsqueeze_rank_13.onnx", probe(node("Unsqueeze", ["x", "a"]), [vi("x", [2])], [ints("a", list(range(12)))])
    yield "probe_softmax_axis.onnx", probe(node("Softmax", ["x"], axis=7), [x23])
    # issue 13 item 4: a 9 x 9 MaxPool of 1e18-element windows (167 bytes when found): 7,213 PFLOPs
    yield "probe_maxpool_huge_window.onnx", probe(node("MaxPool", ["x"], kernel_shape=[10**9, 10**9], pads=[5 * 10**8] * 4),
                                                  [vi("x", [1, 1, 8, 8])])
    yield "probe_cast_to_string.onnx", probe(node("Cast", ["x"], to=TensorProto.STRING), [x4])

    # ---- found by probing: undefined behaviour in shared code (crashes under `make asan`) ----
    # integer Pow folded at load: 3^100 overflows int64 (signed overflow)
    yield "crash_pow_int_overflow.onnx", probe(node("Pow", ["a", "b"]), [], [ints("a", [3]), ints("b", [100])])
    # Constant with an empty value_ints: memcpy from NULL
    yield "crash_constant_empty_ints.onnx", probe(node("Constant", [], value_ints=[]), [])

    # ---- found by the fuzzer (build-fuzz/fuzz_onnx), minimized by hand ----
    # Constant whose attribute is named value_ints but typed FLOAT: the kernel writes past the output
    m = probe(node("Constant", [], value_ints=[]), [])
    a = m.graph.node[0].attribute[0]
    a.type, a.f = onnx.AttributeProto.FLOAT, 2.0
    yield "crash_constant_attr_type_mismatch.onnx", m
    # Clip of a bool tensor: the kernel reads it as float32 (heap overflow)
    yield "crash_clip_bool.onnx", probe(node("Clip", ["x"]), [vi("x", [2, 3], TensorProto.BOOL)])
    # Sum of 40 inputs: const_inputs >> i with i >= 32 (shift out of range)
    yield "crash_sum_40_inputs.onnx", probe(node("Sum", ["x"] * 40), [x4])
    # Sum with an omitted ('') input in the middle: the kernel dereferences the missing input
    yield "crash_sum_omitted_input.onnx", probe(node("Sum", ["x", "", "x"]), [x4])
    # an attribute typed STRING with no string: memcpy from NULL
    m = probe(node("Relu", ["x"]), [x4])
    a = m.graph.node[0].attribute.add()
    a.name, a.type = "alpha_bogus", onnx.AttributeProto.STRING
    yield "crash_attr_string_unset.onnx", m
    # issue 13 item 3 (123 bytes when found): Resize to a zero-element output whose other axis is
    # 2^32 sized a tap table of 2^32 entries (128 GB) before finding there was nothing to compute
    yield "crash_resize_zero_output.onnx", probe(node("Resize", ["x", "", "", "s"]), [img],
                                                 [ints("s", [0, 1, 1, 1 << 32])])


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, m in cases():
        data = m if isinstance(m, bytes) else m.SerializeToString()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print("%-40s %5d bytes" % (name, len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
