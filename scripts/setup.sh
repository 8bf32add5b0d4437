#!/usr/bin/env bash
# Installs what is missing (Debian 12, as root), then configures and builds sweeplab into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."

# dataset-fashion-mnist: Fashion-MNIST's IDX files under /usr/share/datasets/fashion-mnist/ (the idx task's sweeps
# and its test of the real files)
packages=(g++ cmake make pkg-config gnuplot-nox
          libtorch-dev libopenblas0-pthread
          libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libxxhash-dev libzip-dev libsqlite3-dev
          zlib1g-dev dataset-fashion-mnist)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
