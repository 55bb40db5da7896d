#!/usr/bin/env bash
# Installs the Debian packages DTS needs to build and test. Idempotent: it
# asks dpkg what is already there and calls apt-get only for what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache mold git
  clang libclang-rt-14-dev llvm
  tzdata
  libabsl-dev
  libprotobuf-dev protobuf-compiler
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc
  librdkafka-dev
  libsqlite3-dev sqlite3
  libboost-dev libboost-system-dev
  libspdlog-dev libfmt-dev
  libcli11-dev
  libcurl4-openssl-dev
  uuid-dev libssl-dev openssl
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  python3 python3-pytest python3-grpcio python3-protobuf python3-yaml
  chromium
  wrk
  openjdk-17-jdk-headless maven
  curl procps
)

# `install-deps.sh --bench` (make bench): also the peers the benchmarks run
# against, side by side: robfig/cron and gorhill/cronexpr (Go sources, with
# a Go toolchain when none is on PATH), croniter, Quartz; and jq.
if [[ ${1:-} == --bench ]]; then
  PACKAGES+=(jq golang-github-robfig-cron-dev golang-github-gorhill-cronexpr-dev python3-croniter
             libquartz2-java libslf4j-java)
  command -v go >/dev/null || PACKAGES+=(golang-go)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
