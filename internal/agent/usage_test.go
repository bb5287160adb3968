package agent

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestReadUsageOfABusyProcess(t *testing.T) {
	before := readUsage(os.Getpid())
	// Burn 200 ms of CPU as getrusage counts it (not of wall time: on a
	// loaded machine a busy loop gets a fraction of a CPU).
	start := cpuTime()
	x := 0
	for cpuTime()-start < 200*time.Millisecond {
		x++
	}
	after := readUsage(os.Getpid())
	if d := after.CPUSeconds - before.CPUSeconds; d < 0.15 || d > 5 {
		t.Fatalf("CPU seconds rose by %.2f over 200 ms of CPU", d)
	}
	if after.RSSBytes < 1<<20 {
		t.Fatalf("RSS %d bytes is implausible for a Go test process", after.RSSBytes)
	}
	if u := readUsage(1 << 30); u != (Usage{}) {
		t.Fatalf("usage of a missing pid: %+v", u)
	}
}

// cpuTime is the process's user and system CPU time, from getrusage.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck // cannot fail for RUSAGE_SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
