"""A real Heat engine without a server: Heat's EngineService on an in-memory sqlite database.

No API server, keystone, message bus or MySQL: oslo.messaging's ``fake://`` transport
keeps Heat's own RPC (nested stacks call back into the engine) inside the process, and the
fake keystone client that Heat ships for standalone use answers its auth checks. Nothing
listens on a socket and nothing is written to disk. :func:`run` serves one preview or
create from a child process.
"""

from __future__ import annotations

import atexit
import contextlib
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
#: The engine's database: sqlite in memory (one connection, shared by the green threads).
DATABASE = "sqlite://"
#: Seconds between two steps of a waiting Heat task (Heat's own default is 1 s).
POLL_INTERVAL = 0.05
#: Seconds between two looks of the in-process RPC listener for a message (oslo.messaging's
#: fake driver waits 0.05 s, once for every nested stack Heat creates through RPC).
RPC_POLL_INTERVAL = 0.005
#: Where keystone would be; never contacted (the token carries its catalog).
KEYSTONE_URL = "http://127.0.0.1:5000/v3"
#: How long a created stack may take before it counts as failed (seconds).
CREATE_TIMEOUT = 900


@dataclass(frozen=True)
class Engine:
    """The started engine and the admin context every call uses."""

    service: Any
    context: Any


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


def _listen_faster() -> None:
    """Let the ``fake://`` RPC listener look for messages every RPC_POLL_INTERVAL seconds.

    NOTE: oslo.messaging's fake driver finds a new message by polling its queues and
    sleeping 0.05 s in between; each nested stack Heat creates is an RPC call that waited
    there, about a third of a second of one role's create. Only that module's view of
    ``time`` changes (its sleeps are capped); what the messages carry is untouched.
    """
    import time as real_time
    import types

    from oslo_messaging._drivers import impl_fake

    if isinstance(impl_fake.time, types.SimpleNamespace):
        return

    def _sleep(seconds: float) -> None:
        real_time.sleep(min(seconds, RPC_POLL_INTERVAL))

    impl_fake.time = types.SimpleNamespace(time=real_time.time, sleep=_sleep)


def _poll_faster() -> None:
    """Step waiting Heat tasks every POLL_INTERVAL seconds instead of every second.

    NOTE: the legacy engine's TaskRunner sleeps ``wait_time=1`` between the steps of every
    task that waits (each nested stack polling its children), a constant no option
    changes; it suits a server talking to remote APIs, while here each level of the
    render stack's nesting waited a second for work that is done in milliseconds (about
    10 of the 15 s the create took). Only the sleep is shortened; what Heat evaluates and in
    which order stays the same.
    """
    from heat.engine import scheduler

    heat_sleep = scheduler.TaskRunner._sleep
    if getattr(heat_sleep, "tom_poll", False):
        return

    def _sleep(self: Any, wait_time: float | None) -> None:
        heat_sleep(self, None if wait_time is None else min(wait_time, POLL_INTERVAL))

    _sleep.tom_poll = True  # type: ignore[attr-defined]
    scheduler.TaskRunner._sleep = _sleep


@cache
def engine() -> Engine:
    """Boot Heat's engine once per process (about 2 s) and return it.

    Nested stacks need the eventlet-patched process :func:`run` provides.
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

    for name, value in ENGINE_OPTIONS.items():
        cfg.CONF.set_override(name, value)
    cfg.CONF.set_override("auth_uri", KEYSTONE_URL, group="clients_keystone")
    # NOTE: a file database costs a connection per session (oslo.db's NullPool for sqlite
    # files) and its writes; in memory the create takes a third of the time.
    cfg.CONF.set_override("connection", DATABASE, group="database")
    # THT's role chains merge every service's docker_config in one yaql expression.
    cfg.CONF.set_override("memory_quota", 900000, group="yaql")
    cfg.CONF.set_override("limit_iterators", 9000, group="yaql")
    migration.db_sync()
    config.set_config_defaults()
    messaging.setup("fake://")
    _poll_faster()
    _listen_faster()
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
    return Engine(service=srv, context=ctx)


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
    """Poll the stack's own row (one query) until it leaves IN_PROGRESS, then show it."""
    from heat.objects import stack as stack_object

    deadline = time.monotonic() + timeout
    while True:
        row = stack_object.Stack.get_by_id(eng.context, ident["stack_id"])
        if row is None or row.status != "IN_PROGRESS":
            return eng.service.show_stack(eng.context, ident, resolve_outputs=True)[0]
        if time.monotonic() > deadline:
            raise InputError(ident["stack_name"], f"Heat: not created after {timeout:.0f} s")
        time.sleep(POLL_INTERVAL)


# --- Running the engine in a child process -------------------------------------------
#
# NOTE: Heat 27 runs each nested stack in a native thread, and concurrent threads
# deadlock sqlite ("database is locked" on a read-to-write upgrade). heat-all ran the
# same engine on eventlet, where a sqlite call never yields mid-transaction (so the
# green threads can share the in-memory database's one connection), so the engine runs
# in a child process that monkey-patches eventlet first, the way Heat's own services
# ran; the caller's process stays unpatched.
#
# Several templates are created side by side by forks of one booted child: Heat boots
# once (about 2 CPU-s) however many engines work. oslo.db drops its connection pool in a
# fork, so each fork starts on a fresh in-memory database (its tables made again,
# 0.06 s); nothing else is shared between them.

#: Operations the child process serves.
OPERATIONS = ("preview", "create")


