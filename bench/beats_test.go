package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/platform"
)

// beatGoal is the goal: the servers' CPU per heartbeating agent,
// as a share of one core per 100 agents.
const beatGoal = 1.0 // percent of one core per 100 agents

// beatCell is one row of the heartbeat table: agents simulated, each on
// a connection of its own, as real agents are.
type beatCell struct{ agents int }

func (c beatCell) String() string { return fmt.Sprintf("%d agents", c.agents) }

// beatSample is what the measured windows of one cell saw, added up.
type beatSample struct {
	elapsed            time.Duration
	serverCPU, loadCPU time.Duration
	replies, errors    int64
	lat                []beatLoadStats // one per window (percentiles are not added: the worst window's are shown)
	fresh, windows     int             // fresh hosts seen at the end of each window, summed
}

// beatLoadStats is bench/beatload's Stats line.
type beatLoadStats struct {
	Replies   int64   `json:"replies"`
	Errors    int64   `json:"errors"`
	ElapsedNs int64   `json:"elapsedNs"`
	P50Ns     int64   `json:"p50Ns"`
	P99Ns     int64   `json:"p99Ns"`
	MaxNs     int64   `json:"maxNs"`
	BeatBytes float64 `json:"beatBytes"`
}

// TestBeatsBenchmark measures what heartbeating agents cost a Paddock
// server: one server (the static provider, its engine listening on
// loopback) runs in this process, and a separate process, bench/beatload,
// simulates N agents that each write a host record and beat every
// livestate.HeartbeatInterval with the usage of 4 EEs, as internal/agentd
// does. The server's CPU (this process's getrusage) is read around a
// measured window for each N, N=0 being the baseline of an idle server;
// beats are counted by the load process's confirmed beats (nothing is
// added to the server). Like the other benchmarks it prints and asserts
// nothing. Run it with bench/beats.sh.
func TestBeatsBenchmark(t *testing.T) {
	if os.Getenv("PADDOCK_BENCH") != "1" {
		t.Skip("set PADDOCK_BENCH=1 (or run bench/beats.sh) to run the heartbeat benchmark")
	}
	window := 10 * time.Second
	if s := os.Getenv("PADDOCK_BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("PADDOCK_BENCH_DURATION: %v", err)
		}
		window = d
	}
	warmup := fleet.HeartbeatTimeout + time.Second // the previous cell's hosts have gone stale
	rounds := 2
	if s := os.Getenv("PADDOCK_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PADDOCK_BENCH_ROUNDS: want a positive number, got %q", s)
		}
		rounds = n
	}
	cells := []beatCell{{0}, {100}, {500}, {1000}}
	if s := os.Getenv("PADDOCK_BENCH_AGENTS"); s != "" { // "0,100,1000"
		cells = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				t.Fatalf("PADDOCK_BENCH_AGENTS: %q", s)
			}
			cells = append(cells, beatCell{n})
		}
	}
	report(t, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; %s per cell after %s warm-up, %d rounds",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, window, warmup, rounds)

	// The fleet logs every (re)joining host; a thousand per cell would be
	// the benchmark's main cost.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	bin := goBuild(t, "./bench/beatload", "beatload")
	ctx := t.Context()
	p, err := platform.Start(ctx, platform.Options{
		DataDir:      t.TempDir(),
		Listen:       "127.0.0.1:0",
		Provider:     "static",
		EngineListen: "127.0.0.1:0",
		JoinToken:    benchJoinToken,
	})
	if err != nil {
		t.Fatalf("start paddock server: %v", err)
	}
	t.Cleanup(p.Close)
	select {
	case <-p.Static.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the fleet did not read the live state in 30s")
	}
	maxAgents := 0
	for _, c := range cells {
		maxAgents = max(maxAgents, c.agents)
	}
	// Every cell reuses the same host ids, so that the server knows the
	// same hosts (most of them silent) whatever ran before: join them all
	// once, untimed.
	if maxAgents > 0 {
		l := startBeatLoad(t, bin, p.EngineURL, beatCell{maxAgents})
		time.Sleep(warmup)
		l.close()
	}
	report(t, "server: engine %s, %d hosts known after the joining run", p.EngineURL, len(p.Static.Hosts()))

	profile := os.Getenv("PADDOCK_BENCH_PROFILE") // a file: the CPU profile of the first window of the largest cell
	samples := make([]beatSample, len(cells))
	for r := range rounds {
		for k := range cells {
			i := (k + r) % len(cells) // rotate who goes first
			c := cells[i]
			l := startBeatLoad(t, bin, p.EngineURL, c)
			time.Sleep(warmup)
			var prof *os.File
			if profile != "" && r == 0 && c.agents == maxAgents {
				if prof, err = os.Create(profile); err != nil {
					t.Fatal(err)
				}
				pprof.StartCPUProfile(prof) //nolint:errcheck
			}
			l.send("start")
			cpu0, load0, t0 := processCPU(), l.cpu(), time.Now()
			time.Sleep(window)
			// Before the load stops: every simulated host should be
			// beating, as this server sees it.
			fresh := 0
			for _, h := range p.Static.Hosts() {
				if time.Since(h.LastBeat) < 2*livestate.HeartbeatInterval && strings.HasPrefix(h.ID, "bench-") {
					fresh++
				}
			}
			l.send("stop")
			elapsed, cpu, load := time.Since(t0), processCPU()-cpu0, l.cpu()-load0
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				report(t, "profile of the %s window: %s", c, profile)
			}
			st := l.stats()
			l.close()
			s := &samples[i]
			s.elapsed += elapsed
			s.serverCPU += cpu
			s.loadCPU += load
			s.replies += st.Replies
			s.errors += st.Errors
			s.lat = append(s.lat, st)
			s.fresh += fresh
			s.windows++
			report(t, "round %d, %s: server %.2f%% of a core, %.0f beats/s, p99 %s, %d fresh hosts",
				r+1, c, pctCore(cpu, elapsed), float64(st.Replies)/elapsed.Seconds(), time.Duration(st.P99Ns).Round(time.Microsecond), fresh)
		}
	}

	var sb strings.Builder
	writeBeatTable(&sb, cells, samples)
	report(t, "\n%s", sb.String())
}

