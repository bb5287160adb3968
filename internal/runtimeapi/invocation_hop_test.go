package runtimeapi

import (
	"testing"
	"time"
)

func TestSetDispatchedRoundTrip(t *testing.T) {
	var inv Invocation
	if !inv.Dispatched().IsZero() {
		t.Fatal("a fresh invocation has a dispatched time")
	}
	at := time.Unix(1700000000, 123456789)
	inv.SetDispatched(at)
	if got := inv.Dispatched(); !got.Equal(at) {
		t.Fatalf("Dispatched() = %v, want %v", got, at)
	}
	inv.SetDispatched(time.Time{})
	if !inv.Dispatched().IsZero() {
		t.Fatal("SetDispatched(zero) did not clear it")
	}
}
