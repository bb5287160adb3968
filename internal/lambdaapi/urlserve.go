package lambdaapi

import (
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/functionurl"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/sigv4"
)

// URLSettings says where function URLs are served. Every Paddock serves
// them on its API port, at two addresses:
//   - path form, always: BASE/lambda-url/ID/ (BASE is the API's own URL),
//     which needs no DNS;
//   - host form, when Domain is set: SCHEME://ID.lambda-url.REGION.DOMAIN/,
//     AWS's shape (ID.lambda-url.REGION.on.aws), for a wildcard DNS name
//     (or *.localhost, which browsers and curl resolve to loopback).
//
// The FunctionUrl that the API answers is the host form when Domain is set,
// the path form otherwise.
type URLSettings struct {
	Base   string   // the API's URL, "http://host:port"
	Domain *url.URL // scheme and host (with port) under which ID.lambda-url.REGION. is served; nil: none
}

// UseFunctionURLs says where the function URLs this API answers are.
func (a *API) UseFunctionURLs(s URLSettings) { a.urls = s }

// functionURLFor is the FunctionUrl of the URL whose id is id.
func (a *API) functionURLFor(id string) string {
	if d := a.urls.Domain; d != nil {
		return d.Scheme + "://" + id + ".lambda-url." + a.region() + "." + d.Host + "/"
	}
	return strings.TrimSuffix(a.urls.Base, "/") + "/lambda-url/" + id + "/"
}

func (a *API) region() string {
	if a.ctl == nil {
		return "us-east-1"
	}
	return a.ctl.Region()
}

