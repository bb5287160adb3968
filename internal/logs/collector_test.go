package logs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)

func msAt(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func TestLogAttribution(t *testing.T) {
	a := window{"A", msAt(0), msAt(100)}
	b := window{"B", msAt(50), msAt(200)}
	c := window{"C", msAt(300), msAt(400)}
	x := window{"X", msAt(190), msAt(195)}
	y := window{"Y", msAt(196), msAt(201)}
	for _, tc := range []struct {
		name     string
		at       int
		inFlight int
		windows  []window
		now      string // decided when read: the request id, or "wait"
		final    string // what attribute says at the line's deadline
	}{
		{"read during the only invoke", 10, 1, []window{a}, "A", "A"},
		{"read during two invokes", 60, 1, []window{a, b}, "", ""},
		{"two in flight: never attributed", 10, 2, []window{a}, "", ""},
		{"at the very dispatch", 300, 1, []window{c}, "C", "C"},
		{"at the very answer", 400, 0, []window{c}, "C", "C"},
		{"just after an answer, nothing running: the invoke's", 105, 0, []window{a}, "wait", "A"},
		{"past the grace, nothing running", 150, 0, []window{a}, "wait", ""},
		{"just after two concurrent answers", 210, 0, []window{{"X", msAt(0), msAt(200)}, b}, "wait", ""},
		{"just after two sequential answers: the last", 206, 0, []window{x, y}, "wait", "Y"},
		{"just after two sequential answers, in any order", 206, 0, []window{y, x}, "wait", "Y"},
		{"the last answer ran alongside an earlier one", 206, 0, []window{x, y, {"Z", msAt(192), msAt(199)}}, "wait", ""},
		{"just after an answer, one running: wait for it", 205, 1, []window{b}, "wait", "B"},
		{"nothing known, one running: wait for it", 250, 1, []window{a, b}, "wait", ""},
		{"init output", 5, 0, nil, "wait", ""},
		{"between invokes", 250, 0, []window{a, b, c}, "wait", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, decided := decide(msAt(tc.at), tc.inFlight, tc.windows)
			if !decided {
				id = "wait"
			}
			final, _ := attribute(msAt(tc.at), tc.windows)
			if tc.inFlight > 1 {
				final = "" // decided at once, never attributed
			}
			if id != tc.now || final != tc.final {
				t.Errorf("decide = %q, attribute = %q; want %q, %q", id, final, tc.now, tc.final)
			}
		})
	}
}

// collected returns every record the collector has settled, in batch order.
func collected(t *testing.T, c *collector, now time.Time) []Record {
	t.Helper()
	var out []Record
	for _, b := range c.finish(now) {
		recs := decodeBatch(b.body, Query{})
		if len(recs) != b.lines {
			t.Fatalf("batch of %d lines decodes to %d records", b.lines, len(recs))
		}
		out = append(out, recs...)
	}
	return out
}

// summary is "requestId|stream|message" per record, the platform lines
// shortened to their first word.
func summary(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		msg := r.Message
		if r.Stream == StreamPlatform {
			if strings.HasPrefix(msg, "{") {
				var v struct{ Type string }
				json.Unmarshal([]byte(msg), &v) //nolint:errcheck
				msg = v.Type
			} else {
				msg, _, _ = strings.Cut(msg, " ")
			}
		}
		fmt.Fprintf(&b, "%s|%s|%s\n", r.RequestID, r.Stream, msg)
	}
	return b.String()
}

var (
	textEE = eeInfo{ID: "ee-1", Function: "fn", Version: "$LATEST", Format: FormatText}
	jsonEE = eeInfo{ID: "ee-2", Function: "lmi", Version: "1", Format: FormatJSON}
)

func line(ee eeInfo, at int, inFlight int, text string) lineIn {
	return lineIn{ee: ee, stream: StreamStdout, at: msAt(at), text: text, inFlight: inFlight}
}

func inv(ee eeInfo, id string, from, to int, rss int64) invokeIn {
	return invokeIn{ee: ee, function: ee.Function, from: msAt(from), to: msAt(to),
		report: Report{RequestID: id, Version: ee.Version, Duration: msAt(to).Sub(msAt(from)), MemoryMB: 128, MaxMemoryUsed: rss}}
}

