// Command beatload simulates instance agents heartbeating a Paddock server,
// for the heartbeat benchmark (TestBeatsBenchmark in package bench). It runs
// as a process of its own so that its CPU is not billed to the server the
// benchmark measures.
//
// Each simulated agent does what a real one (internal/agentd) does on the
// wire, and nothing else: it writes its host record to the hosts bucket
// once, on a connection of its own with a key of its own (admitted by the
// servers' auth callout, as a real agent is), then every interval sends a
// livestate.Beat with the usage of a few EEs as a NATS message on
// livestate.BeatSubject + its id, then a flush (the engine's PONG confirms
// the beat, and renews a real agent's lease), with the interval as timeout.
//
// It talks to the benchmark over stdin and stdout, one line each:
//
//	out: "ready"            every host record is written and the agents beat
//	in:  "start"            start counting confirmed beats (counters reset)
//	in:  "stop"             stop counting; out: one JSON Stats line
//	in:  EOF                exit (host records are left: the server sees
//	                        the beats stop, as after kill -9)
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nats-io/nkeys"

	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/livestate"
)

// Stats is what one measured window saw: replies are confirmed beats.
type Stats struct {
	Replies   int64   `json:"replies"`
	Errors    int64   `json:"errors"`
	ElapsedNs int64   `json:"elapsedNs"`
	P50Ns     int64   `json:"p50Ns"`
	P99Ns     int64   `json:"p99Ns"`
	MaxNs     int64   `json:"maxNs"`
	BeatBytes float64 `json:"beatBytes"` // mean size of a beat's payload
}

func main() {
	url := flag.String("url", "", "the server's engine (nats://...)")
	token := flag.String("token", "", "the join token")
	agents := flag.Int("agents", 100, "simulated agents")
	ees := flag.Int("ees", 4, "EEs in each beat's usage")
	prefix := flag.String("prefix", "bench", "host ids are PREFIX-0000, PREFIX-0001, ...")
	every := flag.Duration("every", livestate.HeartbeatInterval, "beat interval")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("beatload: ")

	ctx := context.Background()
	// Each agent connects as a real one does (cmd/paddock/agent.go): a key
	// of its own, admitted by the servers' auth callout, and 1s pings,
	// which are part of what a joined agent costs the server.
	ids := make([]string, *agents)
	ncs := make([]*nats.Conn, *agents)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%04d", *prefix, i)
	}
	var wg sync.WaitGroup
	var joinErr atomic.Pointer[error]
	sem := make(chan struct{}, 32)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := join(ctx, i, id, *url, *token, &ncs[i]); err != nil {
				joinErr.Store(&err)
			}
		}()
	}
	wg.Wait()
	if e := joinErr.Load(); e != nil {
		log.Fatalf("join: %v", *e)
	}
	for _, nc := range ncs {
		defer nc.Close()
	}

	var (
		counting atomic.Bool
		replies  atomic.Int64
		errs     atomic.Int64
		bytes    atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
	)
	for i, id := range ids {
		nc := ncs[i]
		go func() {
			// Spread the agents over the interval, as agents started at
			// different times are.
			time.Sleep(rand.N(*every))
			t := time.NewTicker(*every)
			defer t.Stop()
			subject := livestate.BeatSubject + id
			var done uint64
			for range t.C {
				done += 7
				b := livestate.Beat{Host: id, EEs: make(map[string]livestate.EEUsage, *ees)}
				for e := range *ees {
					b.EEs[fmt.Sprintf("ee-%s-%d", id, e)] = livestate.EEUsage{CPUSeconds: float64(done) * 0.013, RSSBytes: 96<<20 + int64(e)<<20,
						Completed: done, InFlight: e}
				}
				data := livestate.AppendBeat(nil, b) // as agentd encodes it
				sent := time.Now()
				err := nc.Publish(subject, data) // as agentd beats: a message, then a flush
				if err == nil {
					err = nc.FlushTimeout(*every)
				}
				d := time.Since(sent)
				if !counting.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				replies.Add(1)
				bytes.Add(int64(len(data)))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	fmt.Println("ready")

	var start time.Time
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "start":
			mu.Lock()
			lat = lat[:0]
			replies.Store(0)
			errs.Store(0)
			bytes.Store(0)
			start = time.Now()
			counting.Store(true)
			mu.Unlock()
		case "stop":
			counting.Store(false)
			mu.Lock()
			s := Stats{Replies: replies.Load(), Errors: errs.Load(), ElapsedNs: int64(time.Since(start))}
			all := slices.Clone(lat)
			mu.Unlock()
			slices.Sort(all)
			if len(all) > 0 {
				s.P50Ns, s.P99Ns, s.MaxNs = int64(pct(all, 0.50)), int64(pct(all, 0.99)), int64(all[len(all)-1])
				s.BeatBytes = float64(bytes.Load()) / float64(s.Replies)
			}
			out, _ := json.Marshal(s)
			fmt.Println(string(out))
		default:
			log.Printf("unknown command %q", in.Text())
		}
	}
}

// join connects agent i as host id and writes its host record.
func join(ctx context.Context, i int, id, url, token string, out **nats.Conn) error {
	// A key derived from the id: the next run joins as the same agents
	// (a host id stays bound to the key that first joined as it).
	seed := sha256.Sum256([]byte("beatload " + id))
	key, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, seed[:])
	if err != nil {
		return err
	}
	auth, err := joinauth.ConnectOptions(id, token, key)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, append(auth, nats.Name("beatload "+id),
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.PingInterval(30*time.Second), nats.MaxPingsOutstanding(2), nats.Timeout(5*time.Second))...)
	if err != nil {
		return fmt.Errorf("connect %s: %w", id, err)
	}
	*out = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, livestate.HostsBucket)
	if err != nil {
		return err
	}
	tok := make([]byte, 24)
	crand.Read(tok) //nolint:errcheck
	return livestate.Put(ctx, kv, id, livestate.Host{ID: id, Provider: "static", Type: "m7i.xlarge", Arch: "x86_64",
		VCPU: 4, MemoryMiB: 16384, HopURL: fmt.Sprintf("http://10.77.%d.%d:9402", i/250, i%250+1),
		HopToken: hex.EncodeToString(tok), Started: time.Now().UTC()})
}

// pct of sorted, nearest-rank.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
