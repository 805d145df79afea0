"""One GPT-2 124M forward pass (batch 1, seq 128): weft's reference executor against PyTorch.

weft's side is `weft run-ref builtin:gpt2:seq=128`, which builds the model (not timed) and prints
the host time of weft_ref_run. PyTorch's side is GPT-2 in plain PyTorch (tests/pytorch/gpt_torch.py:
the same architecture, sizes and computation as weft's graph, random weights: no download), under
no_grad. The two
sides alternate, `--rounds` times, and the medians are compared. Both sides get the same number
of threads (WEFT_THREADS for weft, torch.set_num_threads for PyTorch,
OMP_WAIT_POLICY=passive so that idle OpenMP threads do not spin against the other side).

The FLOP count is weft's (from the graph's cost rules, a multiply-add counts 2); the machine's
sgemm rate is a 2048^3 torch.matmul timed in the same run, as a proxy for the peak a BLAS-bound
reference executor could reach.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import torch  # noqa: E402  (after the environment is set)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pytorch"))
import gpt_torch  # noqa: E402  (the one PyTorch GPT, shared with the training oracle)


def run_weft(weft, spec, env):
    p = subprocess.run([weft, "run-ref", spec], env=env, capture_output=True, text=True)
    if p.returncode:
        sys.exit("bench: %s run-ref %s failed:\n%s%s" % (weft, spec, p.stdout, p.stderr))
    t = re.search(r"reference executor: ([0-9.]+) s host time", p.stdout)
    fl = re.search(r"([0-9.eE+]+) GFLOP per forward pass", p.stdout)
    if not t or not fl:
        sys.exit("bench: cannot read the timing from:\n" + p.stdout)
    return float(t.group(1)), float(fl.group(1)), p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weft", default="build/weft")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seq", type=int, default=128)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    env = dict(os.environ, WEFT_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    spec = "builtin:gpt2:seq=%d" % a.seq

    # sgemm rate: best of a few 2048^3 products
    n = 2048
    A, B = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(A, B)
    best = min(timed(lambda: torch.matmul(A, B)) for _ in range(5))
    peak = 2 * n ** 3 / best * 1e-9

    torch.manual_seed(0)
    params = gpt_torch.init_params(12, 768, 50257, 1024)  # GPT-2 124M
    nparams = sum(t.numel() for t in params.values())

    def model(ids):
        return gpt_torch.logits(params, ids, 12, 12)

    ids = torch.randint(0, 64, (1, a.seq))
    with torch.no_grad():
        model(ids)  # warm-up
        tw, tt, gflop, out = [], [], None, ""
        for r in range(a.rounds):
            t, gflop, out = run_weft(a.weft, spec, env)
            tw.append(t)
            tt.append(timed(lambda: model(ids)))
            print("round %d: weft %.3f s   pytorch %.3f s" % (r + 1, tw[-1], tt[-1]), flush=True)

    mw, mt = statistics.median(tw), statistics.median(tt)
    print()
    print(out.strip().splitlines()[0])
    print("GPT-2 124M forward, batch 1, seq %d, %d threads, %d rounds (PyTorch %s, %d parameters)"
          % (a.seq, a.threads, a.rounds, torch.__version__, nparams))
    print("machine sgemm (torch.matmul %d^3):  %8.1f GFLOP/s" % (n, peak))
    print("weft reference executor:  median %.3f s  %8.1f GFLOP/s  %5.1f%% of sgemm" % (mw, gflop / mw, 100 * gflop / mw / peak))
    print("PyTorch:                  median %.3f s  %8.1f GFLOP/s  %5.1f%% of sgemm" % (mt, gflop / mt, 100 * gflop / mt / peak))
    print("weft / PyTorch time ratio: %.2f" % (mw / mt))


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
