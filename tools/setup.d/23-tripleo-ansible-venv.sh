#!/bin/bash
# The node deploy venv (.venv-tripleo-ansible): ansible-core 2.14 with the ansible 7
# collections and tripleo-ansible 6.0.0 (its roles, modules and plugins, without the
# clients it depends on) to run config-download's playbooks on the rehearsal nodes.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
venv=.venv-tripleo-ansible
ensure_venv "$venv" tripleo-ansible-requirements.txt tripleo-ansible-nodeps.txt -- \
    -r tripleo-ansible-requirements.txt ++ -r tripleo-ansible-nodeps.txt
test -d "$venv/share/ansible/roles/tripleo_container_manage"
"$venv/bin/ansible-galaxy" collection list containers.podman >/dev/null
