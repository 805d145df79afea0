"""PyTorch oracle for weft's training: the built-in GPT (src/models/gpt.c) trained with AdamW.

Run by tests/test_train.c as: /usr/bin/python3 tests/pytorch/train_gpt.py DIR, where DIR holds
  manifest.txt  a config line, then one line per parameter: name and shape, in weft's order
  params.bin    the initial parameters, float32, in that order
  batches.bin   per step: tokens int64 (B, T), then targets int64 (B, T)
Prints "step N loss X" for every step (the loss of the batch before that step's update).

The model, as weft builds it: x = wte[tokens] + wpe[:T]; per block, pre-LayerNorm (eps 1e-5)
causal self-attention (c_attn (C, 3C), scores scaled by 1/sqrt(D), masked with -inf, softmax,
c_proj (C, C)) and an MLP (c_fc (C, 4C), GELU tanh form, c_proj (4C, C)), each added to the
residual; ln_f; logits = x wte^T (the head is tied). Mean cross-entropy. Optimizer:
torch.optim.AdamW(betas (0.9, 0.999), eps 1e-8) on every parameter, clip_grad_norm_ before each
step, constant learning rate.
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main():
    torch.set_num_threads(2)
    d = sys.argv[1]
    with open(f"{d}/manifest.txt") as f:
        lines = f.read().splitlines()
    cfg = {}
    for kv in lines[0].split()[1:]:
        k, v = kv.split("=")
        cfg[k] = float(v)
    L, C, H, V = int(cfg["layers"]), int(cfg["dim"]), int(cfg["heads"]), int(cfg["vocab"])
    T, B, steps = int(cfg["seq"]), int(cfg["batch"]), int(cfg["steps"])
    flat = np.fromfile(f"{d}/params.bin", dtype=np.float32)
    params, names, at = {}, [], 0
    for line in lines[1:]:
        parts = line.split()
        shape = [int(x) for x in parts[1:]]
        n = int(np.prod(shape)) if shape else 1
        params[parts[0]] = torch.tensor(flat[at:at + n].reshape(shape), requires_grad=True)
        names.append(parts[0])
        at += n
    assert at == flat.size, "params.bin does not match the manifest"
    batches = np.fromfile(f"{d}/batches.bin", dtype=np.int64).reshape(steps, 2, B, T)
    p = params
    D = C // H
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    scale = torch.tensor(1.0 / math.sqrt(D), dtype=torch.float32)

    def ln(x, name):
        return F.layer_norm(x, (C,), p[name + ".weight"], p[name + ".bias"], eps=1e-5)

    def forward(tokens):
        x = p["wte.weight"][tokens] + p["wpe.weight"][:T]
        for i in range(L):
            h = f"h.{i}"
            a = ln(x, h + ".ln_1")
            qkv = a @ p[h + ".attn.c_attn.weight"] + p[h + ".attn.c_attn.bias"]
            q, k, v = qkv.split(C, dim=2)
            q = q.view(B, T, H, D).transpose(1, 2)
            k = k.view(B, T, H, D).permute(0, 2, 3, 1)
            v = v.view(B, T, H, D).transpose(1, 2)
            s = (q @ k) * scale
            s = torch.where(mask, s, torch.tensor(float("-inf")))
            y = torch.softmax(s, dim=-1) @ v
            y = y.transpose(1, 2).reshape(B, T, C)
            x = x + (y @ p[h + ".attn.c_proj.weight"] + p[h + ".attn.c_proj.bias"])
            m = ln(x, h + ".ln_2")
            m = F.gelu(m @ p[h + ".mlp.c_fc.weight"] + p[h + ".mlp.c_fc.bias"], approximate="tanh")
            x = x + (m @ p[h + ".mlp.c_proj.weight"] + p[h + ".mlp.c_proj.bias"])
        x = ln(x, "ln_f")
        return x.reshape(B * T, C) @ p["wte.weight"].t()

    plist = [p[n] for n in names]
    opt = torch.optim.AdamW(plist, lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=cfg["wd"])
    for s in range(steps):
        tokens = torch.from_numpy(batches[s, 0])
        targets = torch.from_numpy(batches[s, 1])
        opt.zero_grad()
        loss = F.cross_entropy(forward(tokens), targets.reshape(-1))
        loss.backward()
        if cfg["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(plist, cfg["clip"])
        opt.step()
        print(f"step {s + 1} loss {loss.item():.9f}")


if __name__ == "__main__":
    main()
