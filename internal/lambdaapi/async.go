package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// UseAsync lets the API take asynchronous invokes (InvocationType Event):
// each is stored in q before the 202.
func (a *API) UseAsync(q *async.Queue) { a.async = q }

// queueEvent stores an asynchronous invoke of route and answers 202.
func (a *API) queueEvent(w http.ResponseWriter, r *http.Request, route *control.Route, qualifier string, body []byte, clientContext string) error {
	if a.async == nil {
		return awserr.Service("this Paddock has no queue for asynchronous invokes")
	}
	if len(body) > async.MaxPayloadBytes {
		return awserr.RequestTooLarge("Request must be smaller than %d bytes for the InvokeFunction operation", async.MaxPayloadBytes)
	}
	ev := &async.Event{
		RequestID: ids.New(), Function: route.FunctionName, Qualifier: qualifier, FunctionARN: route.ARN + ":" + qualifierOrLatest(qualifier),
		Payload: body, ClientContext: clientContext, TraceID: r.Header.Get("X-Amzn-Trace-Id"), Received: time.Now(),
	}
	if err := a.async.Enqueue(r.Context(), ev); err != nil {
		if r.Context().Err() != nil {
			return a.ended(r.Context())
		}
		return awserr.Service("the event could not be stored: %v", err)
	}
	w.Header()["X-Amzn-Requestid"] = []string{ev.RequestID}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func qualifierOrLatest(q string) string {
	if q == "" {
		return "$LATEST"
	}
	return q
}

// RunEvent delivers an asynchronous event through the synchronous path,
// under the same concurrency, meters and logs: async.Workers' Invoke.
func (a *API) RunEvent(ctx context.Context, ev *async.Event) async.Result {
	route, err := a.ctl.Resolve(ev.Function, ev.Qualifier)
	if err != nil {
		var e *awserr.Error
		if errors.As(err, &e) && e.Code == "ResourceNotFoundException" {
			return async.Result{Outcome: async.Gone, Err: err}
		}
		return async.Result{Outcome: async.SystemError, Err: err} // not ready yet: tried again later
	}
	invokedARN := qualifiedARN(route, ev.Qualifier)
	start := time.Now()
	inv := &runtimeapi.Invocation{
		ID: ev.RequestID, Payload: ev.Payload, Deadline: start.Add(route.Timeout), FunctionARN: invokedARN,
		ClientContext: ev.ClientContext, TraceID: ev.TraceID,
	}
	rec := InvokeRecord{Route: route, Invocation: inv, Start: start}
	err = a.run(ctx, &rec)
	res := async.Result{ExecutedVersion: route.Version, Err: err}
	switch {
	case rec.Throttled != "":
		res.Outcome = async.Throttled
	case err != nil:
		res.Outcome = async.SystemError
	case inv.FunctionError != "":
		res.Outcome, res.FunctionError, res.Response = async.FunctionError, inv.FunctionError, inv.Response
	default:
		res.Outcome, res.Response = async.Succeeded, inv.Response
	}
	return res
}

// invokeAsyncLimit is InvokeAsync's payload limit (Invoke with
// InvocationType Event takes 1 MB).
const invokeAsyncLimit = 256 << 10

// invokeAsync is the deprecated InvokeAsync: an Event invoke of the
// function (or the qualifier its ARN names), answered 202.
func (a *API) invokeAsync(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	if len(body) > invokeAsyncLimit {
		return awserr.RequestTooLarge("Request must be smaller than %d bytes for the InvokeAsync operation", invokeAsyncLimit)
	}
	if len(body) > 0 && !json.Valid(body) {
		return awserr.InvalidRequestContent("Could not parse request body into json: the payload is not valid JSON")
	}
	route, err := a.ctl.Resolve(name, q)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	return a.queueEvent(w, r, route, q, body, "")
}
