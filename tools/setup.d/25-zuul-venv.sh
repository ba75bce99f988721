#!/bin/bash
# The Zuul venv (.venv-zuul) for checking zuul.d with zuul's own schemas; apart from .venv
# because zuul's pins may clash with Heat's.
set -euo pipefail
cd "${TOM_ROOT:?}"
. tools/setup-lib.sh
ensure_venv .venv-zuul zuul-requirements.txt -- -r zuul-requirements.txt
.venv-zuul/bin/python -c 'import zuul.configloader'
