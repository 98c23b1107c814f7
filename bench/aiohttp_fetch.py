#!/usr/bin/python3
"""Fetch every URL listed in a file with aiohttp, the way its guides recommend: one ClientSession,
a TCPConnector(limit=64) bounding the connections, asyncio.gather over all requests, each body read.
Prints "N ok, M failed"; exits 1 when any failed. Peer of `spate fetch -c 64` in bench/fetch-compare.sh.
Run it with /usr/bin/python3 (Debian's python3-aiohttp)."""
import asyncio
import sys

import aiohttp


async def fetch(session, url):
    async with session.get(url) as resp:
        await resp.read()
        resp.raise_for_status()


async def main(path, limit):
    with open(path, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:
        results = await asyncio.gather(*(fetch(session, u) for u in urls), return_exceptions=True)
    failed = sum(1 for r in results if isinstance(r, BaseException))
    print(f"{len(urls) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: aiohttp_fetch.py URLS_FILE [LIMIT]")
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 64)))
