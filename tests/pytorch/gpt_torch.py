"""The built-in GPT (src/models/gpt.c) written once in plain PyTorch, for the oracle that trains
it (tests/pytorch/train_gpt.py) and for the benchmarks (bench/gpt2_forward.py, bench/train_step.py).

Parameters are a dict keyed by weft's names and in weft's layouts (Hugging Face's GPT-2):
  wte.weight (V, C), wpe.weight (P, C); per block h.i: ln_1, attn.c_attn (C, 3C), attn.c_proj
  (C, C), ln_2, mlp.c_fc (C, 4C), mlp.c_proj (4C, C), each .weight and .bias (linear weights are
  (in, out): y = x W + b); ln_f. The head is tied: logits = ln_f(x) wte^T.
"""
import math

import torch
import torch.nn.functional as F


def param_shapes(layers, dim, vocab, positions):
    """[(name, shape)] in weft's order."""
    C = dim
    out = [("wte.weight", (vocab, C)), ("wpe.weight", (positions, C))]
    for i in range(layers):
        h = f"h.{i}"
        out += [(h + ".ln_1.weight", (C,)), (h + ".ln_1.bias", (C,)),
                (h + ".attn.c_attn.weight", (C, 3 * C)), (h + ".attn.c_attn.bias", (3 * C,)),
                (h + ".attn.c_proj.weight", (C, C)), (h + ".attn.c_proj.bias", (C,)),
                (h + ".ln_2.weight", (C,)), (h + ".ln_2.bias", (C,)),
                (h + ".mlp.c_fc.weight", (C, 4 * C)), (h + ".mlp.c_fc.bias", (4 * C,)),
                (h + ".mlp.c_proj.weight", (4 * C, C)), (h + ".mlp.c_proj.bias", (C,))]
    return out + [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]


def init_params(layers, dim, vocab, positions, requires_grad=False):
    """GPT-2's initialization (weights N(0, 0.02), biases 0, LayerNorm 1 and 0), from torch's RNG."""
    p = {}
    for name, shape in param_shapes(layers, dim, vocab, positions):
        if ".ln_" in name or name.startswith("ln_f"):
            t = torch.ones(shape) if name.endswith("weight") else torch.zeros(shape)
        elif name.endswith("weight"):
            t = torch.randn(shape) * 0.02
        else:
            t = torch.zeros(shape)
        p[name] = t.requires_grad_(requires_grad)
    return p


def logits(p, tokens, layers, heads):
    """tokens (B, T) int64 -> logits (B * T, V), computed as weft's graph does."""
    B, T = tokens.shape
    C = p["wte.weight"].shape[1]
    D = C // heads
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    scale = torch.tensor(1.0 / math.sqrt(D), dtype=torch.float32)

    def ln(x, name):
        return F.layer_norm(x, (C,), p[name + ".weight"], p[name + ".bias"], eps=1e-5)

    x = p["wte.weight"][tokens] + p["wpe.weight"][:T]                    # (B, T, C)
    for i in range(layers):
        h = f"h.{i}"
        qkv = ln(x, h + ".ln_1") @ p[h + ".attn.c_attn.weight"] + p[h + ".attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=2)
        q = q.view(B, T, heads, D).transpose(1, 2)                       # (B, H, T, D)
        k = k.view(B, T, heads, D).permute(0, 2, 3, 1)                   # (B, H, D, T)
        v = v.view(B, T, heads, D).transpose(1, 2)
        s = torch.where(mask, (q @ k) * scale, torch.tensor(float("-inf")))  # (B, H, T, T)
        y = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + (y @ p[h + ".attn.c_proj.weight"] + p[h + ".attn.c_proj.bias"])
        m = ln(x, h + ".ln_2") @ p[h + ".mlp.c_fc.weight"] + p[h + ".mlp.c_fc.bias"]
        x = x + (F.gelu(m, approximate="tanh") @ p[h + ".mlp.c_proj.weight"] + p[h + ".mlp.c_proj.bias"])
    return ln(x, "ln_f").reshape(B * T, C) @ p["wte.weight"].t()       # (B * T, V)
