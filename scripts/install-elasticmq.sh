#!/usr/bin/env bash
# Installs ElasticMQ (an SQS-compatible server) for the SQS event source
# mapping tests and benchmark (test/e2e/elasticmq_test.go, bench/sqs.sh skip
# without it): its jars from Maven Central, through mvn, into
# ${XDG_CACHE_HOME:-$HOME/.cache}/paddock/elasticmq-<version>/lib.
# Idempotent: when the jars are there it only says where. Installs mvn and
# a JRE (java 17 or later runs the server) with apt-get when they are missing. PADDOCK_ELASTICMQ_DIR overrides the
# directory; the tests read the same variable.
set -euo pipefail

version=1.6.11
dir="${PADDOCK_ELASTICMQ_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/elasticmq-$version}"
jar="$dir/lib/elasticmq-server_2.13-$version.jar"

if [[ -f "$jar" && -f "$dir/lib/.complete" ]]; then
	echo "elasticmq: $dir/lib"
	exit 0
fi
# mvn and a JRE from Debian's packages when missing.
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
	bash "$(dirname "$0")/apt-install.sh" maven default-jre-headless
fi
mkdir -p "$dir"
cat >"$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>paddock</groupId><artifactId>elasticmq-runner</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.elasticmq</groupId><artifactId>elasticmq-server_2.13</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
POM
# Into a fresh directory, renamed when complete: an interrupted run leaves
# no half-filled lib that a later run would take for installed.
rm -rf "$dir/lib.tmp"
(cd "$dir" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=lib.tmp)
touch "$dir/lib.tmp/.complete"
rm -rf "$dir/lib"
mv "$dir/lib.tmp" "$dir/lib"
echo "elasticmq: $dir/lib ($(ls "$dir/lib"/*.jar | wc -l) jars)"
