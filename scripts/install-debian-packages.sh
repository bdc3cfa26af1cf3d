#!/usr/bin/env bash
# Installs the Debian packages named, if any, without recommends; through
# sudo unless already root. The scripts that need packages call this with
# only the ones missing, so a machine that has them runs nothing.
set -euo pipefail
[ "$#" -gt 0 ] || exit 0
printf '[install] installing Debian packages: %s\n' "$*" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2
