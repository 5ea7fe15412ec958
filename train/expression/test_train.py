#!/usr/bin/python3
"""test_train.py — unit tests of the expression trainer (run by `make check-train`).

    /usr/bin/python3 -m unittest discover -s train/expression -p 'test_*.py'

Bad data is refused before training with a message naming the problem; the same seed gives the same weights;
a run interrupted after an epoch and resumed gives the weights of an uninterrupted run; an export read back
computes what the network computes.
"""
import contextlib
import io
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import train  # noqa: E402
from fernet import CLASSES, FerNet, export_tfjs, load_tfjs  # noqa: E402
from ferdata import DataError, list_set, load_set  # noqa: E402

FER_NAMES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def make_set(root, per_class=4, seed=0, names=FER_NAMES):
    rng = np.random.RandomState(seed)
    for c, name in enumerate(names):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for k in range(per_class):
            # each class a different brightness gradient plus noise: learnable, cheap
            base = np.linspace(0, 255, 48)[None, :] * (c + 1) / len(names)
            img = np.clip(base + rng.normal(0, 20, (48, 48)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(d, "%d.png" % k))


def quiet_main(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = train.main(args)
    return rc, out.getvalue() + err.getvalue()


class DataChecks(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_labels_in_both_namings(self):
        make_set(self.tmp, 2)
        items = list_set(self.tmp)
        self.assertEqual(len(items), 14)
        self.assertEqual(sorted({c for _, c in items}), list(range(7)))
        self.assertEqual(items[0][1], CLASSES.index("angry"))

    def test_unknown_label(self):
        make_set(self.tmp, 2)
        os.makedirs(os.path.join(self.tmp, "contempt"))
        with self.assertRaisesRegex(DataError, "unknown label folder.*contempt"):
            list_set(self.tmp)

    def test_empty_class(self):
        make_set(self.tmp, 2)
        shutil.rmtree(os.path.join(self.tmp, "disgust"))
        os.makedirs(os.path.join(self.tmp, "disgust"))
        with self.assertRaisesRegex(DataError, "no pictures for disgusted"):
            list_set(self.tmp)

    def test_missing_class_allowed_when_asked(self):
        make_set(self.tmp, 2)
        shutil.rmtree(os.path.join(self.tmp, "disgust"))
        self.assertEqual(len(list_set(self.tmp, require_all=False)), 12)
        with self.assertRaisesRegex(DataError, "no pictures for disgusted"):
            list_set(self.tmp)

    def test_unreadable_picture(self):
        make_set(self.tmp, 2)
        with open(os.path.join(self.tmp, "happy", "broken.jpg"), "wb") as f:
            f.write(b"\xff\xd8 not a jpeg")
        with self.assertRaisesRegex(DataError, "1 unreadable picture.*broken.jpg"):
            load_set(self.tmp, None, log=None)

    def test_bad_data_stops_before_training(self):
        make_set(self.tmp, 2)
        os.makedirs(os.path.join(self.tmp, "bored"))
        work = os.path.join(self.tmp, "..", os.path.basename(self.tmp) + "-work")
        rc, text = quiet_main(["--data", self.tmp, "--work", work, "--out", work + "/m", "--epochs", "1"])
        shutil.rmtree(work, ignore_errors=True)
        self.assertEqual(rc, 2, text)
        self.assertIn("unknown label folder(s) bored", text)
        self.assertNotIn("epoch", text)

    def test_other_sizes_are_resized(self):
        make_set(self.tmp, 1)
        Image.new("RGB", (100, 80), (10, 200, 30)).save(os.path.join(self.tmp, "sad", "big.jpg"))
        x, y, _ = load_set(self.tmp, None, log=None)
        self.assertEqual(x.shape, (8, 48, 48))


class Training(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.tmp = tempfile.mkdtemp()
        cls.data = os.path.join(cls.tmp, "data")
        make_set(cls.data, 6)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def run_train(self, name, *extra):
        work = os.path.join(self.tmp, name)
        args = ["--data", self.data, "--val", self.data, "--work", work, "--out", os.path.join(work, "model"),
                "--width", "4", "--batch", "8", "--epochs", "2", "--seed", "3", "--dtype", "float32"] + list(extra)
        rc, text = quiet_main(args)
        self.assertEqual(rc, 0, text)
        with open(os.path.join(work, "model", "model.bin"), "rb") as f:
            return f.read(), text

    def test_same_seed_same_weights(self):
        a, _ = self.run_train("a")
        b, _ = self.run_train("b")
        self.assertEqual(a, b)

    def test_resume_gives_the_uninterrupted_weights(self):
        full, _ = self.run_train("full")
        # an interrupted run: --stop-after 1 leaves the checkpoint of epoch 1 of 2, as a killed run does
        _, text = self.run_train("cut", "--stop-after", "1")
        self.assertIn("stopped after epoch 1 of 2", text)
        self.assertEqual(torch.load(os.path.join(self.tmp, "cut", "last.pt"))["epoch"], 0)
        resumed, text = self.run_train("cut", "--resume")
        self.assertIn("resume: from epoch 2 of 2", text)
        self.assertEqual(resumed, full)

    def test_resume_refuses_other_settings(self):
        self.run_train("settings")
        rc, text = quiet_main(["--data", self.data, "--work", os.path.join(self.tmp, "settings"), "--out",
                               os.path.join(self.tmp, "settings", "model"), "--width", "4", "--epochs", "3",
                               "--seed", "3", "--resume"])
        self.assertEqual(rc, 2)
        self.assertIn("other settings", text)

    def test_export_read_back_matches(self):
        torch.manual_seed(0)
        net = FerNet(stages=((4, 1), (8, 2)))
        # give batch-norm non-trivial statistics, as training does
        net.train()
        with torch.no_grad():
            for _ in range(3):
                net(torch.rand(16, 1, 48, 48) * 2)
        net.eval()
        x = torch.rand(5, 1, 48, 48)
        for dtype, tol in (("float32", 1e-5), ("float16", 5e-3)):
            path = export_tfjs(net, os.path.join(self.tmp, "exp-" + dtype), dtype=dtype)
            back = load_tfjs(path)
            with torch.no_grad():
                ref = torch.softmax(net(x), 1)
                got = torch.softmax(back(x), 1)
            self.assertLess(float((ref - got).abs().max()), tol, dtype)

    def test_fine_tune_from_export(self):
        self.run_train("base")
        rc, text = quiet_main(["--data", self.data, "--work", os.path.join(self.tmp, "tuned"), "--out",
                               os.path.join(self.tmp, "tuned", "model"), "--batch", "8", "--epochs", "1",
                               "--init", os.path.join(self.tmp, "base", "model", "model.json")])
        self.assertEqual(rc, 0, text)
        self.assertIn("batch-norm recalibrated", text)


if __name__ == "__main__":
    unittest.main()
