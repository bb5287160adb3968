// Package logs is the function logs role: it captures every line an
// execution environment prints, adds Lambda's platform lines around each
// invoke (START, END, REPORT in Text mode; platform.start and
// platform.report in JSON mode), keeps them in a JetStream stream with
// retention by age and size, and reads them back by function, time and
// request id, once or following new lines.
//
// Lines reach the stream in batches (one message per function every
// 100 ms at most), not one fsync per line: the engine syncs every write,
// for the configuration's sake, and a chatty function must not pay that
// per line. A clean stop stores everything; a crash (kill -9) loses the
// lines not yet stored, at most the last couple of seconds (a line waits
// up to 2 s to learn its request id, see collector.go).
package logs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/agent"
)

// logger is the logs role's logger, built from the default logger when a
// line is written, so lines go through the handler `up` installs.
func logger() *slog.Logger { return slog.Default().With("role", "logs") }

// Record is one stored log line. The API answers records as NDJSON, and
// `paddock logs` decodes them with this type.
type Record struct {
	Time time.Time `json:"time"`
	// RequestID is the invoke the line belongs to: always set on platform
	// lines and on JSON lines carrying their own requestId, and set on
	// other lines when the timing says which invoke printed them.
	RequestID string `json:"requestId,omitempty"`
	EE        string `json:"ee,omitempty"`
	Stream    string `json:"stream"` // stdout, stderr or platform
	Version   string `json:"version,omitempty"`
	// Message is the line as Lambda would store it: the text as printed
	// (Text mode), or a JSON object (JSON mode).
	Message string `json:"message"`
}

// Options bound the stored logs.
type Options struct {
	Retention time.Duration // how long lines are kept (default 7 days)
	MaxBytes  int64         // how much is kept, oldest dropped first (default 1 GiB)
	// CreateStream makes the log stream with the engine's replica count
	// (store.Store.Stream); nil creates it plainly on the JetStream given.
	CreateStream func(context.Context, jetstream.StreamConfig) (jetstream.Stream, error)
}

// Defaults of Options.
const (
	DefaultRetention = 7 * 24 * time.Hour
	DefaultMaxBytes  = 1 << 30
)

// Invoke is one finished invoke, as the API's observer reports it.
type Invoke struct {
	EE           *agent.EE
	Function     string
	Version      string
	RequestID    string
	Start        time.Time // when the API received it
	Dispatched   time.Time // zero if it never reached a worker
	Answered     time.Time
	Duration     time.Duration
	InitDuration time.Duration // set on cold starts
	Timeout      time.Duration
	MemoryMB     int
	FunctionErr  string // "Unhandled" when it failed
	ErrorType    string
}

// Service is the running logs role.
type Service struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	in     inbox
	relay  func(ctx context.Context, function string, body []byte) error // an agent's (NewRelay): batches go there

	dropped  atomic.Uint64 // lines refused because the writer fell behind
	follows  context.Context
	endAll   context.CancelFunc
	usage    func(*agent.EE) int64 // resident bytes; a field so tests need no process
	retained Options
}

// event is a line or an invoke on its way to the writer.
type event struct {
	ee       *agent.EE
	stream   string
	at       time.Time
	text     string
	inFlight int
	isInvoke bool
	inv      Invoke
}

// inputBuffer is how many lines and invokes may wait for the writer. The
// sinks never block the EE's pipe reader or the invoke's answer: past
// this, lines are dropped and counted.
const inputBuffer = 16384

// inbox is where the sinks leave events for the writer, which takes them
// all at each of its ticks. Appending under a mutex costs an invoke far
// less than a channel send that wakes the writer for every invoke, and
// the writer has nothing to do with an event before its tick anyway.
type inbox struct {
	mu     sync.Mutex
	events []event
}

// put queues ev unless the inbox is full.
func (b *inbox) put(ev event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) >= inputBuffer {
		return false
	}
	b.events = append(b.events, ev)
	return true
}

// take returns the queued events and leaves spare, emptied, in their place
// (the writer hands back the slice of its previous take, so the two
// slices are reused instead of growing a new one each tick).
func (b *inbox) take(spare []event) []event {
	clear(spare)
	b.mu.Lock()
	defer b.mu.Unlock()
	evs := b.events
	b.events = spare[:0]
	return evs
}

