"""The dev loop: put RPMs, debs, wheels or Python source trees into one thin layer.

The layer goes on the current agent image (or any image given), is tagged
``<base tag>-<content hash of the inputs>`` (same inputs, same tag; no manual bump) and
is pushed to the registry, where only the new layer's blobs travel. Like
tripleo-modify-image's rpm_install/dev_install, but one ``buildah run`` with the inputs
bind-mounted, so nothing but the installed result lands in the layer.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tripleo_ovn_metadata import image, kolla_recipe, registry
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import step

#: Where the inputs are mounted while the layer is built.
MOUNT = "/tmp/tripleo-ovn-metadata-patch"
LABEL = "org.openstack.tripleo-ovn-metadata.patch"


@dataclass(frozen=True)
class Inputs:
    """What goes into the layer."""

    rpms: Sequence[Path] = ()
    debs: Sequence[Path] = ()
    wheels: Sequence[Path] = ()
    sources: Sequence[Path] = ()

    def check(self) -> None:
        """Raise InputError naming the first file that is missing or of the wrong kind."""
        if not (self.rpms or self.debs or self.wheels or self.sources):
            raise BundleError("nothing to patch: give --rpm, --deb, --wheel or --source")
        for paths, suffix in ((self.rpms, ".rpm"), (self.debs, ".deb"), (self.wheels, ".whl")):
            for path in paths:
                if not path.is_file():
                    raise InputError(path, "no such file")
                if path.suffix != suffix:
                    raise InputError(path, f"expected a {suffix} file")
        for path in self.sources:
            if not path.is_dir():
                raise InputError(path, "no such directory")
            if not any((path / name).is_file() for name in ("pyproject.toml", "setup.py")):
                raise InputError(path, "not a Python source tree (no pyproject.toml or setup.py)")

    def digest(self) -> str:
        """Content hash of the inputs (file names and bytes; source trees without VCS data)."""
        total = hashlib.sha256()
        for kind, paths in (("rpm", self.rpms), ("deb", self.debs), ("wheel", self.wheels)):
            for path in sorted(paths, key=lambda p: p.name):
                total.update(f"{kind}\0{path.name}\0".encode())
                total.update(hashlib.sha256(path.read_bytes()).digest())
        for path in self.sources:
            total.update(f"source\0{path.name}\0{kolla_recipe.tree_hash(path)}".encode())
        return total.hexdigest()[:12]


@dataclass(frozen=True)
class Patched:
    """The result of one patch: what was pushed and how it compares to the full image."""

    base: str
    pushed: image.Pushed
    layer_bytes: int
    image_bytes: int
    extra: dict[str, image.Pushed] = field(default_factory=dict)


def _stage(inputs: Inputs, into: Path) -> None:
    for kind, paths in (("rpm", inputs.rpms), ("deb", inputs.debs), ("wheel", inputs.wheels)):
        for path in paths:
            (into / kind).mkdir(exist_ok=True)
            shutil.copy2(path, into / kind / path.name)
    for index, path in enumerate(inputs.sources):
        shutil.copytree(path, into / "source" / f"{index:02d}-{path.name}", symlinks=True,
                        ignore=shutil.ignore_patterns(".tox", "__pycache__", "*.pyc", "build"))


def _script() -> str:
    """The shell run as root in the build container (inputs under MOUNT, read-only)."""
    return f"""set -eu
