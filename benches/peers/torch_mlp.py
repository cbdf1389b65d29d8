"""The report's MLP in PyTorch, eager, written as a PyTorch user would
(nn.Sequential, Adam, CrossEntropyLoss; batches indexed from tensors that
live on the device). --compile wraps the model in torch.compile.

Writes metrics.json (benches/peers/common.py) into --out."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

parser = common.parse(__doc__)
parser.add_argument("--compile", action="store_true")
args = parser.parse_args()

import torch  # noqa: E402
from torch import nn  # noqa: E402


def main():
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    (xtr, ytr), (xva, yva), (xte, yte) = common.load_cifar(args.data_dir, args.val_size)
    to = lambda a: torch.from_numpy(a).to(dev)  # noqa: E731
    xtr, ytr, xva, yva, xte, yte = (to(a) for a in (xtr, ytr, xva, yva, xte, yte))
    ytr, yva, yte = ytr.long(), yva.long(), yte.long()
    layers = []
    for a, b in zip(common.WIDTHS[:-2], common.WIDTHS[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(args.dropout)]
    model = nn.Sequential(*layers, nn.Linear(common.WIDTHS[-2], common.WIDTHS[-1])).to(dev)
    run = torch.compile(model) if args.compile else model
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    bs = args.batch_size
    steps = len(xtr) // bs

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def evaluate(x_all, y_all):
        model.eval()
        loss, right = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(x_all), 1000):
                logits = run(x_all[i:i + 1000].float() / 255.0)
                y = y_all[i:i + 1000]
                loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
                right += (logits.argmax(1) == y).sum().item()
        return loss / len(x_all), right / len(x_all)

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu, {args.threads} threads"
    rec = common.Recorder(args, "pytorch" + (" compile" if args.compile else " eager"), f"{name}, torch {torch.__version__}")
    stopping, best = common.Stopping(args.patience), None
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(xtr), device=dev)
        losses, right = torch.zeros((), device=dev), torch.zeros((), device=dev, dtype=torch.long)
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            x, y = xtr[idx].float() / 255.0, ytr[idx]
            logits = run(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses += loss.detach()
            right += (logits.argmax(1) == y).sum()
        sync()
        t1 = time.perf_counter()
        vl, va = evaluate(xva, yva)
        sync()
        rec.epoch(epoch, losses.item() / steps, right.item() / (steps * bs), t1 - t0, vl, va,
                  time.perf_counter() - t1, steps)
        verdict = stopping.observe(epoch, va)
        if verdict == "better":
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif verdict == "stop":
            break
    model.load_state_dict(best)
    test_loss, test_acc = evaluate(xte, yte)
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    rec.finish(stopping, test_loss, test_acc, peak)


main()
