"""Deploy an overcloud on the rehearsal nodes the way ``openstack overcloud deploy`` does.

Real Heat (heat-all) creates the overcloud stack from stock THT 18 with our roles and
environments; tripleo-common's config-download writes the playbooks and tripleo-common's
``TripleoInventory`` the inventory from the stack; then ``ansible-playbook`` of
``.venv-tripleo-ansible`` (tripleo-ansible 6.0.0's modules, plugins and roles) runs the
stock ``deploy_steps_playbook.yaml`` over SSH on the nodes.

Plays TripleO runs that cannot run on these Debian nodes are left out by tag, each for a
stated reason (:data:`SKIPPED_TAGS`; the untagged SELinux and /etc/hosts plays are not
selected by :data:`TAGS`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tripleo_ovn_metadata import (
    ansible_log,
    heat_all,
    nodes,
    paths,
    registry,
    render,
    secrets,
    tht,
    yamlio,
)
from tripleo_ovn_metadata.errors import InputError, ToolError
from tripleo_ovn_metadata.progress import step

LOG = logging.getLogger(__name__)

VENV = ".venv-tripleo-ansible"
#: The fixture's environment for rehearsal nodes (services limited, netdev datapath).
NODES_ENV = Path("fixtures/nodes/environment.yaml")
PLAYBOOK = "deploy_steps_playbook.yaml"
SECRET_PARAMETER = "NeutronMetadataProxySharedSecret"
#: The plays of deploy_steps_playbook.yaml that run: every play tripleoclient runs
#: except those below and the untagged SELinux (Debian has none) and /etc/hosts plays
#: (podman writes the nodes' /etc/hosts).
TAGS = (
    "facts", "external_deploy_steps", "pre_deploy_steps", "host_prep_steps",
    "container_setup_tasks", "pre_deploy_steps_tasks", "deploy_steps", "post_deploy_steps",
)  # fmt: skip
#: What is skipped on Debian nodes, and why.
SKIPPED_TAGS = {
    # tripleo_bootstrap installs RHEL packages with dnf (tripleo_bootstrap/tasks/packages.yml)
    "common_roles": "tripleo_bootstrap installs RHEL packages with dnf",
    # os-net-config is not packaged for Debian; podman configured the ctlplane interface
    "network_deploy_steps": "os-net-config (NetworkDeployment) is not in Debian",
    # its first task, community.general.sefcontext, fails on a host without SELinux
    # ("SELinux is disabled on this host"); no rehearsal service has config scripts
    # (both roles' container_config_scripts.yaml are {}), and the one other task with
    # this tag, "Create /var/lib/tripleo-config directory", is done by the node image
    "container_config_scripts": "sefcontext fails without SELinux; no service has scripts",
    "opendev-validation": "tripleoclient skips the validations too",
}


@dataclass(frozen=True)
class Workdir:
    """Where a deploy keeps its config-download, inventory and ansible.cfg."""

    root: Path

    @property
    def config(self) -> Path:
        """config-download's output (playbooks, per-role data, group and host vars)."""
        return self.root / "config-download"

    @property
    def inventory(self) -> Path:
        """tripleo-common's static inventory of the stack."""
        return self.root / "tripleo-ansible-inventory.yaml"

    @property
    def secret(self) -> Path:
        """The stack's metadata proxy shared secret (root-only), for the stub Nova."""
        return self.root / "metadata-secret"

    @property
    def log(self) -> Path:
        """ansible-playbook's output."""
        return self.root / "ansible.log"

    @property
    def remote_tmp(self) -> Path:
        """The undercloud's Ansible temporary files (its ``ansible_remote_tmp``)."""
        return self.root / "undercloud-tmp"

    @property
    def ansible_cfg(self) -> Path:
        """The ansible.cfg tripleo-common writes for a deploy (:func:`write_ansible_cfg`)."""
        return self.root / "ansible.cfg"


def workdir() -> Workdir:
    """The overcloud work dir of the current node set (root-only: it holds passwords)."""
    root = nodes.nodes_dir() / "overcloud"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Workdir(root)


def env_files(user_env: Sequence[Path]) -> list[Path]:
    """The deploy's -e files: the user's, then the node fixture's and the nodes' own."""
    return [*user_env, paths.bundle_root() / NODES_ENV, nodes.nodes_dir() / "environment.yaml"]


