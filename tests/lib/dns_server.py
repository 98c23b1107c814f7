#!/usr/bin/env python3
"""Test DNS responder (stdlib only): UDP and TCP on 127.0.0.1, one free port number for both,
printed on stdout.

usage: dns_server.py ZONE.json QUERYLOG.jsonl

ZONE.json maps names to records and is re-read whenever its bytes change, so a test can change
answers and TTLs mid-run (write a temporary file and rename it over the zone):
  {"a.test":   {"A": ["127.0.0.5"], "AAAA": ["::1"], "ttl": 300},
   "www.test": {"CNAME": "a.test", "ttl": 5},
   "nx.test":  {"rcode": "NXDOMAIN"},          # also SERVFAIL, REFUSED, DROP (no reply)
   "slow.test": {"A": ["127.0.0.1"], "delay": 0.5}}   # answer after 0.5 s
A "*.SUFFIX" key answers every name under SUFFIX that has no entry of its own (a test with
30,000 distinct names needs no 30,000-entry zone).
Unknown names get NXDOMAIN; a known name without records of the asked type gets an empty
NOERROR answer. Every query is logged to QUERYLOG as one JSON line {"name", "type", "t", "tcp"}
before it is answered, so a test that got its answer can count queries.
Like a real server, a UDP reply larger than the client can take (512 bytes, or the EDNS size it
announced) is sent truncated (TC set, no answers), and the client asks again over TCP, where the
whole answer goes (a name with hundreds of addresses).
"""
import heapq
import json
import select
import socket
import struct
import sys
import time

RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
TYPES = {1: "A", 28: "AAAA", 5: "CNAME"}


class Zone:
    def __init__(self, path):
        self.path, self.raw, self.names = path, None, {}

    def get(self, name):
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except OSError:
            raw = self.raw
        if raw != self.raw:
            try:
                zone = json.loads(raw or b"{}")
                self.names = {k.lower().rstrip("."): v for k, v in zone.items()}
                self.raw = raw
            except ValueError:
                pass  # half-written file: keep the previous zone
        rec = self.names.get(name)
        labels = name.split(".")
        for i in range(1, len(labels)):
            if rec is not None:
                break
            rec = self.names.get("*." + ".".join(labels[i:]))
        return rec


def parse_query(pkt):
    """Returns (id, flags, qname, qtype, question bytes) or None."""
    if len(pkt) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", pkt[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    labels, i = [], 12
    while True:
        if i >= len(pkt):
            return None
        n = pkt[i]
        i += 1
        if n == 0:
            break
        if n & 0xC0 or i + n > len(pkt):
            return None
        labels.append(pkt[i:i + n].decode("ascii", "replace"))
        i += n
    if i + 4 > len(pkt):
        return None
    qtype, _qclass = struct.unpack("!HH", pkt[i:i + 4])
    return qid, flags, ".".join(labels).lower(), qtype, pkt[12:i + 4]


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def rr(owner, rtype, ttl, rdata):
    return owner + struct.pack("!HHIH", rtype, 1, max(0, int(ttl)), len(rdata)) + rdata


def build(zone, qid, flags, qname, qtype, question):
    """Returns (reply bytes or None for DROP, delay seconds)."""
    rec = zone.get(qname)
    rcode, answers = 3, []
    delay = 0.0
    if rec is not None:
        delay = float(rec.get("delay", 0))
        code = rec.get("rcode", "NOERROR")
        if code == "DROP":
            return None, delay
        rcode = RCODES.get(code, 0)
        owner, name, hops = b"\xc0\x0c", qname, 0
        while rcode == 0 and rec is not None and hops < 8:
            ttl = rec.get("ttl", 300)
            if "CNAME" in rec and qtype != 5:
                target = rec["CNAME"].lower().rstrip(".")
                answers.append(rr(owner, 5, ttl, encode_name(target)))
                name, owner, hops = target, encode_name(target), hops + 1
                rec = zone.get(name)
                if rec is None:
                    break  # dangling CNAME: answer just the alias
                continue
            for addr in rec.get("A", []) if qtype == 1 else []:
                answers.append(rr(owner, 1, ttl, socket.inet_pton(socket.AF_INET, addr)))
            for addr in rec.get("AAAA", []) if qtype == 28 else []:
                answers.append(rr(owner, 28, ttl, socket.inet_pton(socket.AF_INET6, addr)))
            break
    rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode  # QR, opcode+RD, AA, RA
    head = struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0)
    return head + question + b"".join(answers), delay


