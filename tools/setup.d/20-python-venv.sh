#!/bin/bash
# The project venv (.venv): the real engines (Heat, tripleo-common), test tools and this
# package (editable). Reinstalls only when a requirements file changed.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
ensure_venv .venv requirements.txt test-requirements.txt pyproject.toml -- \
    -r requirements.txt -r test-requirements.txt -e .
.venv/bin/python -c 'import heat, tripleo_common, yaml, tripleo_ovn_metadata'
# This package's own .pyc (pip compiles only what it installs; see setup-lib.sh).
.venv/bin/python -m compileall -q src >/dev/null
