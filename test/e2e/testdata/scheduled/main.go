// Command scheduled is a test function for schedules: it prints the event
// it got on one line ("fired <json>"), so that a test counts its firings
// in the function's log.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, ev json.RawMessage) error {
	fmt.Printf("fired %s\n", ev)
	return nil
}

func main() { lambda.Start(handle) }
