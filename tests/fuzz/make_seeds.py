#!/usr/bin/env python3
"""Writes the committed seed corpora under tests/fuzz/corpus/<target>/ (run once; the output is
committed, this script documents how it was made). Seeds are small and named by what they show."""
import os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- url: "URL" or "BASE\nREF" ----
URLS = {
    "plain": "http://example.com/",
    "https_port": "https://Example.COM:8443/a/b?x=1&y=2#frag",
    "no_path": "http://localhost",
    "query_only": "http://h?q",
    "trailing_dot": "http://localhost./x",
    "ipv4": "http://127.0.0.1:8080/",
    "ipv6": "http://[::1]:8080/p",
    "ipv6_full": "https://[2001:DB8:0:0:0:0:0:1]/",
    "ipv6_zone": "http://[fe80::1%25eth0]/",
    "ipv6_nobracket": "http://::1/",
    "userinfo": "http://user:p%40ss@host/",
    "two_at": "http://a@b@c/",
    "backslash": "http://evil\\@good/",
    "octal": "http://0177.0.0.1/",
    "hex_host": "http://0x7f.1/",
    "port_zero": "http://h:0/",
    "port_big": "http://h:65536/",
    "port_nondigit": "http://h:8a/",
    "no_scheme": "example.com:8080/x",
    "ftp": "ftp://example.com/",
    "no_slashes": "http:example.com",
    "empty_host": "http:///x",
    "space": "http://exa mple.com/",
    "ctrl": "http://host/a\x7fb",
    "idn": "http://b\xc3\xbccher.de/",
    "utf8_path": "http://h/caf\xc3\xa9?q=\xe2\x82\xac",
    "long_label": "http://" + "a" * 64 + ".com/",
    "underscore": "http://my_host-1.example/",
    "empty_label": "http://a..b/",
    "bracket_junk": "http://[::1]x/",
    "resolve_rel": "http://a/b/c/d;p?q\ng;x?y#s",
    "resolve_dots": "http://a/b/c/d;p?q\n../../../g",
    "resolve_abs": "http://a/b/c/d;p?q\n/./g/../h",
    "resolve_netpath": "https://u:p@a:444/b/c\n//other:81/x/./y",
    "resolve_query": "http://a/b/c?q\n?y",
    "resolve_frag": "http://a/b/c?q\n#s",
    "resolve_scheme": "http://a/b\nhttps://B/%7e/../x",
    "resolve_dotdot_end": "http://a/b/c/d\n..",
    "resolve_dot": "http://a/b/c/\n.",
    "resolve_empty": "http://a/b\n",
    "resolve_blank": "http://a/b\n   ",
    "resolve_badbase": "nope\n/x",
    "resolve_ctrl": "http://a/\n/x\x01y",
}
for k, v in URLS.items():
    write("url", k, v)

# ---- input: one line of `spate fetch -i` ----
LINES = {
    "url": "http://127.0.0.1:8080/x",
    "url_blank_around": "  \thttp://h/ \t",
    "blank": "   ",
    "comment": "# a comment",
    "crlf": "http://h/\r\n",
    "bom": "\xef\xbb\xbfhttp://h/",
    "nul_url": "http://h/\x00x",
    "json_min": '{"url": "http://h/"}',
    "json_full": '{"url": "http://h/p", "method": "POST", "headers": {"X-A": "1", "Accept": "*/*"},'
                 ' "body": "a\\nb\\u0000c", "id": {"k": [1, 2.5e3, -0, true, null]}}',
    "json_json": '{"url": "http://h/", "json": {"a": [1, "x", {"b": null}], "c": "\\ud83d\\ude00"}}',
    "json_both": '{"url": "http://h/", "body": "x", "json": 1}',
    "json_dup": '{"url": "http://h/", "url": "http://i/"}',
    "json_unknown": '{"url": "http://h/", "extra": 1}',
    "json_nourl": '{"method": "GET"}',
    "json_badhdr": '{"url": "http://h/", "headers": {"A": 1}}',
    "json_hdr_nul": '{"url": "http://h/", "headers": {"A\\u0000": "v"}}',
    "json_array": '[1, 2]',
    "json_trailing": '{"url": "http://h/"} x',
    "json_bad_escape": '{"url": "http://h/\\x"}',
    "json_lone_surrogate": '{"url": "http://h/", "id": "\\ud800"}',
    "json_bad_utf8": '{"url": "http://h/", "id": "\xc3\x28"}',
    "json_deep": '{"url": "http://h/", "json": ' + "[" * 70 + "]" * 70 + "}",
    "json_numbers": '{"url": "http://h/", "id": [0, -1, 1.0, 1e5, 1E-5, -0.0e+0]}',
    "json_bad_numbers": '{"url": "http://h/", "id": [01]}',
    "json_long_key": '{"' + "k\x01" * 40 + '": 1}',
    "json_unterminated": '{"url": "http://h/',
    "json_ws": ' \t{ "url" : "http://h/" , "id" : "s" } ',
    "json_string_value": '"just a string"',
}
for k, v in LINES.items():
    write("input", k, v)

