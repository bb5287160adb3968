package frontdoor

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

// FuzzParseHead holds the fast loop to net/http: whatever head parseHead
// accepts, http.ReadRequest must read the same way, so that a request means
// the same thing on either path.
func FuzzParseHead(f *testing.F) {
	for _, seed := range []string{
		"POST /2015-03-31/functions/echo/invocations?Qualifier=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nX-Amz-Date: 1\r\n\r\n",
		"POST /a%2Fb HTTP/1.1\r\nhost: h\r\nexpect: 100-continue\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
		"POST /x HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := headEnd(b)
		if n < 0 {
			return
		}
		h, ok := parseHead(b[:n])
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("parseHead accepted %q, net/http refuses it: %v", b[:n], err)
		}
		if req.Method != h.method || req.RequestURI != h.target || req.Host != h.host ||
			req.ContentLength != h.contentLength || req.Close != h.close {
			t.Fatalf("%q: net/http reads %s %s host %q length %d close %v; parseHead %s %s host %q length %d close %v",
				b[:n], req.Method, req.RequestURI, req.Host, req.ContentLength, req.Close,
				h.method, h.target, h.host, h.contentLength, h.close)
		}
		if !reflect.DeepEqual(req.URL, h.url) {
			t.Fatalf("%q: URL %#v, net/http %#v", b[:n], h.url, req.URL)
		}
		want := req.Header.Clone()
		want["Host"] = []string{req.Host} // net/http moves Host out of the map
		if !reflect.DeepEqual(map[string][]string(want), map[string][]string(h.header)) {
			t.Fatalf("%q: header %v, net/http %v", b[:n], h.header, want)
		}
	})
}
