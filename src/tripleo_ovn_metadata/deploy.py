"""Deploy the service from its rendered role_data through Ansible, and destroy it again.

The standalone default deploys the Compute role on this machine: the rest-of-cloud fixture
(run by path, never imported) provides OVS, OVN and a stub Nova; real Heat renders
role_data; Puppet generates the config; ``ansible/playbooks/deploy.yaml`` (the same
playbook a multi-node inventory uses) runs host_prep_tasks, writes the kolla config and
starts step 4's containers in start_order with depends_on honoured.

What the deploy started is recorded under ``state_dir()/deploy`` so ``destroy`` removes
exactly that: the containers (by id), the agent's ``ovnmeta-*`` namespaces, the fixture's
processes, bridges and files, and the directories the deploy created.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tripleo_ovn_metadata import cgroups, converge, paths, procs, secrets, yamlio
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError
from tripleo_ovn_metadata.progress import step

PLAYBOOKS = Path("ansible/playbooks")
ROLES = Path("ansible/roles")
FIXTURE = Path("fixtures/cloud")
#: Host paths the service's host_prep_tasks, kolla config and startup configs create; the
#: ones that did not exist before the first deploy are removed by destroy.
HOST_PATHS = (
    "/var/log/containers/neutron",
    "/var/log/containers",
    "/var/lib/neutron",
    "/var/lib/kolla/config_files",
    "/var/lib/kolla",
    "/var/lib/config-data/puppet-generated/neutron",
    "/var/lib/config-data/puppet-generated",
    "/var/lib/config-data",
    "/var/lib/tripleo-config/container-startup-config",
    "/var/lib/tripleo-config",
)
AGENT = "ovn_metadata_agent"
#: The label every haproxy sidecar the agent's wrapper starts carries.
SIDECAR_LABEL = "tripleo_ovn_metadata_sidecar=haproxy"
#: Host directories the agent writes into (kolla chowns them) that may exist before the
#: first deploy (Debian's neutron-common makes /var/lib/neutron): destroy restores their
#: owners and modes and removes the entries the deploy added.
SHARED_DIRS = ("/var/lib/neutron",)


def _owner(path: Path) -> list[int]:
    st = path.lstat()
    return [st.st_uid, st.st_gid, st.st_mode & 0o7777]


def snapshot_dir(path: Path) -> dict[str, Any]:
    """Owner and mode of a directory and of each entry in it."""
    return {"self": _owner(path), "entries": {p.name: _owner(p) for p in path.iterdir()}}


def restore_dir(path: Path, before: Mapping[str, Any]) -> None:
    """Put a directory back as ``snapshot_dir`` saw it: new entries go, owners come back."""
    if not path.is_dir():
        return
    for entry in path.iterdir():
        if entry.name not in before["entries"]:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    for entry, (uid, gid, mode) in [(path, before["self"]), *(
        (path / name, owner) for name, owner in before["entries"].items()
    )]:
        if entry.exists() and not entry.is_symlink():
            os.chown(entry, uid, gid)
            entry.chmod(mode)


@dataclass
class Options:
    """What ``deploy`` was asked to do."""

    fixture: Path | None = None  # None: no fixture (the cloud exists already)
    inventory: Path | None = None  # None: standalone, localhost in group compute
    env_files: Sequence[Path] = ()
    images: Mapping[str, str] | None = None  # None: build/push with the images module
    secret: str | None = None
    hostname: str = field(default_factory=socket.gethostname)
    ovn_dbs_vip: str | list[str] = "127.0.0.1"
    prepare_only: bool = False  # render, generate config, write the vars file; no playbook
    force: bool = False  # run Puppet and the playbook even when their inputs are unchanged


@dataclass
class Result:
    """What a deploy did to each container: created, recreated or unchanged."""

    containers: dict[str, str]
    config_hash: str
    images: dict[str, str]
    vars_file: Path | None = None


def deploy_dir() -> Path:
    """The deploy's own state: vars file, inventory, record of what it started."""
    return paths.state_dir() / "deploy"


