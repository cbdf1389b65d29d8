"""Runs every system of benches/peers one after the other on the same data
and writes one JSON line per run, a markdown table and a bar chart.

Called by benches/peers/run (which prepares the Python environment and the
Rust binaries); see that script for the command line."""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def marks(device):
    """The markers around a device's block in docs/benchmarks.md (the CPU's
    keeps its first name)."""
    tag = "peers" if device == "cpu" else f"peers-{device}"
    return f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"


def slug(name):
    """A system's name as a file name: `jax+flax scan, rjax's plugin` -> `jaxflax_scan_rjaxs_plugin`."""
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_.-]", "", name.replace(" ", "_")))


def systems(a):
    """(name, command, where its metrics.json goes) of every system to run."""
    py = [sys.executable]
    proto = ["--data-dir", a.data_dir, "--epochs", str(a.epochs)]
    out = lambda name: os.path.join(a.work, slug(name))  # noqa: E731
    rows = []
    rjax = [a.rjax, *proto, "--overwrite", "--device"]
    dev = ["--device", a.device]
    jax_per_batch = ("jax+flax per-batch", py + [f"{HERE}/jax_flax.py", "--mode", "per-batch", *dev, *proto], "out")
    jax_scan = ("jax+flax scan", py + [f"{HERE}/jax_flax.py", "--mode", "scan", *dev, *proto], "out")
    torch_eager = ("pytorch eager", py + [f"{HERE}/torch_mlp.py", *dev, *proto], "out")
    # with --warm-cache, rjax's compiled-epoch run fills a compilation cache
    # and a second run loads its programs from there (no compiling)
    cache = ["env", f"RJAX_COMPILATION_CACHE_DIR={os.path.join(a.work, 'compilation-cache')}"]
    main = (lambda dev: [("rjax " + dev, cache + rjax + [dev], "out"),
                         ("rjax " + dev + ", programs from the cache", cache + rjax + [dev], "out")]
            if a.warm_cache else [("rjax " + dev, rjax + [dev], "out")])
    if a.device == "cuda":
        # on a lent GPU the time is short: each kind of system once before
        # the second variants, so that a cut-off run still compares them
        rows += main("cuda")
        rows += [jax_per_batch, torch_eager]
        rows.append(("rjax cuda per-batch", rjax + ["cuda", "--per-batch"], "out"))
        rows.append(jax_scan)
    else:
        rows += main("xla-cpu")
        rows.append(("rjax xla-cpu per-batch", rjax + ["xla-cpu", "--per-batch"], "out"))
        if a.xnnpack:
            rows.append(("rjax xla-cpu XNNPACK", ["env", "XLA_FLAGS=--xla_cpu_use_xnnpack=true", *rjax, "xla-cpu"], "out"))
        rows.append(("rjax built-in cpu", rjax + ["cpu"], "out"))
        if a.dfdx:
            rows.append(("dfdx", [a.dfdx, *proto], "out"))
        rows += [jax_per_batch, jax_scan]
        # JAX's scan compiled by rjax's plugin, with the XLA options rjax
        # sets (src/backend/pjrt/plugin.rs): the same XLA as rjax's rows
        plugin = os.environ.get("RJAX_PJRT_CPU") or os.path.expanduser("~/.cache/rjax/plugins/cpu/xla_cpu_pjrt.so")
        if os.path.exists(plugin):
            flags = "XLA_FLAGS=--xla_cpu_use_xnnpack=false --xla_backend_extra_options=xla_cpu_use_multi_output_fusion"
            rows.append(("jax+flax scan, rjax's plugin",
                         ["env", flags, "TF_CPP_MIN_LOG_LEVEL=1", *jax_scan[1], "--pjrt-plugin", plugin], "out"))
        rows.append(torch_eager)
    if a.torch_compile:
        rows.append(("pytorch compile", py + [f"{HERE}/torch_mlp.py", "--compile", *dev, *proto], "out"))
    return [(n, c + ["--out", out(n)], out(n)) for n, c, _ in rows if not a.only or any(o in n for o in a.only)]


