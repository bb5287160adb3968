package meter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/store"
)

// Durability of the meters. The invoke path only adds to atomic counters
// in memory and never touches the store. Every SaveEvery a Keeper folds
// those counters into their minute and writes each minute that changed
// since the last save as one KV record (the minute's full totals, so a
// later write of the same minute replaces the earlier one); at start it
// loads every kept minute back. A clean stop saves what is left. A kill -9
// (or a crash) loses what changed since the last save: at most SaveEvery
// of meters (invokes, billed ms, EE- and instance-seconds), plus a save
// that was being written. Records are dropped KeepFor after their last
// write, so the bucket holds a bit more than Retention and no more.
const (
	SaveEvery = 5 * time.Second
	KeepFor   = Retention + 24*time.Hour
)

// saveTimeout bounds one save; past it the minutes stay marked as changed
// and the next save tries again.
const saveTimeout = 10 * time.Second

// Keys in the meters bucket.
const (
	minutePrefix = "m."      // + unix minute: a minuteRecord
	startedKey   = "started" // when metering started, RFC 3339
)

// minuteRecord is one minute's bucket as stored.
type minuteRecord struct {
	Minute            int64                           `json:"minute"`
	Functions         []billing.FunctionMeter         `json:"functions,omitempty"`
	CapacityProviders []billing.CapacityProviderMeter `json:"capacityProviders,omitempty"`
}

// Keeper keeps a Recorder's buckets in a JetStream KV bucket.
type Keeper struct {
	rec    *Recorder
	kv     store.KV
	every  time.Duration
	prefix string // of this server's minute keys: minutePrefix, and its node on a cluster

	saving  sync.Mutex // one save at a time, so an older snapshot never lands after a newer one
	started atomic.Bool
	once    sync.Once
	stop    chan struct{}
	done    chan struct{}
}

// Keep opens the meters bucket of st and loads the kept minutes into rec,
// which must not have been saved by another Keeper since it was made.
// Call Start to save periodically and Close to stop with a last save.
func Keep(ctx context.Context, st *store.Store, rec *Recorder) (*Keeper, error) {
	kv, err := st.Meters(ctx, KeepFor)
	if err != nil {
		return nil, err
	}
	prefix := minutePrefix
	if st.Clustered() {
		// Each server meters the invokes it serves: its minutes are its
		// own records, or servers would overwrite each other's.
		prefix += strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_").Replace(st.NodeName()) + "."
	}
	return newKeeper(ctx, kv, rec, SaveEvery, prefix)
}

func newKeeper(ctx context.Context, kv store.KV, rec *Recorder, every time.Duration, prefix string) (*Keeper, error) {
	k := &Keeper{rec: rec, kv: kv, every: every, prefix: prefix, stop: make(chan struct{}), done: make(chan struct{})}
	if err := k.load(ctx, time.Now()); err != nil {
		return nil, err
	}
	return k, nil
}

// Start saves every SaveEvery until Close.
func (k *Keeper) Start() {
	if k.started.Swap(true) {
		return
	}
	go func() {
		defer close(k.done)
		t := time.NewTicker(k.every)
		defer t.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-t.C:
				if err := k.Save(context.Background()); err != nil {
					slog.Warn("meters not saved; retrying at the next save", "err", err)
				}
			}
		}
	}()
}

// Close stops the periodic saves and saves what changed since the last.
// Call it once the invokes and the scaler loop have stopped.
func (k *Keeper) Close() {
	k.once.Do(func() {
		close(k.stop)
		if k.started.Load() {
			<-k.done // a save in progress ends within saveTimeout
		}
		if err := k.Save(context.Background()); err != nil {
			slog.Warn("meters not saved at stop", "err", err)
		}
	})
}

