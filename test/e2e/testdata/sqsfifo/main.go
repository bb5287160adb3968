// Command sqsfifo is a test function for Paddock's SQS FIFO mappings: for
// each record it prints "fifo <request id> <position> <body> receive <n>",
// and for the batch "batch <request id> <start> <end>" (Unix nanoseconds),
// so that a test can rebuild what each group saw and when. A record whose
// body ends in "-fail" is reported failed (ReportBatchItemFailures) on its
// first receive, and only it: the function goes on with the rest of the
// batch, as a function that ignores Lambda's advice for FIFO queues does,
// so the event source mapping must hold back the rest of the group.
package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	start := time.Now()
	id := "?"
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	var resp events.SQSEventResponse
	for i, r := range ev.Records {
		n := r.Attributes["ApproximateReceiveCount"]
		fmt.Printf("fifo %s %d %s receive %s\n", id, i, r.Body, n)
		if strings.HasSuffix(r.Body, "-fail") && n == "1" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	// A batch that takes a moment makes two batches of one group at once,
	// if the mapping ever ran them, overlap visibly.
	time.Sleep(5 * time.Millisecond)
	fmt.Printf("batch %s %d %d\n", id, start.UnixNano(), time.Now().UnixNano())
	return resp, nil
}

func main() { lambda.Start(handle) }
