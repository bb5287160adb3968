package logs

import (
	"slices"
	"time"
)

// The collector is the pure heart of the logs role: it turns EE output
// lines and finished invokes into stored records, decides which request
// each plain line belongs to, and groups records into per-function
// batches. It runs on one goroutine and takes the time from its caller,
// so its tests need neither processes nor a clock.
//
// Attributing a line to a request. The observer learns an invoke's id only
// when the invoke ends, and an EE's output pipe carries no request id. So
// a line is attributed from timing, as LogType Tail does: to the invoke
// whose run on the same EE (dispatched to answered) covers the moment the
// line was read, and only when no other invoke can claim it:
//   - a line read while two or more invokes were in flight on its EE stays
//     unattributed (concurrent LMI requests interleave: functions that
//     want their lines attributed log JSON with their own requestId, which
//     is kept as it is);
//   - a line read while one invoke was in flight waits (up to holdMax) for
//     that invoke to end and claim it; if it has not ended by then the
//     line is stored without a request id rather than delayed further;
//   - a line read with no invoke in flight waits a moment (settle) for the
//     invoke that may have just answered (its observer can come after the
//     line): it is that invoke's when it ran or had just answered (within
//     lateGrace: the pipe reader may lag the runtime) then.
// This is best effort by nature; it is exact for the usual case of a
// default-mode EE (one invoke at a time) whose invokes are shorter than
// holdMax.
//
// Order. An EE's lines and its invokes' platform records are stored in the
// order they were queued on the EE, and START, END and REPORT are queued
// behind the lines still waiting, so an invoke's END comes after all its
// lines. START is known only when the invoke ends, so a line that did not
// wait for it (a JSON line with its own requestId, or one that waited past
// holdMax) and went out in an earlier batch is stored before it; START's
// time still says when the invoke started. Within a batch, records are
// sorted by time.

// Tuning of the collector. holdMax bounds how late a line reaches the
// stream; settle is how long a line read between invokes waits for the
// observer of one that just ended (the API calls it right after the
// answer, but the pipe reader may be quicker); lateGrace is how long after
// an invoke answered a line read from its EE may still be its own (the
// pipe reader is usually microseconds behind).
const (
	holdMax        = 2 * time.Second
	settle         = 250 * time.Millisecond
	lateGrace      = 20 * time.Millisecond
	flushEvery     = 100 * time.Millisecond
	maxBatchLines  = 4096
	maxBatchBytes  = 512 << 10
	maxQueuedLines = 4096     // per EE, waiting for an attribution
	maxWaiting     = 32 << 20 // bytes of batches waiting for a slow publisher
	forgetEEAfter  = 10 * time.Minute
	keepWindows    = 32 // finished invokes remembered per EE
)

// eeInfo identifies where a line came from.
type eeInfo struct {
	ID, Function, Version, Format string
}

// lineIn is one line an EE printed.
type lineIn struct {
	ee       eeInfo
	stream   string
	at       time.Time // when the pipe reader read it
	text     string
	inFlight int // invokes the EE held when the line was read
}

// invokeIn is one finished invoke.
type invokeIn struct {
	ee       eeInfo
	function string
	from, to time.Time // dispatched and answered
	report   Report    // MaxMemoryUsed is the EE's resident memory now
}

// window is the run of a finished invoke on its EE.
type window struct {
	id       string
	from, to time.Time
}

// queued is a line waiting to be stored, or a platform record queued
// behind the lines of its EE so that the stream keeps their order.
type queued struct {
	line       lineIn
	isPlatform bool // platform is set: a platform record, always decided
	platform   Record
	function   string // of the platform record
	requestID  string
	decided    bool
	deadline   time.Time
}

type eeLog struct {
	info    eeInfo
	windows []window // recently finished invokes, oldest first
	queue   []queued // lines in read order; the head waits for its request
	maxRSS  int64    // high-water mark: Lambda reports the most the EE used
	seen    time.Time
}

