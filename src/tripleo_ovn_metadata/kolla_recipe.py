"""The kolla-format recipe in ``kolla/docker``, rendered by the real ``kolla-build``.

``kolla-build --template-only --docker-dir kolla/docker`` lays kolla's own image tree (its
macros, ``kolla_set_configs``, ``kolla_start``, healthcheck helpers) under ours in a work
dir and renders every Dockerfile.j2; the builds then run in those directories. The recipe
tag is a content hash of everything that goes into the chain, so the same recipe always
gives the same tag and a changed one a new tag. The OVN leaves also get tripleo-common's
start scripts and healthchecks, copied at build time from the installed tripleo-common.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tripleo_ovn_metadata import paths
from tripleo_ovn_metadata.errors import InputError, ToolError
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import step

#: The base image tools/setup.d/27-containers.sh imports from debootstrap.
BASE_IMAGE, BASE_TAG = "localhost/debian", "bookworm"
#: The local (containers-storage) name space the chain is built under.
LOCAL_NAMESPACE = "localhost/tripleo-ovn-metadata"
#: The chain, parents first, with each image's directory under kolla/docker.
CHAIN: tuple[tuple[str, str], ...] = (
    ("base", "base"),
    ("openstack-base", "openstack-base"),
    ("neutron-base", "neutron/neutron-base"),
    ("neutron-metadata-agent-ovn", "neutron/neutron-metadata-agent-ovn"),
    ("neutron-config", "neutron/neutron-config"),
    ("ovn-base", "ovn/ovn-base"),
    ("ovn-nb-db-server", "ovn/ovn-nb-db-server"),
    ("ovn-sb-db-server", "ovn/ovn-sb-db-server"),
    ("ovn-northd", "ovn/ovn-northd"),
    ("ovn-controller", "ovn/ovn-controller"),
)
AGENT, CONFIG = "neutron-metadata-agent-ovn", "neutron-config"
OVN_NB_DB, OVN_SB_DB = "ovn-nb-db-server", "ovn-sb-db-server"
OVN_NORTHD, OVN_CONTROLLER = "ovn-northd", "ovn-controller"
#: tripleo-common's files (under its installed ``share/tripleo-common``) that the build
#: copies into an image's context, as (installed path, path in the context): the start
#: scripts and healthchecks THT's kolla config and docker_config name.
TRIPLEO_COMMON_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    OVN_NB_DB: (("container-images/kolla/ovn/ovn-nb-db-server/start_nb_db_server.sh",
                 "tripleo-common/start_nb_db_server.sh"),),
    OVN_SB_DB: (("container-images/kolla/ovn/ovn-sb-db-server/start_sb_db_server.sh",
                 "tripleo-common/start_sb_db_server.sh"),),
    OVN_NORTHD: (("healthcheck/ovn-dbs", "tripleo-common/healthcheck/ovn-dbs"),),
    OVN_CONTROLLER: (("healthcheck/common.sh", "tripleo-common/healthcheck/common.sh"),
                     ("healthcheck/ovn-controller", "tripleo-common/healthcheck/ovn-controller")),
}
_SKIP_PARTS = {".git", "__pycache__", ".tox", "spec", ".pytest_cache"}


def recipe_dir() -> Path:
    """The kolla ``--docker-dir`` of this bundle."""
    return paths.bundle_root() / "kolla" / "docker"


def kolla_build() -> Path:
    """The kolla-build of .venv-kolla (tools/setup.d/26-kolla-venv.sh)."""
    exe = paths.venv_bin("kolla-build", ".venv-kolla")
    if not exe.exists():
        raise ToolError(f"{exe}: not installed (run tools/setup.sh)")
    return exe


def tree_hash(root: Path, *, skip: set[str] = _SKIP_PARTS) -> str:
    """sha256 over the relative paths, modes and contents of the files under ``root``.

    Directories named in ``skip`` are pruned and symlinked directories are not followed
    (rspec-puppet's fixtures link a module into itself).
    """
    if not root.is_dir():
        raise InputError(root, "no such directory")
    files = []
    for top, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        files.extend(Path(top) / name for name in names if not name.endswith(".pyc"))
    digest = hashlib.sha256()
    for path in sorted(files):
        if not path.is_file():
            continue
        digest.update(f"{path.relative_to(root)}\0{path.stat().st_mode & 0o111:o}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def base_image_id() -> str:
    """The image id of localhost/debian:bookworm, or ToolError if it was never imported."""
    proc = run(["podman", "image", "inspect", "--format", "{{.Id}}", f"{BASE_IMAGE}:{BASE_TAG}"],
               check=False)
    if proc.returncode != 0:
        raise ToolError(f"{BASE_IMAGE}:{BASE_TAG} is missing (run tools/setup.sh)")
    return proc.stdout.strip()


def kolla_version() -> str:
    """Version of the kolla-build that renders (its start scripts go into the images).

    Read from the kolla venv's package metadata, which is what ``kolla-build --version``
    prints, without starting kolla-build (0.7 s, and every tag computation asks).
    """
    venv = kolla_build().parent.parent
    site = [str(path) for path in venv.glob("lib/python3*/site-packages")]
    for dist in importlib.metadata.distributions(name="kolla", path=site):
        return str(dist.version)
    raise ToolError(f"{venv}: kolla-build without kolla's package metadata "
                    "(run tools/setup.sh)")


def chain_tag() -> str:
    """Content tag of the chain: recipe files, kolla version and base image id."""
    digest = hashlib.sha256()
    for part in (tree_hash(recipe_dir()), kolla_version(), base_image_id()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def tripleo_common_file(installed: str) -> Path:
    """A data file of the installed tripleo-common (requirements.txt), by its share path."""
    try:
        dist = importlib.metadata.distribution("tripleo-common")
    except importlib.metadata.PackageNotFoundError:
        raise ToolError("tripleo-common: not installed (run tools/setup.sh)") from None
    suffix = f"share/tripleo-common/{installed}"
    for entry in dist.files or ():
        if str(entry).endswith(suffix):
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file():
                return path
    raise ToolError(f"tripleo-common {dist.version}: {suffix} is not installed")


def tripleo_common_hash(image: str) -> str:
    """Content hash of the tripleo-common files ``image`` gets (its extra tag part)."""
    digest = hashlib.sha256()
    for installed, dest in TRIPLEO_COMMON_FILES[image]:
        digest.update(f"{dest}\0".encode())
        digest.update(hashlib.sha256(tripleo_common_file(installed).read_bytes()).digest())
    return digest.hexdigest()[:12]


def copy_tripleo_common(image: str, context: Path) -> None:
    """Copy ``image``'s tripleo-common files into its rendered build context."""
    shutil.rmtree(context / "tripleo-common", ignore_errors=True)
    for installed, dest in TRIPLEO_COMMON_FILES.get(image, ()):
        target = context / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tripleo_common_file(installed), target)


