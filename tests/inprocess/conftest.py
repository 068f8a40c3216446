"""The fast inner loop: kapi's ASGI app built in this process (build_app with in-memory
storage), its lifespan run around each test (watch cache, bootstrap of the default
namespaces), and requests sent through httpx's ASGITransport. No subprocess, no port:
a handler or registry change is checked in well under a second per test. The subprocess
e2e tests (tests/e2e) remain the proof over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from kapi.app import build_app
from kapi.config import Config
from kapi.storage import MemoryStorage


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # no controller manager makes default ServiceAccounts here: their admission is off
    app = build_app(Config(storage="memory", data_dir=tmp_path, insecure_http=True,
                           disable_admission_plugins=("ServiceAccount",)),
                    storage=MemoryStorage())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kapi.test") as c:
            yield c