// Open creates or updates the log stream with opts and returns the role,
// ready for Run.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Service, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	st, err := ensureStream(ctx, js, opts)
	if err != nil {
		return nil, err
	}
	follows, endAll := context.WithCancel(context.Background())
	return &Service{
		js: js, stream: st, follows: follows, endAll: endAll, retained: opts,
		usage: func(ee *agent.EE) int64 { return ee.MemoryUsed() },
	}, nil
}

// Line implements agent.OutputSink: it runs on the EE's pipe reader, so it
// only notes how many invokes the EE holds and hands the line on.
func (s *Service) Line(ee *agent.EE, stream string, at time.Time, text string) {
	s.send(event{ee: ee, stream: stream, at: at, text: text, inFlight: ee.InFlight()})
}

// Invoke takes a finished invoke; like Line it never blocks.
func (s *Service) Invoke(inv Invoke) {
	if inv.EE == nil {
		return // it never ran: Lambda logs nothing for it
	}
	s.send(event{ee: inv.EE, isInvoke: true, inv: inv})
}

func (s *Service) send(ev event) {
	if !s.in.put(ev) {
		s.dropped.Add(1)
	}
}

// Dropped is how many lines were lost since Open: refused while the
// writer was behind, dropped while the engine was, or not written. It is
// complete once Run has returned.
func (s *Service) Dropped() uint64 { return s.dropped.Load() }

// EndFollows ends every following read, so a stopping server need not
// wait for clients that would listen forever.
func (s *Service) EndFollows() { s.endAll() }

// Run writes what the sinks hand over until ctx ends, then writes what is
// left. It owns the publisher goroutine, which does the engine's slow,
// synced writes so that the collector never waits on them.
func (s *Service) Run(ctx context.Context) {
	c := newCollector()
	out := make(chan []outBatch, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.publish(out) }()
	defer func() {
		close(out)
		wg.Wait()
	}()

	tick := time.NewTicker(lateGrace)
	defer tick.Stop()
	var reported uint64
	var evs []event
	handleAll := func(now time.Time) {
		evs = s.in.take(evs)
		for i := range evs {
			s.handle(c, &evs[i], now)
		}
	}
	for {
		select {
		case now := <-tick.C:
			handleAll(now)
			c.tick(now)
			// Only when the publisher is free: a slow engine makes batches
			// bigger rather than more numerous.
			if len(out) == 0 {
				if b := c.due(now, false); len(b) > 0 {
					out <- b
				}
			}
			if d := s.dropped.Load() + c.dropped; d > reported {
				logger().Warn("function log lines dropped: the logs writer fell behind", "dropped", d-reported, "total", d)
				reported = d
			}
		case <-ctx.Done():
			// What the EEs printed before the stop is still worth keeping.
			handleAll(time.Now())
			if b := c.finish(time.Now()); len(b) > 0 {
				out <- b
			}
			s.dropped.Add(c.dropped) // so Dropped has the whole count
			return
		}
	}
}

func (s *Service) handle(c *collector, ev *event, now time.Time) {
	spec := ev.ee.Spec
	info := eeInfo{ID: spec.ID, Function: spec.FunctionName, Version: spec.Version, Format: spec.LogFormat}
	if info.Format != FormatJSON {
		info.Format = FormatText
	}
	if !ev.isInvoke {
		c.line(lineIn{ee: info, stream: ev.stream, at: ev.at, text: ev.text, inFlight: ev.inFlight}, now)
		return
	}
	inv := &ev.inv
	from, to := inv.Dispatched, inv.Answered
	if from.IsZero() {
		from = inv.Start
	}
	if to.IsZero() {
		to = from.Add(inv.Duration)
	}
	c.invoke(invokeIn{
		ee: info, function: inv.Function, from: from, to: to,
		report: Report{
			RequestID: inv.RequestID, Version: inv.Version, Duration: inv.Duration, InitDuration: inv.InitDuration,
			MemoryMB: inv.MemoryMB, MaxMemoryUsed: s.usage(inv.EE), Timeout: inv.Timeout,
			ErrorType: inv.ErrorType, Failed: inv.FunctionErr != "",
		},
	}, now)
}
