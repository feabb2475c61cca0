#!/usr/bin/env bash
# The container's HEALTHCHECK: succeeds while the node's `GET /readyz` answers 200.
#
# The address comes from <data dir>/api.addr, which the running node writes (IP:PORT) and
# removes when it stops, so this follows whatever --api / KITH_API says. Plain bash (/dev/tcp):
# the runtime image has no curl.
set -euo pipefail

data_dir=${KITH_DATA_DIR:-/data}
addr=$(<"$data_dir/api.addr")
port=${addr##*:}
host=${addr%:*}
host=${host#[}
host=${host%]}
# A node bound to every address is reached over loopback.
case $host in
  0.0.0.0) host=127.0.0.1 ;;
  ::) host=::1 ;;
esac

exec 3<>"/dev/tcp/$host/$port"
printf 'GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 5 _ status _ <&3
[[ $status == 200 ]]
