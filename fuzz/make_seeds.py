#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/seed-*): small valid files of every kind each
reader accepts, and a few near misses. Standard library only. Inputs the fuzzers found (crash-*, regression
inputs) live beside the seeds and are not touched here. Run from anywhere: python3 fuzz/make_seeds.py"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- .npy -------------------------------------------------------------------------------------------------
def npy(descr, shape, data, fortran=False, version=1):
    shape_text = "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")" if shape else "()"
    if len(shape) == 1:
        shape_text = f"({shape[0]},)"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_text)
    prelude = 10 if version == 1 else 12
    header += " " * ((64 - (prelude + len(header) + 1) % 64) % 64) + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + data


put("npy", "f4-2x3", npy("<f4", [2, 3], struct.pack("<6f", 0, -0.0, 1.5, float("inf"), float("nan"), -2)))
put("npy", "f8-scalar", npy("<f8", [], struct.pack("<d", 3.25)))
put("npy", "f4-empty", npy("<f4", [0], b""))
put("npy", "f4-0x5", npy("<f4", [0, 5], b""))
put("npy", "f8-v2", npy("<f8", [2], struct.pack("<2d", 1, 2), version=2))
put("npy", "f4-v3", npy("<f4", [1, 1, 1], struct.pack("<f", 7), version=3))
put("npy", "fortran", npy("<f4", [2, 2], bytes(16), fortran=True))
put("npy", "big-endian", npy(">f4", [1], bytes(4)))
put("npy", "int64", npy("<i8", [1], bytes(8)))
put("npy", "truncated", npy("<f4", [4], bytes(8)))
put("npy", "trailing", npy("<f4", [1], bytes(8)))
put("npy", "huge-shape", npy("<f4", [1 << 40, 1 << 40], b""))


# ---- IDX --------------------------------------------------------------------------------------------------
def idx(dims, data, kind=0x08):
    return bytes([0, 0, kind, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


labels = idx([5], bytes([0, 1, 2, 9, 3]))
images = idx([2, 3, 3], bytes(range(18)))
put("idx", "labels", labels)
put("idx", "images", images)
put("idx", "rank4", idx([1, 2, 1, 2], bytes(4)))
put("idx", "labels.gz", zlib.compress(labels, 9, wbits=31))
put("idx", "images.gz", zlib.compress(images, 9, wbits=31))
put("idx", "two-members.gz", zlib.compress(images[:10], wbits=31) + zlib.compress(images[10:], wbits=31))
put("idx", "float-type", idx([1], bytes(4), kind=0x0D))
put("idx", "truncated", idx([4], bytes(2)))
put("idx", "huge-dims", idx([0xFFFFFFFF, 0xFFFFFFFF], b""))
put("idx", "zero-dim", idx([3, 0], b""))


# ---- checkpoints (include/actlab/nn/checkpoint.h); the fuzz input's last byte selects the CRC fix-up -------
def ckpt(tensors, metadata):
    body = struct.pack("<Q", len(tensors))
    for name, code, shape, data in tensors:
        body += struct.pack("<I", len(name)) + name.encode() + bytes([code, len(shape)])
        body += b"".join(struct.pack("<q", s) for s in shape) + struct.pack("<Q", len(data)) + data
    body += struct.pack("<Q", len(metadata))
    for k, v in metadata.items():
        body += struct.pack("<I", len(k)) + k.encode() + struct.pack("<I", len(v)) + v.encode()
    total = 8 + 4 + 4 + 8 + len(body) + 4
    head = b"ACTLABCK" + struct.pack("<IIQ", 1, 0, total)
    return head + body + struct.pack("<I", zlib.crc32(head + body))


model = ckpt([("0.weight", 0, [2, 2], struct.pack("<4f", 1, 2, 3, 4)), ("0.bias", 0, [2], struct.pack("<2f", 0, 1)),
              ("1.running_mean", 1, [], struct.pack("<d", 0.5)), ("1.num_batches_tracked", 2, [], struct.pack("<q", 7)),
              ("mask", 3, [3], bytes([0, 1, 1]))],
             {"model": "mlp", "act": "ReLU", "kind": "actlab-train"})
put("checkpoint", "model", model + b"\x00")
put("checkpoint", "model-fixup", model + b"\x01")
put("checkpoint", "empty", ckpt([], {}) + b"\x00")
put("checkpoint", "zero-size", ckpt([("e", 0, [0, 3], b"")], {"k": ""}) + b"\x00")
put("checkpoint", "bad-crc", model[:-1] + bytes([model[-1] ^ 1]) + b"\x00")
put("checkpoint", "truncated", model[: len(model) // 2] + b"\x00")


# ---- PNG --------------------------------------------------------------------------------------------------
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, bit_depth, color_type, raw_rows, extra=b"", interlace=0):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw_rows)) +
            chunk(b"IEND", b""))


