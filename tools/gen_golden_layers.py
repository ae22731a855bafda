#!/usr/bin/env python3
"""Golden data for actlab's compute layers (conv2d, pooling, batch norm, linear), from PyTorch 1.13.1.

Rerun with:  /usr/bin/python3 tools/gen_golden_layers.py            (from the repository root)
             /usr/bin/python3 tools/gen_golden_layers.py --out DIR  (somewhere else)

Needs python3-torch and numpy; the actlab build and tests never do. Deterministic (fixed seed, one thread).
Output under tests/golden/layers/:

  <case>.<array>.npy   float32 inputs (x, w, b, gy, rm, rv, ...) and float64 results computed by PyTorch in
                       float64 from those same float32 inputs (y, gx, gw, gb, rm_out, rv_out): the exact
                       reference. The test runs actlab in float32 (tolerance) and in float64 (tight).
  manifest.json        every case: op, arguments, files.
"""

import argparse
import json
import os
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise


def r32(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).float()


class Writer:
    def __init__(self, out):
        self.out = out
        self.cases = []

    def add(self, name, op, args, arrays):
        files = {}
        for k, v in arrays.items():
            if v is None:
                continue
            a = v.detach().cpu().numpy()
            if a.dtype not in (np.float32, np.float64):
                a = a.astype(np.float64)
            fn = f"{name}.{k}.npy"
            np.save(os.path.join(self.out, fn), np.ascontiguousarray(a))
            files[k] = fn
        self.cases.append({"name": name, "op": op, "args": args, "files": files})


def grads64(fn, inputs, gy):
    """Runs fn on float64 copies of inputs (None kept), returns (y, [grad per input])."""
    leaves = [None if t is None else t.double().detach().requires_grad_(True) for t in inputs]
    y = fn(*leaves)
    need = [t for t in leaves if t is not None]
    gs = torch.autograd.grad(y, need, gy.double(), allow_unused=True)
    it = iter(gs)
    out = [None if t is None else next(it) for t in leaves]
    return y.detach(), out


def conv_cases(w):
    cases = [
        ("conv_s2_p1", (2, 3, 7, 6), (4, 3, 3, 3), True, dict(stride=[2, 2], padding=[1, 1], dilation=[1, 1], groups=1)),
        ("conv_same_even", (2, 2, 6, 5), (3, 2, 4, 3), True, dict(stride=[1, 1], padding="same", dilation=[1, 1], groups=1)),
        ("conv_same_dil", (1, 2, 7, 7), (2, 2, 3, 3), True, dict(stride=[1, 1], padding="same", dilation=[2, 1], groups=1)),
        ("conv_valid", (2, 2, 6, 5), (3, 2, 2, 3), True, dict(stride=[1, 1], padding="valid", dilation=[1, 1], groups=1)),
        ("conv_dil2", (1, 2, 9, 8), (3, 2, 3, 3), True, dict(stride=[1, 1], padding=[1, 2], dilation=[2, 2], groups=1)),
        ("conv_groups2_nobias", (2, 4, 6, 6), (6, 2, 3, 3), False, dict(stride=[1, 2], padding=[0, 1], dilation=[1, 1], groups=2)),
        ("conv_1x1_nobias", (2, 3, 5, 4), (4, 3, 1, 1), False, dict(stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1)),
        ("conv_1ch_seed", (3, 1, 8, 8), (4, 1, 3, 3), True, dict(stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=1)),
        ("conv_unbatched", (3, 6, 5), (2, 3, 3, 3), True, dict(stride=[1, 1], padding=[1, 0], dilation=[1, 1], groups=1)),
        ("conv_stride3_rect", (2, 2, 10, 7), (2, 2, 3, 2), True, dict(stride=[3, 2], padding=[2, 1], dilation=[1, 1], groups=1)),
    ]
    for name, xs, ws, has_b, a in cases:
        x, wt = r32(*xs), r32(*ws, scale=0.5)
        b = r32(ws[0]) if has_b else None
        pad = a["padding"] if isinstance(a["padding"], str) else tuple(a["padding"])
        fn = lambda x_, w_, b_: F.conv2d(x_, w_, b_, tuple(a["stride"]), pad, tuple(a["dilation"]), a["groups"])
        gy = torch.randn_like(fn(x, wt, b))
        y, (gx, gw, gb) = grads64(fn, [x, wt, b], gy)
        w.add(name, "conv2d", a, dict(x=x, w=wt, b=b, gy=gy, y=y, gx=gx, gw=gw, gb=gb))
    # padding modes through the module (F.pad then conv without padding)
    for mode in ["reflect", "replicate", "circular"]:
        x, wt, b = r32(2, 2, 5, 6), r32(3, 2, 3, 3, scale=0.5), r32(3)
        # what nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode) computes
        def fn(x_, w_, b_, mode=mode):
            return F.conv2d(F.pad(x_, (2, 2, 1, 1), mode=mode), w_, b_)
        gy = torch.randn_like(F.conv2d(x, wt, b, padding=(1, 2)))
        y, (gx, gw, gb) = grads64(fn, [x, wt, b], gy)
        w.add(f"conv_mode_{mode}", "conv2d_module",
              dict(stride=[1, 1], padding=[1, 2], dilation=[1, 1], groups=1, padding_mode=mode),
              dict(x=x, w=wt, b=b, gy=gy, y=y, gx=gx, gw=gw, gb=gb))


