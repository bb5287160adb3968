package lambdaapi

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// invokeWithResponseStream is InvokeWithResponseStream: the function's
// answer goes to the caller as it is written, in the AWS event stream
// framing the SDKs decode: PayloadChunk events with the bytes, then one
// InvokeComplete (ErrorCode and ErrorDetails when the function failed,
// LogResult for LogType Tail).
//
// Bytes flow as they come, from an EE of this process and from one behind
// the hop on another host alike (package hop streams the answer, chunked);
// an answer that arrives whole (a function error) is one PayloadChunk.
func (a *API) invokeWithResponseStream(w http.ResponseWriter, r *http.Request, body []byte) error {
	req, done, err := a.readInvoke(w, r, body, "RequestResponse", "DryRun")
	if err != nil || done {
		return err
	}
	route, logType := req.route, req.logType
	start := time.Now()
	inv := req.invocation(r, start)
	es := &eventStream{w: w, version: route.Version, requestID: inv.ID}
	inv.Stream = es
	rec := InvokeRecord{Route: route, Invocation: inv, Start: start}
	err = a.run(r.Context(), &rec)
	started := es.close()
	if err != nil && !started {
		return err // nothing sent yet: an AWS error, as Invoke answers
	}
	if !started {
		es.begin()
	}
	var complete struct {
		ErrorCode    string `json:",omitempty"`
		ErrorDetails string `json:",omitempty"`
		LogResult    string `json:",omitempty"`
	}
	switch {
	case err != nil:
		complete.ErrorCode, complete.ErrorDetails = "ServiceException", err.Error()
	case inv.FunctionError != "":
		var doc struct {
			ErrorMessage string `json:"errorMessage"`
		}
		json.Unmarshal(inv.Response, &doc) //nolint:errcheck // a document without a message has none
		complete.ErrorCode, complete.ErrorDetails = inv.ErrorType, doc.ErrorMessage
	case len(inv.Response) > 0:
		es.event("PayloadChunk", "application/octet-stream", inv.Response) // an answer that came whole
	}
	if logType == "Tail" {
		complete.LogResult = tail(rec.EE, inv, route, start, rec.InitDuration)
	}
	payload, _ := json.Marshal(complete)
	es.event("InvokeComplete", "application/json", payload)
	return nil
}

// eventStream writes an invoke's answer as AWS event stream messages. Its
// WriteStream is called by the Runtime API while the invoke runs; close
// ends that (a late write is refused), after which the handler writes the
// rest alone.
type eventStream struct {
	w                  http.ResponseWriter
	version, requestID string
	enc                *eventstream.Encoder

	mu      sync.Mutex
	started bool // the response's head is written
	closed  bool
	failed  bool // the caller is gone
}

// WriteStream sends p as a PayloadChunk.
func (es *eventStream) WriteStream(_ string, p []byte) error {
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.closed || es.failed {
		return errCallerGone
	}
	if !es.started {
		es.begin()
	}
	if err := es.event("PayloadChunk", "application/octet-stream", p); err != nil {
		es.failed = true
		return err
	}
	return nil
}

// close stops the Runtime API's writes and says whether the head went out.
func (es *eventStream) close() bool {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.closed = true
	return es.started
}

// begin writes the response's head.
func (es *eventStream) begin() {
	es.started = true
	h := es.w.Header()
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	h.Set("X-Amz-Executed-Version", es.version)
	h.Set("X-Amzn-Requestid", es.requestID)
	es.w.WriteHeader(http.StatusOK)
}

// event writes one event message and flushes it to the caller.
func (es *eventStream) event(eventType, contentType string, payload []byte) error {
	if es.enc == nil {
		es.enc = eventstream.NewEncoder()
	}
	msg := eventstream.Message{Payload: payload}
	msg.Headers.Set(":event-type", eventstream.StringValue(eventType))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Headers.Set(":content-type", eventstream.StringValue(contentType))
	if err := es.enc.Encode(es.w, msg); err != nil {
		return err
	}
	if f, ok := es.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}
