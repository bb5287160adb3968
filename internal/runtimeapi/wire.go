package runtimeapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"strconv"
	"sync"
)

// The Runtime API speaks a tiny, fixed subset of HTTP/1.1: four routes, no
// content negotiation, a local peer. It is served by this small
// connection loop instead of net/http because it is the invoke hot path
// and its connections are short-lived: aws-lambda-go keeps only two idle
// connections for all its workers, so most /next and /response calls come
// on a new connection. Per connection this costs one goroutine and two
// pooled buffers; per request, no allocation beyond the body.

// request is one parsed Runtime API request.
type request struct {
	method    []byte
	path      []byte
	close     bool // the client asked to close, or spoke HTTP/1.0
	errorType string
	// body is read by the handler through readBody.
	contentLength int64
	chunked       bool
	expect100     bool
	contentType   string
	trailerType   string // Lambda-Runtime-Function-Error-Type trailer
	trailerBody   string // Lambda-Runtime-Function-Error-Body trailer
}

var (
	errBadRequest = errors.New("malformed request")
	readerPool    = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool    = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

// maxHeaderLine bounds one request or header line.
const maxHeaderLine = 8 << 10

// readRequest parses the request line and headers.
func readRequest(br *bufio.Reader, req *request) error {
	*req = request{contentLength: -1}
	line, err := readLine(br)
	if err != nil {
		return err
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return errBadRequest
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return errBadRequest
	}
	for _, c := range line[:sp1+1+sp2] {
		if c < 0x20 || c == 0x7f {
			return errBadRequest // control bytes have no place in a method or path
		}
	}
	// The line's bytes live in br's buffer only until the next read: copy.
	req.method = append([]byte(nil), line[:sp1]...)
	req.path = append([]byte(nil), rest[:sp2]...)
	if q := bytes.IndexByte(req.path, '?'); q >= 0 {
		req.path = req.path[:q]
	}
	if string(rest[sp2+1:]) == "HTTP/1.0" {
		req.close = true
	}
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		name, value, ok := splitHeader(line)
		if !ok {
			return errBadRequest
		}
		switch {
		case equalFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return errBadRequest
			}
			req.contentLength = n
		case equalFold(name, "transfer-encoding"):
			req.chunked = equalFold(value, "chunked")
		case equalFold(name, "connection"):
			req.close = equalFold(value, "close")
		case equalFold(name, "expect"):
			req.expect100 = equalFold(value, "100-continue")
		case equalFold(name, "content-type"):
			req.contentType = string(value)
		case equalFold(name, "lambda-runtime-function-error-type"):
			req.errorType = string(value)
		}
	}
}

// readBody reads the request body, at most limit bytes; with more it
// reports tooLarge and discards the rest so the connection stays usable.
func readBody(br *bufio.Reader, bw *bufio.Writer, req *request, limit int64) (body []byte, tooLarge bool, err error) {
	if req.expect100 {
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n") //nolint:errcheck
		if err := bw.Flush(); err != nil {
			return nil, false, err
		}
	}
	var r io.Reader
	switch {
	case req.chunked:
		r = httputil.NewChunkedReader(br)
	case req.contentLength > 0:
		r = io.LimitReader(br, req.contentLength)
	default:
		return nil, false, nil
	}
	size := req.contentLength
	if size < 0 || size > limit {
		size = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if !req.chunked && n < min(req.contentLength, limit+1) {
		// The peer closed before sending the body it announced.
		return nil, false, io.ErrUnexpectedEOF
	}
	if n > limit {
		tooLarge = true
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, true, err
		}
	}
	if req.chunked {
		if err := readTrailers(br, req); err != nil {
			return nil, tooLarge, err
		}
	}
	if tooLarge {
		return nil, true, nil
	}
	return buf.Bytes(), false, nil
}

