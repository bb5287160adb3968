package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/paddockhq/paddock/internal/agent"
)

// An agent on another machine collects its EEs' lines as the servers do,
// but does not write the log stream itself: an agent may only say what
// its own EEs printed. It sends each batch to RelaySubject + its host id,
// with the function in a header; a server checks that the host runs that
// function and writes the batch to the stream, then answers.
const (
	RelaySubject   = "paddock.logs."
	functionHeader = "Paddock-Function"
	errorHeader    = "Paddock-Error"
)

// NewRelay is a Service that collects lines and invokes like the servers'
// and hands each batch to publish instead of writing the stream; it
// cannot be read from.
func NewRelay(publish func(ctx context.Context, function string, body []byte) error) *Service {
	follows, endAll := context.WithCancel(context.Background())
	return &Service{relay: publish, follows: follows, endAll: endAll,
		usage: func(ee *agent.EE) int64 { return ee.MemoryUsed() }}
}

// RelayTo is the publish of an agent's relay Service: a request on nc
// to the servers' relay, for host.
func RelayTo(nc *nats.Conn, host string) func(ctx context.Context, function string, body []byte) error {
	return func(ctx context.Context, function string, body []byte) error {
		m := nats.NewMsg(RelaySubject + host)
		m.Header.Set(functionHeader, function)
		m.Data = body
		resp, err := nc.RequestMsgWithContext(ctx, m)
		if err != nil {
			return err
		}
		if e := resp.Header.Get(errorHeader); e != "" {
			return errors.New(e)
		}
		return nil
	}
}

// ServeRelay writes the batches agents send, for the functions serves
// says their host runs, until ctx ends. One server takes each batch.
func (s *Service) ServeRelay(ctx context.Context, nc *nats.Conn, serves func(host, function string) bool) error {
	sub, err := nc.QueueSubscribe(RelaySubject+"*", "paddock-logs-relay", func(m *nats.Msg) {
		host := m.Subject[len(RelaySubject):]
		function := m.Header.Get(functionHeader)
		answer := nats.NewMsg(m.Reply)
		switch {
		case !ValidFunctionName(function):
			answer.Header.Set(errorHeader, fmt.Sprintf("%q is not a function name", function))
		case !serves(host, function):
			answer.Header.Set(errorHeader, fmt.Sprintf("host %s runs no EE of %s", host, function))
			slog.Warn("an agent sent logs of a function it does not run", "role", "logs", "host", host, "function", function)
		default:
			pctx, cancel := context.WithTimeout(ctx, publishTimeout)
			_, err := s.js.Publish(pctx, subject(function), m.Data)
			cancel()
			if err != nil {
				answer.Header.Set(errorHeader, "write the log stream: "+err.Error())
			}
		}
		m.RespondMsg(answer) //nolint:errcheck // the agent counts the batch lost
	})
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		sub.Unsubscribe() //nolint:errcheck
	}()
	return nil
}
