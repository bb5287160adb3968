// Command initfail is a test function for Paddock whose every start fails
// during initialization, before it ever asks the Runtime API for an event.
// Tests use it to check how a version that cannot initialize is reported
// (Runtime.ExitError in the invoke response, the message in the logs).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// handle is never reached; it is here so the binary has the shape of a
// real function and differs from echo only in failing at init.
func handle(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	return in, nil
}

func main() {
	// Fail the way real functions do: a message on stderr, then a
	// non-zero exit, before lambda.Start contacts the Runtime API.
	fmt.Fprintln(os.Stderr, "init failed on purpose")
	os.Exit(1)

	lambda.Start(handle)
}
