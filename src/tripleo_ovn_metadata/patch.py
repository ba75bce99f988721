"""The dev loop: put RPMs, debs, wheels or Python source trees into one thin layer.

The layer goes on the current agent image (or any image given), is tagged
``<base tag>-<content hash of the inputs>`` (same inputs, same tag; no manual bump) and
is pushed to the registry, where only the new layer's blobs travel. Like
tripleo-modify-image's rpm_install/dev_install, but one ``buildah run`` with the inputs
bind-mounted, so nothing but the installed result lands in the layer.

RPMs go in with the image's dnf or microdnf, dependencies resolved. A dpkg image has
neither, so ``--rpm`` is refused there unless ``rpm_unpack`` asks for the RPMs' files to be
unpacked without dependency checks (``data/rpm_unpack.py``: their site-packages go where
the image's python3 reads them).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
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
#: The package managers that install RPMs with their dependencies, preferred first.
RPM_INSTALLERS = ("dnf", "microdnf")
#: Run in the image: copies the unpacked RPM tree into it (staged as tool/rpm_unpack.py).
UNPACKER = Path(__file__).with_name("data") / "rpm_unpack.py"
#: Run in the image: the PBR_VERSION of a git checkout (staged as tool/pbr_version.py).
PBR_VERSION_TOOL = Path(__file__).with_name("data") / "pbr_version.py"
#: Run in the image: copies a tree's changed package files (staged as tool/sync_tree.py).
SYNC_TOOL = Path(__file__).with_name("data") / "sync_tree.py"
#: The CLI flag that unpacks RPMs without dependency checks, named in the refusal.
UNPACK_FLAG = "--rpm-unpack-without-deps"
#: How the patched image is committed: OCI without build history. A thin layer's push
#: carries the image config and the manifest along; the base's history (24 entries of kolla
#: RUN lines, 6 kB) and Docker's copy of the config as ``container_config`` were 9 kB of
#: the 12 kB that went with a 50 kB layer. The history stays in the base image, which the
#: OCI manifest names (``org.opencontainers.image.base.name`` and ``.digest``); the labels,
#: ours included, stay in the config.
COMMIT_FLAGS = ("--format", "oci", "--omit-history")


@dataclass(frozen=True)
class Inputs:
    """What goes into the layer."""

    rpms: Sequence[Path] = ()
    debs: Sequence[Path] = ()
    wheels: Sequence[Path] = ()
    sources: Sequence[Path] = ()
    #: Unpack the RPMs' files (no dependency checks, no scriptlets) instead of dnf/microdnf.
    rpm_unpack: bool = False
    #: Copy the source trees' changed package files over the installed ones (no pip build).
    sync: bool = False

    def check(self) -> None:
        """Raise InputError naming the first file that is missing or of the wrong kind."""
        if not (self.rpms or self.debs or self.wheels or self.sources):
            raise BundleError("nothing to patch: give --rpm, --deb, --wheel or --source")
        if self.rpm_unpack and not self.rpms:
            raise BundleError(f"{UNPACK_FLAG} applies to --rpm")
        if self.sync and not self.sources:
            raise BundleError("--sync applies to --source")
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
        """Content hash of the inputs (file names and bytes; source trees without VCS data
        but with their git version label) and of how the RPMs go in, so an unpacked RPM
        never shares a tag with an installed one."""
        total = hashlib.sha256(_install_code().encode())  # a fixed install, a new tag
        for kind, paths in ((self.rpm_kind, self.rpms), ("deb", self.debs),
                            ("wheel", self.wheels)):
            for path in sorted(paths, key=lambda p: p.name):
                total.update(f"{kind}\0{path.name}\0".encode())
                total.update(hashlib.sha256(path.read_bytes()).digest())
        for path in self.sources:
            kind = "sync" if self.sync else "source"
            total.update(f"{kind}\0{path.name}\0{kolla_recipe.tree_hash(path)}".encode())
            total.update(f"\0{git_version_label(path)}".encode())  # what PBR_VERSION says
        return total.hexdigest()[:12]

    @property
    def rpm_kind(self) -> str:
        """How the RPMs go in: ``rpm-unpack`` (their files) or ``rpm-install`` (dnf)."""
        return "rpm-unpack" if self.rpm_unpack else "rpm-install"


@dataclass(frozen=True)
class Patched:
    """The result of one patch: what was pushed and how it compares to the full image."""

    base: str
    pushed: image.Pushed
    #: Compressed bytes of the new layer (image.new_layer_bytes; no config, no manifest).
    layer_bytes: int
    #: Compressed bytes of the whole patched image (config + layers).
    image_bytes: int
    extra: dict[str, image.Pushed] = field(default_factory=dict)
    #: The current images (parameter -> ref) the patch started from, when it looked them up.
    current: dict[str, str] = field(default_factory=dict)


def _stage(inputs: Inputs, into: Path) -> None:
    """Copy the inputs under ``into`` by kind; unpacked RPMs as one tree plus the unpacker."""
    rpms = () if inputs.rpm_unpack else inputs.rpms
    for kind, paths in (("rpm", rpms), ("deb", inputs.debs), ("wheel", inputs.wheels)):
        for path in paths:
            (into / kind).mkdir(exist_ok=True)
            shutil.copy2(path, into / kind / path.name)
    for index, path in enumerate(inputs.sources):
        staged = into / ("sync" if inputs.sync else "source") / f"{index:02d}-{path.name}"
        shutil.copytree(path, staged, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".tox", "__pycache__", "*.pyc", "build"))
        label = "" if inputs.sync else git_version_label(path)
        if label and not (path / "PKG-INFO").is_file():
            (into / "pbr-version").mkdir(exist_ok=True)
            (into / "pbr-version" / staged.name).write_text(label + "\n", encoding="utf-8")
            (into / "tool").mkdir(exist_ok=True)
            shutil.copy2(PBR_VERSION_TOOL, into / "tool" / PBR_VERSION_TOOL.name)
    if inputs.sync:
        (into / "tool").mkdir(exist_ok=True)
        for tool in (SYNC_TOOL, UNPACKER):
            shutil.copy2(tool, into / "tool" / tool.name)
    if inputs.rpm_unpack:
        (into / "tool").mkdir(exist_ok=True)
        shutil.copy2(UNPACKER, into / "tool" / UNPACKER.name)
        for path in inputs.rpms:
            _unpack_rpm(path, into / "rpm-unpack")


def git_version_label(tree: Path) -> str:
    """``dev<N>`` for a git checkout, N its commit count (plus 1 when dirty); "" otherwise.

    pbr versions a tree from its git history, and the image has no git: for a developer's
    checkout (no PKG-INFO) the patch sets ``PBR_VERSION`` to the image's version with the
    patch number bumped and this dev suffix (``21.0.0`` -> ``21.0.1.dev3``), the form pbr
    itself gives a tree past a tag and its SemanticVersion parses (a ``+g<sha>`` local
    label makes ``neutron --version`` raise), so ``--version`` shows the patched code.
    """
    if not (tree / ".git").exists():
        return ""
    git = ["git", "-c", f"safe.directory={tree.resolve()}", "-C", str(tree)]
    count = run([*git, "rev-list", "--count", "HEAD"], check=False)
    if count.returncode != 0 or not count.stdout.strip().isdigit():
        raise InputError(tree, f"git rev-list HEAD failed: {count.stderr.strip()[-200:]}")
    dirty = run([*git, "status", "--porcelain", "--untracked-files=no"], check=False)
    return f"dev{int(count.stdout) + (1 if dirty.stdout.strip() else 0)}"


def _unpack_rpm(rpm: Path, into: Path) -> None:
    """The RPM's payload under ``into`` (rpm2cpio | cpio on the host; the image needs no rpm)."""
    into.mkdir(exist_ok=True)
    payload = _binary(["rpm2cpio", str(rpm)])
    if payload.returncode != 0 or not payload.stdout:
        raise InputError(rpm, f"not a readable RPM: {_last(payload.stderr, 'no payload')}")
    unpacked = _binary(["cpio", "-idm", "--quiet", "--no-absolute-filenames"],
                       stdin=payload.stdout, cwd=into)
    if unpacked.returncode != 0:
        raise ToolError(f"cpio -i of {rpm.name} failed: {_last(unpacked.stderr, 'no output')}")


