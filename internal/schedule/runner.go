package schedule

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/async"
)

// CatchUp is how late a slot may still fire: one missed while no server
// ran (a restart) fires when one is back within this, older ones are
// skipped. EventBridge Scheduler does not fire slots late either.
const CatchUp = 5 * time.Minute

// Decision is what to do with a schedule now.
type Decision struct {
	Slot    time.Time // the slot to fire (zero: none is due)
	Skipped int       // slots passed over: more than one came due at once, or the latest came too late
	Fire    bool      // Slot is to be invoked (else it is only marked, being too late)
	Done    bool      // the schedule has no slots left (at() fired, or past its EndDate)
}

// Due decides a schedule's next step at now, given the last slot it fired
// (zero for none): the latest slot due since then fires, older ones due
// with it are skipped, and a slot later than CatchUp is marked without
// firing. Slots start after the schedule's StartDate (its creation, when
// none) and end at its EndDate.
func Due(e Expression, start time.Time, end *time.Time, last, now time.Time) Decision {
	from := last
	if from.Before(start) {
		// A slot exactly at the start counts (at(), cron): look from just before.
		from = start.Add(-time.Nanosecond)
	}
	slot := e.Next(start, from)
	var d Decision
	if slot.IsZero() || end != nil && slot.After(*end) {
		d.Done = true
		return d
	}
	if slot.After(now) {
		return d
	}
	for range 1_000_000 { // a rate of a minute missed for two years: bounded
		next := e.Next(start, slot)
		if next.IsZero() || next.After(now) || end != nil && next.After(*end) {
			break
		}
		slot = next
		d.Skipped++
	}
	d.Slot, d.Fire = slot, now.Sub(slot) <= CatchUp
	if !d.Fire {
		d.Skipped++
	}
	if e.Once() {
		d.Done = true
	}
	return d
}

// Runner fires the schedules while Active says this server leads. Every
// slot fires once, even when two servers both think they lead for a
// moment: the asynchronous invoke's id is derived from the schedule and
// the slot (the queue keeps one message per id for two minutes), and the
// slot is marked fired with a compare-and-set after it was queued.
type Runner struct {
	Store           *Store
	Queue           *async.Queue
	Active          func() bool
	Region, Account string
	Tick            time.Duration // how often schedules are checked (0: a second)
	Now             func() time.Time

	fired, skipped atomic.Uint64
}

// Counts are the slots fired and skipped since the runner started.
func (r *Runner) Counts() (fired, skipped uint64) { return r.fired.Load(), r.skipped.Load() }

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run checks the schedules every tick until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	log := slog.With("role", "schedules")
	t := time.NewTicker(max(r.Tick, 10*time.Millisecond))
	if r.Tick == 0 {
		t.Reset(time.Second)
	}
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.Active != nil && !r.Active() {
			continue
		}
		if err := r.Check(ctx); err != nil && ctx.Err() == nil {
			log.Warn("check the schedules", "err", err)
		}
	}
}

// Check fires what is due now.
func (r *Runner) Check(ctx context.Context) error {
	list, err := r.Store.List(ctx)
	if err != nil {
		return err
	}
	for _, sc := range list {
		if sc.State != "ENABLED" {
			continue
		}
		if err := r.check(ctx, sc); err != nil {
			slog.Warn("fire a schedule", "role", "schedules", "schedule", sc.Name, "err", err)
		}
	}
	return nil
}

func (r *Runner) check(ctx context.Context, sc *Schedule) error {
	e, err := Parse(sc.ScheduleExpression, sc.ScheduleExpressionTimezone)
	if err != nil {
		return err
	}
	start := sc.CreationDate
	if sc.StartDate != nil {
		start = *sc.StartDate
	}
	prev, err := r.Store.lastFired(ctx, sc)
	if err != nil {
		return err
	}
	d := Due(e, start, sc.EndDate, prev.Slot, r.now())
	if d.Slot.IsZero() {
		if d.Done && sc.ActionAfterCompletion == "DELETE" && !prev.Slot.IsZero() {
			return r.Store.Delete(ctx, sc.GroupName, sc.Name)
		}
		return nil
	}
	if d.Fire {
		ev, err := r.event(sc, d.Slot)
		if err != nil {
			return err
		}
		if err := r.Queue.Enqueue(ctx, ev); err != nil {
			return err
		}
	}
	ok, err := r.Store.markFired(ctx, sc, prev, d.Slot)
	if err != nil || !ok {
		return err // another server marked it: it queued the same event, stored once
	}
	if d.Fire {
		r.fired.Add(1)
	}
	r.skipped.Add(uint64(d.Skipped))
	return nil
}

// event is the asynchronous invoke of sc's slot.
func (r *Runner) event(sc *Schedule, slot time.Time) (*async.Event, error) {
	function, qualifier, ok := FunctionOf(sc.Target.Arn)
	if !ok {
		return nil, fmt.Errorf("target %s is not a Lambda function", sc.Target.Arn)
	}
	id := slotID(sc, slot)
	payload := []byte(nil)
	if sc.Target.Input != nil {
		payload = []byte(*sc.Target.Input)
	} else {
		// Scheduler's "default notification" when a target has no Input.
		// Its fields follow EventBridge's Scheduled Event; the exact
		// shape AWS sends is not confirmed by a recording.
		payload, _ = json.Marshal(map[string]any{
			"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.scheduler",
			"account": r.Account, "time": slot.UTC().Format(time.RFC3339), "region": r.Region,
			"resources": []string{sc.Arn}, "detail": "{}",
		})
	}
	arn := "arn:aws:lambda:" + r.Region + ":" + r.Account + ":function:" + function + ":" + cmp.Or(qualifier, "$LATEST")
	return &async.Event{RequestID: id, Function: function, Qualifier: qualifier, FunctionARN: arn, Payload: payload, Received: r.now()}, nil
}

// slotID is the request id of a schedule's slot: the same on every
// server, so that the queue stores the slot's invoke once.
func slotID(sc *Schedule, slot time.Time) string {
	sum := sha256.Sum256([]byte(sc.GroupName + "\x00" + sc.Name + "\x00" + sc.CreationDate.UTC().Format(time.RFC3339Nano) + "\x00" + slot.UTC().Format(time.RFC3339Nano)))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// FunctionOf reads a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:
// function:NAME[:QUALIFIER]).
func FunctionOf(arn string) (function, qualifier string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) < 7 || len(p) > 8 || p[0] != "arn" || p[2] != "lambda" || p[5] != "function" || p[6] == "" {
		return "", "", false
	}
	if len(p) == 8 {
		qualifier = p[7]
	}
	return p[6], qualifier, true
}