def udp_limit(pkt, question):
    """The largest UDP reply the client takes: 512, or the size its EDNS OPT record announces."""
    arcount = struct.unpack("!H", pkt[10:12])[0]
    opt = pkt[12 + len(question):]
    if arcount and len(opt) >= 5 and opt[0] == 0 and struct.unpack("!H", opt[1:3])[0] == 41:
        return max(512, struct.unpack("!H", opt[3:5])[0])
    return 512


def truncated(reply):
    """The reply's header with TC set and no records, plus its question."""
    qid, rflags, qd = struct.unpack("!HHH", reply[:6])
    _, question = reply[:12], reply[12:]
    end = 0
    while question[end] != 0:
        end += question[end] + 1
    return struct.pack("!HHHHHH", qid, rflags | 0x0200, qd, 0, 0, 0) + question[:end + 5]


def bind_pair():
    """A UDP and a TCP socket on the same free port of 127.0.0.1."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # a burst of lookups (hundreds at once) must queue, not be dropped, while this process
        # waits for a CPU: the default buffer holds about 200 datagrams (best effort: capped by
        # rmem_max)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        return udp, tcp
    sys.exit("dns_server.py: no free port for both UDP and TCP")


def main():
    zone = Zone(sys.argv[1])
    log = open(sys.argv[2], "a", encoding="utf-8")
    sock, listener = bind_pair()
    print(sock.getsockname()[1], flush=True)
    later, seq = [], 0  # heap of (due, seq, reply, peer); peer is a TCP socket or an address
    conns = {}  # TCP socket -> bytes received so far

    def answer(pkt, peer, tcp):
        nonlocal seq
        q = parse_query(pkt)
        if q is None:
            return
        qid, flags, qname, qtype, question = q
        log.write(json.dumps({"name": qname, "type": TYPES.get(qtype, str(qtype)),
                              "t": time.time(), "tcp": tcp}) + "\n")
        log.flush()
        reply, delay = build(zone, qid, flags, qname, qtype, question)
        if reply is None:
            return
        if tcp:
            reply = struct.pack("!H", len(reply)) + reply
        elif len(reply) > udp_limit(pkt, question):
            reply = truncated(reply)
        seq += 1
        heapq.heappush(later, (time.monotonic() + delay, seq, reply, peer))

    def send(reply, peer):
        try:
            if isinstance(peer, socket.socket):
                if peer in conns:
                    peer.sendall(reply)
            else:
                sock.sendto(reply, peer)
        except OSError:
            pass

    while True:
        now = time.monotonic()
        while later and later[0][0] <= now:
            _, _, reply, peer = heapq.heappop(later)
            send(reply, peer)
        timeout = max(0.0, later[0][0] - now) if later else None
        ready = select.select([sock, listener] + list(conns), [], [], timeout)[0]
        for r in ready:
            if r is listener:
                c, _ = listener.accept()
                conns[c] = b""
            elif r is sock:
                try:
                    pkt, peer = sock.recvfrom(65535)
                except OSError:
                    continue
                answer(pkt, peer, False)
            else:
                try:
                    data = r.recv(65535)
                except OSError:
                    data = b""
                if not data:
                    del conns[r]
                    r.close()
                    continue
                buf = conns[r] + data
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    n = struct.unpack("!H", buf[:2])[0]
                    answer(buf[2:2 + n], r, True)
                    buf = buf[2 + n:]
                conns[r] = buf


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