def create_stack(user_env: Sequence[Path], roles_data: Path | None = None) -> Workdir:
    """Heat stack create + config-download + inventory into a fresh work dir."""
    nodeset = nodes.require()
    work = workdir()
    roles_path = roles_data or paths.bundle_root() / paths.ROLES_DATA
    envs = env_files(user_env)
    processed = work.root / "templates"
    shutil.rmtree(processed, ignore_errors=True)
    try:
        with step("process templates"):
            tht.process_templates(roles_path, processed)
        roles = render.load_roles(roles_path)
        _files, env = tht.merged_environment([processed / tht.REGISTRY, *envs])
        check_images(env.get("parameter_defaults", {}), envs, nodeset.registry)
        shutil.rmtree(work.config, ignore_errors=True)  # inputs good: replace the last one
        generated = render.generated_defaults(env, roles)
        request = tht.overcloud_request(processed, roles, envs, generated)
        # tripleoclient sets a new DeployIdentifier per deploy; container setup runs only then.
        request.env["parameter_defaults"].setdefault("DeployIdentifier", int(time.time()))
        # The rest of the cloud (the stub Nova) must share the generated metadata secret.
        secret = str(request.env["parameter_defaults"].get(SECRET_PARAMETER, ""))
        secrets._write_private(work.secret, secret)
        with heat_all.HeatAll() as heat:
            with step("heat stack create overcloud"):
                heat.create_stack(tht.STACK_NAME, request)
            with step("config-download"):
                heat.download_config(tht.STACK_NAME, work.config)
                # External step 0's tripleo_service_vip writes this for services with a VIP
                # (Redis, non-clustered OVN DBs); none of the rehearsal's services has one.
                service_vips = work.config / "service_vip_vars.yaml"
                if not service_vips.exists():
                    yamlio.write_atomic(service_vips, {})
            with step("inventory"):
                _write_inventory(heat, nodeset, work)
    finally:
        shutil.rmtree(processed, ignore_errors=True)
    return work


def check_images(defaults: dict, envs: Sequence[Path], pull: str) -> None:
    """Every ``Container*Image`` from our registry must name ``pull`` (where the nodes
    pull from) and be in the registry."""
    push = registry.status().address
    for param, ref in sorted(defaults.items()):
        if not (param.startswith("Container") and param.endswith("Image")):
            continue
        if not isinstance(ref, str):
            continue
        if ref.startswith(f"{push}/") and push != pull:
            raise InputError(_defining(param, envs), f"{param}: {ref} names {push}, which "
                             f"the nodes cannot reach (image build --for-nodes --env-file ...)")
        if not ref.startswith(f"{pull}/"):
            continue
        repo, _, tag = ref[len(pull) + 1:].rpartition(":")
        if not registry.has_tag(push, repo, tag):
            raise InputError(_defining(param, envs), f"{param}: {ref} is not in the registry "
                             "(tripleo-ovn-metadata image build --env-file ...)")


def _defining(param: str, envs: Sequence[Path]) -> Path:
    """The last env file that sets ``param`` (the one whose value wins)."""
    for env in reversed(envs):
        if param in (yamlio.load_mapping(env).get("parameter_defaults") or {}):
            return env
    return envs[-1]


def _write_inventory(heat: heat_all.HeatAll, nodeset: nodes.NodeSet, work: Workdir) -> None:
    from tripleo_common.inventory import TripleoInventory

    inventory = TripleoInventory(
        hclient=heat.client, plan_name=tht.STACK_NAME, ansible_ssh_user="root",
        undercloud_key_file=nodeset.key, host_network="ctlplane", work_dir=str(work.root),
        ansible_python_interpreter="/usr/bin/python3",
    )  # fmt: skip
    inventory.write_static_inventory(str(work.inventory))
    # The undercloud's tasks run with the venv that has ansible's Python dependencies, and
    # keep their temporary files in the work dir (removed with the node set), not in
    # tripleo-common's /tmp/ansible-${USER}, which outlived every deploy.
    data = yamlio.load_mapping(work.inventory)
    undercloud = data["Undercloud"]["vars"]
    undercloud["ansible_python_interpreter"] = str(_venv("python"))
    undercloud["ansible_remote_tmp"] = str(work.remote_tmp)
    yamlio.write_atomic(work.inventory, data)


def _venv(name: str) -> Path:
    exe = paths.venv_bin(name, VENV)
    if not exe.exists():
        raise ToolError(f"{exe}: not installed (run tools/setup.sh)")
    return exe


#: What this deploy changes in tripleo-common's ansible.cfg: facts cached per node set
#: (the nodes' hostnames come back with every ``nodes up``), ansible-playbook's output
#: kept by :func:`run_playbook` in one log (no second copy through ``log_path``), and
#: the default stdout callback, whose lines :func:`ansible_log.last_failure` reads.
CFG_OVERRIDES = {"fact_caching_connection": "fact_cache", "log_path": None,
                 "stdout_callback": None, "callback_whitelist": None}


