// Command ddbstream is a test function for Paddock's DynamoDB stream
// event source mappings. A batch with a record whose new image has
// bad = true fails: it prints "ddbfail <key> <sequence number>" for that
// record and returns an error. Any other batch prints
// "ddb <key> <event name> <sequence number>" for each record, in the
// order it got them.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, ev events.DynamoDBEvent) error {
	for _, r := range ev.Records {
		if b, ok := r.Change.NewImage["bad"]; ok && b.DataType() == events.DataTypeBoolean && b.Boolean() {
			fmt.Printf("ddbfail %s %s\n", r.Change.Keys["id"].String(), r.Change.SequenceNumber)
			return errors.New("a bad record")
		}
	}
	for _, r := range ev.Records {
		fmt.Printf("ddb %s %s %s\n", r.Change.Keys["id"].String(), r.EventName, r.Change.SequenceNumber)
	}
	return nil
}

func main() { lambda.Start(handle) }
