"""Benchmarks for kapi: `python -m bench.api` (or `make bench`) prints one table.

bench.floor  a trivial Starlette+Hypercorn server, served exactly as kapi is: the floor.
bench.http   a small raw asyncio HTTP/1.1 keep-alive client and a fixed-concurrency
             load runner (bounded by count and time), plus a watch-stream reader.
bench.api    the harness: starts the floor and kapi, runs the phases, prints the table.
bench.openapi  the cold build time of every OpenAPI document (no server).

Benchmarks print figures; they never assert timings.
"""