def write_ansible_cfg(work: Workdir) -> Path:
    """The ansible.cfg ``openstack overcloud deploy`` runs its playbooks with, written by
    tripleo-common: forks by CPU count, smart gathering with a JSON fact cache, the
    minimal fact subset without facts injected as variables, SSH ControlPersist and
    pipelining. The plugin and role paths it names are RPM paths; :func:`ansible_env`
    points those at the venv's tripleo-ansible instead."""
    import configparser

    from tripleo_common.utils import ansible as tripleo_ansible_cfg

    base = work.root / "ansible.cfg.base"
    base.write_text("", encoding="utf-8")
    written = Path(tripleo_ansible_cfg.write_default_ansible_cfg(
        str(work.root), "root", base_ansible_cfg=str(base)))
    base.unlink()
    config = configparser.ConfigParser()
    config.read(written, encoding="utf-8")
    for option, value in CFG_OVERRIDES.items():
        if value is None:
            config.remove_option("defaults", option)
        else:
            config.set("defaults", option, str(work.root / value))
    with written.open("w", encoding="utf-8") as handle:
        config.write(handle)
    return written


def ansible_env(nodeset: nodes.NodeSet, config: Path) -> dict[str, str]:
    """Environment for the venv's ansible-playbook: tripleo-common's ``config`` with
    tripleo-ansible's plugins and roles from the venv."""
    share = paths.bundle_root() / VENV / "share" / "ansible"
    plugins = share / "plugins"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(config)
    env.update({
        "ANSIBLE_LIBRARY": str(plugins / "modules"),
        "ANSIBLE_ACTION_PLUGINS": str(plugins / "action"),
        "ANSIBLE_CALLBACK_PLUGINS": str(plugins / "callback"),
        "ANSIBLE_FILTER_PLUGINS": str(plugins / "filter"),
        "ANSIBLE_LOOKUP_PLUGINS": str(plugins / "lookup"),
        "ANSIBLE_STRATEGY_PLUGINS": str(plugins / "strategy"),
        "ANSIBLE_MODULE_UTILS": str(plugins / "module_utils"),
        "ANSIBLE_ROLES_PATH": str(share / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_SSH_ARGS": nodes.ssh_args(nodeset),
        "ANSIBLE_PRIVATE_KEY_FILE": nodeset.key,
        "ANSIBLE_REMOTE_USER": "root",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_LOCAL_TEMP": str(nodes.nodes_dir() / ".ansible-tmp"),
        "ANSIBLE_CALLBACKS_ENABLED": "profile_tasks",
    })  # fmt: skip
    return env


def run_playbook(
    playbook: Path | str,
    inventory: Path,
    *,
    cwd: Path,
    tags: Sequence[str] = (),
    skip_tags: Sequence[str] = (),
    extra_vars: Sequence[str] = (),
    log: Path,
    what: str,
    config: Path,
) -> float:
    """ansible-playbook with tripleo-ansible (over the ansible.cfg ``config``); one
    ToolError line with the failed task."""
    nodeset = nodes.require()
    cmd = [str(_venv("ansible-playbook")), "-i", str(inventory), str(playbook), "--become"]
    if tags:
        cmd += ["--tags", ",".join(tags)]
    if skip_tags:
        cmd += ["--skip-tags", ",".join(skip_tags)]
    for var in extra_vars:
        cmd += ["-e", var]
    started = time.monotonic()
    with step(what) as current, open(log, "a", encoding="utf-8") as out:
        out.write(f"\n=== {what}: {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=str(cwd), env=ansible_env(nodeset, config), stdout=out,
                              stderr=subprocess.STDOUT, check=False)
        current.detail = f"log {log}"
    if proc.returncode != 0:
        raise ToolError(f"{what} failed (ansible-playbook exit {proc.returncode}): "
                        f"{ansible_log.last_failure(log)}; see {log}")
    return time.monotonic() - started


def deploy(user_env: Sequence[Path], *, roles_data: Path | None = None) -> Workdir:
    """Create the stack and run the stock deploy playbook on the nodes."""
    work = create_stack(user_env, roles_data)
    run_playbook(work.config / PLAYBOOK, work.inventory, cwd=work.config, tags=TAGS,
                 skip_tags=tuple(SKIPPED_TAGS), log=work.log,
                 what="deploy_steps_playbook.yaml on the nodes",
                 config=write_ansible_cfg(work))
    return work
