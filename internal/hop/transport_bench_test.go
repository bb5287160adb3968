package hop

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// echoInvoker answers each invoke with its payload at once: with no runtime
// process behind it, a benchmark measures the hop alone.
type echoInvoker struct{}

func (echoInvoker) Invoke(_ context.Context, inv *runtimeapi.Invocation) error {
	now := time.Now()
	inv.SetDispatched(now)
	inv.Answered = now
	inv.Response = inv.Payload
	return nil
}

// hopConcurrency is the number of invokes in flight in BenchmarkHop.
const hopConcurrency = 64

// BenchmarkHop compares the two candidate transports for the router→agent
// hop, both ends in this process over loopback TCP, 64 invokes in flight.
// MB/s counts the payload both ways.
func BenchmarkHop(b *testing.B) {
	small := []byte(`{"orderId":"8476a536","items":[{"sku":"A-1","qty":2}],"total":19.99}`)
	large := bytes.Repeat([]byte("x"), MaxPayloadBytes)
	large[0], large[len(large)-1] = '"', '"'
	for _, tr := range []struct {
		name  string
		setup func(b *testing.B) func(ctx context.Context, inv *runtimeapi.Invocation) error
	}{
		{"mux", setupMux},
		{"mux+tls", setupMuxTLS},
		{"http", setupHTTP},
		{"http+tls", setupHTTPTLS},
		{"nats", setupNATS},
	} {
		for _, size := range []struct {
			name    string
			payload []byte
		}{{"small", small}, {"6MB", large}} {
			b.Run(tr.name+"/"+size.name, func(b *testing.B) {
				invoke := tr.setup(b)
				b.SetBytes(int64(2 * len(size.payload)))
				b.ReportAllocs()
				b.SetParallelism(max(1, hopConcurrency/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						inv := &runtimeapi.Invocation{ID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
							Payload: size.payload, Deadline: time.Now().Add(time.Minute),
							FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:echo",
							TraceID:     "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"}
						if err := invoke(context.Background(), inv); err != nil {
							b.Error(err)
							return
						}
						if len(inv.Response) != len(size.payload) {
							b.Errorf("echo: %d bytes back, sent %d", len(inv.Response), len(size.payload))
							return
						}
					}
				})
			})
		}
	}
}

// setupMux is the hop as the router sends invokes that fit a frame: over
// the agent's multiplexed session (a 6 MB payload takes a request of its
// own, as with setupHTTP).
func setupMux(b *testing.B) func(context.Context, *runtimeapi.Invocation) error {
	agent := startAgent(b, &Handler{Token: testToken, Lookup: func(string) Invoker { return echoInvoker{} }}, false)
	return NewEE(newClient(false), agent.URL, testToken, "", "ee1").Invoke
}

// setupMuxTLS and setupHTTPTLS are the two over TLS, as agents serve the
// hop by default.
func setupMuxTLS(b *testing.B) func(context.Context, *runtimeapi.Invocation) error {
	agent := serveAgent(b, &Handler{Token: testToken, Lookup: func(string) Invoker { return echoInvoker{} }}, true)
	return NewEE(newClient(false), agent.URL, testToken, agent.Cert, "ee1").Invoke
}

func setupHTTPTLS(b *testing.B) func(context.Context, *runtimeapi.Invocation) error {
	agent := serveAgent(b, &Handler{Token: testToken, Lookup: func(string) Invoker { return echoInvoker{} }}, true)
	return NewEE(newClient(true), agent.URL, testToken, agent.Cert, "ee1").Invoke
}

// setupHTTP is the plain hop: one request per invoke on a pooled
// connection.
func setupHTTP(b *testing.B) func(context.Context, *runtimeapi.Invocation) error {
	agent := startAgent(b, &Handler{Token: testToken, Lookup: func(string) Invoker { return echoInvoker{} }}, false)
	return NewEE(newClient(true), agent.URL, testToken, "", "ee1").Invoke
}

