"""weft from Python: compile a PyTorch model for a simulated dataflow machine, run it, check it
against weft's reference executor, and train it with your own data and loop.

    import weft, torch
    prog = weft.compile(model, (x,), arch="wse2-mini")
    y = prog.run(x)                 # numpy or torch in, the same out; prog.report: a dict
    prog.check(x)                   # the fabric against the reference; raises weft.Error
    trainer = weft.Trainer(model, (x,), loss="cross_entropy", optimizer="adamw", lr=3e-4)
    for x, y in loader:
        loss = trainer.step(x, y)
    model.load_state_dict(trainer.state_dict(), strict=False)

The model goes through torch.onnx.export (opset 17 by default), its parameters keeping their
names, so state_dict() maps back onto the torch module. Everything runs in libweft.so through its
public C API (include/weft.h).
"""
import ctypes
import os
import tempfile
import warnings

import numpy as np

from . import _lib
from ._lib import Err, Shape, Tensor, lib

__version__ = lib.weft_version().decode()
__all__ = ["compile", "Program", "Trainer", "Error"]

_NP = {0: np.float32, 1: np.float16, 3: np.float64, 4: np.int64, 5: np.int32, 6: np.int8, 7: np.uint8, 8: np.bool_,
       9: np.uint16, 10: np.int16, 11: np.uint32, 12: np.uint64}
_CODE = {np.dtype(v): k for k, v in _NP.items()}


class Error(RuntimeError):
    """A weft error: its message names the file, the node or field and the reason."""


def _check(status, err):
    if status:
        raise Error(err.msg.decode(errors="replace"))


def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _to_numpy(x):
    if _is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _tensor(a, want=None):
    """A weft_tensor viewing the numpy array a (kept alive by the caller), in dtype want."""
    if want is not None and a.dtype != np.dtype(_NP[want]):
        a = a.astype(_NP[want])
    a = np.ascontiguousarray(a)
    if a.dtype not in _CODE:
        raise Error(f"dtype {a.dtype} is not one weft takes")
    t = Tensor()
    t.dtype = _CODE[a.dtype]
    t.shape.ndim = a.ndim
    for i, d in enumerate(a.shape):
        t.shape.d[i] = d
    t.data = a.ctypes.data_as(ctypes.c_void_p)
    t.owns = 0
    return t, a


