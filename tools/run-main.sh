#!/bin/bash
# The main job on the embedded default: set up this machine, validate the bundle, print
# the 3 controllers + 3 computes container plan rendered by real Heat, then deploy the agent
# standalone here and print the instance-id a VM fetched through it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
tom=.venv/bin/tripleo-ovn-metadata
echo "==> validate"
"$tom" validate
echo "==> render (roles_data.yaml: 3 controllers + 3 computes)"
"$tom" render -e environments/services/neutron-ovn-metadata.yaml
# The main job: build the images if missing, push them to the local registry, deploy the
# agent standalone on this machine (Compute role on localhost, rest-of-cloud fixture) and
# fetch a VM's instance-id through it. Leaves the deploy running; undo it with
# `.venv/bin/tripleo-ovn-metadata destroy`.
echo "==> images (build what is missing) and the local registry"
"$tom" image build
echo "==> deploy (standalone: Compute role on this machine)"
"$tom" deploy
echo "==> verify (a VM fetches its metadata through the agent)"
"$tom" verify
