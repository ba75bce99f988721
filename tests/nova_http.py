"""The rest-of-cloud's stub Nova served on a free loopback port, and GETs to it."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "cloud"


def fixture_module(name: str) -> ModuleType:
    """``fixtures/cloud/<name>.py`` loaded as when cloud.py runs it by path."""
    if str(FIXTURE) not in sys.path:
        sys.path.insert(0, str(FIXTURE))
    spec = importlib.util.spec_from_file_location(f"fixture_{name}", FIXTURE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` on 127.0.0.1, a free port; yields the port, shuts down after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def signature(secret: bytes, instance: str) -> str:
    """The X-Instance-ID-Signature the agent adds (HMAC-SHA256 of the instance id)."""
    return hmac.new(secret, instance.encode(), hashlib.sha256).hexdigest()


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """Status and body of a GET on the loopback port (an HTTP error's status, no body)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
