#!/usr/bin/env bash
# Makes the Docker tests (crates/docker) able to run for real: an engine that answers and
# debootstrap (base images are Debian root filesystems; no registry is needed or used).
# Without an engine it says so and the Docker tests skip themselves. With one, it exports
# nothing but prints `APPRENTICE_REQUIRE_DOCKER=1` for scripts/test to set, so a broken
# Docker path fails CI instead of skipping.
set -euo pipefail
if ! docker info >/dev/null 2>&1; then
    echo "setup-docker: no Docker engine; the Docker tests will skip" >&2
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup-docker: debootstrap missing and not root; the Docker tests will skip" >&2
        exit 0
    fi
    echo "setup-docker: installing debootstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
echo "APPRENTICE_REQUIRE_DOCKER=1"
