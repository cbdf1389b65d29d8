#!/usr/bin/env python3
"""Reference values for tests/optim.rs, computed with optax (run by hand).

    python3 tests/reference/optax_reference.py > tests/reference/optax_values.rs && cargo fmt

Prints a Rust source file of constants: for each optimizer configuration the
parameters after each of STEPS updates, and the values of a few schedules at
steps 0..=SCHEDULE_STEPS. Everything is float64 (jax_enable_x64). The inputs
(initial parameters and the gradient sequence) are defined here and mirrored in
tests/optim.rs: parameters are the tuple (w: [2, 3], b: [3]), and the gradient
at step t (0-based) for flat leaf position i (w's 6 entries, then b's 3) is
((7 i + 3 t) mod 11 - 5) / 4, exact in binary floating point.

Inside optimizers optax passes the step count as int32, and with an int32 step
some of its schedules (linear, polynomial, exponential) compute in float32;
rjax computes schedules in float64. The difference is below 1e-7 relative, well
within the tests' tolerance of 1e-6; the schedule table below is evaluated at
int64 steps, so it is float64 throughout. DECAY_SGD_STAIRCASE starts at 0.125
(exact in float32) because one of its parameters nearly cancels at step 1,
which would magnify that float32 rounding.
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

STEPS = 5
SCHEDULE_STEPS = 10
W0 = [[0.5, -1.0, 0.25], [1.5, -0.75, 2.0]]
B0 = [0.1, -0.2, 0.3]


def grads(t):
    g = [((7 * i + 3 * t) % 11 - 5) / 4 for i in range(9)]
    return (jnp.array(g[:6], jnp.float64).reshape(2, 3), jnp.array(g[6:], jnp.float64))


def run(tx):
    params = (jnp.array(W0, jnp.float64), jnp.array(B0, jnp.float64))
    state = tx.init(params)
    out = []
    for t in range(STEPS):
        updates, state = tx.update(grads(t), state, params)
        params = optax.apply_updates(params, updates)
        assert params[0].dtype == jnp.float64
        out.append([float(v) for v in jnp.concatenate([params[0].ravel(), params[1]])])
    return out


def warmup_cosine():
    return optax.warmup_cosine_decay_schedule(0.0, 0.1, warmup_steps=2, decay_steps=5, end_value=0.01)


OPTIMIZERS = {
    "ADAM": optax.adam(0.01),
    # eps values large enough that where they enter the formula shows at 1e-6
    "ADAM_NESTEROV": optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-2, eps_root=1e-3, nesterov=True),
    "ADAMW": optax.adamw(0.01, weight_decay=0.1),
    "ADAMW_SCHEDULES": optax.adamw(
        optax.linear_schedule(0.001, 0.01, 3), weight_decay=optax.exponential_decay(0.5, 1, 0.5)
    ),
    "SGD": optax.sgd(0.1),
    "SGD_MOMENTUM": optax.sgd(0.1, momentum=0.9),
    "SGD_NESTEROV": optax.sgd(0.1, momentum=0.9, nesterov=True),
    "RMSPROP": optax.rmsprop(0.01),
    "RMSPROP_OPTIONS": optax.rmsprop(
        0.01, decay=0.95, eps=1e-2, initial_scale=0.1, eps_in_sqrt=False, momentum=0.9, nesterov=True,
        bias_correction=True,
    ),
    "RMSPROP_CENTERED": optax.rmsprop(0.01, eps=1e-2, centered=True, momentum=0.5),
    "CLIP_ADAM_WARMUP_COSINE": optax.chain(optax.clip_by_global_norm(1.0), optax.adam(warmup_cosine())),
    "CLIP_SGD": optax.chain(optax.clip_by_global_norm(2.4), optax.sgd(0.1)),
    "DECAY_SGD_STAIRCASE": optax.chain(
        optax.add_decayed_weights(1e-2),
        optax.sgd(optax.exponential_decay(0.125, 2, 0.5, transition_begin=1, staircase=True), momentum=0.9),
    ),
}

SCHEDULES = {
    "CONSTANT": optax.constant_schedule(0.3),
    "EXPONENTIAL": optax.exponential_decay(1.0, 3, 0.5),
    "EXPONENTIAL_STAIRCASE": optax.exponential_decay(1.0, 2, 0.5, transition_begin=2, staircase=True, end_value=0.3),
    "EXPONENTIAL_GROWTH": optax.exponential_decay(0.1, 2, 2.0, end_value=0.5),
    "COSINE": optax.cosine_decay_schedule(1.0, 8, alpha=0.1),
    "COSINE_EXPONENT": optax.cosine_decay_schedule(2.0, 6, exponent=2.0),
    "LINEAR": optax.linear_schedule(0.0, 1.0, 4, transition_begin=2),
    "POLYNOMIAL": optax.polynomial_schedule(1.0, 0.1, 2.0, 5, transition_begin=1),
    "JOIN": optax.join_schedules([optax.constant_schedule(1.0), optax.linear_schedule(1.0, 0.0, 4)], [3]),
    "WARMUP_COSINE": optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=3, decay_steps=8, end_value=0.1),
}


def main():
    print("//! Reference values for tests/optim.rs, printed by tests/reference/optax_reference.py")
    print(f"//! with optax {optax.__version__} and jax {jax.__version__} in float64 (jax_enable_x64).")
    print("//! Regenerate: python3 tests/reference/optax_reference.py > tests/reference/optax_values.rs && cargo fmt")
    print("//! Do not edit by hand.")
    print()
    print(f"pub const STEPS: usize = {STEPS};")
    print()
    print("/// Parameters (w's 6 entries, then b's 3) after each step, by configuration.")
    print(f"pub const OPTIMIZERS: [(&str, [[f64; 9]; {STEPS}]); {len(OPTIMIZERS)}] = [")
    for name, tx in OPTIMIZERS.items():
        rows = run(tx)
        print(f'    ("{name}", [')
        for r in rows:
            print("        [" + ", ".join(repr(v) for v in r) + "],")
        print("    ]),")
    print("];")
    print()
    n = SCHEDULE_STEPS + 1
    print(f"/// Schedule values at steps 0..={SCHEDULE_STEPS}.")
    print(f"pub const SCHEDULES: [(&str, [f64; {n}]); {len(SCHEDULES)}] = [")
    for name, s in SCHEDULES.items():
        # int64 steps: with an int32 step some optax schedules compute in float32
        vals = [float(s(jnp.asarray(t, jnp.int64))) for t in range(n)]
        print(f'    ("{name}", [' + ", ".join(repr(v) for v in vals) + "]),")
    print("];")


if __name__ == "__main__":
    main()
