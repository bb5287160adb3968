package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"
)

type record struct{ N int }

func TestKVAndCodeSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Config.Create(ctx, "fn.a", record{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Config.Create(ctx, "fn.a", record{2}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second Create: %v, want ErrConflict", err)
	}
	if _, err := s.Config.Update(ctx, "fn.a", record{3}, rev+100); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale Update: %v, want ErrConflict", err)
	}
	if _, err := s.Config.Update(ctx, "fn.a", record{4}, rev); err != nil {
		t.Fatalf("Update at the current revision: %v", err)
	}
	for _, k := range []string{"fn.b", "ver.a.1", "cp.x"} {
		if _, err := s.Config.Put(ctx, k, record{5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Config.Delete(ctx, "fn.b"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCode(ctx, "abc", []byte("zip bytes")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got record
	if _, err := s.Config.Get(ctx, "fn.a", &got); err != nil || got.N != 4 {
		t.Fatalf("fn.a after reopen: %+v %v", got, err)
	}
	if _, err := s.Config.Get(ctx, "fn.b", &got); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v, want ErrNotFound", err)
	}
	all, err := s.Config.All(ctx, "fn.>")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range all {
		keys = append(keys, e.Key)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "fn.a" {
		t.Fatalf("All(fn.>) = %v, want [fn.a]", keys)
	}
	code, err := s.GetCode(ctx, "abc")
	if err != nil || string(code) != "zip bytes" {
		t.Fatalf("code after reopen: %q %v", code, err)
	}
	if _, err := s.GetCode(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing code: %v, want ErrNotFound", err)
	}
	want := sha256.Sum256([]byte("zip bytes"))
	if sum, n, err := s.CodeDigest(ctx, "abc"); err != nil || !bytes.Equal(sum, want[:]) || n != uint64(len("zip bytes")) {
		t.Fatalf("CodeDigest = %x, %d, %v; want %x, %d", sum, n, err, want, len("zip bytes"))
	}
	if _, _, err := s.CodeDigest(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CodeDigest of missing code: %v, want ErrNotFound", err)
	}
}

func TestMetersBucketSurvivesReopenAndIsBounded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Meters(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "m.1", record{7}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err = s.Meters(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var got record
	if _, err := m.Get(ctx, "m.1", &got); err != nil || got.N != 7 {
		t.Fatalf("meters record after reopen: %+v %v", got, err)
	}
	st, err := m.kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != time.Hour {
		t.Fatalf("meters bucket TTL %v, want 1h", st.TTL())
	}
}
