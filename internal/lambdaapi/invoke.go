package lambdaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// tailer is an EE that can return the output printed during an invoke.
type tailer interface {
	LogsBetween(from, to time.Time) []string
}

func (a *API) invoke(w http.ResponseWriter, r *http.Request, body []byte) error {
	name, q, err := functionName(r)
	if err != nil {
		return err
	}
	h := r.Header
	invocationType := h.Get("X-Amz-Invocation-Type")
	switch invocationType {
	case "", "RequestResponse", "DryRun":
	case "Event":
		return awserr.InvalidParameter("Asynchronous invocation (InvocationType Event) is not supported by Paddock yet.")
	default:
		return awserr.InvalidParameter("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", invocationType)
	}
	logType := h.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		return awserr.InvalidParameter("1 validation error detected: Value '%s' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]", logType)
	}
	clientContext := h.Get("X-Amz-Client-Context")
	if clientContext != "" {
		if len(clientContext) > 3583 {
			return awserr.InvalidParameter("Client context must be a base64 string of at most 3583 bytes.")
		}
		decoded, err := base64.StdEncoding.DecodeString(clientContext)
		var compact bytes.Buffer
		if err != nil || json.Compact(&compact, decoded) != nil {
			return awserr.InvalidParameter("Client context must be a valid Base64-encoded JSON object.")
		}
		// Compact JSON has no raw line breaks, so it is safe in the
		// Lambda-Runtime-Client-Context header it travels in.
		clientContext = compact.String()
	}
	if len(body) > 0 && !json.Valid(body) {
		return awserr.InvalidRequestContent("Could not parse request body into json: the payload is not valid JSON")
	}
	route, err := a.ctl.Resolve(name, q)
	if err != nil {
		return err
	}
	if invocationType == "DryRun" {
		w.Header().Set("X-Amz-Executed-Version", route.Version)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	invokedARN := route.ARN
	if q != "" {
		invokedARN += ":" + q
	}
	start := time.Now()
	inv := &runtimeapi.Invocation{
		ID:            ids.New(),
		Payload:       body,
		Deadline:      start.Add(route.Timeout),
		FunctionARN:   invokedARN,
		ClientContext: clientContext,
		TraceID:       h.Get("X-Amzn-Trace-Id"),
	}
	target, err := a.router.Invoke(r.Context(), route.Key, inv)
	if errors.Is(err, router.ErrThrottled) {
		return awserr.TooManyRequests("ConcurrentInvocationLimitExceeded", "Rate Exceeded.")
	}
	if err != nil {
		if r.Context().Err() != nil {
			return nil // the caller hung up: nobody to answer
		}
		return awserr.Service("invoke failed: %v", err)
	}
	out := w.Header()
	out["Content-Type"] = []string{"application/json"}
	out["X-Amz-Executed-Version"] = []string{route.Version}
	out["X-Amzn-Requestid"] = []string{inv.ID}
	if inv.FunctionError != "" {
		out["X-Amz-Function-Error"] = []string{inv.FunctionError}
	}
	if logType == "Tail" {
		out["X-Amz-Log-Result"] = []string{tail(target, inv, route.Version, start)}
	}
	out["Content-Length"] = []string{strconv.Itoa(len(inv.Response))}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.Response) //nolint:errcheck // the caller may have left
	return nil
}

// tailLogGrace lets the output reader catch up with lines printed just
// before the function answered.
const tailLogGrace = 20 * time.Millisecond

// tail returns the last 4 KB of the invoke's log, base64, as Lambda's
// X-Amz-Log-Result: the EE's output while the invoke ran, between the
// platform's START and END/REPORT lines.
func tail(target router.Target, inv *runtimeapi.Invocation, version string, start time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "START RequestId: %s Version: %s\n", inv.ID, version)
	if t, ok := target.(tailer); ok && !inv.Dispatched.IsZero() {
		end := inv.Answered
		if end.IsZero() {
			end = time.Now()
		}
		time.Sleep(tailLogGrace)
		for _, line := range t.LogsBetween(inv.Dispatched, end.Add(tailLogGrace)) {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	d := time.Since(start)
	fmt.Fprintf(&b, "END RequestId: %s\n", inv.ID)
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\n", inv.ID,
		float64(d.Microseconds())/1000, (d.Milliseconds() + 1))
	s := b.String()
	if len(s) > 4096 {
		s = s[len(s)-4096:]
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}
