package schedule

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/store"
)

func TestDue(t *testing.T) {
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(m int, s int) time.Time {
		return created.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	rate5, _ := Parse("rate(5 minutes)", "")
	hourly, _ := Parse("rate(1 hour)", "")
	once, _ := Parse("at(2026-12-02T10:03:00)", "")
	cron, _ := Parse("cron(*/10 * * * ? *)", "")
	end := at(12, 0)
	tests := []struct {
		name       string
		e          Expression
		end        *time.Time
		last, now  time.Time
		slot       time.Time
		fire, done bool
		skipped    int
	}{
		{"nothing due yet", rate5, nil, time.Time{}, at(4, 59), time.Time{}, false, false, 0},
		{"the first slot", rate5, nil, time.Time{}, at(5, 0), at(5, 0), true, false, 0},
		{"fired already", rate5, nil, at(5, 0), at(9, 0), time.Time{}, false, false, 0},
		{"the next", rate5, nil, at(5, 0), at(10, 1), at(10, 0), true, false, 0},
		{"two due at once: the latest fires", rate5, nil, at(5, 0), at(16, 0), at(15, 0), true, false, 1},
		{"an hour missed: the latest fires, the rest are skipped", rate5, nil, at(5, 0), at(60, 0), at(60, 0), true, false, 10},
		{"the latest later than CatchUp: marked, not fired", hourly, nil, at(60, 0), at(130, 0), at(120, 0), false, false, 1},
		{"past the end", rate5, &end, at(10, 0), at(16, 0), time.Time{}, false, true, 0},
		{"at(): due", once, nil, time.Time{}, at(3, 1), at(3, 0), true, true, 0},
		{"at(): fired", once, nil, at(3, 0), at(9, 0), time.Time{}, false, true, 0},
		{"cron on the hour from its start", cron, nil, time.Time{}, at(0, 30), at(0, 0), true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Due(tt.e, created, tt.end, tt.last, tt.now)
			if !d.Slot.Equal(tt.slot) || d.Fire != tt.fire || d.Done != tt.done || d.Skipped != tt.skipped {
				t.Errorf("got %+v, want slot %s fire %v done %v skipped %d", d, tt.slot.Format(time.TimeOnly), tt.fire, tt.done, tt.skipped)
			}
		})
	}
}

// Two runners that both think they lead (a leader change caught midway)
// fire each slot of a schedule once: the queue holds one event per slot.
func TestTwoLeadersFireEachSlotOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, err := st.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket})
	if err != nil {
		t.Fatal(err)
	}
	q, err := async.Open(ctx, st.JetStream(), st.Stream)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(kv)
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	sc := &Schedule{Name: "every5", GroupName: DefaultGroup, Arn: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/every5",
		ScheduleExpression: "rate(5 minutes)", State: "ENABLED", FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"},
		Target:       Target{Arn: "arn:aws:lambda:us-east-1:000000000000:function:fn", RoleArn: "arn:aws:iam::000000000000:role/r"},
		CreationDate: created, LastModificationDate: created}
	if err := s.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	var now time.Time
	clock := func() time.Time { return now }
	a := &Runner{Store: s, Queue: q, Region: "us-east-1", Account: "000000000000", Now: clock}
	b := &Runner{Store: s, Queue: q, Region: "us-east-1", Account: "000000000000", Now: clock}
	for slot := 1; slot <= 3; slot++ {
		now = created.Add(time.Duration(5*slot)*time.Minute + time.Second)
		// Both check at once, in both orders of their writes.
		errs := make(chan error, 2)
		go func() { errs <- a.Check(ctx) }()
		go func() { errs <- b.Check(ctx) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Check(ctx); err != nil { // again: nothing new
			t.Fatal(err)
		}
	}
	info, err := st.JetStream().Stream(ctx, async.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != 3 {
		t.Errorf("the queue holds %d events for 3 slots", si.State.Msgs)
	}
	fa, _ := a.Counts()
	fb, _ := b.Counts()
	if fa+fb != 3 {
		t.Errorf("the runners counted %d + %d firings for 3 slots", fa, fb)
	}
}

func TestFunctionOf(t *testing.T) {
	tests := []struct {
		arn, function, qualifier string
		ok                       bool
	}{
		{"arn:aws:lambda:us-east-1:000000000000:function:fn", "fn", "", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn:live", "fn", "live", true},
		{"arn:aws:sqs:us-east-1:000000000000:q", "", "", false},
		{"arn:aws:lambda:us-east-1:000000000000:function:", "", "", false},
	}
	for _, tt := range tests {
		f, q, ok := FunctionOf(tt.arn)
		if f != tt.function || q != tt.qualifier || ok != tt.ok {
			t.Errorf("%s: %q %q %v", tt.arn, f, q, ok)
		}
	}
}