def record_file() -> Path:
    """The record destroy reads."""
    return deploy_dir() / "deployed.json"


def read_record() -> dict[str, Any]:
    """What the last deploy recorded, or {} when nothing is deployed."""
    try:
        return json.loads(record_file().read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise InputError(record_file(), "not valid JSON; remove it to start over") from None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.with_suffix(".tmp").replace(path)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise ToolError("deploy, verify and destroy manage containers and namespaces: run as root")


def netns_list() -> list[str]:
    """Names of the network namespaces in /run/netns."""
    netns = Path("/run/netns")
    return sorted(p.name for p in netns.iterdir()) if netns.is_dir() else []


def sidecar_ids() -> dict[str, str]:
    """Id -> name of every haproxy sidecar on this host, running or not."""
    proc = procs.run(["podman", "ps", "--all", "--no-trunc", "--filter",
                      f"label={SIDECAR_LABEL}", "--format", "{{.ID}} {{.Names}}"], check=False)
    return dict(line.split(None, 1) for line in proc.stdout.splitlines() if " " in line)


def remove_sidecars() -> list[str]:
    """Remove every haproxy sidecar by id (after the agent, so none is started anew)."""
    removed = []
    for cid, name in sidecar_ids().items():
        procs.run(["podman", "rm", "--force", "--time", "5", cid], check=False)
        removed.append(f"container {name}")
    return removed


def container_ids(names: Sequence[str]) -> dict[str, str]:
    """Current podman container id of each existing name."""
    ids = {}
    for name in names:
        proc = procs.run(
            ["podman", "container", "inspect", "--format", "{{.Id}}", name], check=False
        )
        if proc.returncode == 0:
            ids[name] = proc.stdout.strip()
    return ids


def fixture_state() -> Path:
    """The rest-of-cloud fixture's state directory (its pidfiles and daemon logs)."""
    return paths.state_dir() / "cloud"


def fixture_command(fixture: Path, action: str, *extra: str) -> list[str]:
    """The command line that runs the fixture's ``cloud.py ACTION``."""
    script = fixture / "cloud.py"
    if not script.is_file():
        raise InputError(script, "fixture script not found")
    return [
        sys.executable, str(script), action, "--state-dir", str(fixture_state()),
        "--unit-checks-dir", str(paths.state_dir() / "unit-checks"), *extra,
    ]


def start_fixture(fixture: Path, hostname: str) -> None:
    """Start (or keep) the rest-of-cloud fixture with the kept shared secret."""
    with step("rest-of-cloud fixture (OVS, OVN, stub Nova)"):
        procs.run(
            fixture_command(
                fixture, "start", "--hostname", hostname,
                "--secret-file", str(secrets.secret_file()),
            ),
            timeout=120,
        )


def images_env_file(images: Mapping[str, str]) -> Path:
    """The local registry's refs as an env file, the first after the service's.

    Heat parameters override every env file, so the refs go in an env file before the
    user's: one of theirs naming an image (``ContainerOvnMetadataImage``, dev-loop's
    images-environment.yaml) wins, as it does with ``openstack overcloud deploy -e``.
    """
    from tripleo_ovn_metadata import image, registry

    deploy_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    path = deploy_dir() / "images-environment.yaml"
    image.write_env_file(path, dict(images), registry.DEFAULT_ADDRESS)
    return path


def _images(given: Mapping[str, str] | None) -> dict[str, str]:
    if given is not None:
        return dict(given)
    from tripleo_ovn_metadata import image  # the images area; builds only what is missing

    with step("container images in the local registry"):
        return dict(image.ensure_images())


def _render(env_files: Sequence[Path], parameters: Mapping[str, Any]) -> dict[str, Any]:
    from tripleo_ovn_metadata import render

    with step("render role_data (real Heat)"):
        return render.render_role_data("Compute", env_files=env_files, parameters=parameters)


def _node_root() -> Path:
    """This node's Puppet modules as the deploy artifact puts them (DeployArtifactFILEs,
    unpacked like tripleo_push_artifacts does), in the deploy's own dir, not the host's /etc."""
    from tripleo_ovn_metadata import artifact

    deploy_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    built = artifact.build(deploy_dir() / artifact.DEFAULT_OUTPUT.name)
    node = deploy_dir() / "node"
    shutil.rmtree(node, ignore_errors=True)
    return artifact.install(built.path, node)


def _puppet_inputs(role_data: Mapping[str, Any], hostname: str, vip: str | list[str]) -> str:
    """Digest of what the config step reads: role_data's Puppet parts, the extra hiera,
    our module's files and the config image's id."""
    from tripleo_ovn_metadata import artifact

    puppet_config = role_data.get("puppet_config") or {}
    return converge.digest(
        puppet_config, role_data.get("config_settings"), hostname, vip,
        converge.tree_digest(paths.bundle_root() / artifact.MODULE),
        converge.image_id(puppet_config.get("config_image")),
    )


def _config_unchanged(record: Mapping[str, Any], inputs: str) -> bool:
    """True when the last config ran with ``inputs`` and its output is as it left it."""
    from tripleo_ovn_metadata import config

    output = config.DEFAULT_OUTPUT
    return (record.get("puppet_inputs") == inputs and output.is_dir()
            and config.config_hash(output) == record.get("config_hash"))


def _generate_config(role_data: Mapping[str, Any], hostname: str, vip: str | list[str]) -> str:
    from tripleo_ovn_metadata import config  # the Puppet area

    extra = deploy_dir() / "hieradata.yaml"
    _write_private(extra, yaml.safe_dump({"ovn_dbs_vip": vip, "fqdn_canonical": hostname}))
    image = (role_data.get("puppet_config") or {}).get("config_image")
    # Like container-puppet, Puppet runs in the config image when it is there; kolla's
    # permissions (kolla_config) then hand /etc/neutron to the agent's user at start.
    if image and procs.run(["podman", "image", "exists", image], check=False).returncode != 0:
        with step(f"pull {image}"):
            procs.run(["podman", "pull", "--quiet", image], timeout=900)
    with step("generate config (Puppet)") as current:
        result = config.apply(role_data, hieradata_file=extra, node_root=_node_root())
        current.detail = f"hash {result.config_hash[:12]}, {result.engine}"
    return result.config_hash


def _ansible_env() -> dict[str, str]:
    root = paths.bundle_root()
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(root / paths.ANSIBLE_CFG),
        ANSIBLE_ROLES_PATH=str(root / ROLES),
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
    )
    return env


