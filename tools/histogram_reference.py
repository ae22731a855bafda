#!/usr/bin/env python3
"""Golden histograms for actlab's TensorBoard writer.

Follows PyTorch 1.13's SummaryWriter.add_histogram with the default bins="tensorflow":
SummaryWriter.default_bins (v = 1e-12, times 1.1 while v < 1e20; negatives reversed, 0,
positives) and torch/utils/tensorboard/summary.py make_histogram (np.histogram counts, then the
buckets cut to the occupied range plus one empty bucket on the left). Needs only numpy, so it
runs where PyTorch is not installed; the inputs are float32, as a float32 tensor would be, and
are converted to float64 before counting, as PyTorch's histogram() does.

Writes tests/golden/tensorboard/histograms.json (inputs and expected HistogramProto fields).
Usage: python3 tools/histogram_reference.py [output.json]
"""
import json
import os
import sys

import numpy as np


def default_bins():
    v = 1e-12
    buckets = []
    neg_buckets = []
    while v < 1e20:
        buckets.append(v)
        neg_buckets.append(-v)
        v *= 1.1
    return neg_buckets[::-1] + [0] + buckets


def make_histogram(values, bins):
    """PyTorch's make_histogram (max_bins=None), on float64 values."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start = int(start)
    end = int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "num": float(len(values)),
        "sum": float(values.sum()),
        "sum_squares": float(values.dot(values)),
        "bucket_limit": [float(x) for x in limits.tolist()],
        "bucket": [float(x) for x in counts.tolist()],
    }


def cases():
    rng = np.random.RandomState(20240527)
    yield "normal_100", rng.randn(100)
    yield "uniform_unit_64", rng.rand(64)
    yield "relu_like_200", np.maximum(rng.randn(200) * 3.0, 0.0)
    yield "single_zero", np.array([0.0])
    yield "constant_3_5", np.full(10, 3.5)
    yield "all_negative_30", -np.abs(rng.randn(30)) - 0.5
    yield "wide_magnitudes", np.array([1e-13, -1e-13, 1e-12, -2e-12, 5e-7, -3.0, 1e10, -1e15,
                                       1e19, 0.0, 7.0])
    yield "beyond_top_edge", np.array([1.0, 2.0, 3e20, -5e25])
    yield "integers_0_to_9", np.repeat(np.arange(10.0), np.arange(1, 11))
    yield "large_1000", rng.randn(1000) * 0.01 + 0.1


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "tests", "golden", "tensorboard", "histograms.json")
    bins = default_bins()
    result = {
        "source": "tools/histogram_reference.py (PyTorch 1.13 make_histogram with default_bins)",
        "num_default_bins": len(bins),
        "default_bins_first": bins[:3],
        "default_bins_last": bins[-3:],
        "cases": [],
    }
    for name, raw in cases():
        values32 = np.asarray(raw, dtype=np.float32)
        values = values32.astype(float)
        entry = {"name": name, "values": [float(x) for x in values.tolist()]}
        entry.update(make_histogram(values, bins))
        result["cases"].append(entry)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        # One line per case keeps the file small and its diffs readable.
        f.write("{\n")
        for key in ("source", "num_default_bins", "default_bins_first", "default_bins_last"):
            f.write(f" {json.dumps(key)}: {json.dumps(result[key])},\n")
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, separators=(",", ":")) for c in result["cases"]))
        f.write("\n ]\n}\n")
    print(f"wrote {len(result['cases'])} cases to {out}")


if __name__ == "__main__":
    main()
