"""fernet.py — mien's expression network: its PyTorch definition, its export to a TensorFlow.js graph model that
mien's C engine loads (src/nn/tfjs.c), and the way back (an exported model.json loaded into PyTorch, for
fine-tuning and for checking the export).

The network is a compact VGG: 3×3 convolutions with batch-norm and ReLU, 2×2 max-pooling between stages, global
average pooling, dropout and one dense layer. At export each batch-norm is folded into its convolution, so the
graph holds only Placeholder, _FusedConv2D (BiasAdd+Relu), MaxPool, Mean, _FusedMatMul (BiasAdd) and Softmax —
ops the engine already lowers to XNNPACK.

Classes are in mien's order (face_expression_names in src/face/analyze.c), so the C side needs no remapping.
Input: NHWC [N, 48, 48, 1], grey scaled to [0, 1].
"""
import base64
import json
import os

import numpy as np
import torch
import torch.nn as nn

# mien's class order (src/face/analyze.c, face_expression_names)
CLASSES = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
# folder names accepted for each class: mien's own names and FER2013's (as `mien eval expression` reads them)
FOLDER_ALIASES = {
    "neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
    "fear": "fearful", "fearful": "fearful", "disgust": "disgusted", "disgusted": "disgusted",
    "surprise": "surprised", "surprised": "surprised",
}
SIZE = 48
# stages of (width, convolutions); a 2×2 max-pool follows every stage but the last
DEFAULT_STAGES = ((32, 1), (64, 2), (128, 2), (256, 2))


class FerNet(nn.Module):
    def __init__(self, stages=DEFAULT_STAGES, dropout=0.3, classes=len(CLASSES)):
        super().__init__()
        self.stages = tuple(tuple(s) for s in stages)
        layers = []
        c = 1
        for i, (width, convs) in enumerate(self.stages):
            for _ in range(convs):
                layers += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                c = width
            if i < len(self.stages) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        """x: [N, 1, H, W] in [0, 1]; returns logits [N, classes]."""
        x = self.features(x)
        x = x.mean(dim=(2, 3))
        return self.fc(self.dropout(x))

    def macs(self, size=SIZE):
        total, s, c = 0, size, 1
        for i, (width, convs) in enumerate(self.stages):
            for _ in range(convs):
                total += s * s * 9 * c * width
                c = width
            if i < len(self.stages) - 1:
                s //= 2
        return total + c * self.fc.out_features


def folded_layers(model):
    """The network as a list of ('conv', W[HWIO], b) / ('pool',) / ('dense', W[in,out], b), batch-norm folded in
    (float64 arithmetic, then float32)."""
    out = []
    mods = list(model.features)
    i = 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, nn.Conv2d):
            bn = mods[i + 1]
            assert isinstance(bn, nn.BatchNorm2d) and isinstance(mods[i + 2], nn.ReLU)
            w = m.weight.detach().double()
            scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
            bias = bn.bias.detach().double() - bn.running_mean.detach().double() * scale
            w = w * scale[:, None, None, None]  # OIHW
            out.append(("conv", w.permute(2, 3, 1, 0).float().numpy(), bias.float().numpy()))
            i += 3
        elif isinstance(m, nn.MaxPool2d):
            out.append(("pool",))
            i += 1
        else:
            raise ValueError("unexpected layer %r" % (m,))
    out.append(("dense", model.fc.weight.detach().t().float().numpy(), model.fc.bias.detach().float().numpy()))
    return out


def _b64(s):
    return base64.b64encode(s.encode()).decode()


def _shape(dims):
    return {"dim": [{"size": str(d)} for d in dims]}


def _const(name, dims, dtype="DT_FLOAT"):
    return {"name": name, "op": "Const",
            "attr": {"value": {"tensor": {"dtype": dtype, "tensorShape": _shape(dims)}}, "dtype": {"type": dtype}}}


