package hop

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// MaxPayloadBytes is Lambda's synchronous invoke request limit (the same
// 6 MB the REST API takes).
const MaxPayloadBytes = 6 << 20

// maxAnswerBytes bounds what the client reads back: a function's response
// is at most runtimeapi.MaxResponseBytes, and a platform error document is
// small; the slack only keeps a broken agent from making us buffer without
// end.
const maxAnswerBytes = runtimeapi.MaxResponseBytes + 1<<20

// Header names. The request reuses the Runtime API's names; the answer has
// no Runtime API equivalent. All are in canonical form, so they index an
// http.Header (whose server side canonicalizes) and a nats.Header (which
// does not) alike.
const (
	hdrRequestID       = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline        = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	hdrClientContext   = "Lambda-Runtime-Client-Context"
	hdrCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	hdrTraceID         = "Lambda-Runtime-Trace-Id"

	hdrFunctionError = "Paddock-Function-Error"
	hdrErrorType     = "Paddock-Error-Type"
	hdrDispatched    = "Paddock-Dispatched-Ns" // unix nanoseconds
	hdrAnswered      = "Paddock-Answered-Ns"   // unix nanoseconds
	hdrWantLog       = "Paddock-Want-Log"      // "1": LogType Tail
	hdrLog           = "Paddock-Log"           // the EE's lines during the invoke, base64, at most maxLogBytes
	// hdrRefused says why the agent did not admit the invoke, so that the
	// client never mistakes some proxy's 429 or 410 for the agent's.
	hdrRefused = "Paddock-Hop-Refused"
	// A streamed answer (see Handler) says its function's Content-Type in
	// hdrStreamType; its result fields come after the body, as trailers,
	// with hdrErrorBody (base64) when the stream failed.
	hdrStreamType = "Paddock-Stream-Content-Type"
	hdrErrorBody  = "Paddock-Error-Body"
)

// Values of hdrRefused.
const (
	refusedFull   = "full"
	refusedClosed = "closed"
)

// encodeRequest writes inv's request fields (all but the payload) into h.
func encodeRequest(h map[string][]string, inv *runtimeapi.Invocation) {
	setField(h, hdrRequestID, inv.ID)
	h[hdrDeadline] = []string{strconv.FormatInt(inv.Deadline.UnixMilli(), 10)}
	setField(h, hdrFunctionARN, inv.FunctionARN)
	setField(h, hdrClientContext, inv.ClientContext)
	setField(h, hdrCognitoIdentity, inv.CognitoIdentity)
	setField(h, hdrTraceID, inv.TraceID)
	if inv.WantLog {
		h[hdrWantLog] = []string{"1"}
	}
}

// decodeRequest fills inv's request fields (all but the payload) from h.
func decodeRequest(h map[string][]string, inv *runtimeapi.Invocation) error {
	var err error
	if inv.ID, err = field(h, hdrRequestID); err != nil {
		return err
	}
	if inv.ID == "" {
		return errors.New("no " + hdrRequestID)
	}
	ms, err := strconv.ParseInt(first(h, hdrDeadline), 10, 64)
	if err != nil {
		return errors.New("bad or missing " + hdrDeadline)
	}
	inv.Deadline = time.UnixMilli(ms)
	if inv.FunctionARN, err = field(h, hdrFunctionARN); err != nil {
		return err
	}
	if inv.ClientContext, err = field(h, hdrClientContext); err != nil {
		return err
	}
	if inv.CognitoIdentity, err = field(h, hdrCognitoIdentity); err != nil {
		return err
	}
	inv.WantLog = first(h, hdrWantLog) == "1"
	inv.TraceID, err = field(h, hdrTraceID)
	return err
}

// maxLogBytes is what the tail of LogType Tail can show: Lambda's 4 KB.
const maxLogBytes = 4096

// encodeLog is the header value of the last maxLogBytes of lines.
func encodeLog(lines []string) string {
	s := strings.Join(lines, "\n")
	if len(s) > maxLogBytes {
		s = s[len(s)-maxLogBytes:]
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

func decodeLog(v string) ([]string, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) > maxLogBytes {
		return nil, errors.New("bad " + hdrLog)
	}
	if len(b) == 0 {
		return []string{}, nil
	}
	return strings.Split(string(b), "\n"), nil
}

// encodeResult writes inv's result fields (all but the response body) into h.
func encodeResult(h map[string][]string, inv *runtimeapi.Invocation) {
	setField(h, hdrFunctionError, inv.FunctionError)
	setField(h, hdrErrorType, inv.ErrorType)
	setTime(h, hdrDispatched, inv.Dispatched())
	setTime(h, hdrAnswered, inv.Answered)
	if inv.Log != nil {
		h[hdrLog] = []string{encodeLog(inv.Log)}
	}
}

// decodeResult fills inv's result fields (all but the response body) from h.
func decodeResult(h map[string][]string, inv *runtimeapi.Invocation) error {
	var err error
	if inv.FunctionError, err = field(h, hdrFunctionError); err != nil {
		return err
	}
	if inv.ErrorType, err = field(h, hdrErrorType); err != nil {
		return err
	}
	dispatched, err := timeField(h, hdrDispatched)
	if err != nil {
		return err
	}
	inv.SetDispatched(dispatched)
	if inv.Answered, err = timeField(h, hdrAnswered); err != nil {
		return err
	}
	if v := first(h, hdrLog); v != "" {
		inv.Log, err = decodeLog(v)
	}
	return err
}

func first(h map[string][]string, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// b64Prefix marks a value sent in base64: one that a header cannot carry
// as is (control bytes, non-ASCII, edge spaces that HTTP trims), or that
// begins with the prefix itself. Function-supplied strings such as an
// errorType can be anything; the common values go through untouched.
const b64Prefix = "b64:"

func setField(h map[string][]string, name, v string) {
	if v == "" {
		return
	}
	if !headerSafe(v) {
		v = b64Prefix + base64.StdEncoding.EncodeToString([]byte(v))
	}
	h[name] = []string{v}
}

func field(h map[string][]string, name string) (string, error) {
	v := first(h, name)
	if !strings.HasPrefix(v, b64Prefix) {
		return v, nil
	}
	b, err := base64.StdEncoding.DecodeString(v[len(b64Prefix):])
	if err != nil {
		return "", errors.New("bad base64 in " + name)
	}
	return string(b), nil
}

func headerSafe(v string) bool {
	if v[0] == ' ' || v[len(v)-1] == ' ' || strings.HasPrefix(v, b64Prefix) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func setTime(h map[string][]string, name string, t time.Time) {
	if !t.IsZero() {
		h[name] = []string{strconv.FormatInt(t.UnixNano(), 10)}
	}
}

func timeField(h map[string][]string, name string) (time.Time, error) {
	v := first(h, name)
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("bad " + name)
	}
	return time.Unix(0, n), nil
}
