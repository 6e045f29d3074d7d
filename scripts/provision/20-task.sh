#!/usr/bin/env bash
# go-task (the `task` command that runs Taskfile.yml), pinned, built from its Go module. The Taskfile
# tests run the real binary. Installed into $(go env GOPATH)/bin and, as root, linked into
# /usr/local/bin so a new user's shell finds `task` too. Cheap when the pinned version is there.
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
TASK_VERSION=v3.54.0
gobin=$(go_bin_dir)
if ! go_bin_is "$gobin/task" github.com/go-task/task/v3 "$TASK_VERSION"; then
  echo "provision: building go-task $TASK_VERSION (go install, about 2 minutes once)" >&2
  go_need
  GOFLAGS=-buildvcs=false go install "github.com/go-task/task/v3/cmd/task@$TASK_VERSION"
fi
link_into_path task "$gobin/task"
