// Package bench measures synchronous invokes through Paddock's full path
// against two baselines taken in the same run: a bare net/http handler and
// a minimal Runtime API relay (package relay). See README.md.
//
// This file holds what the three targets share, so that the only thing that
// differs between rows of the table is the server being measured: one
// closed-loop load generator, one HTTP client configuration, one response
// check.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result is what the closed-loop runs of one cell measured.
type Result struct {
	Requests   int           // completed requests, errors included
	Errors     int           // requests whose do returned an error
	Throttled  int           // of Errors, those that were 429s (ErrThrottled)
	Throughput float64       // successful requests per second
	P50, P99   time.Duration // latency of the successful requests
	// CPUPerReq is the busy CPU time of the whole machine (load generator,
	// server and function process alike) per completed request: the cost
	// of one invoke, which unlike throughput does not depend on how the
	// scheduler happened to share the cores. Zero where /proc/stat cannot
	// be read.
	CPUPerReq time.Duration
	// SelfCPUPerReq is the part of CPUPerReq spent in the benchmark's own
	// process: the server under test (relay and Paddock run in-process).
	SelfCPUPerReq time.Duration
	// LoadCPUPerReq is the part spent in the load generator, a process of
	// its own (bench/loadgen), so that it shares neither scheduler nor
	// garbage collector with the server.
	LoadCPUPerReq time.Duration
	// FunctionCPUPerReq is the part spent in the function processes
	// (every process named bootstrap); what is left of CPUPerReq is the
	// kernel's work outside them and other processes.
	FunctionCPUPerReq time.Duration
	// ConnsPerReq is the TCP connections accepted on the machine per
	// completed request: the function's runtime client redials whenever
	// more than two of its connections are idle at once.
	ConnsPerReq float64
	// AgentCPUPerReq is the part spent in the cluster benchmark's
	// `paddock agent` process (agentPIDs); zero where there is none.
	AgentCPUPerReq time.Duration
}

// ErrThrottled marks a 429 answer so that Run can count throttles apart
// from other errors: a throttle is the platform saying it is at capacity,
// anything else is a failure.
var ErrThrottled = errors.New("throttled (429)")

// Sample is the raw outcome of one or more runs against one target. Runs
// of several targets are interleaved in short rounds and each target's
// samples added up, so that a change in the machine's speed during the
// benchmark (a shared VM's neighbours) hits every target alike instead of
// whichever ran at the wrong moment.
type Sample struct {
	lat            []time.Duration // of the successful requests
	errs           int
	throttled      int
	elapsed        time.Duration
	busy, self, fn time.Duration // machine, process and function CPU time
	load           time.Duration // CPU time of the load generator
	agent          time.Duration // CPU time of the agent processes (agentPIDs)
	opens          int64         // TCP connections accepted
}

// Add merges o into s.
func (s *Sample) Add(o Sample) {
	s.lat = append(s.lat, o.lat...)
	s.errs += o.errs
	s.throttled += o.throttled
	s.elapsed += o.elapsed
	s.busy += o.busy
	s.self += o.self
	s.fn += o.fn
	s.load += o.load
	s.agent += o.agent
	s.opens += o.opens
}

// Result summarizes the sample.
func (s *Sample) Result() Result {
	r := Result{Errors: s.errs, Throttled: s.throttled, Requests: len(s.lat) + s.errs}
	if s.elapsed > 0 {
		r.Throughput = float64(len(s.lat)) / s.elapsed.Seconds()
	}
	if r.Requests > 0 {
		r.CPUPerReq = s.busy / time.Duration(r.Requests)
		r.SelfCPUPerReq = s.self / time.Duration(r.Requests)
		r.FunctionCPUPerReq = s.fn / time.Duration(r.Requests)
		r.LoadCPUPerReq = s.load / time.Duration(r.Requests)
		r.AgentCPUPerReq = s.agent / time.Duration(r.Requests)
		r.ConnsPerReq = float64(s.opens) / float64(r.Requests)
	}
	all := slices.Clone(s.lat)
	slices.Sort(all)
	r.P50 = percentile(all, 0.50)
	r.P99 = percentile(all, 0.99)
	return r
}

