package meter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/store"
)

func shapes(fn string) (billing.FunctionMeter, bool) {
	switch fn {
	case "api":
		return billing.FunctionMeter{Mode: billing.ModeLMI, Arch: "x86_64", MemoryMB: 2048, CapacityProvider: "cp1", VCPUPerEE: 1, MaxConcurrency: 8}, true
	case "job":
		return billing.FunctionMeter{Mode: billing.ModeDefault, Arch: "arm64", MemoryMB: 128, MaxConcurrency: 1}, true
	}
	return billing.FunctionMeter{}, false
}

// traffic records n invokes of api (2 ms each, one in ten overflow) and
// of job (100 ms each), plus n seconds of api EE time and 10n seconds of
// cp1 instance time, at now.
func traffic(r *Recorder, n int) {
	for i := 0; i < n; i++ {
		r.Invoke("api", 1500*time.Microsecond, i%10 == 0)
		r.Invoke("job", 100*time.Millisecond, false)
	}
	r.AddEESeconds(time.Now(), "api", float64(n))
	r.AddInstanceSeconds(time.Now(), "cp1", "x86_64", "m7i.large", float64(10*n))
}

type want struct{ api, job int }

func check(t *testing.T, when string, m billing.Meters, w want) {
	t.Helper()
	got := map[string]billing.FunctionMeter{}
	for _, f := range m.Functions {
		got[f.Function] = f
	}
	api, job := got["api"], got["job"]
	if api.Requests != int64(w.api) || api.BilledMs != int64(2*w.api) || api.OverflowBilledMs != 2*api.OverflowRequests ||
		(w.api > 0 && api.OverflowRequests == 0) || api.EESeconds != float64(w.api) {
		t.Errorf("%s: api %+v, want %d requests", when, api, w.api)
	}
	if job.Requests != int64(w.job) || job.BilledMs != int64(100*w.job) {
		t.Errorf("%s: job %+v, want %d requests", when, job, w.job)
	}
	if w.api > 0 && (api.Mode != billing.ModeLMI || api.CapacityProvider != "cp1" || api.MemoryMB != 2048) {
		t.Errorf("%s: api lost its shape: %+v", when, api)
	}
	if w.job > 0 && (job.Mode != billing.ModeDefault || job.Arch != "arm64") {
		t.Errorf("%s: job lost its shape: %+v", when, job)
	}
	var inst float64
	for _, c := range m.CapacityProviders {
		inst += c.InstanceSeconds["m7i.large"]
	}
	if inst != float64(10*w.api) {
		t.Errorf("%s: instance seconds %v, want %v", when, inst, 10*w.api)
	}
}

// run is one Paddock lifetime: a recorder loaded from the store in dir,
// some traffic, and an end.
type run struct {
	saved, unsaved int  // invokes before the last Save, and after it
	clean          bool // ends with Close; otherwise as a kill -9: the engine stops, the Keeper never saves again
	want           want // the meters once this run has loaded, before its traffic
}