// Each scenario feeds lines and invokes in the order the writer would see
// them, ticking the clock as it goes, and checks what is stored.
func TestLogCollectorScenarios(t *testing.T) {
	type step struct {
		now  int // ms: the writer's clock for this step
		line *lineIn
		inv  *invokeIn
	}
	L := func(now int, l lineIn) step { return step{now: now, line: &l} }
	I := func(now int, i invokeIn) step { return step{now: now, inv: &i} }
	T := func(now int) step { return step{now: now} }
	for _, tc := range []struct {
		name  string
		steps []step
		want  string
	}{
		{"default mode: a line read during its invoke goes between START and END",
			[]step{L(11, line(textEE, 10, 1, "hello logs")), I(21, inv(textEE, "R1", 5, 20, 0)), T(60)},
			"R1|platform|START\nR1|stdout|hello logs\nR1|platform|END\nR1|platform|REPORT\n"},
		{"default mode: a line read just after the answer is still the invoke's",
			[]step{I(21, inv(textEE, "R1", 5, 20, 0)), L(23, line(textEE, 22, 0, "printed before answering")), T(60)},
			"R1|platform|START\nR1|stdout|printed before answering\nR1|platform|END\nR1|platform|REPORT\n"},
		{"init output belongs to no request",
			[]step{L(2, line(textEE, 1, 0, "init")), I(21, inv(textEE, "R1", 5, 20, 0)), T(60)},
			"|stdout|init\nR1|platform|START\nR1|platform|END\nR1|platform|REPORT\n"},
		{"sequential invokes keep their own lines",
			[]step{
				L(11, line(textEE, 10, 1, "one")), I(21, inv(textEE, "R1", 5, 20, 0)),
				L(41, line(textEE, 40, 1, "two")), I(51, inv(textEE, "R2", 30, 50, 0)), T(100)},
			"R1|platform|START\nR1|stdout|one\nR1|platform|END\nR1|platform|REPORT\n" +
				"R2|platform|START\nR2|stdout|two\nR2|platform|END\nR2|platform|REPORT\n"},
		{"a line of an invoke longer than the hold is stored without its request, in order",
			[]step{
				L(11, line(textEE, 10, 1, "early")), L(21, line(textEE, 20, 1, "later")),
				T(2011), T(2021), L(2999, line(textEE, 2998, 1, "late")), I(3001, inv(textEE, "R1", 5, 3000, 0)), T(3100)},
			"|stdout|early\n|stdout|later\nR1|platform|START\nR1|stdout|late\nR1|platform|END\nR1|platform|REPORT\n"},
		{"a lagging line of the last invoke, read once the next started, goes to the last",
			[]step{
				I(21, inv(textEE, "R1", 5, 20, 0)), I(24, inv(textEE, "R0", 0, 1, 0)), // R0: an older invoke, done
				L(26, line(textEE, 25, 1, "lagging")), T(60), I(3001, inv(textEE, "R2", 30, 3000, 0)), T(3100)},
			// R2 (dispatched at 30) cannot have printed at 25; the hold
			// ends at 2025, and R1's END waits for it.
			"R0|platform|START\nR0|platform|END\nR0|platform|REPORT\nR1|platform|START\nR1|stdout|lagging\nR1|platform|END\nR1|platform|REPORT\n" +
				"R2|platform|START\nR2|platform|END\nR2|platform|REPORT\n"},
		{"a line read between two quick invokes, before the observer of the second, is the second's",
			[]step{
				I(21, inv(textEE, "R1", 5, 20, 0)),
				L(32, line(textEE, 31, 0, "second's")), // R2 ran 25-30: it answered before the line was read
				I(33, inv(textEE, "R2", 25, 30, 0)), T(400)},
			"R1|platform|START\nR1|platform|END\nR1|platform|REPORT\nR2|platform|START\nR2|stdout|second's\nR2|platform|END\nR2|platform|REPORT\n"},
		{"quick invokes whose lines are read late keep their order",
			[]step{
				I(21, inv(textEE, "R1", 5, 20, 0)),
				L(22, line(textEE, 21, 0, "hello logs")),  // after R1's answer: waits to settle
				L(27, line(textEE, 26, 0, "second call")), // R2 had not been observed yet
				I(29, inv(textEE, "R2", 25, 28, 0)), T(60), T(400)},
			"R1|platform|START\nR1|stdout|hello logs\nR1|platform|END\nR1|platform|REPORT\n" +
				"R2|platform|START\nR2|stdout|second call\nR2|platform|END\nR2|platform|REPORT\n"},
		{"LMI: concurrent plain lines stay unattributed, JSON lines keep their requestId",
			[]step{
				L(11, line(jsonEE, 10, 2, "plain")),
				L(12, line(jsonEE, 11, 2, `{"requestId":"B","message":"mine"}`)),
				I(31, inv(jsonEE, "A", 5, 30, 0)), I(41, inv(jsonEE, "B", 6, 40, 0)), T(100)},
			"A|platform|platform.start\nB|platform|platform.start\n|stdout|{\"timestamp\":\"2026-11-25T18:00:00.010Z\",\"level\":\"INFO\",\"message\":\"plain\"}\n" +
				"B|stdout|{\"requestId\":\"B\",\"message\":\"mine\"}\nA|platform|platform.report\nB|platform|platform.report\n"},
		{"LMI: a plain line read with one invoke in flight is wrapped with its requestId",
			[]step{L(11, line(jsonEE, 10, 1, "solo")), I(31, inv(jsonEE, "A", 5, 30, 0)), T(100)},
			"A|platform|platform.start\nA|stdout|{\"timestamp\":\"2026-11-25T18:00:00.010Z\",\"level\":\"INFO\",\"message\":\"solo\",\"requestId\":\"A\"}\nA|platform|platform.report\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector()
			var recs []Record
			last := 0
			for _, s := range tc.steps {
				c.tick(msAt(s.now))
				switch {
				case s.line != nil:
					c.line(*s.line, msAt(s.now))
				case s.inv != nil:
					c.invoke(*s.inv, msAt(s.now))
				}
				c.tick(msAt(s.now))
				// Publish what is due as the writer would, so the test
				// sees the batches' boundaries too.
				for _, b := range c.due(msAt(s.now), false) {
					recs = append(recs, decodeBatch(b.body, Query{})...)
				}
				last = s.now
			}
			recs = append(recs, collected(t, c, msAt(last))...)
			if got := summary(recs); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestLogReportUsesTheEEHighWaterMark(t *testing.T) {
	c := newCollector()
	c.invoke(inv(textEE, "R1", 0, 10, 50<<20), msAt(11))
	c.invoke(inv(textEE, "R2", 20, 30, 30<<20), msAt(31))
	var reports []string
	for _, r := range collected(t, c, msAt(100)) {
		if strings.HasPrefix(r.Message, "REPORT") {
			reports = append(reports, r.Message)
		}
	}
	if len(reports) != 2 || !strings.Contains(reports[0], "Max Memory Used: 50 MB") || !strings.Contains(reports[1], "Max Memory Used: 50 MB") {
		t.Fatalf("reports %q, want Max Memory Used: 50 MB in both (the EE's peak)", reports)
	}
}

func TestLogBatching(t *testing.T) {
	c := newCollector()
	n := maxBatchLines + 44
	for i := range n {
		c.line(line(textEE, i*300/n, 0, fmt.Sprintf("line %d", i)), msAt(0))
	}
	// Lines between invokes settle first; then maxBatchLines lines fill a
	// batch, due at once, and the other 44 wait for flushEvery.
	c.tick(msAt(1000))
	b := c.due(msAt(1050), false)
	if len(b) != 1 || b[0].lines != maxBatchLines || b[0].function != "fn" {
		t.Fatalf("due at 1050 ms: %d batches, want one full batch", len(b))
	}
	if b := c.due(msAt(1099), false); len(b) != 0 {
		t.Fatalf("due at 1099 ms: %d batches, want none", len(b))
	}
	b = c.due(msAt(1100), false)
	if len(b) != 1 || b[0].lines != 44 {
		t.Fatalf("due at 1100 ms: %d batches, want the 44 lines left", len(b))
	}
	recs := decodeBatch(b[0].body, Query{})
	if recs[0].Message != fmt.Sprintf("line %d", maxBatchLines) || recs[43].Message != fmt.Sprintf("line %d", maxBatchLines+43) || recs[0].EE != "ee-1" || recs[0].Version != "$LATEST" {
		t.Fatalf("second batch starts %+v, ends %+v", recs[0], recs[43])
	}

	// Big lines fill a batch by bytes before they fill it by count.
	big := strings.Repeat("x", 60<<10)
	for i := range 10 {
		c.line(line(textEE, 2000+i, 0, big), msAt(2000))
	}
	c.tick(msAt(3000))
	b = c.due(msAt(3000), false)
	if len(b) != 1 {
		t.Fatalf("big lines: %d batches due, want the one that filled up", len(b))
	}
	if b[0].lines != 8 || len(b[0].body) > maxBatchBytes {
		t.Fatalf("big lines: a batch of %d lines and %d bytes; want 8 lines under %d bytes", b[0].lines, len(b[0].body), maxBatchBytes)
	}
}

// A publisher that cannot keep up makes the collector drop the oldest
// batches, counted, instead of growing without bound.
func TestLogSlowPublisherDropsOldest(t *testing.T) {
	c := newCollector()
	big := strings.Repeat("y", maxMessageBytes-100)
	n := 2 * maxWaiting / len(big)
	for range n {
		c.line(line(textEE, 0, 0, big), msAt(0))
	}
	c.tick(msAt(1000))
	if c.waiting > maxWaiting || c.dropped == 0 {
		t.Fatalf("waiting %d bytes (max %d), dropped %d", c.waiting, maxWaiting, c.dropped)
	}
	kept := 0
	for _, b := range c.due(msAt(0), true) {
		kept += b.lines
	}
	if uint64(kept)+c.dropped != uint64(n) {
		t.Fatalf("kept %d + dropped %d != %d lines", kept, c.dropped, n)
	}
}

func TestLogCollectorForgetsIdleEEs(t *testing.T) {
	c := newCollector()
	c.line(line(textEE, 0, 0, "x"), msAt(0))
	c.tick(msAt(0).Add(forgetEEAfter - time.Millisecond))
	if len(c.ees) != 1 {
		t.Fatal("EE forgotten too early")
	}
	c.tick(msAt(0).Add(forgetEEAfter + time.Millisecond))
	if len(c.ees) != 0 {
		t.Fatal("idle EE kept")
	}
}
