"""Generate the agent's configuration the way TripleO's container-puppet does.

The service template's rendered ``config_settings`` become hieradata (see
:mod:`tripleo_ovn_metadata.hieradata`), its ``step_config`` the manifest, and a real
``puppet apply --tags <puppet_tags>`` writes ``etc/neutron/*`` into a config-data
directory, by default ``/var/lib/config-data/puppet-generated/neutron``, which the agent
container's kolla config copies to ``/``.

Puppet only ever sees that directory as ``/etc/neutron``; the host's ``/etc`` is never
written. Where the config image exists locally, Puppet runs inside it with podman;
otherwise in a private mount namespace, with ``/etc`` an overlay whose upper layer is
thrown away and the output directory bind-mounted on ``/etc/neutron``.

Our module is not in the config image: like tripleo-ansible's container_puppet_config,
the node's ``/etc/puppet`` is mounted read-only on ``/tmp/puppet-etc`` and copied to
``/etc/puppet`` (container-puppet.sh), and the node's
``/usr/share/openstack-puppet/modules`` is mounted where it has one; Puppet's modulepath
is container-puppet's ``/etc/puppet/modules:/usr/share/openstack-puppet/modules``. The
deploy artifact (:mod:`tripleo_ovn_metadata.artifact`) is what puts our module into the
node's ``/etc/puppet/modules``; ``node_root`` says where that node's ``/`` is.

The config hash (md5 over the generated files' names, modes and contents, like TripleO's
``<config_volume>.md5sum``) changes exactly when the configuration does; TripleO puts it
in ``TRIPLEO_CONFIG_HASH`` so a change recreates the container.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import artifact, hieradata, paths, procs, yamlio
from tripleo_ovn_metadata.errors import InputError, ToolError
from tripleo_ovn_metadata.progress import step

LOG = logging.getLogger(__name__)

#: Where TripleO keeps the generated configuration of the ``neutron`` config volume.
DEFAULT_OUTPUT = Path("/var/lib/config-data/puppet-generated/neutron")
#: The node's Puppet paths container_puppet_config mounts, relative to the node's root.
NODE_PUPPET_ETC = Path("etc/puppet")
NODE_MODULES = Path("usr/share/openstack-puppet/modules")
#: container-puppet.sh's modulepath (in the config container).
MODULEPATH = "/etc/puppet/modules:/usr/share/openstack-puppet/modules"
#: Without a config image: Debian's modules the profile needs, after the node's own; only
#: these (the full /usr/share/puppet/modules loads puppetlabs-apt's facts: ~6 s per run).
SYSTEM_MODULES = Path("/usr/share/puppet/modules")
CURATED_MODULES = ("neutron", "openstacklib", "oslo", "inifile", "stdlib")
#: The one directory Puppet may write, relative to the output directory.
CONFIG_DIR = Path("etc/neutron")
SERVICE_DEFAULT = "<SERVICE DEFAULT>"
#: The template parameter behind the shared secret.
PARAMETER_SECRET = "NeutronMetadataProxySharedSecret"
PODMAN_RUN = (
    "podman", "--runtime", "runc", "run", "--rm", "--net", "none",
    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
    "--user", "root", "--security-opt", "label=disable",
)  # fmt: skip

# Runs as root in a new mount namespace: $1 work dir, $2 output etc/neutron, $3 the user's
# home directory, then puppet. NOTE: Puppet runs commands (rpm, probing its package
# provider) with HOME unset, so they fall back to the passwd home: hide it too.
_NAMESPACE_SCRIPT = """
W=$1; ETC=$2; REAL_HOME=$3; shift 3
mount --bind "$W/home" "$REAL_HOME"
mkdir -p "$W/overlay/upper" "$W/overlay/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/overlay/upper,workdir=$W/overlay/work" /etc
mkdir -p /etc/neutron
mount --bind "$ETC" /etc/neutron
umask 027
exec "$@"
"""


@dataclass(frozen=True)
class ConfigResult:
    """What a config run produced."""

    output: Path
    config_hash: str
    changed: bool
    engine: str
    files: tuple[Path, ...]


def generate(
    *,
    role: str = "Compute",
    env_files: Sequence[Path] = (),
    parameters: Mapping[str, Any] | None = None,
    roles_data: Path | None = None,
    hieradata_file: Path | None = None,
    output: Path = DEFAULT_OUTPUT,
    step_number: int = 4,
    config_image: str | None = None,
    node_root: Path = Path("/"),
) -> ConfigResult:
    """Render the service for ``role`` with real Heat, then apply its Puppet config."""
    from tripleo_ovn_metadata import render  # Heat is heavy: import only when rendering

    if not _secret_given(env_files, parameters, hieradata_file):
        LOG.warning(
            "NeutronMetadataProxySharedSecret is given by no -e, -p or --hieradata: the plan's "
            "password generator makes a new one, so every run changes the config"
        )
    with step("render role_data with Heat"):
        role_data = render.render_role_data(
            role, env_files=env_files, parameters=parameters, roles_data=roles_data
        )
    return apply(
        role_data,
        hieradata_file=hieradata_file,
        output=output,
        step_number=step_number,
        config_image=config_image,
        node_root=node_root,
    )


def apply(
    role_data: Mapping[str, Any],
    *,
    hieradata_file: Path | None = None,
    output: Path = DEFAULT_OUTPUT,
    step_number: int = 4,
    config_image: str | None = None,
    host_facts: Mapping[str, Any] | None = None,
    node_root: Path = Path("/"),
) -> ConfigResult:
    """Apply the rendered ``role_data``'s Puppet config into ``output``.

    ``config_image`` (default: the role_data's ``config_image``) is used when podman has
    it locally; otherwise Puppet runs on the host in a private mount namespace. The
    modules come from the node whose ``/`` is ``node_root`` (see the module docstring).

    Like container-puppet, Puppet starts from an empty ``/etc/neutron`` each time, so a
    key or file no longer configured disappears. It writes a staging directory; only a
    successful run is published, file by file (``etc/neutron`` mirrored, like its
    ``rsync --delete``), so a failure leaves ``output`` as it was and unchanged files keep
    their mtime.
    """
    puppet_config = role_data.get("puppet_config") or {}
    tags = puppet_config.get("puppet_tags")
    manifest = puppet_config.get("step_config")
    if not tags or not manifest:
        raise InputError(paths.SERVICE_TEMPLATE, "role_data has no puppet_config tags/step_config")
    output = _check_output(output)
    node = _check_node_root(node_root)
    extra = hieradata.load_extra(hieradata_file) if hieradata_file else None
    hiera = hieradata.build(
        role_data.get("config_settings") or {},
        step=step_number,
        settings_origin=f"{paths.SERVICE_TEMPLATE} (rendered config_settings)",
        extra=extra,
        defaults=host_facts,
    )
    image = config_image or puppet_config.get("config_image")
    before = config_hash(output) if output.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="tripleo-ovn-metadata-config.") as tmp:
        work = Path(tmp)
        stage = work / "stage"
        (stage / CONFIG_DIR).mkdir(mode=0o700, parents=True)
        hiera_yaml = hieradata.write(hiera, work / "hieradata")
        (work / "config.pp").write_text(manifest, encoding="utf-8")
        engine = "podman" if image and _image_exists(image) else "namespace"
        if engine == "podman":
            argv = _puppet_argv(work, MODULEPATH, hiera_yaml, tags)
            cmd = _podman_cmd(str(image), work, stage / CONFIG_DIR, node, argv)
        else:
            argv = _puppet_argv(work, _host_modulepath(work, node), hiera_yaml, tags)
            cmd = _namespace_cmd(work, stage / CONFIG_DIR, argv)
        with step(f"puppet apply --tags {tags} ({engine})") as current:
            (work / "home").mkdir(mode=0o700)
            _run_puppet(cmd, hiera.secrets(), home=work / "home", node=node)
            written = [p for p in stage.rglob("*") if p.is_file()]
            current.nbytes = sum(p.stat().st_size for p in written)
            current.detail = f"{len(written)} files"
        if engine == "namespace":
            _check_nothing_else_written(work / "overlay" / "upper")
        _fix_modes(stage)
        _publish(stage, output)
    after = config_hash(output)
    hash_file = output.with_name(output.name + ".md5sum")
    if not hash_file.is_file() or hash_file.read_text(encoding="utf-8") != after + "\n":
        _write_private(hash_file, after + "\n")
    files = tuple(sorted(p.relative_to(output) for p in output.rglob("*") if p.is_file()))
    return ConfigResult(output, after, before != after, engine, files)


def _publish(stage: Path, output: Path) -> None:
    """Copy new or changed files from ``stage`` to ``output``, each by an atomic rename,
    and remove files from ``output/etc/neutron`` that Puppet no longer writes."""
    for source in [stage, *sorted(stage.rglob("*"))]:
        target = output / source.relative_to(stage)
        if source.is_dir():
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            if target.stat().st_mode & 0o7777 != source.stat().st_mode & 0o7777:
                target.chmod(source.stat().st_mode & 0o7777)
            continue
        mode = source.stat().st_mode & 0o7777
        if (
            target.is_file()
            and target.stat().st_mode & 0o7777 == mode
            and target.read_bytes() == source.read_bytes()
        ):
            continue
        partial = target.with_name(f".{target.name}.new")
        shutil.copy2(source, partial)
        os.replace(partial, target)
    for old in sorted((output / CONFIG_DIR).rglob("*"), reverse=True):
        if (stage / old.relative_to(output)).exists():
            continue
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()


def _secret_given(
    env_files: Sequence[Path], parameters: Mapping[str, Any] | None, hieradata_file: Path | None
) -> bool:
    if parameters and PARAMETER_SECRET in parameters:
        return True
    try:
        if hieradata_file and hieradata.SECRET_KEY in yamlio.load_mapping(hieradata_file):
            return True
        return any(
            PARAMETER_SECRET in (yamlio.load_mapping(env).get("parameter_defaults") or {})
            for env in env_files
        )
    except InputError:
        return True  # the render or the hieradata check reports the file itself


def config_hash(output: Path) -> str:
    """md5 over every file's relative name, mode and content (order-independent)."""
    digest = hashlib.md5(usedforsecurity=False)
    for path in sorted(p for p in output.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(output)).encode() + b"\0")
        digest.update(f"{path.stat().st_mode & 0o7777:o}".encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _check_output(output: Path) -> Path:
    resolved = output.resolve()
    if resolved == Path("/etc") or Path("/etc") in resolved.parents:
        raise InputError(output, "the config output must not be under the host's /etc")
    if resolved.exists() and not resolved.is_dir():
        raise InputError(output, "exists and is not a directory")
    return resolved


def _image_exists(image: str) -> bool:
    if shutil.which("podman") is None:
        return False
    found = procs.run(["podman", "image", "exists", image], check=False).returncode == 0
    LOG.info("config image %s %s", image, "found" if found else "not found locally")
    return found


def _check_node_root(node_root: Path) -> Path:
    if not Path(node_root).is_dir():
        raise InputError(node_root, "node root: no such directory")
    return Path(node_root).resolve()


def _host_modulepath(work: Path, node: Path) -> str:
    """The node's module dirs that exist, then Debian's five (links), and nothing else."""
    dirs = [str(node / d) for d in (NODE_PUPPET_ETC / "modules", NODE_MODULES)
            if (node / d).is_dir()]
    modules = work / "system-modules"
    modules.mkdir()
    for name in CURATED_MODULES:
        if not (SYSTEM_MODULES / name).is_dir():
            raise ToolError(f"{SYSTEM_MODULES / name}: Puppet module missing (run tools/setup.sh)")
        (modules / name).symlink_to(SYSTEM_MODULES / name)
    return ":".join([*dirs, str(modules)])


def _puppet_argv(work: Path, modulepath: str, hiera_yaml: Path, tags: str) -> list[str]:
    state = work / "puppet"
    argv = ["puppet", "apply", "--detailed-exitcodes", "--color", "false", "--tags", tags]
    argv += ["--modulepath", modulepath, "--hiera_config", str(hiera_yaml)]
    for name in ("confdir", "vardir", "codedir", "logdir", "rundir", "publicdir"):
        argv += [f"--{name}", str(state / name)]
    return [*argv, str(work / "config.pp")]


# The start of container-puppet.sh: the node's /etc/puppet, mounted read-only, becomes
# the container's own; then umask for what Puppet writes, and Puppet.
_PODMAN_SCRIPT = """
rm -rf /etc/puppet && mkdir -p /etc/puppet
if [ -d /tmp/puppet-etc ]; then cp -dR /tmp/puppet-etc/. /etc/puppet; fi
rm -rf /etc/puppet/ssl
umask 027
exec "$@"
"""


def _podman_cmd(
    image: str, work: Path, etc_dir: Path, node: Path, argv: list[str]
) -> list[str]:
    """Puppet inside the config image: the work dir at the same path, output on
    /etc/neutron, the node's Puppet dirs where container_puppet_config mounts them."""
    mounts = ["-v", f"{work}:{work}", "-v", f"{etc_dir}:/etc/neutron"]
    if (node / NODE_PUPPET_ETC).is_dir():
        mounts += ["-v", f"{node / NODE_PUPPET_ETC}:/tmp/puppet-etc:ro"]
    if (node / NODE_MODULES).is_dir():
        mounts += ["-v", f"{node / NODE_MODULES}:/{NODE_MODULES}:ro"]
    env = ["-e", f"FACTER_os_service_default={SERVICE_DEFAULT}"]
    shell = ["--entrypoint", "sh", image, "-euc", _PODMAN_SCRIPT, "sh"]
    return [*PODMAN_RUN, *mounts, *env, *shell, *argv]


def _namespace_cmd(work: Path, etc_dir: Path, argv: list[str]) -> list[str]:
    """Puppet on the host in a private mount namespace (see _NAMESPACE_SCRIPT)."""
    home = pwd.getpwuid(os.getuid()).pw_dir
    unshare = ["unshare", "--mount", "--propagation", "private", "--"]
    return [*unshare, "sh", "-euc", _NAMESPACE_SCRIPT, "sh", str(work), str(etc_dir), home, *argv]


def _run_puppet(cmd: Sequence[str], secrets: Sequence[str], home: Path, node: Path) -> None:
    env = dict(
        os.environ, FACTER_os_service_default=SERVICE_DEFAULT, LANG="C.UTF-8", HOME=str(home)
    )
    proc = procs.run(cmd, check=False, env=env, secrets=secrets)
    if proc.returncode not in (0, 2):  # --detailed-exitcodes: 2 = changes made
        message = _puppet_error(proc)
        missing = _MISSING_CLASS.match(message)
        if missing:
            module = missing.group(1).split("::")[0]
            hint = (
                "ship it to the node with the deploy artifact (tripleo-ovn-metadata "
                "puppet-artifact)" if module == artifact.MODULE.name
                else "the node or the config image has to provide it"
            )
            message = (
                f"class {missing.group(1)} not found: no module {module} on the modulepath "
                f"({node / NODE_PUPPET_ETC / 'modules'} has none); {hint}"
            )
        raise ToolError(procs.redact(f"puppet apply failed: {message}", secrets))


_MISSING_CLASS = re.compile(r"^Could not find class (?:::)?([\w:]+)")
_ERROR_NOISE = re.compile(
    r"^(Error: )?(Evaluation Error: )?(Error while evaluating a \w+( \w+)*, )?"
)


def _puppet_error(proc: Any) -> str:
    """Puppet's first real ``Error:`` line, without its prefixes and location suffix.

    Facter's own errors (``Error: Facter: Permission denied ... /proc/1/environ`` in
    containers) are noise, not the failure.
    """
    for line in (proc.stderr + "\n" + proc.stdout).splitlines():
        if line.startswith("Error:") and not line.startswith("Error: Facter:"):
            message = _ERROR_NOISE.sub("", line.strip())
            return re.sub(r" \((file|line): .*$| on node \S+$", "", message)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {proc.returncode}"


def _check_nothing_else_written(upper: Path) -> None:
    """Puppet may only write the bind-mounted /etc/neutron; anything else is a bug."""
    stray = sorted(entry.name for entry in upper.iterdir() if entry.name != "neutron")
    if stray:
        raise ToolError(f"puppet wrote outside /etc/neutron (discarded): {', '.join(stray)}")


def _dir_mode(relative: Path) -> int:
    """0755 for the output dir and etc/ (kolla merges them onto / and /etc, keeping their
    modes: 0750 there locks the agent's user out of /etc/passwd), 0750 below."""
    return 0o755 if len(relative.parts) < len(CONFIG_DIR.parts) else 0o750


def _fix_modes(tree: Path) -> None:
    """Files 0640 (the ini holds the shared secret), scripts Puppet made executable
    (the haproxy sidecar wrapper and kill script) 0750; directories per _dir_mode."""
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            want = _dir_mode(path.relative_to(tree))
        else:
            want = 0o750 if path.stat().st_mode & 0o100 else 0o640
        if path.stat().st_mode & 0o7777 != want:
            path.chmod(want)


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")