def pool_cases(w):
    mp = [
        ("mp_k2", r32(2, 3, 8, 8), dict(kernel=[2, 2], stride=None, padding=[0, 0], dilation=[1, 1], ceil_mode=False)),
        ("mp_k2_odd_ceil", r32(2, 2, 7, 9), dict(kernel=[2, 2], stride=None, padding=[0, 0], dilation=[1, 1], ceil_mode=True)),
        ("mp_k3s2p1_ceil", r32(2, 2, 9, 7), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil_mode=True)),
        ("mp_k3s2p1", r32(2, 2, 9, 7), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil_mode=False)),
        ("mp_dil", r32(1, 2, 10, 9), dict(kernel=[3, 2], stride=[2, 1], padding=[1, 0], dilation=[2, 1], ceil_mode=False)),
        ("mp_ties", torch.randint(0, 3, (2, 2, 6, 6)).float(), dict(kernel=[3, 3], stride=[1, 2], padding=[1, 1], dilation=[1, 1], ceil_mode=False)),
        ("mp_unbatched", r32(3, 7, 6), dict(kernel=[2, 2], stride=None, padding=[0, 0], dilation=[1, 1], ceil_mode=True)),
    ]
    xn = r32(1, 2, 6, 6)
    xn[0, 0, 0, 1] = float("nan")
    xn[0, 0, 1, 0] = float("nan")
    xn[0, 1, 3, 3] = float("nan")
    xn[0, 1, 5, 5] = float("-inf")
    mp.append(("mp_nan", xn, dict(kernel=[2, 2], stride=None, padding=[0, 0], dilation=[1, 1], ceil_mode=False)))
    mp.append(("mp_nan_k3", xn.clone(), dict(kernel=[3, 3], stride=[1, 1], padding=[1, 1], dilation=[1, 1], ceil_mode=False)))
    for name, x, a in mp:
        st = tuple(a["stride"]) if a["stride"] else None
        fn = lambda x_: F.max_pool2d(x_, tuple(a["kernel"]), st, tuple(a["padding"]), tuple(a["dilation"]), a["ceil_mode"])
        gy = torch.randn_like(fn(x))
        # float32 for values/indices (the float64 path picks the same maxima from the same float32 input)
        y, (gx,) = grads64(fn, [x], gy)
        _, idx = F.max_pool2d(x, tuple(a["kernel"]), st, tuple(a["padding"]), tuple(a["dilation"]), a["ceil_mode"], return_indices=True)
        w.add(name, "max_pool2d", a, dict(x=x, gy=gy, y=y, gx=gx, idx=idx))
    ap = [
        ("ap_k2", r32(2, 3, 8, 8), dict(kernel=[2, 2], stride=None, padding=[0, 0], ceil_mode=False, count_include_pad=True, divisor_override=None)),
        ("ap_k3s2p1", r32(2, 2, 9, 7), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=False, count_include_pad=True, divisor_override=None)),
        ("ap_k3s2p1_ceil_nopad", r32(2, 2, 9, 8), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=True, count_include_pad=False, divisor_override=None)),
        ("ap_k3s2p1_ceil_pad", r32(2, 2, 9, 8), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=True, count_include_pad=True, divisor_override=None)),
        ("ap_rect_div", r32(1, 2, 7, 9), dict(kernel=[2, 4], stride=[1, 3], padding=[1, 2], ceil_mode=False, count_include_pad=True, divisor_override=5)),
        ("ap_unbatched", r32(2, 6, 6), dict(kernel=[3, 3], stride=[2, 2], padding=[0, 0], ceil_mode=False, count_include_pad=True, divisor_override=None)),
    ]
    for name, x, a in ap:
        st = tuple(a["stride"]) if a["stride"] else None
        fn = lambda x_: F.avg_pool2d(x_, tuple(a["kernel"]), st, tuple(a["padding"]), a["ceil_mode"], a["count_include_pad"], a["divisor_override"])
        gy = torch.randn_like(fn(x))
        y, (gx,) = grads64(fn, [x], gy)
        w.add(name, "avg_pool2d", a, dict(x=x, gy=gy, y=y, gx=gx))
    aap = [
        ("aap_3x4", r32(2, 3, 7, 9), [3, 4]),
        ("aap_1", r32(2, 3, 7, 9), [1, 1]),
        ("aap_5xNone", r32(1, 2, 7, 6), [5, None]),
        ("aap_up", r32(1, 2, 3, 3), [5, 4]),
        ("aap_unbatched", r32(2, 10, 7), [4, 3]),
    ]
    for name, x, osz in aap:
        fn = lambda x_: F.adaptive_avg_pool2d(x_, tuple(osz))
        gy = torch.randn_like(fn(x))
        y, (gx,) = grads64(fn, [x], gy)
        w.add(name, "adaptive_avg_pool2d", dict(output_size=osz), dict(x=x, gy=gy, y=y, gx=gx))


