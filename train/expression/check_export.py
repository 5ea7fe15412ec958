#!/usr/bin/python3
"""check_export.py — the exported model, run by mien's C engine, against PyTorch on the same inputs.

    /usr/bin/python3 train/expression/check_export.py MODEL.json [--mien build/mien] [--pictures DIR]
                                                      [--checkpoint STATE.pt]

PyTorch runs the network read back from MODEL.json (the weights exactly as stored, float16 widened as the
engine widens them) or, with --checkpoint, the trained network itself (batch-norm unfolded, float32). mien runs
`mien model run MODEL.json --input in.npy`. Inputs: 16 seeded uniform-random pictures and up to 48 real face crops
(from --pictures DIR/<label>/*, or the face photos in models/samples when absent), as NHWC [N,48,48,1] in [0,1].
Passes when max|mien − torch| ≤ 1e-3 · max|torch| on every batch; exits 1 otherwise. Where Node and
TensorFlow.js are installed (tests/ref/node_modules, `make ref-deps`), TensorFlow.js itself also runs the file
(run_tfjs.mjs) and must agree with PyTorch by the same measure: an independent reader of the exported graph.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fernet import SIZE, FerNet, load_tfjs  # noqa: E402
from ferdata import list_set, _decode  # noqa: E402


def read_npy(path):
    return np.load(path)


def sample_crops(n=24):
    """Grey 48² crops cut from the face photos inside models/samples (no labelled data needed)."""
    from PIL import Image
    out = []
    d = os.path.join(HERE, "..", "..", "models", "samples")
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not f.endswith(".jpg"):
            continue
        with Image.open(os.path.join(d, f)) as im:
            im = im.convert("L")
            w, h = im.size
            for k in range(4):
                s = min(w, h) // (2 + k)
                x0, y0 = (w - s) * (k + 1) // 5, (h - s) // 3
                out.append(np.asarray(im.crop((x0, y0, x0 + s, y0 + s)).resize((SIZE, SIZE), Image.BILINEAR)))
    return np.stack(out[:n]) if out else np.zeros((0, SIZE, SIZE), np.uint8)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--mien", default="build/mien")
    p.add_argument("--pictures", help="DIR/<label>/<picture>: real crops to include")
    p.add_argument("--checkpoint", help="a best.pt state of the trained network (else the export read back)")
    p.add_argument("--tolerance", type=float, default=1e-3)
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    model = load_tfjs(a.model)
    if a.checkpoint:
        net = FerNet(stages=model.stages)
        net.load_state_dict(torch.load(a.checkpoint))
        model = net.eval()
    rng = np.random.RandomState(1234)
    batches = {"random": rng.rand(16, SIZE, SIZE).astype(np.float32)}
    if a.pictures and os.path.isdir(a.pictures):
        items = list_set(a.pictures, require_all=False)
        pick = [items[i] for i in rng.choice(len(items), min(48, len(items)), replace=False)]
        batches["pictures"] = np.stack([_decode(path) for path, _ in pick]).astype(np.float32) / 255
    else:
        crops = sample_crops()
        if len(crops):
            batches["sample_crops"] = crops.astype(np.float32) / 255
    ok = True
    tfjs = shutil.which("node") and os.path.isdir(os.path.join(HERE, "..", "..", "tests", "ref", "node_modules",
                                                               "@tensorflow"))
    if not tfjs:
        print("check_export: TensorFlow.js not installed (make ref-deps): mien against PyTorch only")
    with tempfile.TemporaryDirectory() as tmp:
        for name, x in batches.items():
            x = x[..., None]  # NHWC
            inp = os.path.join(tmp, name + ".npy")
            np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
            out = os.path.join(tmp, name)
            r = subprocess.run([a.mien, "model", "run", a.model, "--input", inp, "--out", out, "--threads", "1"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("check_export: mien model run failed (%d): %s" % (r.returncode, r.stderr.strip()))
                return 1
            files = sorted(f for f in os.listdir(out) if f.endswith(".npy"))
            if not files:
                print("check_export: mien wrote no output in %s" % out)
                return 1
            got = read_npy(os.path.join(out, files[0])).reshape(len(x), -1)
            with torch.no_grad():
                ref = F.softmax(model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()), 1).numpy()
            diff = float(np.abs(got - ref).max())
            limit = a.tolerance * float(np.abs(ref).max())
            agree = float((got.argmax(1) == ref.argmax(1)).mean())
            print("check_export: %-12s %3d pictures  max|mien-torch| %.2e  limit %.2e  same class %.0f %%  %s" %
                  (name, len(x), diff, limit, 100 * agree, "ok" if diff <= limit else "FAIL"))
            ok &= diff <= limit
            if tfjs:
                tout = os.path.join(tmp, name + "-tfjs.npy")
                r = subprocess.run(["node", os.path.join(HERE, "run_tfjs.mjs"), a.model, inp, tout],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print("check_export: TensorFlow.js failed on %s: %s" % (a.model, r.stderr.strip()[-500:]))
                    return 1
                tf_out = read_npy(tout).reshape(len(x), -1)
                tdiff = float(np.abs(tf_out - ref).max())
                print("check_export: %-12s %3d pictures  max|tfjs-torch| %.2e  limit %.2e  %s" %
                      (name, len(x), tdiff, limit, "ok" if tdiff <= limit else "FAIL"))
                ok &= tdiff <= limit
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
