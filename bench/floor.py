"""The floor: a trivial Starlette endpoint served by Hypercorn exactly as kapi serves
its app (kapi/cli.py `serve`: hypercorn.asyncio.serve on uvloop with the settings of
kapi.serving.hypercorn_config, one catch-all route). Whatever kapi costs above this is kapi.

    python -m bench.floor --port 18081
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Success", "code": 200})


async def handle(request: Request) -> Response:
    if request.method in ("POST", "PUT", "PATCH"):
        await request.body()  # read it, as kapi does, then ignore it
    return Response(BODY, status_code=200, headers={"content-type": "application/json"})


def build_app() -> Starlette:
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", handle, methods=methods)])


async def serve(host: str, port: int) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from kapi.serving import hypercorn_config

    hc = hypercorn_config(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await hypercorn_serve(build_app(), hc, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.floor", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
