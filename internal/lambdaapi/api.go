// Package lambdaapi serves the AWS Lambda REST API: it authenticates
// requests (SigV4), decodes the wire shapes of the AWS model, calls one
// method of the control plane or the router, and encodes the answer or the
// AWS-shaped error. No rule of Lambda lives here.
package lambdaapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/awsmodel"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/meter"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/sigv4"
	"github.com/paddockhq/paddock/internal/store"
)

// Request body limits. An invoke payload is at most 6 MB; a CreateFunction
// or UpdateFunctionCode carries a zip of up to 50 MB as base64 inside JSON.
// No other operation takes more than a few KiB of JSON (environment
// variables are at most 4 KB, tags 50 pairs), so they get maxAPIBody: a
// caller that knows an access key id but not its secret cannot make every
// route buffer 70 MB before the signature is found wrong.
const (
	maxInvokeBody = 6 << 20
	maxCodeBody   = 70 << 20
	maxAPIBody    = 1 << 20
)

// bodyLimit is the largest body the operation of a route pattern takes.
func bodyLimit(op string) int64 {
	switch op {
	case "Invoke", "InvokeWithResponseStream":
		return maxInvokeBody
	case "CreateFunction", "UpdateFunctionCode", "PublishLayerVersion":
		return maxCodeBody
	}
	return maxAPIBody
}

// API is the HTTP face of Paddock.
type API struct {
	ctl       *control.Service
	router    *router.Router
	verifier  *sigv4.Verifier // nil: no authentication
	onDemand  *ondemand.Pool  // Lambda's default mode; nil: not offered
	meter     *meter.Recorder // nil: invokes are not metered
	observers []InvokeObserver
	log       *slog.Logger
	mux       *http.ServeMux
	served    []string     // the model's operations this API answers, sorted
	codes     *store.Store // Code.Location downloads (paddockcode.go); nil: none
	codeKey   []byte
	cut       atomic.Int64           // invokes the server ended before their result
	leader    Leader                 // nil: this server writes (forward.go)
	proxy     *httputil.ReverseProxy // to the leader
	cluster   ClusterSource          // nil: a single Paddock
	async     *async.Queue           // asynchronous invokes; nil: refused
	urls      URLSettings            // where function URLs are served (urlserve.go)
	schedules http.Handler           // the schedules API (/schedules...); nil: none
}

// HandleSchedules serves the schedules API (package schedulerapi) at
// /schedules on this API's port.
func (a *API) HandleSchedules(h http.Handler) { a.schedules = h }

