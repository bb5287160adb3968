// Command streamer is a test function for response streaming: it writes
// its answer in parts, a pause between them, so that a test can see the
// first part arrive before the function is done.
//
// Invoked with a function URL's event it answers as an HTTP response
// (status 201, a header, a cookie: aws-lambda-go's streaming response
// with its prelude); any other event gets the bare bytes. With "fail" in
// the URL's path or {"fail":true} as the event, it fails after the first
// part (the error goes in the stream's trailers).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

const parts, pause = 3, time.Second

// body writes the parts through a pipe as time passes.
func body(fail bool) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for i := 1; i <= parts; i++ {
			if i > 1 {
				time.Sleep(pause)
			}
			fmt.Fprintf(pw, "part %d at %d\n", i, time.Now().UnixMilli())
			if fail {
				pw.CloseWithError(errors.New("failed while streaming"))
				return
			}
		}
		pw.Close()
	}()
	return pr
}

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var ev struct {
		RawPath *string `json:"rawPath"`
		Fail    bool    `json:"fail"`
	}
	json.Unmarshal(raw, &ev) //nolint:errcheck
	if ev.RawPath != nil {
		return &events.LambdaFunctionURLStreamingResponse{
			StatusCode: 201, Headers: map[string]string{"Content-Type": "text/plain", "X-Streamed": "yes"}, Cookies: []string{"s=1"},
			Body: body(strings.Contains(*ev.RawPath, "fail")),
		}, nil
	}
	return body(ev.Fail), nil
}

func main() { lambda.Start(handle) }
