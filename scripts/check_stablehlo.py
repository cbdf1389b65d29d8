#!/usr/bin/env python3
"""Compile and run rjax's StableHLO modules with XLA; compare with rjax's CPU backend.

A development aid for the StableHLO lowering (src/backend/stablehlo/), not part
of CI. It uses the XLA bundled with a Python `jax` installation, kept outside
the repository:

    python3 -m venv /tmp/jaxvenv && /tmp/jaxvenv/bin/pip install jax
    RJAX_STABLEHLO_DUMP=/tmp/shlo cargo test --test stablehlo_text
    /tmp/jaxvenv/bin/python scripts/check_stablehlo.py /tmp/shlo [--platform cpu|cuda]

Each case directory written by tests/stablehlo_text.rs holds `module.mlir`
(the text `lower_graph` produced), `argN.npy` (captures, then inputs),
`outN.npy` (what rjax's CPU backend computed) and `tol.json` (exact, within N
ulps, or rtol/atol). The module text is handed to XLA as is (the same entry
point as PJRT_Client_Compile with format "mlir"), run on the arguments, and
every output is compared. Exits non-zero if any case fails.
"""

import argparse
import json
import pathlib
import sys

import numpy as np


def ulp_distance(a, b):
    """Units in the last place between same-dtype float arrays (NaN==NaN, inf==inf)."""
    ibits = {np.float32: np.int32, np.float64: np.int64}[a.dtype.type]
    ia = a.view(ibits).astype(np.int64)
    ib = b.view(ibits).astype(np.int64)
    # map the sign-magnitude bit patterns onto a monotonic integer line
    mn = np.iinfo(ibits).min
    ia = np.where(ia < 0, mn - ia, ia)
    ib = np.where(ib < 0, mn - ib, ib)
    d = np.abs(ia - ib).astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    d = np.where(both_nan, 0, d)
    return np.where(one_nan, np.inf, d)


def compare(got, want, tol):
    """(ok, detail) for one output."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return False, f"got {got.dtype}{list(got.shape)}, want {want.dtype}{list(want.shape)}"
    if got.size == 0:
        return True, "empty"
    kind = tol["kind"]
    if want.dtype.kind != "f":
        bad = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
        if bad.size:
            i = bad[0]
            return False, f"{bad.size} differ, first at {i}: got {got.reshape(-1)[i]}, want {want.reshape(-1)[i]}"
        return True, "exact"
    ulps = ulp_distance(got, want)
    worst = float(np.max(ulps))
    if kind == "exact":
        ok = worst == 0
    elif kind == "ulps":
        ok = worst <= tol["ulps"]
    else:
        g, w = got.astype(np.float64).reshape(-1), want.astype(np.float64).reshape(-1)
        same = (np.isnan(g) & np.isnan(w)) | (g == w)
        with np.errstate(invalid="ignore"):
            excess = np.where(same, -np.inf, np.abs(g - w) - (tol["atol"] + tol["rtol"] * np.abs(w)))
        excess = np.where(np.isnan(excess), np.inf, excess)  # NaN against a number
        ok = bool(np.all(excess <= 0))
        if not ok:
            i = int(np.argmax(excess))
            return False, f"max ulps {worst:g}; worst at {i}: got {g[i]!r}, want {w[i]!r}"
    if not ok:
        i = int(np.argmax(ulps.reshape(-1)))
        return False, (
            f"max ulps {worst:g} at {i}: got {got.reshape(-1)[i]!r}, want {want.reshape(-1)[i]!r}"
        )
    return True, f"max ulps {worst:g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump", type=pathlib.Path, help="the RJAX_STABLEHLO_DUMP directory")
    ap.add_argument("--platform", default="cpu", help="XLA platform (cpu, cuda)")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    args = ap.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    from jax._src import xla_bridge
    from jax._src.lib import xla_client

    backend = xla_bridge.get_backend(args.platform)
    device = backend.devices()[0]
    devices = xla_client.DeviceList((device,))
    print(f"jax {jax.__version__}, {backend.platform} ({device.device_kind})")

    failures = 0
    cases = sorted(p for p in args.dump.iterdir() if p.is_dir() and args.k in p.name)
    for case in cases:
        text = (case / "module.mlir").read_text()
        tol = json.loads((case / "tol.json").read_text())
        ins = [np.load(p) for p in sorted(case.glob("arg*.npy"), key=lambda p: int(p.stem[3:]))]
        wants = [np.load(p) for p in sorted(case.glob("out*.npy"), key=lambda p: int(p.stem[3:]))]
        try:
            exe = backend.compile_and_load(text, devices, xla_client.CompileOptions())
            bufs = [jax.device_put(a, device) for a in ins]
            res = exe.execute_sharded(bufs).disassemble_into_single_device_arrays()
            gots = [np.asarray(r[0]) for r in res]
        except Exception as e:  # noqa: BLE001 - report and go on
            failures += 1
            print(f"FAIL {case.name}: {str(e).splitlines()[0][:300]}")
            continue
        details = []
        ok = len(gots) == len(wants)
        for i, (g, w) in enumerate(zip(gots, wants)):
            good, d = compare(g, w, tol)
            ok &= good
            details.append(f"out{i} {d}")
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {case.name}: {'; '.join(details)}")
    print(f"{len(cases) - failures} of {len(cases)} cases agree")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
