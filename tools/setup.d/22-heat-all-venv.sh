#!/bin/bash
# heat-all 24.1.2 (.venv-heat-all): a local Heat API + engine for creating the whole
# overcloud stack from stock THT 18; apart from .venv because heat-all ends at 24.x.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
ensure_venv .venv-heat-all heat-all-requirements.txt -- -r heat-all-requirements.txt
test -x .venv-heat-all/bin/heat-all
