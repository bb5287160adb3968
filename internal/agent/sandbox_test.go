package agent

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/sandbox"
)

var (
	echoOnce sync.Once
	echoZip  []byte
	echoErr  error
)

// echoCode builds examples/echo into a deployment zip.
func echoCode(t *testing.T) []byte {
	t.Helper()
	echoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paddock-agent-echo-")
		if err != nil {
			echoErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "../../examples/echo")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			echoErr = &buildError{err, string(out)}
			return
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			echoErr = err
			return
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
		h.SetMode(0o755)
		w, _ := zw.CreateHeader(h)
		w.Write(data) //nolint:errcheck
		zw.Close()    //nolint:errcheck
		echoZip = buf.Bytes()
	})
	if echoErr != nil {
		t.Fatal(echoErr)
	}
	return echoZip
}

type buildError struct {
	err error
	out string
}

func (b *buildError) Error() string { return "build echo: " + b.err.Error() + "\n" + b.out }

// eventsByEE gives each EE's events a channel of their own.
type eventsByEE struct {
	mu sync.Mutex
	ch map[string]chan Event
}

func (b *eventsByEE) of(id string) chan Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = map[string]chan Event{}
	}
	if b.ch[id] == nil {
		b.ch[id] = make(chan Event, 16)
	}
	return b.ch[id]
}

func (b *eventsByEE) notify(ev Event) { b.of(ev.EE.Spec.ID) <- ev }

// sandboxedAgent is an agent whose EEs run examples/echo. It skips the
// test unless the host allows a full sandbox.
func sandboxedAgent(t *testing.T) (*Agent, *eventsByEE) {
	t.Helper()
	if c := sandbox.Probe(); len(c.Missing) > 0 {
		t.Skipf("this host does not allow a full sandbox (run as root on Linux): %s", strings.Join(c.Missing, "; "))
	}
	return testAgent(t)
}

func testAgent(t *testing.T) (*Agent, *eventsByEE) {
	code := echoCode(t)
	cache := NewCodeCache(filepath.Join(t.TempDir(), "code"), func(context.Context, string) ([]byte, error) { return code, nil })
	events := &eventsByEE{}
	a := New("i-test", cache, events.notify)
	t.Cleanup(a.Close)
	return a, events
}

// await returns the next event of e in one of the states, failing on any
// other terminal one.
func await(t *testing.T, events *eventsByEE, e *EE, states ...State) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events.of(e.Spec.ID):
			for _, s := range states {
				if ev.State == s {
					return ev
				}
			}
			if ev.State == Failed || ev.State == Stopped {
				t.Fatalf("EE %s: %s %+v, want %v", e.Spec.ID, ev.State, ev.Failure, states)
			}
		case <-timeout:
			t.Fatalf("EE %s: no %v within 20s", e.Spec.ID, states)
		}
	}
}

func spec(id string, memoryMB int) Spec {
	return Spec{ID: id, FunctionName: "fn", Version: "$LATEST", Handler: "bootstrap", MemoryMB: memoryMB,
		Timeout: 10 * time.Second, CodeSHA256Hex: "0123abcd", Region: "us-east-1"}
}

func invoke(t *testing.T, e *EE, payload string) *runtimeapi.Invocation {
	t.Helper()
	inv := &runtimeapi.Invocation{ID: "req-" + strconv.FormatInt(time.Now().UnixNano(), 36), Payload: []byte(payload),
		Deadline: time.Now().Add(10 * time.Second)}
	if err := e.Invoke(context.Background(), inv); err != nil {
		t.Fatalf("invoke %s: %v", payload, err)
	}
	return inv
}

// cgroupOf is the cgroup path of pid in the v1 memory hierarchy (or v2).
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(l, ":", 3); len(parts) == 3 && (parts[1] == "memory" || parts[0] == "0" && parts[2] != "/") {
			return parts[2]
		}
	}
	return ""
}

func cgroupExists(path string) bool {
	for _, root := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(root, path, "cgroup.procs")); err == nil {
			return true
		}
	}
	return false
}

// uidOf is the real uid of pid.
func uidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			uid, _ := strconv.Atoi(strings.Fields(v)[0])
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

