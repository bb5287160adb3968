package frontdoor

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseHead(t *testing.T) {
	const base = "POST /2015-03-31/functions/echo/invocations?Qualifier=1 HTTP/1.1\r\nHost: 127.0.0.1:9400\r\n"
	tests := []struct {
		name   string
		head   string
		ok     bool
		check  func(t *testing.T, h head)
		reason string
	}{
		{name: "plain invoke", ok: true,
			head: base + "Content-Length: 12\r\nX-Amz-Date: 20261126T000000Z\r\nauthorization: AWS4 x\r\n\r\n",
			check: func(t *testing.T, h head) {
				want := map[string][]string{
					"Host": {"127.0.0.1:9400"}, "Content-Length": {"12"},
					"X-Amz-Date": {"20261126T000000Z"}, "Authorization": {"AWS4 x"},
				}
				if !reflect.DeepEqual(map[string][]string(h.header), want) {
					t.Errorf("header = %v, want %v", h.header, want)
				}
				if h.method != "POST" || h.host != "127.0.0.1:9400" || h.contentLength != 12 || h.close || h.expect100 {
					t.Errorf("head = %+v", h)
				}
				if h.url.Path != "/2015-03-31/functions/echo/invocations" || h.url.RawQuery != "Qualifier=1" {
					t.Errorf("url = %#v", h.url)
				}
			}},
		{name: "no body", ok: true, head: base + "\r\n",
			check: func(t *testing.T, h head) {
				if h.contentLength != 0 {
					t.Errorf("contentLength = %d, want 0", h.contentLength)
				}
			}},
		{name: "repeated header keeps both values", ok: true, head: base + "X-A: 1\r\nx-a: 2\r\n\r\n",
			check: func(t *testing.T, h head) {
				if got := h.header["X-A"]; !reflect.DeepEqual(got, []string{"1", "2"}) {
					t.Errorf("X-A = %q", got)
				}
			}},
		{name: "value whitespace trimmed", ok: true, head: base + "X-A: \t v w \t\r\n\r\n",
			check: func(t *testing.T, h head) {
				if got := h.header.Get("X-A"); got != "v w" {
					t.Errorf("X-A = %q", got)
				}
			}},
		{name: "expect continue", ok: true, head: base + "Content-Length: 1\r\nExpect: 100-Continue\r\n\r\n",
			check: func(t *testing.T, h head) {
				if !h.expect100 {
					t.Error("expect100 not set")
				}
			}},
		{name: "connection close", ok: true, head: base + "Connection: close\r\n\r\n",
			check: func(t *testing.T, h head) {
				if !h.close {
					t.Error("close not set")
				}
			}},
		{name: "escaped path", ok: true, head: "POST /a%2Fb/c?x=%20 HTTP/1.1\r\nHost: h\r\n\r\n",
			check: func(t *testing.T, h head) {
				if h.url.Path != "/a/b/c" || h.url.RawPath != "/a%2Fb/c" || h.url.RawQuery != "x=%20" {
					t.Errorf("url = %#v", h.url)
				}
			}},

		{name: "HTTP/1.0", head: strings.Replace(base, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n"},
		{name: "HTTP/2 preface", head: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{name: "absolute target", head: "POST http://h/x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "chunked", head: base + "Transfer-Encoding: chunked\r\n\r\n"},
		{name: "other expect", head: base + "Expect: something\r\n\r\n"},
		{name: "no host", head: "POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\n"},
		{name: "two hosts", head: base + "Host: other\r\n\r\n"},
		{name: "bad content length", head: base + "Content-Length: 1x\r\n\r\n"},
		{name: "negative content length", head: base + "Content-Length: -1\r\n\r\n"},
		{name: "signed content length", head: base + "Content-Length: +1\r\n\r\n"},
		{name: "content length twice", head: base + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n"},
		{name: "conflicting content lengths", head: base + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n"},
		{name: "connection upgrade", head: base + "Connection: Upgrade\r\n\r\n"},
		{name: "folded header", head: base + "X-A: 1\r\n 2\r\n\r\n"},
		{name: "space before colon", head: base + "X-A : 1\r\n\r\n"},
		{name: "no colon", head: base + "X-A\r\n\r\n"},
		{name: "control byte in value", head: base + "X-A: 1\x002\r\n\r\n"},
		{name: "bare line feeds", head: "POST /x HTTP/1.1\nHost: h\n\n"},
		{name: "control byte in target", head: "POST /x\x01 HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "bad method", head: "PO(ST /x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "missing proto", head: "POST /x\r\nHost: h\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := parseHead([]byte(tt.head))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

// The fast path's URL must be what net/http would have built, or the
// signature check (which reads the path) and routing would differ.
func TestParseTargetMatchesNetURL(t *testing.T) {
	for _, target := range []string{
		"/", "/2015-03-31/functions/echo/invocations",
		"/2015-03-31/functions/echo:1/invocations?Qualifier=1",
		"/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:echo/invocations",
		"/a%2Fb", "/a%20b?x=%2F&y", "/a?", "/a?b?c", "/a;b", "/a!b*c(d)e", "/a~b_c.d-e",
		"/%zz", "/a b",
	} {
		want, wantErr := url.ParseRequestURI(target)
		got, ok := parseTarget(target)
		if ok != (wantErr == nil) {
			t.Errorf("%q: ok = %v, net/url error %v", target, ok, wantErr)
			continue
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %#v, want %#v", target, got, want)
		}
	}
}

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", -1},
		{"GET / HTTP/1.1\r\nHost: h\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: h\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\nbody\r\n\r\n", 27},
		{"GET / HTTP/1.1\nHost: h\n\n", 24},
		{"\r\n\r\n", 4},
		{"\n", -1},
	}
	for _, tt := range tests {
		if got := headEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("headEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestIsCanonical(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"Host", true}, {"X-Amz-Date", true}, {"X-Amz-date", false}, {"host", false},
		{"X-AMZ", false}, {"Content-MD5", false}, {"A-", true}, {"1-Ab", true},
	} {
		if got := isCanonical(tt.in); got != tt.want {
			t.Errorf("isCanonical(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
