#!/bin/bash
# Stock tripleo-heat-templates 18.0.0 from its PyPI sdist (the wheel has no templates),
# unpacked into .cache/ so the bundle is checked the way a deploy would use it.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
version=18.0.0
dest=.cache/tripleo-heat-templates-$version
if [ ! -f "$dest/overcloud.j2.yaml" ]; then
    tmp=$(mktemp -d)
    venv_pip .venv download -q --no-deps --no-binary :all: -d "$tmp" \
        "tripleo-heat-templates==$version"
    mkdir -p .cache
    tar -C "$tmp" -xzf "$tmp"/tripleo-heat-templates-$version.tar.gz
    rm -rf "$dest" && mv "$tmp/tripleo-heat-templates-$version" "$dest"
    rm -rf "$tmp"
fi
