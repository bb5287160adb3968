// Package store keeps Paddock's durable state in NATS JetStream: configuration
// and live state in KV buckets, code zips in an Object Store keyed by their
// SHA-256. An embedded server is the default; the same API works against a
// cluster.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names. Config holds what users create (capacity providers,
// functions, versions, aliases); State holds what Paddock derives (instances,
// execution environments).
const (
	configBucket = "paddock-config"
	stateBucket  = "paddock-state"
	codeBucket   = "paddock-code"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a compare-and-set write loses a race.
var ErrConflict = errors.New("revision conflict")

// Store is the typed face of JetStream for the rest of Paddock.
type Store struct {
	server *server.Server // nil when connected to an external cluster
	nc     *nats.Conn
	js     jetstream.JetStream
	Config KV
	State  KV
	code   jetstream.ObjectStore
}

// OpenEmbedded starts an in-process NATS server with JetStream data under
// dir and opens the buckets. The server does not listen on TCP: the process
// talks to it in memory.
func OpenEmbedded(ctx context.Context, dir string) (*Store, error) {
	return OpenEmbeddedListening(ctx, dir, Listen{})
}

// AgentUser is the NATS user instance agents join as; its password is the
// join token.
const AgentUser = "agent"

// Listen opens the embedded server to other machines: Addr is its client
// address ("0.0.0.0:4222"); agents connect as AgentUser with JoinToken as
// password. The server's own connection is a user of its own with a
// random password.
type Listen struct {
	Addr      string
	JoinToken string
}

// OpenEmbeddedListening is OpenEmbedded with a client port for agents when
// l.Addr is set.
func OpenEmbeddedListening(ctx context.Context, dir string, l Listen) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	opts := &server.Options{
		ServerName: "paddock",
		JetStream:  true,
		StoreDir:   filepath.Join(dir, "jetstream"),
		DontListen: true,
		NoSigs:     true,
		// An acknowledged write must survive kill -9: JetStream otherwise
		// fsyncs every 2 minutes. Config writes are rare, so syncing each one
		// costs nothing that matters.
		SyncAlways: true,
		NoLog:      true,
	}
	var conn []nats.Option
	if l.Addr != "" {
		if l.JoinToken == "" {
			return nil, errors.New("a listening engine needs a join token")
		}
		host, port, err := net.SplitHostPort(l.Addr)
		if err != nil {
			return nil, fmt.Errorf("engine address %q: %w", l.Addr, err)
		}
		opts.DontListen = false
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("engine address %q: %w", l.Addr, err)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
		own := make([]byte, 24)
		rand.Read(own) //nolint:errcheck // never fails on Linux
		ownPassword := hex.EncodeToString(own)
		opts.Users = []*server.User{{Username: "paddock", Password: ownPassword}, {Username: AgentUser, Password: l.JoinToken}}
		conn = append(conn, nats.UserInfo("paddock", ownPassword))
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not become ready in 10s")
	}
	nc, err := nats.Connect("", append(conn, nats.InProcessServer(ns), nats.Name("paddock"))...)
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	s, err := open(ctx, nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, err
	}
	s.server = ns
	return s, nil
}

func open(ctx context.Context, nc *nats.Conn) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s := &Store{nc: nc, js: js}
	cfg, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: configBucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", configBucket, err)
	}
	st, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: stateBucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", stateBucket, err)
	}
	s.Config, s.State = KV{cfg}, KV{st}
	s.code, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: codeBucket})
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", codeBucket, err)
	}
	return s, nil
}

// ClientURL is where agents reach the embedded engine ("" when it does
// not listen).
func (s *Store) ClientURL() string {
	if s.server == nil || s.server.Addr() == nil {
		return ""
	}
	return "nats://" + s.server.Addr().String()
}

// Conn is the store's NATS connection, for roles that use the engine's
// messaging beside its buckets.
func (s *Store) Conn() *nats.Conn { return s.nc }

