"""A local heat-all (Heat API + engine, 24.1.2) on 127.0.0.1, started and stopped by pid.

What ``openstack tripleo deploy --heat-type native`` ran: no keystone (``noauth`` paste
flavour with a canned token), the ``fake://`` message bus, sqlite in a temporary
directory. Options are given as oslo.config environment variables (``OS_GROUP__OPTION``),
so no config file is written. :class:`HeatAll` is a context manager; leaving it stops the
server and removes its directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tripleo_ovn_metadata import heat_engine, paths
from tripleo_ovn_metadata.errors import InputError, ToolError

VENV = ".venv-heat-all"
STARTUP_TIMEOUT = 120
#: heat-all with Heat's fixed one-second waits capped at POLL_INTERVAL seconds and its
#: database in memory (data/heat_all_local.py says why): the stock THT 3 + 3 create went
#: from 192 s to 73 s with the waits; with the database, 67 s and 58 CPU-s to 47-59 s and
#: 38-41 CPU-s.
LOCAL_HEAT_ALL = Path(__file__).with_name("data") / "heat_all_local.py"
POLL_INTERVAL = 0.1


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def options(workdir: Path, port: int) -> dict[str, str]:
    """heat.conf settings as oslo.config environment variables."""
    venv = paths.bundle_root() / VENV
    values = {
        "DEFAULT": {
            "transport_url": "fake://",
            "convergence_engine": "true",
            "num_engine_workers": "1",
            "rpc_response_timeout": "600",
            "max_json_body_size": "8388608",
            "max_template_size": "5440000",
            "max_nested_stack_depth": "10",
            "max_resources_per_stack": "-1",
            "deferred_auth_method": "password",
            "keystone_backend": heat_engine.ENGINE_OPTIONS["keystone_backend"],
            "log_file": str(workdir / "heat.log"),
            "graceful_shutdown_timeout": "5",
        },
        "noauth": {"token_response": str(workdir / "token.json")},
        "heat_all": {"enabled_services": "api,engine"},
        "heat_api": {"bind_host": "127.0.0.1", "bind_port": str(port), "workers": "1"},
        # A throwaway database: in memory, made by heat-all itself (LOCAL_HEAT_ALL).
        "database": {"connection": "sqlite://"},
        "paste_deploy": {
            "flavor": "noauth",
            "api_paste_config": str(venv / "etc" / "heat" / "api-paste.ini"),
        },
        "oslo_policy": {"enforce_scope": "false", "enforce_new_defaults": "false"},
        "yaql": {"memory_quota": "900000", "limit_iterators": "9000"},
    }
    return {
        f"OS_{group.upper()}__{name.upper()}": value
        for group, section in values.items()
        for name, value in section.items()
    }


class HeatAll:
    """``with HeatAll() as heat: heat.client`` — a heatclient for a private heat-all."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="tom-heat-all-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/admin"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(options(self.workdir, self.port))
        return env

    def start(self) -> HeatAll:
        """Start heat-all (it makes its schema); returns once the API answers."""
        bin_dir = paths.bundle_root() / VENV / "bin"
        if not (bin_dir / "heat-all").is_file():
            raise ToolError(f"{bin_dir / 'heat-all'}: not installed (run tools/setup.sh)")
        token = heat_engine._token_info()
        token["token"]["catalog"][0]["endpoints"] = [
            {"interface": kind, "region": "regionOne", "url": self.endpoint}
            for kind in ("public", "internal", "admin")
        ]
        (self.workdir / "token.json").write_text(json.dumps(token), encoding="utf-8")
        env = self._env()
        with open(self.workdir / "heat-all.out", "wb") as out:
            self.proc = subprocess.Popen(
                [str(bin_dir / "python"), str(LOCAL_HEAT_ALL), str(POLL_INTERVAL),
                 "--config-file", os.devnull],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise ToolError(f"heat-all exited ({self.proc.returncode}); see {self.workdir}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise ToolError(f"heat-all not listening after {STARTUP_TIMEOUT} s") from None
                time.sleep(0.5)
        return self

    @property
    def client(self) -> Any:
        """A heatclient (v1) for this server."""
        from heatclient import client

        return client.Client("1", endpoint=self.endpoint, token="noauth")

    def stop(self) -> None:
        """Stop heat-all (its process group, by pid) and remove its directory."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> HeatAll:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def create_stack(self, name: str, request: Any, *, timeout: float = 1800) -> dict[str, Any]:
        """Create ``request`` (a tht.HeatRequest) as stack ``name``; wait; return the
        stack's row as the stack list gives it (no outputs: config-download reads them)."""
        hc = self.client
        files = {
            key: body.decode("utf-8") if isinstance(body, bytes) else body
            for key, body in request.files.items()
        }
        env = {k: v for k, v in request.env.items() if k != "parameter_merge_strategies"}
        hc.stacks.create(
            stack_name=name, template=request.template, files=files, environment=env,
            timeout_mins=int(timeout // 60),
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            # The stack list formats the stack's own row; a stack show loads the whole
            # stack and evaluates its outputs (the nested stacks they name): 14% of
            # heat-all's CPU in the stock THT 3 + 3 create, polled every 5 s.
            (stack,) = hc.stacks.list(filters={"name": name})
            if stack.stack_status != "CREATE_IN_PROGRESS":
                break
            if time.monotonic() > deadline:
                raise ToolError(f"stack {name}: not created after {timeout:.0f} s")
            time.sleep(5)
        if stack.stack_status != "CREATE_COMPLETE":
            reason = " ".join(str(stack.stack_status_reason).split())
            raise InputError(request.source, f"Heat: {stack.stack_status}: {reason}")
        return stack.to_dict()

    def download_config(self, name: str, out_dir: Path) -> Path:
        """tripleo-common's config-download of stack ``name`` into ``out_dir``."""
        from tripleo_common.utils import config

        config.Config(self.client).download_config(name, str(out_dir), preserve_config_dir=False)
        return out_dir
