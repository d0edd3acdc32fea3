#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_compile: each valid policy of the policy
corpus, then a NUL byte and the bytes fuzz_compile makes its made-up
addresses from (per host: a count byte, then per address a how byte, the
address, a 16-bit TTL and, for an address inside a CIDR entry, an index).
Deterministic: a fixed-seed generator picks the bytes.

Usage: fuzz/gen-compile-seeds.py [OUTDIR]   (default fuzz/corpus/compile)"""

import glob
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = ["good-*.yaml", "policy-*.yaml", "netns-*.yaml", "hand-many-hosts.yaml",
           "hand-flow-style.yaml"]


def host_bytes(rng):
    n = rng.randrange(1, 9)
    out = bytes([n | rng.randrange(0, 16) << 4])
    for _ in range(n):
        how = rng.randrange(0, 4)
        out += bytes([how])
        if how & 1:
            out += bytes.fromhex("20010db8") + rng.randbytes(12)
        else:
            out += bytes([192, 0, 2, rng.randrange(0, 256)])
        out += struct.pack("<H", rng.choice([0, 1, 30, 300, 3600, 65535]))
        if how & 2:
            out += bytes([rng.randrange(0, 256)])
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "compile")
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(1)
    paths = sorted(p for g in SOURCES for p in glob.glob(os.path.join(HERE, "corpus",
                                                                       "policy", g)))
    for path in paths:
        with open(path, "rb") as f:
            policy = f.read()
        tail = b"".join(host_bytes(rng) for _ in range(8))
        with open(os.path.join(outdir, "addrs-" + os.path.basename(path)), "wb") as f:
            f.write(policy + b"\0" + tail)
    print("%d seeds in %s" % (len(paths), outdir))


if __name__ == "__main__":
    main()
