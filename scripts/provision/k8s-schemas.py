"""Turns one Kubernetes version's schemas from a kubernetes-validate wheel into kubeconform's
standalone layout: one file per top-level kind (`deployment-apps-v1.json`), every definition it
uses inlined under `definitions`. The wheel's files point into a shared `_definitions.json` by an
absolute path that kubeconform cannot resolve from disk, hence the inlining.

usage: k8s-schemas.py WHEEL VERSION_DIR DEST   (VERSION_DIR e.g. v1.33.0-local-strict)
"""
import json
import os
import sys
import zipfile

wheel, version_dir, dest = sys.argv[1:4]
prefix = f"kubernetes_validate/kubernetes-json-schema/{version_dir}/"
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")

with zipfile.ZipFile(wheel) as z:
    files = {n[len(prefix):]: n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")}
    if "_definitions.json" not in files:
        sys.exit(f"k8s-schemas: {version_dir} not in {wheel}")
    defs = json.loads(z.read(files["_definitions.json"]))["$defs"]
    kinds = {name: json.loads(z.read(path)) for name, path in files.items() if not name.startswith("_") and name != "all.json"}


def target(ref):
    for p in REF_PREFIXES:
        if isinstance(ref, str) and ref.startswith(p):
            return ref[len(p):]
    return None


def refs(node, out):
    if isinstance(node, dict):
        t = target(node.get("$ref"))
        if t is not None:
            out.add(t)
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def rewrite(node):
    if isinstance(node, dict):
        return {k: ("#/definitions/" + target(v) if k == "$ref" and target(v) is not None else rewrite(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    return node


os.makedirs(dest, exist_ok=True)
written = 0
for name, schema in kinds.items():
    if "x-kubernetes-group-version-kind" not in schema:
        continue  # a part of some kind, not a kind of its own
    need, todo = set(), set()
    refs(schema, todo)
    while todo:
        d = todo.pop()
        if d not in need:
            need.add(d)
            refs(defs[d], todo)
    out = rewrite(schema)
    out["definitions"] = {d: rewrite(defs[d]) for d in sorted(need)}
    with open(os.path.join(dest, name), "w") as f:
        json.dump(out, f, separators=(",", ":"))
    written += 1
print(f"k8s-schemas: {written} kinds into {dest}", file=sys.stderr)