m={MOUNT}
fail() {{ echo "patch: $*" >&2; exit 1; }}
need() {{ command -v "$1" >/dev/null || fail "the image has no $1 for $2"; }}
# step WHAT CMD...: run CMD; on failure name WHAT and the line that says why.
step() {{
    what=$1; shift
    if ! out=$("$@" 2>&1); then
        printf '%s\\n' "$out" >&2
        why=$(printf '%s\\n' "$out" | grep -m1 -iE 'depends on|error|conflict|not ' \\
              || printf '%s\\n' "$out" | tail -1)
        fail "$what failed: $(echo $why)"
    fi
    printf '%s\\n' "$out"
}}
if [ -d $m/rpm ]; then
    need rpm --rpm
    # NOTE: Debian's rpm keeps its database in ~/.rpmdb; use the system-wide path.
    step "rpm -U" rpm --dbpath /var/lib/rpm -Uvh --force-debian --nodeps --replacepkgs \\
        --replacefiles --oldpackage $m/rpm/*.rpm
fi
if [ -d $m/deb ]; then step "dpkg -i" dpkg -i $m/deb/*.deb; fi
if [ -d $m/wheel ] || [ -d $m/source ]; then
    python3 -m pip --version >/dev/null 2>&1 || fail "the image has no pip"
fi
pip="python3 -m pip install --no-deps --no-index --no-cache-dir --break-system-packages"
if [ -d $m/wheel ]; then
    step "pip install (wheels)" $pip --root-user-action=ignore $m/wheel/*.whl
fi
if [ -d $m/source ]; then
    work=$(mktemp -d)
    for tree in $m/source/*; do
        cp -a "$tree" "$work/"
        step "pip install $(basename "$tree" | cut -d- -f2-)" \\
            $pip --root-user-action=ignore --no-build-isolation "$work/$(basename "$tree")"
    done
    rm -rf "$work"
fi
rm -rf /root/.cache /var/cache/apt/archives/*.deb
"""


def _why(output: str) -> str:
    """The line that explains a failed install (not buildah's "exit status" summary)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("patch: ")]
    if ours:
        return ours[-1].removeprefix("patch: ")
    theirs = [line for line in lines if not line.startswith(("Error: while running", "error "))]
    return theirs[-1] if theirs else "the install step failed"


def _build_layer(base: str, target: str, inputs: Inputs, digest: str) -> None:
    """buildah from base, one run with the inputs mounted, commit as ``target``."""
    with tempfile.TemporaryDirectory(prefix="tom-patch-") as tmp:
        staging = Path(tmp)
        staging.chmod(0o755)
        _stage(inputs, staging)
        container = run(["buildah", "from", "--tls-verify=false", base]).stdout.strip()
        try:
            proc = run(["buildah", "run", "--runtime", "runc", "--user", "root",
                        "-v", f"{staging}:{MOUNT}:ro", container, "--", "sh", "-c", _script()],
                       check=False)
            if proc.returncode != 0:
                raise ToolError(_why(proc.stderr + proc.stdout))
            run(["buildah", "config", "--label", f"{LABEL}={digest}", container])
            run(["buildah", "commit", "--quiet", "--format", "docker", container, target])
        finally:
            run(["buildah", "rm", container], check=False)


def patch_image(base: str, inputs: Inputs, address: str) -> tuple[image.Pushed, int, int]:
    """Layer ``inputs`` onto ``base`` (a registry ref), push; return pushed, layer, image bytes."""
    name, _, base_tag = base.rsplit("/", 1)[1].partition(":")
    digest = inputs.digest()
    tag = f"{base_tag}-{digest}"
    target_local = image.local_ref(name, tag)
    dest = image.remote_ref(address, name, tag)
    repository = dest.partition("/")[2].rpartition(":")[0]
    if not registry.has_tag(address, repository, tag) and not image.local_exists(target_local):
        with step(f"patch layer {name}:{tag}") as current:
            try:
                _build_layer(base, target_local, inputs, digest)
            except ToolError as exc:
                raise ToolError(f"patching {name} failed: {exc}") from None
            current.nbytes = image.image_size(target_local) - image.image_size(base)
    pushed = image.push(target_local, dest)
    base_size = image.manifest_size(base)
    return pushed, pushed.size - base_size, pushed.size


def patch(inputs: Inputs, *, base: str | None = None, config_image: bool = False,
          address: str = registry.DEFAULT_ADDRESS) -> Patched:
    """Patch the agent image (and the config image when asked) with ``inputs``."""
    inputs.check()
    registry.ensure_running(address)
    current = image.ensure_images(address) if base is None or config_image else {}
    agent_base = base or current["ContainerOvnMetadataImage"]
    if not registry.has_tag(*_split(agent_base)):
        raise ToolError(f"{agent_base}: not in the registry (run image build first)")
    pushed, layer, size = patch_image(agent_base, inputs, address)
    extra = {}
    if config_image:
        extra["ContainerNeutronConfigImage"] = patch_image(
            current["ContainerNeutronConfigImage"], inputs, address)[0]
    return Patched(base=agent_base, pushed=pushed, layer_bytes=layer, image_bytes=size,
                   extra=extra)


def _split(ref: str) -> tuple[str, str, str]:
    address, _, rest = ref.partition("/")
    repository, _, tag = rest.rpartition(":")
    return address, repository, tag
