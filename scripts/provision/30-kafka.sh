#!/usr/bin/env bash
# Apache Kafka's jars from Maven Central into tools/kafka/target/libs (a real KRaft broker for the
# Kafka tests and `odin-ws dev --kafka`; no Docker). Needs Java 17+ and Maven, installed from Debian
# when missing. Cheap when the jars are already there (the pom's hash is stamped beside them).
set -euo pipefail
. "$(dirname "$0")/_lib.sh.inc"
apt_need openjdk-17-jre-headless java
apt_need maven mvn
cd "$(dirname "$0")/../../tools/kafka"
stamp=target/libs/.pom.sha256
want=$(sha256sum pom.xml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "provision: resolving Kafka's jars (mvn, tools/kafka/pom.xml)" >&2
rm -rf target/libs
mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/libs
echo "$want" > "$stamp"
