"""How the side-by-side tools start PyTorch: Debian's python3 (where python3-torch lives) and, with
--torch-keep-memory, glibc's allocator told to keep freed memory.

PyTorch 1.13's CPU allocator hands every tensor to malloc/free; glibc serves large blocks with mmap and
returns freed memory to the system, so each new output faults in fresh pages. Where a page fault is
expensive (measured ~12 us on the development VM, where a 64 MB ReLU spends 0.25 s faulting), that cost,
not the kernel, decides PyTorch's speed. --torch-keep-memory sets MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_ and MALLOC_TOP_PAD_ so freed memory is reused: PyTorch's kernels measured
without that overhead (the fair comparison with actlab's caching allocator).
"""
import os
import sys

KEEP_MEMORY_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 32),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 36),
    "MALLOC_TOP_PAD_": str(1 << 30),
}


def start():
    """Re-executes this script under /usr/bin/python3 when torch is missing, and with the allocator
    settings when --torch-keep-memory is given (then removed from sys.argv). Returns whether the
    allocator keeps memory."""
    keep = "--torch-keep-memory" in sys.argv
    env_missing = keep and any(os.environ.get(k) != v for k, v in KEEP_MEMORY_ENV.items())
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    if env_missing or not have_torch:
        exe = sys.executable
        if not have_torch:
            if sys.executable == "/usr/bin/python3" or not os.path.exists("/usr/bin/python3"):
                raise ImportError("PyTorch is not installed: apt-get install python3-torch")
            exe = "/usr/bin/python3"
        env = dict(os.environ, **(KEEP_MEMORY_ENV if keep else {}))
        os.execve(exe, [exe] + sys.argv, env)
    if keep:
        sys.argv.remove("--torch-keep-memory")
    return keep


def actlab_env():
    """The environment for the actlab side: without the PyTorch side's allocator settings."""
    return {k: v for k, v in os.environ.items() if k not in KEEP_MEMORY_ENV}
