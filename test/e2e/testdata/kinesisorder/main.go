// Command kinesisorder is a test function for Paddock's Kinesis event
// source mappings: it prints "kinesis <partition key> <data> <shard>" for
// each record, in the order it got them.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, ev events.KinesisEvent) error {
	for _, r := range ev.Records {
		shard, _, _ := strings.Cut(r.EventID, ":")
		fmt.Printf("kinesis %s %s %s\n", r.Kinesis.PartitionKey, r.Kinesis.Data, shard)
	}
	return nil
}

func main() { lambda.Start(handle) }