// New returns the API handler. A nil verifier turns authentication off.
func New(ctl *control.Service, r *router.Router, verifier *sigv4.Verifier) *API {
	a := &API{ctl: ctl, router: r, verifier: verifier, log: slog.Default().With("role", "api"), mux: http.NewServeMux(), codeKey: newCodeKey()}
	ops := map[string]handler{
		"CreateCapacityProvider":                 a.createCapacityProvider,
		"ListCapacityProviders":                  a.listCapacityProviders,
		"GetCapacityProvider":                    a.getCapacityProvider,
		"UpdateCapacityProvider":                 a.updateCapacityProvider,
		"DeleteCapacityProvider":                 a.deleteCapacityProvider,
		"ListFunctionVersionsByCapacityProvider": a.listFunctionVersionsByCapacityProvider,
		"PutFunctionScalingConfig":               a.putFunctionScalingConfig,
		"GetFunctionScalingConfig":               a.getFunctionScalingConfig,
		"CreateFunction":                         a.createFunction,
		"ListFunctions":                          a.listFunctions,
		"GetFunction":                            a.getFunction,
		"GetFunctionConfiguration":               a.getFunctionConfiguration,
		"UpdateFunctionConfiguration":            a.updateFunctionConfiguration,
		"UpdateFunctionCode":                     a.updateFunctionCode,
		"DeleteFunction":                         a.deleteFunction,
		"PublishVersion":                         a.publishVersion,
		"ListVersionsByFunction":                 a.listVersionsByFunction,
		"CreateAlias":                            a.createAlias,
		"ListAliases":                            a.listAliases,
		"GetAlias":                               a.getAlias,
		"UpdateAlias":                            a.updateAlias,
		"DeleteAlias":                            a.deleteAlias,
		"Invoke":                                 a.invoke,
		"InvokeWithResponseStream":               a.invokeWithResponseStream,
		"TagResource":                            a.tagResource,
		"UntagResource":                          a.untagResource,
		"ListTags":                               a.listTags,
		"AddPermission":                          a.addPermission,
		"GetPolicy":                              a.getPolicy,
		"RemovePermission":                       a.removePermission,
		"PutFunctionConcurrency":                 a.putFunctionConcurrency,
		"GetFunctionConcurrency":                 a.getFunctionConcurrency,
		"DeleteFunctionConcurrency":              a.deleteFunctionConcurrency,
		"PutProvisionedConcurrencyConfig":        a.putProvisionedConcurrencyConfig,
		"GetProvisionedConcurrencyConfig":        a.getProvisionedConcurrencyConfig,
		"ListProvisionedConcurrencyConfigs":      a.listProvisionedConcurrencyConfigs,
		"DeleteProvisionedConcurrencyConfig":     a.deleteProvisionedConcurrencyConfig,
		"GetAccountSettings":                     a.getAccountSettings,
		"GetFunctionCodeSigningConfig":           a.getFunctionCodeSigningConfig,
		"PutFunctionCodeSigningConfig":           a.putFunctionCodeSigningConfig,
		"DeleteFunctionCodeSigningConfig":        a.deleteFunctionCodeSigningConfig,
		"GetRuntimeManagementConfig":             a.getRuntimeManagementConfig,
		"PutRuntimeManagementConfig":             a.putRuntimeManagementConfig,
		"GetFunctionRecursionConfig":             a.getFunctionRecursionConfig,
		"PutFunctionRecursionConfig":             a.putFunctionRecursionConfig,
		"PutFunctionEventInvokeConfig":           a.putFunctionEventInvokeConfig,
		"UpdateFunctionEventInvokeConfig":        a.updateFunctionEventInvokeConfig,
		"GetFunctionEventInvokeConfig":           a.getFunctionEventInvokeConfig,
		"DeleteFunctionEventInvokeConfig":        a.deleteFunctionEventInvokeConfig,
		"ListFunctionEventInvokeConfigs":         a.listFunctionEventInvokeConfigs,
		"InvokeAsync":                            a.invokeAsync,
		"CreateEventSourceMapping":               a.createEventSourceMapping,
		"GetEventSourceMapping":                  a.getEventSourceMapping,
		"UpdateEventSourceMapping":               a.updateEventSourceMapping,
		"DeleteEventSourceMapping":               a.deleteEventSourceMapping,
		"ListEventSourceMappings":                a.listEventSourceMappings,
		"CreateFunctionUrlConfig":                a.createFunctionUrlConfig,
		"GetFunctionUrlConfig":                   a.getFunctionUrlConfig,
		"UpdateFunctionUrlConfig":                a.updateFunctionUrlConfig,
		"DeleteFunctionUrlConfig":                a.deleteFunctionUrlConfig,
		"ListFunctionUrlConfigs":                 a.listFunctionUrlConfigs,
		"PublishLayerVersion":                    a.publishLayerVersion,
		"GetLayerVersion":                        a.getLayerVersion,
		"GetLayerVersionByArn":                   a.getLayerVersionByArn,
		"ListLayers":                             a.listLayers,
		"ListLayerVersions":                      a.listLayerVersions,
		"DeleteLayerVersion":                     a.deleteLayerVersion,
		"AddLayerVersionPermission":              a.addLayerVersionPermission,
		"RemoveLayerVersionPermission":           a.removeLayerVersionPermission,
		"GetLayerVersionPolicy":                  a.getLayerVersionPolicy,
	}
	a.served = a.route(ops)
	// AWS authenticates before it routes: a request for no operation is
	// 403 unsigned, 404 UnknownOperationException signed.
	a.mux.Handle("/", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		return &awserr.Error{Code: "UnknownOperationException", Status: http.StatusNotFound,
			Message: "Paddock does not implement " + r.Method + " " + r.URL.Path}
	}))
	return a
}

// route registers the handler of each operation under the model's method
// and path for it, with and without a trailing slash (older models and
// some SDKs spell ListFunctions "/2015-03-31/functions/"). Operations that
// share a method and path (GetProvisionedConcurrencyConfig and
// ListProvisionedConcurrencyConfigs) are told apart by the fixed query the
// model gives one of them. It returns the operations' names, sorted.
func (a *API) route(ops map[string]handler) []string {
	type choice struct {
		op awsmodel.Operation
		h  http.Handler
	}
	byPattern := map[string][]choice{}
	var names []string
	for name, h := range ops {
		op, ok := awsmodel.Lookup(name)
		if !ok {
			panic("lambdaapi: no operation " + name + " in the model")
		}
		names = append(names, name)
		path := muxPath(op.Path)
		patterns := []string{path}
		if !strings.HasSuffix(path, "...}") { // a greedy label takes the slash already
			patterns = append(patterns, strings.TrimSuffix(path, "/")+"/{$}")
		}
		for _, p := range patterns {
			byPattern[op.Method+" "+p] = append(byPattern[op.Method+" "+p], choice{op, a.wrap(op, h)})
		}
	}
	for pattern, cs := range byPattern {
		// The one whose fixed query matches wins; the one without a fixed query is the fallback.
		if len(cs) == 1 {
			a.mux.Handle(pattern, cs[0].h)
			continue
		}
		sort.Slice(cs, func(i, j int) bool { return len(cs[i].op.Query) > len(cs[j].op.Query) })
		a.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			for _, c := range cs {
				if queryHas(q, c.op.Query) {
					c.h.ServeHTTP(w, r)
					return
				}
			}
			cs[len(cs)-1].h.ServeHTTP(w, r)
		}))
	}
	sort.Strings(names)
	return names
}

