"""PyTorch as weft's second oracle: builds three small models with a fixed seed, exports each
with torch.onnx.export and writes ONNX backend-test folders

    OUTDIR/<name>/model.onnx
    OUTDIR/<name>/test_data_set_0/input_0.pb    (onnx.numpy_helper TensorProto)
    OUTDIR/<name>/test_data_set_0/output_0.pb   (PyTorch's output, float32)

so that `weft onnx-test OUTDIR` (and tests/test_pytorch.c) compares weft's reference executor
with PyTorch. Models:

  pytorch_mlp   Linear-ReLU-Linear-ReLU-Linear                     x (4, 16) -> (4, 10)
  pytorch_cnn   Conv2d-BatchNorm2d-ReLU-MaxPool2d, Conv2d-BatchNorm2d-ReLU-AvgPool2d,
                AdaptiveAvgPool2d(1), Linear (eval mode)           x (2, 3, 16, 16) -> (2, 10)
  pytorch_gpt   two-block GPT-2: token + position embedding, pre-LayerNorm blocks with causal
                multi-head attention and a GELU (tanh) MLP, tied head  ids (2, 16) -> (2, 16, 64)

Run with Debian's python3 (torch 1.13, onnx 1.12): /usr/bin/python3 export_models.py OUTDIR
"""
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import onnx
from onnx import numpy_helper

OPSET = 17


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool2 = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):                                   # (2, 3, 16, 16)
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))     # (2, 8, 8, 8)
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))     # (2, 16, 4, 4)
        x = self.gap(x).flatten(1)                          # (2, 16)
        return self.fc(x)                                   # (2, 10)


class Block(nn.Module):
    def __init__(self, C, H, T):
        super().__init__()
        self.C, self.H, self.T = C, H, T
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def attn(self, x, B):
        C, H, T = self.C, self.H, self.T
        D = C // H
        q, k, v = self.c_attn(x).split(C, dim=2)                      # (B, T, C) each
        q = q.view(B, T, H, D).transpose(1, 2)                        # (B, H, T, D)
        k = k.view(B, T, H, D).transpose(1, 2)
        v = v.view(B, T, H, D).transpose(1, 2)
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))          # (B, H, T, T)
        s = s.masked_fill(~self.mask, float("-inf"))
        y = F.softmax(s, dim=-1) @ v                                  # (B, H, T, D)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    def forward(self, x, B):
        x = x + self.attn(self.ln_1(x), B)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V=64, T=16, C=32, H=4, L=2, B=2):
        super().__init__()
        self.B = B
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(C, H, T) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        self.head.weight = self.wte.weight                            # tied
        self.register_buffer("pos", torch.arange(T))
        for p in self.parameters():                                   # GPT-2-like scale
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02 * 10)                     # larger: non-trivial softmax

    def forward(self, ids):                                           # (B, T) int64
        x = self.wte(ids) + self.wpe(self.pos)                        # (B, T, C)
        for blk in self.h:
            x = blk(x, self.B)
        return self.head(self.ln_f(x))                                # (B, T, V)


def write_case(outdir, name, model, x, keep_batchnorm=False):
    d = os.path.join(outdir, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    model.eval()
    with torch.no_grad():
        y = model(x)
    path = os.path.join(d, "model.onnx")
    # TrainingMode.EVAL would fold BatchNorm into the Conv before it; PRESERVE on a model in eval
    # mode keeps BatchNormalization nodes (training_mode 0, running statistics) for weft to run.
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, (x,), path, opset_version=OPSET, input_names=["input"], output_names=["output"],
                      do_constant_folding=True, training=mode)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    with open(os.path.join(ds, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy(), "input").SerializeToString())
    with open(os.path.join(ds, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.numpy().astype(np.float32), "output").SerializeToString())
    ops = sorted({n.op_type for n in m.graph.node})
    print("export: %-12s %s -> %s  ops: %s" % (name, tuple(x.shape), tuple(y.shape), " ".join(ops)))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export_models.py OUTDIR")
    out = sys.argv[1]
    warnings.filterwarnings("ignore", category=UserWarning)  # PRESERVE + constant folding advice
    torch.manual_seed(0)
    torch.set_num_threads(1)

    write_case(out, "pytorch_mlp", MLP(), torch.randn(4, 16))

    cnn = CNN()
    with torch.no_grad():  # running statistics that are not the identity
        for bn in (cnn.bn1, cnn.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    write_case(out, "pytorch_cnn", cnn, torch.randn(2, 3, 16, 16), keep_batchnorm=True)

    write_case(out, "pytorch_gpt", GPT(), torch.randint(0, 64, (2, 16), dtype=torch.int64))


if __name__ == "__main__":
    main()
