#!/usr/bin/env python3
"""Check the reference tree written by make_refs.mjs, with the Python standard library only (no numpy).

For every build/ref/<model>/<case>/manifest.json:
  * each listed .npy parses as NumPy format v1.0 (magic, version, header via ast.literal_eval as numpy
    does), descr '<f4', fortran_order False, shape == manifest shape, data size == prod(shape) * 4;
  * the header is byte-identical to what numpy.save writes (re-derived here from numpy's
    _write_array_header/_wrap_header algorithm) and header + preamble is a multiple of 64;
  * the file round-trips: re-encoding the parsed array gives the same bytes;
  * all values are finite; file names follow the naming rule.
Usage: python3 tests/ref/check_npy.py [build/ref]
"""
import ast
import json
import math
import os
import re
import struct
import sys
from array import array

MAGIC = b"\x93NUMPY"
GROWTH_AXIS_MAX_DIGITS = 21
ARRAY_ALIGN = 64


def numpy_header(shape):
    d = {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)}
    h = "{" + "".join("'%s': %s, " % (k, repr(v)) for k, v in sorted(d.items())) + "}"
    if len(shape) > 0:
        h += " " * (GROWTH_AXIS_MAX_DIGITS - len(repr(shape[0])))
    hb = h.encode("latin1")
    hlen = len(hb) + 1
    padlen = ARRAY_ALIGN - ((len(MAGIC) + 2 + 2 + hlen) % ARRAY_ALIGN)
    return MAGIC + bytes([1, 0]) + struct.pack("<H", hlen + padlen) + hb + b" " * padlen + b"\n"


def read_npy(path):
    b = open(path, "rb").read()
    assert b[:6] == MAGIC, "bad magic"
    assert b[6:8] == bytes([1, 0]), "not version 1.0"
    (hlen,) = struct.unpack("<H", b[8:10])
    header = b[10:10 + hlen].decode("latin1")
    assert header.endswith("\n"), "header does not end in newline"
    assert (10 + hlen) % ARRAY_ALIGN == 0, "header not 64-aligned"
    d = ast.literal_eval(header)
    assert set(d) == {"descr", "fortran_order", "shape"}, d
    assert d["descr"] == "<f4" and d["fortran_order"] is False, d
    shape = tuple(d["shape"])
    n = math.prod(shape)
    body = b[10 + hlen:]
    assert len(body) == 4 * n, "data size %d != 4*%d" % (len(body), n)
    data = array("f")
    data.frombytes(body)
    if sys.byteorder != "little":
        data.byteswap()
    return b, shape, data


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "build/ref"
    nfiles = ncases = 0
    bad = []
    for dirpath, _, files in sorted(os.walk(root)):
        if "manifest.json" not in files:
            continue
        ncases += 1
        m = json.load(open(os.path.join(dirpath, "manifest.json")))
        for t in m["inputs"] + m["outputs"]:
            want_file = re.sub(r"[^A-Za-z0-9_.-]", "_", t["name"]) + ".npy"
            try:
                assert t["file"] == want_file, "file %s != %s" % (t["file"], want_file)
                raw, shape, data = read_npy(os.path.join(dirpath, t["file"]))
                assert list(shape) == t["shape"], "shape %s != manifest %s" % (shape, t["shape"])
                hdr = numpy_header(shape)
                assert raw[:len(hdr)] == hdr, "header differs from numpy's"
                le = array("f", data)
                if sys.byteorder != "little":
                    le.byteswap()
                assert hdr + le.tobytes() == raw, "round trip differs"
                assert all(math.isfinite(x) for x in data), "non-finite values"
                nfiles += 1
            except AssertionError as e:
                bad.append("%s/%s: %s" % (dirpath, t["file"], e))
    for b in bad:
        print("FAIL", b)
    print("%d cases, %d npy files ok, %d bad" % (ncases, nfiles, len(bad)))
    return 1 if bad or ncases == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
