"""The PyTorch workflow through weft's Python package (python/weft), against plain PyTorch.

Three models (an MLP, a CNN with batch norm, a small transformer classifier) are trained 20
steps by weft.Trainer and by torch.optim from the same initial weights on the same batches; the
losses must agree step by step (1e-4 relative), and the state_dict weft returns must load into
the torch model and give weft's outputs. weft.compile runs and checks a model on the fabric.
Prints "ok NAME" per case and exits non-zero on the first failure. Run by tests/test_python.c.
"""
import copy
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "python")
import weft  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
STEPS = 20


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(12, 32)
        self.fc2 = torch.nn.Linear(32, 5)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 6 * 6, 4)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        return self.fc(h.flatten(1))


class Transformer(torch.nn.Module):
    """Token embeddings, one pre-norm attention block, mean pooling, a linear head."""

    def __init__(self, vocab=32, dim=16, heads=2, seq=8, classes=3):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(0.1 * torch.randn(seq, dim))
        self.ln1 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)
        self.ln2 = torch.nn.LayerNorm(dim)
        self.ff1 = torch.nn.Linear(dim, 2 * dim)
        self.ff2 = torch.nn.Linear(2 * dim, dim)
        self.head = torch.nn.Linear(dim, classes)
        self.heads, self.dim = heads, dim

    def forward(self, tok):
        B, T = tok.shape
        h = self.emb(tok) + self.pos
        q, k, v = self.qkv(self.ln1(h)).split(self.dim, dim=2)
        hd = self.dim // self.heads
        q = q.reshape(B, T, self.heads, hd).transpose(1, 2)
        k = k.reshape(B, T, self.heads, hd).transpose(1, 2)
        v = v.reshape(B, T, self.heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(2, 3) / hd ** 0.5, dim=-1) @ v
        h = h + self.proj(a.transpose(1, 2).reshape(B, T, self.dim))
        h = h + self.ff2(torch.nn.functional.gelu(self.ff1(self.ln2(h))))
        return self.head(h.mean(1))


def batches(kind, n, B):
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        if kind == "mlp":
            x = torch.randn(B, 12, generator=g)
            y = torch.randint(0, 5, (B,), generator=g)
        elif kind == "cnn":
            x = torch.randn(B, 2, 6, 6, generator=g)
            y = torch.randint(0, 4, (B,), generator=g)
        else:
            x = torch.randint(0, 32, (B, 8), generator=g)
            y = torch.randint(0, 3, (B,), generator=g)
        out.append((x, y))
    return out


