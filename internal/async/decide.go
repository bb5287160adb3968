package async

import "time"

// Settings are a function's asynchronous invoke settings (its event invoke
// config, or Lambda's defaults).
type Settings struct {
	MaximumRetryAttempts int           // 0–2; Lambda's default 2
	MaximumEventAge      time.Duration // 60 s – 6 h; Lambda's default 6 h
	OnSuccess, OnFailure string        // destination ARNs; "" for none
	DeadLetter           string        // the function's DeadLetterConfig target; "" for none
}

// DefaultSettings are Lambda's when a function has no event invoke config.
var DefaultSettings = Settings{MaximumRetryAttempts: 2, MaximumEventAge: 6 * time.Hour}

// Delays are Lambda's waits between deliveries of an event.
type Delays struct {
	// FunctionError[i] is the wait before retry i+1 after the function
	// failed: one minute, then two, on Lambda.
	FunctionError [2]time.Duration
	// A throttle or a system error puts the event back for ThrottleBase,
	// doubling with each delivery up to ThrottleMax: 1 s to 5 min on
	// Lambda, until the event is too old.
	ThrottleBase, ThrottleMax time.Duration
}

// LambdaDelays are the waits Lambda documents.
var LambdaDelays = Delays{FunctionError: [2]time.Duration{time.Minute, 2 * time.Minute}, ThrottleBase: time.Second, ThrottleMax: 5 * time.Minute}

// Outcome is how one delivery of an event ended.
type Outcome int

const (
	Succeeded     Outcome = iota // the function answered without an error
	FunctionError                // the function ran and failed (Unhandled or Handled)
	Throttled                    // no capacity: it did not run
	SystemError                  // Paddock failed to run it (it did not run, or may not have)
	Gone                         // the function or its qualifier no longer exists
)

// Verdict is what to do with an event after a delivery.
type Verdict int

const (
	Done    Verdict = iota // delivered: send the OnSuccess record, if any
	Retry                  // the function failed: queue attempt+1 after Delay
	Back                   // throttled or not run: deliver the same event again after Delay
	Discard                // too old or out of retries: send the OnFailure record (Condition)
	Drop                   // its function is gone: nothing to tell
)

// Decision is a Verdict with its wait or its reason.
type Decision struct {
	Verdict   Verdict
	Delay     time.Duration
	Condition string // Discard: "RetriesExhausted" or "EventAgeExceeded", as in Lambda's records
}

// Decide is what follows a delivery of ev that ended with o, the
// deliveries-th delivery of its message (1 for the first), at now.
func Decide(ev *Event, o Outcome, deliveries uint64, s Settings, d Delays, now time.Time) Decision {
	switch o {
	case Succeeded:
		return Decision{Verdict: Done}
	case Gone:
		return Decision{Verdict: Drop}
	case FunctionError:
		if ev.Attempt >= s.MaximumRetryAttempts || ev.Attempt >= len(d.FunctionError) {
			return Decision{Verdict: Discard, Condition: "RetriesExhausted"}
		}
		wait := d.FunctionError[ev.Attempt]
		if now.Add(wait).Sub(ev.Received) > s.MaximumEventAge {
			return Decision{Verdict: Discard, Condition: "EventAgeExceeded"}
		}
		return Decision{Verdict: Retry, Delay: wait}
	default: // Throttled, SystemError
		wait := d.ThrottleBase
		for i := uint64(1); i < deliveries && wait < d.ThrottleMax; i++ {
			wait *= 2
		}
		wait = min(wait, d.ThrottleMax)
		left := ev.Received.Add(s.MaximumEventAge).Sub(now)
		if left <= 0 {
			return Decision{Verdict: Discard, Condition: "EventAgeExceeded"}
		}
		// Tried until it is too old: the last wait ends at its maximum
		// age, when the delivery finds it expired (Expired).
		return Decision{Verdict: Back, Delay: min(wait, left+time.Millisecond)}
	}
}

// Expired reports whether ev is too old to deliver at all.
func Expired(ev *Event, s Settings, now time.Time) bool {
	return now.Sub(ev.Received) > s.MaximumEventAge
}
