package functionurl

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
)

// PreludeContentType is the Content-Type of a streamed answer that begins
// with its HTTP status and headers: a JSON prelude, eight NUL bytes, then
// the body (aws-lambda-go's LambdaFunctionURLStreamingResponse and the
// Node.js runtime's HttpResponseStream write it).
const PreludeContentType = "application/vnd.awslambda.http-integration-response"

// maxPrelude bounds the JSON prelude of a streamed answer.
const maxPrelude = 64 << 10

var preludeEnd = make([]byte, 8)

// ErrBadPrelude is a prelude that is not a JSON object of statusCode,
// headers and cookies, or that has no end within 64 KB.
var ErrBadPrelude = errors.New("functionurl: the streamed response's prelude is not valid")

// SplitPrelude looks for the end of a streamed answer's prelude in what
// has arrived so far. Until it is there, done is false (feed more). Then
// head is the response's status and headers and body what followed.
func SplitPrelude(buf []byte) (head Reply, body []byte, done bool, err error) {
	i := bytes.Index(buf, preludeEnd)
	if i < 0 {
		if len(buf) > maxPrelude {
			return Reply{}, nil, false, ErrBadPrelude
		}
		return Reply{}, nil, false, nil
	}
	var p struct {
		StatusCode json.RawMessage   `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Cookies    []string          `json:"cookies"`
	}
	if err := json.Unmarshal(buf[:i], &p); err != nil {
		return Reply{}, nil, false, ErrBadPrelude
	}
	head = Reply{Status: http.StatusOK, Header: http.Header{}}
	if len(p.StatusCode) > 0 {
		if head.Status, err = statusCode(p.StatusCode); err != nil {
			return Reply{}, nil, false, ErrBadPrelude
		}
	}
	for k, v := range p.Headers {
		head.Header.Set(k, v)
	}
	for _, c := range p.Cookies {
		head.Header.Add("Set-Cookie", c)
	}
	if head.Header.Get("Content-Type") == "" {
		head.Header.Set("Content-Type", "application/octet-stream")
	}
	return head, buf[i+len(preludeEnd):], true, nil
}
