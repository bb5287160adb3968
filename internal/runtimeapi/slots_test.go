package runtimeapi

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestSlotsNeverAdmitsPastMax(t *testing.T) {
	for _, max := range []int{1, 8, 64} {
		s := NewSlots(max)
		var held, peak atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 32; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 2000; i++ {
					if !s.TryAcquire() {
						continue
					}
					n := held.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					held.Add(-1)
					s.Release()
				}
			}()
		}
		wg.Wait()
		if p := peak.Load(); p > int64(max) {
			t.Errorf("max %d: %d held at once", max, p)
		}
		if s.InFlight() != 0 {
			t.Errorf("max %d: %d slots leaked", max, s.InFlight())
		}
	}
}

func TestSlotsDrainRefusesNewWork(t *testing.T) {
	s := NewSlots(2)
	if !s.TryAcquire() {
		t.Fatal("first acquire refused")
	}
	s.Drain()
	if s.TryAcquire() {
		t.Fatal("acquire admitted while draining")
	}
	s.Release()
	if s.InFlight() != 0 {
		t.Fatalf("in flight %d, want 0", s.InFlight())
	}
}
