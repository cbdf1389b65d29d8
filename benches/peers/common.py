"""What every Python peer of benches/peers shares: the report's protocol as
flags, CIFAR-10 from its binary layout, timing, and the metrics.json that the
harness reads (the same fields examples/mlp_cifar writes)."""
import argparse
import json
import os
import resource
import time

import numpy as np

WIDTHS = [3072, 1024, 512, 256, 10]


def parse(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=os.environ.get("CIFAR10_DIR", os.path.expanduser("~/.cache/cifar10")))
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-size", type=int, default=5000)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", required=True, help="where to write metrics.json")
    return p


def load_cifar(data_dir, val_size):
    """(train, val, test) as (uint8 [n, 3072], int32 [n]) pairs; validation is
    the last val_size training images, as in examples/common/protocol.rs."""
    d = data_dir
    if os.path.isdir(os.path.join(d, "cifar-10-batches-bin")):
        d = os.path.join(d, "cifar-10-batches-bin")

    def read(names):
        raw = np.concatenate([np.fromfile(os.path.join(d, n), dtype=np.uint8) for n in names]).reshape(-1, 3073)
        return raw[:, 1:].copy(), raw[:, 0].astype(np.int32)

    xtr, ytr = read([f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = read(["test_batch.bin"])
    n = len(xtr) - val_size
    return (xtr[:n], ytr[:n]), (xtr[n:], ytr[n:]), (xte, yte)


class Stopping:
    """Early stopping on validation accuracy (the report's, patience epochs)."""

    def __init__(self, patience):
        self.patience, self.best_acc, self.best_epoch = patience, -1.0, 0

    def observe(self, epoch, acc):
        """'better', 'wait' or 'stop'."""
        if acc > self.best_acc:
            self.best_acc, self.best_epoch = acc, epoch
            return "better"
        return "stop" if epoch - self.best_epoch >= self.patience else "wait"


class Recorder:
    """Every epoch's figures and the run's summary, written as metrics.json."""

    def __init__(self, args, system, device_description):
        self.args, self.system, self.device = args, system, device_description
        self.epochs = []
        self.t0 = time.perf_counter()

    def epoch(self, epoch, train_loss, train_acc, train_seconds, val_loss, val_acc, val_seconds, steps):
        e = dict(epoch=epoch, train_loss=float(train_loss), train_acc=float(train_acc), val_loss=float(val_loss),
                 val_acc=float(val_acc), train_seconds=train_seconds, val_seconds=val_seconds,
                 seconds=train_seconds + val_seconds,
                 samples_per_s=steps * self.args.batch_size / train_seconds)
        self.epochs.append(e)
        print(f"epoch {epoch:3}  loss {train_loss:.4f}  train acc {train_acc:.4f}  val loss {val_loss:.4f}  "
              f"val acc {val_acc:.4f}  train {train_seconds:.1f} s  val {val_seconds:.1f} s", flush=True)

    def finish(self, stopping, test_loss, test_acc, peak_device_mb=None):
        os.makedirs(self.args.out, exist_ok=True)
        doc = {
            "system": self.system,
            "device": self.args.device,
            "device_description": self.device,
            "config": {k: v for k, v in vars(self.args).items() if k != "out"},
            "summary": {
                "train_seconds": sum(e["seconds"] for e in self.epochs), "epochs": len(self.epochs),
                "best_epoch": stopping.best_epoch, "best_val_acc": stopping.best_acc,
                "test_loss": float(test_loss), "test_acc": float(test_acc),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_device_mb": peak_device_mb,
            },
            "epochs": self.epochs,
        }
        with open(os.path.join(self.args.out, "metrics.json"), "w") as f:
            json.dump(doc, f, indent=1)
        print(f"test acc {test_acc:.4f}  (best epoch {stopping.best_epoch}, val acc {stopping.best_acc:.4f})")
