package frontdoor

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// response is the http.ResponseWriter of a fast request. A handler that
// sets Content-Length before WriteHeader (the Invoke API always does) has
// its body written straight through; any other body is held until the
// handler returns so that its length can be sent, since the fast loop
// never uses chunked encoding.
type response struct {
	c       *conn
	header  http.Header
	status  int // 0 until WriteHeader
	length  int64
	written int64
	direct  bool   // the length is known: the body goes straight through
	headOut bool   // the head is written
	held    []byte // the body, when not direct
	failed  bool   // a write to the connection failed
}

func (w *response) reset() {
	if w.header == nil {
		w.header = make(http.Header, 8)
	} else {
		clear(w.header)
	}
	w.status, w.length, w.written, w.direct, w.headOut, w.held, w.failed = 0, -1, 0, false, false, w.held[:0], false
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	if status < 200 || status > 999 {
		// 1xx answers are not sent by the Lambda API's handlers; treat
		// one as a mistake rather than frame it wrongly.
		status = http.StatusInternalServerError
	}
	w.status = status
	if cl := w.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			w.header.Del("Content-Length")
		} else {
			w.length, w.direct = n, true
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.direct {
		w.held = append(w.held, p...)
		return len(p), nil
	}
	if !w.headOut {
		if len(p) > 0 && w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.writeHead(false)
	}
	n, err := w.c.bw.Write(p)
	if err != nil {
		w.failed = true
	}
	return n, err
}

// finish writes what the handler has not and flushes. It reports whether
// the connection is still sound: false when a write failed or the body
// came up short of its Content-Length.
func (w *response) finish(keep bool) bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.direct {
		if bodyAllowed(w.status) {
			w.header["Content-Length"] = []string{strconv.Itoa(len(w.held))}
			if len(w.held) > 0 && w.header.Get("Content-Type") == "" {
				w.header.Set("Content-Type", http.DetectContentType(w.held))
			}
		}
		w.writeHead(!keep)
		w.c.bw.Write(w.held) //nolint:errcheck // Flush reports it
	} else if !w.headOut {
		w.writeHead(!keep)
	}
	// A head that went out before the handler returned may not say that
	// the connection ends: the client learns it when it does.
	if w.written < w.length {
		keep = false
	}
	if err := w.c.bw.Flush(); err != nil {
		w.failed = true
	}
	if cap(w.held) > 64<<10 {
		w.held = nil // do not keep a large answer's buffer for the connection's life
	}
	return keep && !w.failed
}

// writeHead writes the status line and headers, with Date as net/http adds
// it.
func (w *response) writeHead(closing bool) {
	w.headOut = true
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")               //nolint:errcheck
	bw.WriteString(strconv.Itoa(w.status))    //nolint:errcheck
	bw.WriteByte(' ')                         //nolint:errcheck
	bw.WriteString(http.StatusText(w.status)) //nolint:errcheck
	bw.WriteString("\r\n")                    //nolint:errcheck
	for k, vs := range w.header {
		if !validHeaderName(k) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)             //nolint:errcheck
			bw.WriteString(": ")          //nolint:errcheck
			bw.WriteString(cleanValue(v)) //nolint:errcheck
			bw.WriteString("\r\n")        //nolint:errcheck
		}
	}
	if _, ok := w.header["Date"]; !ok {
		bw.WriteString("Date: ")   //nolint:errcheck
		bw.WriteString(httpDate()) //nolint:errcheck
		bw.WriteString("\r\n")     //nolint:errcheck
	}
	if closing {
		bw.WriteString("Connection: close\r\n") //nolint:errcheck
	}
	bw.WriteString("\r\n") //nolint:errcheck
}

// bodyAllowed reports whether a status may carry a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

func validHeaderName(k string) bool {
	return isToken(k) && k != "Connection" && k != "Transfer-Encoding"
}

// cleanValue replaces line breaks in a header value with spaces, as
// net/http does, so a value can never start a header of its own.
func cleanValue(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
}

// httpDate is the Date header's value, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &cachedDate{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	sec  int64
	text string
}

var dateCache atomic.Pointer[cachedDate]
