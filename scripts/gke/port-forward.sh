#!/usr/bin/env bash
# kubectl port-forward for several services at once, on the named context (never the current one):
#   scripts/gke/port-forward.sh CONTEXT NAMESPACE svc/NAME:LOCAL:REMOTE...
# Runs until Ctrl-C (exit 0). The forwards run until stopped, so one that ends has failed (no such
# service, a local port taken, the cluster unreachable): it names it, stops the others, exits 1.
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 CONTEXT NAMESPACE svc/NAME:LOCAL:REMOTE..." >&2; exit 2; }
ctx=$1 ns=$2
shift 2
pids=()
names=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap 'stop_all; exit 0' INT TERM
for spec in "$@"; do
  target=${spec%%:*}
  ports=${spec#*:}
  kubectl --context "$ctx" -n "$ns" port-forward "$target" "$ports" &
  pids+=("$!")
  names+=("$target ($ports)")
done
ended=""
wait -n -p ended "${pids[@]}"
rc=$?
failed="a service"
for i in "${!pids[@]}"; do [ "${pids[$i]}" = "$ended" ] && failed=${names[$i]}; done
echo "gcp: port-forward ended for $failed (exit $rc); stopping the other forwards" >&2
stop_all
exit 1
