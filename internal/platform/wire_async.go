package platform

import (
	"context"
	"log/slog"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/destinations"
)

// defaultAsyncConcurrency is how many asynchronous events a server
// delivers at once when Options.AsyncConcurrency is zero.
const defaultAsyncConcurrency = 64

// wireAsync takes asynchronous invokes: the API stores each event in the
// paddock-async stream before its 202, and every server's workers deliver
// them, retry them and send their records (internal/async).
func wireAsync(w *wiring) error {
	q, err := async.Open(w.ctx, w.store.JetStream(), w.store.Stream)
	if err != nil {
		return err
	}
	w.api.UseAsync(q)
	w.async = q
	delays := async.LambdaDelays
	if w.opts.AsyncDelays != nil {
		delays = *w.opts.AsyncDelays
	}
	workers := &async.Workers{
		Queue:  q,
		Invoke: w.api.RunEvent,
		Settings: func(function, qualifier string) async.Settings {
			return async.Settings(w.ctl.AsyncSettings(function, qualifier))
		},
		Concurrency: w.opts.AsyncConcurrency,
		Delays:      delays,
		Drain:       w.p.ShutdownTimeout,
	}
	// Records for SQS, SNS and EventBridge go through their APIs.
	if cfg, err := awsConfig(w); err != nil {
		slog.Warn("asynchronous invocation records can go only to Lambda functions: the AWS SDK's configuration cannot be read", "err", err)
	} else {
		sender := destinations.New(cfg)
		workers.Send, workers.SendDeadLetter = sender.Send, sender.SendDeadLetter
	}
	if workers.Concurrency <= 0 {
		workers.Concurrency = defaultAsyncConcurrency
	}
	w.p.async = workers
	// Close stops the workers first, so that their deliveries drain while
	// the API's invokes do.
	actx, stop := context.WithCancel(w.ctx)
	w.p.stopAsync = stop
	w.goroutine(func(context.Context) { workers.Run(actx) })
	return nil
}

// AsyncCounts are this server's asynchronous invoke counters.
func (p *Platform) AsyncCounts() async.Counts {
	if p.async == nil {
		return async.Counts{}
	}
	return p.async.Counts()
}
