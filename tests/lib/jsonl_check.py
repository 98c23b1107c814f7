#!/usr/bin/env python3
"""jsonl_check.py: checks over JSON Lines for the shell tests (stdlib only).

  jsonl_check.py schema FILE
      Every line is a well-formed `spate fetch` result object (SPEC.md "spate fetch"). Prints one
      line per problem (at most 20) and exits 1 when there is any.
  jsonl_check.py eval FILE EXPR [NAME=FILE ...]
      Evaluates the Python expression EXPR and prints the result (a str as is, anything else as
      JSON). Names available: rows (the parsed lines of FILE), by_id (id -> row; non-scalar ids
      keyed by their compact JSON), each NAME given (the rows of that file), and json, re, base64,
      hashlib, Counter, hx (bytes.fromhex), and for http_server.py log records q: hdr(q, name)
      (list of values), reqline(q), body(q) (bytes). Exits 1 if a line is not JSON.
"""
import base64
import hashlib
import json
import math
import re
import sys
from collections import Counter

KINDS = {"dns", "connect", "tls", "timeout", "reset", "protocol", "http", "too_large", "input",
         "canceled"}
TIMES = ("dns", "connect", "tls", "ttfb", "total", "elapsed")  # in the order SPEC says they hold


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                raise ValueError("%s:%d: empty line in JSON Lines output" % (path, no))
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError("%s:%d: not JSON (%s): %r" % (path, no, e, line[:200]))
    return rows


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def row_problems(r):
    if not isinstance(r, dict):
        return ["not an object"]
    p = []
    for k in ("id", "url", "method", "status", "ok", "attempts", "bytes", "start", "time", "error"):
        if k not in r:
            p.append("missing field %r" % k)
    if p:
        return p
    if not isinstance(r["url"], str) or not r["url"]:
        p.append("url is not a non-empty string")
    if not isinstance(r["method"], str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", r["method"]):
        p.append("method %r is not a token" % (r["method"],))
    st = r["status"]
    if st is not None and not (isinstance(st, int) and not isinstance(st, bool) and 100 <= st <= 599):
        p.append("status %r is neither null nor 100..599" % (st,))
    if not isinstance(r["ok"], bool):
        p.append("ok is not a boolean")
    a = r["attempts"]
    if not (isinstance(a, int) and not isinstance(a, bool) and a >= 0):
        p.append("attempts %r is not an integer >= 0" % (a,))
    st0 = r["start"]
    if st0 is not None and not (is_num(st0) and st0 > 1e9):
        p.append("start %r is neither null nor Unix seconds" % (st0,))
    if (a == 0) != (st0 is None):
        p.append("attempts %r with start %r: null exactly when never attempted" % (a, st0))
    b = r["bytes"]
    if not (isinstance(b, int) and not isinstance(b, bool) and b >= 0):
        p.append("bytes %r is not an integer >= 0" % (b,))
    t = r["time"]
    if not isinstance(t, dict):
        p.append("time is not an object")
    else:
        for k in TIMES:
            if k not in t:
                p.append("time.%s missing" % k)
            elif not (is_num(t[k]) and 0 <= t[k] < 3600):
                p.append("time.%s = %r is not a number of seconds" % (k, t[k]))
        vals = [t.get(k) for k in TIMES]
        if all(is_num(v) for v in vals):
            if any(x > y for x, y in zip(vals, vals[1:])):
                p.append("time %r is not ordered dns <= connect <= tls <= ttfb <= total <= elapsed" % (t,))
            if a == 0 and any(vals):
                p.append("time %r is not all 0 for a request never attempted" % (t,))
    e = r["error"]
    if e is not None:
        if not isinstance(e, dict):
            p.append("error is neither null nor an object")
        else:
            if e.get("kind") not in KINDS:
                p.append("error.kind %r is not one of the SPEC kinds" % (e.get("kind"),))
            if not isinstance(e.get("message"), str) or not e["message"].strip():
                p.append("error.message is not a non-empty string")
    if r["ok"] is True and e is not None:
        p.append("ok is true but error is set")
    if r["ok"] is False and e is None:
        p.append("ok is false but error is null")
    if "body" in r and not isinstance(r["body"], str):
        p.append("body is not a string")
    if "body_base64" in r:
        try:
            base64.b64decode(r["body_base64"], validate=True)
        except Exception:
            p.append("body_base64 is not base64")
    return p


def cmd_schema(path):
    try:
        rows = load(path)
    except ValueError as e:
        print(e)
        return 1
    bad = 0
    for i, r in enumerate(rows, 1):
        for prob in row_problems(r):
            bad += 1
            if bad <= 20:
                print("%s:%d: %s: %s" % (path, i, prob, json.dumps(r)[:300]))
    if bad > 20:
        print("... %d problems in all" % bad)
    return 1 if bad else 0


def hdr(q, name):
    """Values of header `name` (any case) in a logged request q, in order."""
    return [v for k, v in q["headers"] if k.lower() == name.lower()]


def reqline(q):
    return q["head"].split("\r\n", 1)[0]


def body(q):
    return bytes.fromhex(q["body_hex"])


def key(v):
    return v if isinstance(v, (int, str)) and not isinstance(v, bool) else json.dumps(v, separators=(",", ":"))


def cmd_eval(path, expr, extra):
    try:
        rows = load(path)
        env = dict(rows=rows, by_id={key(r.get("id")): r for r in rows if isinstance(r, dict)},
                   json=json, re=re, base64=base64, hashlib=hashlib, Counter=Counter,
                   hx=bytes.fromhex, key=key, hdr=hdr, reqline=reqline,
                   body=body)
        for spec in extra:
            name, _, f = spec.partition("=")
            env[name] = load(f)
    except (ValueError, OSError) as e:
        print(e)
        return 1
    v = eval(expr, env)
    print(v if isinstance(v, str) else json.dumps(v, default=lambda o: o.decode("latin-1")))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "schema":
        return cmd_schema(argv[2])
    if len(argv) >= 4 and argv[1] == "eval":
        return cmd_eval(argv[2], argv[3], argv[4:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
