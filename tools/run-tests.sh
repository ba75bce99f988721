#!/bin/bash
# Set up this machine (tools/setup.sh) and run every test: linters, Python unit and
# functional tests, real Heat against stock THT 18, rspec-puppet, config generation,
# image builds, molecule, zuul schema checks and the end-to-end deploy.
# Extra arguments go to pytest (e.g. -k validate).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# The session registry on 127.0.0.1:8787 is started here (not by a pytest worker) so that
# no worker stops it while another still pushes; stopped at the end if it was not running.
# At the end, `registry gc` frees the blobs of the images the tests pushed and deleted.
tom=.venv/bin/tripleo-ovn-metadata
finish() {
    "$tom" registry gc || echo "registry gc failed: the tests' deleted images' blobs stay" >&2
    if [ -n "${stop_registry:-}" ]; then "$tom" registry stop >/dev/null; fi
}
if ! "$tom" registry status >/dev/null; then
    "$tom" registry start
    stop_registry=1
fi
trap finish EXIT
# Two workers, a file at a time: a file's tests share its fixtures and the single-tenant
# ones (the host deploy, the rehearsal nodes) are one file each. xdist hands out the files
# in collection order: the rehearsal nodes' file first, then the files with the most tests
# (tests/conftest.py orders them and says why).
echo "==> tests (2 workers, one file at a time each)"
# --durations: the slowest tests, for the suite-time figures (benchmarks/ and the notes).
.venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25 "$@"
