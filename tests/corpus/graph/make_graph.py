#!/usr/bin/python3
"""Writes the graph-file corpus (tests/corpus/graph/*.wgraph): files whose checksum matches but
whose fields lie. bad_*.wgraph must be refused (tests/test_io.c says with which words);
good_*.wgraph must load. Deterministic; rerun only to change the corpus:

    /usr/bin/python3 tests/corpus/graph/make_graph.py

The format is src/io/io.c's: "WEFTGRPH", u64 version 1, the body, u64 FNV-1a of all before it.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT, PARAM, CONST, ACT = 0, 1, 2, 3
F32 = 0
INT, FLOAT, INTS, FLOATS, STRING, TENSOR = range(6)


def u64(v):
    return struct.pack("<Q", v & (2**64 - 1))


def s(text):
    b = text.encode()
    return u64(len(b)) + b


def shape(dims):
    return u64(len(dims)) + b"".join(u64(d) for d in dims)


def value(name, kind, dims, data=None, dtype=F32):
    out = s(name) + u64(kind) + u64(dtype) + shape(dims) + u64(data is not None)
    return out + (data or b"")


def node(op, name, ins, outs, attrs=b"", n_attrs=0):
    return (s(op) + s(name) + u64(17) + u64(len(ins)) + b"".join(u64(i) for i in ins) + u64(len(outs)) +
            b"".join(u64(o) for o in outs) + u64(n_attrs) + attrs)


def graph(values, nodes, inputs, outputs, name="g"):
    body = s(name) + u64(17) + u64(len(values)) + b"".join(values) + u64(len(nodes)) + b"".join(nodes)
    body += u64(len(inputs)) + b"".join(u64(i) for i in inputs) + u64(len(outputs)) + b"".join(u64(o) for o in outputs)
    return body


def fnv64(b):
    h = 1469598103934665603
    for c in b:
        h = ((h ^ c) * 1099511628211) & (2**64 - 1)
    return h


def write(fname, body):
    f = b"WEFTGRPH" + u64(1) + body
    with open(os.path.join(HERE, fname), "wb") as out:
        out.write(f + u64(fnv64(f)))


relu = graph([value("x", INPUT, [2, 3]), value("y", ACT, [2, 3])], [node("Relu", "relu0", [0], [1])], [0], [1])
write("good_relu.wgraph", relu)

# issue 13 item 5: a huge attribute count reached calloc before its bound (2^40 attributes)
write("bad_attr_count_huge.wgraph",
      graph([value("x", INPUT, [2, 3]), value("y", ACT, [2, 3])], [node("Relu", "relu0", [0], [1], n_attrs=1 << 40)], [0], [1]))
# the graph's output is an input value that is not declared: verified, then memcpy from NULL
write("bad_output_undeclared_input.wgraph",
      graph([value("x", INPUT, [2, 3]), value("y", ACT, [2, 3]), value("ghost", INPUT, [2, 3])],
            [node("Relu", "relu0", [0], [1])], [0], [1, 2]))
# a node reading an input value that is not declared
write("bad_node_reads_undeclared_input.wgraph",
      graph([value("x", INPUT, [2, 3]), value("ghost", INPUT, [2, 3]), value("y", ACT, [2, 3])],
            [node("Add", "add0", [0, 1], [2])], [0], [2]))
# an input of 2^32 x 2^32 elements (the count wraps to 0 in int64), which is also the output:
# loaded, and ran for 0 cycles
write("bad_numel_overflow.wgraph", graph([value("x", INPUT, [1 << 32, 1 << 32])], [], [0], [0]))
# the same through a node
big = [1 << 32, 1 << 32, 1 << 32]
write("bad_numel_overflow_node.wgraph",
      graph([value("x", INPUT, big), value("y", ACT, big)], [node("Relu", "relu0", [0], [1])], [0], [1]))
# a negative dimension on an input
write("bad_negative_dim.wgraph",
      graph([value("x", INPUT, [2, -3]), value("y", ACT, [2, -3])], [node("Relu", "relu0", [0], [1])], [0], [1]))
# an INTS attribute that claims 2^61 entries
write("bad_ints_count_huge.wgraph",
      graph([value("x", INPUT, [2, 3]), value("y", ACT, [2, 3])],
            [node("Relu", "relu0", [0], [1], attrs=s("alpha") + u64(INTS) + u64(1 << 61), n_attrs=1)], [0], [1]))
# trailing bytes after the outputs
write("bad_trailing_bytes.wgraph", relu + b"\0" * 16)


# program files ("WEFTPROG", version 2): the machine's JSON, u64 blocks, the graph, the
# placement. These are refused before the placement is read, so they carry none.
def write_prog(fname, body):
    arch = open(os.path.join(HERE, "..", "arch", "good_mesh_8x8.json")).read()
    f = b"WEFTPROG" + u64(2) + s(arch) + u64(1) + body
    with open(os.path.join(HERE, fname), "wb") as out:
        out.write(f + u64(fnv64(f)))


write_prog("bad_prog_attr_count_huge.weft",
           graph([value("x", INPUT, [2, 3]), value("y", ACT, [2, 3])], [node("Relu", "relu0", [0], [1], n_attrs=1 << 40)], [0], [1]))
write_prog("bad_prog_output_undeclared_input.weft",
           graph([value("x", INPUT, [2, 3]), value("y", ACT, [2, 3]), value("ghost", INPUT, [2, 3])],
                 [node("Relu", "relu0", [0], [1])], [0], [1, 2]))
write_prog("bad_prog_numel_overflow.weft", graph([value("x", INPUT, [1 << 32, 1 << 32])], [], [0], [0]))
