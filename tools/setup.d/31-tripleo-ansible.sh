#!/bin/bash
# tripleo-ansible 6.0.0 (the final release) into .venv without its dependencies (they are
# clients we do not use): its modules, plugins and roles let the venv's ansible-playbook
# syntax-check the config-download playbooks generated from the real Heat stack.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
version=6.0.0
if [ "$(.venv/bin/pip show tripleo-ansible 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]; then
    venv_pip .venv install -q --no-deps "tripleo-ansible==$version"
fi
test -d .venv/share/ansible/roles/tripleo_container_manage