def _binary(cmd: list[str], stdin: bytes | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` with bytes in and out (procs.run is for text)."""
    try:
        return subprocess.run(cmd, input=stdin, cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise ToolError(f"{cmd[0]}: command not found (run tools/setup.sh)") from None


def _last(stderr: bytes, default: str) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else default


#: Installs the staged RPMs with $pm (dnf or microdnf). NOTE: dnf install skips an RPM whose
#: name-version-release is installed already, so a rebuilt RPM of the same version is
#: reinstalled instead; otherwise the old files would stay and the install "succeed".
RPM_INSTALL = """
new=; same=
for f in $m/rpm/*.rpm; do
    nvra=$(rpm -qp --nosignature --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' "$f")
    if rpm -q "$nvra" >/dev/null 2>&1; then same="$same $f"; else new="$new $f"; fi
done
if [ -n "$new" ]; then step "$pm install" $pm install -y $new; fi
if [ -n "$same" ]; then step "$pm reinstall" $pm reinstall -y $same; fi
$pm clean all >/dev/null 2>&1 || true
"""


def rpm_step(installer: str | None) -> str:
    """The shell that puts the staged RPMs into the image: ``installer`` (dnf, microdnf) or,
    with None, the unpacked tree copied by the image's python3."""
    if installer is None:
        return (f"if [ -d $m/rpm-unpack ]; then\n    need python3 {UNPACK_FLAG}\n"
                f"    step 'rpm unpack' python3 $m/tool/{UNPACKER.name} $m/rpm-unpack\nfi\n")
    if installer not in RPM_INSTALLERS:
        raise ValueError(installer)
    return f"if [ -d $m/rpm ]; then\n    pm={installer}{RPM_INSTALL}fi\n"


def _script(installer: str | None = None) -> str:
    """The shell run as root in the build container (inputs under MOUNT, read-only); RPMs
    go in with ``installer`` (see rpm_step)."""
    return _prelude() + rpm_step(installer) + _PACKAGES


def _install_code() -> str:
    """Everything that decides how the inputs are installed and committed, as text (part
    of the tag: a changed commit makes another image of the same inputs)."""
    tools = (UNPACKER, PBR_VERSION_TOOL, SYNC_TOOL)
    return "".join([_prelude(), RPM_INSTALL, _PACKAGES, " ".join(COMMIT_FLAGS),
                    *(tool.read_text(encoding="utf-8") for tool in tools)])


def _prelude(mount: str = MOUNT) -> str:
    """Shell: ``m`` (where the inputs are) and the fail/need/step helpers."""
    return f"""set -eu
m={mount}
fail() {{ echo "patch: $*" >&2; exit 1; }}
need() {{ command -v "$1" >/dev/null || fail "the image has no $1 for $2"; }}
# step WHAT CMD...: run CMD; on failure name WHAT and the line that says why.
step() {{
    what=$1; shift
    if ! out=$("$@" 2>&1); then
        printf '%s\\n' "$out" >&2
        why=$(printf '%s\\n' "$out" | grep -m1 -iE 'depends on|nothing provides' \\
              || printf '%s\\n' "$out" | grep -m1 -iE 'conflict' \\
              || printf '%s\\n' "$out" | grep -m1 -iE 'error|not ' \\
              || printf '%s\\n' "$out" | tail -1)
        fail "$what failed: $(echo $why)"
    fi
    printf '%s\\n' "$out"
}}
"""


#: Shell: the debs, wheels and source trees (after the RPMs).
_PACKAGES = """if [ -d $m/deb ]; then step "dpkg -i" dpkg -i $m/deb/*.deb; fi
if [ -d $m/wheel ] || [ -d $m/source ]; then
    python3 -m pip --version >/dev/null 2>&1 || fail "the image has no pip"
fi
# Builds use setuptools' own distutils, whatever the image sets for its services.
pip="env SETUPTOOLS_USE_DISTUTILS=local python3 -m pip install --no-deps --no-index"
pip="$pip --no-cache-dir --break-system-packages"
scripts_before=$(ls /usr/local/bin 2>/dev/null || true)
if [ -d $m/wheel ]; then
    step "pip install (wheels)" $pip --root-user-action=ignore $m/wheel/*.whl
fi
if [ -d $m/source ]; then
    work=$(mktemp -d)
    for tree in $m/source/*; do
        cp -a "$tree" "$work/"
        label=$m/pbr-version/$(basename "$tree")
        if [ -f "$label" ]; then
            # A git checkout: pbr needs git or PBR_VERSION (git_version_label).
            PBR_VERSION=$(python3 $m/tool/pbr_version.py "$tree" "$(cat "$label")")
            export PBR_VERSION
        fi
        step "pip install $(basename "$tree" | cut -d- -f2-)" \\
            $pip --root-user-action=ignore --no-build-isolation "$work/$(basename "$tree")"
        unset PBR_VERSION
    done
    rm -rf "$work"
fi
# pip's console scripts land in /usr/local/bin, ahead of the image's /usr/bin in sudo's
# secure_path: `sudo neutron-rootwrap` would then run one the sudoers rules do not allow.
# The /usr/bin twin imports the patched package anyway (/usr/local's dist-packages first).
for script in /usr/local/bin/*; do
    name=$(basename "$script")
    if [ -e "/usr/bin/$name" ] && ! printf '%s\n' "$scripts_before" | grep -qxF "$name"; then
        rm -f "$script"
    fi
done
if [ -d $m/sync ]; then
    need python3 --sync
    for tree in $m/sync/*; do
        step "sync $(basename "$tree" | cut -d- -f2-)" python3 $m/tool/sync_tree.py "$tree"
    done
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


def no_installer(base: str, rpms: Sequence[Path], *, dpkg: bool) -> BundleError:
    """The one line refusing ``rpms`` on ``base``, an image without dnf or microdnf."""
    what = "a dpkg image" if dpkg else "the image"
    its = "its" if len(rpms) == 1 else "their"
    names = ", ".join(path.name for path in rpms)
    return BundleError(
        f"{base}: {what} has no dnf/microdnf to install {names} with {its} dependencies; "
        f"use --deb, --wheel or --source, or {UNPACK_FLAG} to unpack {its} files")


def _commands(container: str, names: Sequence[str]) -> set[str]:
    """Which of ``names`` are commands in the working container."""
    probe = 'for c; do command -v "$c" >/dev/null && echo "$c"; done; true'
    out = run(["buildah", "run", "--runtime", "runc", "--user", "root", container, "--",
               "sh", "-c", probe, "sh", *names]).stdout
    return set(out.split())


def rpm_installer(base: str, container: str, inputs: Inputs) -> str | None:
    """The image's dnf or microdnf for the RPMs; None when there are none or they are
    unpacked. Raises no_installer's BundleError when the image has neither."""
    if not inputs.rpms or inputs.rpm_unpack:
        return None
    found = _commands(container, (*RPM_INSTALLERS, "dpkg"))
    for installer in RPM_INSTALLERS:
        if installer in found:
            return installer
    raise no_installer(base, inputs.rpms, dpkg="dpkg" in found)


def _build_layer(base: str, target: str, inputs: Inputs, digest: str) -> None:
    """buildah from base, check it can take the RPMs, one run with the inputs mounted,
    commit as ``target``."""
    container = run(["buildah", "from", "--tls-verify=false", base]).stdout.strip()
    try:
        installer = rpm_installer(base, container, inputs)
        with tempfile.TemporaryDirectory(prefix="tom-patch-") as tmp:
            staging = Path(tmp)
            staging.chmod(0o755)
            _stage(inputs, staging)
            proc = run(["buildah", "run", "--runtime", "runc", "--user", "root",
                        "-v", f"{staging}:{MOUNT}:ro", container, "--",
                        "sh", "-c", _script(installer)], check=False)
        if proc.returncode != 0:
            raise ToolError(_why(proc.stderr + proc.stdout))
        run(["buildah", "config", "--label", f"{LABEL}={digest}", container])
        run(["buildah", "commit", "--quiet", *COMMIT_FLAGS, container, target])
    finally:
        run(["buildah", "rm", container], check=False)


def patched_ref(base: str, digest: str, address: str) -> str:
    """The ref a patch of ``base`` with inputs of ``digest`` (Inputs.digest) is pushed as:
    known before the layer is built, so a deploy can be prepared meanwhile."""
    name, _, base_tag = base.rsplit("/", 1)[1].partition(":")
    return image.remote_ref(address, name, f"{base_tag}-{digest}")


def patch_image(base: str, inputs: Inputs, address: str,
                digest: str | None = None) -> tuple[image.Pushed, int, int]:
    """Layer ``inputs`` onto ``base`` (a registry ref), push; return pushed, layer, image bytes.
    ``digest``: ``inputs.digest()`` when the caller has it already."""
    name = base.rsplit("/", 1)[1].partition(":")[0]
    digest = digest or inputs.digest()
    dest = patched_ref(base, digest, address)
    tag = dest.rpartition(":")[2]
    target_local = image.local_ref(name, tag)
    repository = dest.partition("/")[2].rpartition(":")[0]
    if not registry.has_tag(address, repository, tag) and not image.local_exists(target_local):
        with step(f"patch layer {name}:{tag}") as current:
            try:
                _build_layer(base, target_local, inputs, digest)
            except ToolError as exc:
                raise ToolError(f"patching {name} failed: {exc}") from None
            current.nbytes = image.image_size(target_local) - image.image_size(base)
    pushed = image.push(target_local, dest)
    layer = image.new_layer_bytes(image.manifest(base), image.manifest(dest))
    return pushed, layer, pushed.size


def patch(inputs: Inputs, *, base: str | None = None, config_image: bool = False,
          address: str = registry.DEFAULT_ADDRESS, digest: str | None = None) -> Patched:
    """Patch the agent image (and the config image when asked) with ``inputs``
    (``digest``: their ``Inputs.digest()``, when known)."""
    inputs.check()
    registry.ensure_running(address)
    current = image.ensure_images(address) if base is None or config_image else {}
    agent_base = base or current["ContainerOvnMetadataImage"]
    if not registry.has_tag(*_split(agent_base)):
        raise ToolError(f"{agent_base}: not in the registry (run image build first)")
    digest = digest or inputs.digest()
    pushed, layer, size = patch_image(agent_base, inputs, address, digest)
    extra = {}
    if config_image:
        extra["ContainerNeutronConfigImage"] = patch_image(
            current["ContainerNeutronConfigImage"], inputs, address, digest)[0]
    return Patched(base=agent_base, pushed=pushed, layer_bytes=layer, image_bytes=size,
                   extra=extra, current=current)


def _split(ref: str) -> tuple[str, str, str]:
    address, _, rest = ref.partition("/")
    repository, _, tag = rest.rpartition(":")
    return address, repository, tag
