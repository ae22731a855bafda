#!/usr/bin/env python3
"""PyTorch side of the seed-CNN training-step benchmark (compare with bench/layers_bench).

Times forward + cross-entropy + backward + SGD step of the seed CNN on random 28x28 input, batch 64,
with torch.set_num_threads(2) (override with --threads). Prints images/s. --torch-keep-memory: glibc
keeps freed memory (see tools/torch_runtime.py), so page faults do not decide PyTorch's speed.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_runtime  # noqa: E402

TORCH_KEEPS_MEMORY = torch_runtime.start()
import torch  # noqa: E402
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--iters", type=int, default=200)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(a.iters // 5):
            step()
        dt = time.perf_counter() - t0
        best = max(best, a.batch * (a.iters // 5) / dt)
    mode = ", malloc keeps memory" if TORCH_KEEPS_MEMORY else ""
    print(f"pytorch {torch.__version__} threads={a.threads} batch={a.batch}{mode}: {best:.0f} images/s (best of 5)")


if __name__ == "__main__":
    main()
