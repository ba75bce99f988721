#!/bin/bash
# Debian packages: bootstrap bindep in a throwaway venv, then install what it says is missing.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
stamp=/var/lib/apt/periodic/tripleo-ovn-metadata-update
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720)" ]; then
    apt_get update -qq
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt_get install -y -qq python3-venv python3-pip >/dev/null
fi
bootstrap=.cache/bindep-venv
if [ ! -x "$bootstrap/bin/bindep" ]; then
    /usr/bin/python3 -m venv "$bootstrap"
    venv_pip "$bootstrap" install -q bindep
fi
missing=$("$bootstrap/bin/bindep" -b puppet images e2e guestfs || true)
if [ -n "$missing" ]; then
    echo "    installing: $(echo $missing)"
    # NOTE: policy-rc.d keeps the daemons (openvswitch, ovn, registry) from starting at
    # install; the tool starts what it needs by itself.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.tom && chmod 755 /usr/sbin/policy-rc.d.tom
    had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
    [ "$had_policy" = 1 ] || cp /usr/sbin/policy-rc.d.tom /usr/sbin/policy-rc.d
    apt_get install -y -qq --no-install-recommends $missing >/dev/null
    [ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d
    rm -f /usr/sbin/policy-rc.d.tom
fi