// urlRequest says whether r is for a function URL, and which: its id and
// the path below the URL, escaped as sent.
func urlRequest(r *http.Request) (id, path string, ok bool) {
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	p, _, _ := strings.Cut(uri, "?")
	if rest, found := strings.CutPrefix(p, "/lambda-url/"); found {
		id, sub, _ := strings.Cut(rest, "/")
		return strings.ToLower(id), "/" + sub, id != ""
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	label, after, found := strings.Cut(host, ".")
	if !found || !strings.HasPrefix(after, "lambda-url.") || label == "" {
		return "", "", false
	}
	if p == "" {
		p = "/"
	}
	return strings.ToLower(label), p, true
}

// AWS's answers at a function URL (LocalStack's recordings of AWS, see
// package functionurl): an id that names no URL, and a URL its policy
// does not open. The second is also what an AWS_IAM URL answers a request
// whose signature fails: AWS's text for that is not recorded.
const (
	urlUnknownBody   = `{"Message":null}`
	urlForbiddenBody = `{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}`
	// A function error: 502 and this text (recorded).
	urlFunctionError = "Internal Server Error"
)

// serveURL answers a request to the function URL id.
//
// Nothing is read of a request's body before its URL is known and the
// request may call it (a NONE URL that its policy opens, an AWS_IAM one
// whose signature's head is good): the front door closes a refused
// request's connection rather than drain what it announced.
func (a *API) serveURL(w http.ResponseWriter, r *http.Request, id, path string) {
	cfg, ok := a.ctl.FunctionURLByID(id)
	if !ok {
		writeURLError(w, http.StatusForbidden, "AccessDeniedException", urlUnknownBody)
		return
	}
	var cors *functionurl.Cors
	if cfg.Cors != nil {
		c := functionurl.Cors(*cfg.Cors)
		cors = &c
	}
	if cors != nil && functionurl.IsPreflight(r.Method, r.Header) {
		h := w.Header()
		for k, v := range cors.Preflight(r.Header) {
			h[k] = v
		}
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	account, caller, pending, ok := a.urlCaller(r, cfg)
	if !ok {
		writeURLError(w, http.StatusForbidden, "AccessDeniedException", urlForbiddenBody)
		return
	}
	body, err := readBody(r, maxInvokeBody, pending)
	if err != nil {
		if pending != nil {
			pending.Abort()
		}
		writeURLAWSError(w, err)
		return
	}
	if pending != nil {
		if _, err := pending.Finish(); err != nil {
			writeURLError(w, http.StatusForbidden, "AccessDeniedException", urlForbiddenBody)
			return
		}
	}
	route, err := a.ctl.Resolve(cfg.Function, cfg.Qualifier)
	if err != nil {
		writeURLAWSError(w, err)
		return
	}
	start := time.Now()
	requestID, traceID := ids.New(), r.Header.Get("X-Amzn-Trace-Id")
	if traceID == "" {
		traceID = newTraceID(start)
	}
	scheme, port := schemeAndPort(r)
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	event, err := functionurl.Event(functionurl.EventInput{
		ID: id, Domain: r.Host, Path: path, RawQuery: r.URL.RawQuery, Header: r.Header, Method: r.Method, Proto: r.Proto,
		SourceIP: sourceIP, Port: port, Scheme: scheme, Body: body, RequestID: requestID, TraceID: traceID,
		Account: account, IAM: caller, Now: start,
	})
	if err != nil {
		writeURLAWSError(w, err)
		return
	}
	if len(event) > maxInvokeBody {
		writeURLAWSError(w, tooLarge(int64(len(event)), maxInvokeBody))
		return
	}
	invokedARN := qualifiedARN(route, cfg.Qualifier)
	inv := &runtimeapi.Invocation{ID: requestID, Payload: event, Deadline: syncDeadline(start, route), FunctionARN: invokedARN, TraceID: traceID}
	out := &urlResponse{w: w, cors: cors, request: r.Header, requestID: requestID, traceID: traceID}
	if cfg.InvokeMode == "RESPONSE_STREAM" {
		inv.Stream = out
	}
	rec := InvokeRecord{Route: route, Invocation: inv, Start: start}
	err = a.run(r.Context(), &rec)
	if started, broken := out.close(); started {
		return // streamed: what the function wrote is the answer
	} else if broken {
		out.write(urlFunctionErrorReply())
		return
	}
	if err != nil {
		if !errors.Is(err, errCallerGone) {
			writeURLAWSError(w, err)
		}
		return
	}
	reply, err := functionurl.Response(inv.Response)
	if inv.FunctionError != "" || err != nil {
		reply = urlFunctionErrorReply()
	}
	out.write(reply)
}

// urlCaller says who calls the URL cfg and whether they may: anyone, on
// an AuthType NONE URL that its policy opens ("anonymous"); on an AWS_IAM
// URL, whoever signed the request's head with Paddock's keys (pending
// then checks the body's hash as it is read).
func (a *API) urlCaller(r *http.Request, cfg control.FunctionURLConfig) (account string, caller *functionurl.IAM, pending *sigv4.Pending, ok bool) {
	if cfg.AuthType != "AWS_IAM" {
		return "anonymous", nil, nil, a.ctl.AllowsPublicURL(cfg.Function, cfg.Qualifier)
	}
	account = a.ctl.Account()
	if a.verifier == nil {
		return account, nil, nil, true // --no-auth
	}
	pending, err := a.verifier.Begin(r)
	if err != nil {
		return "", nil, nil, false
	}
	caller = &functionurl.IAM{AccessKey: pending.AccessKeyID(), AccountID: account, CallerID: account,
		UserARN: "arn:aws:iam::" + account + ":root", UserID: account}
	return account, caller, pending, true
}

// schemeAndPort are the request's x-forwarded-proto and -port.
func schemeAndPort(r *http.Request) (scheme, port string) {
	scheme, port = "http", "80"
	if r.TLS != nil {
		scheme, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	return scheme, port
}

func urlFunctionErrorReply() functionurl.Reply {
	return functionurl.Reply{Status: http.StatusBadGateway, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte(urlFunctionError)}
}

// urlResponse writes a function URL's answer: whole (write), or, for a
// RESPONSE_STREAM URL, as the function streams it (WriteStream, called by
// the Runtime API while the invoke runs, until close). A streamed answer
// of type functionurl.PreludeContentType begins with its status and
// headers; any other is a 200 of its own Content-Type.
type urlResponse struct {
	w                  http.ResponseWriter
	cors               *functionurl.Cors
	request            http.Header
	requestID, traceID string

	mu      sync.Mutex
	prelude []byte // of a streamed answer, until its end arrives
	started bool   // the head is written
	broken  bool   // the stream's prelude was not valid
	done    bool   // closed, or the caller is gone
}

// WriteStream passes the next bytes of a streamed answer to the caller.
func (u *urlResponse) WriteStream(contentType string, p []byte) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done || u.broken {
		return errCallerGone
	}
	if !u.started {
		if contentType == functionurl.PreludeContentType {
			u.prelude = append(u.prelude, p...)
			head, body, ok, err := functionurl.SplitPrelude(u.prelude)
			if err != nil {
				u.broken = true
				return err
			}
			if !ok {
				return nil
			}
			u.prelude, p = nil, body
			u.begin(head)
		} else {
			u.begin(functionurl.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {cmp.Or(contentType, "application/octet-stream")}}})
		}
	}
	if len(p) == 0 {
		return nil
	}
	if _, err := u.w.Write(p); err != nil {
		u.done = true
		return err
	}
	if f, ok := u.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// close ends the streaming: it says whether the head went out, and
// whether the stream broke before it (a prelude that was not valid or
// never ended).
func (u *urlResponse) close() (started, broken bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done = true
	return u.started, u.broken || len(u.prelude) > 0
}

// begin writes the head of the answer: the function's status and
// headers, Lambda's request and trace ids, the URL's CORS headers.
func (u *urlResponse) begin(head functionurl.Reply) {
	u.started = true
	h := u.w.Header()
	for k, v := range head.Header {
		h[k] = v
	}
	h.Set("X-Amzn-Requestid", u.requestID)
	h.Set("X-Amzn-Trace-Id", u.traceID)
	if u.cors != nil {
		u.cors.Apply(u.request, h)
	}
	u.w.WriteHeader(head.Status)
}

// write sends a whole answer.
func (u *urlResponse) write(reply functionurl.Reply) {
	u.w.Header().Set("Content-Length", strconv.Itoa(len(reply.Body)))
	u.begin(reply)
	u.w.Write(reply.Body) //nolint:errcheck // the caller may have left
}

// writeURLError answers a function URL request with one of Lambda's
// fixed JSON refusals.
func writeURLError(w http.ResponseWriter, status int, code, body string) {
	h := w.Header()
	h.Set("X-Amzn-ErrorType", code)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck // the caller may have left
}

// writeURLAWSError answers with an API error in a function URL's shape
// ({"Message": ...} and X-Amzn-ErrorType, as its refusals are): a
// throttle is 429, a payload too large 413, and so on.
func writeURLAWSError(w http.ResponseWriter, err error) {
	var e *awserr.Error
	if !errors.As(err, &e) {
		e = awserr.Service("internal error: %v", err)
	}
	body, _ := json.Marshal(map[string]string{"Message": e.Message})
	writeURLError(w, e.Status, e.Code, string(body))
}

// newTraceID is an X-Ray trace id (Root=1-<epoch hex>-<96 random bits>)
// for a request that brought none.
func newTraceID(now time.Time) string {
	var b [12]byte
	rand.Read(b[:]) //nolint:errcheck // never fails
	return fmt.Sprintf("Root=1-%08x-%x", now.Unix(), b)
}