put("png", "gray-1x1", png(1, 1, 8, 0, b"\x00\x80"))
put("png", "rgb-2x2", png(2, 2, 8, 2, b"\x00" + bytes(range(6)) + b"\x01" + bytes(range(6))))
put("png", "rgba-2x1", png(2, 1, 8, 6, b"\x00" + bytes(range(8))))
put("png", "gray-alpha-1x2", png(1, 2, 8, 4, b"\x00\x10\x20\x02\x30\x40"))
put("png", "gray16-2x1", png(2, 1, 16, 0, b"\x00\x12\x34\xff\xff"))
put("png", "gray1-3x2", png(3, 2, 1, 0, b"\x00\xa0\x00\x40"))
put("png", "palette-trns-2x2",
    png(2, 2, 8, 3, b"\x00\x00\x01\x00\x01\x00", chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255])) + chunk(b"tRNS", b"\x80")))
put("png", "interlaced-rgb-3x3", png(3, 3, 8, 2, bytes(
    b"".join(b"\x00" + bytes(3 * w) for w, h in [(1, 1), (1, 1), (1, 1), (2, 1), (1, 1), (2, 1), (3, 1)])), interlace=1))
put("png", "truncated", png(2, 2, 8, 2, bytes(14))[:40])
put("png", "huge-header", png(65535, 65535, 8, 6, b"\x00"))

# ---- activation specs -------------------------------------------------------------------------------------
for i, spec in enumerate(["ReLU", "ReLU(inplace=True)", "LeakyReLU(0.2)", "LeakyReLU(negative_slope=-1e-3, inplace=True)",
                          "GELU(approximate='tanh')", "GELU(approximate=\"none\")", "Softmax(dim=1)", "LogSoftmax(dim=-1)",
                          "Threshold(0.1, 20)", "Hardtanh(min_val=-2.0, max_val=2.0)", "RReLU(lower=0.1, upper=0.3)",
                          "PReLU(num_parameters=1, init=0.25)", "Softplus(beta=2, threshold=10)", "GLU(dim=-1)",
                          "CELU(alpha=1.5)", "ELU(alpha=inf)", "Softshrink(lambd=nan)", "Softmax2d()", " Mish ( ) "]):
    put("spec", f"{i:02d}", spec)

# ---- arguments (NUL-separated, after "actlab") ------------------------------------------------------------
for i, args in enumerate([["eval", "--act", "ReLU", "--in", "x.npy", "--out", "y.npy"],
                          ["eval", "--act", "ELU", "--in", "x", "--out", "y", "--grad-out", "g", "--grad-in", "h"],
                          ["train", "--model", "mlp", "--act", "Tanh", "--epochs", "2", "--lr", "1e-3", "--batchnorm"],
                          ["train", "--model=seed-cnn", "--act=ReLU", "--save", "m.ckpt", "--save-every", "5"],
                          ["compare", "--quick", "--binary-classes", "0,6", "--acts", "ReLU,GELU"],
                          ["visualize", "--input", "random", "--count", "4", "--seed", "3"],
                          ["bench", "--sizes", "4096", "--json"], ["list", "--markdown"], ["--help"], ["--version"],
                          ["train", "--help"], ["--reference-kernels", "list"], ["train", "--momentum", "2"]]):
    put("args", f"{i:02d}", "\0".join(args))
