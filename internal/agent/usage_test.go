package agent

import (
	"os"
	"testing"
	"time"
)

func TestReadUsageOfABusyProcess(t *testing.T) {
	before := readUsage(os.Getpid())
	// Burn about 200 ms of CPU.
	end := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(end) {
		x++
	}
	after := readUsage(os.Getpid())
	if d := after.CPUSeconds - before.CPUSeconds; d < 0.1 || d > 5 {
		t.Fatalf("CPU seconds rose by %.2f over a 200 ms busy loop", d)
	}
	if after.RSSBytes < 1<<20 {
		t.Fatalf("RSS %d bytes is implausible for a Go test process", after.RSSBytes)
	}
	if u := readUsage(1 << 30); u != (Usage{}) {
		t.Fatalf("usage of a missing pid: %+v", u)
	}
}
