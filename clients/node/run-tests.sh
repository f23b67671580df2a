#!/usr/bin/env bash
# Runs the Node client's tests against a real procd.
#
#   clients/node/run-tests.sh [node --test options...]
#
# - installs the pinned dependencies from package-lock.json with `npm ci`,
#   only when node_modules is missing or was installed from another lock file;
# - builds procd from this repository into a temporary directory, unless
#   PROCD_BIN names a procd binary to use;
# - runs `node --test test/` (each test file starts its own procd on a
#   private socket and stops it with SIGTERM).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "SKIP: node and npm are not installed (apt-get install nodejs npm)"
	exit 0
fi

lock_hash() {
	node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync("package-lock.json")).digest("hex"))'
}

stamp=node_modules/.procd-lock-sha256
want="$(lock_hash)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
	echo "run-tests: npm ci (node_modules missing or stale)" >&2
	npm ci --no-audit --no-fund
	printf '%s' "$want" >"$stamp"
fi

tmp=""
cleanup() { if [[ -n "$tmp" ]]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT
if [[ -z "${PROCD_BIN:-}" ]]; then
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/procd-node-bin.XXXXXX")"
	echo "run-tests: go build ./cmd/procd" >&2
	(cd "$repo" && go build -o "$tmp/procd" ./cmd/procd)
	export PROCD_BIN="$tmp/procd"
fi

node --test "$@" test/
