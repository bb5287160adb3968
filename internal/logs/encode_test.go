package logs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// appendRecord must store what encoding/json would: a reader decodes the
// records with encoding/json, so the two must agree on every string,
// including the awkward ones.
func TestLogRecordEncodingMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 18, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		rec  Record
	}{
		{"platform line", Record{Time: at, RequestID: "8f1c", EE: "ee-1", Stream: StreamPlatform, Version: "1", Message: "REPORT RequestId: 8f1c\tDuration: 1.00 ms"}},
		{"empty optional fields", Record{Time: at, Stream: StreamStdout, Message: ""}},
		{"quotes and backslashes", Record{Time: at, Stream: StreamStdout, Message: `say "hi" \ C:\path`}},
		{"control bytes", Record{Time: at, Stream: StreamStderr, Message: "a\x00b\x01c\x1f\r\n\x7f"}},
		{"html stays readable", Record{Time: at, Stream: StreamStdout, Message: "<b>&amp;</b>"}},
		{"unicode", Record{Time: at, Stream: StreamStdout, Message: "héllo 世界 🚀"}},
		{"line separators", Record{Time: at, Stream: StreamStdout, Message: "a\u2028b\u2029c"}},
		{"invalid utf-8", Record{Time: at, Stream: StreamStdout, Message: "bad \xff\xfe end \xe2\x82"}},
		{"local time zone", Record{Time: at.In(time.FixedZone("X", 3600)), Stream: StreamStdout, Message: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := appendRecord(nil, &tc.rec)
			if !strings.HasSuffix(string(got), "}\n") || strings.Count(string(got), "\n") != 1 {
				t.Fatalf("not one NDJSON line: %q", got)
			}
			var back Record
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("does not decode: %v\n%s", err, got)
			}
			want, _ := json.Marshal(tc.rec)
			var ref Record
			json.Unmarshal(want, &ref) //nolint:errcheck
			if !back.Time.Equal(ref.Time) || back.RequestID != ref.RequestID || back.EE != ref.EE ||
				back.Stream != ref.Stream || back.Version != ref.Version || back.Message != ref.Message {
				t.Fatalf("decodes to %+v, encoding/json's to %+v", back, ref)
			}
		})
	}
}

func BenchmarkLogRecordEncoding(b *testing.B) {
	rec := Record{Time: time.Now(), RequestID: "0f0e3b4c-1d1a-4c9e-9d1f-2b6a7c8d9e0f", EE: "ee-0123456789abcdef", Stream: StreamPlatform,
		Version: "1", Message: "REPORT RequestId: 0f0e3b4c-1d1a-4c9e-9d1f-2b6a7c8d9e0f\tDuration: 0.21 ms\tBilled Duration: 1 ms\tMemory Size: 2048 MB\tMax Memory Used: 12 MB"}
	b.Run("appendRecord", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendRecord(buf[:0], &rec)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			data, _ := json.Marshal(rec)
			_ = append(data, '\n')
		}
	})
}
