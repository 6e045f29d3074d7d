#!/usr/bin/env bash
# The GKE tasks' tools (task gcp:provision), not needed by the tests, so not run by scripts/provision.sh:
# kubectl, gcloud and the GKE auth plugin from Google's Debian repository (apt, as root), helm built
# from its Go module at a pinned version. Without root it prints the commands instead.
set -euo pipefail
. "$(dirname "$0")/../_lib.sh.inc"
HELM_VERSION=v3.16.4
if ! apt-cache show google-cloud-cli >/dev/null 2>&1 && ! command -v gcloud >/dev/null 2>&1; then
  echo "provision: Google's apt repository is not configured: https://cloud.google.com/sdk/docs/install#deb" >&2
  exit 1
fi
apt_need kubectl kubectl
apt_need google-cloud-cli gcloud
apt_need google-cloud-cli-gke-gcloud-auth-plugin gke-gcloud-auth-plugin
gobin=$(go_bin_dir)
if ! command -v helm >/dev/null 2>&1 && ! go_bin_is "$gobin/helm" helm.sh/helm/v3 "$HELM_VERSION"; then
  echo "provision: building helm $HELM_VERSION (go install, several minutes once)" >&2
  go_need
  GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
[ -x "$gobin/helm" ] && link_into_path helm "$gobin/helm"
echo "provision: kubectl, gcloud, helm ready" >&2
