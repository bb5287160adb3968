package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/testhost"
)

// The hop goals of the issue: invokes through a server to an agent on
// another host keep at least this share of the in-process path's
// throughput at c=64, and add at most this much to its p50 at c=1.
const (
	hopThroughputGoal = 0.8
	hopP50Budget      = 300 * time.Microsecond
)

// TestClusterHopBenchmark measures the same echo function, deployed the
// same way (deployEcho: one EE of 64 workers), behind two platforms in the
// same run: "up", the whole platform in this process with its instances as
// agents in it (the in-process hop), and "cluster", a `paddock server` in
// this process whose one instance is a `paddock agent` process on a test
// host (a network namespace of its own), reached over the HTTP hop. Like
// TestInvokeBenchmark it prints and asserts nothing. Run it with
// bench/cluster.sh; it needs root for the test host.
func TestClusterHopBenchmark(t *testing.T) {
	if os.Getenv("PADDOCK_BENCH") != "1" {
		t.Skip("set PADDOCK_BENCH=1 (or run bench/cluster.sh) to run the server → agent hop benchmark")
	}
	if os.Geteuid() != 0 {
		t.Skip("the server → agent hop benchmark runs the agent on a test host, a network namespace: run it as root")
	}
	duration, warmup, rounds := settings(t)
	report(t, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; %s per cell after %s warm-up",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, duration, warmup)

	host := testhost.New(t) // skips where the machine cannot make one
	bootstrap := buildEcho(t)
	ctx := t.Context()

	up, err := startPaddock(ctx, t, bootstrap)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	up.name = "up"
	cl, err := startCluster(ctx, t, host, bootstrap)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}

	rows := measure(t, []target{*up, *cl}, concurrencies(t, 1, 64), duration, warmup, rounds)

	var sb strings.Builder
	WriteTableAgainst(&sb, rows, "up")
	writeHopGoals(&sb, rows, "up", "cluster")
	report(t, "\n%s", sb.String())
}

const benchJoinToken = "bench-join-token"

// startCluster starts a Paddock server in this process (the static
// provider: its instances are agents that join its engine, which listens
// on the test host's link) and one `paddock agent` process on host, waits
// for the agent to join, and deploys the echo function on it.
func startCluster(ctx context.Context, t *testing.T, host *testhost.Host, bootstrap string) (*target, error) {
	bin := goBuild(t, "./cmd/paddock", "paddock")
	p, err := platform.Start(ctx, platform.Options{
		DataDir:      t.TempDir(),
		Listen:       "127.0.0.1:0",
		Provider:     "static",
		EngineListen: host.Gateway.String() + ":0",
		JoinToken:    benchJoinToken,
	})
	if err != nil {
		return nil, fmt.Errorf("start paddock server: %w", err)
	}
	t.Cleanup(p.Close)

	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "agent", "--join", p.EngineURL, "--token", benchJoinToken, "--id", "h-1",
		"--instance-type", "m7i.xlarge", "--listen", host.Addr.String()+":9402", "--data-dir", filepath.Join(t.TempDir(), "agent"))
	cmd.Args = append(cmd.Args, strings.Fields(os.Getenv("PADDOCK_BENCH_AGENT_ARGS"))...) // e.g. --hop-tls=false
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if extra := os.Getenv("PADDOCK_BENCH_AGENT_ENV"); extra != "" {
		cmd.Env = append(os.Environ(), strings.Fields(extra)...)
	}
	exited, err := host.Start(cmd)
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start agent: %w", err)
	}
	agentPIDs = append(agentPIDs, cmd.Process.Pid)
	t.Cleanup(func() { agentPIDs = nil })
	agentLog := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	// Registered after p.Close, so it runs before it: the agent leaves
	// first, then the server stops.
	t.Cleanup(func() {
		defer logFile.Close()
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-exited
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", agentLog())
			return
		}
		// The sandbox may warn about what this machine does not allow;
		// show it, since it can change what the EE costs.
		var warns []string
		for _, line := range strings.Split(agentLog(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				warns = append(warns, line)
			}
		}
		if len(warns) > 0 {
			report(t, "cluster: the agent logged %d warnings or errors, the first: %s", len(warns), warns[0])
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for len(p.Static.Hosts()) != 1 {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("agent exited before joining: %v\n%s", err, agentLog())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("agent did not join in 20s\n%s", agentLog())
		}
	}
	report(t, "cluster: agent %s joined from %s (engine %s), agent pid %d", p.Static.Hosts()[0].ID, p.Static.Hosts()[0].HopURL, p.EngineURL, cmd.Process.Pid)
	return deployEcho(ctx, t, p, "cluster", bootstrap)
}

// writeHopGoals prints the goals for the hop against this run's
// numbers: printed, not asserted, as writeGoals does.
func writeHopGoals(w io.Writer, rows []Row, base, hop string) {
	get := func(target string, conc int) (Result, bool) {
		for _, r := range rows {
			if r.Target == target && r.Concurrency == conc {
				return r.Result, true
			}
		}
		return Result{}, false
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintln(w)
	h64, ok1 := get(hop, 64)
	b64, ok2 := get(base, 64)
	if ok1 && ok2 && b64.Throughput > 0 {
		ratio := h64.Throughput / b64.Throughput
		fmt.Fprintf(w, "goal: %s throughput at c=64 >= %.1fx %s's: %.0f vs %.0f req/s (%.2fx): %s\n",
			hop, hopThroughputGoal, base, h64.Throughput, b64.Throughput, ratio, verdict(ratio >= hopThroughputGoal))
	}
	h1, ok1 := get(hop, 1)
	b1, ok2 := get(base, 1)
	if ok1 && ok2 {
		diff := h1.P50 - b1.P50
		fmt.Fprintf(w, "goal: %s p50 at c=1 <= %s's + %s: %s vs %s (%s): %s\n",
			hop, base, round(hopP50Budget), round(h1.P50), round(b1.P50), signed(diff), verdict(diff <= hopP50Budget))
	}
	errs := 0
	for _, r := range rows {
		if r.Target == hop || r.Target == base {
			errs += r.Errors
		}
	}
	fmt.Fprintf(w, "errors (%s and %s, all under the EE's %d workers): %d\n", base, hop, workers, errs)
}
