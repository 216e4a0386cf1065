"""Vigil's ingest benchmark: ``python -m bench`` (or ``make bench``) from the repo root.

It starts ``vigil serve`` as a subprocess on a fresh SQLite database, drives it with an
asyncio load generator (raw HTTP/1.1 keep-alive sockets, every request prebuilt before the
clock starts) and prints throughput, latency and server memory next to the targets.
See ``bench/README.md`` for the scenarios and the ``BENCH_*`` knobs.
"""
