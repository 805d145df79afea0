#!/usr/bin/python3
"""Data-parallel scaling: one training step timed on 1, 2, 4, 8 and 16 chips of a machine, each
chip with the same share of the batch (weak scaling), as samples/s, speed-up over one chip and
scaling efficiency (the run's own: one chip running its share alone over the step).

    bench/scaling.py [--weft build/weft] [--arch cs2x16] [--model SPEC] [--per-chip B] [--mode M]

Timing only; prints a Markdown table."""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", default="build/weft")
    ap.add_argument("--arch", default="cs2x16")
    ap.add_argument("--model", default="builtin:gpt2:seq=2048,positions=2048")
    ap.add_argument("--per-chip", type=int, default=28)
    ap.add_argument("--mode", default="weight-streaming")
    ap.add_argument("--replicas", default="1,2,4,8,16")
    ap.add_argument("--precision", default="bf16")
    o = ap.parse_args()
    rows = []
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for r in [int(x) for x in o.replicas.split(",")]:
            rep = os.path.join(tmp, f"r{r}.json")
            cmd = [o.weft, "run", o.model, "--arch", o.arch, "--replicas", str(r), "--batch-per-chip", str(o.per_chip), "--train",
                   "--timing-only", "--mode", o.mode, "--precision", o.precision, "--report", rep]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                sys.stderr.write(" ".join(cmd) + "\n" + (p.stderr.strip().splitlines() or ["failed"])[-1] + "\n")
                rows.append((r, None, None))
                continue
            with open(rep) as f:
                j = json.load(f)
            dp = j.get("data_parallel", {})
            rate = j["samples_per_s"]
            if base is None and r == 1:
                base = rate
            rows.append((r, rate, dp.get("scaling_efficiency", 1.0)))
    print(f"{o.model} on {o.arch}, {o.mode}, {o.precision}, {o.per_chip} samples a chip (weak scaling)")
    print()
    print("| chips | samples/s | speed-up over 1 chip | scaling efficiency |")
    print("|---|---|---|---|")
    for r, rate, eff in rows:
        if rate is None:
            print(f"| {r} | failed | - | - |")
            continue
        up = rate / base if base else float("nan")
        print(f"| {r} | {rate:.5g} | {up:.3g} | {100 * (up / r if base else eff):.1f} % |")


if __name__ == "__main__":
    main()
