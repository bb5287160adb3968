package schedule

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of schedules ("s.GROUP.NAME", both in hex) and
// of the slot each last fired ("f.GROUP.NAME").
const Bucket = "paddock-schedules"

// DefaultGroup is the schedule group every schedule is in (groups of
// their own are not supported yet).
const DefaultGroup = "default"

// Schedule is one schedule, in EventBridge Scheduler's terms.
type Schedule struct {
	Name                       string
	GroupName                  string
	Arn                        string
	ScheduleExpression         string
	ScheduleExpressionTimezone string     `json:",omitempty"`
	Description                string     `json:",omitempty"`
	State                      string     // ENABLED or DISABLED
	StartDate                  *time.Time `json:",omitempty"`
	EndDate                    *time.Time `json:",omitempty"`
	FlexibleTimeWindow         FlexibleTimeWindow
	Target                     Target
	ActionAfterCompletion      string // NONE or DELETE
	CreationDate               time.Time
	LastModificationDate       time.Time
}

// FlexibleTimeWindow is accepted and answered; slots fire on time (OFF).
type FlexibleTimeWindow struct {
	Mode                   string
	MaximumWindowInMinutes *int `json:",omitempty"`
}

// Target is the function a schedule invokes.
type Target struct {
	Arn              string
	RoleArn          string
	Input            *string           `json:",omitempty"`
	RetryPolicy      *RetryPolicy      `json:",omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:",omitempty"`
}

// RetryPolicy is Scheduler's; the asynchronous invoke's own retries apply.
type RetryPolicy struct {
	MaximumEventAgeInSeconds *int `json:",omitempty"`
	MaximumRetryAttempts     *int `json:",omitempty"`
}

// DeadLetterConfig names Scheduler's dead-letter queue (stored, not used).
type DeadLetterConfig struct {
	Arn string `json:",omitempty"`
}

// Errors of the store.
var (
	ErrExists   = errors.New("schedule: exists")
	ErrNotFound = errors.New("schedule: not found")
)

// Store keeps schedules in the engine's KV, replicated like the rest of
// the configuration: any server writes them.
type Store struct{ kv jetstream.KeyValue }

// NewStore keeps schedules in kv (the Bucket bucket).
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

func key(kind, group, name string) string {
	return kind + "." + hex.EncodeToString([]byte(group)) + "." + hex.EncodeToString([]byte(name))
}

// Create stores a new schedule.
func (s *Store) Create(ctx context.Context, sc *Schedule) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	if _, err := s.kv.Create(ctx, key("s", sc.GroupName, sc.Name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return ErrExists
		}
		return err
	}
	return nil
}

// Update replaces a schedule that exists.
func (s *Store) Update(ctx context.Context, sc *Schedule) error {
	k := key("s", sc.GroupName, sc.Name)
	cur, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	_, err = s.kv.Update(ctx, k, b, cur.Revision())
	return err
}

// Get reads a schedule.
func (s *Store) Get(ctx context.Context, group, name string) (*Schedule, error) {
	e, err := s.kv.Get(ctx, key("s", group, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var sc Schedule
	if err := json.Unmarshal(e.Value(), &sc); err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, err)
	}
	return &sc, nil
}

// Delete removes a schedule and what it last fired.
func (s *Store) Delete(ctx context.Context, group, name string) error {
	if _, err := s.Get(ctx, group, name); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, key("s", group, name)); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, key("f", group, name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	return nil
}

// List is every schedule, by group and name.
func (s *Store) List(ctx context.Context) ([]*Schedule, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "s.>")
	if err != nil {
		return nil, err
	}
	var out []*Schedule
	for k := range lister.Keys() {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		var sc Schedule
		if json.Unmarshal(e.Value(), &sc) == nil {
			out = append(out, &sc)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].GroupName+"\x00"+out[i].Name < out[j].GroupName+"\x00"+out[j].Name
	})
	return out, nil
}

// fired is the last slot a schedule fired, and the revision to update it at.
type fired struct {
	Slot     time.Time
	Created  time.Time // of the schedule that fired it: a schedule made again starts afresh
	revision uint64
}

func (s *Store) lastFired(ctx context.Context, sc *Schedule) (fired, error) {
	e, err := s.kv.Get(ctx, key("f", sc.GroupName, sc.Name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fired{}, nil
	}
	if err != nil {
		return fired{}, err
	}
	var f fired
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return fired{}, err
	}
	f.revision = e.Revision()
	if !f.Created.Equal(sc.CreationDate) {
		return fired{revision: f.revision}, nil
	}
	return f, nil
}

// markFired records slot as fired, unless another server recorded one
// since prev was read (then it returns false).
func (s *Store) markFired(ctx context.Context, sc *Schedule, prev fired, slot time.Time) (bool, error) {
	b, _ := json.Marshal(fired{Slot: slot, Created: sc.CreationDate})
	k := key("f", sc.GroupName, sc.Name)
	var err error
	if prev.revision == 0 {
		_, err = s.kv.Create(ctx, k, b)
	} else {
		_, err = s.kv.Update(ctx, k, b, prev.revision)
	}
	var apiErr *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return false, nil
	}
	return err == nil, err
}
