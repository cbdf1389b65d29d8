"""JAX's time for the training step of benches/jit.rs (the report's MLP,
3072 -> 1024 -> 512 -> 256 -> 10, ReLU, softmax cross-entropy, batch 128, SGD
update), jitted on the CPU, for side-by-side comparison with
`cargo bench --bench jit` in docs/benchmarks.md.

Run: python3 benches/jax_mlp_step.py   (needs `pip install jax`)
"""
import time

import jax
import jax.numpy as jnp

WIDTHS = [3072, 1024, 512, 256, 10]
BATCH = 128
LR = 1e-4


def init(key):
    params = []
    for i, (a, b) in enumerate(zip(WIDTHS[:-1], WIDTHS[1:])):
        k = jax.random.fold_in(key, i)
        params.append((jax.random.normal(k, (a, b), jnp.float32) * (1.0 / a) ** 0.5, jnp.zeros((b,), jnp.float32)))
    return params


def loss(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i + 1 < len(params):
            h = jnp.maximum(h, 0.0)
    logp = h - jax.nn.logsumexp(h, axis=1, keepdims=True)
    return -(jax.nn.one_hot(y, 10) * logp).sum() / BATCH


def step(params, x, y):
    l, g = jax.value_and_grad(loss)(params, x, y)
    return [(w - gw * LR, b - gb * LR) for (w, b), (gw, gb) in zip(params, g)], l


def main():
    key = jax.random.key(0)
    x = jax.random.uniform(jax.random.fold_in(key, 1), (BATCH, 3072), jnp.float32)
    y = jax.random.randint(jax.random.fold_in(key, 2), (BATCH,), 0, 10)
    params = init(key)
    t = time.perf_counter()
    jstep = jax.jit(step, donate_argnums=0)
    params, l = jstep(params, x, y)
    l.block_until_ready()
    print(f"jax mlp step: first call (trace + compile + run) {1e3 * (time.perf_counter() - t):.0f} ms")
    for _ in range(20):
        params, l = jstep(params, x, y)
    l.block_until_ready()
    times = []
    for _ in range(10):
        t = time.perf_counter()
        for _ in range(20):
            params, l = jstep(params, x, y)
        l.block_until_ready()
        times.append((time.perf_counter() - t) / 20)
    times.sort()
    print(f"jax {jax.__version__} mlp step b128: median {1e3 * times[5]:.2f} ms, best {1e3 * times[0]:.2f} ms"
          f" (10 x 20 steps); epoch of 45,000 images at the median: {times[5] * 45000 / BATCH:.1f} s")


main()