def export_tfjs(model, out_dir, dtype="float16", metadata=None):
    """Writes out_dir/model.json + out_dir/model.bin (a TF.js graph model). dtype float16 halves the file
    (weights stored as float16, as human-models ship some of theirs); float32 keeps them exact. Returns the
    model.json path."""
    if dtype not in ("float16", "float32"):
        raise ValueError("dtype must be float16 or float32")
    model = model.eval()
    os.makedirs(out_dir, exist_ok=True)
    nodes = [{"name": "input", "op": "Placeholder",
              "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": _shape([-1, SIZE, SIZE, 1])}}}]
    weights, blobs = [], []

    def weight(name, array):
        array = np.ascontiguousarray(array, dtype=np.float32)
        nodes.append(_const(name, array.shape))
        entry = {"name": name, "shape": list(array.shape), "dtype": "float32"}
        if dtype == "float16":
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(array.astype("<f2").tobytes())
        else:
            blobs.append(array.astype("<f4").tobytes())
        weights.append(entry)

    prev = "input"
    conv_n = pool_n = 0
    for layer in folded_layers(model):
        if layer[0] == "conv":
            conv_n += 1
            name = "conv%d" % conv_n
            weight(name + "/kernel", layer[1])
            weight(name + "/bias", layer[2])
            nodes.append({"name": name + "/Relu", "op": "_FusedConv2D",
                          "input": [prev, name + "/kernel", name + "/bias"],
                          "attr": {"T": {"type": "DT_FLOAT"}, "data_format": {"s": _b64("NHWC")},
                                   "strides": {"list": {"i": ["1", "1", "1", "1"]}},
                                   "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
                                   "padding": {"s": _b64("SAME")}, "explicit_paddings": {"list": {}},
                                   "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu")]}},
                                   "num_args": {"i": "1"}, "epsilon": {"f": 0}}})
            prev = name + "/Relu"
        elif layer[0] == "pool":
            pool_n += 1
            name = "pool%d/MaxPool" % pool_n
            nodes.append({"name": name, "op": "MaxPool", "input": [prev],
                          "attr": {"T": {"type": "DT_FLOAT"}, "data_format": {"s": _b64("NHWC")},
                                   "ksize": {"list": {"i": ["1", "2", "2", "1"]}},
                                   "strides": {"list": {"i": ["1", "2", "2", "1"]}},
                                   "padding": {"s": _b64("VALID")}}})
            prev = name
        else:
            nodes.append(_const("global_pooling/Mean/reduction_indices", [2], "DT_INT32"))
            weights.append({"name": "global_pooling/Mean/reduction_indices", "shape": [2], "dtype": "int32"})
            blobs.append(np.array([1, 2], dtype="<i4").tobytes())
            nodes.append({"name": "global_pooling/Mean", "op": "Mean",
                          "input": [prev, "global_pooling/Mean/reduction_indices"],
                          "attr": {"T": {"type": "DT_FLOAT"}, "Tidx": {"type": "DT_INT32"},
                                   "keep_dims": {"b": False}}})
            weight("logits/kernel", layer[1])
            weight("logits/bias", layer[2])
            nodes.append({"name": "logits/BiasAdd", "op": "_FusedMatMul",
                          "input": ["global_pooling/Mean", "logits/kernel", "logits/bias"],
                          "attr": {"T": {"type": "DT_FLOAT"}, "transpose_a": {"b": False}, "transpose_b": {"b": False},
                                   "fused_ops": {"list": {"s": [_b64("BiasAdd")]}}, "num_args": {"i": "1"},
                                   "epsilon": {"f": 0}}})
            nodes.append({"name": "expressions", "op": "Softmax", "input": ["logits/BiasAdd"],
                          "attr": {"T": {"type": "DT_FLOAT"}}})
    meta = {"classes": CLASSES, "input": "grey face crop, %dx%d, scaled to [0,1]" % (SIZE, SIZE),
            "stages": [list(s) for s in model.stages]}
    if metadata:
        meta.update(metadata)
    doc = {"format": "graph-model", "generatedBy": "mien train/expression (PyTorch %s)" % torch.__version__,
           "convertedBy": "mien train/expression/fernet.py",
           "userDefinedMetadata": meta,
           "modelTopology": {"node": nodes, "library": {}, "versions": {}},
           "weightsManifest": [{"paths": ["model.bin"], "weights": weights}]}
    with open(os.path.join(out_dir, "model.bin"), "wb") as f:
        for b in blobs:
            f.write(b)
    path = os.path.join(out_dir, "model.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    return path


def load_tfjs(path):
    """An exported model.json (this module's topology) back into a FerNet, batch-norm folded: each BatchNorm
    becomes the identity (weight 1, bias = the folded bias, mean 0, var 1 − eps) and the convolution takes the
    folded weights. Float16 weights are widened exactly as the engine widens them."""
    with open(path) as f:
        doc = json.load(f)
    meta = doc.get("userDefinedMetadata", {})
    stages = meta.get("stages")
    if not stages or meta.get("classes") != CLASSES:
        raise ValueError("%s: not a mien expression model (no stages/classes in userDefinedMetadata)" % path)
    base = os.path.dirname(path)
    tensors = {}
    for group in doc["weightsManifest"]:
        buf = b""
        for p in group["paths"]:
            with open(os.path.join(base, p), "rb") as f:
                buf += f.read()
        at = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            q = (w.get("quantization") or {}).get("dtype")
            if w["dtype"] == "int32":
                a = np.frombuffer(buf, "<i4", count, at)
                at += 4 * count
            elif q == "float16":
                a = np.frombuffer(buf, "<f2", count, at).astype(np.float32)
                at += 2 * count
            else:
                a = np.frombuffer(buf, "<f4", count, at).copy()
                at += 4 * count
            tensors[w["name"]] = a.reshape(w["shape"])
    model = FerNet(stages=stages)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for k, (conv, bn) in enumerate(zip(convs, bns)):
            w = torch.from_numpy(np.ascontiguousarray(tensors["conv%d/kernel" % (k + 1)].transpose(3, 2, 0, 1)))
            conv.weight.copy_(w)
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(tensors["conv%d/bias" % (k + 1)]))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        model.fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(tensors["logits/kernel"].T)))
        model.fc.bias.copy_(torch.from_numpy(tensors["logits/bias"]))
    return model.eval()
