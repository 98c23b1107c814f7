#!/usr/bin/env python3
"""Test DNS responder (stdlib only): UDP on 127.0.0.1, port 0, prints the port on stdout.

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
NOERROR answer. Every query is logged to QUERYLOG as one JSON line {"name", "type", "t"} before
it is answered, so a test that got its answer can count queries.
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


def main():
    zone = Zone(sys.argv[1])
    log = open(sys.argv[2], "a", encoding="utf-8")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # a burst of lookups (hundreds at once) must queue, not be dropped, while this process waits
    # for a CPU: the default buffer holds about 200 datagrams (best effort: capped by rmem_max)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    later, seq = [], 0  # heap of (due, seq, reply, peer)
    while True:
        now = time.monotonic()
        while later and later[0][0] <= now:
            _, _, reply, peer = heapq.heappop(later)
            sock.sendto(reply, peer)
        timeout = max(0.0, later[0][0] - now) if later else None
        if not select.select([sock], [], [], timeout)[0]:
            continue
        try:
            pkt, peer = sock.recvfrom(4096)
        except OSError:
            continue
        q = parse_query(pkt)
        if q is None:
            continue
        qid, flags, qname, qtype, question = q
        log.write(json.dumps({"name": qname, "type": TYPES.get(qtype, str(qtype)),
                              "t": time.time()}) + "\n")
        log.flush()
        reply, delay = build(zone, qid, flags, qname, qtype, question)
        if reply is None:
            continue
        if delay > 0:
            seq += 1
            heapq.heappush(later, (time.monotonic() + delay, seq, reply, peer))
        else:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
