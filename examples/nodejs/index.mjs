// Paddock's Node.js example, for nodejs22.x and nodejs24.x: handlers of one
// module (Handler index.handler, index.echo, index.io or index.cpu), written
// as any Lambda function is, on AWS's own runtime client (aws-lambda-ric).
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { threadId } from "node:worker_threads";

const require = createRequire(import.meta.url);

// handler returns its event unchanged (the invoke benchmark's echo).
export const handler = async (event) => event;

// echo answers with its event and what the runtime told it. A few fields
// of the event make it fail ({"error": "..."}), crash ({"crash": true}),
// wait ({"sleepMs": 5000}), or load a module from a layer ({"require":
// "name"}, found on NODE_PATH under /opt/nodejs/node_modules).
export const echo = async (event, context) => {
  if (event.error !== undefined) {
    throw new Error(event.error);
  }
  if (event.crash) {
    process.exit(3);
  }
  if (event.sleepMs) {
    await sleep(event.sleepMs);
  }
  const out = {
    event,
    requestId: context.awsRequestId,
    functionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    remainingMs: context.getRemainingTimeInMillis(),
    pid: process.pid,
    thread: threadId,
    node: process.version,
  };
  if (event.require) {
    out.required = require(event.require).hello();
  }
  console.log(JSON.stringify({ msg: "echoed", requestId: context.awsRequestId }));
  return out;
};

// io waits as an I/O-bound handler does (a call to another service): on
// Lambda Managed Instances one process serves many of these at once.
export const io = async (event) => {
  const started = Date.now();
  await sleep(event.ms ?? 200);
  return { pid: process.pid, thread: threadId, started, ended: Date.now() };
};

// cpu counts the primes below n, a CPU-bound handler.
export const cpu = async (event) => {
  const n = event.n ?? 200000;
  let count = 0;
  for (let i = 2; i < n; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) {
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return { n, primes: count, pid: process.pid, thread: threadId };
};
