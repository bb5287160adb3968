package runtimeapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkInvoke runs invokes through 64 workers that use net/http's
// transport as aws-lambda-go does (2 idle connections, so most calls come
// on new connections), with 64 invokes at once.
func BenchmarkInvoke(b *testing.B) {
	const workers = 64
	s, err := NewServer(workers)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ErrorTypeExit)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := "http://" + s.Addr() + "/2018-06-01/runtime/invocation/"
	for range workers {
		go func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				payload, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
				post, err := client.Post(base+id+"/response", "application/json", bytes.NewReader(payload))
				if err != nil {
					return
				}
				io.Copy(io.Discard, post.Body)
				post.Body.Close()
			}
		}()
	}
	<-s.Ready()
	var n atomic.Int64
	b.SetParallelism((workers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			inv := &Invocation{ID: strconv.FormatInt(n.Add(1), 10), Payload: []byte(`{"msg":"hi"}`), Deadline: time.Now().Add(10 * time.Second)}
			for s.Invoke(ctx, inv) == ErrFull {
				runtime.Gosched()
			}
			if inv.FunctionError != "" {
				b.Errorf("invoke failed: %s", inv.ErrorType)
			}
		}
	})
}
