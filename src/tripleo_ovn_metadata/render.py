"""Render with real Heat, as a deploy would see it: our role_data, and each role's plan.

Parameters come from where a TripleO deploy takes them: tripleo-common's password
generator and default image prepare, then the environment files (merged by heatclient,
in order), then the role's parameters (``RoleParametersDefault`` + ``<Role>Parameters``),
then explicit ``-p`` parameters.

``render_role_data`` evaluates our single template in-process (0.2 s after boot);
``render_plan`` creates the stock role service chains (nested stacks) in local Heat
engines (heat_engine; one per idle CPU, forks of one booted engine process, the roles
dealt out) for the container plan of every role. It caches (render_cache) the stock tree
processed for the roles file, merged as heatclient merges its registry (keyed by the
content of the whole stock tree and of the roles file), and each plan under the SHA-256
of the exact request the engine was given (template, merged environments, every file's
content; not the random passwords, which no plan shows) and of the code and packages
that evaluate it. The engine boots in its child process meanwhile."""

from __future__ import annotations

import contextlib
import copy
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tripleo_ovn_metadata import (  # heat_engine/heat_eval quiet eventlet's banner
    heat_engine,
    heat_eval,
    paths,
    plan,
    progress,
    render_cache,
    tht,
    yamlio,
)
from tripleo_ovn_metadata.errors import InputError


def load_roles(roles_path: Path) -> list[dict[str, Any]]:
    """The roles of a roles_data file, each a mapping with at least ``name``."""
    roles = yamlio.load(roles_path)
    if not isinstance(roles, list) or not all(
        isinstance(role, dict) and isinstance(role.get("name"), str) for role in roles
    ):
        raise InputError(roles_path, "expected a list of roles, each a mapping with a name")
    return roles


def find_role(roles: Sequence[Mapping[str, Any]], name: str, roles_path: Path) -> Mapping[str, Any]:
    """The role called ``name``, or an InputError listing the known ones."""
    for role in roles:
        if role["name"] == name:
            return role
    known = ", ".join(role["name"] for role in roles)
    raise InputError(roles_path, f"no role named {name!r} (roles: {known})")


def merged_environment(env_files: Sequence[Path]) -> dict[str, Any]:
    """Merge environment files the way the heat CLI does (heatclient's own code)."""
    return tht.merged_environment(env_files)[1]


def generated_passwords() -> dict[str, Any]:
    """The passwords tripleo-common generates for a new plan (random each time)."""
    from tripleo_common.utils import passwords

    return dict(passwords.generate_passwords())


