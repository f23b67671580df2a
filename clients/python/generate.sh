#!/usr/bin/env bash
# Regenerates the Python gRPC modules of procd_client from
# proto/procd/v1/procd.proto with Debian's protoc and grpc_python_plugin:
#
#   apt-get install -y protobuf-compiler protobuf-compiler-grpc
#   clients/python/generate.sh
#
# Output: clients/python/procd_client/_gen/procd/v1/{procd_pb2.py,procd_pb2.pyi,procd_pb2_grpc.py}.
# The output is deterministic: running this on an unchanged proto
# reproduces the committed files byte for byte.
#
#   clients/python/generate.sh --check   # exit 1 if the committed files are stale
#
# protoc names modules after the proto path (procd.v1.procd_pb2), so the
# generated files are rewritten to live inside the package: the gRPC stub
# imports its messages relatively, and the message classes' __module__ is
# the real package path.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
proto_dir="$root/proto"
proto="procd/v1/procd.proto"
committed="$here/procd_client/_gen"
pkg_prefix="procd_client._gen"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

protoc="${PROTOC:-/usr/bin/protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
# The well-known types (google/protobuf/duration.proto, timestamp.proto)
# come with libprotobuf-dev, a dependency of protobuf-compiler.
wkt_include="${PROTOC_INCLUDE:-/usr/include}"

for tool in "$protoc" "$plugin"; do
  if [ ! -x "$tool" ]; then
    echo "generate.sh: $tool not found; install it with: apt-get install -y protobuf-compiler protobuf-compiler-grpc" >&2
    exit 1
  fi
done
if [ ! -f "$wkt_include/google/protobuf/duration.proto" ]; then
  echo "generate.sh: $wkt_include/google/protobuf/duration.proto not found; install libprotobuf-dev (or set PROTOC_INCLUDE)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ "$check" = 1 ]; then
  out="$tmp/out/_gen"
else
  out="$committed"
fi

"$protoc" -I "$proto_dir" -I "$wkt_include" \
  --python_out="$tmp" --pyi_out="$tmp" \
  --grpc_python_out="$tmp" --plugin=protoc-gen-grpc_python="$plugin" \
  "$proto_dir/$proto"

gen="$tmp/procd/v1"

# rewrite FILE FROM TO: replace a literal line fragment that must occur.
rewrite() {
  local file="$1" from="$2" to="$3"
  if ! grep -qF -- "$from" "$file"; then
    echo "generate.sh: expected \"$from\" in $(basename "$file"); did the protoc output change?" >&2
    exit 1
  fi
  FROM="$from" TO="$to" /usr/bin/perl -pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/g' "$file"
}

rewrite "$gen/procd_pb2_grpc.py" \
  "from procd.v1 import procd_pb2 as procd_dot_v1_dot_procd__pb2" \
  "from . import procd_pb2 as procd_dot_v1_dot_procd__pb2"
rewrite "$gen/procd_pb2.py" \
  "'procd.v1.procd_pb2'" \
  "'$pkg_prefix.procd.v1.procd_pb2'"

mkdir -p "$out/procd/v1"
: > "$tmp/__init__.py"
install -m 0644 "$tmp/__init__.py" "$out/__init__.py"
install -m 0644 "$tmp/__init__.py" "$out/procd/__init__.py"
install -m 0644 "$tmp/__init__.py" "$out/procd/v1/__init__.py"
for f in procd_pb2.py procd_pb2.pyi procd_pb2_grpc.py; do
  install -m 0644 "$gen/$f" "$out/procd/v1/$f"
done

if [ "$check" = 1 ]; then
  if ! diff -r -x __pycache__ "$out" "$committed"; then
    echo "generate.sh: the generated code in clients/python/procd_client/_gen is stale: run clients/python/generate.sh" >&2
    exit 1
  fi
  echo "generated code is up to date"
else
  echo "generated clients/python/procd_client/_gen/procd/v1/{procd_pb2.py,procd_pb2.pyi,procd_pb2_grpc.py}"
fi
