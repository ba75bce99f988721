"""Patch an overcloud image (qcow2) with virt-customize: our Puppet module and packages.

The other way TripleO gets Puppet changes onto nodes (besides the deploy artifact): the
image itself. virt-customize (guestfs-tools) opens the image in libguestfs' appliance,
copies our module to ``/etc/puppet/modules`` (where upload-puppet-modules' tarball and
container-puppet's modulepath put it) with exactly the artifact's files, and installs
``.rpm`` files with ``rpm -Uvh`` (tripleo-modify-image's rpm_install flags) or ``.deb``
files with ``dpkg -i``, then relabels for SELinux where the guest uses it.

The image is never changed in place: a copy next to it is patched and renamed over it
only when virt-customize succeeded, so a failure leaves it byte for byte as it was.

libguestfs boots the host's kernel (``/boot/vmlinuz-*``) under qemu, with KVM when it
can, else TCG (slower). Some hosts expose a ``/dev/kvm`` whose guests cannot boot a
stock kernel (nested paravirtual KVM); :func:`accelerator` finds out once and remembers.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shlex
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tripleo_ovn_metadata import artifact, kolla_recipe, paths, procs
from tripleo_ovn_metadata.errors import BundleError, InputError, ToolError
from tripleo_ovn_metadata.progress import step

LOG = logging.getLogger(__name__)

#: Where our module goes in the image (the artifact's layout).
MODULE_PATH = PurePosixPath("/") / artifact.PREFIX
#: Where packages wait in the guest while they are installed (removed afterwards).
UPLOAD_DIR = PurePosixPath("/var/tmp/tripleo-ovn-metadata")
QCOW2_MAGIC = b"QFI\xfb"
#: An appliance launch that neither works nor fails within this is a hung accelerator.
PROBE_TIMEOUT = 120
#: The host kernel's boot to its panic under KVM (about a second when KVM works).
KERNEL_PROBE_TIMEOUT = 15
PATCH_TIMEOUT = 3600


@dataclass(frozen=True)
class Result:
    """What a patch did, and how long it took."""

    image: Path
    seconds: float
    accelerator: str
    puppet: bool
    packages: tuple[str, ...]
    size: int


def check_image(image: Path) -> None:
    """InputError unless ``image`` is a readable, writable qcow2 image qemu-img can open."""
    if not image.is_file():
        raise InputError(image, "no such file")
    if not os.access(image, os.R_OK):
        raise InputError(image, "not readable")
    if not os.access(image.parent, os.W_OK):
        raise InputError(image.parent, "not writable (the patched copy is written next to "
                         "the image, then renamed over it)")
    with image.open("rb") as handle:
        magic = handle.read(4)
    if magic != QCOW2_MAGIC:
        raise InputError(image, "not a qcow2 image (no QFI\\xfb magic); convert it with "
                         "qemu-img convert -O qcow2")
    proc = procs.run(["qemu-img", "info", "--output", "json", "-f", "qcow2", str(image)],
                     check=False)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise InputError(image, f"unreadable qcow2 image: {why[0].removeprefix('qemu-img: ')}")


def _check_packages(rpms: Sequence[Path], debs: Sequence[Path]) -> None:
    for files, suffix in ((rpms, ".rpm"), (debs, ".deb")):
        for path in files:
            if not path.is_file():
                raise InputError(path, "no such file")
            if path.suffix != suffix:
                raise InputError(path, f"expected a {suffix} file")
            if not os.access(path, os.R_OK):
                raise InputError(path, "not readable")


def _check_kernel() -> None:
    """supermin builds the appliance from the host's kernel; say so before it fails."""
    kernels = sorted(Path("/boot").glob("vmlinuz-*"))
    if not kernels:
        raise ToolError("/boot has no vmlinuz-*: libguestfs boots the host's kernel "
                        "(run tools/setup.sh, which installs one)")
    if not any(os.access(kernel, os.R_OK) for kernel in kernels):
        raise ToolError(f"{kernels[-1]}: not readable; libguestfs needs to read the kernel")


def _probe_key() -> str:
    qemu = shutil.which("qemu-system-x86_64") or ""
    qemu_mtime = Path(qemu).stat().st_mtime_ns if qemu else 0
    kernels = sorted(str(k) for k in Path("/boot").glob("vmlinuz-*"))
    return json.dumps([platform.release(), kernels, qemu, qemu_mtime])


