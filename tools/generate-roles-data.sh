#!/bin/bash
# Regenerate roles_data.yaml from roles/ with the real python-tripleoclient
# (`openstack overcloud roles generate`), as stock THT generates its own.
# Usage: tools/generate-roles-data.sh [OUTPUT]   (default: roles_data.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-roles_data.yaml}
roles=(Controller Compute)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The client is noisy (plugin load warnings, journal logger); show its log only on failure.
if ! .venv/bin/openstack overcloud roles generate --roles-path roles -o "$out" "${roles[@]}" \
        >"$log" 2>&1; then
    tail -5 "$log" >&2
    exit 1
fi
