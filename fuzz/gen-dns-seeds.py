#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_dns: raw DNS responses, each after the
target's control byte (bit 0: AAAA, bit 1: feed again for the other
family, bits 2-7: max_addresses).  Standard library only; the output is
the same on every run, so the committed seeds can be checked against it.

Usage: fuzz/gen-dns-seeds.py [OUTDIR]   (default fuzz/corpus/dns)"""

import ipaddress
import os
import struct
import sys

T_A, T_CNAME, T_SOA, T_AAAA = 1, 5, 6, 28
C_IN = 1
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
QNAME = "www.example.com"
QNAME_OFF = 12  # where the question's name starts: a pointer target


def name(n):
    """A name as uncompressed labels."""
    out = b""
    for label in n.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def ptr(off):
    return struct.pack(">H", 0xC000 | off)


def header(rcode, qd, an, ns=0, ar=0, tc=False):
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    return struct.pack(">HHHHHH", 0x1234, flags, qd, an, ns, ar)


def question(qtype, qname=QNAME):
    return name(qname) + struct.pack(">HH", qtype, C_IN)


def rr(owner, rtype, ttl, rdata):
    """owner is already encoded: labels or a pointer."""
    return owner + struct.pack(">HHIH", rtype, C_IN, ttl, len(rdata)) + rdata


def a(ip):
    return ipaddress.IPv4Address(ip).packed


def aaaa(ip):
    return ipaddress.IPv6Address(ip).packed


def soa():
    rdata = name("ns.example.com") + name("hostmaster.example.com")
    return rdata + struct.pack(">IIIII", 1, 3600, 600, 86400, 300)


def answer(qtype, records, rcode=NOERROR, ns=(), tc=False):
    body = question(qtype) + b"".join(records) + b"".join(ns)
    return header(rcode, 1, len(records), len(ns), tc=tc) + body


def ctl(aaaa_q=False, both=False, cap=0):
    return bytes([(1 if aaaa_q else 0) | (2 if both else 0) | (cap << 2)])


def seeds():
    q = ptr(QNAME_OFF)
    out = {}

    out["a-one"] = ctl() + answer(T_A, [rr(q, T_A, 300, a("192.0.2.10"))])
    out["a-many-dups"] = ctl(cap=3) + answer(T_A, [
        rr(q, T_A, 60 * i, a("192.0.2.%d" % (i % 4 + 1))) for i in range(8)])
    out["aaaa-one"] = ctl(True) + answer(T_AAAA, [
        rr(q, T_AAAA, 120, aaaa("2001:db8::10"))])
    out["aaaa-many"] = ctl(True, cap=2) + answer(T_AAAA, [
        rr(q, T_AAAA, 30 + i, aaaa("2001:db8::%x" % (9 - i))) for i in range(6)])

    chain = [
        rr(q, T_CNAME, 40, name("edge.example.net")),
        rr(name("edge.example.net"), T_CNAME, 4000, name("e1.cdn.example")),
        rr(name("e1.cdn.example"), T_A, 300, a("198.51.100.7")),
        rr(name("e1.cdn.example"), T_A, 5, a("198.51.100.8")),
    ]
    out["cname-chain-a"] = ctl(both=True) + answer(T_A, chain)
    # The second name is a pointer into the first CNAME's target.
    edge = QNAME_OFF + len(name(QNAME)) + 4 + 2 + 10
    out["cname-compressed-aaaa"] = ctl(True) + answer(T_AAAA, [
        rr(q, T_CNAME, 600, name("edge.example.net")),
        rr(ptr(edge), T_AAAA, 60, aaaa("2001:db8:1::1")),
        rr(ptr(edge), T_AAAA, 60, aaaa("2001:db8:1::2")),
    ])
    out["cname-dangling"] = ctl() + answer(T_A, [
        rr(q, T_CNAME, 60, name("nowhere.example.net"))])

    out["nxdomain"] = ctl() + answer(T_A, [], NXDOMAIN, [rr(name("example.com"), T_SOA,
                                                            300, soa())])
    out["nodata"] = ctl(True) + answer(T_AAAA, [], NOERROR, [rr(name("example.com"), T_SOA,
                                                                300, soa())])
    out["servfail"] = ctl() + answer(T_A, [], SERVFAIL)
    out["refused"] = ctl() + answer(T_A, [], REFUSED)
    out["header-only"] = ctl() + header(NOERROR, 0, 0)

    full = answer(T_A, [rr(q, T_A, 300, a("192.0.2.%d" % i)) for i in range(1, 4)])
    out["truncated-tc"] = ctl() + answer(T_A, [rr(q, T_A, 300, a("192.0.2.1"))], tc=True)
    out["truncated-mid-record"] = ctl() + full[:len(full) - 7]
    out["truncated-mid-name"] = ctl() + full[:QNAME_OFF + 6]

    out["uncompressed"] = ctl() + answer(T_A, [rr(name(QNAME), T_A, 300, a("203.0.113.1"))])
    out["pointer-loop"] = ctl() + header(NOERROR, 1, 1) + ptr(QNAME_OFF) + \
        struct.pack(">HH", T_A, C_IN) + rr(q, T_A, 300, a("192.0.2.1"))
    out["pointer-forward"] = ctl() + header(NOERROR, 1, 1) + ptr(200) + \
        struct.pack(">HH", T_A, C_IN) + rr(q, T_A, 300, a("192.0.2.1"))

    out["oversized-a"] = ctl(cap=63) + answer(T_A, [
        rr(q, T_A, i, struct.pack(">I", 0xC6336400 + i)) for i in range(300)])
    out["oversized-aaaa"] = ctl(True, True) + answer(T_AAAA, [
        rr(q, T_AAAA, 1000 - i, aaaa("2001:db8::")[:14] + struct.pack(">H", i))
        for i in range(150)])

    out["refused-addresses-a"] = ctl() + answer(T_A, [
        rr(q, T_A, 300, a("0.0.0.0")), rr(q, T_A, 300, a("127.0.0.1")),
        rr(q, T_A, 300, a("192.0.2.1"))])
    out["refused-addresses-aaaa"] = ctl(True) + answer(T_AAAA, [
        rr(q, T_AAAA, 300, aaaa("::")), rr(q, T_AAAA, 300, aaaa("::ffff:192.0.2.1")),
        rr(q, T_AAAA, 300, aaaa("::1")), rr(q, T_AAAA, 300, aaaa("2001:db8::1"))])
    out["ttl-extremes"] = ctl() + answer(T_A, [
        rr(q, T_A, 0, a("192.0.2.1")), rr(q, T_A, 0x80000001, a("192.0.2.2")),
        rr(q, T_A, 0x7FFFFFFF, a("192.0.2.3")), rr(q, T_A, 0xFFFFFFFF, a("192.0.2.4"))])

    out["bad-rdlength"] = ctl() + answer(T_A, [
        q + struct.pack(">HHIH", T_A, C_IN, 300, 5) + b"\xc0\x00\x02\x01\x01"])
    out["wrong-type"] = ctl() + answer(T_A, [rr(q, T_AAAA, 300, aaaa("2001:db8::1")),
                                             rr(q, T_A, 300, a("192.0.2.9"))])
    out["other-owner"] = ctl() + answer(T_A, [rr(name("evil.example.org"), T_A, 300,
                                                  a("192.0.2.66"))])
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "dns")
    os.makedirs(outdir, exist_ok=True)
    for fname, data in sorted(seeds().items()):
        with open(os.path.join(outdir, fname), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds()), outdir))


if __name__ == "__main__":
    main()
