#!/bin/bash
# Set up this machine for the bundle: Debian packages (bindep.txt), the Python venvs, the
# stock tripleo-heat-templates sdist and the container tooling. Idempotent; run as root.
#
# Each tools/setup.d/NN-*.sh step owns one concern. The tens digit of NN is its stage:
# stages run in order, the steps of one stage at the same time (a stage's steps share no
# output: stage 1 is apt, stage 2 the venvs, the kernel and the base image, stage 3 what
# needs .venv: the stock THT sdist). A step's output is shown when it ends; the first
# failed step's log ends the setup with exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
export TOM_ROOT=$PWD
logs=$(mktemp -d /tmp/tom-setup.XXXXXX)
trap 'rm -rf "$logs"' EXIT

run_stage() {
    local step name pids=() names=() failed=0 i started=$SECONDS
    for step in "$@"; do
        name=$(basename "$step" .sh)
        echo "==> setup: $name"
        ( start=$SECONDS; bash "$step" >"$logs/$name.log" 2>&1
          echo "    done in $((SECONDS - start)) s" >>"$logs/$name.log" ) &
        pids+=("$!"); names+=("$name")
    done
    for i in "${!pids[@]}"; do
        if wait "${pids[$i]}"; then
            sed "s/^ */    [${names[$i]}] /" "$logs/${names[$i]}.log"
        else
            echo "setup: ${names[$i]} failed:" >&2
            sed 's/^/    /' "$logs/${names[$i]}.log" >&2
            failed=1
        fi
    done
    [ "$failed" = 0 ] || exit 1
    [ "$#" -le 1 ] || echo "    stage done in $((SECONDS - started)) s"
}

for stage in 1 2 3 4 5 6 7 8 9; do
    steps=(tools/setup.d/"$stage"[0-9]-*.sh)
    [ -e "${steps[0]}" ] || continue
    run_stage "${steps[@]}"
done