def gemm_bound(device):
    """Seconds per epoch the report's matrix products need at the machine's
    best fp32 GEMM rate (PyTorch's, on the MLP's shapes): forward, and the
    weight and hidden-input gradients, no gradient for the images."""
    code = f"""
import time, torch
dev = torch.device({device!r})
best = 0.0
for m, k, n in [(128, 3072, 1024), (1024, 128, 3072), (128, 1024, 3072), (2048, 2048, 2048)]:
    a, b = torch.randn(m, k, device=dev), torch.randn(k, n, device=dev)
    for _ in range(3): a @ b
    if dev.type == 'cuda': torch.cuda.synchronize()
    reps = 20 if dev.type == 'cpu' else 200
    t = time.perf_counter()
    for _ in range(reps): a @ b
    if dev.type == 'cuda': torch.cuda.synchronize()
    best = max(best, 2 * m * k * n * reps / (time.perf_counter() - t))
print(best)
"""
    rate = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    w = [3072, 1024, 512, 256, 10]
    per_sample = sum(a * b for a, b in zip(w[:-1], w[1:]))
    hidden_inputs = sum(a * b for a, b in zip(w[1:-1], w[2:]))
    flop = 2 * 128 * (2 * per_sample + hidden_inputs) * (45000 // 128)
    return flop / rate, rate


def run_one(name, cmd, out, log, limit_s=None):
    """Runs one system; returns its metrics and peak RSS (MB) or an error.
    A system still running after limit_s seconds is stopped and reported
    as such, with the end of its log (its epochs so far)."""
    os.makedirs(out, exist_ok=True)
    # a metrics.json of an earlier run is never read as this run's
    try:
        os.remove(os.path.join(out, "metrics.json"))
    except FileNotFoundError:
        pass
    print(f"== {name}: {shlex.join(cmd)}", flush=True)
    t = time.perf_counter()
    stopped = threading.Event()

    def stop(p):
        stopped.set()
        p.kill()

    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        timer = threading.Timer(limit_s, stop, args=(p,)) if limit_s else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(p.pid, 0)
        if timer:
            timer.cancel()
    wall = time.perf_counter() - t
    rc = os.waitstatus_to_exitcode(status)
    with open(log) as f:
        tail = f.read()[-1500:]
    if stopped.is_set():
        return {"system": name, "error": f"stopped at the {limit_s:.0f} s limit", "log_tail": tail, "wall_seconds": wall}
    if rc != 0:
        return {"system": name, "error": f"exit {rc}", "log_tail": tail, "wall_seconds": wall}
    try:
        with open(os.path.join(out, "metrics.json")) as f:
            m = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        return {"system": name, "error": f"no metrics: {e}", "log_tail": tail, "wall_seconds": wall}
    if "from the cache" in name and not m.get("compilation_cache", {}).get("hits"):
        return {"system": name, "error": "no program came from the compilation cache", "log_tail": tail,
                "wall_seconds": wall}
    ep = m["epochs"]
    train = [e.get("train_seconds", e["seconds"]) for e in ep]
    steady = statistics.median(train[1:]) if len(train) > 1 else train[0]
    return {
        "system": name,
        "device": m.get("device"),
        "device_description": m.get("device_description"),
        "epochs": len(ep),
        "first_epoch_s": train[0],
        "steady_epoch_s": steady,
        "val_s": statistics.median([e.get("val_seconds", 0.0) for e in ep]),
        "samples_per_s": (45000 // 128) * 128 / steady,
        "test_acc": m["summary"]["test_acc"],
        "best_epoch": m["summary"].get("best_epoch"),
        "train_seconds_total": sum(train),
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "peak_device_mb": m["summary"].get("peak_device_mb"),
        "wall_seconds": wall,
        "exit": rc,
    }


def table(results, bound_s, rate, a):
    lines = [
        f"Machine: {platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores); "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}; device {a.device}; {a.epochs} epochs each, "
        f"one after the other. GEMM bound: {rate / 1e9:.0f} GFLOP/s best fp32 rate, {bound_s:.2f} s of matrix "
        "products per epoch.",
        "",
        f"Command: `benches/peers/run {' '.join(sys.argv[1:])}`",
        "",
        "| system | steady epoch (s, training) | first epoch (s) | validation (s) | samples/s | x GEMM bound "
        "| test acc | epochs (best) | training, all epochs (s) | peak RSS (MB) | peak device (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['system']} | failed: {r['error']} | | | | | | | | | |")
            continue
        dev_mb = f"{r['peak_device_mb']:.0f}" if r.get("peak_device_mb") else "n/a"
        lines.append(
            f"| {r['system']} | {r['steady_epoch_s']:.2f} | {r['first_epoch_s']:.2f} | {r['val_s']:.2f} "
            f"| {r['samples_per_s']:.0f} | {r['steady_epoch_s'] / bound_s:.1f} | {r['test_acc']:.4f} "
            f"| {r['epochs']} ({r['best_epoch']}) | {r['train_seconds_total']:.1f} | {r['peak_rss_mb']:.0f} | {dev_mb} |")
    return "\n".join(lines)


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in results if "error" not in r]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(ok) + 1.5))
    names = [r["system"] for r in ok]
    pos = list(range(len(ok)))
    ax.barh([p - 0.2 for p in pos], [r["steady_epoch_s"] for r in ok], height=0.4, color="tab:blue",
            label="steady epoch (training)")
    ax.barh([p + 0.2 for p in pos], [r["first_epoch_s"] for r in ok], height=0.4, color="tab:orange",
            label="first epoch (compile included)")
    ax.set_yticks(pos, names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per epoch")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--rjax", required=True, help="the mlp_cifar binary")
    p.add_argument("--dfdx", help="the mlp_cifar_dfdx binary")
    p.add_argument("--work", default=os.path.join(ROOT, "target", "peers"))
    p.add_argument("--only", nargs="*", help="run only the systems whose names contain one of these")
    p.add_argument("--torch-compile", action="store_true")
    p.add_argument("--xnnpack", action="store_true", help="also rjax on XLA CPU with XNNPACK on")
    p.add_argument("--warm-cache", action="store_true",
                   help="also rjax's compiled epoch with its programs loaded from a compilation cache")
    p.add_argument("--limit-s", type=float, help="stop any one system after this many seconds")
    p.add_argument("--docs", help="markdown file whose peers section gets the table (docs/benchmarks.md)")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    shutil.rmtree(os.path.join(a.work, "compilation-cache"), ignore_errors=True)
    bound_s, rate = gemm_bound(a.device)
    results = []
    with open(os.path.join(a.work, "results.jsonl"), "a") as jl:
        for name, cmd, out in systems(a):
            log = os.path.join(a.work, slug(name) + ".log")
            r = run_one(name, cmd, out, log, a.limit_s)
            r["gemm_bound_s"] = bound_s
            results.append(r)
            jl.write(json.dumps(r) + "\n")
            jl.flush()
            print(json.dumps(r), flush=True)
    md = table(results, bound_s, rate, a)
    png = os.path.join(a.work, f"peers-{a.device}.png")
    chart(results, png)
    print("\n" + md + f"\n\nchart: {png}")
    if a.docs:
        with open(a.docs) as f:
            text = f.read()
        begin, end = marks(a.device)
        block = f"{begin}\n{md}\n\n![epoch times](peers-{a.device}.png)\n{end}"
        if begin in text:
            head, rest = text.split(begin, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text += f"\n## Peers side by side on {a.device} (benches/peers/run)\n\n" + block + "\n"
        with open(a.docs, "w") as f:
            f.write(text)
        os.replace(png, os.path.join(os.path.dirname(a.docs), f"peers-{a.device}.png"))


if __name__ == "__main__":
    main()
