#!/usr/bin/python3
"""train.py — trains mien's expression network on a folder-per-label set of face crops and exports it as a
TensorFlow.js graph model that mien loads (MIEN_EXPRESSION=mien).

    /usr/bin/python3 train/expression/train.py --data DIR [--val DIR] [--out models/mien/expression] [--epochs N]

`make train-expression` runs it on FER2013's Training split with model selection on its PublicTest split
(../shared/data/expression/fer2013_{train,val}); docs/face.md shows how to fine-tune on your own labelled faces
(`--init models/mien/expression/model.json`). Checkpoints go to --work after every epoch; `--resume` continues an
interrupted run from the last one and gives the same weights as an uninterrupted run with the same seed.

Deterministic for a seed and a thread count (--threads, default 2): shuffling, augmentation and dropout draw from
generators seeded per epoch, and PyTorch is asked for deterministic algorithms.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fernet import CLASSES, DEFAULT_STAGES, FerNet, export_tfjs, load_tfjs  # noqa: E402
from ferdata import DataError, class_counts, load_set  # noqa: E402


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train mien's expression network (see docs/face.md).")
    p.add_argument("--data", required=True, help="training set: DIR/<label>/<picture> (48 px grey face crops)")
    p.add_argument("--val", help="validation set (same layout) for model selection and early stopping")
    p.add_argument("--out", default="models/mien/expression", help="where model.json + model.bin go")
    p.add_argument("--work", default="build/train-expression", help="checkpoints, cache and summary")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule (SGD)")
    p.add_argument("--wd", type=float, default=5e-4, help="weight decay")
    p.add_argument("--smoothing", type=float, default=0.1, help="label smoothing")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--width", type=int, default=32, help="channels of the first stage (doubled at each stage)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch threads (the result depends on it)")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better val accuracy")
    p.add_argument("--stop-after", type=int, default=0, help="stop after N epochs (resume later with --resume)")
    p.add_argument("--limit-per-class", type=int, default=0, help="use at most N pictures of each class")
    p.add_argument("--allow-missing-classes", action="store_true",
                   help="train although some classes have no pictures (fine-tuning on a few classes)")
    p.add_argument("--init", help="start from an exported model.json (fine-tuning) instead of random weights")
    p.add_argument("--resume", action="store_true", help="continue from --work/last.pt")
    p.add_argument("--export-only", action="store_true",
                   help="with --resume: export the best epoch so far without training further")
    p.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="exported weight type")
    p.add_argument("--no-augment", action="store_true")
    return p.parse_args(argv)


# ---- augmentation: one affine warp per picture (rotation, scale, shift), mirror, brightness/contrast


def augment(x, g):
    """x: float [N,1,H,W] in [0,1]; g: torch.Generator. Returns an augmented copy."""
    n = x.shape[0]

    def uniform(lo, hi):
        return lo + (hi - lo) * torch.rand(n, generator=g)

    angle = uniform(-15, 15) * math.pi / 180
    scale = uniform(0.88, 1.12)
    tx, ty = uniform(-0.1, 0.1), uniform(-0.1, 0.1)
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform(0.75, 1.25).view(n, 1, 1, 1)
    bright = uniform(-0.1, 0.1).view(n, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return ((x - mean) * contrast + mean + bright).clamp(0, 1)


def to_input(x_u8):
    return torch.from_numpy(x_u8).float().div_(255.0).unsqueeze(1)


@torch.no_grad()
def predict(model, x_u8, batch=128):
    """Probabilities averaged over each picture and its mirror image, as mien runs the model."""
    model.eval()
    out = []
    for i in range(0, len(x_u8), batch):
        x = to_input(x_u8[i:i + batch]).contiguous(memory_format=torch.channels_last)
        p = F.softmax(model(x), 1) + F.softmax(model(torch.flip(x, dims=[3])), 1)
        out.append(p / 2)
    return torch.cat(out).numpy()


@torch.no_grad()
def mean_loss(model, x_u8, y, batch=512):
    model.eval()
    total = 0.0
    for i in range(0, len(x_u8), batch):
        x = to_input(x_u8[i:i + batch]).contiguous(memory_format=torch.channels_last)
        total += F.cross_entropy(model(x), torch.from_numpy(y[i:i + batch]), reduction="sum").item()
    return total / len(x_u8)


def confusion(probs, y):
    m = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    for t, p in zip(y, probs.argmax(1)):
        m[t, p] += 1
    return m


@torch.no_grad()
def calibrate_bn(model, x_u8, batch=256):
    """After loading a folded export (batch-norm = identity + bias), sets each batch-norm so that training mode
    (which normalises by batch statistics) computes what the export computes: γ = σ, β = μ + bias, running
    statistics μ, σ² of the convolution's output on these pictures."""
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, torch.nn.BatchNorm2d)]
    sums = [None] * len(convs)
    hooks = []
    for k, conv in enumerate(convs):
        def hook(_m, _i, out, k=k):
            o = out.double()
            s = torch.stack([o.sum(dim=(0, 2, 3)), (o * o).sum(dim=(0, 2, 3))])
            cnt = o.shape[0] * o.shape[2] * o.shape[3]
            sums[k] = (s, cnt) if sums[k] is None else (sums[k][0] + s, sums[k][1] + cnt)
        hooks.append(conv.register_forward_hook(hook))
    model.eval()
    for i in range(0, len(x_u8), batch):
        model(to_input(x_u8[i:i + batch]))
    for h in hooks:
        h.remove()
    for (s, cnt), bn in zip(sums, bns):
        mu = s[0] / cnt
        var = (s[1] / cnt - mu * mu).clamp_min(1e-6)
        bn.bias.copy_((mu + bn.bias.double()).float())
        bn.weight.copy_(torch.sqrt(var + bn.eps).float())
        bn.running_mean.copy_(mu.float())
        bn.running_var.copy_(var.float())


