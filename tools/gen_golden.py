#!/usr/bin/env python3
"""Golden data for actlab's activations, computed by PyTorch 1.13.1.

Rerun with:  python3 tools/gen_golden.py            (from the repository root)
             python3 tools/gen_golden.py --out DIR  (somewhere else)

Needs python3-torch (1.13.1) and python3-numpy; the actlab build and tests never do. The output is
deterministic (fixed seeds, one thread) and is committed under tests/golden/activations/:

  <safe_name>.<array>.npy   safe_name = the spec with every non-alphanumeric character replaced by '_'
  manifest.json             every case: spec, module, kind, parameters, mode, input kind, files, shapes;
                            plus the exact RuntimeError messages of PyTorch's in-place rules.

Arrays per case (float32 unless noted):
  x     the input                        gy    the upstream gradient (1.0 at the special inputs)
  y     PyTorch's float32 output         gx    PyTorch's float32 input gradient (torch.autograd.grad)
  y64   float64 output  (float64)        gx64  float64 input gradient (float64)
  PReLU also: w (its float32 weight), gw (float32 weight gradient), gw64 (float64 weight gradient).
The float64 arrays are PyTorch's own float64 computation from the same float32 x, gy (and weight) cast to
float64: the exact reference against which float32 results are judged.
"""

import argparse
import ast
import copy
import json
import os
import re
import sys
import zlib

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError:  # e.g. a pyenv python3 first on PATH: fall back to Debian's, which has python3-torch
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

# (spec, options). Options: mode 'eval' (RReLU), inplace cases run on a non-leaf copy of x,
# n_random = how many random values follow the special ones (pointwise only).
SPECS = [
    "ReLU", "LeakyReLU()", "LeakyReLU(0.2)", "LeakyReLU(negative_slope=-0.5)", "Sigmoid", "Tanh",
    "ELU", "ELU(alpha=0.5)", "SELU", "CELU(alpha=2.0)", "GELU", "GELU(approximate='tanh')", "SiLU", "Mish",
    "Softplus", "Softplus(beta=2, threshold=10)", "Softsign", "Softshrink", "Softshrink(lambd=1.5)",
    "Hardshrink", "Tanhshrink", "Hardtanh", "Hardtanh(min_val=-2.0, max_val=3.0)", "ReLU6", "Hardsigmoid",
    "Hardswish", "LogSigmoid", "Threshold(threshold=0.1, value=20.0)",
    "RReLU", "RReLU(lower=0.1, upper=0.3)",
    # in-place variants (backward reads the output or a copy of the input): fewer random values
    "ReLU(inplace=True)", "LeakyReLU(negative_slope=0.2, inplace=True)", "ELU(alpha=0.5, inplace=True)",
    "Hardtanh(inplace=True)", "SiLU(inplace=True)", "Hardswish(inplace=True)",
    # structured
    "Softmax(dim=1)", "Softmax(dim=0)", "LogSoftmax(dim=1)", "Softmin(dim=1)", "Softmax2d", "GLU", "GLU(dim=0)",
    "PReLU", "PReLU(num_parameters=3, init=0.1)",
]

# Rows of include/actlab/kernels/activation_table.h that are pointwise (ids below kNumPointwise).
POINTWISE = {
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Softplus",
    "Softsign", "Softshrink", "Hardshrink", "Tanhshrink", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish",
    "LogSigmoid", "Threshold",
}
N_RANDOM = 2000
N_RANDOM_INPLACE = 256
PARAM_NAMES = ["negative_slope", "alpha", "approximate", "beta", "threshold", "value", "lambd", "min_val",
               "max_val", "dim", "num_parameters", "lower", "upper", "inplace"]

F32 = np.float32


def safe_name(spec):
    return re.sub(r"[^A-Za-z0-9]", "_", spec)


def parse_spec(spec):
    """'LeakyReLU(negative_slope=0.2)' -> ('LeakyReLU', [], {'negative_slope': 0.2})."""
    call = ast.parse(spec if "(" in spec else spec + "()", mode="eval").body
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), spec
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return call.func.id, args, kwargs


