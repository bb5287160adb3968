package platform

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/meter"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/scaler"
	"github.com/paddockhq/paddock/internal/sigv4"
	"github.com/paddockhq/paddock/internal/store"
)

// wiring is what the optional roles (logs, metrics, console) plug into.
// Each has its own wire function in its own file; Start calls them in
// order before any loop runs, so what they register is in place when the
// first EE starts.
type wiring struct {
	ctx     context.Context // ends when the platform stops
	opts    Options
	store   *store.Store
	ctl     *control.Service
	loop    *scaler.Loop
	pool    *ondemand.Pool
	meter   *meter.Recorder
	api     *lambdaapi.API
	outputs *fanout // add agent.OutputSinks here
	p       *Platform
	aws     func() (aws.Config, error) // awsConfig's, once loaded
	verify  *sigv4.Verifier            // the API's (nil: --no-auth)
	async   *async.Queue               // set by wireAsync
}

// goroutine runs fn until the platform stops; Close waits for it.
func (w *wiring) goroutine(fn func(ctx context.Context)) {
	w.p.wg.Add(1)
	go func() { defer w.p.wg.Done(); fn(w.ctx) }()
}

// onClose runs fn at Close, after every goroutine has stopped.
func (w *wiring) onClose(fn func()) { w.p.closers = append(w.p.closers, fn) }

// fanout passes each EE output line to every sink added before start.
type fanout struct {
	mu    sync.RWMutex
	sinks []agent.OutputSink
}

func (f *fanout) add(s agent.OutputSink) {
	f.mu.Lock()
	f.sinks = append(f.sinks, s)
	f.mu.Unlock()
}

// Line implements agent.OutputSink.
func (f *fanout) Line(ee *agent.EE, stream string, at time.Time, text string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.sinks {
		s.Line(ee, stream, at, text)
	}
}
