#!/usr/bin/env bash
# Makes sure python3 can run the demo tasks' test suites (pytest from PyPI).
set -euo pipefail
if ! python3 -c 'import pytest' 2>/dev/null; then
    echo "installing pytest from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check pytest
fi