def seed_of(spec):
    return zlib.crc32(spec.encode()) & 0x7FFFFFFF


def nextafters(k):
    k = F32(k)
    return [k, np.nextafter(k, F32(np.inf)), np.nextafter(k, F32(-np.inf))]


def kinks(module):
    """The op's kinks and boundaries (both signs; each with its float32 neighbours)."""
    name = type(module).__name__
    ks = [0.0]
    if name in ("Softshrink", "Hardshrink"):
        ks += [module.lambd]
    elif name == "Hardtanh" or name == "ReLU6":
        ks += [module.min_val, module.max_val]
    elif name in ("Hardsigmoid", "Hardswish"):
        ks += [3.0]
    elif name == "Threshold":
        ks += [module.threshold]
    elif name == "Softplus":
        ks += [module.threshold / module.beta, module.threshold]
    out = []
    for k in ks:
        for v in (k, -k):
            out += nextafters(v)
    return out


COMMON_SPECIALS = [0.0, -0.0, 1e-45, 1e-38, 1e-7, 0.5, 1.0, 2.0, 3.0, 5.0, 6.0, 8.0, 9.0, 10.0, 15.0, 17.0, 20.0,
                   30.0, 87.0, 88.0, 88.72, 89.0, 100.0, 104.0, 1e30, 3.4e38]


def special_values(module):
    vals = []
    for v in COMMON_SPECIALS:
        vals += [F32(v), F32(-v)]
    vals += [F32(np.inf), F32(-np.inf), F32(np.nan)]
    vals += kinks(module)
    # Deduplicate by bit pattern (keeps -0.0 apart from 0.0), in first-seen order.
    seen, out = set(), []
    for v in vals:
        b = np.array([v], dtype=F32).view(np.uint32)[0]
        if b not in seen:
            seen.add(b)
            out.append(v)
    return np.array(out, dtype=F32)


def random_values(rng, n):
    a = n // 3
    b = n // 3
    c = n - a - b
    u = rng.uniform(-10, 10, a)
    g = rng.normal(0, 3, b)
    mag = 10.0 ** rng.uniform(-8, 8, c)
    sgn = np.where(rng.random(c) < 0.5, -1.0, 1.0)
    return np.concatenate([u, g, sgn * mag]).astype(F32)


def structured_input(name, module, rng):
    """2-D or 4-D inputs, with large values for the stability checks."""
    if name in ("Softmax", "LogSoftmax", "Softmin"):
        x = rng.normal(0, 3, (6, 6))
        x[2] = [80, -80, 1000, 0, 1, -1000]
        x[3] = [-np.inf, 0, 1, 2, -np.inf, 3]  # masked entries
        x[4] = [88, 89, 100, 80, 79, 1e4]
        x[5] = [1e-45, -1e-45, 0, -0.0, 1e-7, -1e-7]
        return x.astype(F32)
    if name == "Softmax2d":
        x = rng.normal(0, 3, (2, 3, 4, 5))
        x[0, :, 0, 0] = [80, -80, 1000]
        x[1, :, 1, 2] = [-1000, 88, 89]
        x[1, :, 3, 4] = [0, -0.0, 0]
        return x.astype(F32)
    if name == "GLU":
        x = rng.normal(0, 3, (4, 6))
        x[1] = [80, -80, 1000, -1000, 88, -89]
        x[2, :3] = [0, -0.0, 1e-45]
        return x.astype(F32)
    if name == "PReLU":
        x = rng.normal(0, 3, (2, 3, 4, 5))
        # kinks: +0, -0, the smallest denormals; no inf/NaN (they would spoil the whole weight gradient)
        x[0, :, 0, 0] = [0.0, -0.0, 1e-45]
        x[1, :, 2, 2] = [-1e-45, 80, -80]
        return x.astype(F32)
    raise ValueError(name)