// muxPath turns the model's greedy labels ({Arn+}) into ServeMux's ({Arn...}).
func muxPath(path string) string { return strings.ReplaceAll(path, "+}", "...}") }

func queryHas(q url.Values, fixed map[string]string) bool {
	for k, v := range fixed {
		if q.Get(k) != v {
			return false
		}
	}
	return true
}

// Operations is the names of the model's operations this API answers.
func (a *API) Operations() []string { return a.served }

// UseOnDemand runs default-mode functions (and burst overflow) on pool.
func (a *API) UseOnDemand(pool *ondemand.Pool) { a.onDemand = pool }

// UseMeter records every invoke in rec, for the bill.
func (a *API) UseMeter(rec *meter.Recorder) { a.meter = rec }

// ServeHTTP serves the Lambda API, and on the same port the function URLs
// (urlserve.go) and the schedules API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, path, ok := urlRequest(r); ok && a.ctl != nil {
		a.serveURL(w, r, id, path)
		return
	}
	if a.schedules != nil && (r.URL.Path == "/schedules" || strings.HasPrefix(r.URL.Path, "/schedules/")) {
		a.schedules.ServeHTTP(w, r)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// handler is one operation: the request's body is already read and verified.
type handler func(w http.ResponseWriter, r *http.Request, body []byte) error

// wrap authenticates the request, reads its body within its operation's
// limit, checks it against the model's constraints of op (when op is an
// operation of the model), runs h and turns its error into the AWS error
// shape.
//
// The order matters against floods: everything of the signature that does
// not need the payload (sigv4.Verifier.Begin) is checked before a byte of
// the body is read, so an unsigned or unknown-key request is answered 403
// at once, however large a body it announces (the front door then closes
// the connection rather than drain it). The body of a request that passed
// is hashed as it is read, and the signature verified at its end.
func (a *API) wrap(op awsmodel.Operation, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var pending *sigv4.Pending
		if a.verifier != nil {
			var err error
			if pending, err = a.verifier.Begin(r); err != nil {
				writeAuthError(w, err)
				return
			}
		}
		// A follower forwards writes once the signature's head is known
		// good: nothing unauthenticated travels on to the leader.
		if a.forwarded(op, w, r) {
			if pending != nil {
				pending.Abort()
			}
			return
		}
		w = a.leaderWriter(w, r)
		body, err := readBody(r, bodyLimit(op.Name), pending)
		if err != nil {
			if pending != nil {
				pending.Abort()
			}
			writeError(w, err)
			return
		}
		if pending != nil {
			if _, err := pending.Finish(); err != nil {
				writeAuthError(w, err)
				return
			}
		}
		if err := a.checkFunctionScope(op, r); err != nil {
			writeError(w, err)
			return
		}
		if op.Name != "" {
			if err := awsmodel.Validate(op.Name, awsmodel.Input{Path: r.PathValue, Query: r.URL.Query(), Header: r.Header, Body: body}); err != nil {
				writeError(w, err)
				return
			}
		}
		if err := refuseUnsupported(op.Name, body); err != nil {
			writeError(w, err)
			return
		}
		if err := h(w, r, body); err != nil && !errors.Is(err, errCallerGone) {
			writeError(w, err)
		}
	})
}