def _kernel_panics_under_kvm() -> tuple[bool, str]:
    """Boot the host's kernel under KVM, with the CPU libguestfs asks for, and no root:
    a working KVM reaches the panic in about a second; a hung one never does."""
    kernel = sorted(Path("/boot").glob("vmlinuz-*"))[-1]
    cmd = ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "max,la57=off", "-m", "256",
           "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
           "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1"]
    try:
        proc = procs.run(cmd, check=False, timeout=KERNEL_PROBE_TIMEOUT, input_text="")
    except ToolError:
        return False, f"{kernel.name} did not boot under KVM in {KERNEL_PROBE_TIMEOUT} s"
    if "Kernel panic" in proc.stdout:
        return True, ""
    return False, f"{kernel.name} under KVM: {_guestfs_error(proc.stderr) or 'no panic'}"


def _appliance_boots_under_kvm() -> tuple[bool, str]:
    """One real appliance launch (libguestfs picks KVM when it can)."""
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct")
    try:
        proc = procs.run(["guestfish", "--ro", "-a", "/dev/null", "--", "run"], check=False,
                         env=env, timeout=PROBE_TIMEOUT)
    except ToolError as exc:  # timed out: the guest hangs under this KVM
        return False, str(exc)
    return proc.returncode == 0, _guestfs_error(proc.stderr + proc.stdout)


def accelerator() -> str:
    """``kvm`` or ``tcg``: what libguestfs' appliance boots with on this machine.

    ``LIBGUESTFS_BACKEND_SETTINGS=force_tcg`` in the environment means TCG. Otherwise,
    with a usable ``/dev/kvm``: the host's kernel must reach its panic under KVM (seconds;
    a hung KVM costs :data:`KERNEL_PROBE_TIMEOUT`, not an appliance's two minutes), then
    one appliance launch confirms. The answer is a property of the machine, so it is kept
    in the state directory (every checkout shares it), per host kernel, /boot kernels
    and qemu binary.
    """
    if "force_tcg" in os.environ.get("LIBGUESTFS_BACKEND_SETTINGS", ""):
        return "tcg"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    cache = paths.state_dir() / "guestfs-accelerator.json"
    key = _probe_key()
    try:
        known = json.loads(cache.read_text())
        if known.get("key") == key and known.get("accelerator") in ("kvm", "tcg"):
            return str(known["accelerator"])
    except (OSError, ValueError):
        pass
    with step("probe KVM for libguestfs' appliance") as current:
        ok, why = _kernel_panics_under_kvm()
        if ok:
            ok, why = _appliance_boots_under_kvm()
        chosen = "kvm" if ok else "tcg"
        current.detail = chosen
    if not ok:
        LOG.warning("KVM cannot boot libguestfs' appliance here (%s): using TCG, slower", why)
    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cache.write_text(json.dumps({"key": key, "accelerator": chosen, "why": why}) + "\n")
    return chosen


def guestfs_env() -> dict[str, str]:
    """The environment for libguestfs tools: the direct backend, TCG when KVM fails."""
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct")
    if accelerator() == "tcg" and "force_tcg" not in env.get("LIBGUESTFS_BACKEND_SETTINGS", ""):
        settings = env.get("LIBGUESTFS_BACKEND_SETTINGS", "")
        env["LIBGUESTFS_BACKEND_SETTINGS"] = f"{settings}:force_tcg" if settings else "force_tcg"
    return env


#: libguestfs error lines that only say "something went wrong".
_BOILERPLATE = ("see earlier", "debugging", "guestfs_launch failed",
                "appliance closed the connection")