class EngineProcess:
    """A child process that boots its engine at once and then serves one request.

    Start it early (``with EngineProcess() as child:``) and prepare the request while it
    boots (about 2 s); leaving the block without :meth:`send` ends the child.
    """

    def __init__(self) -> None:
        import subprocess
        import sys
        import tempfile

        self._tmp = tempfile.TemporaryDirectory(prefix="tom-heat-call-")
        folder = Path(self._tmp.name)
        self._result, self._stderr = folder / "result.json", folder / "stderr.log"
        self._count = 0
        with open(self._stderr, "wb") as err:
            # its own process group: close() ends the forks with it
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self._result)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the child and its forks (those still running) and remove their files."""
        import os
        import signal

        if self._proc.returncode is None:  # not reaped: its pid (the group's id) is ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._tmp.cleanup()

    def send(
        self,
        operation: str,
        name: str,
        template: Mapping[str, Any],
        env: Mapping[str, Any],
        files: Mapping[str, Any],
        *,
        source: Path,
    ) -> None:
        """Hand ``preview`` or ``create`` of one template to the child (see :meth:`send_each`)."""
        self.send_each(operation, name, [template], env, files, source=source)

    def send_each(
        self,
        operation: str,
        name: str,
        templates: list[Mapping[str, Any]],
        env: Mapping[str, Any],
        files: Mapping[str, Any],
        *,
        source: Path,
    ) -> None:
        """Hand ``preview`` or ``create`` of each template, side by side, to the child.

        The booted child forks an engine for every template after the first.
        :meth:`answer` collects the results, one per template. The request (it holds the
        generated passwords) goes through a pipe, never a file.
        """
        import json

        if operation not in OPERATIONS:
            raise ValueError(operation)
        if not templates:
            raise ValueError("no template to send")
        _params, decoded = _request(env, files)
        request = {
            "operation": operation,
            "name": name,
            "templates": list(templates),
            "env": env,
            "files": decoded,
            "source": str(source),
        }
        stdin = self._proc.stdin
        if stdin is None:
            raise ValueError("request already sent")
        self._proc.stdin = None
        self._count = len(templates)
        # BrokenPipeError: the child died, and answer() says why.
        with contextlib.suppress(BrokenPipeError), stdin:
            stdin.write(json.dumps(request).encode("utf-8"))

    def answer(self, timeout: float = CREATE_TIMEOUT) -> Any:
        """The result of the one template :meth:`send` handed the child."""
        (value,) = self.answers(timeout)
        return value

    def answers(self, timeout: float = CREATE_TIMEOUT) -> list[Any]:
        """Wait for the child; the result of each template :meth:`send_each` handed it."""
        import json
        import subprocess

        from tripleo_ovn_metadata.errors import ToolError

        try:
            self._proc.wait(timeout=timeout + 60)
        except subprocess.TimeoutExpired:
            raise ToolError(f"Heat engine: no answer after {timeout + 60:.0f} s") from None
        values = []
        for index in range(self._count):
            result = _result_path(str(self._result), index)
            if not result.is_file():
                text = self._stderr.read_text(encoding="utf-8", errors="replace")
                lines = [line for line in text.splitlines() if line.strip()]
                why = lines[-1].strip() if lines else f"exit {self._proc.returncode}"
                raise ToolError(f"Heat engine process failed: {why}")
            answer = json.loads(result.read_text(encoding="utf-8"))
            if "error" in answer:
                raise InputError(answer["error"]["path"], answer["error"]["message"])
            values.append(answer["value"])
        return values


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
    with EngineProcess() as child:
        child.send(operation, name, template, env, files, source=source)
        return child.answer(timeout)


def _result_path(base: str, index: int) -> Path:
    """Where the answer for the request's ``index``-th template is written."""
    return Path(base if index == 0 else f"{base}.{index}")


def _answer(request: Mapping[str, Any], index: int, result_path: Path) -> None:
    """Preview or create the request's ``index``-th template and write the answer."""
    import json
    import os

    call = preview if request["operation"] == "preview" else create
    try:
        value = call(
            request["name"],
            request["templates"][index],
            request["env"],
            request["files"],
            source=Path(request["source"]),
        )
        answer: dict[str, Any] = {"value": value}
    except InputError as exc:
        answer = {"error": {"path": exc.path, "message": exc.message}}
    partial = f"{result_path}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(answer, default=str))
    os.replace(partial, result_path)  # the caller sees all of it or nothing


def _fork_engine(request: Mapping[str, Any], index: int, result_path: Path) -> int:
    """A fork of this booted engine answering the ``index``-th template; its pid."""
    import os
    import sys
    import traceback

    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        from heat.db import migration

        migration.db_sync()  # oslo.db dropped the parent's in-memory database
        _answer(request, index, result_path)
        status = 0
    except BaseException:  # a fork never returns into its parent's code
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(status)


def _serve(result_path: str) -> None:
    """Child side of :class:`EngineProcess`: boot, read the request from stdin, answer it.

    Exits at once after writing the answer: the database is in memory and a graceful
    stop of the engine service takes seconds.
    """
    import json
    import os
    import sys

    engine()
    text = sys.stdin.read()
    if not text:
        os._exit(0)  # the caller needed no engine after all
    request = json.loads(text)
    forks = [
        _fork_engine(request, index, _result_path(result_path, index))
        for index in range(1, len(request["templates"]))
    ]
    try:
        _answer(request, 0, _result_path(result_path, 0))
    finally:
        for pid in forks:  # no fork outlives this process's answer
            os.waitpid(pid, 0)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()
    import sys as _sys

    _serve(_sys.argv[1])
