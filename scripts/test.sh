#!/usr/bin/env bash
# Runs Kith's whole test suite on a fresh Debian machine: installs what the tests need that
# Cargo cannot (iproute2 for the network-namespace tests), then runs every test of every crate.
#
# Usage: bash scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test prerequisites: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing ${need_apt[*]}: install it (as root: apt-get install ${need_apt[*]}); the tests that need it will skip" >&2
  fi
fi

# The network-namespace tests need root; everything else runs as any user.
cargo test --workspace --locked "$@"