// checkFunctionScope refuses a FunctionName ARN of another region or
// account, as AWS does: functions are regional ("Functions from 'us-west-2'
// are not reachable in this region ('us-east-1')", ResourceNotFoundException,
// as AWS words it), and another account's function is not the caller's
// without a resource policy that Paddock's single account cannot have
// (AccessDeniedException).
func (a *API) checkFunctionScope(op awsmodel.Operation, r *http.Request) error {
	if a.ctl == nil {
		return nil
	}
	region, account := control.FunctionScope(r.PathValue("FunctionName"))
	if region != "" && region != a.ctl.Region() {
		return awserr.NotFound("Functions from '%s' are not reachable in this region ('%s')", region, a.ctl.Region())
	}
	if account != "" && account != a.ctl.Account() {
		action := op.Name
		if action == "Invoke" || action == "InvokeWithResponseStream" || action == "InvokeAsync" {
			action = "InvokeFunction"
		}
		return &awserr.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: "User: arn:aws:iam::" + a.ctl.Account() + ":root is not authorized to perform: lambda:" + action +
				" on resource: " + r.PathValue("FunctionName") + " because no resource-based policy allows the lambda:" + action + " action"}
	}
	return nil
}

// writeAuthError answers a failed signature check with its AWS code.
func writeAuthError(w http.ResponseWriter, err error) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		writeError(w, &awserr.Error{Code: se.Code, Status: se.Status, Message: se.Message})
	} else {
		writeError(w, &awserr.Error{Code: "InvalidSignatureException", Status: http.StatusForbidden, Message: err.Error()})
	}
}

// readBody reads r's body, refusing one over limit, and feeds it to
// pending (when not nil) as it arrives so that the payload hash is
// computed without a second pass or a second copy.
//
// A declared Content-Length within the limit is allocated at once: the
// request's head has passed authentication by then, and pages of a fresh
// allocation cost memory only as the body fills them. Nothing is read past
// the declared length (the server's body reader stops there). A body of
// unknown length (chunked) grows by doubling up to the limit.
func readBody(r *http.Request, limit int64, pending *sigv4.Pending) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(r.ContentLength, limit)
	}
	n := r.ContentLength
	if n < 0 {
		n = 512
	}
	buf := make([]byte, 0, n+1) // +1: EOF comes with the last bytes, without a regrowth
	for {
		if int64(len(buf)) > limit {
			return nil, tooLarge(int64(len(buf)), limit)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Body.Read(buf[len(buf):cap(buf)])
		if pending != nil && m > 0 {
			pending.Write(buf[len(buf) : len(buf)+m]) //nolint:errcheck // never fails
		}
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, awserr.InvalidRequestContent("could not read the request body: %v", err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, tooLarge(int64(len(buf)), limit)
	}
	return buf, nil
}

func tooLarge(n, limit int64) error {
	if limit == maxInvokeBody {
		return awserr.RequestTooLarge("Request must be smaller than %d bytes for the InvokeFunction operation", limit)
	}
	return awserr.RequestTooLarge("Request must be smaller than %d bytes", limit)
}

// writeError writes err in the AWS JSON error shape.
func writeError(w http.ResponseWriter, err error) {
	var e *awserr.Error
	if !errors.As(err, &e) {
		slog.Error("internal error", "err", err)
		e = awserr.Service("internal error: %v", err)
	}
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.Code)
	h.Set("Content-Type", "application/json")
	if e.Reason != "" {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(e.Body()) //nolint:errcheck
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, err = w.Write(data)
	if err != nil {
		return nil // the client left; nothing more to tell it
	}
	return nil
}

// decode reads a JSON request body; an empty body is an empty object.
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return awserr.InvalidRequestContent("Could not parse request body into json: %v", err)
	}
	return nil
}

// maxItems parses the MaxItems query parameter within [1, limit].
func maxItems(r *http.Request, limit int) (int, error) {
	s := r.URL.Query().Get("MaxItems")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		return 0, awserr.Validation("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and %d", s, limit)
	}
	return n, nil
}

// functionName parses the {fn} path parameter and the Qualifier query parameter.
func functionName(r *http.Request) (name, qualifier string, err error) {
	name, q, err := control.ParseFunctionName(r.PathValue("FunctionName"))
	if err != nil {
		return "", "", err
	}
	qualifier, err = control.ResolveQualifier(q, queryValue(r.URL.RawQuery, "Qualifier"))
	return name, qualifier, err
}

// queryValue is url.ParseQuery(raw).Get(key) without building the whole
// map: every invoke asks for its Qualifier.
func queryValue(raw, key string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if strings.Contains(pair, ";") {
			continue // ParseQuery refuses these pairs
		}
		k, v, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != key {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v
		}
	}
	return ""
}

// IsInvoke reports whether a request is a synchronous Invoke call by its
// method and path: the requests worth serving on a fast path.
func IsInvoke(method, path string) bool {
	const prefix, suffix = "/2015-03-31/functions/", "/invocations"
	return method == http.MethodPost && len(path) > len(prefix)+len(suffix) &&
		strings.HasPrefix(path, prefix) && strings.HasSuffix(path, suffix) &&
		!strings.Contains(path[len(prefix):len(path)-len(suffix)], "/")
}