def build(spec):
    name, args, kwargs = parse_spec(spec)
    module = getattr(nn, name)(*args, **kwargs)
    mode = "train"
    if name == "RReLU":
        module.eval()  # training mode draws random slopes: not reproducible across libraries
        mode = "eval"
    return name, args, kwargs, module, mode


def forward_backward(module, x, gy, inplace):
    """y = module(x) and gx (and the parameters' gradients) by torch.autograd.grad."""
    x = x.clone().requires_grad_(True)
    inp = x.clone() if inplace else x  # in-place ops need a non-leaf input
    y = module(inp)
    params = list(module.parameters())
    grads = torch.autograd.grad(y, [x] + params, gy)
    return y.detach(), grads[0], list(grads[1:])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "golden", "activations"))
    opts = ap.parse_args()
    out_dir = os.path.normpath(opts.out)
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    cases = []
    written = set()
    names_seen = set()
    for spec in SPECS:
        name, args, kwargs, module, mode = build(spec)
        sname = safe_name(spec)
        assert sname not in names_seen, sname
        names_seen.add(sname)
        inplace = bool(kwargs.get("inplace", False))
        rng = np.random.default_rng(seed_of(spec))
        pointwise = name in POINTWISE or name == "RReLU"
        if pointwise:
            specials = special_values(module)
            n_rand = N_RANDOM_INPLACE if inplace else N_RANDOM
            x = np.concatenate([specials, random_values(rng, n_rand)])
            gy = rng.normal(0, 1, x.shape).astype(F32)
            gy[: len(specials)] = 1.0
            input_kind = "special_1d"
        else:
            x = structured_input(name, module, rng)
            with torch.no_grad():
                y_shape = tuple(module(torch.from_numpy(x)).shape)  # GLU halves a dimension
            gy = rng.normal(0, 1, y_shape).astype(F32)
            input_kind = "random_%dd" % x.ndim
            specials = None

        x32, gy32 = torch.from_numpy(x), torch.from_numpy(gy)
        y32, gx32, gw32 = forward_backward(module, x32, gy32, inplace)
        m64 = copy.deepcopy(module).double()
        y64, gx64, gw64 = forward_backward(m64, x32.double(), gy32.double(), inplace)

        arrays = {"x": x32, "gy": gy32, "y": y32, "gx": gx32, "y64": y64, "gx64": gx64}
        if gw32:
            arrays["w"] = module.weight.detach()
            arrays["gw"] = gw32[0]
            arrays["gw64"] = gw64[0]
        files = {}
        for key, t in arrays.items():
            a = t.detach().numpy()
            assert a.dtype == (np.float64 if key.endswith("64") else np.float32), (spec, key, a.dtype)
            fname = "%s.%s.npy" % (sname, key)
            np.save(os.path.join(out_dir, fname), np.ascontiguousarray(a))
            written.add(fname)
            files[key] = {"file": fname, "dtype": "float64" if a.dtype == np.float64 else "float32",
                          "shape": list(a.shape)}

        resolved = {}
        for p in PARAM_NAMES:
            if hasattr(module, p):
                v = getattr(module, p)
                resolved[p] = v if not isinstance(v, float) or np.isfinite(v) else repr(v)
        if name == "PReLU":
            resolved["init"] = kwargs.get("init", args[1] if len(args) > 1 else 0.25)
        case = {
            "spec": spec,
            "safe_name": sname,
            "module": name,
            "kind": "pointwise" if name in POINTWISE else "structured",
            "args": args,
            "kwargs": kwargs,
            "params": resolved,
            "mode": mode,
            "inplace": inplace,
            "input_kind": input_kind,
            "seed": seed_of(spec),
            "files": files,
        }
        if specials is not None:
            case["num_special"] = int(len(specials))
        cases.append(case)

    manifest = {
        "generator": "tools/gen_golden.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "notes": [
            "x, gy, y, gx are float32; y64, gx64 (and gw64) are PyTorch's float64 results from the same "
            "float32 inputs cast to float64.",
            "Pointwise inputs: the first num_special entries are edge values and kinks (gy = 1.0 there), "
            "then random values: uniform[-10,10], normal*3, log-uniform 1e-8..1e8 with random sign.",
            "In-place cases apply the module to a non-leaf copy of x; gx is the gradient w.r.t. x.",
            "RReLU runs in eval mode (slope (lower + upper) / 2).",
        ],
        "cases": cases,
        "errors": inplace_errors(),
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
    # Remove stale files from earlier runs with other specs.
    for fn in os.listdir(out_dir):
        if fn.endswith(".npy") and fn not in written:
            os.remove(os.path.join(out_dir, fn))
    total = sum(os.path.getsize(os.path.join(out_dir, fn)) for fn in os.listdir(out_dir))
    print("wrote %d cases, %d files, %.2f MB to %s" % (len(cases), len(written) + 1, total / 1e6, out_dir))