// openInvoke is an invoke whose START is written and whose END and REPORT
// wait for lines read just after its answer.
type openInvoke struct {
	function, format string
	ee               string
	closeAt          time.Time
	from, answered   time.Time
	last             time.Time // of the latest line attributed to it
	report           Report
}

// entry is one record of a batch: its time, and where its NDJSON line is
// in the batch's buffer.
type entry struct {
	at         time.Time
	start, end int
}

// batch is the records of one function going out as one message, encoded
// as they come into one buffer.
type batch struct {
	function string
	buf      []byte
	entries  []entry
	first    time.Time
}

// outBatch is a batch ready to publish: NDJSON records in time order.
type outBatch struct {
	function string
	body     []byte
	lines    int
}

type collector struct {
	ees     map[string]*eeLog
	open    map[string]*openInvoke // by request id
	current map[string]*batch      // by function, still filling
	full    []*batch               // filled up, waiting for the publisher
	waiting int                    // bytes in full
	dropped uint64                 // lines dropped because the publisher fell behind
	now     time.Time              // of the event being handled
	scratch []byte                 // the record being encoded
}

func newCollector() *collector {
	return &collector{ees: map[string]*eeLog{}, open: map[string]*openInvoke{}, current: map[string]*batch{}}
}

func (c *collector) eeOf(info eeInfo, now time.Time) *eeLog {
	c.now = now
	e := c.ees[info.ID]
	if e == nil {
		e = &eeLog{info: info}
		c.ees[info.ID] = e
	}
	e.seen = now
	return e
}

// line takes one output line.
func (c *collector) line(l lineIn, now time.Time) {
	e := c.eeOf(l.ee, now)
	q := queued{line: l}
	if l.ee.Format == FormatJSON {
		if id, isJSON := ownRequestID(l.text); isJSON && id != "" {
			q.requestID, q.decided = id, true // the function said which request it is
		}
	}
	if !q.decided {
		q.requestID, q.decided = decide(l.at, l.inFlight, e.windows)
		q.deadline = l.at.Add(settle)
		if l.inFlight == 1 {
			q.deadline = l.at.Add(holdMax)
		}
	}
	e.queue = append(e.queue, q)
	if len(e.queue) > maxQueuedLines {
		head := &e.queue[0]
		if !head.decided {
			head.requestID, _ = attribute(head.line.at, e.windows)
			head.decided = true
		}
	}
	c.release(e)
}

// decide attributes a line when it is read, if it can already: when two
// invokes or more were in flight (never), or when a finished invoke was
// running at the time. Otherwise the line waits for an invoke that may
// claim it, and attribute decides at its deadline.
func decide(at time.Time, inFlight int, windows []window) (requestID string, decided bool) {
	if inFlight > 1 {
		return "", true
	}
	if id, strict := attribute(at, windows); strict {
		return id, true
	}
	return "", false
}

// attribute returns the request among finished windows that a line read at
// `at` belongs to: the one invoke running then, else the one that had just
// answered (within lateGrace). strict reports that some invoke was running
// then, in which case the answer is final (empty when two were).
//
// Among invokes that had just answered, the last to answer wins: on an EE
// that runs one invoke at a time, a line read after two quick invokes
// were answered is far more likely the second's than a line of the first
// that waited in the pipe through the whole second one. Two that ran at
// the same time (LMI) leave the line unattributed.
func attribute(at time.Time, windows []window) (requestID string, strict bool) {
	var running []string
	var late []window
	for _, w := range windows {
		switch {
		case !at.Before(w.from) && !at.After(w.to):
			running = append(running, w.id)
		case at.After(w.to) && !at.After(w.to.Add(lateGrace)):
			late = append(late, w)
		}
	}
	switch {
	case len(running) == 1:
		return running[0], true
	case len(running) > 1:
		return "", true
	case len(late) == 0:
		return "", false
	}
	last := late[0]
	for _, w := range late[1:] {
		if w.to.After(last.to) {
			last = w
		}
	}
	for _, w := range late {
		if w.id != last.id && w.from.Before(last.to) && last.from.Before(w.to) {
			return "", false // it ran alongside another
		}
	}
	return last.id, false
}

