// Package hop carries an invoke from a server's router to the agent of the
// instance that runs the execution environment: Handler is the agent's end,
// EE (a router.Target) the router's.
//
// An invoke whose payload fits a frame (up to 64 KB, most of them) goes
// over the agent's multiplexed session: one connection per router and
// agent, opened with "POST /v1/mux" (the Authorization header checked as
// for any request) and answered 101, then frames both ways (frame.go) that
// carry many invokes at once. Whoever sends a frame while no write is in
// progress writes it, with whatever others append meanwhile, so under load
// one system call and one wake-up of the far end serve many invokes, and
// one read takes in many; an invoke alone costs no hand-off to a writer.
// Its caller's cancel sends a cancel frame; a connection that ends cancels
// every invoke on it at the agent and fails every one waiting at the
// router, with a plain error, since each may have been dispatched. An agent
// that answers the upgrade with anything but 101 (one without the session)
// gets plain requests for a minute, then is asked again.
//
// Any other invoke (a larger payload, which would hold small ones up on
// the shared connection, or a streamed answer) takes an HTTP/1.1 request
// of its own on a keep-alive connection: the payload is the body, the
// invocation's fields are headers (the Runtime API's names where one
// exists), and the connection lives exactly as long as the invoke, so a
// router that hangs up cancels it on the agent and an agent that dies
// fails it at once. Both ways name the same fields (wire.go).
//
// A streamed answer (the invocation has a Stream: InvokeWithResponseStream,
// RESPONSE_STREAM URLs) takes POST .../invoke-stream: the agent
// answers 200 chunked as the function writes, its result fields in
// trailers, and the router passes each part on as it is read. That path is
// net/http's on the agent (Server's fast loop writes no chunked answers).
//
// For plain requests both ends are Paddock's own, not net/http's. The agent serves the hop
// with frontdoor's fast HTTP/1.1 loop (Server: the connection cap, header
// and idle timeouts and minimum body rate of Paddock's other servers; a
// request that is not plain HTTP/1.1 with a Content-Length body goes to
// net/http behind it). The loop alone would not notice a router's hang-up
// during an invoke (its requests carry the server's context), nor close
// before reading an unauthenticated body: Server wraps each connection so
// that an invoke running past 20 ms has a read waiting on its connection
// that cancels it when the router closes, and a 401's next read fails, so
// the answer goes out at once with "Connection: close". The router's Client
// keeps a pool of connections per agent (up to 256 idle, closed after 90 s
// idle, each checked with a peek that does not wait before reuse); the
// invoking goroutine writes the request and reads the answer itself, with
// no connection goroutines to hand it between (net/http's Transport passes
// every request to a write loop and every answer back from a read loop). A
// connection goes back to the pool only after a 200 or a refusal read
// whole; any failure, any other answer or a cancel closes it. Nothing is
// ever resent: a failed dial is ErrClosed, an agent's "full"/"closed"
// refusal ErrFull/ErrClosed, anything after the request may have been
// written a plain error; the caller's cancel closes the connection (which
// cancels the invoke on the agent) and returns ctx's error.
//
// Both ways run over TLS 1.3 by default (tls.go): the agent makes a key
// and a self-signed certificate at each start and writes its SHA-256 into
// its host record, which only it may write, and the router pins it
// (VerifyConnection, which resumed sessions pass through too), so no CA
// is needed and a machine that takes over an agent's address learns
// neither invokes nor the bearer token: the handshake fails before any
// request is written, a retryable ErrClosed. The router keeps a TLS
// session cache (1024 agents), so a new connection resumes rather than
// verifies a signature. BenchmarkHop, session 13, 3 runs of 2 s each:
//
//	mux/small    5.4-5.9 µs/op    TLS 6.1-6.8 µs/op
//	http/small   16.9-19.6 µs/op  TLS 21.4-22.3 µs/op
//	http/6MB     3.4-3.7 ms/op    TLS 9.3-10.0 ms/op (AES-GCM at ~1.3 GB/s
//	                              each way, both ends on the same 2 cores)
//
// and bench/cluster.sh could not tell the two apart (c=64, cluster ÷ up:
// TLS 1.11, 0.77, 0.80; clear 0.77, 0.83, 0.85, alternating runs).
// An agent run with --hop-tls=false serves plain HTTP (an http:// hop
// URL and no fingerprint).
//
// BenchmarkHop (echo EE, both ends in one process over loopback, 64 in
// flight; session 10, a quiet machine, 3 interleaved rounds of 2 s): the
// multiplexed session 3.1 µs/op (3.0-3.1), 3.8 KB, 46 allocs, against
// 11.5 µs/op (11.2-11.6) for plain requests; 6 MB payloads (plain requests
// either way) 2.6 ms/op. Before the session, on a busier machine:
//
//	small, net/http both ends    31 µs/op (31-42)   8.9 KB  113 allocs
//	small, this package          15 µs/op (13-15)   4.0 KB   50 allocs
//	6MB, net/http both ends     5.7-12.7 ms/op     12.6 MB  131-140 allocs
//	6MB, this package            6.5-8.3 ms/op     12.6 MB   59-63 allocs
//
// bench/cluster.sh (server -> agent on a test host against the in-process
// hop; see bench/README.md), ten 3 s runs of each, before and after
// interleaved, on the same 2 cores whose load from other work swung the
// in-process baseline between 1800 and 7400 req/s at c=64:
//
//	                        before                 after
//	p50 at c=1 above up's   +236 to +503 µs        +106 to +329 µs
//	                        (+362 median, 4/10     (+197 median, 9/10
//	                        within +300 µs)        within +300 µs)
//	throughput at c=64      0.59-0.98x of up's     0.66-1.01x of up's
//	                        (0.79x median, 3/10    (0.82x median, 6/10
//	                        at 0.8x or more)       at 0.8x or more)
//
// The hop's own CPU (about 30 µs less per invoke, both ends together,
// above) is small against the run-to-run swing. What remains between the
// two paths is mostly the second process: the agent's Runtime API server,
// its Go runtime's sysmon and scheduler wake-ups (perf: ~17% of the
// agent's samples in sysmon), and the kernel's work for one more TCP
// exchange.
//
// Why HTTP and not NATS request/reply (BenchmarkHop as above, with
// net/http at both ends; medians of 3 interleaved rounds of 2 s, spread in
// brackets, MB/s counts the payload both ways):
//
//	http/small   30 µs/op (28-49)      9.0 KB  113 allocs
//	nats/small   18 µs/op (16-19)      5.0 KB   50 allocs
//	http/6MB    6.1 ms/op (6.0-6.7)    2070 MB/s   12.7 MB  132 allocs
//	nats/6MB     19 ms/op (19-26)       665 MB/s   27.2 MB  100 allocs
//
// NATS multiplexes every invoke onto one connection and batches writes, so
// small invokes cost it less CPU (about 12 µs less per invoke, both ends
// together, against the ~300 µs the Runtime API and the function spend;
// this package's plain HTTP takes 15 µs/op against NATS's 18). But 6 MB
// payloads are 3x slower and take twice the memory, because each is
// copied through the NATS server; they need the cluster's max_payload
// raised from 1 MB and its max_pending (64 MB) raised for every client; and
// nats.go's own request inbox keeps a 64 MB pending limit, so 64 answers of
// 6 MB at once were dropped as a slow consumer and timed out (the benchmark
// had to bring its own reply mux). One shared connection also puts small
// invokes behind large ones. Above all, request/reply loses what the
// router's retry rule rests on: an agent that dies mid-invoke is only a
// timeout (up to 900 s) instead of a reset, and a caller's hang-up needs a
// cancel message of its own. The multiplexed session keeps what NATS was
// good at (many small invokes per system call) on a direct connection
// that ends with the agent, small payloads only.
package hop
