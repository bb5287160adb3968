package router

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// fakeEE admits up to max invokes, like a real EE's slots.
type fakeEE struct {
	slots *runtimeapi.Slots
	ran   atomic.Int32
	hold  chan struct{}
}

func newFake(max int) *fakeEE { return &fakeEE{slots: runtimeapi.NewSlots(max)} }

func (f *fakeEE) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	if !f.slots.TryAcquire() {
		return runtimeapi.ErrFull
	}
	defer f.slots.Release()
	f.ran.Add(1)
	if f.hold != nil {
		<-f.hold
	}
	return nil
}

func (f *fakeEE) InFlight() int { return f.slots.InFlight() }

func TestRouterFallsBackThenThrottles(t *testing.T) {
	tests := []struct {
		name      string
		ees       []int // max concurrency of each EE
		hold      int   // invokes held open at once
		throttled bool  // whether one more invoke is throttled
	}{
		{"no EEs", nil, 0, true},
		{"room on one EE", []int{2}, 1, false},
		{"one full EE", []int{2}, 2, true},
		{"three EEs of 8, 23 held", []int{8, 8, 8}, 23, false},
		{"three EEs of 8, 24 held", []int{8, 8, 8}, 24, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			hold := make(chan struct{})
			var ees []*fakeEE
			for _, m := range tt.ees {
				f := newFake(m)
				f.hold = hold
				ees = append(ees, f)
				r.Add("fn:1", f)
			}
			var wg sync.WaitGroup
			var failed atomic.Int32
			for i := 0; i < tt.hold; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := r.Invoke(context.Background(), "fn:1", &runtimeapi.Invocation{}); err != nil {
						failed.Add(1)
					}
				}()
			}
			// Wait until every held invoke sits on an EE.
			for {
				n := 0
				for _, f := range ees {
					n += f.InFlight()
				}
				if n+int(failed.Load()) == tt.hold {
					break
				}
			}
			if failed.Load() != 0 {
				t.Fatalf("%d held invokes were throttled while EEs had room", failed.Load())
			}
			extra := make(chan error, 1)
			go func() {
				_, err := r.Invoke(context.Background(), "fn:1", &runtimeapi.Invocation{})
				extra <- err
			}()
			if tt.throttled {
				if err := <-extra; !errors.Is(err, ErrThrottled) {
					t.Fatalf("extra invoke: %v, want ErrThrottled", err)
				}
				if n := r.Throttles("fn:1"); n != 1 {
					t.Fatalf("Throttles = %d, want 1", n)
				}
			} else {
				close(hold)
				if err := <-extra; err != nil {
					t.Fatalf("extra invoke: %v, want it admitted", err)
				}
				wg.Wait()
				return
			}
			close(hold)
			wg.Wait()
		})
	}
}

func TestRouterRemove(t *testing.T) {
	r := New()
	a, b := newFake(1), newFake(1)
	r.Add("k", a)
	r.Add("k", b)
	r.Remove("k", a)
	for i := 0; i < 10; i++ {
		if _, err := r.Invoke(context.Background(), "k", &runtimeapi.Invocation{}); err != nil {
			t.Fatal(err)
		}
	}
	if a.ran.Load() != 0 || b.ran.Load() != 10 {
		t.Fatalf("removed EE ran %d, remaining ran %d", a.ran.Load(), b.ran.Load())
	}
	r.Remove("k", b)
	if r.Len("k") != 0 {
		t.Fatalf("Len after removing all: %d", r.Len("k"))
	}
}
