"""PyTorch oracle for weft's training: the built-in GPT (src/models/gpt.c) trained with AdamW.

Run by tests/test_train.c as: /usr/bin/python3 tests/pytorch/train_gpt.py DIR, where DIR holds
  manifest.txt  a config line, then one line per parameter: name and shape, in weft's order
  params.bin    the initial parameters, float32, in that order
  batches.bin   per step: tokens int64 (B, T), then targets int64 (B, T)
Prints "step N loss X" for every step (the loss of the batch before that step's update).

The model, as weft builds it: x = wte[tokens] + wpe[:T]; per block, pre-LayerNorm (eps 1e-5)
causal self-attention (c_attn (C, 3C), scores scaled by 1/sqrt(D), masked with -inf, softmax,
c_proj (C, C)) and an MLP (c_fc (C, 4C), GELU tanh form, c_proj (4C, C)), each added to the
residual; ln_f; logits = x wte^T (the head is tied), as written in gpt_torch.py. Mean cross-entropy. Optimizer:
torch.optim.AdamW(betas (0.9, 0.999), eps 1e-8) on every parameter, clip_grad_norm_ before each
step, constant learning rate.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

import gpt_torch


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

    def forward(tokens):  # (B, T) -> (B * T, V)
        return gpt_torch.logits(p, tokens, L, H)

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
