// Command urlecho is a test function for Paddock's function URLs: what it
// answers depends on the request's path.
//
//	/echo...      the event it got, as the JSON body of a 200
//	/status/N     status N with a custom header and two cookies
//	/binary       a base64 body (bytes 0..255) of type application/octet-stream
//	/plain        a bare JSON string ("hello"), no HTTP shape
//	/fail         a function error
//	anything else {"path": <rawPath>}, no HTTP shape
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	switch p := ev.RawPath; {
	case strings.HasPrefix(p, "/echo"):
		return events.LambdaFunctionURLResponse{StatusCode: 200, Body: string(raw), Headers: map[string]string{"Content-Type": "application/json"}}, nil
	case strings.HasPrefix(p, "/status/"):
		n, _ := strconv.Atoi(strings.TrimPrefix(p, "/status/"))
		return events.LambdaFunctionURLResponse{StatusCode: n, Body: "status " + strconv.Itoa(n),
			Headers: map[string]string{"Content-Type": "text/plain", "X-Custom": "yes", "Access-Control-Allow-Origin": "https://from-the-function.example"},
			Cookies: []string{"a=1; Path=/", "b=2"}}, nil
	case p == "/binary":
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return events.LambdaFunctionURLResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString(b), IsBase64Encoded: true,
			Headers: map[string]string{"Content-Type": "application/octet-stream"}}, nil
	case p == "/plain":
		return "hello", nil
	case p == "/fail":
		return nil, errors.New("failed on purpose")
	default:
		return map[string]string{"path": p}, nil
	}
}

func main() { lambda.Start(handle) }
