package async

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/ids"
)

// Result is what a delivery's invoke came to.
type Result struct {
	Outcome         Outcome
	ExecutedVersion string
	FunctionError   string // "Unhandled" or "Handled" on FunctionError
	Response        []byte // the function's answer (its error JSON on FunctionError)
	Err             error  // why, on Throttled, SystemError and Gone
}

// Workers deliver the queue's events. Every server runs them; the shared
// consumer gives each event to one of them at a time.
type Workers struct {
	Queue *Queue
	// Invoke runs ev through the synchronous path under the function's
	// concurrency (its throttles are Throttled).
	Invoke func(ctx context.Context, ev *Event) Result
	// Settings are the function's event invoke config for the qualifier.
	Settings func(function, qualifier string) Settings
	// Send delivers an invocation record to a destination that is not a
	// Lambda function (an SQS queue, an SNS topic, an event bus); nil
	// refuses them.
	Send func(ctx context.Context, destination string, record []byte) error
	// SendDeadLetter gives an event up to the function's dead-letter
	// queue or topic; nil: dead letters are not sent.
	SendDeadLetter func(ctx context.Context, target string, payload []byte, dl DeadLetter) error
	// Concurrency is how many events this server delivers at once.
	Concurrency int
	Delays      Delays
	// Drain is how long deliveries in progress may go on once Run's
	// context ends, before their invokes are cut (and their events given
	// back, to run again); nil: no time.
	Drain func() time.Duration

	delivered, retried, throttled, tooOld, outOfRetries, dropped, destFailed atomic.Uint64
}

// Counts are this server's counters since start.
type Counts struct {
	Received            uint64 // events the API queued
	Delivered           uint64 // the function ran without an error
	Retried             uint64 // the function failed and the event was queued again
	Throttled           uint64 // put back: no capacity, or not run
	TooOld              uint64 // given up: older than MaximumEventAge (EventAgeExceeded)
	OutOfRetries        uint64 // given up: failed 1 + MaximumRetryAttempts times (RetriesExhausted)
	Dropped             uint64 // its function was gone, or it could not be read
	DestinationFailures uint64 // records that could not be sent
}

// Counts returns the counters.
func (w *Workers) Counts() Counts {
	return Counts{
		Received: w.Queue.Received(), Delivered: w.delivered.Load(), Retried: w.retried.Load(), Throttled: w.throttled.Load(),
		TooOld: w.tooOld.Load(), OutOfRetries: w.outOfRetries.Load(), Dropped: w.dropped.Load(), DestinationFailures: w.destFailed.Load(),
	}
}

// Backlog is the queue's (Queue.Backlog).
func (w *Workers) Backlog(ctx context.Context) (events uint64, oldest time.Duration, err error) {
	return w.Queue.Backlog(ctx)
}

func (w *Workers) log() *slog.Logger { return slog.With("role", "async") }

