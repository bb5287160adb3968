package functionurl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Reply is the HTTP response a function's answer becomes.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// ErrBadResponse is a function answer that names an HTTP response Lambda
// cannot give (a statusCode that is not a status, a body that says it is
// base64 and is not): the caller answers it as a function error (502).
var ErrBadResponse = errors.New("functionurl: the function's response is not a valid HTTP response")

// httpResponse is the answer of a function that shapes its HTTP response.
type httpResponse struct {
	StatusCode      json.RawMessage   `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            json.RawMessage   `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Cookies         []string          `json:"cookies"`
}

// Response maps a function's answer to its HTTP response, as Lambda does:
//   - a JSON object with a statusCode is the response: its statusCode
//     (a number or a string of one), headers, cookies (each a Set-Cookie)
//     and body (decoded from base64 when isBase64Encoded);
//   - any other JSON is the body of a 200: a JSON string its text, anything
//     else as the function returned it (recorded: {"hello":"world"},
//     ["hello",3,true], 3, 3.1, true; "hello" answers hello);
//   - what is not JSON is the body as it is;
//   - a streamed answer with its prelude (see SplitPrelude), collected
//     whole, is the response its prelude says.
//
// Content-Type is application/json unless the function set one.
func Response(payload []byte) (Reply, error) {
	// A streamed answer collected whole (a streaming handler behind a
	// BUFFERED URL): its prelude is its head.
	if bytes.Contains(payload, preludeEnd) {
		if head, body, done, err := SplitPrelude(payload); done && err == nil {
			head.Body = body
			return head, nil
		}
	}
	reply := Reply{Status: http.StatusOK, Header: http.Header{}}
	trimmed := bytes.TrimSpace(payload)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		var r httpResponse
		if json.Unmarshal(trimmed, &r) == nil && len(r.StatusCode) > 0 && string(r.StatusCode) != "null" {
			return shaped(r)
		}
		reply.Body = payload
	case len(trimmed) > 0 && trimmed[0] == '"':
		var s string
		if json.Unmarshal(trimmed, &s) == nil {
			reply.Body = []byte(s)
		} else {
			reply.Body = payload
		}
	default:
		reply.Body = payload
	}
	reply.Header.Set("Content-Type", "application/json")
	return reply, nil
}

func shaped(r httpResponse) (Reply, error) {
	status, err := statusCode(r.StatusCode)
	if err != nil {
		return Reply{}, err
	}
	reply := Reply{Status: status, Header: http.Header{}}
	for k, v := range r.Headers {
		reply.Header.Set(k, v)
	}
	for _, c := range r.Cookies {
		reply.Header.Add("Set-Cookie", c)
	}
	if reply.Header.Get("Content-Type") == "" {
		reply.Header.Set("Content-Type", "application/json")
	}
	body := bytes.TrimSpace(r.Body)
	switch {
	case len(body) == 0 || string(body) == "null":
	case body[0] == '"':
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return Reply{}, ErrBadResponse
		}
		reply.Body = []byte(s)
		if r.IsBase64Encoded {
			if reply.Body, err = base64.StdEncoding.DecodeString(s); err != nil {
				return Reply{}, ErrBadResponse
			}
		}
	default: // a body that is not a string: its JSON
		reply.Body = body
	}
	return reply, nil
}

// statusCode reads a statusCode given as a number or as a string of one.
func statusCode(raw json.RawMessage) (int, error) {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, ErrBadResponse
	}
	return n, nil
}
