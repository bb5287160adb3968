package lambdaapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// tailer is an EE that can return the output printed during an invoke.
type tailer interface {
	LogsBetween(from, to time.Time) []string
}

func (a *API) invoke(w http.ResponseWriter, r *http.Request, body []byte) error {
	req, done, err := a.readInvoke(w, r, body, "Event", "RequestResponse", "DryRun")
	if err != nil || done {
		return err
	}
	if req.invocationType == "Event" {
		return a.queueEvent(w, r, req.route, req.qualifier, req.payload, req.clientContext)
	}
	route, logType := req.route, req.logType
	start := time.Now()
	inv := req.invocation(r, start)
	rec := InvokeRecord{Route: route, Invocation: inv, Start: start}
	if err := a.run(r.Context(), &rec); err != nil {
		return err
	}
	target, initDuration := rec.EE, rec.InitDuration
	out := w.Header()
	out["Content-Type"] = jsonContentType
	out["X-Amz-Executed-Version"] = []string{route.Version}
	out["X-Amzn-Requestid"] = []string{inv.ID}
	if inv.FunctionError != "" {
		out["X-Amz-Function-Error"] = []string{inv.FunctionError}
	}
	if logType == "Tail" {
		out["X-Amz-Log-Result"] = []string{tail(target, inv, route, start, initDuration)}
	}
	out["Content-Length"] = []string{strconv.Itoa(len(inv.Response))}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.Response) //nolint:errcheck // the caller may have left
	return nil
}

// qualifiedARN is the ARN an invoke of route names: qualified when the
// caller named a qualifier (the function sees it as its
// invoked_function_arn).
func qualifiedARN(route *control.Route, qualifier string) string {
	if qualifier == "" {
		return route.ARN
	}
	return route.ARN + ":" + qualifier
}

// syncDeadline is a synchronous invoke's deadline: the function's
// Timeout, but at most 900 s (an LMI function's Timeout up to 5,400 s is
// for its asynchronous and event source mapping invokes).
func syncDeadline(start time.Time, route *control.Route) time.Time {
	return start.Add(min(route.Timeout, control.MaxSyncTimeout*time.Second))
}

// invokeRequest is an Invoke or InvokeWithResponseStream request, read
// and its function resolved.
type invokeRequest struct {
	route          *control.Route
	qualifier      string
	invocationType string
	logType        string
	clientContext  string // decoded and compacted
	payload        []byte // "{}" when the request had none
}

// readInvoke reads what Invoke and InvokeWithResponseStream share: the
// function, X-Amz-Invocation-Type (one of types, or none), X-Amz-Log-Type,
// X-Amz-Client-Context and a JSON payload, and resolves the function. It
// answers a DryRun itself (done).
func (a *API) readInvoke(w http.ResponseWriter, r *http.Request, body []byte, types ...string) (req invokeRequest, done bool, err error) {
	name, q, err := functionName(r)
	if err != nil {
		return req, false, err
	}
	h := r.Header
	req.qualifier, req.invocationType = q, h.Get("X-Amz-Invocation-Type")
	if req.invocationType != "" && !slices.Contains(types, req.invocationType) {
		return req, false, awserr.Validation("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [%s]", req.invocationType, strings.Join(types, ", "))
	}
	req.logType = h.Get("X-Amz-Log-Type")
	if req.logType != "" && req.logType != "None" && req.logType != "Tail" {
		return req, false, awserr.Validation("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", req.logType)
	}
	if cc := h.Get("X-Amz-Client-Context"); cc != "" {
		if len(cc) > 3583 {
			return req, false, awserr.InvalidParameter("Client context must be a base64 string of at most 3583 bytes.")
		}
		decoded, err := base64.StdEncoding.DecodeString(cc)
		var compact bytes.Buffer
		if err != nil || json.Compact(&compact, decoded) != nil {
			return req, false, awserr.InvalidParameter("Client context must be a valid Base64-encoded JSON object.")
		}
		// Compact JSON has no raw line breaks, so it is safe in the
		// Lambda-Runtime-Client-Context header it travels in.
		req.clientContext = compact.String()
	}
	if len(body) > 0 && !json.Valid(body) {
		return req, false, awserr.InvalidRequestContent("Could not parse request body into json: the payload is not valid JSON")
	}
	if req.route, err = a.ctl.Resolve(name, q); err != nil {
		return req, false, err
	}
	if req.invocationType == "DryRun" {
		w.Header().Set("X-Amz-Executed-Version", req.route.Version)
		w.WriteHeader(http.StatusNoContent)
		return req, true, nil
	}
	req.payload = body
	if len(body) == 0 {
		req.payload = []byte("{}")
	}
	return req, false, nil
}

