package agent

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logRing keeps an EE's most recent output lines with the time each was
// read, so an invoke with LogType Tail can take the lines printed while it
// ran, and a failure reason can quote the last ones.
type logRing struct {
	mu    sync.Mutex
	lines [logRingLines]logLine
	next  uint64 // number of the next line
}

type logLine struct {
	at   time.Time
	text string
}

const logRingLines = 512

func newLogRing() *logRing { return &logRing{} }

// Add appends one line and returns the time it was stamped with.
func (r *logRing) Add(line string) time.Time {
	at := time.Now()
	r.mu.Lock()
	r.lines[r.next%logRingLines] = logLine{at, line}
	r.next++
	r.mu.Unlock()
	return at
}

// between returns the kept lines read in [from, to].
func (r *logRing) between(from, to time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	first := uint64(0)
	if r.next > logRingLines {
		first = r.next - logRingLines
	}
	for i := first; i < r.next; i++ {
		l := r.lines[i%logRingLines]
		if !l.at.Before(from) && !l.at.After(to) {
			out = append(out, l.text)
		}
	}
	return out
}

// last returns up to n of the most recent lines.
func (r *logRing) last(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if uint64(n) > r.next {
		n = int(r.next)
	}
	out := make([]string, 0, n)
	for i := r.next - uint64(n); i < r.next; i++ {
		out = append(out, r.lines[i%logRingLines].text)
	}
	return out
}

// capture reads lines from an EE's stdout or stderr until it closes.
func (r *logRing) capture(src io.Reader, log *slog.Logger, stream string, e *EE, sink OutputSink) {
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 0, 64<<10), 256<<10)
	for sc.Scan() {
		line := sc.Text()
		at := r.Add(line)
		if sink != nil {
			sink.Line(e, stream, at, line)
		}
		log.Debug("function output", "stream", stream, "line", line)
	}
	io.Copy(io.Discard, src) //nolint:errcheck // a line past 256 KiB: keep the pipe from blocking the runtime
}
