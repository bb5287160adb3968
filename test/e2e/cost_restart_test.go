package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/meter"
)

// invokeN invokes a default-mode function n times, retrying while it comes
// back after a restart.
func (e *env) invokeN(name string, n int) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := e.invoke(name, "", `{}`)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("invoke %s: %v", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func requestsOf(b billing.Bill, function string) int64 {
	for _, f := range b.Functions {
		if f.Function == function {
			return f.Requests
		}
	}
	return 0
}

// paddockCost runs `paddock cost --since 168h (7 days)` and checks that function's
// line shows requests invokes (fewer than 1,000: no thousands separator).
func paddockCost(t *testing.T, endpoint, function string, requests int) string {
	t.Helper()
	cmd := exec.Command(paddockBinary(t), "cost", "--since", "168h", "--endpoint", endpoint)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDPADDOCKTEST", "AWS_SECRET_ACCESS_KEY=paddock-test-secret")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("paddock cost: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^` + function + `\s+\S+\s+` + strconv.Itoa(requests) + `\s`).Match(out) {
		t.Errorf("paddock cost --since 168h (7 days) does not show %d requests of %s:\n%s", requests, function, out)
	}
	return string(out)
}

// TestCostSurvivesRestart: invokes before a clean restart on the same data
// dir are still in the bill after it, and new ones add to them.
func TestCostSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := startIn(t, dir)
	e.defaultFunction("od", "echo", 256, 3)
	e.invokeN("od", 4)
	if n := requestsOf(e.cost("168h"), "od"); n != 4 {
		t.Fatalf("before restart: %d requests, want 4", n)
	}
	e.p.Close()

	e2 := startIn(t, dir)
	bill := e2.cost("168h")
	if n := requestsOf(bill, "od"); n != 4 {
		t.Fatalf("after restart: %d requests, want the 4 from before it", n)
	}
	for _, f := range bill.Functions {
		if f.Function == "od" && (f.Mode != billing.ModeDefault || f.MemoryMB != 256 || f.BilledMs < 4 || f.Total <= 0) {
			t.Fatalf("after restart: line %+v", f)
		}
	}
	e2.invokeN("od", 3)
	if n := requestsOf(e2.cost("168h"), "od"); n != 7 {
		t.Fatalf("after restart and 3 more: %d requests, want 7", n)
	}
	paddockCost(t, e2.p.Endpoint, "od", 7)
}

// TestCostSurvivesKill9: `paddock up` killed with SIGKILL more than a save
// period after some invokes still bills them once it is back.
func TestCostSurvivesKill9(t *testing.T) {
	bin := paddockBinary(t)
	dir := t.TempDir()
	endpoint, stop := runBinary(t, bin, dir)
	e := &env{t: t, lambda: client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")}
	e.defaultFunction("od", "echo", 128, 3)
	e.invokeN("od", 5)
	time.Sleep(meter.SaveEvery + 1500*time.Millisecond) // one periodic save at least
	stop(syscall.SIGKILL)

	endpoint, stop = runBinary(t, bin, dir)
	e = &env{t: t, lambda: client(endpoint, "AKIDPADDOCKTEST", "paddock-test-secret")}
	paddockCost(t, endpoint, "od", 5)
	e.invokeN("od", 2)
	paddockCost(t, endpoint, "od", 7)
	stop(syscall.SIGINT)
}