def bn_cases(w):
    cases = [
        ("bn2d_train", (4, 3, 5, 5), "BatchNorm2d", True, dict(momentum=0.1, affine=True, track=True)),
        ("bn2d_eval", (4, 3, 5, 5), "BatchNorm2d", False, dict(momentum=0.1, affine=True, track=True)),
        ("bn2d_train_m03", (2, 4, 3, 6), "BatchNorm2d", True, dict(momentum=0.3, affine=True, track=True)),
        ("bn2d_train_noaffine", (3, 2, 4, 4), "BatchNorm2d", True, dict(momentum=0.1, affine=False, track=True)),
        ("bn2d_eval_notrack", (3, 2, 4, 4), "BatchNorm2d", False, dict(momentum=0.1, affine=True, track=False)),
        ("bn1d_train_2d", (8, 5), "BatchNorm1d", True, dict(momentum=0.1, affine=True, track=True)),
        ("bn1d_train_3d", (4, 5, 6), "BatchNorm1d", True, dict(momentum=0.1, affine=True, track=True)),
        ("bn1d_eval_3d", (4, 5, 6), "BatchNorm1d", False, dict(momentum=0.1, affine=True, track=True)),
        ("bn1d_eval_2d", (6, 3), "BatchNorm1d", False, dict(momentum=0.1, affine=True, track=True)),
    ]
    for name, xs, cls, train, a in cases:
        C = xs[1]
        x = r32(*xs, scale=2.0, shift=0.7)
        wt = r32(C, scale=0.5, shift=1.0) if a["affine"] else None
        b = r32(C) if a["affine"] else None
        rm = r32(C, scale=0.3) if a["track"] else None
        rv = (torch.rand(C) + 0.5).float() if a["track"] else None
        # what nn.<cls>(C, momentum, affine, track_running_stats) computes in this mode
        rm64 = rm.double().clone() if a["track"] else None
        rv64 = rv.double().clone() if a["track"] else None
        bn_training = train or not a["track"]

        def fn(x_, w_, b_):
            return F.batch_norm(x_, rm64, rv64, w_, b_, bn_training, a["momentum"], 1e-5)

        gy = torch.randn(*xs)
        y, (gx, gw, gb) = grads64(fn, [x, wt, b], gy)
        rm_out, rv_out = rm64, rv64
        args = dict(a, module=cls, training=train, eps=1e-5)
        w.add(name, "batch_norm", args, dict(x=x, w=wt, b=b, rm=rm, rv=rv, gy=gy, y=y, gx=gx, gw=gw, gb=gb,
                                             rm_out=rm_out, rv_out=rv_out))
    # cumulative moving average (momentum=None): two training steps
    x1, x2 = r32(4, 3, 2, 2, shift=1.0), r32(6, 3, 2, 2, scale=3.0)
    m = nn.BatchNorm2d(3, momentum=None).double()
    m(x1.double())
    m(x2.double())
    w.add("bn2d_cma", "batch_norm_cma", dict(momentum=None), dict(x1=x1, x2=x2, rm_out=m.running_mean, rv_out=m.running_var))


def linear_cases(w):
    cases = [("lin_2d", (5, 7), 4, True), ("lin_3d", (2, 3, 7), 4, True), ("lin_nobias", (6, 3), 2, False),
             ("lin_1d", (7,), 3, True)]
    for name, xs, out, has_b in cases:
        x, wt = r32(*xs), r32(out, xs[-1])
        b = r32(out) if has_b else None
        fn = lambda x_, w_, b_: F.linear(x_, w_, b_)
        gy = torch.randn_like(fn(x, wt, b))
        y, (gx, gw, gb) = grads64(fn, [x, wt, b], gy)
        w.add(name, "linear", {}, dict(x=x, w=wt, b=b, gy=gy, y=y, gx=gx, gw=gw, gb=gb))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "layers"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(a.out):
        if f.endswith(".npy"):
            os.remove(os.path.join(a.out, f))
    torch.manual_seed(20240501)
    torch.set_num_threads(1)
    w = Writer(a.out)
    conv_cases(w)
    pool_cases(w)
    bn_cases(w)
    linear_cases(w)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": w.cases}, f, indent=1)
    print(f"{len(w.cases)} cases written to {a.out}")


if __name__ == "__main__":
    main()