def _guestfs_error(output: str) -> str:
    """The last error line that says what went wrong, without libguestfs' boilerplate."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.split("error:", 1)[1].strip() for line in lines if "error:" in line]
    useful = [e for e in errors if not any(b in e.lower() for b in _BOILERPLATE)]
    if useful or errors:
        return (useful or errors)[-1].rstrip(".")
    return lines[-1] if lines else "no output"


def _customize_args(stage: Path | None, rpms: Sequence[Path], debs: Sequence[Path]) -> list[str]:
    """virt-customize operations, in order: module, packages, SELinux labels."""
    ops: list[str] = []
    if stage is not None:
        module = MODULE_PATH / artifact.MODULE.name
        source = stage / artifact.PREFIX / artifact.MODULE.name
        ops += ["--mkdir", str(MODULE_PATH), "--delete", str(module),
                "--copy-in", f"{source}:{MODULE_PATH}"]
        if os.geteuid() != 0:  # copy-in keeps the owners the staged files have
            ops += ["--run-command", f"chown -R 0:0 {shlex.quote(str(module))}"]
    if rpms or debs:
        ops += ["--mkdir", str(UPLOAD_DIR)]
        for path in [*rpms, *debs]:
            ops += ["--upload", f"{path}:{UPLOAD_DIR / path.name}"]
        for files, command in ((rpms, "rpm -Uvh --replacepkgs --replacefiles --oldpackage"),
                               (debs, "dpkg -i")):
            if files:
                names = " ".join(shlex.quote(str(UPLOAD_DIR / p.name)) for p in files)
                ops += ["--run-command", f"{command} {names}"]
        ops += ["--delete", str(UPLOAD_DIR)]
    # A no-op for guests without SELinux; new files need their labels on RHEL images.
    return [*ops, "--selinux-relabel"]


def patch(
    image: Path,
    *,
    puppet: bool = False,
    rpms: Sequence[Path] = (),
    debs: Sequence[Path] = (),
) -> Result:
    """Put our Puppet module (``puppet``) and packages into ``image``, atomically."""
    image = Path(image)
    if not (puppet or rpms or debs):
        raise BundleError("nothing to patch: give --puppet, --rpm or --deb")
    names = [p.name for p in [*rpms, *debs]]
    if len(set(names)) != len(names):
        raise BundleError("two packages share a file name; give each once")
    check_image(image)
    _check_packages(rpms, debs)
    module = artifact.module_dir() if puppet else None
    _check_kernel()
    started = time.monotonic()
    env = guestfs_env()
    accel = "tcg" if "force_tcg" in env.get("LIBGUESTFS_BACKEND_SETTINGS", "") else "kvm"
    with tempfile.TemporaryDirectory(prefix="tripleo-ovn-metadata-image.") as tmp:
        stage = None
        if module is not None:
            built = artifact.build(Path(tmp) / artifact.DEFAULT_OUTPUT.name, module)
            stage = artifact.install(built.path, Path(tmp) / "stage")
        work = image.with_name(f".{image.name}.patch-{os.getpid()}")
        try:
            with step(f"copy {image.name}") as current:
                procs.run(["cp", "--reflink=auto", "--sparse=always",
                           "--preserve=mode,ownership,timestamps",
                           str(image), str(work)])
                current.nbytes = work.stat().st_size
            cmd = ["virt-customize", "--format", "qcow2", "-a", str(work), "--no-network",
                   *_customize_args(stage, rpms, debs)]
            with step(f"virt-customize {image.name} ({accel})") as current:
                proc = procs.run(cmd, check=False, env=env, timeout=PATCH_TIMEOUT)
                if proc.returncode != 0:
                    raise ToolError(f"virt-customize failed on {image}: "
                                    f"{_customize_error(proc.stdout + proc.stderr)}")
                current.detail = ", ".join(
                    (["Puppet module"] if puppet else []) + names) or "nothing"
            os.replace(work, image)
        finally:
            work.unlink(missing_ok=True)
    return Result(image, time.monotonic() - started, accel, puppet, tuple(names),
                  image.stat().st_size)


#: What a sample image leaves out of the base image's tree (never needed to patch it).
SAMPLE_EXCLUDES = ("/usr/share/doc", "/usr/share/man", "/usr/share/locale", "/usr/share/info",
                   "/usr/share/zoneinfo", "/usr/lib/python3*", "/var/cache", "/var/lib/apt/lists")


def sample_tree(into: Path) -> Path:
    """The debootstrap base image's tree (tools/setup.d/27-containers.sh) minus docs and
    Python, ~100 MB: a Debian guest virt-customize inspects and dpkg works in."""
    base = f"{kolla_recipe.BASE_IMAGE}:{kolla_recipe.BASE_TAG}"
    mounted = procs.run(["podman", "image", "mount", base]).stdout.strip()
    try:
        procs.run(["rsync", "-a", *(f"--exclude={x}" for x in SAMPLE_EXCLUDES),
                   f"{mounted}/", f"{into}/"])
    finally:
        procs.run(["podman", "image", "unmount", base])
    return into


def image_from_tree(tree: Path, output: Path, size_mb: int = 256) -> Path:
    """A qcow2 holding one ext4 filesystem (no partition table) made from ``tree``, without
    an appliance (``mkfs.ext4 -d``): the small images the tests and benchmark patch."""
    raw = output.with_name(output.name + ".raw")
    try:
        with raw.open("wb") as handle:
            handle.truncate(size_mb * 2**20)
        procs.run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(tree), str(raw)])
        procs.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(output)])
    finally:
        raw.unlink(missing_ok=True)
    return output


def _customize_error(output: str) -> str:
    """virt-customize's error, with the guest command's last complaint when there is one."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("virt-customize: error:"):
            message = line.removeprefix("virt-customize: error:").strip()
            before = [x for x in lines[:index] if not x.startswith("[")]
            return f"{message} ({before[-1]})" if before else message
    return _guestfs_error(output)
