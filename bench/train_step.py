"""`make bench`, part 2: one training step of a small GPT (2 layers, dim 128, 4 heads, vocab 256,
64 tokens, AdamW): weft on its reference executor, weft on the simulated fabric of wse2-mini
(forward, backward and update simulated, numbers included), and PyTorch on the same CPU. The
three sides alternate for a few rounds; medians and ratios are printed.

Usage: /usr/bin/python3 bench/train_step.py --weft build/weft [--steps 40] [--rounds 3]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pytorch"))
import gpt_torch  # noqa: E402  (the one PyTorch GPT, shared with the training oracle)

MODEL = "builtin:gpt:layers=2,dim=128,heads=4,vocab=256,seq=64"
L, C, H, V, T = 2, 128, 4, 256, 64


def weft_step_seconds(weft, steps, arch):
    cmd = [weft, "train", MODEL, "--steps", str(steps), "--eval-every", str(10 * steps), "--lr", "1e-3"]
    if arch:
        cmd += ["--arch", arch]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"host\s+[\d.]+ s: ([\d.eE+-]+) s per step", out)
    return float(m.group(1))


def torch_step_seconds(steps):
    torch.manual_seed(0)
    p = gpt_torch.init_params(L, C, V, T, requires_grad=True)
    opt = torch.optim.AdamW(p.values(), lr=1e-3, weight_decay=0.01)
    tokens = torch.randint(0, V, (1, T))
    targets = torch.randint(0, V, (1, T))
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(gpt_torch.logits(p, tokens, L, H), targets.view(T))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(p.values(), 1.0)
        opt.step()
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", default="build/weft")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(2)
    ref, fab, pt = [], [], []
    for r in range(a.rounds):
        ref.append(weft_step_seconds(a.weft, a.steps, None))
        fab.append(weft_step_seconds(a.weft, a.steps, "wse2-mini"))
        pt.append(torch_step_seconds(a.steps))
        print(f"round {r + 1}: weft reference {ref[-1] * 1e3:.1f} ms   weft fabric {fab[-1] * 1e3:.1f} ms   "
              f"pytorch {pt[-1] * 1e3:.1f} ms per step")
    mr, mf, mp = statistics.median(ref), statistics.median(fab), statistics.median(pt)
    print(f"\ntraining step of {MODEL}, batch 1, AdamW, 2 threads, {a.rounds} rounds of {a.steps} steps")
    print(f"weft reference executor:   median {mr * 1e3:7.1f} ms per step   {mr / mp:5.2f} x PyTorch")
    print(f"weft on the fabric:        median {mf * 1e3:7.1f} ms per step   {mf / mp:5.2f} x PyTorch "
          f"(compile, simulate with numbers, update)")
    print(f"PyTorch:                   median {mp * 1e3:7.1f} ms per step")


if __name__ == "__main__":
    main()
