#!/usr/bin/env bash
# Installs what is missing and builds (scripts/setup.sh), starts a single-node Slurm on loopback for the
# `slurm`-labelled tests (scripts/slurm/, needs root; they skip, saying why, without it), runs every test,
# and stops the cluster again if it started it. Exit code: ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

export SLURM_CONF=${SLURM_CONF:-/tmp/slurm-local/etc/slurm.conf}
started=0
if command -v scontrol >/dev/null 2>&1 && timeout 10 scontrol ping 2>/dev/null | grep -q UP; then
  echo "test: a Slurm controller answers already; the slurm tests use it"
elif [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
  if bash scripts/slurm/start-local-slurm.sh; then
    started=1
  else
    echo "test: the local Slurm cluster did not start (see above); the slurm tests skip"
  fi
else
  echo "test: not root, so no local Slurm cluster; the slurm tests skip"
fi
stop() { if [ "$started" = 1 ]; then bash scripts/slurm/stop-local-slurm.sh --wipe >/dev/null 2>&1 || true; fi; }
trap stop EXIT

ctest --test-dir build --output-on-failure
