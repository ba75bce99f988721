#!/bin/bash
# Set up this machine (tools/setup.sh) and run every test: linters, Python unit and
# functional tests, real Heat against stock THT 18, rspec-puppet, config generation,
# image builds, molecule, zuul schema checks and the end-to-end deploy.
# Extra arguments go to pytest (e.g. -k validate).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
echo "==> tests"
exec .venv/bin/python -m pytest "$@"