# ---- http1: 8-byte header, k split lengths, then the response ----
# flags: 1 HEAD, 2 collect headers, 4 eof after data, 8 sink refuses past max_body/2, 16 reuse
def h1(name, resp, flags=2 | 4, max_headers=100, mhb=0xffff, mbody=0xffff, splits=()):
    hdr = struct.pack("<BBHHBB", flags, max_headers, mhb, mbody, 0, len(splits))
    if isinstance(resp, str):
        resp = resp.encode("latin-1")
    write("http1", name, hdr + bytes(splits) + resp)

OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
h1("ok", OK)
h1("ok_split1", OK, splits=(0,))
h1("ok_split_mixed", OK, splits=(3, 0, 10, 1))
h1("ok_noeof", OK, flags=2)
h1("ok_nocollect", OK, flags=4)
h1("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n", splits=(4, 7))
h1("chunked_bad_size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
h1("chunked_twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n")
h1("te_gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc")
h1("cl_te", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
h1("cl_twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
h1("interim_100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK, splits=(20,))
h1("switching_101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
h1("head_like", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", flags=1 | 2 | 4)
h1("head_like_leftover", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxyz", flags=1 | 2)
h1("no_content_204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
h1("not_modified_304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n")
h1("leftover", OK + "HTTP/1.1 200 OK\r\nX-Poison: 1\r\nContent-Length: 0\r\n\r\n", splits=(30,))
h1("keepalive_two", OK + "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnot", flags=2 | 16)
h1("keepalive_three_chunked", OK + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n" + "HTTP/1.1 204 No Content\r\n\r\n", flags=2 | 4 | 16, splits=(5, 9))
h1("close_delimited", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
h1("http10", "HTTP/1.0 200 OK\r\n\r\nbody")
h1("http2_status", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")
h1("status_1digit", "HTTP/1.1 2 OK\r\nContent-Length: 0\r\n\r\n")
h1("status_600", "HTTP/1.1 600 Weird\r\nContent-Length: 0\r\n\r\n")
h1("short_body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
h1("truncated_head", "HTTP/1.1 200 OK\r\nContent-Le")
h1("empty", "")
h1("garbage", "\x00\xff\r\n\r\nSSH-2.0-OpenSSH\r\n")
h1("too_many_headers", "HTTP/1.1 200 OK\r\n" + "X: 1\r\n" * 12 + "Content-Length: 0\r\n\r\n", max_headers=8)
h1("header_bytes_limit", "HTTP/1.1 200 OK\r\nX-Big: " + "A" * 200 + "\r\nContent-Length: 0\r\n\r\n", mhb=128, splits=(16,))
h1("body_limit", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + "b" * 50, mbody=20)
h1("body_refuse", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + "b" * 50, flags=2 | 8, mbody=40)
h1("chunk_ext_long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + "e" * 5000 + "\r\nx\r\n0\r\n\r\n")
h1("empty_header_name", "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 2\r\n\r\nok")
h1("obs_fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n")
h1("bare_lf", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
h1("space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok")
h1("neg_cl", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
h1("huge_cl", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")
h1("cl_max_body", "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + "z" * 300, mbody=0xfffe)
h1("interim_many", "HTTP/1.1 100 Continue\r\n\r\n" * 20 + OK)
h1("503_retry_after", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n")
h1("chunked_trailer_split", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n" + "extra", splits=(0, 1, 2))
