#!/bin/bash
# A kernel for libguestfs (virt-customize, guestfish): supermin boots the host's
# /boot/vmlinuz-* with its /lib/modules. Containers and VMs started from an outside kernel
# have none; there Debian's cloud kernel goes in (the smallest flavour with the virtio
# drivers the appliance needs). A machine that has a kernel keeps its boot setup as it is.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
if ! compgen -G "/boot/vmlinuz-*" >/dev/null; then
    package="linux-image-cloud-$(dpkg --print-architecture)"
    echo "    /boot has no kernel: installing $package for libguestfs"
    apt_get install -y -qq --no-install-recommends "$package" >/dev/null
fi
