// Package hop carries an invoke from a server's router to the agent of the
// instance that runs the execution environment: Handler is the agent's end,
// EE (a router.Target) the router's. One HTTP/1.1 request per invoke on a
// keep-alive connection: the payload is the body, the invocation's fields
// are headers (the Runtime API's names where one exists), and the
// connection lives exactly as long as the invoke, so a router that hangs
// up cancels it on the agent and an agent that dies fails it at once.
//
// Why HTTP and not NATS request/reply (BenchmarkHop: echo EE, both ends in
// one process over loopback, 64 in flight, 2 cores shared with other work;
// medians of 3 interleaved rounds of 2 s, spread in brackets, MB/s counts
// the payload both ways):
//
//	http/small   30 µs/op (28-49)      9.0 KB  113 allocs
//	nats/small   18 µs/op (16-19)      5.0 KB   50 allocs
//	http/6MB    6.1 ms/op (6.0-6.7)    2070 MB/s   12.7 MB  132 allocs
//	nats/6MB     19 ms/op (19-26)       665 MB/s   27.2 MB  100 allocs
//
// NATS multiplexes every invoke onto one connection and batches writes, so
// small invokes cost it less CPU (about 12 µs less per invoke, both ends
// together, against the ~300 µs the Runtime API and the function spend).
// But 6 MB payloads are 3x slower and take twice the memory, because each
// is copied through the NATS server; they need the cluster's max_payload
// raised from 1 MB and its max_pending (64 MB) raised for every client; and
// nats.go's own request inbox keeps a 64 MB pending limit, so 64 answers of
// 6 MB at once were dropped as a slow consumer and timed out (the benchmark
// had to bring its own reply mux). One shared connection also puts small
// invokes behind large ones. Above all, request/reply loses what the
// router's retry rule rests on: an agent that dies mid-invoke is only a
// timeout (up to 900 s) instead of a reset, and a caller's hang-up needs a
// cancel message of its own. If the hop's CPU on small invokes ever
// matters, multiplex over a direct connection (HTTP/2 or a framed
// protocol) rather than route invoke bytes through the state engine.
package hop
