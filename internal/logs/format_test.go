package logs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 25, 18, 0, 0, 123456789, time.FixedZone("CET", 3600))

const rid = "8f5e1c2a-0000-4000-8000-000000000001"

func TestLogStartLine(t *testing.T) {
	for _, tc := range []struct {
		format, want string
	}{
		{FormatText, "START RequestId: " + rid + " Version: 3"},
		{FormatJSON, `{"time":"2026-11-25T17:00:00.123Z","type":"platform.start","record":{"requestId":"` + rid + `","version":"3"}}`},
	} {
		if got := startLine(tc.format, at, rid, "3"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.format, got, tc.want)
		}
	}
}

func TestLogEndLines(t *testing.T) {
	base := Report{RequestID: rid, Version: "1", Duration: 12345678 * time.Nanosecond, MemoryMB: 128, MaxMemoryUsed: 22<<20 + 1}
	cold := base
	cold.InitDuration = 4561 * time.Microsecond
	timedOut := base
	timedOut.Duration, timedOut.Timeout, timedOut.ErrorType, timedOut.Failed = 3*time.Second, 3*time.Second, "Sandbox.Timedout", true
	crashed := base
	crashed.ErrorType, crashed.Failed = "Runtime.ExitError", true
	handlerErr := base
	handlerErr.ErrorType, handlerErr.Failed = "errorString", true
	exact := base
	exact.Duration, exact.MaxMemoryUsed = 13*time.Millisecond, 0

	const report = "REPORT RequestId: " + rid + "\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 23 MB"
	for _, tc := range []struct {
		name   string
		format string
		r      Report
		want   []string
	}{
		{"text warm", FormatText, base, []string{"END RequestId: " + rid, report}},
		{"text cold", FormatText, cold, []string{"END RequestId: " + rid, report + "\tInit Duration: 4.56 ms"}},
		{"text whole ms bills as is", FormatText, exact, []string{"END RequestId: " + rid,
			"REPORT RequestId: " + rid + "\tDuration: 13.00 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 0 MB"}},
		{"text timeout", FormatText, timedOut, []string{
			"2026-11-25T17:00:00.123Z " + rid + " Task timed out after 3.00 seconds",
			"END RequestId: " + rid,
			"REPORT RequestId: " + rid + "\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 23 MB\tStatus: timeout"}},
		{"text runtime crash", FormatText, crashed, []string{"END RequestId: " + rid, report + "\tStatus: error\tError Type: Runtime.ExitError"}},
		{"text handler error has no status", FormatText, handlerErr, []string{"END RequestId: " + rid, report}},
		{"json warm", FormatJSON, base, []string{`{"time":"2026-11-25T17:00:00.123Z","type":"platform.report","record":{"requestId":"` + rid +
			`","metrics":{"durationMs":12.35,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":23},"status":"success"}}`}},
		{"json cold", FormatJSON, cold, []string{`{"time":"2026-11-25T17:00:00.123Z","type":"platform.report","record":{"requestId":"` + rid +
			`","metrics":{"durationMs":12.35,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":23,"initDurationMs":4.56},"status":"success"}}`}},
		{"json timeout", FormatJSON, timedOut, []string{`{"time":"2026-11-25T17:00:00.123Z","type":"platform.report","record":{"requestId":"` + rid +
			`","metrics":{"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":23},"status":"timeout","errorType":"Sandbox.Timedout"}}`}},
		{"json handler error", FormatJSON, handlerErr, []string{`{"time":"2026-11-25T17:00:00.123Z","type":"platform.report","record":{"requestId":"` + rid +
			`","metrics":{"durationMs":12.35,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":23},"status":"error","errorType":"errorString"}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := endLines(tc.format, at, tc.r)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestLogFunctionMessage(t *testing.T) {
	long := "x" + strings.Repeat("é", maxMessageBytes) // 2 bytes a rune after one: the cut falls inside one
	for _, tc := range []struct {
		name, format, text, requestID, want string
	}{
		{"text as printed", FormatText, "hello logs", rid, "hello logs"},
		{"text JSON stays text", FormatText, `{"a":1}`, "", `{"a":1}`},
		{"json object as printed", FormatJSON, `{"requestId":"x","message":"hi"}`, rid, `{"requestId":"x","message":"hi"}`},
		{"json plain wrapped with its request", FormatJSON, "hello <world> & co", rid,
			`{"timestamp":"2026-11-25T17:00:00.123Z","level":"INFO","message":"hello <world> & co","requestId":"` + rid + `"}`},
		{"json plain wrapped without a request", FormatJSON, "background", "",
			`{"timestamp":"2026-11-25T17:00:00.123Z","level":"INFO","message":"background"}`},
		{"json not quite an object is wrapped", FormatJSON, "{oops}", "",
			`{"timestamp":"2026-11-25T17:00:00.123Z","level":"INFO","message":"{oops}"}`},
		{"text truncated on a rune boundary", FormatText, long, "", long[:maxMessageBytes-1] + " [truncated 65538 bytes]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := functionMessage(tc.format, at, tc.text, tc.requestID); got != tc.want {
				if len(got) > 200 {
					t.Errorf("got %d bytes ending %q, want %d bytes", len(got), got[len(got)-40:], len(tc.want))
				} else {
					t.Errorf("\n got %s\nwant %s", got, tc.want)
				}
			}
		})
	}
}

func TestLogOwnRequestID(t *testing.T) {
	for _, tc := range []struct {
		text   string
		id     string
		isJSON bool
	}{
		{`{"requestId":"abc","message":"m"}`, "abc", true},
		{`  {"requestId":"abc"}  `, "abc", true},
		{`{"timestamp":"t","level":"INFO","message":"m","AWSRequestId":"java-1"}`, "java-1", true},
		{`{"message":"m"}`, "", true},
		{`{"requestId":42}`, "", true},
		{`{"requestId":"abc"`, "", false},
		{`["requestId"]`, "", false},
		{`plain`, "", false},
		{``, "", false},
	} {
		id, isJSON := ownRequestID(tc.text)
		if id != tc.id || isJSON != tc.isJSON {
			t.Errorf("ownRequestID(%q) = %q, %v; want %q, %v", tc.text, id, isJSON, tc.id, tc.isJSON)
		}
	}
}

// The platform lines in JSON mode are JSON objects a log tool can parse.
func TestLogJSONPlatformLinesParse(t *testing.T) {
	lines := append([]string{startLine(FormatJSON, at, rid, "1")}, endLines(FormatJSON, at, Report{RequestID: rid, InitDuration: time.Millisecond})...)
	for _, l := range lines {
		var v struct {
			Type   string         `json:"type"`
			Record map[string]any `json:"record"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil || v.Record["requestId"] != rid || !strings.HasPrefix(v.Type, "platform.") {
			t.Errorf("%s: %v %+v", l, err, v)
		}
	}
}
