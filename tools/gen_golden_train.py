#!/usr/bin/env python3
"""Golden data for losses, optimizers, LR schedulers, RNN and nn.init gains, from PyTorch 1.13.1.

Writes tests/golden/train/{losses,optim,rnn,init}.json. Run from the repository root:
    /usr/bin/python3 tools/gen_golden_train.py   (the interpreter with PyTorch)
Float32 values are stored as the exact doubles of the float32 numbers.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "train")


def t2j(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "data": [float(v) if t.is_floating_point() else int(v) for v in t.reshape(-1).tolist()]}


def loss_cases():
    g = torch.Generator().manual_seed(1)
    cases = []

    def run(name, fn, x, target, kw, wrt_x=True):
        x = x.clone().requires_grad_(True)
        out = fn(x, target, **kw)
        gy = torch.randn(out.shape, generator=g) if out.dim() > 0 else torch.tensor(0.75)
        out.backward(gy)
        c = {"name": name, "fn": fn.__name__, "input": t2j(x), "target": t2j(target), "out": t2j(out),
             "gy": t2j(gy), "gx": t2j(x.grad)}
        for k, v in kw.items():
            c[k] = t2j(v) if isinstance(v, torch.Tensor) else v
        cases.append(c)

    N, C = 6, 5
    logits = torch.randn(N, C, generator=g) * 2
    tgt = torch.randint(0, C, (N,), generator=g)
    tgt_ign = tgt.clone()
    tgt_ign[2] = -100
    tgt_ign7 = tgt.clone()
    tgt_ign7[1] = 3
    tgt_ign7[4] = 3
    w = torch.rand(C, generator=g) + 0.5
    probs = torch.softmax(torch.randn(N, C, generator=g), 1)
    for red in ["mean", "sum", "none"]:
        run("ce_" + red, F.cross_entropy, logits, tgt, {"reduction": red})
        run("ce_w_" + red, F.cross_entropy, logits, tgt, {"reduction": red, "weight": w})
        run("ce_ls_" + red, F.cross_entropy, logits, tgt, {"reduction": red, "label_smoothing": 0.1})
        run("ce_w_ls_" + red, F.cross_entropy, logits, tgt, {"reduction": red, "weight": w, "label_smoothing": 0.1})
        run("ce_ign_ls_" + red, F.cross_entropy, logits, tgt_ign, {"reduction": red, "label_smoothing": 0.1})
        run("ce_w_ign3_ls_" + red, F.cross_entropy, logits, tgt_ign7,
            {"reduction": red, "weight": w, "ignore_index": 3, "label_smoothing": 0.1})
        run("ce_prob_" + red, F.cross_entropy, logits, probs, {"reduction": red})
        run("ce_prob_w_ls_" + red, F.cross_entropy, logits, probs, {"reduction": red, "weight": w, "label_smoothing": 0.1})
        logp = torch.log_softmax(torch.randn(N, C, generator=g), 1)
        run("nll_" + red, F.nll_loss, logp, tgt_ign, {"reduction": red})
        run("nll_w_" + red, F.nll_loss, logp, tgt_ign, {"reduction": red, "weight": w})
        p = torch.sigmoid(torch.randn(2, 7, generator=g) * 2)
        p[0, 0] = 0.0
        p[1, 3] = 1.0
        y = torch.rand(2, 7, generator=g)
        y[0, 1] = 1.0
        y[1, 2] = 0.0
        bw = torch.rand(7, generator=g)
        run("bce_" + red, F.binary_cross_entropy, p, y, {"reduction": red})
        run("bce_w_" + red, F.binary_cross_entropy, p, y, {"reduction": red, "weight": bw})
        z = torch.randn(2, 7, generator=g) * 4
        z[0, 0] = 30.0
        z[1, 0] = -30.0
        pw = torch.rand(7, generator=g) * 3
        run("bcel_" + red, F.binary_cross_entropy_with_logits, z, y, {"reduction": red})
        run("bcel_w_pw_" + red, F.binary_cross_entropy_with_logits, z, y, {"reduction": red, "weight": bw, "pos_weight": pw})
        run("mse_" + red, F.mse_loss, torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), {"reduction": red})
    # [N, C, d] input
    run("ce_3d_mean", F.cross_entropy, torch.randn(2, 4, 3, generator=g), torch.randint(0, 4, (2, 3), generator=g),
        {"reduction": "mean"})
    run("ce_3d_none", F.cross_entropy, torch.randn(2, 4, 3, generator=g), torch.randint(0, 4, (2, 3), generator=g),
        {"reduction": "none"})
    return cases


def optim_cases():
    g = torch.Generator().manual_seed(2)
    p0 = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]
    grads = [[torch.randn(3, 4, generator=g), torch.randn(5, generator=g)] for _ in range(5)]
    configs = [
        ("sgd", {"lr": 0.1}),
        ("sgd", {"lr": 0.1, "momentum": 0.9}),
        ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
        ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1, "maximize": True}),
        ("adam", {"lr": 0.01}),
        ("adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
        ("adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
        ("adamw", {"lr": 0.01}),
        ("adamw", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    ]
    out = {"params": [t2j(p) for p in p0], "grads": [[t2j(x) for x in step] for step in grads], "cases": []}
    for kind, kw in configs:
        ps = [p.clone().requires_grad_(True) for p in p0]
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
        opt = cls(ps, **kw)
        traj = []
        for step in grads:
            for p, gr in zip(ps, step):
                p.grad = gr.clone()
            opt.step()
            traj.append([t2j(p) for p in ps])
        kwj = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        out["cases"].append({"kind": kind, "options": kwj, "trajectory": traj})
    sched = []
    for kind, kw, n in [("step", {"step_size": 3, "gamma": 0.5}, 12), ("step", {"step_size": 1}, 5),
                        ("cosine", {"T_max": 5, "eta_min": 0.01}, 16), ("cosine", {"T_max": 3}, 10)]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        s = (torch.optim.lr_scheduler.StepLR if kind == "step" else torch.optim.lr_scheduler.CosineAnnealingLR)(opt, **kw)
        lrs = [s.get_last_lr()[0]]
        for _ in range(n):
            opt.step()
            s.step()
            lrs.append(s.get_last_lr()[0])
        sched.append({"kind": kind, "options": kw, "lr": 0.1, "lrs": lrs})
    out["schedulers"] = sched
    return out


def rnn_cases():
    g = torch.Generator().manual_seed(3)
    cases = []
    for name, kw, h0_given, unbatched in [
        ("tanh_1", {"num_layers": 1}, False, False),
        ("tanh_2_h0", {"num_layers": 2}, True, False),
        ("relu_2_bf", {"num_layers": 2, "nonlinearity": "relu", "batch_first": True}, True, False),
        ("tanh_nobias", {"num_layers": 1, "bias": False}, False, False),
        ("tanh_2_unbatched", {"num_layers": 2}, True, True),
    ]:
        torch.manual_seed(0)
        rnn = torch.nn.RNN(5, 6, **kw)
        with torch.no_grad():
            for p in rnn.parameters():
                p.copy_(torch.rand(p.shape, generator=g) * 0.8 - 0.4)
        T, N = 4, 3
        bf = kw.get("batch_first", False)
        shape = [T, 5] if unbatched else ([N, T, 5] if bf else [T, N, 5])
        x = torch.randn(shape, generator=g).requires_grad_(True)
        h0 = None
        if h0_given:
            hshape = [kw["num_layers"], 6] if unbatched else [kw["num_layers"], N, 6]
            h0 = (torch.randn(hshape, generator=g) * 0.5).requires_grad_(True)
        out, hn = rnn(x, h0)
        gy = torch.randn(out.shape, generator=g)
        ghn = torch.randn(hn.shape, generator=g)
        ((out * gy).sum() + (hn * ghn).sum()).backward()
        c = {"name": name, "options": kw, "input_size": 5, "hidden_size": 6, "x": t2j(x), "out": t2j(out), "hn": t2j(hn),
             "gy": t2j(gy), "ghn": t2j(ghn), "gx": t2j(x.grad), "repr": repr(rnn),
             "params": [[n, t2j(p)] for n, p in rnn.named_parameters()],
             "grads": [[n, t2j(p.grad)] for n, p in rnn.named_parameters()]}
        if h0 is not None:
            c["h0"] = t2j(h0)
            c["gh0"] = t2j(h0.grad)
        cases.append(c)
    return cases


def init_cases():
    gains = []
    for nl, param in [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
                      ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
                      ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                      ("leaky_relu", 0.2), ("leaky_relu", 0.0), ("selu", None)]:
        gains.append({"nonlinearity": nl, "param": param, "gain": torch.nn.init.calculate_gain(nl, param)})
    fans = []
    for shape in [[3, 4], [16, 3, 3, 3], [8, 2, 5], [2, 3, 4, 5, 6]]:
        fi, fo = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        fans.append({"shape": shape, "fan_in": fi, "fan_out": fo})
    return {"gains": gains, "fans": fans}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in [("losses", {"cases": loss_cases()}), ("optim", optim_cases()), ("rnn", {"cases": rnn_cases()}),
                       ("init", init_cases())]:
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(data, f, separators=(",", ":"))
    print("torch", torch.__version__)


if __name__ == "__main__":
    main()
