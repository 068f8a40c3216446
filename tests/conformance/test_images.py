"""The local stand-ins for upstream's test images (conformance/images/): built without a
registry, tagged with upstream's names, and behaving as the ported tests need: agnhost's
netexec endpoints, pause's log line, entrypoint-tester's echo of its argv, httpd's page.
Containers run on Docker's default bridge; traffic goes only to them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterator

import httpx
import pytest

from conformance.images import build
from tests.dockerenv import require_docker

LABEL = "dev.kapi.test"


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[Any, str]]:
    client = require_docker()
    build.ensure(client)
    run = uuid.uuid4().hex[:8]
    yield client, run
    for c in client.containers.list(all=True, sparse=True, filters={"label": f"{LABEL}={run}"}):
        c.remove(force=True)


def start(engine: tuple[Any, str], image: str, *args: str) -> tuple[Any, str]:
    client, run = engine
    c = client.containers.run(image, list(args) or None, detach=True, labels={LABEL: run})
    c.reload()
    return c, c.attrs["NetworkSettings"]["IPAddress"]


def get(url: str, deadline: float = 20) -> httpx.Response:
    end = time.monotonic() + deadline
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def test_images_carry_upstream_names_and_rebuild_only_when_changed(engine):
    client, _ = engine
    for ref in build.recipes():
        assert client.images.get(ref).labels.get("dev.kapi.image-build")
    assert build.ensure(client) == []  # nothing changed: nothing rebuilt


def test_agnhost_netexec_endpoints(engine):
    nx, ip = start(engine, build.AGNHOST, "netexec", "--http-port=8080")
    web, web_ip = start(engine, build.HTTPD)
    base = f"http://{ip}:8080"
    assert get(f"{base}/hostname").text == nx.attrs["Config"]["Hostname"]
    assert get(f"{base}/").text.startswith("NOW: ")
    assert get(f"{base}/echo?msg=hello+world%21").text == "hello world!"
    r = get(f"{base}/echo?msg=gone&code=404")
    assert (r.status_code, r.text) == (404, "gone")
    client_ip = get(f"{base}/clientip").text
    assert client_ip.rsplit(":", 1)[0] and client_ip.rsplit(":", 1)[1].isdigit()
    shell = json.loads(get(f"{base}/shell?shellCommand=echo%20hi%3B%20exit%203").text)
    assert shell == {"output": "hi\n", "error": "exit status 3"}
    dial = json.loads(get(f"{base}/dial?request=index.html&host={web_ip}&port=80&tries=2").text)
    assert dial == {"responses": [build.HTTPD_PAGE.decode()] * 2}
    failed = json.loads(get(f"{base}/dial?request=x&host={web_ip}&port=81").text)
    assert list(failed) == ["errors"] and len(failed["errors"]) == 1
    get(f"{base}/exit?code=7")
    assert nx.wait(timeout=30)["StatusCode"] == 7


def test_agnhost_serve_hostname_pause_and_entrypoint_tester(engine):
    sh, ip = start(engine, build.AGNHOST, "serve-hostname")
    assert get(f"http://{ip}:9376/").text == sh.attrs["Config"]["Hostname"]
    pause, _ = start(engine, build.AGNHOST)  # the image's default command is pause
    end = time.monotonic() + 20
    while b"Paused" not in pause.logs() and time.monotonic() < end:
        time.sleep(0.2)
    assert pause.logs() == b"Paused\n"
    client, run = engine
    out = client.containers.run(build.AGNHOST, ["entrypoint-tester", "override", "arguments"],
                                remove=True, labels={LABEL: run})
    assert out == b"[/agnhost entrypoint-tester override arguments]\n"
    out = client.containers.run(build.AGNHOST, ["entrypoint-tester", "override", "command"],
                                entrypoint="/agnhost-2", remove=True, labels={LABEL: run})
    assert out == b"[/agnhost-2 entrypoint-tester override command]\n"


def test_web_servers_serve_upstream_pages_from_upstream_roots(engine):
    for image, page in ((build.HTTPD_NEW, b"It works!"), (build.NGINX, b"Welcome to nginx!")):
        _, ip = start(engine, image)
        assert page in get(f"http://{ip}/").content
    web, ip = start(engine, build.AGNHOST, "test-webserver")
    assert get(f"http://{ip}/etc/passwd").text.startswith("root:x:0:0")
    assert get(f"http://{ip}/nonexistent").status_code == 404