func TestSandboxedEEServesAndIsCleanedUp(t *testing.T) {
	a, events := sandboxedAgent(t)
	e1 := a.Start(spec("ee-a", 256))
	e2 := a.Start(spec("ee-b", 256))
	await(t, events, e1, Ready)
	await(t, events, e2, Ready)
	if inv := invoke(t, e1, `{"hello":"sandbox"}`); string(inv.Response) != `{"hello":"sandbox"}` || inv.FunctionError != "" {
		t.Fatalf("invoke: %s %s", inv.Response, inv.FunctionError)
	}
	pid1, pid2 := e1.cmd.Process.Pid, e2.cmd.Process.Pid
	uid1, uid2 := uidOf(t, pid1), uidOf(t, pid2)
	if uid1 == 0 || uid2 == 0 || uid1 == uid2 {
		t.Fatalf("EEs run as uids %d and %d, want two distinct non-root ones", uid1, uid2)
	}
	cg1 := cgroupOf(t, pid1)
	if !strings.Contains(cg1, "/paddock/") || !cgroupExists(cg1) {
		t.Fatalf("EE not in a cgroup of its own: %q", cg1)
	}
	if u, ok := e1.sandboxUsage(); !ok || u.CPUSeconds <= 0 || u.RSSBytes <= 0 {
		t.Fatalf("cgroup usage: %+v %v", u, ok)
	}
	// The limits are the spec's: 256 MB, and 256/1769 of a vCPU.
	sb := e1.sb.Load()
	if !sb.MemoryEnforced() {
		t.Fatal("memory not enforced by the cgroup")
	}
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cg1, "memory.limit_in_bytes")); err == nil {
		if got := strings.TrimSpace(string(b)); got != strconv.Itoa(256<<20) {
			t.Errorf("memory limit %s, want %d", got, 256<<20)
		}
	}
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", cg1, "cpu.cfs_quota_us")); err == nil {
		if got := strings.TrimSpace(string(b)); got != strconv.Itoa(256*1000/1769*100) {
			t.Errorf("cpu quota %s µs, want %d", got, 256*1000/1769*100)
		}
	}

	// Stop: drained, stopped, cgroup gone.
	a.Stop(e1)
	await(t, events, e1, Stopped)
	if cgroupExists(cg1) {
		t.Errorf("cgroup %s left after Stop", cg1)
	}
	// A crash: Failed, cgroup gone.
	cg2 := cgroupOf(t, pid2)
	invoke(t, e2, `{"crash":true}`)
	if ev := await(t, events, e2, Failed); ev.Failure.Code != "Runtime.ExitError" {
		t.Fatalf("crash: %+v", ev.Failure)
	}
	if cgroupExists(cg2) {
		t.Errorf("cgroup %s left after a crash", cg2)
	}
	// Agent Close with an EE running: cgroup gone.
	e3 := a.Start(spec("ee-c", 128))
	await(t, events, e3, Ready)
	cg3 := cgroupOf(t, e3.cmd.Process.Pid)
	a.Close()
	if cgroupExists(cg3) {
		t.Errorf("cgroup %s left after the agent closed", cg3)
	}
}

func TestSandboxedEEOutOfMemory(t *testing.T) {
	a, events := sandboxedAgent(t)
	e := a.Start(spec("ee-oom", 128))
	await(t, events, e, Ready)
	cg := cgroupOf(t, e.cmd.Process.Pid)
	inv := invoke(t, e, `{"alloc_mb":400}`)
	if inv.FunctionError != "Unhandled" || inv.ErrorType != runtimeapi.ErrorTypeOutOfMemory {
		t.Fatalf("allocating 400 MB in 128: %q %q %s", inv.FunctionError, inv.ErrorType, inv.Response)
	}
	ev := await(t, events, e, Failed)
	if ev.Failure.Code != runtimeapi.ErrorTypeOutOfMemory {
		t.Fatalf("failure %+v, want %s", ev.Failure, runtimeapi.ErrorTypeOutOfMemory)
	}
	if cgroupExists(cg) {
		t.Errorf("cgroup %s left after the OOM kill", cg)
	}
}

func TestUnconfinedAgentStillWorks(t *testing.T) {
	a, events := testAgent(t)
	a.Sandbox = nil
	e := a.Start(spec("ee-plain", 128))
	await(t, events, e, Ready)
	if inv := invoke(t, e, `{"n":1}`); string(inv.Response) != `{"n":1}` {
		t.Fatalf("invoke: %s", inv.Response)
	}
	if e.sb.Load() != nil || uidOf(t, e.cmd.Process.Pid) != os.Getuid() {
		t.Fatal("an agent without a sandbox confined its EE")
	}
}

// TestAgentRunsWithWhatTheHostAllows: whatever the host forbids (not root:
// no users, namespaces or cgroups), the default sandbox still runs EEs.
func TestAgentRunsWithWhatTheHostAllows(t *testing.T) {
	a, events := testAgent(t)
	t.Logf("sandbox: %+v", *a.Sandbox)
	e := a.Start(spec("ee-host", 128))
	await(t, events, e, Ready)
	if inv := invoke(t, e, `{"n":1}`); string(inv.Response) != `{"n":1}` {
		t.Fatalf("invoke: %s", inv.Response)
	}
	a.Stop(e)
	await(t, events, e, Stopped)
	if entries, _ := os.ReadDir(a.Sandbox.Dir); a.Sandbox.Dir != "" && len(entries) > 0 {
		for _, d := range entries {
			if sub, _ := os.ReadDir(filepath.Join(a.Sandbox.Dir, d.Name())); len(sub) > 0 {
				t.Errorf("EE directories left in %s: %v", a.Sandbox.Dir, sub)
			}
		}
	}
}

func TestSpecCPU(t *testing.T) {
	for _, c := range []struct {
		s    Spec
		want int
	}{
		{Spec{MemoryMB: 1769}, 1000},
		{Spec{MemoryMB: 128}, 72},
		{Spec{MemoryMB: 2048, MaxConcurrency: 16}, 1000},
		{Spec{MemoryMB: 4096, MaxConcurrency: 8}, 2000},
		{Spec{MemoryMB: 2048, MilliCPU: 500}, 500},
	} {
		if got := c.s.milliCPU(); got != c.want {
			t.Errorf("%+v: %d mCPU, want %d", c.s, got, c.want)
		}
	}
}
