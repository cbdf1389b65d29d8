"""The report's MLP in JAX + Flax + Optax, written as a JAX user would.

  --mode per-batch   one jitted step per batch, batches sent from the host
                     (what the report did)
  --mode scan        the training set on the device as uint8; each epoch one
                     jitted lax.scan over the batches of a permutation drawn
                     on the device, state donated; validation one program
  --pjrt-plugin PATH run on that PJRT CPU plugin instead of jaxlib's own CPU
                     backend: rjax's plugin, for JAX's program compiled by
                     the same XLA as rjax's

Writes metrics.json (benches/peers/common.py) into --out."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

args = common.parse(__doc__)
args.add_argument("--mode", choices=["per-batch", "scan"], default="per-batch")
args.add_argument("--pjrt-plugin", help="a PJRT CPU plugin to run on (rjax's: the same XLA as rjax)")
args = args.parse_args()
if args.device == "cpu" and not args.pjrt_plugin:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402

if args.pjrt_plugin:
    from jax._src import xla_bridge  # noqa: E402

    # as many devices as rjax asks the plugin for (src/device/runtime.rs)
    xla_bridge.register_plugin("pjrt_plugin", priority=500, library_path=args.pjrt_plugin,
                               options={"cpu_device_count": min(4, os.cpu_count() or 1)})
    jax.config.update("jax_platforms", "pjrt_plugin")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import linen as nn  # noqa: E402


class MLP(nn.Module):
    rate: float

    @nn.compact
    def __call__(self, x, train):
        for w in common.WIDTHS[1:-1]:
            x = nn.relu(nn.Dense(w)(x))
            x = nn.Dropout(self.rate, deterministic=not train)(x)
        return nn.Dense(common.WIDTHS[-1])(x)


def main():
    (xtr, ytr), (xva, yva), (xte, yte) = common.load_cifar(args.data_dir, args.val_size)
    dev = jax.devices()[0]
    model = MLP(args.dropout)
    key = jax.random.key(args.seed)
    k_init, k_drop, k_shuffle = jax.random.split(key, 3)
    params = model.init(k_init, jnp.zeros((1, 3072), jnp.float32), train=False)["params"]
    tx = optax.adam(args.lr, eps=1e-8)
    opt = tx.init(params)
    bs = args.batch_size
    steps = len(xtr) // bs

    def loss_fn(p, x, y, k):
        logits = model.apply({"params": p}, x, train=True, rngs={"dropout": k})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (logits.argmax(-1) == y).sum()

    def step(p, o, x, y, k):
        (loss, right), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y, k)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss, right

    def evaluate_batch(p, x, y):
        logits = model.apply({"params": p}, x, train=False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
        return loss, (logits.argmax(-1) == y).sum()

    if args.mode == "per-batch":
        jstep = jax.jit(step, donate_argnums=(0, 1))
        jeval = jax.jit(evaluate_batch)

        def train_epoch(p, o, epoch):
            order = np.random.default_rng(args.seed * 1000 + epoch).permutation(len(xtr))
            ek = jax.random.fold_in(k_drop, epoch)
            losses, rights = [], []
            for i in range(steps):
                idx = order[i * bs:(i + 1) * bs]
                x = jnp.asarray(xtr[idx], dtype=jnp.float32) / 255.0
                p, o, l, r = jstep(p, o, x, jnp.asarray(ytr[idx]), jax.random.fold_in(ek, i))
                losses.append(l)
                rights.append(r)
            return p, o, float(jnp.stack(losses).mean()), float(jnp.stack(rights).sum()) / (steps * bs)

        def evaluate(p, x_all, y_all):
            loss, right = 0.0, 0
            for i in range(0, len(x_all), 1000):
                l, r = jeval(p, jnp.asarray(x_all[i:i + 1000], jnp.float32) / 255.0, jnp.asarray(y_all[i:i + 1000]))
                loss, right = loss + l, right + r
            return float(loss) / len(x_all), float(right) / len(x_all)
    else:
        xtr_d, ytr_d = jax.device_put(xtr, dev), jax.device_put(ytr, dev)

        @jax.jit
        def eval_set(p, x_all, y_all):
            xb = x_all.reshape(-1, 1000, 3072)
            yb = y_all.reshape(-1, 1000)

            def body(c, xy):
                l, r = evaluate_batch(p, xy[0].astype(jnp.float32) / 255.0, xy[1])
                return (c[0] + l, c[1] + r), None
            (loss, right), _ = jax.lax.scan(body, (0.0, 0), (xb, yb))
            return loss / x_all.shape[0], right / x_all.shape[0]

        def epoch_fn(p, o, epoch):
            order = jax.random.permutation(jax.random.fold_in(k_shuffle, epoch), xtr_d.shape[0])[:steps * bs]
            order = order.reshape(steps, bs)
            ek = jax.random.fold_in(k_drop, epoch)

            def body(c, i_idx):
                i, idx = i_idx
                p, o = c
                x = xtr_d[idx].astype(jnp.float32) / 255.0
                p, o, l, r = step(p, o, x, ytr_d[idx], jax.random.fold_in(ek, i))
                return (p, o), (l, r)
            (p, o), (ls, rs) = jax.lax.scan(body, (p, o), (jnp.arange(steps), order))
            return p, o, ls.mean(), rs.sum() / (steps * bs)
        epoch_fn = jax.jit(epoch_fn, donate_argnums=(0, 1))
        xva_d, yva_d, xte_d, yte_d = (jax.device_put(a, dev) for a in (xva, yva, xte, yte))

        def train_epoch(p, o, epoch):
            p, o, l, a = epoch_fn(p, o, epoch)
            return p, o, float(l), float(a)

        def evaluate(p, x_all, y_all):
            if x_all is xva:
                x_all, y_all = xva_d, yva_d
            else:
                x_all, y_all = xte_d, yte_d
            l, a = eval_set(p, x_all, y_all)
            return float(l), float(a)

    rec = common.Recorder(args, f"jax+flax {args.mode}" + (", rjax's plugin" if args.pjrt_plugin else ""), f"{dev.device_kind} ({dev.platform}), jax {jax.__version__}")
    stopping, best = common.Stopping(args.patience), params
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        params, opt, tl, ta = train_epoch(params, opt, epoch)
        t1 = time.perf_counter()
        vl, va = evaluate(params, xva, yva)
        rec.epoch(epoch, tl, ta, t1 - t0, vl, va, time.perf_counter() - t1, steps)
        verdict = stopping.observe(epoch, va)
        if verdict == "better":
            best = jax.tree_util.tree_map(lambda a: np.asarray(a), params)
        elif verdict == "stop":
            break
    test_loss, test_acc = evaluate(jax.device_put(best, dev), xte, yte)
    stats = dev.memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    rec.finish(stopping, test_loss, test_acc, peak / 2**20 if peak else None)


main()