// CodeFetcher reads code zips from the object store a server created, for
// agents that join over nc's engine.
func CodeFetcher(ctx context.Context, js jetstream.JetStream) (func(ctx context.Context, hexSHA string) ([]byte, error), error) {
	code, err := js.ObjectStore(ctx, codeBucket)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", codeBucket, err)
	}
	return func(ctx context.Context, hexSHA string) ([]byte, error) {
		b, err := code.GetBytes(ctx, hexSHA)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, ErrNotFound
		}
		return b, err
	}, nil
}

// Close disconnects and stops the embedded server, if any.
func (s *Store) Close() {
	s.nc.Close()
	if s.server != nil {
		s.server.Shutdown()
		s.server.WaitForShutdown()
	}
}

// KV is a JetStream key-value bucket holding JSON records.
type KV struct{ kv jetstream.KeyValue }

// Get decodes the record at key into v and returns its revision.
func (b KV) Get(ctx context.Context, key string, v any) (uint64, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return e.Revision(), nil
}

// Put writes v at key unconditionally.
func (b KV) Put(ctx context.Context, key string, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := b.kv.Put(ctx, key, data)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return rev, nil
}

// Create writes v at key only if the key does not exist (ErrConflict if it does).
func (b KV) Create(ctx context.Context, key string, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := b.kv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	return rev, nil
}

// Update writes v at key only if its revision is still rev (ErrConflict if not).
func (b KV) Update(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	nrev, err := b.kv.Update(ctx, key, data, rev)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, ErrConflict
		}
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	return nrev, nil
}

// Delete removes key. Deleting a missing key is not an error.
func (b KV) Delete(ctx context.Context, key string) error {
	if err := b.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Entry is one record as loaded by All.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
}

// All returns the current records whose keys match a NATS subject filter
// such as "fn.>", in one pass over the bucket.
func (b KV) All(ctx context.Context, filter string) ([]Entry, error) {
	w, err := b.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", filter, err)
	}
	defer w.Stop()
	var out []Entry
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // all current values delivered
				return out, nil
			}
			out = append(out, Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision()})
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// PutCode stores a code zip under its hex SHA-256 (idempotent: the same zip
// is stored once).
func (s *Store) PutCode(ctx context.Context, hexSHA string, zip []byte) error {
	if _, err := s.code.GetInfo(ctx, hexSHA); err == nil {
		return nil
	}
	if _, err := s.code.PutBytes(ctx, hexSHA, zip); err != nil {
		return fmt.Errorf("store code %s: %w", hexSHA, err)
	}
	return nil
}

// CodeDigest returns the SHA-256 digest (raw bytes) and size recorded for
// the code stored under hexSHA, without reading the code: the object
// store's metadata, written when the whole object was stored.
func (s *Store) CodeDigest(ctx context.Context, hexSHA string) ([]byte, uint64, error) {
	info, err := s.code.GetInfo(ctx, hexSHA)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("code info %s: %w", hexSHA, err)
	}
	sum, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil {
		return nil, 0, fmt.Errorf("code info %s: %w", hexSHA, err)
	}
	return sum, info.Size, nil
}

// GetCode returns the code zip stored under hexSHA.
func (s *Store) GetCode(ctx context.Context, hexSHA string) ([]byte, error) {
	b, err := s.code.GetBytes(ctx, hexSHA)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("fetch code %s: %w", hexSHA, err)
	}
	return b, nil
}

// JetStream is the engine's JetStream handle, for roles that keep their
// own streams (function logs) beside the buckets this package types.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// metersBucket holds the usage meters, one record per minute.
const metersBucket = "paddock-meters"

// Meters opens the KV bucket of usage meters (created on first use). A
// record is dropped keep after it was last written, so the bucket stays
// bounded without anyone deleting from it.
func (s *Store) Meters(ctx context.Context, keep time.Duration) (KV, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      metersBucket,
		Description: "Usage meters for the bill: one record per minute",
		History:     1,
		TTL:         keep,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return KV{}, fmt.Errorf("open bucket %s: %w", metersBucket, err)
	}
	return KV{kv}, nil
}
