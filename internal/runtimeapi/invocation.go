package runtimeapi

import (
	"sync/atomic"
	"time"
)

// Invoke lifecycle states. Exactly one of the terminal states wins, by
// compare-and-swap, so an invoke gets exactly one answer.
const (
	stateQueued     int32 = iota // admitted, waiting for a worker's /next
	stateDispatched              // handed to a worker
	stateAnswered                // /response or /error arrived in time
	stateAbandoned               // timed out, client gone or EE died: a later answer is dropped
)

// Error types a caller sees in Invocation.ErrorType, with AWS's names.
const (
	ErrorTypeTimeout          = "Sandbox.Timedout"
	ErrorTypeExit             = "Runtime.ExitError"
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
	ErrorTypeOutOfMemory      = "Runtime.OutOfMemory"
)

// MaxResponseBytes is Lambda's synchronous response limit.
const MaxResponseBytes = 6 << 20

// MaxStreamedResponseBytes is Lambda's limit on a streamed response
// (InvokeWithResponseStream, RESPONSE_STREAM function URLs): 200 MB.
const MaxStreamedResponseBytes = 200 << 20

// A ResponseStream takes the bytes of a streamed answer in order. It is
// called from the Runtime API's connection, and may be called after the
// invoke ended (one that timed out while it streamed): its owner makes
// it refuse bytes from then on. An error stops the stream; the rest of
// the answer is read and dropped.
type ResponseStream interface {
	// WriteStream takes the next bytes; contentType is the answer's.
	WriteStream(contentType string, p []byte) error
}

// Invocation is one invoke on its way through an EE. The caller fills the
// request fields; the EE fills the result fields before Invoke returns.
type Invocation struct {
	ID              string
	Payload         []byte
	Deadline        time.Time
	FunctionARN     string // the ARN the caller invoked (qualified)
	ClientContext   string
	CognitoIdentity string
	TraceID         string
	// WantLog asks an EE behind a hop for its output while the invoke ran
	// (LogType Tail), which comes back in Log.
	WantLog bool
	// Stream, when set, takes a streamed answer as it arrives (a /response
	// with a chunked body: every answer of aws-lambda-go, whose body has
	// no length): InvokeWithResponseStream and RESPONSE_STREAM URLs. The
	// answer's Response then stays empty unless the stream failed. Nil:
	// the answer is collected into Response, whatever its framing.
	Stream ResponseStream

	// Response is the function's answer: its result, or with FunctionError
	// set, the error document {"errorMessage","errorType",...}.
	Response []byte
	// FunctionError is "Unhandled" when the function (or the platform on its
	// behalf: timeout, crash) failed the invoke; empty on success.
	FunctionError string
	// ErrorType is the errorType of a failed invoke.
	ErrorType string
	// Answered is when the runtime answered (zero if it did not in time).
	Answered time.Time
	// Log is the EE's output while the invoke ran, as a hop carried it
	// back (WantLog); nil from an EE of this process, which has its own.
	Log []string

	// dispatched (unix ns) is written by the worker's /next while the
	// caller may already have given up and be reading it: hence atomic.
	dispatched atomic.Int64

	state atomic.Int32
	done  chan struct{}
}

// outputGrace is how far past the answer a line still counts as the
// invoke's: the pipe reader stamps lines when it reads them, and a line
// the function wrote just before it answered may be read a little after.
// A LogType Tail invoke waits that long for such lines (seen missing from
// the tail under load when it did not).
const outputGrace = 50 * time.Millisecond

// OutputEnd waits until the invoke's output is complete (a grace past
// its answer) and returns when that is, for LogType Tail.
func (inv *Invocation) OutputEnd() time.Time {
	end := inv.Answered
	if end.IsZero() {
		end = time.Now()
	}
	end = end.Add(outputGrace)
	time.Sleep(time.Until(end))
	return end
}

// Dispatched is when a worker took the invoke (zero if none did).
func (inv *Invocation) Dispatched() time.Time {
	if n := inv.dispatched.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// SetDispatched records when a worker took the invoke, for a hop that ran
// the invoke elsewhere and carries its times back; the zero time clears it.
func (inv *Invocation) SetDispatched(t time.Time) {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	}
	inv.dispatched.Store(n)
}
