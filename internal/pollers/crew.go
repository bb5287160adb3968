package pollers

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// crew is the pollers of a queue mapping (SQS, NATS): as many as scaleSQS
// decides every scalePeriod from what they saw, each taking a batch and
// handling it, then the next. A poller leaves only between batches: a
// batch it took is always handled.
type crew struct {
	max  int  // MaximumConcurrency, or Lambda's limit
	fifo bool // the queue hands a message group to one receiver at a time
	log  *slog.Logger

	// running is the pollers alive and target how many there should be:
	// a poller whose batch is done leaves when running > target.
	running, target atomic.Int64
	// What the pollers saw since the last decision (sqsLoad's counts).
	backlog, empty, throttled atomic.Int64
	groupsMu                  sync.Mutex
	groups                    map[string]struct{} // FIFO: message groups received
}

// maxPollers is a mapping's ScalingConfig.MaximumConcurrency, or Lambda's
// limit.
func maxPollers(m Mapping) int {
	if m.MaximumConcurrency > 0 {
		return min(m.MaximumConcurrency, sqsMaxPollers)
	}
	return sqsMaxPollers
}

// run keeps the pollers' number at scaleSQS's decision until ctx ends, each
// poller calling batch in a loop, and waits for them to end. batch takes
// one batch, hands it to the function and settles it; an error (the
// source could not be read) is logged and the poller waits, doubling up
// to 30 s, before the next.
func (c *crew) run(ctx context.Context, batch func(context.Context) error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	c.groups = map[string]struct{}{}
	d := scaleSQS(sqsLoad{Max: c.max, FIFO: c.fifo})
	last := time.Now()
	tick := time.NewTicker(scalePeriod)
	defer tick.Stop()
	for {
		c.target.Store(int64(d.Desired))
		for n := c.running.Load(); n < int64(d.Desired); n = c.running.Load() {
			if c.running.CompareAndSwap(n, n+1) {
				wg.Go(func() { c.poll(ctx, batch) })
			}
		}
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			c.groupsMu.Lock()
			groups := len(c.groups)
			clear(c.groups)
			c.groupsMu.Unlock()
			next := scaleSQS(sqsLoad{
				Pollers: int(c.running.Load()), Max: c.max, Elapsed: now.Sub(last), FIFO: c.fifo, Groups: groups,
				Backlog: int(c.backlog.Swap(0)), Empty: int(c.empty.Swap(0)), Throttled: int(c.throttled.Swap(0)),
			})
			if next.Desired != d.Desired {
				c.log.Debug("pollers", "from", d.Desired, "to", next.Desired, "why", next.Why)
			}
			d, last = next, now
		}
	}
}

// poll calls batch until ctx ends or there are more pollers than the
// target.
func (c *crew) poll(ctx context.Context, batch func(context.Context) error) {
	wait := time.Second
	for {
		if ctx.Err() != nil {
			c.running.Add(-1)
			return
		}
		if c.leave() {
			return
		}
		if err := batch(ctx); err != nil {
			if ctx.Err() == nil {
				c.log.Warn("receive", "err", err)
				sleep(ctx, wait) //nolint:errcheck // the loop checks ctx
				wait = min(2*wait, 30*time.Second)
			}
			continue
		}
		wait = time.Second
	}
}

// leave reports whether this poller should end, there being more than the
// target, and if so counts it out.
func (c *crew) leave() bool {
	for {
		n := c.running.Load()
		if n <= c.target.Load() {
			return false
		}
		if c.running.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// received counts what one receive got: nothing after a whole long poll
// (a poller too many), or all it asked for (messages likely wait).
func (c *crew) received(n int, full bool) {
	switch {
	case n == 0:
		c.empty.Add(1)
	case full:
		c.backlog.Add(1)
	}
}

// sawGroup records a FIFO message group received in this period.
func (c *crew) sawGroup(g string) {
	c.groupsMu.Lock()
	c.groups[g] = struct{}{}
	c.groupsMu.Unlock()
}
