#!/bin/bash
# The project venv (.venv): the real engines (Heat, tripleo-common), test tools,
# tripleo-ansible's modules, plugins and roles (to syntax-check the config-download
# playbooks generated from the real Heat stack) and this package (editable, from this
# checkout). Reinstalls only when a requirements file changed.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
ensure_venv .venv requirements.txt test-requirements.txt pyproject.toml \
    tripleo-ansible-nodeps.txt -- -r requirements.txt -r test-requirements.txt \
    ++ -r tripleo-ansible-nodeps.txt
# A copy of the machine's template has no package of ours: this checkout's goes in. A venv
# that has one keeps it (a test's copy of the bundle links this checkout's venvs).
if ! .venv/bin/python -c 'import tripleo_ovn_metadata' 2>/dev/null; then
    venv_pip .venv install -q --no-deps -e .
fi
.venv/bin/python -c 'import heat, tripleo_common, yaml, tripleo_ovn_metadata'
test -d .venv/share/ansible/roles/tripleo_container_manage
# This package's own .pyc (pip compiles only what it installs; see setup-lib.sh).
.venv/bin/python -m compileall -q src >/dev/null
