package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The stream holds every function's lines, one subject per function so a
// reader asks the engine for one function's messages only.
const (
	streamName    = "paddock-logs"
	subjectPrefix = "logs."
)

// publishTimeout bounds one synced write; past it the batch is reported
// lost rather than holding up the ones behind it.
const publishTimeout = 10 * time.Second

// readMargin is how far before since a read starts in the stream: a
// message is stamped when it is published, up to holdMax and a flush
// after its oldest line was read. Records are then filtered by their own
// time.
const readMargin = 30 * time.Second

// validName matches Lambda function names, which are also safe as one
// subject token (no dots, spaces or wildcards).
var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidFunctionName reports whether name can have logs.
func ValidFunctionName(name string) bool { return validName.MatchString(name) }

func subject(function string) string { return subjectPrefix + function }

func ensureStream(ctx context.Context, js jetstream.JetStream, opts Options) (jetstream.Stream, error) {
	create := opts.CreateStream
	if create == nil {
		create = js.CreateOrUpdateStream
	}
	st, err := create(ctx, jetstream.StreamConfig{
		Name:        streamName,
		Description: "Function logs: NDJSON batches of records, one subject per function",
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      opts.Retention,
		MaxBytes:    opts.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("open log stream %s: %w", streamName, err)
	}
	return st, nil
}

// publish writes batches until out is closed.
func (s *Service) publish(out <-chan []outBatch) {
	for batches := range out {
		for _, b := range batches {
			ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
			var err error
			if s.relay != nil {
				err = s.relay(ctx, b.function, b.body)
			} else {
				_, err = s.js.Publish(ctx, subject(b.function), b.body)
			}
			cancel()
			if err != nil {
				s.dropped.Add(uint64(b.lines))
				logger().Warn("function log lines lost", "function", b.function, "lines", b.lines, "err", err)
			}
		}
	}
}

// Query selects records to read.
type Query struct {
	Function  string
	Since     time.Time // zero: from the oldest kept
	RequestID string    // "": every record
	Follow    bool      // keep reading new records until the context ends
}

// Exists reports whether function has any kept log.
func (s *Service) Exists(ctx context.Context, function string) (bool, error) {
	if !ValidFunctionName(function) {
		return false, nil
	}
	_, err := s.stream.GetLastMsgForSubject(ctx, subject(function))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up logs of %s: %w", function, err)
	}
	return true, nil
}

// Read calls fn with the records q selects, in the order they were
// stored, one stored batch at a time. It first calls fn(nil) once it is
// set up, so a caller can answer before any record exists. Without Follow
// it returns when it has read what was stored when it started; with
// Follow it returns nil when ctx ends or EndFollows is called. An error
// from fn ends the read and is returned.
func (s *Service) Read(ctx context.Context, q Query, fn func([]Record) error) error {
	if !ValidFunctionName(q.Function) {
		return fmt.Errorf("invalid function name %q", q.Function)
	}
	subj := subject(q.Function)
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !q.Since.IsZero() {
		start := q.Since.Add(-readMargin)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	// Where "what was stored when it started" ends: the consumer would
	// otherwise wait forever for a message past the last one.
	var lastSeq uint64
	last, err := s.stream.GetLastMsgForSubject(ctx, subj)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("read logs of %s: %w", q.Function, err)
	case cfg.OptStartTime == nil || !last.Time.Before(*cfg.OptStartTime):
		lastSeq = last.Sequence
	}
	if err := fn(nil); err != nil {
		return err
	}
	if lastSeq == 0 && !q.Follow {
		return nil
	}
	if q.Follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.follows, cancel)()
	}
	cons, err := s.js.OrderedConsumer(ctx, streamName, cfg)
	if err != nil {
		return fmt.Errorf("read logs of %s: %w", q.Function, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read logs of %s: %w", q.Function, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil // the reader left, or the follow ended
			}
			return fmt.Errorf("read logs of %s: %w", q.Function, err)
		}
		recs := decodeBatch(msg.Data(), q)
		if len(recs) > 0 {
			if err := fn(recs); err != nil {
				return err
			}
		}
		if !q.Follow {
			meta, err := msg.Metadata()
			if err != nil || meta.Sequence.Stream >= lastSeq {
				return nil
			}
		}
	}
}

// decodeBatch returns the records of one stored message that q selects. A
// line that does not decode (written by a future version, or damaged) is
// skipped rather than ending the read.
func decodeBatch(data []byte, q Query) []Record {
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxBatchBytes+1)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if (q.RequestID != "" && r.RequestID != q.RequestID) || r.Time.Before(q.Since) {
			continue
		}
		out = append(out, r)
	}
	return out
}