// release emits the decided lines at the head of e's queue, so an EE's
// lines keep their order.
func (c *collector) release(e *eeLog) {
	n := 0
	for i := range e.queue {
		q := &e.queue[i]
		if !q.decided {
			break
		}
		if q.isPlatform {
			c.emit(q.function, &q.platform)
		} else {
			c.emitLine(q.line, q.requestID)
		}
		n++
	}
	if n > 0 {
		clear(e.queue[:n])
		e.queue = e.queue[n:]
	}
}

func (c *collector) emitLine(l lineIn, requestID string) {
	if o := c.open[requestID]; o != nil && l.at.After(o.last) {
		o.last = l.at
	}
	c.emit(l.ee.Function, &Record{
		Time: l.at, RequestID: requestID, EE: l.ee.ID, Stream: l.stream, Version: l.ee.Version,
		Message: functionMessage(l.ee.Format, l.at, l.text, requestID),
	})
}

// invoke takes one finished invoke: it writes START, lets the invoke claim
// the lines waiting for it, and opens it until its late lines are in.
func (c *collector) invoke(in invokeIn, now time.Time) {
	e := c.eeOf(in.ee, now)
	if in.report.MaxMemoryUsed > e.maxRSS {
		e.maxRSS = in.report.MaxMemoryUsed
	}
	in.report.MaxMemoryUsed = e.maxRSS
	w := window{id: in.report.RequestID, from: in.from, to: in.to}
	e.windows = append(e.windows, w)
	if len(e.windows) > keepWindows {
		e.windows = e.windows[len(e.windows)-keepWindows:]
	}
	e.queue = append(e.queue, queued{function: in.function, decided: true, isPlatform: true, platform: Record{
		Time: in.from, RequestID: w.id, EE: in.ee.ID, Stream: StreamPlatform, Version: in.report.Version,
		Message: startLine(in.ee.Format, in.from, w.id, in.report.Version),
	}})
	for i := range e.queue {
		q := &e.queue[i]
		if !q.decided && !q.isPlatform && !q.line.at.Before(w.from) && !q.line.at.After(w.to) {
			q.requestID, q.decided = w.id, true
		}
	}
	closeAt := now
	if in.to.After(closeAt) {
		closeAt = in.to
	}
	c.open[w.id] = &openInvoke{function: in.function, format: in.ee.Format, ee: in.ee.ID,
		closeAt: closeAt.Add(lateGrace), from: in.from, answered: in.to, last: in.to, report: in.report}
	c.release(e)
}

// tick settles what time has decided: lines that waited long enough for
// their request, invokes whose late lines are in, EEs long gone.
func (c *collector) tick(now time.Time) {
	c.now = now
	for id, e := range c.ees {
		for i := range e.queue {
			q := &e.queue[i]
			if !q.decided && !now.Before(q.deadline) {
				q.requestID, _ = attribute(q.line.at, e.windows)
				q.decided = true
			}
		}
		c.release(e)
		if len(e.queue) == 0 && now.Sub(e.seen) > forgetEEAfter {
			delete(c.ees, id)
		}
	}
	for id, o := range c.open {
		if !now.Before(o.closeAt) && !c.mayClaim(o) {
			c.close(id, o)
		}
	}
}

// mayClaim reports whether a line still waiting on o's EE may turn out to
// be o's: o's END and REPORT wait for it, so they come after all its lines.
func (c *collector) mayClaim(o *openInvoke) bool {
	e := c.ees[o.ee]
	if e == nil {
		return false
	}
	for _, q := range e.queue {
		if !q.decided && !q.isPlatform && !q.line.at.Before(o.from) && !q.line.at.After(o.answered.Add(lateGrace)) {
			return true
		}
	}
	return false
}

