package async

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the stream that holds the events not yet delivered.
const StreamName = "paddock-async"

const (
	consumerName = "paddock-async-workers"
	// ackWait is how long a delivery may go without a sign of life before
	// the engine gives its event to another worker; a delivery in progress
	// says it is alive every ackWait/3.
	ackWait = 10 * time.Second
	// maxAckPending bounds the events being delivered at once across all
	// servers.
	maxAckPending = 4096
)

// Queue is the durable queue of asynchronous events.
type Queue struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer

	received atomic.Uint64
}

// Open makes the stream (with create, which sets the engine's replica
// count) and the workers' shared consumer, or binds them.
func Open(ctx context.Context, js jetstream.JetStream, create func(context.Context, jetstream.StreamConfig) (jetstream.Stream, error)) (*Queue, error) {
	stream, err := create(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "asynchronous invokes not yet delivered",
		Subjects:    []string{subjectPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		// An API publish retried after a lost acknowledgement, or a retry
		// queued twice, is stored once (the message id).
		Duplicates: 2 * time.Minute,
		MaxMsgSize: MaxPayloadBytes + 64<<10, // the payload and its headers
	})
	if err != nil {
		return nil, err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "the servers' asynchronous invoke workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1, // an event ends by its age, not by its deliveries
		MaxAckPending: maxAckPending,
		FilterSubject: subjectPrefix + ">",
	})
	if err != nil {
		return nil, fmt.Errorf("async: consumer %s: %w", consumerName, err)
	}
	return &Queue{js: js, stream: stream, cons: cons}, nil
}

// Enqueue stores ev; it returns once the engine has it on a quorum.
func (q *Queue) Enqueue(ctx context.Context, ev *Event) error {
	if _, err := q.js.PublishMsg(ctx, ev.message()); err != nil {
		return fmt.Errorf("async: queue event %s: %w", ev.RequestID, err)
	}
	if ev.Attempt == 0 {
		q.received.Add(1)
	}
	return nil
}

// Received counts the events this server queued (not their retries).
func (q *Queue) Received() uint64 { return q.received.Load() }

// Backlog is the number of events stored and not yet done with (waiting,
// being delivered, or waiting for a retry), and the age of the oldest.
func (q *Queue) Backlog(ctx context.Context) (n uint64, oldest time.Duration, err error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	if info.State.Msgs > 0 {
		oldest = time.Since(info.State.FirstTime)
	}
	return info.State.Msgs, oldest, nil
}
