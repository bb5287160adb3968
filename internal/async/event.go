// Package async is Lambda's asynchronous invocation. Queue keeps each
// event in a JetStream work-queue stream, on a quorum of the engine before
// the API answers 202, so that an acknowledged event survives kill -9 of
// any server; Workers, on every server, take events from one shared
// consumer and deliver them through the synchronous invoke path, retry
// them as Lambda does (Decide), and send invocation records to the
// function's destinations.
package async

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// MaxPayloadBytes is Lambda's limit on an asynchronous invoke's payload.
const MaxPayloadBytes = 1 << 20

// Event is one asynchronous invoke, as queued. The payload is the
// message's body and the rest its headers, so that a payload of
// MaxPayloadBytes fits a message without an encoding that grows it.
type Event struct {
	RequestID     string
	Function      string
	Qualifier     string // "" for the unqualified function
	FunctionARN   string // the ARN invoked, qualified ($LATEST when it was not), as records name it
	Payload       []byte
	ClientContext string // compact JSON, as the Runtime API passes it
	TraceID       string
	Received      time.Time // when the API accepted it: its age counts from here
	// Attempt counts the function's failed attempts before this one:
	// 0, then 1 and 2 for Lambda's retries.
	Attempt int
	// NotBefore holds a retry back until its delay has passed.
	NotBefore time.Time
}

const (
	hdrRequestID     = "Paddock-Request-Id"
	hdrFunction      = "Paddock-Function"
	hdrQualifier     = "Paddock-Qualifier"
	hdrFunctionARN   = "Paddock-Function-Arn"
	hdrClientContext = "Paddock-Client-Context"
	hdrTraceID       = "Paddock-Trace-Id"
	hdrReceived      = "Paddock-Received"
	hdrAttempt       = "Paddock-Attempt"
	hdrNotBefore     = "Paddock-Not-Before"
)

// subjectPrefix + function is where a function's events go.
const subjectPrefix = "paddock.async."

// message is ev as a message of the stream. Its id makes a publish that is
// retried (or a retry republished twice) one message.
func (ev *Event) message() *nats.Msg {
	m := nats.NewMsg(subjectPrefix + ev.Function)
	m.Data = ev.Payload
	h := m.Header
	h.Set(nats.MsgIdHdr, ev.RequestID+"/"+strconv.Itoa(ev.Attempt))
	h.Set(hdrRequestID, ev.RequestID)
	h.Set(hdrFunction, ev.Function)
	h.Set(hdrReceived, ev.Received.UTC().Format(time.RFC3339Nano))
	if ev.FunctionARN != "" {
		h.Set(hdrFunctionARN, ev.FunctionARN)
	}
	if ev.Qualifier != "" {
		h.Set(hdrQualifier, ev.Qualifier)
	}
	if ev.ClientContext != "" {
		h.Set(hdrClientContext, ev.ClientContext)
	}
	if ev.TraceID != "" {
		h.Set(hdrTraceID, ev.TraceID)
	}
	if ev.Attempt > 0 {
		h.Set(hdrAttempt, strconv.Itoa(ev.Attempt))
	}
	if !ev.NotBefore.IsZero() {
		h.Set(hdrNotBefore, ev.NotBefore.UTC().Format(time.RFC3339Nano))
	}
	return m
}

// parseEvent reads an event back from its message's headers and body.
func parseEvent(h nats.Header, data []byte) (*Event, error) {
	ev := &Event{
		RequestID: h.Get(hdrRequestID), Function: h.Get(hdrFunction), Qualifier: h.Get(hdrQualifier),
		FunctionARN:   h.Get(hdrFunctionARN),
		ClientContext: h.Get(hdrClientContext), TraceID: h.Get(hdrTraceID), Payload: data,
	}
	if ev.RequestID == "" || ev.Function == "" {
		return nil, errors.New("async: an event without its request id or function")
	}
	var err error
	if ev.Received, err = time.Parse(time.RFC3339Nano, h.Get(hdrReceived)); err != nil {
		return nil, fmt.Errorf("async: event %s: received: %w", ev.RequestID, err)
	}
	if a := h.Get(hdrAttempt); a != "" {
		if ev.Attempt, err = strconv.Atoi(a); err != nil || ev.Attempt < 0 {
			return nil, fmt.Errorf("async: event %s: attempt %q", ev.RequestID, a)
		}
	}
	if nb := h.Get(hdrNotBefore); nb != "" {
		if ev.NotBefore, err = time.Parse(time.RFC3339Nano, nb); err != nil {
			return nil, fmt.Errorf("async: event %s: not before: %w", ev.RequestID, err)
		}
	}
	return ev, nil
}
