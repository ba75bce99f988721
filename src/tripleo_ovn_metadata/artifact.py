"""Our Puppet module as a TripleO deploy artifact, and the env file that ships it.

THT 18's deploy steps push every ``DeployArtifactFILEs`` entry (a path on the undercloud)
to each node with tripleo-ansible's ``tripleo_push_artifacts``, which tells a tarball by
``file -b`` saying "gzip compressed data" and unpacks it with ``tar xz -C /``.
tripleo-common's ``upload-puppet-modules`` lays modules out under ``etc/puppet/modules``,
the first directory of container-puppet's modulepath, and the config container gets the
node's ``/etc/puppet`` mounted: so the tarball holds ``etc/puppet/modules/<module>/...``
and no entry above it (unpacking never resets the owner, mode or mtime of /etc).

The tarball is reproducible: sorted members, root:root, 0644/0755, one fixed mtime
(``SOURCE_DATE_EPOCH`` or 0) and a gzip header without name or time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tripleo_ovn_metadata import paths, procs
from tripleo_ovn_metadata.errors import InputError
from tripleo_ovn_metadata.progress import step
from tripleo_ovn_metadata.yamlio import dump

#: Our module, in the bundle.
MODULE = Path("puppet/modules/tripleo_ovn_metadata")
#: Where the members go, relative to the node's / (upload-puppet-modules' layout).
PREFIX = PurePosixPath("etc/puppet/modules")
#: The module directories of container-puppet's modulepath, relative to /.
MODULE_DIRS = (PREFIX, PurePosixPath("usr/share/openstack-puppet/modules"))
DEFAULT_OUTPUT = Path("tripleo-ovn-metadata-puppet-modules.tar.gz")
#: The THT parameter naming artifact files on the undercloud (``DeployArtifactURLs`` is
#: the other one: fetched over HTTP by the same action plugin).
PARAMETER = "DeployArtifactFILEs"
#: Parts of the module tree that never ship: the rspec-puppet tests and their fixtures.
SKIP = frozenset({"spec", "__pycache__", ".git"})


@dataclass(frozen=True)
class Artifact:
    """A written artifact: its path, content digest, size and member count."""

    path: Path
    sha256: str
    size: int
    files: int
    module: str


def module_dir() -> Path:
    """Our module in the bundle, or InputError when it is not there."""
    module = paths.bundle_root() / MODULE
    if not (module / "manifests").is_dir():
        raise InputError(module, "no such Puppet module (no manifests/ directory)")
    return module


def _walk(module: Path) -> Iterator[Path]:
    """The module's directories and files that ship, relative, parents first, sorted."""
    for top, dirs, files in os.walk(module):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
        here = Path(top)
        for name in [*dirs, *sorted(f for f in files if not f.startswith("."))]:
            path = here / name
            if path.is_symlink():
                raise InputError(path, "is a symlink; the artifact ships regular files only")
            if name.endswith(".pyc"):
                continue
            yield path.relative_to(module)


def _mtime() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "0")
    if not value.isdigit():
        raise InputError("SOURCE_DATE_EPOCH", f"must be a number of seconds, not {value!r}")
    return int(value)


def tarball_bytes(module: Path) -> tuple[bytes, int]:
    """The artifact's bytes for ``module`` and how many files it holds."""
    mtime = _mtime()
    top = PREFIX / module.name
    raw = io.BytesIO()
    files = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for relative in [Path("."), *_walk(module)]:
            source = module / relative
            info = tarfile.TarInfo(str(top / relative.as_posix()))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = mtime
            if source.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            data = source.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(source, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
            files += 1
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as out:
        out.write(raw.getvalue())
    return packed.getvalue(), files


def build(output: Path = DEFAULT_OUTPUT, module: Path | None = None) -> Artifact:
    """Write the artifact to ``output`` (atomically, mode 0644) and describe it."""
    module = module or module_dir()
    output = Path(output)
    if not output.parent.is_dir():
        raise InputError(output, "its directory does not exist")
    if output.is_dir():
        raise InputError(output, "is a directory; give the tarball's file name")
    with step(f"puppet artifact {output}") as current:
        data, files = tarball_bytes(module)
        _write_atomic(output, data, 0o644)
        current.nbytes = len(data)
        current.detail = f"{files} files"
    return Artifact(output.resolve(), hashlib.sha256(data).hexdigest(), len(data), files,
                    module.name)


def env_text(artifact_path: Path) -> str:
    """The Heat env file that makes the deploy push ``artifact_path`` to every node."""
    data = {"parameter_defaults": {PARAMETER: [str(Path(artifact_path).resolve())]}}
    return (
        "# Generated by tripleo-ovn-metadata puppet-artifact: push our Puppet module to\n"
        "# every node (unpacked under /etc/puppet/modules, container-puppet's modulepath).\n"
        f"# Heat keeps one {PARAMETER} value: list any other artifacts here too.\n"
        + dump(data)
    )


def write_env_file(path: Path, artifact_path: Path) -> None:
    """Write :func:`env_text` to ``path`` (atomically, mode 0644; it holds no secret)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(path, "its directory does not exist")
    _write_atomic(path, env_text(artifact_path).encode(), 0o644)


def modules_in(tarball: Path) -> set[str]:
    """Module names a deploy artifact puts on container-puppet's modulepath."""
    try:
        with tarfile.open(tarball, mode="r:*") as tar:
            names = tar.getnames()
    except (OSError, tarfile.TarError) as exc:
        raise InputError(tarball, f"not a readable tarball ({exc})") from None
    found = set()
    for name in names:
        parts = PurePosixPath(name.lstrip("/").removeprefix("./")).parts
        for base in MODULE_DIRS:
            if len(parts) > len(base.parts) and PurePosixPath(*parts[: len(base.parts)]) == base:
                found.add(parts[len(base.parts)])
    return found


def install(tarball: Path, root: Path) -> Path:
    """Unpack ``tarball`` into ``root`` the way tripleo_push_artifacts does on a node."""
    root.mkdir(parents=True, exist_ok=True)
    procs.run(["tar", "-xz", "-C", str(root), "-f", str(tarball)])
    return root


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
