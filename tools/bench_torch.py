#!/usr/bin/python3
"""Side-by-side activation throughput: PyTorch 1.13 module calls versus `actlab bench`.

Runs the same activations, shapes and passes as `actlab bench` (forward: an out-of-place module call;
backward: the op's backward given an output gradient, allocating the input gradient) in PyTorch on this
machine, then runs `actlab bench` right after with the same thread count, and prints both with the
speedup. --torch-keep-memory tells glibc to keep freed memory
on the PyTorch side (tools/torch_runtime.py), so page faults do not decide PyTorch's speed. Needs Debian's
python3-torch; actlab itself never does.

    python3 tools/bench_torch.py --actlab build/actlab --threads 2 [--sizes 4096,262144,16777216]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_runtime  # noqa: E402

TORCH_KEEPS_MEMORY = torch_runtime.start()
import torch  # noqa: E402
import torch.nn as nn

# Same specs and shapes as src/cli/bench.cc (bench_spec, bench_shape).
SPECS = {
    "ReLU": lambda: nn.ReLU(), "LeakyReLU": lambda: nn.LeakyReLU(), "Sigmoid": lambda: nn.Sigmoid(),
    "Tanh": lambda: nn.Tanh(), "ELU": lambda: nn.ELU(), "SELU": lambda: nn.SELU(), "CELU": lambda: nn.CELU(),
    "GELU": lambda: nn.GELU(), "SiLU": lambda: nn.SiLU(), "Mish": lambda: nn.Mish(),
    "Softplus": lambda: nn.Softplus(), "Softsign": lambda: nn.Softsign(), "Softshrink": lambda: nn.Softshrink(),
    "Hardshrink": lambda: nn.Hardshrink(), "Tanhshrink": lambda: nn.Tanhshrink(), "Hardtanh": lambda: nn.Hardtanh(),
    "ReLU6": lambda: nn.ReLU6(), "Hardsigmoid": lambda: nn.Hardsigmoid(), "Hardswish": lambda: nn.Hardswish(),
    "LogSigmoid": lambda: nn.LogSigmoid(),
    "Threshold(threshold=0.1, value=20.0)": lambda: nn.Threshold(0.1, 20.0),
    "Softmax(dim=-1)": lambda: nn.Softmax(dim=-1), "LogSoftmax(dim=-1)": lambda: nn.LogSoftmax(dim=-1),
    "Softmin(dim=-1)": lambda: nn.Softmin(dim=-1), "Softmax2d": lambda: nn.Softmax2d(),
    "PReLU": lambda: nn.PReLU(), "RReLU": lambda: nn.RReLU(), "GLU": lambda: nn.GLU(),
}


def shape_for(spec, n):
    if spec.startswith(("Softmax(", "LogSoftmax", "Softmin", "GLU")):
        return (n // 256, 256)
    if spec == "Softmax2d":
        return (n // 1024, 4, 16, 16)
    return (n,)


def best_seconds(f, min_time):
    best, total, runs = 1e30, 0.0, 0
    while (total < min_time or runs < 5) and runs < 100000:
        t0 = time.perf_counter()
        f()
        s = time.perf_counter() - t0
        best, total, runs = min(best, s), total + s, runs + 1
    return best


def torch_results(sizes, min_time):
    out = {}
    for n in sizes:
        src = torch.randn(n)
        out[("copy", "forward", n)] = 8.0 * n / best_seconds(lambda: src.clone(), min_time) / 1e9
        for spec, make in SPECS.items():
            m = make()
            x = torch.randn(shape_for(spec, n)) * 3
            with torch.no_grad():
                fwd = best_seconds(lambda: m(x), min_time)
            xr = x.clone().requires_grad_(True)
            y = m(xr)
            g = torch.randn_like(y)
            # The op's backward alone: autograd.grad from y with retain_graph, into a fresh input gradient.
            bwd = best_seconds(lambda: torch.autograd.grad(y, xr, g, retain_graph=True), min_time)
            out[(spec, "forward", n)] = 8.0 * n / fwd / 1e9
            out[(spec, "backward", n)] = 12.0 * n / bwd / 1e9
            print(f"torch {spec:40s} {n:>10d} fwd {out[(spec, 'forward', n)]:8.2f} GB/s "
                  f"bwd {out[(spec, 'backward', n)]:8.2f} GB/s", file=sys.stderr, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actlab", default="build/actlab")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="4096,262144,16777216")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--json", help="write both sides and the ratios here")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    torch.set_num_threads(args.threads)
    t = torch_results(sizes, args.min_time)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "actlab.json")
        subprocess.run([args.actlab, "bench", "--threads", str(args.threads), "--sizes", args.sizes,
                        "--min-time", str(args.min_time), "--json", path], check=True, stdout=subprocess.DEVNULL,
                       env=torch_runtime.actlab_env())
        a = json.load(open(path))
    rows = []
    print(f"{'op':40s} {'pass':8s} {'numel':>10s} {'torch GB/s':>11s} {'actlab GB/s':>12s} {'speedup':>8s} "
          f"{'actlab/copy':>12s}")
    for r in a["results"]:
        key = (r["op"], r["pass"], r["numel"])
        if key not in t:
            continue
        speedup = r["gbps"] / t[key]
        rows.append({"op": r["op"], "pass": r["pass"], "numel": r["numel"], "torch_gbps": t[key],
                     "actlab_gbps": r["gbps"], "speedup": speedup, "actlab_ratio_to_copy": r["ratio_to_copy"]})
        print(f"{r['op']:40s} {r['pass']:8s} {r['numel']:>10d} {t[key]:>11.2f} {r['gbps']:>12.2f} {speedup:>8.2f} "
              f"{r['ratio_to_copy']:>12.3f}")
    for n in sizes:
        sp = [x["speedup"] for x in rows if x["numel"] == n]
        slowest = min(rows, key=lambda x: x["speedup"] if x["numel"] == n else 1e9)
        worst_copy = min(x["actlab_ratio_to_copy"] for x in rows if x["numel"] == n)
        print(f"numel {n}: geometric-mean speedup {math.exp(sum(map(math.log, sp)) / len(sp)):.2f}x, "
              f"slowest {slowest['op']} {slowest['pass']} {slowest['speedup']:.2f}x, "
              f"lowest actlab/copy {worst_copy:.3f}")
    if args.json:
        json.dump({"threads": args.threads, "rows": rows}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
