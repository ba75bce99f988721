#!/bin/bash
# The main job on the embedded default: set up this machine, validate the bundle, print
# the 3 controllers + 3 computes container plan rendered by real Heat, then deploy the
# agent the way TripleO does on one rehearsal compute node (a systemd node container, with
# one controller node for the OVN DBs and the stub Nova): real Heat, config-download and
# tripleo-ansible's own roles over SSH. Prints the instance-id a VM fetched through it.
# Leaves the nodes running; undo it with `.venv/bin/tripleo-ovn-metadata nodes down`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
tom=.venv/bin/tripleo-ovn-metadata
images_env=.state/images-environment.yaml
artifact_env=.state/puppet-artifact.yaml
echo "==> validate"
"$tom" validate
echo "==> render (roles_data.yaml: 3 controllers + 3 computes)"
"$tom" render -e environments/services/neutron-ovn-metadata.yaml
echo "==> rehearsal nodes: 1 controller + 1 compute (a previous run's nodes go first)"
"$tom" nodes down
"$tom" nodes up --controllers 1 --computes 1
echo "==> images (build what is missing), pushed to the registry the nodes pull from"
mkdir -p -m 0700 .state
"$tom" image build --for-nodes --env-file "$images_env"
echo "==> our Puppet module as a deploy artifact (DeployArtifactFILEs)"
"$tom" puppet-artifact --output .state/puppet-modules.tar.gz --env-file "$artifact_env"
echo "==> overcloud deploy (real Heat, config-download, tripleo-ansible on the nodes)"
"$tom" overcloud deploy -e environments/services/neutron-ovn-metadata.yaml \
    -e "$images_env" -e "$artifact_env"
echo "==> verify (a VM on the compute fetches its metadata through the agent)"
"$tom" verify --nodes
