#!/usr/bin/env bash
# Runs the Python client's tests against a real procd.
#
#   clients/python/run-tests.sh            # builds procd into a temp dir first
#   PROCD_BIN=bin/procd clients/python/run-tests.sh
#   clients/python/run-tests.sh -k Signal  # extra arguments go to unittest
#
# Needs Debian's python3-grpcio and python3-protobuf for /usr/bin/python3
# (skips with exit 0 without them), Go to build procd unless PROCD_BIN is
# set; python3-hypothesis for the scripts written for the original runtime,
# python3-venv for the packaging test, and for the generated-code check
# protobuf-compiler, protobuf-compiler-grpc and libprotobuf-dev (each of
# those tests skips without its package).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3

if [ ! -x "$py" ] || ! "$py" -c 'import grpc, grpc.aio, google.protobuf' 2>/dev/null; then
  echo "SKIP: python3-grpcio is not installed (apt-get install python3-grpcio python3-protobuf)"
  exit 0
fi

if [ -z "${PROCD_BIN:-}" ]; then
  build="$(mktemp -d)"
  trap 'rm -rf "$build"' EXIT
  echo "building procd for the Python client tests"
  (cd "$root" && go build -o "$build/procd" ./cmd/procd)
  export PROCD_BIN="$build/procd"
fi

# Hypothesis keeps an example database in the working directory unless told
# otherwise: keep it out of the checkout.
hyp="$(mktemp -d)"
trap 'rm -rf "$hyp" ${build:+"$build"}' EXIT
export HYPOTHESIS_STORAGE_DIRECTORY="$hyp"

cd "$root"
PYTHONDONTWRITEBYTECODE=1 "$py" -m unittest discover -s clients/python/tests -t clients/python/tests -v "$@"
