#!/usr/bin/env bash
# Installs the npm packages of the dashboard tests (tests/dashboard:
# playwright-core, exactly as package-lock.json pins it). Idempotent: runs
# `npm ci` only when node_modules is missing or package-lock.json changed
# since the last install. No browser is downloaded: the tests drive Debian's
# chromium (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=tests/dashboard
STAMP=$DIR/node_modules/.package-lock.sha256

if ! command -v npm >/dev/null; then
  echo "install-node-deps: npm (Node.js 20) is missing" >&2
  exit 1
fi
want=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
if [[ -d $DIR/node_modules && -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  echo "install-node-deps: $DIR/node_modules is up to date"
  exit 0
fi
echo "install-node-deps: npm ci in $DIR"
npm ci --prefix "$DIR" --no-audit --no-fund
echo "$want" > "$STAMP"
