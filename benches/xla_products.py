"""The report's MLP step reduced to its 11 matrix products (the forward ones,
the weight gradients, the activation gradients but the input's), 100 steps in
one jitted fori_loop, timed on jaxlib's own XLA CPU backend or, with
--pjrt-plugin PATH, on a PJRT CPU plugin (rjax's: the XLA rjax compiles with).

    python benches/xla_products.py
    XLA_FLAGS=--xla_cpu_use_xnnpack=false python benches/xla_products.py \
        --pjrt-plugin ~/.cache/rjax/plugins/cpu/xla_cpu_pjrt.so

Prints the median and best milliseconds per step of 5 timed calls, and the
median times 351 (the steps of an epoch of 45,000 images)."""
import argparse
import os
import time

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--pjrt-plugin", help="a PJRT CPU plugin to run on instead of jaxlib's CPU backend")
p.add_argument("--steps", type=int, default=100)
a = p.parse_args()
if not a.pjrt_plugin:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

if a.pjrt_plugin:
    from jax._src import xla_bridge  # noqa: E402

    xla_bridge.register_plugin("pjrt_plugin", priority=500, library_path=a.pjrt_plugin,
                               options={"cpu_device_count": min(4, os.cpu_count() or 1)})
    jax.config.update("jax_platforms", "pjrt_plugin")

WIDTHS, BATCH = [3072, 1024, 512, 256, 10], 128
keys = jax.random.split(jax.random.key(0), 9)
ws = [jax.random.normal(keys[i], (WIDTHS[i], WIDTHS[i + 1])) * 0.01 for i in range(4)]
x = jax.random.normal(keys[4], (BATCH, WIDTHS[0]))
dys = [jax.random.normal(keys[5 + i], (BATCH, WIDTHS[i + 1])) for i in range(4)]


def step(_, state):
    ws, acc = state
    h, inputs = x, []
    for w in ws:
        inputs.append(h)
        h = h @ w * 1e-3
    grads, d = [None] * 4, dys[3] + h * 0.0
    for layer in (3, 2, 1, 0):
        grads[layer] = inputs[layer].T @ d
        if layer > 0:
            d = (d @ ws[layer].T) * 1e-3 + dys[layer - 1]
    return [w - 1e-6 * g for w, g in zip(ws, grads)], acc + h.sum()


run = jax.jit(lambda ws: jax.lax.fori_loop(0, a.steps, step, (ws, 0.0)))
jax.block_until_ready(run(ws))
times = []
for _ in range(5):
    t = time.perf_counter()
    jax.block_until_ready(run(ws))
    times.append((time.perf_counter() - t) / a.steps)
times.sort()
where = a.pjrt_plugin or f"jaxlib {jax.__version__}"
print(f"{where}: {times[2] * 1e3:.2f} ms a step (best {times[0] * 1e3:.2f}), {times[2] * 351:.2f} s an epoch of 351 steps")
