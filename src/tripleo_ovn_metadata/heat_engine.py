"""A real Heat engine without a server: Heat's EngineService on a throwaway sqlite database.

No API server, keystone, message bus or MySQL: oslo.messaging's ``fake://`` transport
keeps Heat's own RPC (nested stacks call back into the engine) inside the process, and the
fake keystone client that Heat ships for standalone use answers its auth checks. Nothing
listens on a socket. :func:`run` serves one preview or create from a child process whose
database lives in the caller's temporary directory.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import heat_eval
from tripleo_ovn_metadata.errors import InputError

#: Heat options for a local engine handling full tripleo-heat-templates stacks.
#: The legacy (non-convergence) engine creates the render stack in 17 s, convergence 22 s.
ENGINE_OPTIONS: dict[str, Any] = {
    "convergence_engine": False,
    "max_resources_per_stack": -1,
    "max_nested_stack_depth": 10,
    "max_template_size": 5440000,
    "max_json_body_size": 8388608,
    "deferred_auth_method": "password",
    "keystone_backend": "heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient",
}
#: Where keystone would be; never contacted (the token carries its catalog).
KEYSTONE_URL = "http://127.0.0.1:5000/v3"
#: How long a created stack may take before it counts as failed (seconds).
CREATE_TIMEOUT = 900


@dataclass(frozen=True)
class Engine:
    """The started engine and the admin context every call uses."""

    service: Any
    context: Any
    workdir: Path


def _token_info() -> dict[str, Any]:
    """A v3 token whose catalog lists orchestration (DeployedServer looks it up)."""
    endpoint = "http://127.0.0.1:8004/v1/admin"
    return {
        "token": {
            "project": {"id": "admin", "name": "admin", "domain": {"id": "default"}},
            "user": {"id": "admin", "name": "admin", "domain": {"id": "default"}},
            "roles": [{"id": "admin", "name": "admin"}],
            "catalog": [
                {
                    "type": "orchestration",
                    "name": "heat",
                    "endpoints": [
                        {"interface": "public", "region": "regionOne", "url": endpoint},
                        {"interface": "internal", "region": "regionOne", "url": endpoint},
                    ],
                }
            ],
        }
    }


@cache
def engine(workdir: Path | None = None) -> Engine:
    """Boot Heat's engine once per process (about 3 s) and return it.

    The database goes into ``workdir`` (a new temporary directory, removed at exit, when
    not given). Nested stacks need the eventlet-patched process :func:`run` provides.
    """
    from oslo_service import backend

    # NOTE: oslo.service's eventlet backend caps the engine at 10 threads and fails full
    # THT with "Maximum number of threads reached"; the threading backend has no such cap
    # (its threads are green ones once eventlet has patched the process).
    backend.init_backend(backend.BackendType.THREADING)
    heat_eval._boot_heat()
    from heat.common import config, context, messaging
    from heat.db import migration
    from heat.engine import service
    from oslo_config import cfg

    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="tom-heat-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    for name, value in ENGINE_OPTIONS.items():
        cfg.CONF.set_override(name, value)
    database = workdir / "heat.sqlite"
    cfg.CONF.set_override("auth_uri", KEYSTONE_URL, group="clients_keystone")
    cfg.CONF.set_override("connection", f"sqlite:///{database}?timeout=300", group="database")
    # THT's role chains merge every service's docker_config in one yaql expression.
    cfg.CONF.set_override("memory_quota", 900000, group="yaql")
    cfg.CONF.set_override("limit_iterators", 9000, group="yaql")
    # A throwaway database needs no fsync.
    cfg.CONF.set_override("sqlite_synchronous", False, group="database")
    migration.db_sync()
    config.set_config_defaults()
    messaging.setup("fake://")
    srv = service.EngineService("localhost", "engine")
    srv.start()
    atexit.register(_stop, srv)
    ctx = context.RequestContext(
        user_id="admin",
        project_id="admin",
        username="admin",
        password="unused",
        is_admin=True,
        auth_token="unused",
        auth_token_info=_token_info(),
        auth_url=KEYSTONE_URL,
        roles=["admin"],
    )
    return Engine(service=srv, context=ctx, workdir=workdir)


def _stop(srv: Any) -> None:
    with contextlib.suppress(Exception):  # best effort at interpreter exit
        srv.stop()


def _one_line(exc: BaseException) -> str:
    """Heat's message for ``exc`` on one line (RPC wraps the real error in exc_info)."""
    real = getattr(exc, "exc_info", None)
    if real and len(real) > 1 and isinstance(real[1], BaseException):
        exc = real[1]
    return " ".join(str(exc).split())


def _request(env: Mapping[str, Any], files: Mapping[str, Any]) -> tuple[dict, dict]:
    """Heat's params and files slots as the API would pass them."""
    params = {key: value for key, value in env.items() if key != "parameter_merge_strategies"}
    decoded = {
        name: body.decode("utf-8") if isinstance(body, bytes) else body
        for name, body in files.items()
    }
    return params, decoded