// Run takes and delivers events until ctx ends, then waits for the
// deliveries in progress (Drain).
func (w *Workers) Run(ctx context.Context) {
	n := max(w.Concurrency, 1)
	slots := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Invokes outlive ctx by Drain: a server that stops lets them finish.
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopDrain := context.AfterFunc(ctx, func() {
		if w.Drain == nil {
			cancel()
			return
		}
		time.AfterFunc(w.Drain(), cancel)
	})
	defer stopDrain()
	for ctx.Err() == nil {
		select { // one free slot at least, then all that are free
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1
		for free < n {
			select {
			case slots <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		batch, err := w.Queue.cons.Fetch(free, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			for range free {
				<-slots
			}
			if ctx.Err() == nil {
				w.log().Warn("take asynchronous events", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				w.deliver(ictx, msg)
			}()
		}
		for range free - got {
			<-slots
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			w.log().Warn("take asynchronous events", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

// deliver runs one event and settles its message.
func (w *Workers) deliver(ctx context.Context, msg jetstream.Msg) {
	ev, err := parseEvent(msg.Headers(), msg.Data())
	if err != nil {
		w.dropped.Add(1)
		w.log().Error("an asynchronous event cannot be read: dropped", "subject", msg.Subject(), "err", err)
		msg.Term() //nolint:errcheck // it stays until redelivered, and is dropped again
		return
	}
	now := time.Now()
	if ev.NotBefore.After(now) {
		msg.NakWithDelay(ev.NotBefore.Sub(now)) //nolint:errcheck // redelivered after ackWait otherwise
		return
	}
	s := w.Settings(ev.Function, ev.Qualifier)
	if Expired(ev, s, now) {
		w.discard(ctx, ev, s, nil, "EventAgeExceeded")
		msg.Ack() //nolint:errcheck
		return
	}
	deliveries := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		deliveries = md.NumDelivered
	}

	stop := keepAlive(msg)
	res := w.Invoke(ctx, ev)
	stop()

	d := Decide(ev, res.Outcome, deliveries, s, w.Delays, time.Now())
	switch d.Verdict {
	case Done:
		w.delivered.Add(1)
		if s.OnSuccess != "" {
			w.record(ctx, s.OnSuccess, ev, &res, "Success")
		}
		msg.Ack() //nolint:errcheck
	case Retry:
		next := *ev
		next.Attempt++
		next.NotBefore = time.Now().Add(d.Delay)
		if err := w.Queue.Enqueue(ctx, &next); err != nil {
			// Not queued: this message comes back and the attempt runs
			// again (at least once, as on Lambda).
			w.log().Warn("queue a retry", "request", ev.RequestID, "err", err)
			msg.NakWithDelay(d.Delay) //nolint:errcheck
			return
		}
		w.retried.Add(1)
		msg.Ack() //nolint:errcheck
	case Back:
		w.throttled.Add(1)
		msg.NakWithDelay(d.Delay) //nolint:errcheck
	case Discard:
		w.discard(ctx, ev, s, &res, d.Condition)
		msg.Ack() //nolint:errcheck
	case Drop:
		w.dropped.Add(1)
		w.log().Info("asynchronous event dropped: its function is gone", "function", ev.Function, "qualifier", ev.Qualifier, "request", ev.RequestID)
		msg.Ack() //nolint:errcheck
	}
}

// DeadLetter is what Lambda tells a dead-letter queue or topic besides the
// event's payload (its message attributes).
type DeadLetter struct {
	RequestID    string
	ErrorCode    int    // the last attempt's status: 200 for a function error, 429 throttled, 500 not run; 0 unknown
	ErrorMessage string // at most 1 KB
}

// deadLetter is the dead letter of ev after res (nil: not run here).
func deadLetter(ev *Event, res *Result, condition string) DeadLetter {
	dl := DeadLetter{RequestID: ev.RequestID, ErrorMessage: condition}
	if res != nil {
		switch res.Outcome {
		case FunctionError:
			dl.ErrorCode, dl.ErrorMessage = 200, string(res.Response)
		case Throttled:
			dl.ErrorCode = 429
		case SystemError:
			dl.ErrorCode = 500
		}
		if res.Err != nil && res.Outcome != FunctionError {
			dl.ErrorMessage = res.Err.Error()
		}
	}
	if len(dl.ErrorMessage) > 1024 {
		dl.ErrorMessage = dl.ErrorMessage[:1024]
	}
	return dl
}

// discard gives an event up, sending its OnFailure record if there is a
// destination, and the event to the dead-letter queue if there is one
// (both, when both are set, as Lambda does).
func (w *Workers) discard(ctx context.Context, ev *Event, s Settings, res *Result, condition string) {
	if condition == "EventAgeExceeded" {
		w.tooOld.Add(1)
	} else {
		w.outOfRetries.Add(1)
	}
	w.log().Warn("asynchronous event given up", "function", ev.Function, "request", ev.RequestID, "condition", condition, "attempts", ev.Attempt+1)
	if s.OnFailure != "" {
		w.record(ctx, s.OnFailure, ev, res, condition)
	}
	if s.DeadLetter != "" {
		err := errors.New("this Paddock sends no dead letters")
		if w.SendDeadLetter != nil {
			err = w.SendDeadLetter(ctx, s.DeadLetter, ev.Payload, deadLetter(ev, res, condition))
		}
		if err != nil {
			w.destFailed.Add(1)
			w.log().Warn("send a dead letter", "target", s.DeadLetter, "request", ev.RequestID, "err", err)
		}
	}
}

// record sends the invocation record of ev to destination: once, as
// Lambda does (a failure is counted, not retried).
func (w *Workers) record(ctx context.Context, destination string, ev *Event, res *Result, condition string) {
	rec, err := json.Marshal(newRecord(ev, res, condition, time.Now()))
	if err == nil {
		err = w.send(ctx, destination, rec)
	}
	if err != nil {
		w.destFailed.Add(1)
		w.log().Warn("send an invocation record", "destination", destination, "request", ev.RequestID, "err", err)
	}
}

func (w *Workers) send(ctx context.Context, destination string, rec []byte) error {
	if fn, qualifier, ok := lambdaDestination(destination); ok {
		return w.Queue.Enqueue(ctx, &Event{RequestID: ids.New(), Function: fn, Qualifier: qualifier, Payload: rec, Received: time.Now()})
	}
	if w.Send == nil {
		return errors.New("this Paddock sends records only to Lambda functions")
	}
	return w.Send(ctx, destination, rec)
}

// lambdaDestination is the function (and qualifier) of a Lambda function
// ARN, arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func lambdaDestination(arn string) (function, qualifier string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return "", "", false
	}
	if len(parts) == 8 {
		qualifier = parts[7]
	}
	return parts[6], qualifier, true
}

// keepAlive tells the engine every ackWait/3 that msg's delivery goes on,
// until the returned stop is called.
func keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				msg.InProgress() //nolint:errcheck // the engine redelivers it if it never hears
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
