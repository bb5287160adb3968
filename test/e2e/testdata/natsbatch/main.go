// Command natsbatch is a test function for Paddock's NATS event source
// mappings: for each record it prints "processed <data> delivery <n>
// source <eventSource> subject <subject> header <X-Test header>", and it
// reports as failed (ReportBatchItemFailures) every record whose data
// starts with "fail" on its first delivery, so that a test sees exactly
// those come back once.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// record is the part of Paddock's NATS record this function reads.
type record struct {
	MessageID     string              `json:"messageId"`
	EventSource   string              `json:"eventSource"`
	Subject       string              `json:"subject"`
	Data          []byte              `json:"data"`
	Headers       map[string][]string `json:"headers"`
	DeliveryCount int                 `json:"deliveryCount"`
}

func handle(_ context.Context, ev struct{ Records []record }) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, r := range ev.Records {
		header := "-"
		if h := r.Headers["X-Test"]; len(h) > 0 {
			header = h[0]
		}
		fmt.Printf("processed %s delivery %d source %s subject %s header %s\n", r.Data, r.DeliveryCount, r.EventSource, r.Subject, header)
		if strings.HasPrefix(string(r.Data), "fail") && r.DeliveryCount == 1 {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageID})
		}
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
