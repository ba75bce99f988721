#!/bin/bash
# Set up this machine for the bundle: Debian packages (bindep.txt), the Python venvs, the
# stock tripleo-heat-templates sdist and the container tooling. Idempotent; run as root.
# Each tools/setup.d/*.sh step owns one concern and runs in name order.
set -euo pipefail
cd "$(dirname "$0")/.."
export TOM_ROOT=$PWD
for step in tools/setup.d/*.sh; do
    start=$SECONDS
    echo "==> setup: $(basename "$step" .sh)"
    bash "$step"
    echo "    done in $((SECONDS - start)) s"
done