def standalone_inventory() -> Path:
    """An inventory with this machine as the only member of group ``compute``."""
    path = deploy_dir() / "inventory.yaml"
    inventory = {"compute": {"hosts": {"localhost": {"ansible_connection": "local"}}}}
    _write_private(path, yaml.safe_dump(inventory, sort_keys=False))
    return path


def host_prep_file() -> Path:
    """The tasks file holding role_data's host_prep_tasks, as the playbook includes it."""
    return deploy_dir() / "host_prep_tasks.yaml"


def write_vars(role_data: Mapping[str, Any], config_hash: str) -> Path:
    """The playbook's vars file: the role_data parts the hosts need (no config_settings)."""
    host_prep = host_prep_file()
    _write_private(host_prep, yaml.safe_dump(list(role_data.get("host_prep_tasks") or [])))
    wanted = ("service_name", "docker_config", "kolla_config")
    data = {
        "tripleo_ovn_metadata_deploy_role_data": {
            k: role_data[k] for k in wanted if k in role_data
        },
        "tripleo_ovn_metadata_deploy_host_prep_tasks_file": str(host_prep),
        "tripleo_ovn_metadata_deploy_config_hashes": {
            role_data.get("puppet_config", {}).get("config_volume", "neutron"): config_hash
        },
        "tripleo_ovn_metadata_deploy_unit_checks_dir": str(paths.state_dir() / "unit-checks"),
    }
    path = deploy_dir() / "role-data-vars.json"
    _write_private(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def run_playbook(name: str, inventory: Path, vars_file: Path, secrets_: Sequence[str]) -> None:
    """Run ``ansible/playbooks/<name>`` with the vars file; one line on failure."""
    playbook = paths.bundle_root() / PLAYBOOKS / name
    cmd = [
        str(paths.venv_bin("ansible-playbook", ".venv-ansible")), "-i", str(inventory),
        str(playbook), "-e", f"@{vars_file}",
    ]
    log = deploy_dir() / f"{Path(name).stem}.log"
    proc = procs.run(cmd, check=False, env=_ansible_env(), secrets=secrets_, timeout=1800)
    _write_private(log, procs.redact(proc.stdout + proc.stderr, secrets_))
    if proc.returncode != 0:
        failed = [line for line in proc.stdout.splitlines() if line.startswith("fatal:")]
        why = failed[-1] if failed else f"exit {proc.returncode}"
        raise ToolError(procs.redact(f"ansible-playbook {name} failed: {why[:300]} (log: {log})",
                                     secrets_))


def _playbook_inputs(vars_file: Path, inventory: Path) -> str:
    """Digest of what deploy.yaml reads: its vars (with host_prep), inventory and roles."""
    root = paths.bundle_root()
    host_prep = host_prep_file()
    return converge.digest(
        vars_file.read_text(encoding="utf-8"), host_prep.read_text(encoding="utf-8"),
        inventory.read_text(encoding="utf-8"),
        converge.tree_digest(root / PLAYBOOKS), converge.tree_digest(root / ROLES),
    )


def container_names(role_data: Mapping[str, Any]) -> list[str]:
    """Every container of every step, in start order."""
    names: list[tuple[str, int, str]] = []
    for step_name, containers in sorted((role_data.get("docker_config") or {}).items()):
        for name, spec in containers.items():
            names.append((step_name, int(spec.get("start_order", 0)), name))
    return [name for _s, _o, name in sorted(names)]


def deploy(options: Options) -> Result:
    """Deploy (or converge) the service; returns what happened to each container."""
    _require_root()
    root = paths.bundle_root()
    for env_file in options.env_files:
        yamlio.load_mapping(Path(env_file))  # bad input: one line, before anything starts
    if options.inventory is not None:
        yamlio.load(Path(options.inventory))
    record = read_record()
    first = not record
    secret = secrets.shared_secret(options.secret)
    if first:
        record = {
            "netns_before": netns_list(),
            "paths_created": [p for p in HOST_PATHS if not Path(p).exists()],
            "dirs_before": {
                d: snapshot_dir(Path(d)) for d in SHARED_DIRS if Path(d).is_dir()
            },
        }
    if options.fixture is not None:
        record["fixture"] = str(options.fixture)
        _save_record(record)
        start_fixture(options.fixture, options.hostname)
    images = _images(options.images)
    parameters: dict[str, Any] = {"NeutronMetadataProxySharedSecret": secret}
    env_files = [root / paths.SERVICE_ENV]
    if options.images is None:
        env_files.append(images_env_file(images))
    else:
        parameters.update(images)  # given on the command line: over every env file
    env_files += options.env_files
    if options.fixture is not None:
        env_files.append(options.fixture / "environment.yaml")
    role_data = _render(env_files, parameters)
    puppet_inputs = _puppet_inputs(role_data, options.hostname, options.ovn_dbs_vip)
    if not options.force and _config_unchanged(record, puppet_inputs):
        with step("generate config (Puppet)") as current:
            current.detail = "inputs and output unchanged, skipped"
        config_hash = record["config_hash"]
    else:
        config_hash = _generate_config(role_data, options.hostname, options.ovn_dbs_vip)
        record.update(puppet_inputs=puppet_inputs, config_hash=config_hash)
    vars_file = write_vars(role_data, config_hash)
    if options.prepare_only:
        _save_record(record)  # destroy removes what the config step created
        return Result(containers={}, config_hash=config_hash, images=images, vars_file=vars_file)
    inventory = options.inventory or standalone_inventory()
    names = container_names(role_data)
    before = container_ids(names)
    # A replaced container's cgroup is known only while it exists (cgroups.py says why).
    ran = {**record.get("cgroups", {}), **cgroups.cgroup_paths(before)}
    record.update(containers=names, vars_file=str(vars_file), inventory=str(inventory))
    _save_record(record)
    playbook_inputs = _playbook_inputs(vars_file, inventory)
    one_shots = [name for containers in (role_data.get("docker_config") or {}).values()
                 for name, spec in containers.items() if spec.get("detach") is False]
    with step("ansible-playbook deploy.yaml (host prep, kolla config, containers)") as current:
        if (not options.force and record.get("playbook_inputs") == playbook_inputs
                and converge.containers_as_recorded(record.get("container_ids", {}), one_shots)):
            current.detail = "inputs unchanged, containers as recorded, skipped"
        else:
            record.pop("playbook_inputs", None)
            _save_record(record)
            run_playbook("deploy.yaml", inventory, vars_file, [secret])
    after = container_ids(names)
    record.update(container_ids=after, playbook_inputs=playbook_inputs,
                  cgroups=cgroups.prune({**ran, **cgroups.cgroup_paths(
                      {name: cid for name, cid in after.items() if cid not in ran})}))
    _save_record(record)
    changes = {}
    for name in names:
        if name not in before:
            changes[name] = "created"
        elif before[name] != after.get(name):
            changes[name] = "recreated"
        else:
            changes[name] = "unchanged"
    return Result(
        containers=changes, config_hash=config_hash, images=images, vars_file=vars_file
    )


def _save_record(record: Mapping[str, Any]) -> None:
    _write_private(record_file(), json.dumps(record, indent=1, sort_keys=True) + "\n")


def destroy(purge_secret: bool = False) -> list[str]:
    """Remove everything the recorded deploy started; returns what was removed."""
    _require_root()
    record = read_record()
    removed: list[str] = []
    if purge_secret and secrets.secret_file().exists():
        secrets.secret_file().unlink()
        removed.append("the kept shared secret")
    if not record:
        return removed
    from tripleo_ovn_metadata import verify  # its test VMs, if a run was interrupted

    # This host's record only: the rehearsal nodes' records belong to a verify that may
    # be running there now (nodes down removes them with the nodes).
    verify.cleanup_recorded(verify.HOST)
    vars_file = Path(record.get("vars_file", ""))
    inventory = Path(record.get("inventory", ""))
    if vars_file.is_file() and inventory.is_file():
        with step("ansible-playbook destroy.yaml (containers, kolla and startup configs)"):
            run_playbook("destroy.yaml", inventory, vars_file, [])
    # Anything still there by the recorded id (a playbook that could not run).
    for cid in (record.get("container_ids") or {}).values():
        procs.run(["podman", "rm", "-f", "-t", "5", cid], check=False)
    removed.extend(f"container {name}" for name in record.get("containers", []))
    with step("haproxy sidecars"):
        removed.extend(remove_sidecars())
    with step("cgroups of the removed containers"):
        cgroups.prune(record.get("cgroups") or {})
    with step("namespaces the agent created"):
        before = set(record.get("netns_before", []))
        for name in netns_list():
            if name.startswith("ovnmeta-") and name not in before:
                procs.run(["ip", "netns", "delete", name], check=False)
                removed.append(f"netns {name}")
    fixture = record.get("fixture")
    if fixture:
        with step("rest-of-cloud fixture"):
            procs.run(fixture_command(Path(fixture), "stop"), timeout=120)
        removed.append("fixture processes, br-int")
    for path in record.get("paths_created", []):
        if Path(path).exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for path, before in (record.get("dirs_before") or {}).items():
        restore_dir(Path(path), before)
        removed.append(f"what the agent added to {path}")
    shutil.rmtree(deploy_dir(), ignore_errors=True)
    return removed


def agent_running() -> bool:
    """Whether the agent container is up (for verify's preflight)."""
    proc = subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.State.Running}}", AGENT],
        capture_output=True, text=True, check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip() == "true"


__all__ = ["BundleError", "Options", "Result", "deploy", "destroy"]
