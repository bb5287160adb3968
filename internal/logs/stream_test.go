package logs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/store"
)

// running is a Service on an embedded engine, with its writer running.
type running struct {
	*Service
	st     *store.Store
	cancel context.CancelFunc
	done   chan struct{}
	clock  time.Time // of the next invoke: each starts 10 ms after the last, so they never overlap
}

func startService(t *testing.T, dir string) *running {
	t.Helper()
	st, err := store.OpenEmbedded(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), st.JetStream(), Options{})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	s.usage = func(*agent.EE) int64 { return 23 << 20 }
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Service: s, st: st, cancel: cancel, done: make(chan struct{}), clock: time.Now()}
	go func() { defer close(r.done); s.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the writer (which writes what it holds) and the engine.
func (r *running) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	r.cancel()
	<-r.done
	r.st.Close()
}

func testEE(id, function, format string) *agent.EE {
	return &agent.EE{Spec: agent.Spec{ID: id, FunctionName: function, Version: "1", LogFormat: format}}
}

// invokeWithLine sends what one invoke on ee produces: a line read while it
// ran, then the invoke.
func (r *running) invokeWithLine(ee *agent.EE, id, text string) {
	start := r.clock
	r.clock = r.clock.Add(10 * time.Millisecond)
	r.send(event{ee: ee, stream: StreamStdout, at: start.Add(time.Millisecond), text: text, inFlight: 1})
	r.Invoke(Invoke{EE: ee, Function: ee.Spec.FunctionName, Version: "1", RequestID: id, Start: start,
		Dispatched: start, Answered: start.Add(2 * time.Millisecond), Duration: 2 * time.Millisecond, MemoryMB: 128})
}

func readAll(t *testing.T, s *Service, q Query) []Record {
	t.Helper()
	var out []Record
	calls := 0
	err := s.Read(context.Background(), q, func(recs []Record) error {
		calls++
		out = append(out, recs...)
		return nil
	})
	if err != nil {
		t.Fatalf("Read %+v: %v", q, err)
	}
	if calls == 0 {
		t.Fatal("Read never called fn, not even to say it started")
	}
	return out
}

func messages(recs []Record) string {
	var m []string
	for _, r := range recs {
		m = append(m, r.RequestID+" "+r.Message)
	}
	return strings.Join(m, "\n")
}

func TestLogStoreReadFilterAndReopen(t *testing.T) {
	dir := t.TempDir()
	r := startService(t, dir)
	if ok, err := r.Exists(context.Background(), "fn"); ok || err != nil {
		t.Fatalf("Exists before any log: %v %v", ok, err)
	}
	if recs := readAll(t, r.Service, Query{Function: "fn"}); len(recs) != 0 {
		t.Fatalf("logs before any: %v", recs)
	}
	ee := testEE("ee-1", "fn", FormatText)
	r.invokeWithLine(ee, "R1", "hello one")
	r.invokeWithLine(ee, "R2", "hello two")
	r.invokeWithLine(testEE("ee-9", "other", FormatText), "R9", "not fn's")
	r.stop() // writes what the collector holds

	r = startService(t, dir)
	if ok, err := r.Exists(context.Background(), "fn"); !ok || err != nil {
		t.Fatalf("Exists after a restart: %v %v", ok, err)
	}
	all := readAll(t, r.Service, Query{Function: "fn"})
	got := messages(all)
	for _, want := range []string{"R1 START RequestId: R1 Version: 1", "R1 hello one", "R1 END RequestId: R1",
		"R1 REPORT RequestId: R1\tDuration: 2.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 23 MB", "R2 hello two"} {
		if !strings.Contains(got, want) {
			t.Errorf("logs of fn lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "not fn's") || len(all) != 8 {
		t.Errorf("logs of fn: %d records, want 8 of fn only:\n%s", len(all), got)
	}
	one := readAll(t, r.Service, Query{Function: "fn", RequestID: "R2"})
	if len(one) != 4 || messages(one) != "R2 START RequestId: R2 Version: 1\nR2 hello two\nR2 END RequestId: R2\n"+one[3].RequestID+" "+one[3].Message ||
		!strings.HasPrefix(one[3].Message, "REPORT RequestId: R2") {
		t.Errorf("logs of R2:\n%s", messages(one))
	}
	if recs := readAll(t, r.Service, Query{Function: "fn", Since: time.Now().Add(time.Minute)}); len(recs) != 0 {
		t.Errorf("logs since the future: %v", messages(recs))
	}
	if recs := readAll(t, r.Service, Query{Function: "fn", Since: time.Now().Add(-time.Minute)}); len(recs) != 8 {
		t.Errorf("logs of the last minute: %d records, want 8", len(recs))
	}
	if err := r.Read(context.Background(), Query{Function: "a.b"}, func([]Record) error { return nil }); err == nil {
		t.Error("Read accepted a function name with a dot")
	}
}

func TestLogFollowSeesNewLinesUntilEnded(t *testing.T) {
	r := startService(t, t.TempDir())
	ee := testEE("ee-1", "fn", FormatJSON)
	r.invokeWithLine(ee, "OLD", `{"requestId":"OLD","message":"before"}`)

	var mu sync.Mutex
	var got []Record
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		first := true
		done <- r.Read(context.Background(), Query{Function: "fn", Since: time.Now().Add(-time.Minute), Follow: true}, func(recs []Record) error {
			if first {
				first = false
				close(started)
			}
			mu.Lock()
			got = append(got, recs...)
			mu.Unlock()
			return nil
		})
	}()
	<-started
	r.invokeWithLine(ee, "NEW", "after")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		text := messages(got)
		mu.Unlock()
		if strings.Contains(text, `"message":"after","requestId":"NEW"`) && strings.Contains(text, `"message":"before"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follow saw:\n%s", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.EndFollows()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EndFollows did not end the follow")
	}
}