// invocation is the synchronous invocation of req, started at start.
func (req *invokeRequest) invocation(r *http.Request, start time.Time) *runtimeapi.Invocation {
	return &runtimeapi.Invocation{
		ID:            ids.New(),
		Payload:       req.payload,
		Deadline:      syncDeadline(start, req.route),
		FunctionARN:   qualifiedARN(req.route, req.qualifier),
		ClientContext: req.clientContext,
		TraceID:       r.Header.Get("X-Amzn-Trace-Id"),
		WantLog:       req.logType == "Tail",
	}
}

// run dispatches rec's invocation and tells the meter and the observers
// how it went: the synchronous and the asynchronous invokes' common path.
func (a *API) run(ctx context.Context, rec *InvokeRecord) error {
	inv := rec.Invocation
	err := a.dispatch(ctx, rec)
	rec.Duration = time.Since(rec.Start)
	if !inv.Dispatched().IsZero() && !inv.Answered.IsZero() {
		rec.Duration = inv.Answered.Sub(inv.Dispatched()) // the function's own time, as Lambda bills
	}
	if err == nil && a.meter != nil {
		a.meter.Invoke(rec.Route.FunctionName, rec.Duration, rec.Overflow)
	}
	if err == nil || rec.Throttled != "" {
		for _, o := range a.observers {
			o.ObserveInvoke(*rec)
		}
	}
	return err
}

// jsonContentType is shared by every invoke's answer rather than allocated
// for each; net/http only reads it.
var jsonContentType = []string{"application/json"}

