// The handler of the Node.js client test (clients_test.go).
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { threadId } from "node:worker_threads";

// barrier waits (through files: worker threads share no memory) until
// event.want invokes have arrived in event.dir, and returns how many it saw.
async function barrier(event) {
  await mkdir(event.dir, { recursive: true });
  await writeFile(`${event.dir}/${event.n}`, "");
  const end = Date.now() + 20000;
  let seen = 0;
  while (Date.now() < end) {
    seen = (await readdir(event.dir)).length;
    if (seen >= event.want) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}

export const handler = async (event, context) => {
  console.log("handling", event.n);
  if (event.fail) {
    throw new TypeError(`bad ${event.n}`);
  }
  const seen = event.dir ? await barrier(event) : 0;
  return {
    n: event.n,
    seen,
    requestId: context.awsRequestId,
    arn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
    pid: process.pid,
    worker: String(threadId),
  };
};
