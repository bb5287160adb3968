// Command loadgen is the benchmarks' load generator (package bench). It
// runs as a process of its own, as the benchmarks' rule is: a load
// generator inside the server's process shares its scheduler and garbage
// collector and flatters it.
//
// It talks to the benchmark over stdin and stdout, one JSON line each:
//
//	in:  a bench.Load       run it (bench.Run, the closed loop)
//	out: a bench.LoadResult its outcome: latencies, errors, elapsed time
//	in:  EOF                exit
//
// The benchmark reads the machine's and the processes' CPU around each
// exchange. One HTTP client is kept per concurrency (bench.NewClient), so
// the connections a warm-up opened serve the measured runs after it, and
// every target at a concurrency is loaded by the same client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/paddockhq/paddock/bench"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("loadgen: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, os.Stdin, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// serve answers each Load read from r with its LoadResult on w, until r
// ends.
func serve(ctx context.Context, r io.Reader, w io.Writer) error {
	clients := map[int]*http.Client{}
	dec, enc := json.NewDecoder(r), json.NewEncoder(w)
	for {
		var l bench.Load
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if l.Concurrency < 1 || l.Duration <= 0 {
			return errors.New("a load needs a positive concurrency and duration")
		}
		client := clients[l.Concurrency]
		if client == nil {
			client = bench.NewClient(l.Concurrency)
			clients[l.Concurrency] = client
		}
		do := bench.Poster(client, l.URL, l.Header, l.Payload)
		if l.Event {
			do = bench.EventPoster(client, l.URL, l.Header, l.Payload)
		}
		if err := enc.Encode(bench.Run(ctx, l.Concurrency, l.Duration, do)); err != nil {
			return err
		}
	}
}
