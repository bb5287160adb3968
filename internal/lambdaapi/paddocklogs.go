package lambdaapi

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/paddockhq/paddock/internal/awsmodel"
	"net/http"
	"strconv"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/logs"
)

// LogSource is what the logs API reads from (*logs.Service implements it).
type LogSource interface {
	// Read calls fn(nil) once it is set up, then fn with each batch of
	// records q selects; see logs.Service.Read.
	Read(ctx context.Context, q logs.Query, fn func([]logs.Record) error) error
	// Exists reports whether function has kept logs.
	Exists(ctx context.Context, function string) (bool, error)
}

// defaultLogPeriod is how far back GET /paddock/v1/logs/{function} reads
// without since: the last 10 minutes, as `aws logs tail` does.
const defaultLogPeriod = 10 * time.Minute

// maxRequestIDLength bounds the requestId filter (Lambda's ids are UUIDs;
// a function's own JSON lines may carry any string).
const maxRequestIDLength = 256

// HandleLogs serves GET /paddock/v1/logs/{function}?since=&requestId=&follow=
// from src: the function's log records as NDJSON (one logs.Record a
// line), oldest first. since is a Go duration back from now (default 10m)
// or an RFC 3339 time; requestId keeps the lines of that invoke; with
// follow=true the answer stays open and each new batch is flushed as it
// is stored, until the client leaves or the server stops. Like the other
// Paddock routes it is separate from New and must be called once.
func (a *API) HandleLogs(src LogSource) {
	a.mux.Handle("GET /paddock/v1/logs/{function}", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		q, err := logQuery(r, time.Now())
		if err != nil {
			return err
		}
		// A function's logs outlive it (until retention drops them), so
		// an unknown name is an error only when nothing was kept for it:
		// then it is most likely a typo.
		if _, err := a.ctl.GetFunction(q.Function, ""); err != nil {
			ok, lookupErr := src.Exists(r.Context(), q.Function)
			if lookupErr != nil {
				return awserr.Service("%v", lookupErr)
			}
			if !ok {
				return err
			}
		}
		return a.streamLogs(w, r, src, q)
	}))
}

// logQuery reads and checks the parameters of a logs request.
func logQuery(r *http.Request, now time.Time) (logs.Query, error) {
	q := logs.Query{Function: r.PathValue("function")}
	if !logs.ValidFunctionName(q.Function) {
		return q, awserr.InvalidParameter("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{1,64}", q.Function)
	}
	params := r.URL.Query()
	since := params.Get("since")
	if since == "" {
		q.Since = now.Add(-defaultLogPeriod)
	} else {
		var err error
		if q.Since, err = parseSince(since, now); err != nil {
			return q, err
		}
	}
	q.RequestID = params.Get("requestId")
	if len(q.RequestID) > maxRequestIDLength {
		return q, awserr.InvalidParameter("requestId is longer than %d characters", maxRequestIDLength)
	}
	if f := params.Get("follow"); f != "" {
		follow, err := strconv.ParseBool(f)
		if err != nil {
			return q, awserr.InvalidParameter("follow %q must be true or false", f)
		}
		q.Follow = follow
	}
	return q, nil
}

// streamLogs answers the records as NDJSON, flushing each batch, so a
// following client sees lines as they are stored and a long history is
// never held in memory.
func (a *API) streamLogs(w http.ResponseWriter, r *http.Request, src LogSource, q logs.Query) error {
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	started := false
	err := src.Read(r.Context(), q, func(recs []logs.Record) error {
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "application/x-ndjson")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
		}
		for _, rec := range recs {
			if err := enc.Encode(rec); err != nil {
				return errCallerGone
			}
		}
		if err := rc.Flush(); err != nil {
			return errCallerGone
		}
		return nil
	})
	switch {
	case err == nil || errors.Is(err, errCallerGone):
		return err
	case !started:
		return awserr.Service("%v", err)
	}
	// The answer has begun: there is no status left to change. The client
	// sees the stream end early.
	a.log.Warn("logs stream ended early", "function", q.Function, "err", err)
	return errCallerGone
}