def image_defaults(env: Mapping[str, Any], roles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The image parameters tripleo-common's default image prepare gives ``env``."""
    from tripleo_common.image import kolla_builder

    return dict(kolla_builder.container_images_prepare_multi(dict(env), list(roles), dry_run=True))


def generated_defaults(
    env: Mapping[str, Any], roles: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Passwords and image parameters as tripleo-common makes them for a new plan."""
    values = generated_passwords()
    values.update(image_defaults(env, roles))
    return values


def service_parameters(
    role: Mapping[str, Any], env: Mapping[str, Any], generated: Mapping[str, Any]
) -> dict[str, Any]:
    """parameter_defaults for the service template as seen from ``role``."""
    defaults = dict(generated)
    defaults.update(env.get("parameter_defaults", {}))
    role_params = dict(role.get("RoleParametersDefault") or {})
    role_params.update(defaults.get(f"{role['name']}Parameters") or {})
    defaults["RoleName"] = role["name"]
    defaults["RoleParameters"] = role_params
    return defaults


def render_role_data(
    role: str = "Compute",
    env_files: Sequence[Path] = (),
    parameters: Mapping[str, Any] | None = None,
    roles_data: Path | None = None,
) -> dict[str, Any]:
    """Evaluate the service template's role_data for ``role`` with real Heat."""
    root = paths.bundle_root()
    roles_path = roles_data or root / paths.ROLES_DATA
    roles = load_roles(roles_path)
    env = merged_environment(list(env_files))
    defaults = service_parameters(
        find_role(roles, role, roles_path), env, generated_defaults(env, roles)
    )
    outputs = heat_eval.evaluate_outputs(
        root / paths.SERVICE_TEMPLATE, parameters=parameters, parameter_defaults=defaults
    )
    return outputs["role_data"]


# --- The container plan of every role, from stock THT and real Heat ------------------

#: Role services whose containers the plan evaluates: those whose template (after the
#: environment files) lives in an ``ovn`` directory: ovn-controller, OVN DBs, our agent.
PLAN_SERVICE_DIR = "/deployment/ovn/"
#: ``ServiceData.net_cidr_map`` as overcloud.yaml passes it without network isolation.
PLAN_NET_CIDR_MAP = {"ctlplane": ["192.168.24.0/24"]}
#: The most Heat engines one render forks (each holds about 150 MB, mostly shared).
MAX_ENGINES = 4


def plan_services(role: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    """The role's services (``<Role>Services`` or ServicesDefault) that the plan covers."""
    services = env.get("parameter_defaults", {}).get(f"{role['name']}Services")
    services = services if services is not None else role.get("ServicesDefault") or []
    registry = env.get("resource_registry", {})
    return [service for service in services if PLAN_SERVICE_DIR in str(registry.get(service, ""))]


def plan_template(roles: Sequence[Mapping[str, Any]], env: Mapping[str, Any]) -> dict[str, Any]:
    """A small HOT wrapper wiring each role's stock service chain as overcloud.yaml does.

    ServiceNetMap and EndpointMap come from the stock templates the registry names; each
    role gets ``OS::TripleO::<Role>Services`` (the processed ``common/services`` chain,
    which deep-merges the services' docker_config) with the role's name and parameters.
    """
    resources: dict[str, Any] = {
        "ServiceNetMap": {"type": "OS::TripleO::ServiceNetMap"},
        "EndpointMap": {
            "type": "OS::TripleO::EndpointMap",
            "properties": {
                "CloudEndpoints": {"ctlplane": "overcloud.ctlplane.localdomain"},
                "NetIpMap": {"ctlplane": "192.168.24.5"},
                "ServiceNetMap": {"get_attr": ["ServiceNetMap", "service_net_map"]},
            },
        },
    }
    outputs: dict[str, Any] = {}
    defaults = env.get("parameter_defaults", {})
    for role in roles:
        name = role["name"]
        role_params = dict(role.get("RoleParametersDefault") or {})
        role_params.update(defaults.get(f"{name}Parameters") or {})
        resources[f"{name}ServiceChain"] = {
            "type": f"OS::TripleO::{name}Services",
            "properties": {
                "Services": plan_services(role, env),
                "ServiceNetMap": {"get_attr": ["ServiceNetMap", "service_net_map"]},
                "ServiceData": {"net_cidr_map": PLAN_NET_CIDR_MAP},
                "EndpointMap": {"get_attr": ["EndpointMap", "endpoint_map"]},
                "RoleName": name,
                "RoleParameters": role_params,
            },
        }
        outputs[name] = {"value": {"get_attr": [f"{name}ServiceChain", "role_data"]}}
    return {
        "heat_template_version": "wallaby",
        "description": "tripleo-ovn-metadata render: the OVN services of each role",
        "resources": resources,
        "outputs": outputs,
    }


def others_running() -> int:
    """How many other tasks are runnable on this machine now (``/proc/loadavg``'s 4th
    field counts this one too; the load average would count our own last renders)."""
    try:
        running = Path("/proc/loadavg").read_text(encoding="ascii").split()[3].split("/")[0]
        return max(0, int(running) - 1)
    except (OSError, IndexError, ValueError):
        return 0


def engine_groups(roles: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The roles dealt out to one Heat engine per idle CPU (at most MAX_ENGINES).

    Each role's chain is its own nested stack, wired to ServiceNetMap and EndpointMap
    only, so a wrapper of some roles yields those roles' role_data as the wrapper of all
    of them does; the engines create them side by side (Heat in one process is bound by
    one CPU). CPUs that other processes keep busy right now are not counted: there a
    second engine would only take CPU from them.
    """
    idle = len(os.sched_getaffinity(0)) - others_running()
    count = max(1, min(len(roles), MAX_ENGINES, idle))
    return [list(roles[index::count]) for index in range(count)]


def declared_parameters(files: Mapping[str, Any]) -> set[str]:
    """Every parameter name a HOT template among ``files`` declares."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    names: set[str] = set()
    for body in files.values():
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        if "heat_template_version" not in text:
            continue
        try:
            data = yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and isinstance(data.get("parameters"), dict):
            names.update(data["parameters"])
    return names


# --- What render caches (render_cache): the stock side, and plans by their request ----


@dataclass
class StockTemplates:
    """The processed stock tree as the plan uses it: its puppet registry merged by
    heatclient (``files``, ``env``), the parameters of its ``overcloud.yaml`` and every
    parameter its templates declare (None until a ``-p`` needs them: reading every
    template again costs half a second a plain render does not pay)."""

    files: dict[str, Any]
    env: dict[str, Any]
    top_parameters: list[str]
    declared: list[str] | None = None

    def declared_names(self, key: str) -> set[str]:
        """Every parameter a stock template declares; found once, then kept under ``key``."""
        if self.declared is None:
            self.declared = sorted(declared_parameters(self.files))
            render_cache.store("stock", key, asdict(self))
        return set(self.declared)


def _stock_key(roles_path: Path) -> str:
    return render_cache.digest(
        "stock",
        render_cache.tree_digest(paths.tht_dir()),
        roles_path.read_bytes(),
        render_cache.installed(),
        render_cache.sources_digest([tht, render_cache, sys.modules[__name__]]),
    )


def stock_templates(roles_path: Path, key: str = "") -> tuple[StockTemplates, bool]:
    """process-templates of stock THT for ``roles_path``, merged; and whether it was cached.

    Keyed (``key``, by default :func:`_stock_key`) by the content of the whole stock tree
    and of the roles file.
    """
    import tempfile

    key = key or _stock_key(roles_path)
    value = render_cache.load("stock", key)
    if isinstance(value, dict):
        with contextlib.suppress(TypeError):
            stock = StockTemplates(**value)
            shapes = ((stock.files, dict), (stock.env, dict), (stock.top_parameters, list),
                      (stock.declared, (list, type(None))))  # fmt: skip
            if all(isinstance(part, kind) for part, kind in shapes):
                return stock, True
    with tempfile.TemporaryDirectory(prefix="tom-render-") as tmp:
        processed = tht.process_templates(roles_path, Path(tmp) / "tht")
        files, env = tht.merged_environment([processed / tht.REGISTRY])
        top = yamlio.load(processed / "overcloud.yaml")
    stock = StockTemplates(
        # as the engine is given them (heat_engine decodes every file)
        files={k: v.decode("utf-8") if isinstance(v, bytes) else v for k, v in files.items()},
        env=env,
        top_parameters=list(top.get("parameters") or {}),
    )
    render_cache.store("stock", key, asdict(stock))
    return stock, False


def _plan_key(template: Mapping[str, Any], env: Mapping[str, Any], files: Mapping[str, Any]) -> str:
    """Everything the engine is given (but the random passwords, which no plan shows),
    and the code and packages that evaluate it."""
    return render_cache.digest(
        "plan",
        render_cache.installed(),
        render_cache.sources_digest(
            [heat_engine, heat_eval, plan, render_cache, tht, sys.modules[__name__]]
        ),
        template,
        env,
        files,
    )


def _cached_plans(value: Any) -> list[plan.RolePlan] | None:
    """The plans of a cache entry, or None when it is not the shape render writes."""
    if not isinstance(value, list):
        return None
    try:
        plans = [
            plan.RolePlan(
                role=item["role"],
                services=list(item["services"]),
                containers=[plan.Container(**row) for row in item["containers"]],
            )
            for item in value
        ]
    except (KeyError, TypeError, ValueError):
        return None
    for role_plan in plans:
        strings = [role_plan.role, *role_plan.services]
        for row in role_plan.containers:
            strings += [row.name, row.image, *row.depends_on]
            if not (isinstance(row.step, int) and isinstance(row.start_order, int)):
                return None
        if not all(isinstance(item, str) for item in strings):
            return None
    return plans


@dataclass
class _Merged:
    """The environments merged onto the stock registry, and what the checks need."""

    files: dict[str, Any]
    env: dict[str, Any]
    top_parameters: list[str]
    stock: StockTemplates | None
    stock_key: str = ""

    def declared(self) -> set[str]:
        """Every parameter a template among ``files`` declares."""
        if self.stock is None:
            return declared_parameters(self.files)
        stock_files = self.stock.files
        changed = {k: v for k, v in self.files.items() if stock_files.get(k) != v}
        return self.stock.declared_names(self.stock_key) | declared_parameters(changed)


def _merge(
    roles_path: Path, env_files: Sequence[Path], use_cache: bool, stack: contextlib.ExitStack
) -> _Merged:
    """The stock tree processed for the roles and its registry merged with ``env_files``.

    Without the cache, heatclient merges the registry and ``env_files`` in one call, as
    before the cache existed; with it, the cached registry merge is continued.
    """
    import tempfile

    with progress.step("process stock templates") as stp:
        if use_cache:
            key = _stock_key(roles_path)
            stock, hit = stock_templates(roles_path, key)
            stp.detail = "cached" if hit else "cache written"
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="tom-render-"))
            processed = tht.process_templates(roles_path, Path(tmp) / "tht")
    if use_cache:
        files, env = tht.merge_onto(dict(stock.files), copy.deepcopy(stock.env), env_files)
        return _Merged(files, env, stock.top_parameters, stock, key)
    files, env = tht.merged_environment([processed / tht.REGISTRY, *env_files])
    top = yamlio.load(processed / "overcloud.yaml").get("parameters") or {}
    return _Merged(files, env, list(top), None)


def _check_parameters(merged: _Merged, parameters: Mapping[str, Any]) -> None:
    """Each ``-p`` name must be declared by a template of the tree or the env files."""
    known = merged.declared() if parameters else set()
    for name in parameters:
        if name not in known:
            raise InputError(
                f"-p {name}",
                "unknown parameter: no template of the stock tree or the "
                "environment files declares it",
            )


def render_plan(
    env_files: Sequence[Path] = (),
    parameters: Mapping[str, Any] | None = None,
    roles_data: Path | None = None,
    *,
    use_cache: bool = True,
) -> list[plan.RolePlan]:
    """Create the roles' OVN service chains from stock THT in a local Heat engine.

    ``env_files`` are applied after the stock puppet registry; ``parameters`` override
    parameter_defaults and must be declared by some template in the tree. With
    ``use_cache`` the processed stock templates and the plan of an identical request come
    from render_cache (``False`` neither reads nor writes it).
    """
    root = paths.bundle_root()
    roles_path = roles_data or root / paths.ROLES_DATA
    roles = load_roles(roles_path)
    for env_file in env_files:
        yamlio.load_mapping(env_file)
    groups = engine_groups(roles)
    with contextlib.ExitStack() as stack:
        # The engine boots in its own process while this one prepares the request (a warm
        # render needs none); it forks one engine for each group of roles.
        child = stack.enter_context(heat_engine.EngineProcess())
        merged = _merge(roles_path, env_files, use_cache, stack)
        with progress.step("merge environments and generate parameters"):
            files, env = merged.files, merged.env
            tht.check_parameters(env_files, {"parameters": dict.fromkeys(merged.top_parameters)})
            template = plan_template(roles, env)
            _check_parameters(merged, parameters or {})
            defaults = dict(image_defaults(env, roles))
            defaults["RootStackName"] = tht.STACK_NAME
            defaults.update(env.get("parameter_defaults", {}))
            # NOTE: a deploy gives env ``parameters`` to overcloud.yaml, which hands them
            # down; the wrapper declares none, so they act as defaults here.
            defaults.update(env.pop("parameters", None) or {})
            defaults.update(parameters or {})
            env["parameter_defaults"] = defaults
        key = _plan_key(template, env, files) if use_cache else ""
        plans = _cached_plans(render_cache.load("plan", key)) if use_cache else None
        if plans is not None:
            with progress.step("the plan of this exact request, from the cache") as stp:
                stp.detail = f"{len(plans)} roles"
            return plans
        with progress.step("create the role service chains in local Heat engines") as stp:
            # the generated passwords go first, as in a new plan; nothing else overrides them
            env["parameter_defaults"] = {**generated_passwords(), **defaults}
            child.send_each("create", "render", [plan_template(group, env) for group in groups],
                            env, files, source=roles_path)  # fmt: skip
            outputs = {}
            for answer in child.answers():
                outputs.update(answer)
            stp.detail = f"{len(roles)} roles, {len(groups)} engines"
    plans = [
        plan.RolePlan(
            role=role["name"],
            services=plan_services(role, env),
            containers=plan.containers((outputs.get(role["name"]) or {}).get("docker_config")),
        )
        for role in roles
    ]
    if use_cache:
        render_cache.store("plan", key, [role_plan.as_dict() for role_plan in plans])
    return plans
