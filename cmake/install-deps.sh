#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages pswm needs, only those missing; fast when all are present.
set -euo pipefail

packages=(
  make g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libssl-dev catch2 libbenchmark-dev libxxhash-dev gnuplot-nox libpcre2-dev libzmq3-dev
)
# Extra tools: --ci: clang for libFuzzer targets and a second compiler; --docs: Doxygen for
# the `docs` target (the reference pages).
for arg in "$@"; do
  case "$arg" in
    --ci) packages+=(clang libclang-rt-14-dev openssl) ;;
    --docs) packages+=(doxygen) ;;
    *) echo "install-deps: unknown option $arg (known: --ci, --docs)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  echo "install-deps: install them by hand (apt-get install ${missing[*]}) and re-run." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
