"""NumPy (OpenBLAS) f32 matmul throughput on the shapes of benches/matmul.rs,
printed as GFLOP/s, for side-by-side comparison in docs/benchmarks.md.

Run: python3 benches/numpy_matmul.py   (needs `pip install numpy`)
"""
import time

import numpy as np

SHAPES = [(128, 3072, 1024), (128, 1024, 512), (1024, 1024, 1024)]


def rate(m, k, n, reps=30):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * m * k * n / best / 1e9


for m, k, n in SHAPES:
    print(f"numpy {m}x{k}x{n}: {rate(m, k, n):.1f} GFLOP/s (best of 30)")
