"""PyTorch's fp32 matmul rate (2048 x 2048, best of 5), for `bench train` to pick the OpenBLAS kernels PyTorch runs fastest
with. Prints one line: "gflops <value>". With OPENBLAS_VERBOSE=2 OpenBLAS names the kernels it chose ("Core: ...") on stderr.

Usage: python3 matmul_rate.py --threads 2
"""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
threads = p.parse_args().threads
torch.set_num_threads(threads)
n = 2048
a, b = torch.randn(n, n), torch.randn(n, n)
a @ b  # first call: thread start-up
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - start)
print(f"gflops {2 * n ** 3 / best / 1e9:.1f}")
