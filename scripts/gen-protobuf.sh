#!/usr/bin/env bash
# Regenerates src/lib/protocol/gen/ from src/lib/protocol/proto/*.proto with protoc-gen-es
# (@bufbuild/protoc-gen-es, a devDependency). Needs protoc (Debian: protobuf-compiler).
# The generated files are committed: building and testing do not need protoc.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
rm -rf src/lib/protocol/gen
mkdir -p src/lib/protocol/gen
protoc --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es \
  --es_out=src/lib/protocol/gen --es_opt=target=ts,import_extension=js \
  --proto_path=src/lib/protocol/proto src/lib/protocol/proto/client.proto
npx prettier --write src/lib/protocol/gen >/dev/null