func pctCore(cpu, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / elapsed.Seconds()
}

// writeBeatTable prints the cells, with the server's CPU net of the idle
// baseline (the mean of the 0-agent cells) and per 100 agents, against the
// goal.
func writeBeatTable(w io.Writer, cells []beatCell, samples []beatSample) {
	var base float64
	nb := 0
	for i, c := range cells {
		if c.agents == 0 && samples[i].elapsed > 0 {
			base += pctCore(samples[i].serverCPU, samples[i].elapsed)
			nb++
		}
	}
	if nb > 0 {
		base /= float64(nb)
	}
	fmt.Fprintf(w, "%6s %9s %9s %11s %9s %11s %9s %9s %9s %9s %7s %6s %9s  %s\n",
		"agents", "beats/s", "expected", "server cpu", "net cpu", "net/100ag", "cpu/beat", "p50", "p99", "max", "errors", "fresh", "load cpu", "goal (<1%/100)")
	for i, c := range cells {
		s := samples[i]
		if s.elapsed <= 0 {
			continue
		}
		cpu := pctCore(s.serverCPU, s.elapsed)
		net := cpu - base
		per, goal, perBeat := "-", "-", "-"
		if s.replies > 0 {
			perBeat = round(time.Duration(net / 100 * float64(s.elapsed) / float64(s.replies)))
		}
		if c.agents > 0 {
			v := net / (float64(c.agents) / 100)
			per = fmt.Sprintf("%.3f%%", v)
			if v < beatGoal {
				goal = "met"
			} else {
				goal = "NOT met"
			}
		}
		// The worst window's percentiles: they are not additive.
		var p50, p99, mx int64
		for _, st := range s.lat {
			p50, p99, mx = max(p50, st.P50Ns), max(p99, st.P99Ns), max(mx, st.MaxNs)
		}
		fmt.Fprintf(w, "%6d %9.0f %9.0f %10.2f%% %8.2f%% %11s %9s %9s %9s %9s %7d %6d %8.2f%%  %s\n",
			c.agents, float64(s.replies)/s.elapsed.Seconds(), float64(c.agents)/livestate.HeartbeatInterval.Seconds(),
			cpu, net, per, perBeat, round(time.Duration(p50)), round(time.Duration(p99)), round(time.Duration(mx)),
			s.errors, s.fresh/max(s.windows, 1), pctCore(s.loadCPU, s.elapsed), goal)
	}
	fmt.Fprintf(w, "\nserver cpu: this process (the Paddock server with its embedded engine), user+system, %% of one core; net: minus the 0-agent baseline (%.2f%%); cpu/beat: net cpu per beat answered\n", base)
}

// beatLoad is a running bench/beatload process.
type beatLoad struct {
	t     *testing.T
	c     beatCell
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	close func()
}

// startBeatLoad starts bench/beatload simulating c against the engine at
// url and waits until its agents have joined and beat.
func startBeatLoad(t *testing.T, bin, url string, c beatCell) *beatLoad {
	t.Helper()
	cmd := exec.Command(bin, "-url", url, "-token", benchJoinToken, "-agents", strconv.Itoa(c.agents),
		"-prefix", "bench")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start beatload: %v", err)
	}
	l := &beatLoad{t: t, c: c, cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	var closed bool
	l.close = func() {
		if closed {
			return
		}
		closed = true
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }() //nolint:errcheck
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-done
		}
	}
	t.Cleanup(l.close)
	ready := make(chan bool, 1)
	go func() { ready <- l.out.Scan() && l.out.Text() == "ready" }()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("beatload (%s) did not get ready: %v", c, l.out.Err())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("beatload (%s) not ready in 2 minutes", c)
	}
	return l
}

func (l *beatLoad) send(cmd string) {
	if _, err := io.WriteString(l.in, cmd+"\n"); err != nil {
		l.t.Fatalf("beatload: %v", err)
	}
}

func (l *beatLoad) stats() beatLoadStats {
	var st beatLoadStats
	if !l.out.Scan() {
		l.t.Fatalf("beatload (%s): no stats: %v", l.c, l.out.Err())
	}
	if err := json.Unmarshal(l.out.Bytes(), &st); err != nil {
		l.t.Fatalf("beatload (%s): stats %q: %v", l.c, l.out.Text(), err)
	}
	return st
}

// cpu is the load process's CPU time so far.
func (l *beatLoad) cpu() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(l.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	_, ticks := statCPU(b)
	return time.Duration(ticks) * time.Second / userHZ
}
