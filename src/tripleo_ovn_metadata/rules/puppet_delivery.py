"""Every step_config class needs its Puppet module on the node: stock's, or one delivered.

container-puppet runs ``puppet apply --modulepath=/etc/puppet/modules:/usr/share/
openstack-puppet/modules`` with the node's module dirs mounted. An overcloud image ships
the stock modules, the ones stock templates' step_config names (``tripleo``, ``nova``);
any other module has to reach the node: as a deploy artifact in one of the env files
(a ``DeployArtifactFILEs`` tarball holding ``etc/puppet/modules/<module>/``, read here
to see which modules it holds), or in an image patched with it, which the operator
states with ``validate --module-in-image MODULE``. Otherwise step 1's container-puppet
run fails with "Could not find class". A warning: the env files of the real deploy
may not all be given here.

PASS (``-e puppet-artifact.yaml``, written by ``tripleo-ovn-metadata puppet-artifact``)::

    step_config: include tripleo_ovn_metadata::profile::ovn_metadata
    # puppet-artifact.yaml
    parameter_defaults:
      DeployArtifactFILEs: [/home/stack/tripleo-ovn-metadata-puppet-modules.tar.gz]

FAIL (no env file delivers the module, and stock images do not have it)::

    step_config: include tripleo_ovn_metadata::profile::ovn_metadata
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tripleo_ovn_metadata import artifact, hot
from tripleo_ovn_metadata.errors import InputError
from tripleo_ovn_metadata.validate import Context, Doc, Problem

ID = "puppet-module-delivery"
TYPE = "bundle"
LEVEL = "warning"
#: The THT parameters whose artifacts reach every node (deploy-steps.j2, host prep).
ARTIFACT_PARAMETERS = ("DeployArtifactFILEs", "DeployArtifactURLs")
#: Modules taken as stock when there is no stock tree to read them from.
STOCK_FALLBACK = frozenset({"tripleo"})
_CLASS = re.compile(
    r"""^\s*(?:include|contain|require)\s+(?:::)?([a-z][\w]*(?:::\w+)*)"""
    r"""|class\s*\{\s*['"](?:::)?([a-z][\w]*(?:::\w+)*)['"]\s*:""",
    re.MULTILINE,
)
#: The same, loosely, over raw template text (``step_config: include ::x``, list items).
_ANY_INCLUDE = re.compile(r"""\binclude\s+['"]?(?:::)?([a-z][\w]*)::""")


def classes(text: str) -> list[str]:
    """Class names a manifest includes or declares, in order."""
    return [a or b for a, b in _CLASS.findall(text)]


def stock_modules(ctx: Context) -> frozenset[str]:
    """Modules stock templates' step_configs name: what an overcloud image provides."""
    cached = ctx.__dict__.get("_stock_modules")
    if cached is None:
        found = set(STOCK_FALLBACK)
        if ctx.tht is not None:
            for path in (ctx.tht / "deployment").rglob("*.yaml"):
                text = path.read_text(encoding="utf-8", errors="replace")
                if "step_config" in text:
                    found.update(_ANY_INCLUDE.findall(text))
        cached = ctx.__dict__["_stock_modules"] = frozenset(found)
    return cached


def _entries(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item) for item in value if item]
    return []


def delivered(ctx: Context) -> tuple[set[str], list[str]]:
    """Modules the env files' artifacts deliver, and the artifacts that could not be read."""
    modules: set[str] = set()
    unread: list[str] = []
    for env in ctx.env_files:
        if not isinstance(env.data, dict):
            continue
        for section in ("parameter_defaults", "parameters"):
            params = env.data.get(section)
            if not isinstance(params, dict):
                continue
            for name in ARTIFACT_PARAMETERS:
                for entry in _entries(params.get(name)):
                    path = Path(entry)
                    if name == "DeployArtifactFILEs" and path.is_file():
                        try:
                            modules |= artifact.modules_in(path)
                            continue
                        except InputError:
                            pass
                    unread.append(entry)
    return modules, unread


def _templates(ctx: Context) -> Iterator[Doc]:
    """The non-stock templates given or used by a role, each once."""
    seen: set[Path] = set()
    candidates = [d for d in ctx.docs if d.kind == "template"]
    for role in ctx.roles:
        for service in role.services:
            mapping = service.mapping
            if mapping is not None and mapping.path is not None:
                doc = ctx.load(mapping.path)
                if doc is not None and doc.kind == "template":
                    candidates.append(doc)
    for doc in candidates:
        path = doc.path.resolve()
        if path in seen or (ctx.tht is not None and path.is_relative_to(ctx.tht.resolve())):
            continue
        seen.add(path)
        yield doc


def check(ctx: Context) -> Iterator[Problem]:
    """Yield each step_config class whose module is neither stock nor delivered."""
    provided: set[str] | None = None
    unread: list[str] = []
    for doc in _templates(ctx):
        role_data = hot.role_data(doc.data) or {}
        puppet_config = hot.merged(role_data.get("puppet_config"))
        if not puppet_config or "step_config" not in puppet_config:
            continue
        texts = [v for v in hot.walk(puppet_config["step_config"]) if isinstance(v, str)]
        line = hot.key_line(puppet_config, "step_config")
        for name in dict.fromkeys(c for text in texts for c in classes(text)):
            module = name.split("::")[0]
            if provided is None:
                got, unread = delivered(ctx)
                provided = got | stock_modules(ctx) | set(ctx.image_modules)
            if module in provided:
                continue
            note = f" ({', '.join(unread)} could not be read here)" if unread else ""
            yield Problem(
                line,
                f"step_config class {name} needs Puppet module {module}, which stock images "
                f"lack and no env file delivers{note}: add the env file of "
                "`tripleo-ovn-metadata puppet-artifact --env-file` (DeployArtifactFILEs), or "
                f"pass --module-in-image {module} for an image patched with "
                "`overcloud-image patch --puppet`",
                path=doc.name,
            )
