package pollers

import (
	"fmt"
	"time"
)

// Lambda's scaling of an SQS mapping's pollers.
const (
	// sqsStartPollers: "When messages are available, Lambda starts
	// processing five batches at a time with five concurrent invocations
	// of your function" (fewer when MaximumConcurrency is lower).
	sqsStartPollers = 5
	// sqsScaleUpPerMinute: "If messages are still available, Lambda
	// increases the number of processes that are reading batches by up
	// to 300 more instances per minute."
	sqsScaleUpPerMinute = 300
	// sqsMaxPollers: "The maximum number of batches that an event source
	// mapping can process simultaneously is 1,000", and
	// ScalingConfig.MaximumConcurrency's upper bound.
	sqsMaxPollers = 1000
)

// sqsLoad is what an SQS mapping's pollers saw during one period, and the
// bounds they scale in.
type sqsLoad struct {
	Pollers int           // running now
	Max     int           // MaximumConcurrency, or sqsMaxPollers when unset
	Elapsed time.Duration // since the last decision
	// Backlog counts the receives that got all the messages they asked
	// for (more were likely waiting); Empty the receives that waited a
	// whole long poll for none; Throttled the invokes the function refused
	// for want of concurrency.
	Backlog, Empty, Throttled int
	// FIFO: the queue is a FIFO queue, and Groups the message groups its
	// receives got messages of. SQS hands out one group's messages to one
	// receiver at a time, so pollers beyond the active groups only wait.
	FIFO   bool
	Groups int
}

// sqsDecision is how many pollers a mapping should run, and why.
type sqsDecision struct {
	Desired int
	Why     string
}

// scaleSQS decides the next number of pollers of an SQS mapping. The rule,
// Lambda's as far as it documents it:
//
//   - Throttles first: the function's concurrency, not the queue, is the
//     limit, so one poller goes and none is added (the pollers do not know
//     the function's concurrency; a throttle is how they learn it).
//   - Receives that came back empty after a long poll are pollers the
//     backlog does not need: that many go.
//   - Otherwise, while receives come back full (messages wait), pollers
//     are added at 300 per minute.
//   - On a FIFO queue, not beyond the message groups received in the
//     period ("for FIFO queues, concurrent invocations are capped at the
//     number of message group IDs or the maximum concurrency setting,
//     whichever is lower"), and back down to them at the same rate.
//
// "When traffic is low, Lambda scales back the processing to five
// concurrent batches": never fewer than min(5, Max) pollers.
//
// Removing a poller never interrupts a batch: the loop lets it finish its
// batch, then end.
func scaleSQS(l sqsLoad) sqsDecision {
	hi := max(l.Max, 1)
	lo := min(sqsStartPollers, hi)
	clamp := func(n int) int { return max(lo, min(hi, n)) }
	step := max(1, int(sqsScaleUpPerMinute*l.Elapsed/time.Minute))
	groups := max(lo, l.Groups)
	switch {
	case l.Pollers < lo || l.Pollers > hi:
		return sqsDecision{clamp(l.Pollers), fmt.Sprintf("kept within %d..%d", lo, hi)}
	case l.Throttled > 0:
		return sqsDecision{clamp(l.Pollers - 1), fmt.Sprintf("%d invokes throttled", l.Throttled)}
	case l.Empty > 0:
		return sqsDecision{clamp(l.Pollers - l.Empty), fmt.Sprintf("%d receives found the queue empty", l.Empty)}
	case l.FIFO && l.Pollers > groups:
		return sqsDecision{clamp(max(groups, l.Pollers-step)), fmt.Sprintf("more pollers than the %d message groups received", l.Groups)}
	case l.Backlog > 0 && l.FIFO:
		return sqsDecision{clamp(min(groups, l.Pollers+step)), fmt.Sprintf("%d full receives of %d message groups", l.Backlog, l.Groups)}
	case l.Backlog > 0:
		return sqsDecision{clamp(l.Pollers + step), fmt.Sprintf("%d full receives: messages wait", l.Backlog)}
	}
	return sqsDecision{l.Pollers, "steady"}
}
