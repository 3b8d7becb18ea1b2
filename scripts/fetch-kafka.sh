#!/usr/bin/env bash
# Fetches Apache Kafka (broker, KRaft controller and admin tools) with its runtime dependencies from
# Maven Central into one folder of jars, for the real-cluster stream tests (tests/kafka/real_cluster.py).
# The version is pinned in tests/kafka/broker/pom.xml. Idempotent: does nothing when the folder
# already holds the jars of that pom.
#   scripts/fetch-kafka.sh [DIR]    # DIR defaults to $SALVO_KAFKA_HOME, else build/kafka-dist
set -euo pipefail
cd "$(dirname "$0")/.."

pom=tests/kafka/broker/pom.xml
dest=${1:-${SALVO_KAFKA_HOME:-build/kafka-dist}}
stamp="$dest/.fetched"
want=$(sha256sum "$pom" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
echo "fetching Apache Kafka ($(grep -o '<kafka.version>[^<]*' "$pom" | cut -d'>' -f2)) into $dest" >&2
rm -rf "$dest"
mkdir -p "$dest"
log=$(mktemp)
if ! mvn -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$(realpath "$dest")" >"$log" 2>&1; then
  tail -40 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
ls "$dest"/kafka_2.13-*.jar >/dev/null  # the broker itself must be there
echo "$want" >"$stamp"
