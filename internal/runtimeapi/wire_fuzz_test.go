package runtimeapi

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzReadRequest feeds arbitrary bytes to the Runtime API's HTTP parser:
// it must never panic, never read a body past its limit, and either fail
// or produce a request whose framing it can consume.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n2\r\n{}\r\n0\r\nLambda-Runtime-Function-Error-Type: X\r\n\r\n"))
	f.Add([]byte("POST /2018-06-01/runtime/invocation/abc/error HTTP/1.0\r\nLambda-Runtime-Function-Error-Type: E\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		for i := 0; i < 4; i++ {
			var req request
			if err := readRequest(br, &req); err != nil {
				return
			}
			body, tooLarge, err := readBody(br, bw, &req, 1024)
			if err != nil {
				return
			}
			if int64(len(body)) > 1024 || (tooLarge && body != nil) {
				t.Fatalf("body of %d bytes (tooLarge %v) past a 1024-byte limit", len(body), tooLarge)
			}
			if req.contentLength >= 0 && !req.chunked && !tooLarge && int64(len(body)) != req.contentLength && req.contentLength <= 1024 {
				// A short body is an error from readBody, never a silent truncation.
				if _, err := io.ReadAll(br); err == nil && int64(len(body)) < req.contentLength {
					t.Fatalf("Content-Length %d but a %d-byte body was accepted", req.contentLength, len(body))
				}
			}
			if strings.ContainsAny(string(req.path), "\r\n") {
				t.Fatalf("path %q holds a line break", req.path)
			}
		}
	})
}
