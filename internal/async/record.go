package async

import (
	"encoding/json"
	"time"
)

// Record is Lambda's invocation record, the body a destination receives
// (the shape of AWS's "Capturing records of Lambda asynchronous
// invocations").
type Record struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  RequestContext   `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *ResponseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
}

// RequestContext is the record's account of the event.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"` // Success, RetriesExhausted, EventAgeExceeded
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the record's account of the function's last answer.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// newRecord is the record of ev after res (nil when it never ran), sent
// for condition at now.
func newRecord(ev *Event, res *Result, condition string, now time.Time) Record {
	r := Record{
		Version:   "1.0",
		Timestamp: now.UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RequestContext{
			RequestID: ev.RequestID, FunctionARN: ev.FunctionARN, Condition: condition, ApproximateInvokeCount: ev.Attempt + 1,
		},
		RequestPayload: jsonOrString(ev.Payload),
	}
	if res == nil || res.Outcome == Throttled || res.Outcome == SystemError {
		// The last delivery did not run the function: it ran only for the
		// attempts before this one.
		r.RequestContext.ApproximateInvokeCount = ev.Attempt
	}
	if res != nil && (res.Outcome == Succeeded || res.Outcome == FunctionError) {
		r.ResponseContext = &ResponseContext{StatusCode: 200, ExecutedVersion: res.ExecutedVersion, FunctionError: res.FunctionError}
		r.ResponsePayload = jsonOrString(res.Response)
	}
	return r
}

// jsonOrString is b as JSON: itself when it is JSON, else a JSON string;
// null when empty.
func jsonOrString(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b))
	return s
}
