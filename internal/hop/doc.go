// Package hop carries an invoke from a server's router to the agent of the
// instance that runs the execution environment: Handler is the agent's end,
// EE (a router.Target) the router's. The transport is HTTP/1.1 keep-alive,
// one request per invoke: the payload is the body, the invocation's fields
// are headers (the Runtime API's names where one exists).
package hop