def limit_per_class(x, y, n, seed):
    rng = np.random.RandomState(seed)
    keep = []
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(y == c)
        if len(idx) > n:
            idx = np.sort(rng.choice(idx, n, replace=False))
        keep.append(idx)
    keep = np.sort(np.concatenate(keep))
    return x[keep], y[keep]


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.makedirs(a.work, exist_ok=True)
    cache = os.path.join(a.work, "cache")
    t_start = time.time()
    try:
        x_tr, y_tr, _ = load_set(a.data, cache, require_all=not a.allow_missing_classes, log=log)
        x_va = y_va = None
        if a.val:
            x_va, y_va, _ = load_set(a.val, cache, require_all=False, log=log)
    except DataError as e:
        print("train: %s" % e, file=sys.stderr)
        return 2
    if a.limit_per_class > 0:
        x_tr, y_tr = limit_per_class(x_tr, y_tr, a.limit_per_class, a.seed)
    log("data: %d training pictures %s%s" % (len(y_tr), dict(zip(CLASSES, class_counts(y_tr))),
                                           ", %d validation pictures" % len(y_va) if a.val else ", no validation set"))

    stages = tuple((a.width * 2 ** i, 1 if i == 0 else 2) for i in range(len(DEFAULT_STAGES)))
    torch.manual_seed(a.seed)
    if a.init:
        model = load_tfjs(a.init)
        calibrate_bn(model, x_tr)
        log("init: %s (batch-norm recalibrated on the training pictures)" % a.init)
    else:
        model = FerNet(stages=stages, dropout=a.dropout)
    model = model.to(memory_format=torch.channels_last)
    log("model: stages %s, %.1f MMAC per picture, %d parameters" %
        (list(model.stages), model.macs() / 1e6, sum(p.numel() for p in model.parameters())))

    steps_per_epoch = math.ceil(len(y_tr) / a.batch)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0}],
                          lr=a.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, epochs=a.epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25, div_factor=20, final_div_factor=200)
    start_epoch, best_acc, best_epoch, history, spent = 0, -1.0, -1, [], 0.0
    last = os.path.join(a.work, "last.pt")
    best_path = os.path.join(a.work, "best.pt")
    if a.resume:
        if not os.path.exists(last):
            print("train: --resume: %s does not exist" % last, file=sys.stderr)
            return 2
        ck = torch.load(last)
        if ck["stages"] != [list(s) for s in model.stages] or ck["epochs"] != a.epochs or ck["seed"] != a.seed:
            print("train: --resume: %s was made with other settings (stages %s, epochs %s, seed %s)" %
                  (last, ck["stages"], ck["epochs"], ck["seed"]), file=sys.stderr)
            return 2
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        start_epoch, best_acc, best_epoch = ck["epoch"] + 1, ck["best_acc"], ck["best_epoch"]
        history, spent = ck["history"], ck["spent"]
        log("resume: from epoch %d of %d (best val %.2f %% at epoch %d)" % (start_epoch + 1, a.epochs,
                                                                          100 * best_acc, best_epoch + 1))
    loss_before = mean_loss(model, x_tr[:2048], y_tr[:2048]) if start_epoch == 0 else history[0]["loss_before"]

    stale = 0
    if a.export_only and not a.resume:
        print("train: --export-only needs --resume (the checkpoint to export)", file=sys.stderr)
        return 2
    for epoch in range(start_epoch, start_epoch if a.export_only else a.epochs):
        t0 = time.time()
        g = torch.Generator().manual_seed(a.seed * 100003 + epoch)
        torch.manual_seed(a.seed * 100003 + epoch)  # dropout
        perm = torch.randperm(len(y_tr), generator=g).numpy()
        model.train()
        run_loss, run_n = 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * a.batch:(b + 1) * a.batch]
            x = to_input(x_tr[idx])
            if not a.no_augment:
                x = augment(x, g)
            x = x.contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), torch.from_numpy(y_tr[idx]), label_smoothing=a.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run_loss += loss.item() * len(idx)
            run_n += len(idx)
            if (b + 1) % 25 == 0 or b + 1 == steps_per_epoch:
                el = time.time() - t0
                per_step = el / (b + 1)
                remaining = per_step * (steps_per_epoch - b - 1) + (spent / max(epoch, 1) if epoch else
                                                                    per_step * steps_per_epoch) * (a.epochs - epoch - 1)
                log("epoch %d/%d  batch %d/%d  loss %.4f  lr %.4f  ETA %d min" %
                    (epoch + 1, a.epochs, b + 1, steps_per_epoch, run_loss / run_n, sched.get_last_lr()[0],
                     remaining // 60 + 1))
        rec = {"epoch": epoch + 1, "train_loss": run_loss / run_n, "loss_before": loss_before}
        improved = True
        if a.val:
            probs = predict(model, x_va)
            acc = float((probs.argmax(1) == y_va).mean())
            rec["val_acc"] = acc
            improved = acc > best_acc
        if improved:
            best_acc, best_epoch, stale = rec.get("val_acc", 0.0), epoch, 0
            torch.save(model.state_dict(), best_path)
        else:
            stale += 1
        spent += time.time() - t0
        rec["seconds"] = time.time() - t0
        history.append(rec)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch,
                    "best_acc": best_acc, "best_epoch": best_epoch, "history": history, "spent": spent,
                    "stages": [list(s) for s in model.stages], "epochs": a.epochs, "seed": a.seed}, last + ".tmp")
        os.replace(last + ".tmp", last)
        log("epoch %d/%d done in %.0f s: train loss %.4f%s%s" %
            (epoch + 1, a.epochs, rec["seconds"], rec["train_loss"],
             "  val %.2f %%" % (100 * rec["val_acc"]) if a.val else "", "  (best)" if improved and a.val else ""))
        if a.stop_after and epoch + 1 >= a.stop_after and epoch + 1 < a.epochs:
            log("stopped after epoch %d of %d; continue with --resume" % (epoch + 1, a.epochs))
            break
        if a.patience and stale >= a.patience:
            log("early stop: no better val accuracy for %d epochs" % stale)
            break

    model.load_state_dict(torch.load(best_path))
    model.eval()
    loss_after = mean_loss(model, x_tr[:2048], y_tr[:2048])
    summary = {"data": os.path.abspath(a.data), "val": os.path.abspath(a.val) if a.val else None,
               "pictures": len(y_tr), "class_counts": class_counts(y_tr), "seed": a.seed, "threads": a.threads,
               "epochs": a.epochs, "epochs_run": len(history), "best_epoch": best_epoch + 1,
               "stages": [list(s) for s in model.stages], "mmac": model.macs() / 1e6,
               "train_seconds": spent, "wall_seconds": time.time() - t_start,
               "loss_before": loss_before, "loss_after": loss_after, "history": history,
               "torch": torch.__version__, "args": vars(a)}
    if a.val:
        probs = predict(model, x_va)
        summary["val_acc"] = float((probs.argmax(1) == y_va).mean())
        summary["val_confusion"] = confusion(probs, y_va).tolist()
    path = export_tfjs(model, a.out, dtype=a.dtype,
                       metadata={"seed": a.seed, "epochs": len(history), "best_epoch": best_epoch + 1,
                                 "val_acc": summary.get("val_acc")})
    # the exported graph, read back, must compute what the trained network computes
    back = load_tfjs(path)
    xs = to_input(x_tr[:64])
    with torch.no_grad():
        ref, got = F.softmax(model(xs), 1), F.softmax(back(xs), 1)
    summary["export_max_diff"] = float((ref - got).abs().max())
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    log("done: best epoch %d%s, training loss %.4f -> %.4f, %.1f min; wrote %s (export vs network: %.2e)" %
        (best_epoch + 1, ", val %.2f %%" % (100 * summary["val_acc"]) if a.val else "", loss_before, loss_after,
         spent / 60, path, summary["export_max_diff"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
