package frontdoor

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// head is a parsed HTTP/1.1 request head that the fast loop can serve.
type head struct {
	method, target string
	url            *url.URL
	header         http.Header
	host           string
	contentLength  int64 // 0 when absent
	close          bool  // Connection: close
	expect100      bool  // Expect: 100-continue
}

// parseHead parses a request head, from the request line through the blank
// line that ends it. ok is false when the request is anything but plain:
// not HTTP/1.1, a chunked or otherwise encoded body, an Expect other than
// 100-continue, a missing or repeated Host or Content-Length, a malformed
// line. Such requests go to net/http, which knows every rule and every
// error answer; the fast loop only needs to be right about the common case.
//
// All strings share one copy of b, so a head costs a few allocations
// whatever its number of headers.
func parseHead(b []byte) (h head, ok bool) {
	s := string(b)
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !isToken(method) || !validTarget(target) {
		return head{}, false
	}
	h.method, h.target = method, target
	if h.url, ok = parseTarget(target); !ok {
		return head{}, false
	}

	rest = strings.TrimSuffix(rest, "\r\n\r\n")
	n := strings.Count(rest, "\r\n") + 1
	h.header = make(http.Header, n)
	values := make([]string, n) // one backing array for every header's []string
	hosts := 0
	h.contentLength = -1
	for i := 0; rest != ""; i++ {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		name, value, found := strings.Cut(l, ":")
		if !found || !isToken(name) {
			return head{}, false
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			return head{}, false
		}
		key := name
		if !isCanonical(name) {
			key = textproto.CanonicalMIMEHeaderKey(name)
		}
		switch key {
		case "Host":
			hosts++
			h.host = value
		case "Content-Length":
			cl, err := strconv.ParseInt(value, 10, 64)
			if err != nil || cl < 0 || value[0] == '+' || h.contentLength >= 0 {
				return head{}, false
			}
			h.contentLength = cl
		case "Transfer-Encoding":
			return head{}, false
		case "Expect":
			if !strings.EqualFold(value, "100-continue") {
				return head{}, false
			}
			h.expect100 = true
		case "Connection":
			switch {
			case strings.EqualFold(value, "close"):
				h.close = true
			case strings.EqualFold(value, "keep-alive"):
			default:
				return head{}, false
			}
		}
		values[i] = value
		if prev, dup := h.header[key]; dup {
			h.header[key] = append(prev, value)
		} else {
			h.header[key] = values[i : i+1 : i+1]
		}
	}
	if hosts != 1 {
		return head{}, false
	}
	if h.contentLength < 0 {
		h.contentLength = 0
	}
	return h, true
}

// parseTarget parses an origin-form request target. A path of plain
// characters, the only kind the Lambda API's invoke paths have, is taken
// as is; anything else goes through url.ParseRequestURI.
func parseTarget(target string) (*url.URL, bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	plain := path != "" && path[0] == '/'
	for i := 0; plain && i < len(path); i++ {
		c := path[i]
		plain = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '/' || c == '-' || c == '_' || c == '.' || c == '~' || c == ':'
	}
	if plain && !(hasQuery && query == "") {
		return &url.URL{Path: path, RawQuery: query}, true
	}
	u, err := url.ParseRequestURI(target)
	return u, err == nil
}

// validTarget reports whether target is an origin-form target without
// bytes that have no place in a request line.
func validTarget(target string) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token: a method or a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !tokenByte[c] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue reports whether a header value holds no control bytes but tab.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isCanonical reports whether a token is already in canonical MIME header
// form ("X-Amz-Date"), as every AWS SDK sends them, so that the name can be
// used without a new string.
func isCanonical(s string) bool {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// headEnd returns the length of the request head at the start of b, or -1
// while its blank line has not arrived. A head that ends with bare line
// feeds is found too (parseHead then refuses it), so that such a client is
// handed to net/http rather than left waiting.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}
