package lambdaapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/logs"
)

func TestLogQuery(t *testing.T) {
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		target  string
		want    logs.Query
		errCode string
	}{
		{"defaults", "/paddock/v1/logs/fn", logs.Query{Function: "fn", Since: now.Add(-10 * time.Minute)}, ""},
		{"all parameters", "/paddock/v1/logs/my_fn-2?since=1h&requestId=abc&follow=true",
			logs.Query{Function: "my_fn-2", Since: now.Add(-time.Hour), RequestID: "abc", Follow: true}, ""},
		{"since a time", "/paddock/v1/logs/fn?since=2026-11-25T17:00:00Z&follow=0",
			logs.Query{Function: "fn", Since: now.Add(-time.Hour)}, ""},
		{"bad since", "/paddock/v1/logs/fn?since=yesterday", logs.Query{}, "InvalidParameterValueException"},
		{"bad follow", "/paddock/v1/logs/fn?follow=please", logs.Query{}, "InvalidParameterValueException"},
		{"bad name", "/paddock/v1/logs/a.b", logs.Query{}, "InvalidParameterValueException"},
		{"long request id", "/paddock/v1/logs/fn?requestId=" + strings.Repeat("x", 257), logs.Query{}, "InvalidParameterValueException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.SetPathValue("function", strings.TrimPrefix(r.URL.Path, "/paddock/v1/logs/"))
			got, err := logQuery(r, now)
			if tc.errCode != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errCode) {
					t.Fatalf("err %v, want %s", err, tc.errCode)
				}
				return
			}
			if err != nil || !got.Since.Equal(tc.want.Since) || got.Function != tc.want.Function || got.RequestID != tc.want.RequestID || got.Follow != tc.want.Follow {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

// fakeLogs answers reads with canned batches; with follow it then waits
// for the reader to leave.
type fakeLogs struct {
	exists  bool
	batches [][]logs.Record
	readErr error
	queries chan logs.Query
	left    chan struct{} // closed when a following read saw its context end
}

func (f *fakeLogs) Exists(context.Context, string) (bool, error) { return f.exists, nil }

func (f *fakeLogs) Read(ctx context.Context, q logs.Query, fn func([]logs.Record) error) error {
	f.queries <- q
	if f.readErr != nil {
		return f.readErr
	}
	if err := fn(nil); err != nil {
		return err
	}
	for _, b := range f.batches {
		if err := fn(b); err != nil {
			return err
		}
	}
	if q.Follow {
		<-ctx.Done()
		close(f.left)
	}
	return nil
}

func TestLogsRoute(t *testing.T) {
	rec := func(id, msg string) logs.Record {
		return logs.Record{Time: time.Unix(1, 0).UTC(), RequestID: id, Stream: "stdout", Message: msg}
	}
	src := &fakeLogs{batches: [][]logs.Record{{rec("a", "one <&>"), rec("a", "two")}, {rec("b", "three")}}, queries: make(chan logs.Query, 10), left: make(chan struct{})}
	a := New(&control.Service{}, nil, nil)
	a.HandleLogs(src)
	srv := httptest.NewServer(a)
	defer srv.Close()
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	// Nothing kept for a function the control plane does not know: a typo.
	if resp := get("/paddock/v1/logs/nosuch"); resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Fatalf("unknown function without logs: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	// Logs of a deleted function are still served.
	src.exists = true
	resp := get("/paddock/v1/logs/gone?requestId=a")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("logs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if q := <-src.queries; q.Function != "gone" || q.RequestID != "a" || q.Follow {
		t.Errorf("query %+v", q)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var r logs.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || !strings.Contains(lines[0], `"message":"one <&>"`) {
		t.Errorf("NDJSON lines %q", lines)
	}

	// A failure before the answer began is an AWS error.
	src.readErr = errors.New("engine down")
	if resp := get("/paddock/v1/logs/gone"); resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("X-Amzn-ErrorType") != "ServiceException" {
		t.Fatalf("read error: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	<-src.queries
	src.readErr = nil

	// Follow: the batches arrive flushed while the answer stays open, and
	// the read ends when the client leaves.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/paddock/v1/logs/gone?follow=true", nil)
	fresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer fresp.Body.Close()
	fsc := bufio.NewScanner(fresp.Body)
	for i := 0; i < 3; i++ {
		if !fsc.Scan() {
			t.Fatalf("follow: line %d did not arrive: %v", i, fsc.Err())
		}
	}
	cancel()
	select {
	case <-src.left:
	case <-time.After(5 * time.Second):
		t.Fatal("the following read did not end when the client left")
	}
}
