package coderelay_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/paddockhq/paddock/internal/coderelay"
)

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// connect starts a NATS server on loopback and returns a connection to it.
func connect(t *testing.T) *nats.Conn {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestFetch: an agent gets the code its host is assigned, whole and
// checked, and nothing else.
func TestFetch(t *testing.T) {
	big := make([]byte, 2*coderelay.ChunkBytes+12345)
	rand.Read(big) //nolint:errcheck // never fails
	small := []byte("PK a small zip")
	empty := []byte{}
	lying := []byte("what the store says")
	zips := map[string][]byte{digest(big): big, digest(small): small, digest(empty): empty, digest([]byte("the truth")): lying}
	allowed := map[string]bool{ // host/code
		"h-1/" + digest(big): true, "h-1/" + digest(small): true, "h-1/" + digest(empty): true,
		"h-1/" + digest([]byte("the truth")): true, "h-1/" + digest([]byte("gone")): true,
	}
	nc := connect(t)
	relay := &coderelay.Server{
		Allowed: func(_ context.Context, host, code string) (bool, error) { return allowed[host+"/"+code], nil },
		Get: func(_ context.Context, code string) ([]byte, error) {
			if z, ok := zips[code]; ok {
				return z, nil
			}
			return nil, coderelay.ErrNotFound
		},
	}
	if err := relay.Serve(t.Context(), nc); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, host, code string
		want             []byte
		err              string // in the error; "" for none
	}{
		{"several chunks", "h-1", digest(big), big, ""},
		{"one chunk", "h-1", digest(small), small, ""},
		{"empty", "h-1", digest(empty), empty, ""},
		{"another host's code", "h-2", digest(big), nil, "host h-2 is assigned no EE that runs code"},
		{"not in the store", "h-1", digest([]byte("gone")), nil, coderelay.ErrNotFound.Error()},
		{"bytes that do not match the digest", "h-1", digest([]byte("the truth")), nil, "what the servers sent has digest"},
		{"not a digest", "h-1", "../../etc/passwd", nil, "is not a SHA-256 in hex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := coderelay.Fetcher(nc, c.host)(t.Context(), c.code)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("fetch: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("fetch = %v, want an error with %q", err, c.err)
			case c.err == "" && string(got) != string(c.want):
				t.Fatalf("fetch = %d bytes, want %d", len(got), len(c.want))
			}
		})
	}
	if !errors.Is(func() error { _, err := coderelay.Fetcher(nc, "h-1")(t.Context(), digest([]byte("gone"))); return err }(), coderelay.ErrNotFound) {
		t.Error("a missing zip is not ErrNotFound")
	}
}

// TestFetchReadsTheStoreOnce: agents fetching the same zip at once, chunk
// by chunk, cost one read of the store.
func TestFetchReadsTheStoreOnce(t *testing.T) {
	zip := make([]byte, 3*coderelay.ChunkBytes)
	rand.Read(zip) //nolint:errcheck
	var loads atomic.Int64
	nc := connect(t)
	relay := &coderelay.Server{
		Allowed: func(context.Context, string, string) (bool, error) { return true, nil },
		Get: func(context.Context, string) ([]byte, error) {
			loads.Add(1)
			time.Sleep(50 * time.Millisecond) // the object store's read
			return zip, nil
		},
	}
	if err := relay.Serve(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			got, err := coderelay.Fetcher(nc, "h-"+string(rune('1'+i)))(t.Context(), digest(zip))
			if err != nil || len(got) != len(zip) {
				t.Errorf("fetch = %d bytes, %v", len(got), err)
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("the store was read %d times, want 1", n)
	}
}
