#!/bin/bash
# The main job on the embedded default: set up this machine, validate the bundle and print
# the 3 controllers + 3 computes container plan rendered by real Heat.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
tom=.venv/bin/tripleo-ovn-metadata
echo "==> validate"
"$tom" validate
echo "==> render (roles_data.yaml: 3 controllers + 3 computes)"
"$tom" render -e environments/services/neutron-ovn-metadata.yaml
