// Package coderelay carries code zips from the servers to the agents that
// run them, so that an agent reads only the code of the EEs it was
// assigned: the engine refuses it the object store itself (its stream can
// be read by sequence, object by object), and a server hands out a zip
// only to a host that an assignment names it for.
//
// An agent asks for a zip one chunk at a time, as requests on Subject +
// its host id (the engine lets each agent publish on its own only); any
// server may answer each (a queue group). A server reads a zip whole from
// the object store once and keeps it a while for the chunks that follow,
// and the agent checks the digest of what it put together.
package coderelay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/singleflight"
)

// Subject is where agents ask for code: Subject + host id.
const Subject = "paddock.code."

const (
	codeHeader   = "Paddock-Code"   // the zip's SHA-256, hex
	offsetHeader = "Paddock-Offset" // where the chunk starts
	sizeHeader   = "Paddock-Size"   // the zip's whole size (answer)
	errorHeader  = "Paddock-Error"  // why there is no chunk (answer)

	notFound = "not found"

	// ChunkBytes is the most a chunk holds: under the engine's default
	// max_payload (1 MB), with room for headers.
	ChunkBytes = 512 << 10
	// MaxZipBytes bounds a zip an agent accepts: Lambda's largest direct
	// upload is 50 MB, its largest from S3 250 MB unzipped.
	MaxZipBytes = 256 << 20

	queueGroup     = "paddock-code-relay"
	requestTimeout = 10 * time.Second
	// loadTimeout bounds a server's read of a whole zip from the store.
	loadTimeout = time.Minute
	// maxAnswering bounds the requests a server answers at once; more
	// wait in the subscription's buffer.
	maxAnswering = 64
	// keepFor is how long a server keeps a zip it read after its last
	// chunk was asked for, and keepBytes the most it keeps at once.
	keepFor   = 30 * time.Second
	keepBytes = 512 << 20
)

// ErrNotFound is a zip the object store does not have.
var ErrNotFound = errors.New("coderelay: no such code")

// Fetcher returns the agent's way to read a zip: chunk by chunk from the
// servers, as host, over nc; its digest checked against hexSHA.
func Fetcher(nc *nats.Conn, host string) func(ctx context.Context, hexSHA string) ([]byte, error) {
	return func(ctx context.Context, hexSHA string) ([]byte, error) {
		var zip []byte
		for {
			m := nats.NewMsg(Subject + host)
			m.Header.Set(codeHeader, hexSHA)
			m.Header.Set(offsetHeader, strconv.Itoa(len(zip)))
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			resp, err := nc.RequestMsgWithContext(rctx, m)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("code %s: %w", hexSHA, err)
			}
			switch e := resp.Header.Get(errorHeader); e {
			case "":
			case notFound:
				return nil, fmt.Errorf("code %s: %w", hexSHA, ErrNotFound)
			default:
				return nil, fmt.Errorf("code %s: the servers answered: %s", hexSHA, e)
			}
			size, err := strconv.Atoi(resp.Header.Get(sizeHeader))
			switch {
			case err != nil || size < 0 || size > MaxZipBytes:
				return nil, fmt.Errorf("code %s: the servers gave a size of %q", hexSHA, resp.Header.Get(sizeHeader))
			case zip == nil:
				zip = make([]byte, 0, size)
			case size != cap(zip):
				return nil, fmt.Errorf("code %s: its size changed from %d to %d", hexSHA, cap(zip), size)
			}
			if len(resp.Data) > size-len(zip) || len(resp.Data) == 0 && len(zip) < size {
				return nil, fmt.Errorf("code %s: a chunk of %d bytes at %d of %d", hexSHA, len(resp.Data), len(zip), size)
			}
			zip = append(zip, resp.Data...)
			if len(zip) == size {
				break
			}
		}
		if sum := sha256.Sum256(zip); hex.EncodeToString(sum[:]) != hexSHA {
			return nil, fmt.Errorf("code %s: what the servers sent has digest %x", hexSHA, sum)
		}
		return zip, nil
	}
}

// Server answers the agents' code requests.
type Server struct {
	// Allowed reports whether an assignment of host runs the code.
	Allowed func(ctx context.Context, host, hexSHA string) (bool, error)
	// Get reads a zip whole; it returns an error wrapping ErrNotFound
	// (or Get's own not-found error, which NotFound recognizes) for a zip
	// the store does not have.
	Get func(ctx context.Context, hexSHA string) ([]byte, error)
	// NotFound recognizes Get's not-found error.
	NotFound func(error) bool

	loads singleflight.Group
	slots chan struct{} // maxAnswering
	mu    sync.Mutex
	kept  map[string]*keptZip
	bytes int
}

