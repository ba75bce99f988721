# Shared helpers for tools/setup.d/*.sh (sourced, not run).

# apt-get that waits for the dpkg lock and never asks.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }

# venv_pip VENV ARGS...: pip in a venv; shows the tail of its log only when it fails.
venv_pip() {
    local venv=$1 log rc=0
    shift
    log=$(mktemp)
    "$venv/bin/pip" --disable-pip-version-check "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        grep -v '^WARNING: Location' "$log" | tail -20 >&2
    fi
    rm -f "$log"
    return "$rc"
}

# ensure_venv VENV HASH_INPUT_FILES... -- PIP_INSTALL_ARGS...: create VENV and install into
# it unless the hash of the listed files matches the last install.
ensure_venv() {
    local venv=$1 files=() want
    shift
    while [ "$1" != "--" ]; do files+=("$1"); shift; done
    shift
    [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
    want=$(cat "${files[@]}" | sha256sum | cut -c1-16)
    if [ "$(cat "$venv/.requirements-hash" 2>/dev/null)" != "$want" ]; then
        venv_pip "$venv" install -q --upgrade pip
        # NOTE: pip byte-compiles what it installs (its default; --no-compile made the
        # ansible venv 18 s faster to set up): where PYTHONDONTWRITEBYTECODE is set, as on
        # these machines, Python never writes a .pyc itself, and every process compiled
        # its imports again (2 s of each Heat engine's start).
        venv_pip "$venv" install -q "$@"
        echo "$want" > "$venv/.requirements-hash"
    fi
}

# apt_mirror: the Debian archive this machine's apt uses (deb822 .sources first, then
# one-line sources.list entries), never a built-in host name; fails with one line if none.
apt_mirror() {
    local uri
    uri=$(awk '/^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
               /^URIs:/ && deb && $2 !~ /security/ { print $2; exit }' \
            /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    if [ -z "$uri" ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {
                       for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
    fi
    if [ -z "$uri" ]; then
        echo "setup: no Debian mirror in /etc/apt/sources.list{,.d} (apt must be configured)" >&2
        return 1
    fi
    echo "$uri"
}