def train_torch(model, data, lr, wd):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    losses = []
    for x, y in data:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def read_safetensors(path):
    """The format read by hand (Debian has no safetensors package): u64 header length, JSON, data."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        lo, hi = v["data_offsets"]
        assert v["dtype"] == "F32", v
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + lo:8 + n + hi], np.float32).reshape(v["shape"]).copy())
    return out, head.get("__metadata__", {})


def export_round_trip(t, sd):
    """Trainer.save, then `weft export --safetensors`: the same weights as state_dict()."""
    with tempfile.TemporaryDirectory() as d:
        ck, st = os.path.join(d, "c.weft"), os.path.join(d, "m.safetensors")
        t.save(ck)
        subprocess.run([os.environ["WEFT_BIN"], "export", ck, "--safetensors", st], check=True, capture_output=True)
        got, meta = read_safetensors(st)
        if set(got) != set(sd) or any(not torch.equal(got[k], sd[k]) for k in sd) or meta.get("steps") != str(STEPS):
            raise SystemExit(f"FAIL export: safetensors {sorted(got)} {meta} differ from the state_dict {sorted(sd)}")
        print("ok export: weft export --safetensors gives the state_dict's weights bit for bit")


def case(name, model, kind, B=4, lr=1e-2, wd=0.01, train_mode=False):
    data = batches(kind, STEPS, B)
    # train_mode: batch norm on the batch's statistics on both sides (weft.Trainer picks it for a
    # model with batch norm); else both on the running statistics (a model in eval mode)
    model.train(train_mode)
    ref = copy.deepcopy(model)
    want = train_torch(ref, data, lr, wd)
    t = weft.Trainer(model, (data[0][0],), loss="cross_entropy", optimizer="adamw", lr=lr, weight_decay=wd)
    if t.train_mode != train_mode:
        raise SystemExit(f"FAIL {name}: the trainer chose train mode {t.train_mode}")
    got = [t.step(x, y) for x, y in data]
    for i, (a, b) in enumerate(zip(got, want)):
        if abs(a - b) > 1e-4 * max(abs(b), 1e-3):
            raise SystemExit(f"FAIL {name}: step {i + 1} loss {a:.7f} in weft, {b:.7f} in PyTorch")
    # the trained weights back into the torch model: its outputs are weft's, and PyTorch's own
    sd = t.state_dict()
    missing = [k for k in sd if k not in dict(model.named_parameters())]
    if missing:
        raise SystemExit(f"FAIL {name}: state_dict names not in the model: {missing}")
    model.load_state_dict(sd, strict=False)
    x = data[0][0]
    if train_mode:  # (torch's running statistics moved; weft's did not: compare on batch statistics)
        ref.train()
        model.train()
    with torch.no_grad():
        mine, theirs = model(x), ref(x)
    d = (mine - theirs).abs().max().item()
    if d > 1e-3:
        raise SystemExit(f"FAIL {name}: after load_state_dict the outputs differ from PyTorch's training by {d:.3g}")
    # and weft's reference executor on the trained model agrees with torch
    if train_mode:
        print(f"ok {name}: {STEPS} AdamW steps in train mode, worst step diff {max(abs(a - b) for a, b in zip(got, want)):.2e}, "
              f"state_dict round trip {d:.2e}")
        return
    loss_w = t.evaluate(*data[1])
    with torch.no_grad():
        loss_t = torch.nn.functional.cross_entropy(model(data[1][0]), data[1][1]).item()
    if abs(loss_w - loss_t) > 1e-4 * max(abs(loss_t), 1e-3):
        raise SystemExit(f"FAIL {name}: evaluate {loss_w} vs torch {loss_t}")
    if name == "mlp" and os.environ.get("WEFT_BIN"):
        export_round_trip(t, sd)
    print(f"ok {name}: {STEPS} AdamW steps, loss {want[0]:.4f} -> {want[-1]:.4f}, worst step diff "
          f"{max(abs(a - b) for a, b in zip(got, want)):.2e}, state_dict round trip {d:.2e}")


case("mlp", MLP(), "mlp")
case("cnn_batchnorm_train_mode", CNN(), "cnn", train_mode=True)
case("transformer", Transformer(), "tok")

# the same trainer on a machine's fabric: forward, backward and update simulated, the same losses
torch.manual_seed(2)
cnn, data = CNN(), batches("cnn", 4, 4)
host = weft.Trainer(copy.deepcopy(cnn), (data[0][0],), loss="cross_entropy", lr=1e-2)
fab = weft.Trainer(copy.deepcopy(cnn), (data[0][0],), loss="cross_entropy", lr=1e-2, arch="wse2-mini")
for x, y in data:
    lh, lf = host.step(x, y), fab.step(x, y)
    if abs(lh - lf) > 1e-4 * abs(lh) or not fab.last["sim_seconds"] > 0:
        raise SystemExit(f"FAIL fabric trainer: loss {lf} on wse2-mini, {lh} on the host, {fab.last}")
print(f"ok fabric trainer: 4 steps of the batch-norm CNN on wse2-mini agree with the host, {fab.last['sim_seconds'] * 1e6:.3g} us a step simulated")

# compile, run and check on the fabric
m = MLP().eval()
x = torch.randn(4, 12)
prog = weft.compile(m, (x,), arch="wse2-mini")
y = prog.run(x)
if not isinstance(y, torch.Tensor) or tuple(y.shape) != (4, 5):
    raise SystemExit(f"FAIL compile: run returned {type(y)} {getattr(y, 'shape', None)}")
with torch.no_grad():
    d = (y - m(x)).abs().max().item()
if d > 1e-4:
    raise SystemExit(f"FAIL compile: the fabric's output differs from torch by {d:.3g}")
prog.check(x)
yn = prog.run(x.numpy())
if not isinstance(yn, np.ndarray):
    raise SystemExit("FAIL compile: numpy in, numpy out")
if not (prog.report["cycles"] > 0 and prog.report["tiles_used"] > 0):
    raise SystemExit(f"FAIL compile: report {prog.report}")
try:
    prog.run(torch.randn(3, 12))
    raise SystemExit("FAIL compile: a wrong shape was accepted")
except weft.Error as e:
    if "(4, 12)" not in str(e) and "shape" not in str(e):
        raise SystemExit(f"FAIL compile: unclear error {e}")
print(f"ok compile: {prog.report['cycles']} cycles on wse2-mini, |fabric - torch| {d:.2e}")
# bf16 storage: the fabric against the reference on the same narrow graph, and near torch's fp32
pb = weft.compile(m, (x,), arch="wse2-mini", precision="bf16")
yb = pb.run(x)
pb.check(x, rtol=1e-2, atol=1e-2)
with torch.no_grad():
    db = (yb - m(x)).abs().max().item()
if not (yb.dtype == torch.float32 and db < 0.1):
    raise SystemExit(f"FAIL compile bf16: {yb.dtype}, |fabric - torch| {db}")
print(f"ok compile bf16: |fabric - torch fp32| {db:.2e}")
try:
    weft.Trainer(MLP(), (torch.randn(4, 12),), optimizer="lion")
    raise SystemExit("FAIL errors: an unknown optimizer was accepted")
except weft.Error as e:
    if "lion" not in str(e):
        raise SystemExit(f"FAIL errors: {e}")
print("ok errors")
