#!/usr/bin/env bash
# Installs the OS packages the tests run for real: Prometheus and Alertmanager (promtool, amtool),
# PostgreSQL (audit backend), wrk (benchmark load) and Compose v1 (validates docker-compose.yml
# without a Docker engine). Skips what is already there.
set -euo pipefail

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)  # Debian names the binary so
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v wrk >/dev/null || need+=(wrk)
command -v docker-compose >/dev/null || need+=(docker-compose)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing OS packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
# Debian starts nothing we rely on; the tests start their own servers on loopback.
