// Command jsonlog is a test function for Paddock's logs: like a function
// written for Lambda Managed Instances, it logs JSON lines that carry the
// request id the runtime gave it, so concurrent invokes' lines can be told
// apart. Each invoke prints one JSON line with its id and the event's
// token, sleeps sleep_ms (so invokes overlap on an EE), and prints a
// second one; a "print" field is printed as a plain line in between.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Token   string `json:"token"`
	SleepMS int    `json:"sleep_ms"`
	Print   string `json:"print"`
}

type line struct {
	RequestID string `json:"requestId"`
	Message   string `json:"message"`
	Token     string `json:"token"`
}

// logLine writes one JSON line in a single write, so lines of concurrent
// invokes never interleave within a line.
func logLine(id, msg, token string) {
	data, _ := json.Marshal(line{id, msg, token})
	os.Stdout.Write(append(data, '\n')) //nolint:errcheck
}

func handle(ctx context.Context, e event) (string, error) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return "", fmt.Errorf("no Lambda context")
	}
	logLine(lc.AwsRequestID, "hello", e.Token)
	if e.Print != "" {
		fmt.Println(e.Print)
	}
	time.Sleep(time.Duration(e.SleepMS) * time.Millisecond)
	logLine(lc.AwsRequestID, "bye", e.Token)
	return lc.AwsRequestID, nil
}

func main() {
	lambda.Start(handle)
}
