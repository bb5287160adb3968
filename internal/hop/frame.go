package hop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"
)

// The multiplexed hop (see doc.go): after "POST /v1/mux" is answered 101,
// both ends exchange frames on the connection, each
//
//	length  uint32, big-endian: the bytes after it
//	kind    one byte
//	call    uint64, big-endian: the router's number for the invoke
//	body    the rest
//
// An invoke's body is its EE's id (uint16 length, bytes), its fields, then
// the payload; a result's is its fields, then the response. Fields are the
// header names and values of wire.go, as a uint16 count of (uint16 length,
// name, uint16 length, value) pairs.
const (
	kindInvoke  byte = 1 // router → agent: run an invoke
	kindCancel  byte = 2 // router → agent: its caller gave up
	kindResult  byte = 3 // agent → router: the invoke's result
	kindRefused byte = 4 // agent → router: not admitted (body: refusedFull or refusedClosed)
	kindFailed  byte = 5 // agent → router: the invoke failed on the agent (body: why)
)

const frameHeadBytes = 4 + 1 + 8

// A frame's length is bounded on each side by what the other may send: the
// agent reads invokes of at most muxMaxPayload (larger ones take a request
// of their own), the router results of at most maxAnswerBytes.
var errFrameTooLarge = errors.New("hop: frame too large")

type frame struct {
	kind byte
	call uint64
	body []byte
}

// readFrame reads one frame of at most limit bytes after its length.
func readFrame(br *bufio.Reader, limit int) (frame, error) {
	head, err := br.Peek(frameHeadBytes)
	if err != nil {
		if len(head) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	n := int(binary.BigEndian.Uint32(head))
	if n < frameHeadBytes-4 || n > limit {
		return frame{}, errFrameTooLarge
	}
	f := frame{kind: head[4], call: binary.BigEndian.Uint64(head[5:])}
	br.Discard(frameHeadBytes) //nolint:errcheck // peeked
	f.body = make([]byte, n-(frameHeadBytes-4))
	if _, err := io.ReadFull(br, f.body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	return f, nil
}

// frameWriter writes frames to one connection for many goroutines. Whoever
// sends when no write is in progress writes, its own frame and whatever
// others append meanwhile, until nothing is pending: under load one write
// carries many frames (one system call and one wake-up of the far end for
// all), and an invoke alone costs no hand-off to a writer goroutine.
type frameWriter struct {
	conn net.Conn

	mu      sync.Mutex
	buf     []byte // frames waiting for the write in progress
	spare   []byte
	writing bool
	err     error // the first write error: the connection is broken
}

// writeTimeout bounds one write of frames: 6 MB at 200 KB/s.
const writeTimeout = 30 * time.Second

// keepBufferBytes: a buffer grown past this (by a large answer) is dropped
// after its write rather than kept for the connection's life.
const keepBufferBytes = 256 << 10

// send writes the frame of kind and call whose body is the parts in order.
// It returns once the frame is written, or handed to the goroutine that
// is writing (whose error, then, fails later sends instead).
func (fw *frameWriter) send(kind byte, call uint64, parts ...[]byte) error {
	n := frameHeadBytes - 4
	for _, p := range parts {
		n += len(p)
	}
	fw.mu.Lock()
	if fw.err != nil {
		err := fw.err
		fw.mu.Unlock()
		return err
	}
	var head [frameHeadBytes]byte
	binary.BigEndian.PutUint32(head[:], uint32(n))
	head[4] = kind
	binary.BigEndian.PutUint64(head[5:], call)
	fw.buf = append(fw.buf, head[:]...)
	for _, p := range parts {
		fw.buf = append(fw.buf, p...)
	}
	if fw.writing {
		fw.mu.Unlock()
		return nil
	}
	fw.writing = true
	// Let the goroutines that are ready to run (under load: the other
	// invokes whose answers just came) append their frames first. With
	// none ready, this costs well under a microsecond.
	fw.mu.Unlock()
	runtime.Gosched()
	fw.mu.Lock()
	for len(fw.buf) > 0 && fw.err == nil {
		out := fw.buf
		fw.buf = fw.spare[:0]
		fw.mu.Unlock()
		// A far end that stops reading breaks the connection rather than
		// holding every sender of it.
		fw.conn.SetWriteDeadline(time.Now().Add(writeTimeout)) //nolint:errcheck // a closed connection fails the write
		_, err := fw.conn.Write(out)
		fw.mu.Lock()
		if err != nil {
			fw.err = fmt.Errorf("hop: write: %w", err)
		}
		if cap(out) <= keepBufferBytes {
			fw.spare = out[:0]
		} else {
			fw.spare = nil
		}
	}
	fw.writing = false
	err := fw.err
	fw.mu.Unlock()
	return err
}

// appendFields appends h as a field block.
func appendFields(b []byte, h map[string][]string) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, uint16(len(h)))
	for k, vs := range h {
		v := vs[0]
		if len(k) > 0xffff || len(v) > 0xffff {
			return nil, fmt.Errorf("hop: field %s too long", k)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

var errBadFrame = errors.New("hop: malformed frame")

// cutString splits a uint16-length-prefixed string off b.
func cutString(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errBadFrame
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, errBadFrame
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// cutFields splits a field block off b.
func cutFields(b []byte) (map[string][]string, []byte, error) {
	if len(b) < 2 {
		return nil, nil, errBadFrame
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	h := make(map[string][]string, n)
	for range n {
		var k, v string
		var err error
		if k, b, err = cutString(b); err != nil {
			return nil, nil, err
		}
		if v, b, err = cutString(b); err != nil {
			return nil, nil, err
		}
		h[k] = []string{v}
	}
	return h, b, nil
}