// setupNATS runs the same exchange as request/reply through an embedded
// NATS server on a loopback port: one connection for the router, one for
// the agent, the invocation's fields in NATS headers.
func setupNATS(b *testing.B) func(context.Context, *runtimeapi.Invocation) error {
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		MaxPayload: 8 << 20,
		// 64 invokes of 6 MB in flight to one agent is 384 MB queued for its
		// connection: past the default 64 MB the server cuts it off as a
		// slow consumer.
		MaxPending: 1 << 30,
	})
	if err != nil {
		b.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		b.Fatal("NATS not ready")
	}
	b.Cleanup(ns.Shutdown)

	// The agent: each request runs in a goroutine of its own, as a real
	// invoke (which may last minutes) must; handlers tracks them.
	agentClosed := make(chan struct{})
	agent, err := nats.Connect(ns.ClientURL(), nats.ClosedHandler(func(*nats.Conn) { close(agentClosed) }))
	if err != nil {
		b.Fatal(err)
	}
	var handlers sync.WaitGroup
	sub, err := agent.Subscribe("hop.ee1", func(m *nats.Msg) {
		handlers.Go(func() { serveNATS(b, agent, m) })
	})
	if err != nil {
		b.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1) //nolint:errcheck
	if err := agent.Flush(); err != nil {
		b.Fatal(err)
	}
	router, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	replies, err := newNATSReplies(router)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		router.Close()
		agent.Drain() //nolint:errcheck
		<-agentClosed
		handlers.Wait()
	})
	return func(ctx context.Context, inv *runtimeapi.Invocation) error {
		msg := &nats.Msg{Subject: "hop.ee1", Data: inv.Payload, Header: nats.Header{}}
		encodeRequest(msg.Header, inv)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		resp, err := replies.request(ctx, msg)
		if err != nil {
			return err
		}
		if err := decodeResult(resp.Header, inv); err != nil {
			return err
		}
		inv.Response = resp.Data
		return nil
	}
}

// natsReplies is request/reply over one wildcard inbox subscription, as
// nats.go's RequestMsgWithContext does it, but with no pending limit: that
// one's inbox subscription keeps the default 64 MB, and 64 answers of 6 MB
// arriving together overflow it ("slow consumer, messages dropped") and
// the dropped requests time out.
type natsReplies struct {
	nc      *nats.Conn
	prefix  string
	seq     atomic.Uint64
	mu      sync.Mutex
	waiting map[string]chan *nats.Msg
}

func newNATSReplies(nc *nats.Conn) (*natsReplies, error) {
	r := &natsReplies{nc: nc, prefix: nc.NewRespInbox() + ".", waiting: make(map[string]chan *nats.Msg)}
	sub, err := nc.Subscribe(r.prefix+"*", func(m *nats.Msg) {
		token := strings.TrimPrefix(m.Subject, r.prefix)
		r.mu.Lock()
		ch := r.waiting[token]
		delete(r.waiting, token)
		r.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	})
	if err != nil {
		return nil, err
	}
	sub.SetPendingLimits(-1, -1) //nolint:errcheck
	return r, nc.Flush()
}

func (r *natsReplies) request(ctx context.Context, msg *nats.Msg) (*nats.Msg, error) {
	token := strconv.FormatUint(r.seq.Add(1), 36)
	ch := make(chan *nats.Msg, 1)
	r.mu.Lock()
	r.waiting[token] = ch
	r.mu.Unlock()
	msg.Reply = r.prefix + token
	if err := r.nc.PublishMsg(msg); err != nil {
		r.forget(token)
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		r.forget(token)
		return nil, ctx.Err()
	}
}

func (r *natsReplies) forget(token string) {
	r.mu.Lock()
	delete(r.waiting, token)
	r.mu.Unlock()
}

func serveNATS(b *testing.B, nc *nats.Conn, m *nats.Msg) {
	inv := &runtimeapi.Invocation{Payload: m.Data}
	if err := decodeRequest(m.Header, inv); err != nil {
		b.Error(err)
		return
	}
	reply := &nats.Msg{Subject: m.Reply, Header: nats.Header{}}
	if err := (echoInvoker{}).Invoke(context.Background(), inv); err != nil {
		reply.Header[hdrRefused] = []string{strings.ToLower(err.Error())}
	} else {
		encodeResult(reply.Header, inv)
		reply.Data = inv.Response
	}
	if err := nc.PublishMsg(reply); err != nil {
		b.Error(err)
	}
}