# ---- PyTorch's in-place rules: the exact messages -------------------------------------------------------

def _message(fn):
    try:
        fn()
    except RuntimeError as e:
        return str(e)
    raise AssertionError("expected a RuntimeError")


def inplace_errors():
    def negative_slope(module):
        def run():
            x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
            y = module(x.clone())  # non-leaf: the forward succeeds, backward refuses
            y.sum().backward()
        return run

    def leaf():
        x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        nn.ReLU(inplace=True)(x)

    def version_counter():
        x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        y = torch.sigmoid(x)
        y.mul_(2)
        y.sum().backward()

    def relu_inplace_after_sigmoid():
        x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        y = torch.sigmoid(x)
        z = nn.ReLU(inplace=True)(y)
        z.sum().backward()

    def version_counter_2d():
        x = torch.ones(2, 3, requires_grad=True)
        y = torch.tanh(x)
        y.add_(1)
        y.add_(1)
        y.sum().backward()

    def logsigmoid_input_modified():
        x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        a = x * 2
        y = nn.functional.logsigmoid(a)
        a.mul_(2)
        y.sum().backward()

    def rrelu_input_modified():
        x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        a = x * 2
        y = nn.functional.rrelu(a, training=True)
        a.mul_(2)
        y.sum().backward()

    return [
        {"name": "elu_inplace_negative_alpha", "when": "backward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); y = ELU(alpha=-0.5, inplace=True)(x.clone()); "
                 "y.sum().backward()",
         "message": _message(negative_slope(nn.ELU(alpha=-0.5, inplace=True)))},
        {"name": "leaky_relu_inplace_negative_slope", "when": "backward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); "
                 "y = LeakyReLU(negative_slope=-0.5, inplace=True)(x.clone()); y.sum().backward()",
         "message": _message(negative_slope(nn.LeakyReLU(negative_slope=-0.5, inplace=True)))},
        {"name": "leaf_inplace", "when": "forward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); ReLU(inplace=True)(x)",
         "message": _message(leaf)},
        {"name": "version_counter", "when": "backward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); y = sigmoid(x); y.mul_(2); y.sum().backward()",
         "message": _message(version_counter)},
        {"name": "relu_inplace_after_sigmoid", "when": "backward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); y = sigmoid(x); z = ReLU(inplace=True)(y); "
                 "z.sum().backward()",
         "message": _message(relu_inplace_after_sigmoid)},
        {"name": "version_counter_2d_twice", "when": "backward",
         "code": "x = ones(2, 3, requires_grad=True); y = tanh(x); y.add_(1); y.add_(1); y.sum().backward()",
         "message": _message(version_counter_2d)},
        {"name": "logsigmoid_input_modified", "when": "backward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); a = x * 2; y = logsigmoid(a); a.mul_(2); "
                 "y.sum().backward()",
         "message": _message(logsigmoid_input_modified)},
        {"name": "rrelu_input_modified", "when": "backward",
         "code": "x = tensor([-1.0, 0.5, 2.0], requires_grad=True); a = x * 2; y = rrelu(a, training=True); "
                 "a.mul_(2); y.sum().backward()",
         "message": _message(rrelu_input_modified)},
    ]


if __name__ == "__main__":
    main()
