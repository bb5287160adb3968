// Command sqsbatch is a test function for Paddock's SQS event source
// mappings: for each record it prints "processed <body> receive <n>", and
// it reports as failed (ReportBatchItemFailures) every record whose body
// starts with "fail" on its first receive, so that a test sees exactly
// those come back once.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		n := r.Attributes["ApproximateReceiveCount"]
		fmt.Printf("processed %s receive %s source %s\n", r.Body, n, r.EventSource)
		if strings.HasPrefix(r.Body, "fail") && n == "1" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
