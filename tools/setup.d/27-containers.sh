#!/bin/bash
# Host container config (runc, ulimits, the loopback registry as insecure) and the
# debootstrap base image localhost/debian:bookworm every image recipe starts from.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh

# NOTE: crun fails here ("cgroups in hybrid mode not supported") and podman run needs
# explicit ulimits without CAP_SYS_RESOURCE; this makes flag-less podman (and kolla's
# podman engine, which cannot pass flags) work.
conf=/etc/containers/containers.conf
want='# Written by tripleo-ovn-metadata tools/setup.d/27-containers.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
'
if [ ! -e "$conf" ] || ! grep -q 'tripleo-ovn-metadata' "$conf"; then
    [ -e "$conf" ] && cp -n "$conf" "$conf.orig"
    mkdir -p /etc/containers && printf '%s' "$want" > "$conf"
fi

# The local registry speaks plain HTTP on loopback only.
dropin=/etc/containers/registries.conf.d/50-tripleo-ovn-metadata.conf
mkdir -p "$(dirname "$dropin")"
dropin_text='# Written by tripleo-ovn-metadata: the local registry is HTTP on loopback.
[[registry]]
location = "127.0.0.1:8787"
insecure = true
'
# Unchanged content leaves /etc untouched (tests running setup again compare its mtimes).
if ! printf '%s' "$dropin_text" | cmp -s - "$dropin"; then
    printf '%s' "$dropin_text" > "$dropin.tmp" && mv "$dropin.tmp" "$dropin"
fi

# The base image: Debian bookworm from the configured Debian mirror (no registry here).
if ! podman image exists localhost/debian:bookworm; then
    mirror=$(apt_mirror)
    rootfs=$(mktemp -d /var/tmp/tom-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    echo "    debootstrap bookworm from $mirror"
    debootstrap --variant=minbase --include=python3,python3-apt,sudo,ca-certificates \
        bookworm "$rootfs" "$mirror" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - localhost/debian:bookworm >/dev/null
fi
