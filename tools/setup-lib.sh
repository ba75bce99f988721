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

# Where ensure_venv keeps one built venv per name and requirements hash, for every
# checkout on this machine (hard-linked into each checkout; same file system as /work).
VENV_TEMPLATES=${TRIPLEO_OVN_METADATA_VENV_CACHE:-/var/cache/tripleo-ovn-metadata/venvs}
# Templates kept per venv name (the most recently used ones).
VENV_TEMPLATES_KEEP=3

# ensure_venv VENV HASH_INPUT_FILES... -- PIP_INSTALL_ARGS... [++ NO_DEPS_PIP_ARGS...]:
# make VENV the venv of those requirements unless it already is (the hash of the listed
# files matches its last install). Installs after ++ are made with --no-deps.
#
# The venv is built once per machine as a template under VENV_TEMPLATES, keyed by name
# and hash, and each checkout gets a hard-linked copy with its bin/ paths rewritten (a
# second clone sets its venvs up in seconds, not minutes). Files are never changed in
# place in a venv: pip replaces what it upgrades and nothing else writes there.
ensure_venv() {
    local venv=$1 files=() pip_args=() nodeps=() want name template
    shift
    while [ "$1" != "--" ]; do files+=("$1"); shift; done
    shift
    while [ "$#" -gt 0 ] && [ "$1" != "++" ]; do pip_args+=("$1"); shift; done
    [ "$#" -gt 0 ] && shift && nodeps=("$@")
    want=$(cat "${files[@]}" | sha256sum | cut -c1-16)
    [ "$(cat "$venv/.requirements-hash" 2>/dev/null)" = "$want" ] && return 0
    name=$(basename "$venv"); name=${name#.}
    template=$VENV_TEMPLATES/$name-$want
    mkdir -p "$VENV_TEMPLATES"
    (
        flock 9  # one build of a template; a copy is never taken from a half-built one
        if [ ! -e "$template/.template-complete" ]; then
            rm -rf "$template"
            /usr/bin/python3 -m venv "$template"
            venv_pip "$template" install -q --upgrade pip
            # NOTE: pip byte-compiles what it installs (its default; --no-compile made the
            # ansible venv 18 s faster to set up): where PYTHONDONTWRITEBYTECODE is set, as
            # on these machines, Python never writes a .pyc itself, and every process
            # compiled its imports again (2 s of each Heat engine's start).
            venv_pip "$template" install -q "${pip_args[@]}"
            [ "${#nodeps[@]}" = 0 ] || venv_pip "$template" install -q --no-deps "${nodeps[@]}"
            echo "$want" > "$template/.requirements-hash"
            touch "$template/.template-complete"
        fi
        touch "$template/.template-complete"  # most recently used
        venv_copy "$template" "$venv"
    ) 9>"$template.lock"
    venv_prune "$name"
}

# venv_copy TEMPLATE VENV: VENV as a hard-linked copy of TEMPLATE, its own paths in bin/
# and pyvenv.cfg (the scripts' #! lines; lib/ holds no absolute path of its venv).
venv_copy() {
    local template=$1 venv=$2 dest file
    dest=$(realpath -m "$venv")
    rm -rf "$venv.partial"
    cp -al "$template" "$venv.partial" 2>/dev/null || cp -a "$template" "$venv.partial"
    rm -f "$venv.partial/.template-complete"
    grep -lI --exclude-dir=__pycache__ -r -F "$template" "$venv.partial/bin" \
        "$venv.partial/pyvenv.cfg" | while read -r file; do
        # sed -i writes a new file: the template's hard link is left as it was.
        sed -i "s|$template|$dest|g" "$file"
    done
    rm -rf "$venv"
    mv "$venv.partial" "$venv"
}

# venv_prune NAME: remove all but the VENV_TEMPLATES_KEEP most recently used templates.
venv_prune() {
    local name=$1 old
    # "venv-" also begins "venv-zuul-<hash>": only a hash may follow the name.
    ls -1dt "$VENV_TEMPLATES/$name"-*/.template-complete 2>/dev/null \
        | grep -E "/$name-[0-9a-f]{16}/\.template-complete\$" \
        | tail -n +$((VENV_TEMPLATES_KEEP + 1)) | while read -r old; do
        old=$(dirname "$old")
        ( flock -n 9 && rm -rf "$old" && rm -f "$old.lock" ) 9>"$old.lock" || true
    done
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
