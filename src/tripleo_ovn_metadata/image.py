"""Build the image chain with buildah, push it to the local registry, and name the refs.

The kolla recipe is rendered by kolla-build (see :mod:`kolla_recipe`) and each image is
built with ``buildah bud --runtime runc`` in its rendered directory. Images are tagged
with content hashes, so an existing tag means "already built" (locally) or "already
pushed" (in the registry), and a failed build or push never moves an existing tag.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tripleo_ovn_metadata import kolla_recipe, locks, paths, registry
from tripleo_ovn_metadata.errors import InputError, ToolError
from tripleo_ovn_metadata.procs import run
from tripleo_ovn_metadata.progress import step
from tripleo_ovn_metadata.yamlio import dump

#: Heat parameter -> image name, for the env file ``image build`` writes. The OVN names
#: are stock THT 18's (deployment/ovn/ovn-dbs-cluster-ansible.yaml and
#: ovn-controller-container-puppet.yaml); ovn-controller's Puppet runs in our config image.
PARAMS = {
    "ContainerOvnMetadataImage": kolla_recipe.AGENT,
    "ContainerNeutronConfigImage": kolla_recipe.CONFIG,
    "ContainerOvnNbDbImage": kolla_recipe.OVN_NB_DB,
    "ContainerOvnSbDbImage": kolla_recipe.OVN_SB_DB,
    "ContainerOvnNorthdImage": kolla_recipe.OVN_NORTHD,
    "ContainerOvnControllerImage": kolla_recipe.OVN_CONTROLLER,
    "ContainerOvnControllerConfigImage": kolla_recipe.CONFIG,
}
#: The parameters our service template declares: what the agent's deploy needs (Heat
#: refuses parameters a template does not declare).
AGENT_PARAMS = ("ContainerOvnMetadataImage", "ContainerNeutronConfigImage")


@dataclass(frozen=True)
class Pushed:
    """One image in the registry: its ref, digest and the bytes this push uploaded."""

    ref: str
    digest: str
    uploaded: int
    size: int
    skipped: bool = False

    @property
    def by_digest(self) -> str:
        """``registry/ns/name@sha256:…``, the ref that pins exactly this image."""
        return f"{self.ref.rsplit(':', 1)[0]}@{self.digest}"


def local_ref(name: str, tag: str) -> str:
    """The containers-storage name of a built image."""
    return f"{kolla_recipe.LOCAL_NAMESPACE}/{name}:{tag}"


def remote_ref(address: str, name: str, tag: str) -> str:
    """The registry name of an image."""
    return f"{address}/{registry.NAMESPACE}/{name}:{tag}"


def local_exists(ref: str) -> bool:
    """True if containers-storage holds ``ref``."""
    return run(["podman", "image", "exists", ref], check=False).returncode == 0


def image_size(ref: str) -> int:
    """Uncompressed size of a local image in bytes."""
    out = run(["podman", "image", "inspect", "--format", "{{.Size}}", ref]).stdout
    return int(out.strip() or 0)


def tags() -> dict[str, str]:
    """Image name -> content tag for the current recipe.

    Our Puppet module is not in the config image (it ships as a deploy artifact, see
    :mod:`artifact`); the OVN leaves add a hash of the tripleo-common files they get.
    """
    chain = kolla_recipe.chain_tag()
    result = {name: chain for name, _ in kolla_recipe.CHAIN}
    for name in kolla_recipe.TRIPLEO_COMMON_FILES:
        result[name] = f"{chain}-{kolla_recipe.tripleo_common_hash(name)}"
    return result


def _bud(name: str, tag: str, context: Path, *, no_cache: bool = False) -> None:
    ref = local_ref(name, tag)
    # --force-rm: a failed RUN leaves no working container behind.
    cache = ["--no-cache"] if no_cache else ["--layers"]
    with step(f"build {name}:{tag}") as current:
        try:
            run(["buildah", "bud", "--runtime", "runc", *cache, "--force-rm", "--format", "docker",
                 "-f", str(context / "Dockerfile"), "-t", ref, str(context)])
        except ToolError as exc:
            raise ToolError(f"building {name} failed: {exc}") from None
        current.nbytes = image_size(ref)


def build(images: Iterable[str] | None = None, *, force: bool = False,
          no_cache: bool = False) -> dict[str, str]:
    """Build whatever of ``images`` (default: the whole chain) and their parents is
    missing locally; return name -> local ref.

    ``force`` rebuilds present images (reusing buildah's layer cache unless ``no_cache``).
    One render of the whole recipe serves every image.
    """
    wanted = tags()
    with _build_lock():
        rendered = kolla_recipe.render(wanted[kolla_recipe.AGENT])
        needed = _with_parents(rendered, images)
        return _build_chain(rendered, wanted, needed, force=force, no_cache=no_cache)


def _with_parents(rendered: kolla_recipe.Rendered, images: Iterable[str] | None) -> set[str]:
    names = [name for name, _ in kolla_recipe.CHAIN]
    todo = list(names if images is None else images)
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in names:
            raise ToolError(f"{name}: not an image of the kolla recipe")
        if name not in needed:
            needed.add(name)
            parent = rendered.parent(name)
            if parent is not None:
                todo.append(parent)
    return needed


def _build_lock() -> contextlib.AbstractContextManager[None]:
    """One build at a time per cache dir (tests, e2e and CLI may ask together)."""
    return locks.file_lock(paths.cache_dir() / "image-build.lock")


def _build_chain(rendered: kolla_recipe.Rendered, wanted: dict[str, str], needed: set[str], *,
                 force: bool, no_cache: bool) -> dict[str, str]:
    refs: dict[str, str] = {}
    for name, _ in kolla_recipe.CHAIN:
        if name not in needed:
            continue
        tag = wanted[name]
        ref = local_ref(name, tag)
        refs[name] = ref
        if not force and local_exists(ref):
            continue
        context = rendered.context(name)
        if name in kolla_recipe.TRIPLEO_COMMON_FILES:
            kolla_recipe.copy_tripleo_common(name, context)
        _bud(name, tag, context, no_cache=no_cache)
    return refs


def manifest(ref: str) -> dict:
    """The manifest the registry serves for ``ref`` (Docker schema 2 or OCI)."""
    raw = run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"]).stdout
    return json.loads(raw)


def manifest_size(ref: str) -> int:
    """Compressed size (config + layers) of ``ref`` in its registry."""
    shown = manifest(ref)
    return int(shown["config"]["size"]) + sum(int(x["size"]) for x in shown["layers"])


def new_layer_bytes(base: dict, patched: dict) -> int:
    """Compressed bytes of the layers the manifest ``patched`` has and ``base`` lacks: what
    a patch added, without the config and manifest that travel with it."""
    known = {layer["digest"] for layer in base["layers"]}
    return sum(int(layer["size"]) for layer in patched["layers"] if layer["digest"] not in known)


def remote_digest(ref: str) -> str:
    """The manifest digest the registry serves for ``ref``."""
    return run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                f"docker://{ref}"]).stdout.strip()


def push(source: str, dest: str, *, force: bool = False) -> Pushed:
    """Copy a local image to the registry (skopeo); counts the blobs that were new there.

    The registry writes the tag only after every blob and the manifest arrived, so a
    failed push leaves the existing tags as they were. Pushes wait for each other
    (:func:`registry.push_lock`).
    """
    with registry.push_lock():
        return _push_unlocked(source, dest, force=force)


def _push_unlocked(source: str, dest: str, *, force: bool) -> Pushed:
    address, _, rest = dest.partition("/")
    repository, _, tag = rest.rpartition(":")
    if not force and registry.has_tag(address, repository, tag):
        return Pushed(dest, remote_digest(dest), 0, manifest_size(dest), skipped=True)
    before = registry.blob_sizes()
    with step(f"push {dest}") as current, tempfile.TemporaryDirectory() as tmp:
        digest_file = Path(tmp) / "digest"
        try:
            run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                 "--digestfile", str(digest_file),
                 f"containers-storage:{source}", f"docker://{dest}"])
        except ToolError as exc:
            raise ToolError(f"pushing {dest} failed: {exc}") from None
        after = registry.blob_sizes()
        uploaded = sum(size for blob, size in after.items() if blob not in before)
        current.nbytes = uploaded
        size = manifest_size(dest)
        current.detail = f"image {size / 1e6:.1f} MB compressed"
        return Pushed(dest, digest_file.read_text().strip(), uploaded, size)


def build_and_push(address: str = registry.DEFAULT_ADDRESS, *, force: bool = False,
                   params: Iterable[str] | None = None) -> dict[str, Pushed]:
    """Build what is missing, make sure the registry runs, push the images of ``params``
    (default: every parameter in PARAMS); each image is pushed once."""
    chosen = list(PARAMS if params is None else params)
    unknown = [param for param in chosen if param not in PARAMS]
    if unknown:
        raise ToolError(f"{unknown[0]}: no image of the kolla recipe for this parameter")
    registry.ensure_running(address)
    local = build({PARAMS[param] for param in chosen}, force=force)
    pushed: dict[str, Pushed] = {}
    result = {}
    for param in chosen:
        name = PARAMS[param]
        if name not in pushed:
            tag = local[name].rsplit(":", 1)[1]
            pushed[name] = push(local[name], remote_ref(address, name, tag), force=force)
        result[param] = pushed[name]
    return result


def ensure_images(registry: str = registry.DEFAULT_ADDRESS,
                  params: Iterable[str] = AGENT_PARAMS) -> dict[str, str]:
    """Heat parameter -> image ref in the registry, building and pushing what is missing.

    What the deploy and e2e code calls; by default only the agent's parameters
    (``ContainerOvnMetadataImage``, ``ContainerNeutronConfigImage``), so the OVN images
    are built only when asked for (``params=PARAMS``, or ``image build``).
    """
    return {param: pushed.ref
            for param, pushed in build_and_push(registry, params=params).items()}


def write_env_file(path: Path, images: dict[str, str], address: str,
                   pull: str | None = None) -> None:
    """Write a Heat env file naming the images and the insecure registry (atomically).

    ``pull``: the address the nodes pull from (the rehearsal nodes' listener), named in
    the refs instead of the push address ``address``.
    """
    if pull and pull != address:
        images = {param: ref.replace(f"{address}/", f"{pull}/", 1)
                  for param, ref in images.items()}
    data = {"parameter_defaults": {**images, "DockerInsecureRegistryAddress": [pull or address]}}
    text = "# Generated by tripleo-ovn-metadata: the images to deploy.\n" + dump(data)
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(path, "its directory does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                               prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
