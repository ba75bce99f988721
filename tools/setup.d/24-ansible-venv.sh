#!/bin/bash
# The Ansible venv (.venv-ansible), apart from .venv because tripleo-common pins ansible 2.9.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
ensure_venv .venv-ansible ansible-requirements.txt -- -r ansible-requirements.txt
.venv-ansible/bin/ansible-galaxy collection list containers.podman >/dev/null