// Load is one closed-loop run, as a benchmark asks bench/loadgen (the load
// generator, a process of its own) for it.
type Load struct {
	URL         string        `json:"url"`
	Header      http.Header   `json:"header,omitempty"`
	Payload     []byte        `json:"payload"`
	Event       bool          `json:"event,omitempty"` // InvocationType Event: 202 and no body expected
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration"`
}

// LoadResult is what bench/loadgen answers a Load with: the outcome of the
// requests, not the CPU they cost, which the benchmark reads around it.
type LoadResult struct {
	LatencyNs  []int64 `json:"latencyNs"` // of the successful requests
	Errors     int     `json:"errors"`
	Throttled  int     `json:"throttled"` // of Errors, the 429s
	ElapsedNs  int64   `json:"elapsedNs"`
	FirstError string  `json:"firstError,omitempty"`
}

// Run keeps concurrency requests outstanding for duration: each of
// concurrency workers calls do, waits for it, and calls it again. A closed
// loop, not a fixed arrival rate, because the question is how much one
// server can complete, and an open loop against a saturated server only
// measures its queue.
func Run(ctx context.Context, concurrency int, duration time.Duration, do func() error) LoadResult {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()

	type worker struct {
		lat             []int64
		errs, throttled int
		first           error
	}
	workers := make([]worker, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range concurrency {
		wg.Go(func() {
			// Each worker appends to its own record so recording costs no
			// lock and the workers do not contend.
			w := &workers[i]
			for ctx.Err() == nil {
				t0 := time.Now()
				err := do()
				d := time.Since(t0)
				switch {
				case err == nil:
					w.lat = append(w.lat, int64(d))
				case errors.Is(err, ErrThrottled):
					w.errs++
					w.throttled++
				default:
					w.errs++
					if w.first == nil {
						w.first = err
					}
				}
			}
		})
	}
	wg.Wait()
	// The elapsed time, not duration: the last requests finish after the
	// deadline, and they are counted.
	res := LoadResult{ElapsedNs: int64(time.Since(start))}
	for _, w := range workers {
		res.LatencyNs = append(res.LatencyNs, w.lat...)
		res.Errors += w.errs
		res.Throttled += w.throttled
		if w.first != nil && res.FirstError == "" {
			res.FirstError = w.first.Error()
		}
	}
	return res
}

// sample is r as a Sample, with no CPU counted yet.
func (r LoadResult) sample() Sample {
	s := Sample{errs: r.Errors, throttled: r.Throttled, elapsed: time.Duration(r.ElapsedNs), lat: make([]time.Duration, len(r.LatencyNs))}
	for i, ns := range r.LatencyNs {
		s.lat[i] = time.Duration(ns)
	}
	return s
}

// percentile of sorted, nearest-rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// NewClient is the one client configuration all three targets are loaded
// with. Go's default transport keeps only 2 idle connections per host, so at
// concurrency 64 it would close and redial most connections on every
// request, and the benchmark would measure TCP setup rather than the servers.
func NewClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // loopback only; never route through an environment proxy
	t.MaxIdleConns = concurrency * 2
	t.MaxIdleConnsPerHost = concurrency * 2
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// Poster returns a do function for Run that POSTs payload to url with the
// given extra headers and checks the answer the way a synchronous Lambda
// invoke is checked: 200, no X-Amz-Function-Error, and the echoed payload.
func Poster(client *http.Client, url string, header http.Header, payload []byte) func() error {
	return func() error {
		resp, body, err := post(client, url, header, payload)
		switch {
		case err != nil:
			return err
		case resp.StatusCode == http.StatusTooManyRequests:
			return ErrThrottled
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		case resp.Header.Get("X-Amz-Function-Error") != "":
			return fmt.Errorf("function error %s: %s", resp.Header.Get("X-Amz-Function-Error"), body)
		case !bytes.Equal(body, payload) && !sameJSON(body, payload):
			return fmt.Errorf("body %q, want %q", body, payload)
		}
		return nil
	}
}

// EventPoster is Poster for InvocationType Event: 202 and no body.
func EventPoster(client *http.Client, url string, header http.Header, payload []byte) func() error {
	return func() error {
		resp, body, err := post(client, url, header, payload)
		switch {
		case err != nil:
			return err
		case resp.StatusCode == http.StatusTooManyRequests:
			return ErrThrottled
		case resp.StatusCode != http.StatusAccepted || len(body) != 0:
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	}
}

// sameJSON reports whether a and b are the same JSON but for spacing
// (Python's runtime client writes `{"msg": "hi"}`).
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// post POSTs payload to url with the extra headers and reads the whole
// answer, also on errors, so the connection goes back to the pool instead
// of being closed.
func post(client *http.Client, url string, header http.Header, payload []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

// Row is one cell of the results table.
type Row struct {
	Target      string
	Concurrency int
	Result
}

// WriteTable prints rows as a table, with each row's throughput and p50
// next to the relay's at the same concurrency (the baseline the goal is
// stated against). Rows without a relay row at their concurrency get "-".
func WriteTable(w io.Writer, rows []Row) { writeTable(w, rows, "relay", false) }

// WriteTableAgainst is WriteTable with the rows of target base as the
// baseline, and two columns more: each row's p50 minus the baseline's, for
// goals stated as a latency budget rather than a ratio, and the CPU of
// `paddock agent` processes per request (part of cpu/req, not of self/req).
func WriteTableAgainst(w io.Writer, rows []Row, base string) { writeTable(w, rows, base, true) }

func writeTable(w io.Writer, rows []Row, base string, p50Diff bool) {
	baseline := map[int]Result{}
	for _, r := range rows {
		if r.Target == base {
			baseline[r.Concurrency] = r.Result
		}
	}
	diffHead, agentHead := "", ""
	if p50Diff {
		diffHead = fmt.Sprintf(" %10s", "p50-"+base)
		agentHead = fmt.Sprintf(" %9s", "agent/req")
	}
	fmt.Fprintf(w, "%-8s %5s %10s %10s %10s %7s %9s %11s %9s%s %9s %9s %9s %9s%s %9s\n",
		"target", "conc", "req/s", "p50", "p99", "errors", "429s", "req/s/"+base, "p50/"+base, diffHead, "cpu/req", "load/req", "self/req", "fn/req", agentHead, "conns/req")
	for _, r := range rows {
		tput, p50, diff := "-", "-", "-"
		if b, ok := baseline[r.Concurrency]; ok {
			if b.Throughput > 0 {
				tput = fmt.Sprintf("%.2fx", r.Throughput/b.Throughput)
			}
			if b.P50 > 0 {
				p50 = fmt.Sprintf("%.2fx", float64(r.P50)/float64(b.P50))
				diff = signed(r.P50 - b.P50)
			}
		}
		diffCol, agentCol := "", ""
		if p50Diff {
			diffCol = fmt.Sprintf(" %10s", diff)
			agentCol = fmt.Sprintf(" %9s", round(r.AgentCPUPerReq))
		}
		fmt.Fprintf(w, "%-8s %5d %10.0f %10s %10s %7d %9d %11s %9s%s %9s %9s %9s %9s%s %9.2f\n",
			r.Target, r.Concurrency, r.Throughput, round(r.P50), round(r.P99),
			r.Errors, r.Throttled, tput, p50, diffCol, round(r.CPUPerReq), round(r.LoadCPUPerReq), round(r.SelfCPUPerReq), round(r.FunctionCPUPerReq), agentCol, r.ConnsPerReq)
	}
}

// signed is round(d) with its sign always written.
func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + round(d)
	}
	return round(d)
}

// round keeps latencies readable: microseconds are the resolution that
// matters for loopback HTTP.
func round(d time.Duration) string {
	return d.Round(time.Microsecond).String()
}