// tail returns the last 4 KB of the invoke's log, base64, as Lambda's
// X-Amz-Log-Result: the EE's output while the invoke ran, between the
// platform's START and END/REPORT lines.
func tail(target router.Target, inv *runtimeapi.Invocation, route *control.Route, start time.Time, initDuration time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "START RequestId: %s Version: %s\n", inv.ID, route.Version)
	lines := inv.Log // an EE on another machine: its agent sent them (WantLog)
	if t, ok := target.(tailer); ok && !inv.Dispatched().IsZero() {
		lines = t.LogsBetween(inv.Dispatched(), inv.OutputEnd())
	}
	for _, line := range lines {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	d := time.Since(start)
	fmt.Fprintf(&b, "END RequestId: %s\n", inv.ID)
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB", inv.ID,
		float64(d.Microseconds())/1000, billedMs(d), route.Config.MemorySize)
	if initDuration > 0 {
		fmt.Fprintf(&b, "\tInit Duration: %.2f ms", float64(initDuration.Microseconds())/1000)
	}
	b.WriteByte('\n')
	s := b.String()
	if len(s) > 4096 {
		s = s[len(s)-4096:]
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// InvokeRecord is one invoke as observers (metrics, logs) see it, after
// it finished or was throttled.
type InvokeRecord struct {
	Route        *control.Route
	Invocation   *runtimeapi.Invocation // its result fields are set unless Throttled
	Start        time.Time              // when the API received it
	Duration     time.Duration          // the function's time (or the whole, if it never ran)
	EE           router.Target          // the EE that ran it, if any
	InitDuration time.Duration          // set when it was a cold start
	Overflow     bool                   // an LMI invoke served by an on-demand EE
	Throttled    string                 // the throttle Reason when it was refused
}

// InvokeObserver is told about every invoke; it must return quickly (the
// invoke's answer waits for it): count, or hand off to a goroutine.
type InvokeObserver interface {
	ObserveInvoke(InvokeRecord)
}

// Observe adds an observer of every invoke.
func (a *API) Observe(o InvokeObserver) { a.observers = append(a.observers, o) }

// dispatch runs rec's invoke on the route's EEs, its on-demand pool, or
// (burst overflow) both in turn, and fills rec with how it went.
func (a *API) dispatch(ctx context.Context, rec *InvokeRecord) error {
	route, inv := rec.Route, rec.Invocation
	if route.OnDemand {
		res, err := a.invokeOnDemand(ctx, route, inv, false)
		rec.EE, rec.InitDuration = eeTarget(res), res.InitDuration
		rec.Throttled = throttleReason(err)
		return err
	}
	t, err := a.router.Invoke(ctx, route.Key, inv)
	rec.EE = t
	if errors.Is(err, router.ErrThrottled) && route.Overflow && a.onDemand != nil {
		// Burst overflow: what the fleet refuses runs on demand.
		res, err := a.invokeOnDemand(ctx, route, inv, true)
		rec.EE, rec.InitDuration, rec.Overflow = eeTarget(res), res.InitDuration, err == nil
		rec.Throttled = throttleReason(err)
		return err
	}
	switch {
	case errors.Is(err, router.ErrThrottled):
		rec.Throttled = "ConcurrentInvocationLimitExceeded"
		if a.router.Len(route.Key) == 0 {
			// No EE of the version is ready: its capacity is starting. The
			// version stays Active, as on AWS, where a version does not go
			// back to Pending when its capacity is lost; the Reason stays one
			// the API model lists, and the message says what is going on.
			return awserr.TooManyRequests(rec.Throttled, "Rate Exceeded. No execution environment of this version is ready: its capacity is starting (after a restart, a publish or the loss of an instance). Retry shortly.")
		}
		return awserr.TooManyRequests(rec.Throttled, "Rate Exceeded.")
	case err != nil && ctx.Err() != nil:
		return a.ended(ctx)
	case err != nil:
		return awserr.Service("invoke failed: %v", err)
	}
	return nil
}

// throttleReason is the Reason of a throttle error, or "".
func throttleReason(err error) string {
	var e *awserr.Error
	if errors.As(err, &e) && e.Code == "TooManyRequestsException" {
		return e.Reason
	}
	return ""
}

// invokeOnDemand runs inv in the default mode's pool and maps its throttles.
func (a *API) invokeOnDemand(ctx context.Context, route *control.Route, inv *runtimeapi.Invocation, overflow bool) (ondemand.Result, error) {
	if a.onDemand == nil {
		return ondemand.Result{}, awserr.Service("this Paddock runs no default-mode execution environments")
	}
	var res ondemand.Result
	var err error
	if overflow {
		res, err = a.onDemand.InvokeOverflow(ctx, route, inv)
	} else {
		res, err = a.onDemand.Invoke(ctx, route, inv)
	}
	switch {
	case errors.Is(err, ondemand.ErrReservedLimit):
		return res, awserr.TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.")
	case errors.Is(err, ondemand.ErrAccountLimit):
		return res, awserr.TooManyRequests("ConcurrentInvocationLimitExceeded", "Rate Exceeded.")
	case err != nil && ctx.Err() != nil:
		return res, a.ended(ctx)
	case err != nil:
		return res, awserr.Service("invoke failed: %v", err)
	}
	return res, nil
}

// errCallerGone ends a request whose caller hung up: nothing is written.
var errCallerGone = errors.New("caller hung up")

// ended is the error of an invoke whose context ended before its result.
// A context canceled plainly is the caller hanging up (net/http cancels
// it when the connection closes): nothing is written. Any other cause is
// the server ending the invoke (frontdoor.ErrServerAbort at shutdown): the
// caller is still there, and must learn that the invoke failed, never get
// an empty answer it would take for a success. It is counted (CutInvokes).
func (a *API) ended(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == context.Canceled {
		return errCallerGone
	}
	a.cut.Add(1)
	return awserr.Service("The invoke was cut short: %v.", cause)
}

// CutInvokes is the number of invokes the server ended before their
// result (see ended): at shutdown, those the drain window did not let
// finish.
func (a *API) CutInvokes() int64 { return a.cut.Load() }

func eeTarget(res ondemand.Result) router.Target {
	if res.EE == nil {
		return nil
	}
	return res.EE
}

// billedMs rounds a duration up to the millisecond, as Lambda bills.
func billedMs(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