func TestKeeperKeepsMetersAcrossRestarts(t *testing.T) {
	cases := []struct {
		name  string
		runs  []run
		final want // after the last run, in a fresh start
	}{
		{"clean stop keeps everything", []run{{saved: 5, unsaved: 3, clean: true}}, want{8, 8}},
		{"kill loses only what came after the last save", []run{{saved: 5, unsaved: 3}}, want{5, 5}},
		{"kill before any save loses the unsaved", []run{{unsaved: 4}}, want{0, 0}},
		{"restarts add up in the same minute", []run{
			{saved: 10, clean: true},
			{saved: 20, unsaved: 7, want: want{10, 10}},
			{saved: 1, clean: true, want: want{30, 30}},
		}, want{31, 31}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			began := time.Now().Add(-time.Hour)
			for i, r := range c.runs {
				st, err := store.OpenEmbedded(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if i == 0 {
					start = began
				}
				rec := New(start)
				rec.Shape = shapes
				if i > 0 {
					rec.Shape = func(string) (billing.FunctionMeter, bool) { return billing.FunctionMeter{}, false } // functions deleted
				}
				k, err := Keep(ctx, st, rec)
				if err != nil {
					t.Fatal(err)
				}
				m := rec.Meters(time.Now().Add(-24 * time.Hour))
				check(t, "run "+strconv.Itoa(i)+" loaded", m, r.want)
				check(t, "run "+strconv.Itoa(i)+" Loaded", rec.Loaded(), r.want)
				if l := rec.Loaded(); !l.Since.Equal(start) {
					t.Errorf("run %d: Loaded since %v, want this run's start %v", i, l.Since, start)
				}
				if !m.Since.Equal(began) {
					t.Errorf("run %d: meters since %v, want the first start %v", i, m.Since, began)
				}
				traffic(rec, r.saved)
				if err := k.Save(ctx); err != nil {
					t.Fatal(err)
				}
				traffic(rec, r.unsaved)
				if r.clean {
					k.Close()
				}
				st.Close()
			}
			st, err := store.OpenEmbedded(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rec := New(time.Now())
			if _, err := Keep(ctx, st, rec); err != nil {
				t.Fatal(err)
			}
			check(t, "final", rec.Meters(time.Now().Add(-24*time.Hour)), c.final)
		})
	}
}

// The periodic save runs without anyone calling Save: after a kill what
// was recorded a save period before it is there.
func TestKeeperSavesPeriodically(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.Meters(ctx, KeepFor)
	if err != nil {
		t.Fatal(err)
	}
	rec := New(time.Now())
	rec.Shape = shapes
	k, err := newKeeper(ctx, kv, rec, 20*time.Millisecond, minutePrefix)
	if err != nil {
		t.Fatal(err)
	}
	k.Start()
	traffic(rec, 6)
	deadline := time.Now().Add(10 * time.Second)
	for {
		other := New(time.Now())
		if _, err := newKeeper(ctx, kv, other, time.Hour, minutePrefix); err != nil {
			t.Fatal(err)
		}
		if m := other.Meters(time.Now().Add(-time.Hour)); len(m.Functions) == 2 && m.Functions[0].Requests == 6 && m.Functions[0].EESeconds == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no periodic save within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	st.Close() // kill: the Keeper is never closed
	k.Close()  // its last save fails on the closed engine, and says so

	st, err = store.OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec = New(time.Now())
	if _, err := Keep(ctx, st, rec); err != nil {
		t.Fatal(err)
	}
	check(t, "after kill", rec.Meters(time.Now().Add(-time.Hour)), want{6, 6})
}

// Minutes older than Retention are not loaded (the bucket's TTL drops
// them later), and a record that does not decode is skipped.
func TestKeeperLoadsOnlyRetention(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, err := st.Meters(ctx, KeepFor)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	put := func(at time.Time, requests int64) {
		m := at.Unix() / 60
		rec := minuteRecord{Minute: m, Functions: []billing.FunctionMeter{{Function: "job", Mode: billing.ModeDefault, Arch: "arm64", MemoryMB: 128, Requests: requests, BilledMs: 100 * requests}}}
		if _, err := kv.Put(ctx, minutePrefix+strconv.FormatInt(m, 10), rec); err != nil {
			t.Fatal(err)
		}
	}
	put(now.Add(-Retention-time.Hour), 100)
	put(now.Add(-Retention+time.Hour), 3)
	put(now.Add(-time.Hour), 4)
	if _, err := kv.Put(ctx, minutePrefix+"123", "not a minute"); err != nil {
		t.Fatal(err)
	}
	rec := New(now)
	if _, err := Keep(ctx, st, rec); err != nil {
		t.Fatal(err)
	}
	m := rec.Meters(now.Add(-Retention - 24*time.Hour))
	check(t, "loaded", m, want{0, 7})
	if want := time.Unix((now.Add(-Retention+time.Hour).Unix()/60)*60, 0); !m.Since.Equal(want) {
		t.Errorf("since %v, want the oldest kept minute %v", m.Since, want)
	}
}

// Servers of a cluster keep their minutes under keys of their own: two
// Keepers on one bucket, each saving the same minutes, lose nothing of
// the other's, and each loads back only its own.
func TestKeepersOfSeveralServers(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, err := st.Meters(ctx, KeepFor)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		prefix string
		n      int
	}{{minutePrefix + "node-1.", 4}, {minutePrefix + "node-2.", 7}}
	for _, c := range cases {
		rec := New(time.Now())
		rec.Shape = shapes
		k, err := newKeeper(ctx, kv, rec, time.Hour, c.prefix)
		if err != nil {
			t.Fatal(err)
		}
		traffic(rec, c.n)
		if err := k.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		rec := New(time.Now())
		if _, err := newKeeper(ctx, kv, rec, time.Hour, c.prefix); err != nil {
			t.Fatal(err)
		}
		check(t, c.prefix, rec.Meters(time.Now().Add(-time.Hour)), want{c.n, c.n})
	}
}