type keptZip struct {
	zip  []byte
	used time.Time
}

// Serve answers requests on nc until ctx ends.
func (s *Server) Serve(ctx context.Context, nc *nats.Conn) error {
	s.slots = make(chan struct{}, maxAnswering)
	sub, err := nc.QueueSubscribe(Subject+"*", queueGroup, func(m *nats.Msg) {
		// Each request in a goroutine of its own: the first chunk of a zip
		// waits on the object store, and must not hold the others.
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		go func() {
			defer func() { <-s.slots }()
			s.answer(ctx, m)
		}()
	})
	if err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(keepFor)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				sub.Unsubscribe() //nolint:errcheck
				return
			case now := <-t.C:
				s.drop(now.Add(-keepFor))
			}
		}
	}()
	return nil
}

func (s *Server) answer(ctx context.Context, m *nats.Msg) {
	host := m.Subject[len(Subject):]
	hexSHA := m.Header.Get(codeHeader)
	answer := nats.NewMsg(m.Reply)
	chunk, size, err := s.chunk(ctx, host, hexSHA, m.Header.Get(offsetHeader))
	if err != nil {
		answer.Header.Set(errorHeader, err.Error())
	} else {
		answer.Header.Set(sizeHeader, strconv.Itoa(size))
		answer.Data = chunk
	}
	m.RespondMsg(answer) //nolint:errcheck // the agent times out and fails the EE's start
}

// chunk is the part of the zip at offset for host, and the zip's size;
// its error is the text the agent is told.
func (s *Server) chunk(ctx context.Context, host, hexSHA, offset string) ([]byte, int, error) {
	if b, err := hex.DecodeString(hexSHA); err != nil || len(b) != sha256.Size {
		return nil, 0, fmt.Errorf("%q is not a SHA-256 in hex", hexSHA)
	}
	at, err := strconv.Atoi(offset)
	if err != nil || at < 0 {
		return nil, 0, fmt.Errorf("%q is not an offset", offset)
	}
	ok, err := s.Allowed(ctx, host, hexSHA)
	if err != nil {
		return nil, 0, fmt.Errorf("read the assignments: %w", err)
	}
	if !ok {
		slog.Warn("an agent asked for code no EE of its host runs", "role", "code", "host", host, "code", hexSHA)
		return nil, 0, fmt.Errorf("host %s is assigned no EE that runs code %s", host, hexSHA)
	}
	zip, err := s.zip(ctx, hexSHA)
	switch {
	case err != nil && (errors.Is(err, ErrNotFound) || s.NotFound != nil && s.NotFound(err)):
		return nil, 0, errors.New(notFound)
	case err != nil:
		return nil, 0, err
	case at > len(zip):
		return nil, 0, fmt.Errorf("offset %d is past the zip's %d bytes", at, len(zip))
	}
	return zip[at:min(len(zip), at+ChunkBytes)], len(zip), nil
}

// zip is the zip, from those kept or read once for all who ask at once.
func (s *Server) zip(ctx context.Context, hexSHA string) ([]byte, error) {
	s.mu.Lock()
	if k := s.kept[hexSHA]; k != nil {
		k.used = time.Now()
		s.mu.Unlock()
		return k.zip, nil
	}
	s.mu.Unlock()
	v, err, _ := s.loads.Do(hexSHA, func() (any, error) {
		// Detached from this request: others wait on the same read.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		zip, err := s.Get(lctx, hexSHA)
		if err != nil {
			return nil, err
		}
		s.keep(hexSHA, zip)
		return zip, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// keep holds zip for the chunks to come, dropping the least recently used
// ones past keepBytes.
func (s *Server) keep(hexSHA string, zip []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kept == nil {
		s.kept = make(map[string]*keptZip)
	}
	if len(zip) <= ChunkBytes {
		return // one chunk: nothing follows
	}
	for s.bytes+len(zip) > keepBytes && len(s.kept) > 0 {
		var oldest string
		for k, z := range s.kept {
			if oldest == "" || z.used.Before(s.kept[oldest].used) {
				oldest = k
			}
		}
		s.bytes -= len(s.kept[oldest].zip)
		delete(s.kept, oldest)
	}
	s.kept[hexSHA] = &keptZip{zip: zip, used: time.Now()}
	s.bytes += len(zip)
}

// drop forgets the zips last used before then.
func (s *Server) drop(before time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, z := range s.kept {
		if z.used.Before(before) {
			s.bytes -= len(z.zip)
			delete(s.kept, k)
		}
	}
}