def _array(t, copy=True):
    shape = tuple(t.shape.d[i] for i in range(t.shape.ndim))
    n = int(np.prod(shape)) if shape else 1
    if t.dtype == 2:  # bfloat16, which numpy lacks: its bits are the top half of a float32's
        bits = np.frombuffer((ctypes.c_char * (2 * n)).from_address(t.data), np.uint16) if n else np.zeros(0, np.uint16)
        return (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    dt = np.dtype(_NP[t.dtype])
    if n == 0:
        return np.zeros(shape, dt)
    buf = (ctypes.c_char * (n * dt.itemsize)).from_address(t.data)
    a = np.frombuffer(buf, dt).reshape(shape)
    return a.copy() if copy else a


def _train_mode(model):
    """Whether a model trains in torch's train mode: it has batch norm (batch statistics) and no
    dropout that would be active (weft's Dropout is the inference form: refused in training)."""
    import torch
    bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    drop = any(isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())
    if bn and drop:
        warnings.warn("weft: the model has dropout, which weft does not apply in training; batch norm then uses its "
                      "running statistics (model.eval())", stacklevel=3)
    return bn and not drop


def _export(model, example_inputs, path, opset, training=False):
    import torch
    if opset < 13:
        warnings.warn(f"opset {opset} decomposes ops (LayerNorm, GELU, ...) that weft runs whole from opset 17", stacklevel=3)
    was_training = model.training
    # train mode: batch norm on the batch's statistics; eval: on its running ones, dropout off
    model.train(training)
    names = [f"input_{i}" for i in range(len(example_inputs))]
    with torch.no_grad():
        # PRESERVE, not EVAL: EVAL folds batch norm into the convolution before it, renaming the
        # parameters; no constant folding for the same reason (transposed weights get new names)
        torch.onnx.export(model, tuple(example_inputs), path, input_names=names, output_names=["output"],
                          opset_version=opset, do_constant_folding=False, export_params=True,
                          training=torch.onnx.TrainingMode.PRESERVE)
    model.train(was_training)
    _undo_dedup(model, path)
    return names


def _undo_dedup(model, path):
    """torch.onnx.export merges initializers of equal values (a batch norm's running variance and
    its weight, both ones; two zero biases) into one and an Identity node: the merged tensors would
    then train as one. Each gets its own initializer again, by its torch name and value."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    g = m.graph
    inits = {i.name for i in g.initializer}
    state = model.state_dict()
    keep = []
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in inits and n.output[0] in state and n.output[0] not in inits:
            g.initializer.append(numpy_helper.from_array(state[n.output[0]].detach().cpu().numpy(), n.output[0]))
            inits.add(n.output[0])
        else:
            keep.append(n)
    del g.node[:]
    g.node.extend(keep)
    onnx.save(m, path)


class Program:
    """A model compiled for a machine: run(x) simulates it with its numbers."""

    def __init__(self, spec, arch, mode=None, precision="fp32"):
        if precision not in ("fp32", "bf16", "fp16"):
            raise Error(f"weft.compile: precision '{precision}' is not fp32, bf16 or fp16")
        self.spec, self.arch_name, self.precision = spec, arch, precision
        err = Err()
        self._g, self._a, self._p = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        _check(lib.weft_model_load(spec.encode(), ctypes.byref(self._g), ctypes.byref(err)), err)
        if precision != "fp32":  # activations stored narrow, fp32 master weights; outputs come back as float32
            narrow = ctypes.c_void_p()
            _check(lib.weft_graph_precision(self._g, 2 if precision == "bf16" else 1, ctypes.byref(narrow), ctypes.byref(err)), err)
            lib.weft_graph_free(self._g)
            self._g = narrow
        _check(lib.weft_arch_open(arch.encode(), ctypes.byref(self._a), ctypes.byref(err)), err)
        _check(lib.weft_program_compile_mode(self._g, self._a, (mode or "auto").encode(), ctypes.byref(self._p),
                                             ctypes.byref(err)), err)
        self.report = {}

    def __del__(self):
        for f, h in (("weft_program_free", "_p"), ("weft_arch_close", "_a"), ("weft_graph_free", "_g")):
            v = getattr(self, h, None)
            if v:
                getattr(lib, f)(v)

    def _inputs(self, xs):
        arrs = [_to_numpy(x) for x in xs]
        ts, keep = [], []
        for a in arrs:
            want = _CODE.get(np.dtype(np.float32)) if a.dtype == np.float64 else None
            t, k = _tensor(a, want)
            ts.append(t)
            keep.append(k)
        ptrs = (ctypes.POINTER(Tensor) * len(ts))(*[ctypes.pointer(t) for t in ts])
        return ptrs, len(ts), keep, any(_is_torch(x) for x in xs)

    def _outputs(self, outs, n, as_torch):
        res = []
        for i in range(n):
            a = _array(outs[i])
            if a.dtype == np.float16:
                a = a.astype(np.float32)
            lib.weft_tensor_free(ctypes.byref(outs[i]))
            if as_torch:
                import torch
                a = torch.from_numpy(a)
            res.append(a)
        return res[0] if n == 1 else tuple(res)

    def run(self, *xs, n_outputs=1):
        """The outputs of a pass on the simulated fabric; prog.report gets the simulation's figures."""
        ptrs, n, keep, as_torch = self._inputs(xs)
        outs = (Tensor * n_outputs)()
        st, err, so = _lib.SimStats(), Err(), _lib.SimOpts()
        _check(lib.weft_program_run(self._p, ptrs, n, outs, n_outputs, ctypes.byref(so), ctypes.byref(st), ctypes.byref(err)), err)
        del keep
        self.report = {f: getattr(st, f) for f, _ in _lib.SimStats._fields_}
        self.report["peak_dtype"] = (st.peak_dtype or b"").decode()
        self.report["arch"] = self.arch_name
        return self._outputs(outs, n_outputs, as_torch)

    def run_reference(self, *xs, n_outputs=1):
        """The same pass on weft's reference executor (the host, op by op)."""
        ptrs, n, keep, as_torch = self._inputs(xs)
        outs = (Tensor * n_outputs)()
        err = Err()
        _check(lib.weft_ref_run(self._g, ptrs, n, outs, n_outputs, ctypes.byref(err)), err)
        del keep
        return self._outputs(outs, n_outputs, as_torch)

    def check(self, *xs, rtol=1e-4, atol=1e-5):
        """Runs the fabric and the reference on xs; raises Error when an output differs beyond
        atol + rtol |ref|. Returns the worst absolute difference."""
        a = np.asarray(_to_numpy(self.run(*xs)), np.float64)
        b = np.asarray(_to_numpy(self.run_reference(*xs)), np.float64)
        d = np.abs(a - b)
        if not np.all(d <= atol + rtol * np.abs(b)):
            raise Error(f"{self.spec} on {self.arch_name}: the fabric differs from the reference by up to {d.max():.3g}")
        return float(d.max()) if d.size else 0.0


def _spec(model, example_inputs, opset, workdir, training=False):
    if isinstance(model, str):
        return model, None
    path = os.path.join(workdir, "model.onnx")
    names = _export(model, example_inputs, path, opset, training)
    return path, names


def compile(model, example_inputs=(), arch="wse2", mode="auto", precision="fp32", opset=17):
    """Compiles model (a torch.nn.Module, exported with torch.onnx.export at the example inputs'
    shapes, or a MODEL spec string such as "builtin:mlp" or "model.onnx") for machine arch."""
    tmp = tempfile.TemporaryDirectory(prefix="weft-")
    spec, _ = _spec(model, example_inputs, opset, tmp.name)
    p = Program(spec, arch, mode, precision)
    p._tmp = tmp  # the exported file lives as long as the program
    return p


class Trainer:
    """Trains a model on your batches: forward, loss, backward and the optimizer's update in
    weft (the reference executor, or the fabric of `arch`), from the model's current weights."""

    def __init__(self, model, example_inputs=(), loss="auto", optimizer="adamw", lr=1e-3, weight_decay=None,
                 betas=(0.9, 0.999), eps=1e-8, momentum=None, clip=0.0, arch=None, mode=None, precision="fp32",
                 opset=17, seed=1):
        self._tmp = tempfile.TemporaryDirectory(prefix="weft-")
        # batch norm trains on the batch's statistics, as in torch's train mode (its running
        # statistics are not updated: they stay the module's)
        self.train_mode = not isinstance(model, str) and _train_mode(model)
        self.spec, _ = _spec(model, example_inputs, opset, self._tmp.name, self.train_mode)
        o = lib.weft_trainer_defaults()
        if optimizer == "sgd" and momentum:  # torch.optim.SGD(momentum=m): weft's momentum kind
            optimizer = "momentum"
        o.optimizer = optimizer.encode()
        o.lr = lr
        o.weight_decay = (0.01 if optimizer == "adamw" else 0.0) if weight_decay is None else weight_decay
        o.beta1, o.beta2 = betas
        o.eps = eps
        if momentum is not None:
            o.momentum = momentum
        o.clip = clip
        o.arch = arch.encode() if arch else None
        o.mode = mode.encode() if mode else None
        o.precision = precision.encode()
        o.loss = loss.encode()
        o.seed = seed
        # torch's buffers (batch norm's running statistics) are initializers of the export, not parameters
        frozen = []
        if not isinstance(model, str):
            import onnx
            inits = {i.name for i in onnx.load(self.spec, load_external_data=False).graph.initializer}
            frozen = [n.encode() for n, b in model.named_buffers() if b.is_floating_point() and n in inits]
        names = (ctypes.c_char_p * (len(frozen) + 1))(*frozen)
        o.frozen = ctypes.cast(names, ctypes.POINTER(ctypes.c_char_p))
        o.n_frozen = len(frozen)
        self._t = ctypes.c_void_p()
        err = Err()
        _check(lib.weft_trainer_new(self.spec.encode(), ctypes.byref(o), ctypes.byref(self._t), ctypes.byref(err)), err)
        self._io = []
        for which in (0, 1):
            name, dt, sh = ctypes.c_char_p(), ctypes.c_int(), Shape()
            lib.weft_trainer_io(self._t, which, ctypes.byref(name), ctypes.byref(dt), ctypes.byref(sh))
            self._io.append((name.value.decode(), dt.value, tuple(sh.d[i] for i in range(sh.ndim))))
        self.last = None

    def __del__(self):
        if getattr(self, "_t", None):
            lib.weft_trainer_free(self._t)

    def _pair(self, x, y):
        tx, kx = _tensor(_to_numpy(x), self._io[0][1])
        ty, ky = _tensor(_to_numpy(y), self._io[1][1])
        return tx, ty, (kx, ky)

    def step(self, x, y):
        """One training step on the batch (x, y); returns its loss (before the update)."""
        tx, ty, keep = self._pair(x, y)
        r, err = _lib.TrainResult(), Err()
        _check(lib.weft_trainer_step(self._t, ctypes.byref(tx), ctypes.byref(ty), ctypes.byref(r), ctypes.byref(err)), err)
        del keep
        self.last = {f: getattr(r, f) for f, _ in _lib.TrainResult._fields_}
        return r.loss

    def evaluate(self, x, y):
        """The loss of a batch without training."""
        tx, ty, keep = self._pair(x, y)
        loss, err = ctypes.c_double(), Err()
        _check(lib.weft_trainer_eval(self._t, ctypes.byref(tx), ctypes.byref(ty), ctypes.byref(loss), ctypes.byref(err)), err)
        del keep
        return loss.value

    @property
    def steps(self):
        return lib.weft_trainer_steps(self._t)

    def state_dict(self, as_torch=True):
        """The trained parameters by the model's names (copies): load_state_dict(..., strict=False)
        puts them back into the torch module (buffers such as batch norm's running statistics are
        not trained and not returned)."""
        out, err = {}, Err()
        for i in range(lib.weft_trainer_n_params(self._t)):
            t = Tensor()
            _check(lib.weft_trainer_param(self._t, i, ctypes.byref(t), ctypes.byref(err)), err)
            a = _array(t)
            name = lib.weft_trainer_param_name(self._t, i).decode()
            if as_torch:
                import torch
                a = torch.from_numpy(a)
            out[name] = a
        return out

    def save(self, path):
        err = Err()
        _check(lib.weft_trainer_save(self._t, os.fspath(path).encode(), ctypes.byref(err)), err)

    def load(self, path):
        err = Err()
        _check(lib.weft_trainer_load(self._t, os.fspath(path).encode(), ctypes.byref(err)), err)


