#!/usr/bin/python3
"""Side-by-side training: PyTorch 1.13 versus `actlab train`, same network, data, settings and threads.

Trains the seed's CNN (or the MLP/cnn of `actlab train`) on Fashion-MNIST in PyTorch, then runs
`actlab train` with the same settings right after, and prints test accuracy and training images/s of
both (evaluation time excluded on both sides). --torch-keep-memory tells glibc to keep freed memory
on the PyTorch side (tools/torch_runtime.py), so page faults do not decide PyTorch's speed. Needs Debian's
python3-torch; actlab never does.

    python3 tools/train_torch.py --actlab build/actlab --model seed-cnn --act ReLU --epochs 3 --threads 2

One run's test accuracy swings by about a point from seed to seed (and epoch to epoch), so the fidelity
comparison takes several seeds: --seeds 0,1,2,3,4 trains both sides once per seed and prints the means,
their difference and the standard deviations.
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_runtime  # noqa: E402

TORCH_KEEPS_MEMORY = torch_runtime.start()
import torch  # noqa: E402
import numpy as np
import torch.nn as nn


def read_idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(data_dir, train):
    p = "train" if train else "t10k"
    def find(name):
        for ext in (".gz", ""):
            if os.path.exists(os.path.join(data_dir, name + ext)):
                return os.path.join(data_dir, name + ext)
        raise SystemExit(f"missing {name} in {data_dir}")
    x = torch.from_numpy(read_idx(find(f"{p}-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(read_idx(find(f"{p}-labels-idx1-ubyte")).astype(np.int64))
    return (x - 0.5) / 0.5, y  # ToTensor, then Normalize(0.5, 0.5)


def make_act(spec):
    return eval("nn." + spec if "(" in spec else "nn." + spec + "()")


def build(model, act):
    if model == "seed-cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), make_act(act), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), make_act(act), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(32, 10))
    if model == "cnn":
        layers, ch = [], 1
        for out in (32, 64):
            for _ in range(2):
                layers += [nn.Conv2d(ch, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), make_act(act)]
                ch = out
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Dropout(0.25), nn.Flatten(), nn.Linear(ch * 7 * 7, 256), nn.BatchNorm1d(256), make_act(act),
                   nn.Dropout(0.5), nn.Linear(256, 10)]
        return nn.Sequential(*layers)
    raise SystemExit(f"model {model} not supported here")


def train_torch(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xtr, ytr = load(a.data, True)
    xte, yte = load(a.data, False)
    model = build(a.model, a.act)
    opt = (torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum) if a.optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=a.lr))
    loss_fn = nn.CrossEntropyLoss()
    images, seconds = 0, 0.0
    g = torch.Generator().manual_seed(a.seed)
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        t0 = time.perf_counter()
        for i in range(0, len(xtr), a.batch_size):
            idx = perm[i:i + a.batch_size]
            x, y = xtr[idx], ytr[idx]
            out = model(x)
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            images += len(idx)
        seconds += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                      for i in range(0, len(xte), 1000)) / len(xte)
        print(f"torch epoch {epoch + 1}: test accuracy {acc:.4f}", file=sys.stderr, flush=True)
    return {"test_accuracy": acc, "train_images_per_second": images / seconds, "train_seconds": seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actlab", default="build/actlab")
    ap.add_argument("--model", default="seed-cnn")
    ap.add_argument("--act", default="ReLU")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default=None, help="comma-separated seeds; overrides --seed, prints means")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.environ.get("ACTLAB_DATA", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--skip-actlab", action="store_true")
    a = ap.parse_args()
    seeds = [int(v) for v in a.seeds.split(",")] if a.seeds else [a.seed]
    rows = []
    for seed in seeds:
        a.seed = seed
        t = train_torch(a)
        print(f"seed {seed}: pytorch {torch.__version__}: test accuracy {t['test_accuracy']:.4f}, "
              f"{t['train_images_per_second']:.0f} images/s", flush=True)
        if a.skip_actlab:
            rows.append((t, None))
            continue
        r = train_actlab(a)
        print(f"seed {seed}: actlab: test accuracy {r['test_accuracy']:.4f}, "
              f"{r['train_images_per_second']:.0f} images/s", flush=True)
        print(f"seed {seed}: accuracy difference (actlab - pytorch): "
              f"{100 * (r['test_accuracy'] - t['test_accuracy']):+.2f} points; speed ratio (actlab / pytorch): "
              f"{r['train_images_per_second'] / t['train_images_per_second']:.2f}x", flush=True)
        rows.append((t, r))
    if len(seeds) > 1:
        def stats(vals):
            m = sum(vals) / len(vals)
            sd = (sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5
            return m, sd
        tm, tsd = stats([t["test_accuracy"] for t, _ in rows])
        print(f"pytorch over {len(seeds)} seeds: test accuracy mean {tm:.4f} (sd {tsd:.4f})")
        if not a.skip_actlab:
            am, asd = stats([r["test_accuracy"] for _, r in rows])
            print(f"actlab over {len(seeds)} seeds: test accuracy mean {am:.4f} (sd {asd:.4f})")
            print(f"mean accuracy difference (actlab - pytorch): {100 * (am - tm):+.2f} points; "
                  f"speed ratio of the means: {sum(r['train_images_per_second'] for _, r in rows) / sum(t['train_images_per_second'] for t, _ in rows):.2f}x")


def train_actlab(a):
    with tempfile.TemporaryDirectory() as d:
        m = os.path.join(d, "m.json")
        subprocess.run([a.actlab, "train", "--model", a.model, "--act", a.act, "--epochs", str(a.epochs),
                        "--batch-size", str(a.batch_size), "--lr", str(a.lr), "--momentum", str(a.momentum),
                        "--optimizer", a.optimizer, "--seed", str(a.seed), "--threads", str(a.threads),
                        "--data", a.data, "--metrics-json", m], check=True, env=torch_runtime.actlab_env(),
                       stdout=subprocess.DEVNULL)
        return json.load(open(m))

if __name__ == "__main__":
    main()
