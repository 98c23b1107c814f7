#!/usr/bin/env python3
"""time_check.py: checks a condition on every `spate fetch` result line against the ground truth
of lib/timed_server.py's log and lib/dns_server.py's query log (stdlib only).

usage: time_check.py RESULTS SERVERLOG DNSLOG COND [URL-REGEX]
  SERVERLOG / DNSLOG may be "-" (none). Prints "ok" when COND holds for every result line whose
  url matches URL-REGEX (at least one must), else how many failed and the first few.
Names in COND: r (the line), t (r["time"]), start (r["start"]), recs (the server's records of
the line's requests, matched by the url's key=K parameter, in order), s0 / s (the first / last of
them, or None), dq (DNS queries logged for the url's host), dns_sent (when the later of them was
answered: its log time plus the zone's delay given as DELAY=... in the environment, default 0),
and abs, min, max, TOL and BTOL (from the environment, default 0.05 and 0.15).
"""
import json
import os
import re
import sys
import urllib.parse


def load(path):
    if path == "-":
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv):
    rows, srv, dns = load(argv[1]), load(argv[2]), load(argv[3])
    cond = argv[4]
    pat = re.compile(argv[5]) if len(argv) > 5 else None
    tol = float(os.environ.get("TOL", "0.05"))
    btol = float(os.environ.get("BTOL", "0.15"))
    delay = float(os.environ.get("DELAY", "0"))
    by_key = {}
    for q in srv:
        by_key.setdefault(q.get("key"), []).append(q)
    bad, seen = [], 0
    for r in rows:
        if pat and not pat.search(r.get("url", "")):
            continue
        seen += 1
        u = urllib.parse.urlsplit(r["url"])
        recs = by_key.get(dict(urllib.parse.parse_qsl(u.query)).get("key"), [])
        dq = [q for q in dns if q["name"] == u.hostname]
        env = dict(r=r, t=r["time"], start=r["start"], recs=recs, s0=recs[0] if recs else None,
                   s=recs[-1] if recs else None, dq=dq,
                   dns_sent=max(q["t"] for q in dq) + delay if dq else None,
                   abs=abs, min=min, max=max, TOL=tol, BTOL=btol)
        try:
            good = eval(cond, env)
        except Exception as e:  # a missing record is a failure, shown with its cause
            good = "%s: %s" % (type(e).__name__, e)
        if good is not True:
            bad.append((r.get("id"), good, r.get("start"), r["time"],
                        [{k: q.get(k) for k in ("t_accept", "t_req", "t_head0", "t_head", "t_end0", "t_end")}
                         for q in recs]))
    if not seen:
        print("no result line matched")
    elif bad:
        print("%d of %d fail, e.g. %s" % (len(bad), seen, json.dumps(bad[:3])[:1500]))
    else:
        print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