// close queues o's END and REPORT behind the lines of its EE: they come
// after every line of the invoke, even one read a little after its
// answer, and are stamped no earlier than the last of them so that a
// batch sorted by time keeps them last.
func (c *collector) close(id string, o *openInvoke) {
	delete(c.open, id)
	e := c.ees[o.ee]
	last := o.last
	if e != nil {
		for _, q := range e.queue {
			if !q.isPlatform && q.requestID == id && q.line.at.After(last) {
				last = q.line.at
			}
		}
	}
	for _, text := range endLines(o.format, o.answered, o.report) {
		r := Record{Time: last, RequestID: id, EE: o.ee, Stream: StreamPlatform, Version: o.report.Version, Message: text}
		if e == nil {
			c.emit(o.function, &r)
			continue
		}
		e.queue = append(e.queue, queued{function: o.function, decided: true, isPlatform: true, platform: r})
	}
	if e != nil {
		c.release(e)
	}
}

// emit adds a record to its function's batch.
func (c *collector) emit(function string, r *Record) {
	c.scratch = appendRecord(c.scratch[:0], r)
	b := c.current[function]
	if b != nil && (len(b.entries) >= maxBatchLines || len(b.buf)+len(c.scratch) > maxBatchBytes) {
		c.retire(b)
		b = nil
	}
	if b == nil {
		b = &batch{function: function, first: c.now}
		c.current[function] = b
	}
	start := len(b.buf)
	b.buf = append(b.buf, c.scratch...)
	b.entries = append(b.entries, entry{r.Time, start, len(b.buf)})
}

// retire moves a full batch to the publisher's queue, dropping the oldest
// waiting batches when a slow engine lets them pile up: memory stays
// bounded, and the drop is counted rather than hidden.
func (c *collector) retire(b *batch) {
	delete(c.current, b.function)
	c.full = append(c.full, b)
	c.waiting += len(b.buf)
	for c.waiting > maxWaiting && len(c.full) > 1 {
		c.dropped += uint64(len(c.full[0].entries))
		c.waiting -= len(c.full[0].buf)
		c.full[0] = nil
		c.full = c.full[1:]
	}
}

// due returns the batches to publish now: the full ones and those that
// waited flushEvery since their first record arrived. With all set it
// returns every batch (at shutdown).
func (c *collector) due(now time.Time, all bool) []outBatch {
	for _, b := range c.current {
		if all || now.Sub(b.first) >= flushEvery {
			c.retire(b)
		}
	}
	out := make([]outBatch, 0, len(c.full))
	for _, b := range c.full {
		out = append(out, b.encode())
	}
	c.full, c.waiting = nil, 0
	return out
}

// finish settles everything at once, for a clean stop.
func (c *collector) finish(now time.Time) []outBatch {
	c.now = now
	for _, e := range c.ees {
		for i := range e.queue {
			q := &e.queue[i]
			if !q.decided {
				q.requestID, _ = attribute(q.line.at, e.windows)
				q.decided = true
			}
		}
		c.release(e)
	}
	for id, o := range c.open {
		c.close(id, o)
	}
	return c.due(now, true)
}

// encode orders a batch by time (lines were emitted as they were settled,
// a START after the lines that waited for it to be known) and joins it.
func (b *batch) encode() outBatch {
	byTime := func(x, y entry) int { return x.at.Compare(y.at) }
	if slices.IsSortedFunc(b.entries, byTime) {
		return outBatch{function: b.function, body: b.buf, lines: len(b.entries)}
	}
	slices.SortStableFunc(b.entries, byTime)
	body := make([]byte, 0, len(b.buf))
	for _, e := range b.entries {
		body = append(body, b.buf[e.start:e.end]...)
	}
	return outBatch{function: b.function, body: body, lines: len(b.entries)}
}