// Save folds the invoke counters into the current minute and writes each
// minute that changed since the last save.
func (k *Keeper) Save(ctx context.Context) error {
	k.saving.Lock()
	defer k.saving.Unlock()
	ctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	r := k.rec
	r.Flush(time.Now())
	r.mu.Lock()
	recs := make([]minuteRecord, 0, len(r.dirty))
	for m := range r.dirty {
		if b := r.minutes[m]; b != nil {
			recs = append(recs, b.record(m))
		}
		delete(r.dirty, m)
	}
	r.mu.Unlock()
	var errs []error
	for _, rec := range recs {
		if _, err := k.kv.Put(ctx, k.prefix+strconv.FormatInt(rec.Minute, 10), rec); err != nil {
			errs = append(errs, err)
			r.mu.Lock()
			if r.minutes[rec.Minute] != nil {
				r.dirty[rec.Minute] = struct{}{}
			}
			r.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// record copies the bucket of minute m. Under r.mu.
func (b *bucket) record(m int64) minuteRecord {
	rec := minuteRecord{Minute: m}
	for _, f := range b.fns {
		rec.Functions = append(rec.Functions, *f)
	}
	for _, c := range b.cps {
		cp := billing.CapacityProviderMeter{Name: c.Name, Arch: c.Arch, InstanceSeconds: make(map[string]float64, len(c.InstanceSeconds))}
		for t, s := range c.InstanceSeconds {
			cp.InstanceSeconds[t] = s
		}
		rec.CapacityProviders = append(rec.CapacityProviders, cp)
	}
	return rec
}

// load adds the kept minutes within Retention of now to the recorder and
// moves its start back to when metering first started.
func (k *Keeper) load(ctx context.Context, now time.Time) error {
	entries, err := k.kv.All(ctx, k.prefix+"*")
	if err != nil {
		return fmt.Errorf("load meters: %w", err)
	}
	var started time.Time
	if _, err := k.kv.Get(ctx, startedKey, &started); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load meters: %w", err)
	}
	r := k.rec
	r.mu.Lock()
	oldest := now.Add(-Retention).Unix() / 60
	loaded := New(time.Time{}) // the loaded minutes alone, for Loaded
	began := r.started
	for _, e := range entries {
		var rec minuteRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil || strings.TrimPrefix(e.Key, k.prefix) != strconv.FormatInt(rec.Minute, 10) {
			slog.Warn("meters: skipped a record that does not decode", "key", e.Key)
			continue
		}
		if rec.Minute < oldest {
			continue
		}
		r.merge(rec)
		loaded.merge(rec)
		if t := time.Unix(rec.Minute*60, 0); t.Before(r.started) {
			r.started = t
		}
	}
	if !started.IsZero() && started.Before(r.started) {
		r.started = started
	}
	started = r.started
	r.loaded = loaded.Meters(time.Time{})
	r.loaded.Since = began
	r.mu.Unlock()
	// Written at each start, so it lasts KeepFor past the last one.
	if _, err := k.kv.Put(ctx, startedKey, started); err != nil {
		return fmt.Errorf("save meters start: %w", err)
	}
	return nil
}

// merge adds a stored minute to the recorder's bucket of that minute.
// Under r.mu.
func (r *Recorder) merge(rec minuteRecord) {
	b := r.minute(rec.Minute)
	for _, f := range rec.Functions {
		if _, ok := r.info[f.Function]; !ok && f.Mode != "" {
			r.info[f.Function] = billing.FunctionMeter{Function: f.Function, Arch: f.Arch, Mode: f.Mode, CapacityProvider: f.CapacityProvider,
				MemoryMB: f.MemoryMB, VCPUPerEE: f.VCPUPerEE, MaxConcurrency: f.MaxConcurrency}
		}
		sum := b.fns[f.Function]
		if sum == nil {
			c := f
			b.fns[f.Function] = &c
			continue
		}
		sum.Requests += f.Requests
		sum.BilledMs += f.BilledMs
		sum.EESeconds += f.EESeconds
		sum.OverflowRequests += f.OverflowRequests
		sum.OverflowBilledMs += f.OverflowBilledMs
	}
	for _, c := range rec.CapacityProviders {
		sum := b.cps[c.Name]
		if sum == nil {
			sum = &billing.CapacityProviderMeter{Name: c.Name, Arch: c.Arch, InstanceSeconds: map[string]float64{}}
			b.cps[c.Name] = sum
		}
		for t, s := range c.InstanceSeconds {
			sum.InstanceSeconds[t] += s
		}
	}
}
