#!/usr/bin/env bash
# kubeconform (Kubernetes manifest checker, a Go module, pinned) and the Kubernetes JSON schemas it
# checks ops/k8s against, offline. kubeconform fetches schemas over HTTP by default, which these
# machines cannot; the PyPI package kubernetes-validate ships the same schemas for each Kubernetes
# version, so we take its wheel (pinned) from the registry and turn one version's schemas into the
# standalone layout kubeconform reads from disk (k8s-schemas.py). Result:
#   ~/.cache/odin-ws/k8s-schemas/v$K8S_VERSION/<kind>-<group>-<version>.json
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
KUBECONFORM_VERSION=v0.8.0
K8S_VALIDATE_VERSION=1.37.0
K8S_VERSION=1.33.0
here=$(cd "$(dirname "$0")" && pwd)
gobin=$(go_bin_dir)
if ! go_bin_is "$gobin/kubeconform" github.com/yannh/kubeconform "$KUBECONFORM_VERSION"; then
  echo "provision: building kubeconform $KUBECONFORM_VERSION (go install)" >&2
  go_need
  GOFLAGS=-buildvcs=false go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
fi
link_into_path kubeconform "$gobin/kubeconform"

dest="${XDG_CACHE_HOME:-$HOME/.cache}/odin-ws/k8s-schemas/v$K8S_VERSION"
[ -f "$dest/.done-$K8S_VALIDATE_VERSION" ] && exit 0
apt_need python3-pip pip3 pip
echo "provision: Kubernetes $K8S_VERSION JSON schemas from kubernetes-validate $K8S_VALIDATE_VERSION (PyPI)" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps -d "$tmp" "kubernetes-validate==$K8S_VALIDATE_VERSION"
rm -rf "$dest"
python3 "$here/k8s-schemas.py" "$tmp"/kubernetes_validate-*.whl "v$K8S_VERSION-local-strict" "$dest"
touch "$dest/.done-$K8S_VALIDATE_VERSION"
