#!/bin/bash
# The kolla venv (.venv-kolla): kolla-build renders kolla/docker and supplies kolla's start
# scripts (kolla_set_configs, kolla_start, healthchecks) to the image builds.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
ensure_venv .venv-kolla kolla/requirements.txt -- -r kolla/requirements.txt
.venv-kolla/bin/kolla-build --version >/dev/null
