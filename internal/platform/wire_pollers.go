package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/destinations"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/pollers"
)

// awsConfig is the AWS SDK's configuration for the services Paddock calls
// on its users' behalf (destinations, event sources): the default chain,
// in the server's region, at Options.AWSEndpoint when set. It is loaded
// once for every role that asks.
func awsConfig(w *wiring) (aws.Config, error) {
	if w.aws == nil {
		w.aws = sync.OnceValues(func() (aws.Config, error) {
			cfg, err := awsconfig.LoadDefaultConfig(w.ctx, awsconfig.WithRegion(w.opts.Region))
			if err != nil {
				return cfg, err
			}
			if w.opts.AWSEndpoint != "" {
				cfg.BaseEndpoint = aws.String(w.opts.AWSEndpoint)
			}
			return cfg, nil
		})
	}
	return w.aws()
}

// wirePollers runs the event source mappings (internal/pollers) on the
// server that leads: each mapping's source is read by one server at a
// time, and its batches go through the synchronous invoke path.
func wirePollers(w *wiring) error {
	mg := &pollers.Manager{
		Mappings: func() []pollers.Mapping { return pollerMappings(w.ctl, w.ctl.EventSourceMappings()) },
		Changed:  w.ctl.MappingsChanged,
		Active:   w.p.leading.Load,
		Invoke: func(ctx context.Context, function, qualifier string, payload []byte) async.Result {
			return w.api.RunEvent(ctx, &async.Event{RequestID: ids.New(), Function: function, Qualifier: qualifier, Payload: payload, Received: time.Now()})
		},
	}
	if cfg, err := awsConfig(w); err != nil {
		slog.Warn("SQS, Kinesis and DynamoDB event source mappings will not run: the AWS SDK's configuration cannot be read", "err", err)
	} else {
		mg.SQS, mg.Kinesis, mg.DynamoDBStreams = sqs.NewFromConfig(cfg), kinesis.NewFromConfig(cfg), dynamodbstreams.NewFromConfig(cfg)
		mg.Send = destinations.New(cfg).Send
	}
	kv, err := w.store.KeyValue(w.ctx, jetstream.KeyValueConfig{Bucket: checkpointsBucket, Description: "event source mappings' positions in their streams (mapping.shard → sequence number)"})
	if err != nil {
		return err
	}
	mg.Checkpoints = checkpoints{kv}
	if w.opts.EventNATSURL != "" {
		nc, err := connectEventNATS(w.opts.EventNATSURL, w.opts.EventNATSCreds)
		if err != nil {
			return err
		}
		w.goroutine(func(ctx context.Context) { <-ctx.Done(); nc.Close() })
		if mg.NATS, err = jetstream.New(nc); err != nil {
			return err
		}
	}
	w.goroutine(mg.Run)
	return nil
}

// connectEventNATS connects to the users' NATS server of NATS event
// sources. A server that is down at start, or later, is retried for ever:
// the mappings wait for it, the rest of Paddock does not.
func connectEventNATS(url, creds string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("paddock event sources"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				slog.Warn("event sources' NATS server: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			slog.Info("event sources' NATS server: reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("event sources' NATS server %s: %w", url, err)
	}
	return nc, nil
}

// checkpointsBucket keeps where each mapping's pollers are in each shard.
const checkpointsBucket = "paddock-esm-checkpoints"

// checkpoints are pollers.Checkpoints in a KV bucket.
type checkpoints struct{ kv jetstream.KeyValue }

func (c checkpoints) Get(ctx context.Context, mapping, shard string) (string, error) {
	e, err := c.kv.Get(ctx, mapping+"."+shard)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

func (c checkpoints) Put(ctx context.Context, mapping, shard, seq string) error {
	_, err := c.kv.Put(ctx, mapping+"."+shard, []byte(seq))
	return err
}

// pollerMappings are the enabled mappings, as the pollers take them.
func pollerMappings(ctl *control.Service, ms []control.EventSourceMapping) []pollers.Mapping {
	var out []pollers.Mapping
	for _, m := range ms {
		if !m.Enabled {
			continue
		}
		out = append(out, pollers.Mapping{
			UUID: m.UUID, EventSourceARN: m.EventSourceARN, Function: m.FunctionName, Qualifier: m.Qualifier,
			BatchSize: m.BatchSize, MaximumBatchingWindow: m.MaximumBatchingWindow, ReportBatchItemFailures: m.ReportBatchItemFailures,
			MaximumConcurrency: m.MaximumConcurrency, FilterPatterns: m.FilterPatterns,
			StartingPosition: m.StartingPosition, StartingPositionTimestamp: m.StartingPositionTimestamp, MaximumRetryAttempts: m.MaximumRetryAttempts,
			BisectBatchOnFunctionError: m.BisectBatchOnFunctionError, MaximumRecordAge: m.MaximumRecordAge, OnFailure: m.OnFailure,
			FunctionARN: ctl.FunctionARN(m.FunctionName, m.Qualifier),
		})
	}
	return out
}