@dataclass(frozen=True)
class Rendered:
    """A kolla work dir with Dockerfiles rendered for one chain tag."""

    tag: str
    docker_dir: Path

    def context(self, image: str) -> Path:
        """The build context (and Dockerfile) directory of ``image``."""
        return self.docker_dir / dict(CHAIN)[image]

    def parent(self, image: str) -> str | None:
        """The chain image ``image`` is built FROM, or None for the base image."""
        found = re.search(r"^FROM (\S+)", (self.context(image) / "Dockerfile").read_text(), re.M)
        ref = found.group(1) if found else ""
        if not ref.startswith(f"{LOCAL_NAMESPACE}/"):
            return None
        return ref[len(LOCAL_NAMESPACE) + 1:].rsplit(":", 1)[0]


def render(tag: str, *, work_root: Path | None = None) -> Rendered:
    """Render the chain with kolla-build into a per-tag work dir (reused when present).

    Callers hold the build lock (see image.build), so older renders can go.
    """
    root = work_root or paths.cache_dir() / "kolla-work"
    work = root / tag
    done = work / ".rendered"
    if not done.exists():
        for old in root.glob("*/.rendered"):  # renders of older recipes
            shutil.rmtree(old.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        names = "|".join(name for name, _ in CHAIN)
        with step(f"render kolla recipe ({tag})"):
            run([
                str(kolla_build()), "--engine", "podman", "--template-only",
                "--base", "debian", "--base-image", BASE_IMAGE, "--base-tag", BASE_TAG,
                "--docker-dir", str(recipe_dir()), "--work-dir", str(work),
                "--registry", LOCAL_NAMESPACE.split("/")[0],
                "--namespace", LOCAL_NAMESPACE.split("/")[1],
                "--tag", tag,
                f"^({names})$",
            ])
        for _, rel in CHAIN:
            if not (work / "docker" / rel / "Dockerfile").is_file():
                raise ToolError(f"kolla-build rendered no Dockerfile for {rel} in {work}")
        done.touch()
    return Rendered(tag=tag, docker_dir=work / "docker")


def render_stock(work: Path, overrides: Path, image_regex: str) -> Path:
    """Render stock kolla's Dockerfiles with a template override; return the docker dir."""
    run([
        str(kolla_build()), "--engine", "podman", "--template-only", "--base", "debian",
        "--template-override", str(overrides), "--work-dir", str(work), image_regex,
    ])
    return work / "docker"
