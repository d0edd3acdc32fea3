#!/usr/bin/env python3
"""A DNS server that misbehaves on purpose, for netns-tests/t_faults.sh.

It answers A and AAAA queries from a hosts(5)-style file, over UDP and TCP
on ADDR port 53, in one of two ways:
  delay=MS   every UDP answer leaves MS milliseconds after its query
  truncate   every UDP answer is an empty one with the TC bit set, so the
             client has to ask again over TCP, where it gets the records
Names not in the file are NXDOMAIN.  Each query is logged on stdout as
"udp|tcp NAME TYPE".  Standard library only.
"""

import socket
import socketserver
import struct
import sys
import threading

TYPE_A, TYPE_AAAA = 1, 28
FLAG_QR, FLAG_AA, FLAG_TC, FLAG_RD, FLAG_RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
RCODE_NXDOMAIN = 3


def load_hosts(path):
    table = {}
    with open(path) as f:
        for line in f:
            words = line.split('#')[0].split()
            for name in words[1:]:
                table.setdefault(name.lower(), []).append(words[0])
    return table


def parse_question(msg):
    """(id, rd, name, qtype, end of the question), or None if malformed."""
    if len(msg) < 12:
        return None
    qid, flags, qdcount = struct.unpack('!HHH', msg[:6])
    if qdcount != 1:
        return None
    labels, i = [], 12
    while i < len(msg) and msg[i] != 0:
        n = msg[i]
        if n & 0xc0 or i + 1 + n > len(msg):
            return None
        labels.append(msg[i + 1:i + 1 + n].decode('ascii', 'replace'))
        i += 1 + n
    if i + 5 > len(msg):
        return None
    qtype, = struct.unpack('!H', msg[i + 1:i + 3])
    return qid, flags & FLAG_RD, '.'.join(labels).lower(), qtype, i + 5


def records(addrs, qtype):
    family = socket.AF_INET if qtype == TYPE_A else socket.AF_INET6
    out = []
    for a in addrs:
        try:
            rdata = socket.inet_pton(family, a)
        except OSError:
            continue
        # owner: a pointer to the question's name; TTL 0, as dnsmasq's
        # default, so the daemon's TTL floor decides
        out.append(struct.pack('!HHHIH', 0xc00c, qtype, 1, 0, len(rdata)) + rdata)
    return out


def answer(hosts, msg, truncate):
    q = parse_question(msg)
    if not q:
        return None
    qid, rd, name, qtype, end = q
    flags = FLAG_QR | FLAG_AA | FLAG_RA | rd
    rrs = []
    if name not in hosts:
        flags |= RCODE_NXDOMAIN
    elif qtype in (TYPE_A, TYPE_AAAA):
        rrs = records(hosts[name], qtype)
    if truncate:
        flags |= FLAG_TC
        rrs = []
    header = struct.pack('!HHHHHH', qid, flags, 1, len(rrs), 0, 0)
    return header + msg[12:end] + b''.join(rrs), name, qtype


def log(proto, name, qtype):
    print(f'{proto} {name} {qtype}', flush=True)


def serve_udp(sock, hosts, mode):
    delay = int(mode.split('=')[1]) / 1000 if mode.startswith('delay=') else 0
    while True:
        msg, peer = sock.recvfrom(4096)
        got = answer(hosts, msg, mode == 'truncate')
        if not got:
            continue
        log('udp', got[1], got[2])
        if delay:
            threading.Timer(delay, sock.sendto, (got[0], peer)).start()
        else:
            sock.sendto(got[0], peer)


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        f = self.request.makefile('rb')
        while True:
            head = f.read(2)
            if len(head) < 2:
                return
            msg = f.read(struct.unpack('!H', head)[0])
            got = answer(self.server.hosts, msg, False)
            if not got:
                return
            log('tcp', got[1], got[2])
            self.request.sendall(struct.pack('!H', len(got[0])) + got[0])


def main():
    if len(sys.argv) != 4 or not (sys.argv[2] == 'truncate' or
                                  sys.argv[2].startswith('delay=')):
        sys.exit('usage: dns-fault.py ADDR delay=MS|truncate HOSTS')
    addr, mode, path = sys.argv[1:]
    hosts = load_hosts(path)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    tcp = socketserver.ThreadingTCPServer((addr, 53), TCPHandler)
    tcp.hosts = hosts
    threading.Thread(target=tcp.serve_forever, daemon=True).start()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, 53))
    print(f'listening on {addr} port 53, {mode}', flush=True)
    serve_udp(udp, hosts, mode)


if __name__ == '__main__':
    main()
