package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/bench/relay"
)

// payload is the event every target gets; echo returns it unchanged, so the
// response check is an equality.
var payload = []byte(`{"msg":"hi"}`)

// workers is the Runtime API concurrency of the one function process each of
// relay and Paddock runs: as large as the highest load concurrency, so that
// every row of the table is under capacity.
const workers = 64

// target is one server under load. header returns the headers for the
// requests of one run; it is called once per run, not per request, so that
// the per-request client cost is the same plain net/http POST everywhere.
type target struct {
	name   string
	url    string
	header func() (http.Header, error)
}

// TestInvokeBenchmark is a benchmark, not a test: it prints a table and
// asserts nothing about the numbers. It is a test rather than a
// testing.B benchmark because the comparison needs fixed-duration
// closed-loop runs at chosen concurrencies, all in the same process and the
// same run, which b.N-driven iteration does not give. Run it with
// bench/invoke.sh.
func TestInvokeBenchmark(t *testing.T) {
	if os.Getenv("PADDOCK_BENCH") != "1" {
		t.Skip("set PADDOCK_BENCH=1 (or run bench/invoke.sh) to run the invoke benchmark")
	}
	duration, warmup, rounds := settings(t)
	report(t, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; %s per cell after %s warm-up",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, duration, warmup)

	bootstrap := buildEcho(t)

	// (a) bare: the ceiling of one HTTP exchange on this machine.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	}))
	defer bare.Close()

	// (b) relay: the same function process behind the least code that
	// speaks the Runtime API.
	rl, err := relay.Start(bootstrap, workers)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	defer rl.Close()

	noHeader := func() (http.Header, error) { return nil, nil }
	targets := []target{
		{name: "bare", url: bare.URL, header: noHeader},
		{name: "relay", url: rl.URL(), header: noHeader},
	}

	// (c) paddock: the full path.
	ctx := t.Context()
	pd, err := startPaddock(ctx, t, bootstrap)
	if err != nil {
		t.Fatalf("paddock: %v", err)
	}
	if pd != nil {
		targets = append(targets, *pd)
	}

	// PADDOCK_BENCH_TARGETS and PADDOCK_BENCH_CONC narrow a run, e.g. to
	// profile one target: PADDOCK_BENCH_TARGETS=paddock PADDOCK_BENCH_CONC=64.
	if only := os.Getenv("PADDOCK_BENCH_TARGETS"); only != "" {
		var kept []target
		for _, tg := range targets {
			if strings.Contains(","+only+",", ","+tg.name+",") {
				kept = append(kept, tg)
			}
		}
		targets = kept
	}
	concs := concurrencies(t, 1, 16, 64)

	rows := measure(t, targets, concs, duration, warmup, rounds)

	var sb strings.Builder
	WriteTable(&sb, rows)
	writeGoals(&sb, rows)
	report(t, "\n%s", sb.String())
}

// settings reads the measured time per cell (PADDOCK_BENCH_DURATION,
// default 5s) and the number of interleaved rounds it is split into
// (PADDOCK_BENCH_ROUNDS, default 5), and derives the warm-up run that
// precedes each target's measured runs at each concurrency.
func settings(t *testing.T) (duration, warmup time.Duration, rounds int) {
	t.Helper()
	duration = 5 * time.Second
	if s := os.Getenv("PADDOCK_BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("PADDOCK_BENCH_DURATION: %v", err)
		}
		duration = d
	}
	// Warm-up before each measured run: it opens the client's
	// connections, and lets each server reach its steady state, so that
	// neither is billed to whichever target happens to run first.
	warmup = min(duration/5, time.Second)
	rounds = 5
	if s := os.Getenv("PADDOCK_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PADDOCK_BENCH_ROUNDS: want a positive number, got %q", s)
		}
		rounds = n
	}
	return duration, warmup, rounds
}

// concurrencies is PADDOCK_BENCH_CONC ("1,64") read as a list, or def.
func concurrencies(t *testing.T, def ...int) []int {
	t.Helper()
	s := os.Getenv("PADDOCK_BENCH_CONC")
	if s == "" {
		return def
	}
	var concs []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			t.Fatalf("PADDOCK_BENCH_CONC: want positive numbers, got %q", s)
		}
		concs = append(concs, n)
	}
	return concs
}

