#!/usr/bin/env python3
"""hdrlog_read.py: an independent reader of HdrHistogram interval logs (V2 compressed encoding),
for the tests of `spate bench --hdr-log` (stdlib only).

Usage: hdrlog_read.py FILE

Prints one JSON object per interval line, in file order:
    {"tag": null or "w0", "start": s, "length": s, "max_ms": ms, "count": N,
     "counts": {"<index>": count, ...}}
index being the HdrHistogram counts-array index (for spate's histograms, spate's own bucket
index). Exits 1 with a message naming the line on anything malformed.
"""
import base64
import json
import struct
import sys
import zlib

COMPRESSED = 0x1C849314
PLAIN = 0x1C849313


def varints(b):
    """ZigZag LEB128, at most 9 bytes, the 9th carrying 8 bits (HdrHistogram's ZigZagEncoding)."""
    i = 0
    while i < len(b):
        v, shift = 0, 0
        for k in range(9):
            byte = b[i]
            i += 1
            if k == 8:
                v |= byte << 56
                break
            v |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        yield (v >> 1) ^ -(v & 1)


def decode(b64):
    raw = base64.b64decode(b64, validate=True)
    cookie, length = struct.unpack(">ii", raw[:8])
    if cookie != COMPRESSED:
        raise ValueError("compressed cookie %#x" % cookie)
    plain = zlib.decompress(raw[8:8 + length])
    cookie, payload, offset, digits, lowest, highest, ratio = struct.unpack(">iiiiqqd", plain[:40])
    if cookie != PLAIN or offset != 0 or lowest != 1 or ratio != 1.0:
        raise ValueError("header %r" % ((hex(cookie), offset, digits, lowest, ratio),))
    body = plain[40:40 + payload]
    if len(body) != payload:
        raise ValueError("payload of %d bytes, %d present" % (payload, len(body)))
    counts, idx = {}, 0
    for v in varints(body):
        if v < 0:
            idx += -v
        else:
            if v:
                counts[str(idx)] = v
            idx += 1
    return counts, digits, highest


def main():
    seen_header = False
    for n, line in enumerate(open(sys.argv[1]), 1):
        line = line.rstrip("\n")
        if line.startswith("#"):
            seen_header = seen_header or line.startswith("#[Histogram log format version")
            continue
        if line.startswith('"StartTimestamp"'):
            continue
        tag = None
        if line.startswith("Tag="):
            tag, line = line[4:].split(",", 1)
        try:
            start, length, mx, b64 = line.split(",")
            counts, digits, highest = decode(b64)
        except Exception as e:  # noqa: BLE001 - any malformed line is a failure
            sys.exit("line %d: %s" % (n, e))
        print(json.dumps({"tag": tag, "start": float(start), "length": float(length),
                          "max_ms": float(mx), "count": sum(counts.values()), "counts": counts,
                          "digits": digits, "highest": highest}))
    if not seen_header:
        sys.exit("no '#[Histogram log format version' header")


if __name__ == "__main__":
    main()
