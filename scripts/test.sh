#!/usr/bin/env bash
# Runs Kith's whole test suite on a fresh Debian machine: installs what the tests need that
# Cargo cannot (iproute2 for the network-namespace tests, iptables for their NAT routers,
# Debian's chromium and its WebDriver for the browser tests, systemd for `systemd-analyze
# verify` of contrib/systemd/kith.service), then runs every test of every crate.
#
# Usage: bash scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# tests/nat.rs: the home routers masquerade and drop unsolicited packets with iptables.
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || need_apt+=(iptables)
# The browser tests (tests/browser/) drive /usr/bin/chromium through /usr/bin/chromedriver.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# tests/service/systemd.rs checks the unit with systemd-analyze. Installing the package does not
# start systemd: in a container whose PID 1 is something else it only adds the tools.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing test prerequisites: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing ${need_apt[*]}: install it (as root: apt-get install ${need_apt[*]}); the namespace tests skip without iproute2 (the NAT tests also without iptables), the browser tests fail without chromium unless KITH_SKIP_BROWSER_TESTS=1, the systemd unit is checked only as text without systemd" >&2
  fi
fi

# The network-namespace tests need root; everything else runs as any user.
cargo test --workspace --locked "$@"
