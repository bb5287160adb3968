// Package lease elects one holder of a role among several processes through
// a JetStream key-value bucket, for the loops that must run once in a
// cluster of servers (the scaler, the fleet and placement: issue 14).
//
// The holder's id sits under the role's key. The bucket's TTL removes a
// key that is not rewritten for that long, so a holder that dies (kill -9,
// a partition) loses the role within a TTL, and a candidate's Create then
// succeeds. The holder rewrites the key every TTL/3 with a revision-checked
// Update, and stops leading on its own before the key could expire: its
// deadline counts from the moment it sent its last successful write, which
// is no later than the server stored it, so two holders never overlap
// while the server's and the holder's clocks run at the same rate. A
// holder that stops cleanly deletes the key, and the next one takes over
// at once.
package lease

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config is the lease bucket name whose keys live ttl after their last
// write. Every candidate for a role must use the same ttl.
func Config(name string, ttl time.Duration) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: name, TTL: ttl, History: 1}
}

// Bucket opens (or creates) the lease bucket name (see Config) on one node.
func Bucket(ctx context.Context, js jetstream.JetStream, name string, ttl time.Duration) (jetstream.KeyValue, error) {
	return js.CreateOrUpdateKeyValue(ctx, Config(name, ttl))
}

// Elector campaigns for one role.
type Elector struct {
	KV  jetstream.KeyValue // from Bucket, with TTL
	Key string             // the role, e.g. "scaler"
	ID  string             // this candidate, unique among them
	TTL time.Duration      // the bucket's TTL

	// KeepOnStop leaves the key when Run returns, as a crash would (the
	// next holder then waits out the TTL). For tests.
	KeepOnStop bool

	Log *slog.Logger // nil: slog.Default()
}

// Run campaigns until ctx ends. Each time it wins the role it runs lead
// with a context that is canceled as soon as the role is lost or might be
// (a renewal failed, or none succeeded in time), and waits for lead to
// return before it campaigns again. A lead that returns on its own gives
// the role up.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) {
	log := e.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("role", "lease", "key", e.Key, "id", e.ID)
	renew := e.TTL / 3
	for ctx.Err() == nil {
		sent := time.Now()
		rev, err := e.KV.Create(ctx, e.Key, []byte(e.ID))
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
				log.Warn("campaign failed", "err", err)
			}
			sleep(ctx, renew)
			continue
		}
		log.Info("lease won")
		rev = e.hold(ctx, lead, rev, sent, log)
		if rev != 0 && !(e.KeepOnStop && ctx.Err() != nil) {
			// Still held (ctx ended, or lead returned): hand the role over
			// now rather than after a TTL.
			release, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			e.KV.Delete(release, e.Key, jetstream.LastRevision(rev)) //nolint:errcheck // the TTL ends it anyway
			cancel()
		}
	}
}

// hold runs lead while it renews the lease, and returns the last revision
// it wrote if it still holds the lease (0 if it lost it).
func (e *Elector) hold(ctx context.Context, lead func(ctx context.Context), rev uint64, sent time.Time, log *slog.Logger) uint64 {
	leadCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(leadCtx)
	}()
	defer func() { stop(); <-done }()
	renew := time.NewTicker(e.TTL / 3)
	defer renew.Stop()
	// The key expires a TTL after the server stored the last write, which
	// was after it was sent: stop leading a margin before that.
	margin := e.TTL / 6
	expire := time.NewTimer(time.Until(sent.Add(e.TTL - margin)))
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return rev
		case <-done:
			return rev // lead returned on its own: the role is released
		case <-expire.C:
			log.Warn("lease not renewed in time: stepping down")
			return 0
		case <-renew.C:
			sent := time.Now()
			call, cancel := context.WithDeadline(ctx, sent.Add(e.TTL-margin))
			next, err := e.KV.Update(call, e.Key, []byte(e.ID), rev)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return rev
				}
				log.Warn("lease lost", "err", err)
				return 0
			}
			rev = next
			expire.Reset(time.Until(sent.Add(e.TTL - margin)))
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
