"""ferdata.py — a folder-per-label picture set (DIR/<label>/<picture>) read into one uint8 array of 48×48 grey
crops, checked before any training starts.

Label folders are mien's class names or FER2013's (fernet.FOLDER_ALIASES). Errors, each naming what is wrong:
an unknown label folder, a class with no pictures (folder missing or empty), a picture that cannot be decoded.
Pictures of other sizes are converted to grey and resized to 48×48 (bilinear); they should be face crops, framed
as a face detector's box is (see docs/face.md). Decoded sets are cached under the cache folder, keyed by the
files' names, sizes and modification times.
"""
import hashlib
import os

import numpy as np
from PIL import Image

from fernet import CLASSES, FOLDER_ALIASES, SIZE

PICTURE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".gif", ".webp")


class DataError(Exception):
    """A data folder that cannot be trained on; the message says why."""


def list_set(root, require_all=True):
    """[(path, class index)] for root/<label>/<picture>, sorted. Raises DataError for a missing folder, an
    unknown label, or a class without pictures (every class when require_all, else the folders present)."""
    if not os.path.isdir(root):
        raise DataError("%s: no such folder" % root)
    items, per_class, unknown = [], {}, []
    for label in sorted(os.listdir(root)):
        d = os.path.join(root, label)
        if not os.path.isdir(d) or label.startswith("."):
            continue
        if label not in FOLDER_ALIASES:
            unknown.append(label)
            continue
        cls = CLASSES.index(FOLDER_ALIASES[label])
        files = sorted(f for f in os.listdir(d) if not f.startswith(".") and os.path.isfile(os.path.join(d, f)))
        per_class.setdefault(cls, 0)
        per_class[cls] += len(files)
        items += [(os.path.join(d, f), cls) for f in files]
    if unknown:
        raise DataError("%s: unknown label folder(s) %s; labels are %s (or FER2013's angry, disgust, fear, happy, "
                        "neutral, sad, surprise)" % (root, ", ".join(unknown), ", ".join(CLASSES)))
    empty = [CLASSES[c] for c in range(len(CLASSES))
             if per_class.get(c, 0) == 0 and (require_all or c in per_class)]
    if empty:
        raise DataError("%s: no pictures for %s (each class needs at least one labelled face)" % (root, ", ".join(empty)))
    if not items:
        raise DataError("%s: no <label>/ folders with pictures" % root)
    return items


def _decode(path):
    with Image.open(path) as im:
        im = im.convert("L")
        if im.size != (SIZE, SIZE):
            im = im.resize((SIZE, SIZE), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def load_set(root, cache_dir=None, require_all=True, log=print):
    """(pictures uint8 [N, 48, 48], labels int64 [N], paths). Raises DataError naming every unreadable picture
    (up to 20) before returning."""
    items = list_set(root, require_all)
    key = hashlib.sha256()
    for path, cls in items:
        st = os.stat(path)
        key.update(("%s\0%d\0%d\0%d\n" % (path, cls, st.st_size, int(st.st_mtime))).encode())
    cache = os.path.join(cache_dir, "set-%s.npz" % key.hexdigest()[:20]) if cache_dir else None
    if cache and os.path.exists(cache):
        z = np.load(cache)
        return z["x"], z["y"], [p for p, _ in items]
    x = np.zeros((len(items), SIZE, SIZE), dtype=np.uint8)
    y = np.array([c for _, c in items], dtype=np.int64)
    bad = []
    for i, (path, _) in enumerate(items):
        try:
            x[i] = _decode(path)
        except Exception as e:  # PIL raises several kinds for a bad file
            bad.append("%s (%s)" % (path, e.__class__.__name__ if not str(e) else str(e)))
        if log and (i + 1) % 5000 == 0:
            log("data: decoded %d/%d pictures of %s" % (i + 1, len(items), root))
    if bad:
        more = "" if len(bad) <= 20 else " and %d more" % (len(bad) - 20)
        raise DataError("%s: %d unreadable picture(s): %s%s" % (root, len(bad), "; ".join(bad[:20]), more))
    if cache:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = cache + ".tmp.npz"
        np.savez(tmp, x=x, y=y)
        os.replace(tmp, cache)
    return x, y, [p for p, _ in items]


def class_counts(y):
    return [int((y == c).sum()) for c in range(len(CLASSES))]