def preview(
    name: str,
    template: Mapping[str, Any],
    env: Mapping[str, Any],
    files: Mapping[str, Any],
    *,
    source: Path,
) -> list[Any]:
    """``stack create --dry-run``: validate the whole tree of stacks and list its resources.

    Errors become an InputError naming ``source`` with Heat's message (which carries the
    nested path of the failing resource).
    """
    eng = engine()
    params, decoded = _request(env, files)
    try:
        return eng.service.preview_stack(eng.context, name, dict(template), params, decoded, {})
    except Exception as exc:
        raise InputError(source, f"Heat: {_one_line(exc)}") from None


def create(
    name: str,
    template: Mapping[str, Any],
    env: Mapping[str, Any],
    files: Mapping[str, Any],
    *,
    source: Path,
    timeout: float = CREATE_TIMEOUT,
) -> dict[str, Any]:
    """Create a stack, wait for it and return its outputs ``{key: value}``.

    The stack stays in the throwaway database; give each call a unique ``name``.
    """
    eng = engine()
    params, decoded = _request(env, files)
    try:
        ident = eng.service.create_stack(eng.context, name, dict(template), params, decoded, {})
    except Exception as exc:
        raise InputError(source, f"Heat: {_one_line(exc)}") from None
    stack = _wait(eng, ident, timeout)
    state = f"{stack['stack_action']}_{stack['stack_status']}"
    if state != "CREATE_COMPLETE":
        reason = " ".join(str(stack.get("stack_status_reason", "")).split())
        raise InputError(source, f"Heat: {state}: {reason}")
    return {output["output_key"]: output.get("output_value") for output in stack.get("outputs", [])}


def _wait(eng: Engine, ident: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = eng.service.show_stack(eng.context, ident, resolve_outputs=False)[0]
        if stack["stack_status"] != "IN_PROGRESS":
            return eng.service.show_stack(eng.context, ident, resolve_outputs=True)[0]
        if time.monotonic() > deadline:
            raise InputError(ident["stack_name"], f"Heat: not created after {timeout:.0f} s")
        time.sleep(0.2)


# --- Running the engine in a child process -------------------------------------------
#
# NOTE: Heat 27 runs each nested stack in a native thread, and concurrent threads
# deadlock sqlite ("database is locked" on a read-to-write upgrade). heat-all ran the
# same engine on eventlet, where a sqlite call never yields mid-transaction, so the
# engine runs in a child process that monkey-patches eventlet first, the way Heat's own
# services ran; the caller's process stays unpatched.

#: Operations the child process serves.
OPERATIONS = ("preview", "create")


def run(
    operation: str,
    name: str,
    template: Mapping[str, Any],
    env: Mapping[str, Any],
    files: Mapping[str, Any],
    *,
    source: Path,
    timeout: float = CREATE_TIMEOUT,
) -> Any:
    """Run ``preview`` or ``create`` in a child process with its own engine."""
    import json
    import subprocess
    import sys

    from tripleo_ovn_metadata.errors import ToolError

    if operation not in OPERATIONS:
        raise ValueError(operation)
    _params, decoded = _request(env, files)
    with tempfile.TemporaryDirectory(prefix="tom-heat-call-") as tmp:
        request, result = Path(tmp) / "request.json", Path(tmp) / "result.json"
        request.write_text(
            json.dumps(
                {
                    "operation": operation,
                    "name": name,
                    "template": template,
                    "env": env,
                    "files": decoded,
                    "source": str(source),
                }
            ),
            encoding="utf-8",
        )
        request.chmod(0o600)  # it holds generated passwords
        try:
            proc = subprocess.run(
                [sys.executable, "-m", __name__, str(request), str(result)],
                capture_output=True,
                text=True,
                timeout=timeout + 60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"Heat engine: no answer after {timeout + 60:.0f} s") from None
        if not result.is_file():
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            why = lines[-1].strip() if lines else f"exit {proc.returncode}"
            raise ToolError(f"Heat engine process failed: {why}")
        answer = json.loads(result.read_text(encoding="utf-8"))
    if "error" in answer:
        raise InputError(answer["error"]["path"], answer["error"]["message"])
    return answer["value"]


def _serve(request_path: str, result_path: str) -> int:
    """Child side of :func:`run`: answer one request, write the result file."""
    import json

    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    engine(Path(request_path).parent / "engine")
    call = preview if request["operation"] == "preview" else create
    try:
        value = call(
            request["name"],
            request["template"],
            request["env"],
            request["files"],
            source=Path(request["source"]),
        )
        answer: dict[str, Any] = {"value": value}
    except InputError as exc:
        answer = {"error": {"path": exc.path, "message": exc.message}}
    out = Path(result_path)
    out.write_text(json.dumps(answer, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()
    import sys as _sys

    _sys.exit(_serve(_sys.argv[1], _sys.argv[2]))