// measure loads every target at every concurrency for duration each, from
// a load generator process of its own (startLoader), and returns a row per
// target and concurrency. Each cell's duration is split
// into rounds, and the targets take turns within each round (the first to
// go rotates), so that the machine's speed changing during the run cannot
// favour one of them. A target whose first request fails is reported and
// left out of that concurrency's rows.
func measure(t *testing.T, targets []target, concs []int, duration, warmup time.Duration, rounds int) []Row {
	t.Helper()
	slice := duration / time.Duration(rounds)
	report(t, "each cell: %s in %d interleaved rounds of %s per target", duration, rounds, slice)
	ld := startLoader(t)
	var rows []Row
	for _, conc := range concs {
		var live []target
		loads := map[string]Load{}
		for _, tg := range targets {
			h, err := tg.header()
			if err != nil {
				t.Fatalf("%s: %v", tg.name, err)
			}
			// Fail fast with the real answer rather than a table of
			// errors when a target does not work at all.
			if err := Poster(http.DefaultClient, tg.url, h, payload)(); err != nil {
				t.Errorf("%s: first request: %v", tg.name, err)
				continue
			}
			l := Load{URL: tg.url, Header: h, Payload: payload, Concurrency: conc, Duration: warmup}
			ld.run(tg.name, l)
			l.Duration = slice
			live = append(live, tg)
			loads[tg.name] = l
		}
		samples := make([]Sample, len(live))
		for r := range rounds {
			for k := range live {
				i := (k + r) % len(live)
				samples[i].Add(ld.run(live[i].name, loads[live[i].name]))
			}
		}
		for i, tg := range live {
			res := samples[i].Result()
			rows = append(rows, Row{Target: tg.name, Concurrency: conc, Result: res})
			report(t, "%-7s c=%-2d %8.0f req/s  p50 %-10s p99 %-10s cpu/req %-8s errors %d (429s %d)",
				tg.name, conc, res.Throughput, round(res.P50), round(res.P99), round(res.CPUPerReq), res.Errors, res.Throttled)
		}
	}
	return rows
}

// report prints to stdout as well as the test log, so the table shows up
// whole and unindented in bench/invoke.sh's output.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	fmt.Printf(format+"\n", args...)
}

// buildEcho builds examples/echo as a static bootstrap binary, the way a
// provided.al2023 function is deployed, into a temporary directory.
func buildEcho(t *testing.T) string {
	t.Helper()
	return goBuild(t, "./examples/echo", "bootstrap", "CGO_ENABLED=0")
}

// goBuild builds the module's package pkg into a temporary directory as
// name, with env added to the environment, and returns its path.
func goBuild(t *testing.T, pkg, name string, env ...string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// writeGoals prints the goals against this run's numbers. They are
// printed, not asserted: on a shared 2-core machine the numbers move from
// run to run, and a benchmark that fails on noise would be ignored.
func writeGoals(w io.Writer, rows []Row) {
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
	p64, ok1 := get("paddock", 64)
	r64, ok2 := get("relay", 64)
	if ok1 && ok2 {
		fmt.Fprintf(w, "goal: paddock throughput at c=64 >= relay's: %.0f vs %.0f req/s (%.2fx): %s\n",
			p64.Throughput, r64.Throughput, p64.Throughput/r64.Throughput, verdict(p64.Throughput >= r64.Throughput))
	}
	p1, ok1 := get("paddock", 1)
	r1, ok2 := get("relay", 1)
	if ok1 && ok2 && r1.P50 > 0 {
		ratio := float64(p1.P50) / float64(r1.P50)
		fmt.Fprintf(w, "goal: paddock p50 at c=1 <= 1.25x relay's: %s vs %s (%.2fx): %s\n",
			round(p1.P50), round(r1.P50), ratio, verdict(ratio <= 1.25))
	}
	errs, seen := 0, false
	for _, r := range rows {
		if r.Target == "paddock" {
			errs += r.Errors
			seen = true
		}
	}
	if seen {
		fmt.Fprintf(w, "goal: zero paddock errors under capacity (c <= %d workers): %d: %s\n",
			workers, errs, verdict(errs == 0))
	} else {
		fmt.Fprintln(w, "paddock: not measured")
	}
}