// readTrailers reads the trailer section after a chunked body; runtimes
// report a failure while streaming a response there.
func readTrailers(br *bufio.Reader, req *request) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		name, value, ok := splitHeader(line)
		if !ok {
			return errBadRequest
		}
		switch {
		case equalFold(name, "lambda-runtime-function-error-type"):
			req.trailerType = string(value)
		case equalFold(name, "lambda-runtime-function-error-body"):
			req.trailerBody = string(value)
		}
	}
}

// readLine returns one line without its CRLF; the slice is valid until the
// next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxHeaderLine {
		return nil, errBadRequest
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	return line[:i], bytes.TrimSpace(line[i+1:]), true
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Fixed responses.
var (
	respAccepted = fixedResponse("202 Accepted", `{"status":"OK"}`, false)
	respNotFound = fixedResponse("404 Not Found", `{"errorMessage":"unknown path","errorType":"InvalidRequest"}`, false)
	respBad      = fixedResponse("400 Bad Request", `{"errorMessage":"malformed request","errorType":"InvalidRequest"}`, true)
)

func fixedResponse(status, body string, close bool) []byte {
	s := "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\n"
	if close {
		s += "Connection: close\r\n"
	}
	return []byte(s + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// writeNext writes an invoke as the answer to /next.
func writeNext(bw *bufio.Writer, inv *Invocation) error {
	var num [20]byte
	bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: ") //nolint:errcheck
	bw.WriteString(inv.ID)                                                                                 //nolint:errcheck
	bw.WriteString("\r\nLambda-Runtime-Deadline-Ms: ")                                                     //nolint:errcheck
	bw.Write(strconv.AppendInt(num[:0], inv.Deadline.UnixMilli(), 10))                                     //nolint:errcheck
	bw.WriteString("\r\nLambda-Runtime-Invoked-Function-Arn: ")                                            //nolint:errcheck
	bw.WriteString(inv.FunctionARN)                                                                        //nolint:errcheck
	bw.WriteString("\r\nLambda-Runtime-Trace-Id: ")                                                        //nolint:errcheck
	bw.WriteString(inv.TraceID)                                                                            //nolint:errcheck
	if inv.ClientContext != "" {
		bw.WriteString("\r\nLambda-Runtime-Client-Context: ") //nolint:errcheck
		bw.WriteString(inv.ClientContext)                     //nolint:errcheck
	}
	if inv.CognitoIdentity != "" {
		bw.WriteString("\r\nLambda-Runtime-Cognito-Identity: ") //nolint:errcheck
		bw.WriteString(inv.CognitoIdentity)                     //nolint:errcheck
	}
	bw.WriteString("\r\nContent-Length: ")                            //nolint:errcheck
	bw.Write(strconv.AppendInt(num[:0], int64(len(inv.Payload)), 10)) //nolint:errcheck
	bw.WriteString("\r\n\r\n")                                        //nolint:errcheck
	bw.Write(inv.Payload)                                             //nolint:errcheck
	return bw.Flush()
}

// streamBody passes a chunked body to stream as it arrives, at most limit
// bytes (tooLarge past that; the rest is read and dropped), then reads the
// trailers. A stream that refuses bytes gets no more; the body is still
// read to its end, so that the connection stays usable.
func streamBody(br *bufio.Reader, bw *bufio.Writer, req *request, stream ResponseStream, limit int64) (tooLarge bool, err error) {
	if req.expect100 {
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n") //nolint:errcheck
		if err := bw.Flush(); err != nil {
			return false, err
		}
	}
	r := httputil.NewChunkedReader(br)
	buf := make([]byte, 32<<10)
	var n int64
	open := true
	for {
		m, err := r.Read(buf)
		if m > 0 {
			n += int64(m)
			if n > limit {
				tooLarge = true
			}
			if open && !tooLarge {
				open = stream.WriteStream(req.contentType, buf[:m]) == nil
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return tooLarge, err
		}
	}
	return tooLarge, readTrailers(br, req)
}
