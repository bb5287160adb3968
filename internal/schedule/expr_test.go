package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParseAndNext(t *testing.T) {
	start := time.Date(2026, 12, 2, 10, 0, 30, 0, time.UTC)
	tests := []struct {
		expr, tz string
		after    time.Time
		want     []string // the next slots, RFC 3339 in UTC
		err      string
	}{
		{"rate(5 minutes)", "", start, []string{"2026-12-02T10:05:30Z", "2026-12-02T10:10:30Z"}, ""},
		{"rate(1 hour)", "", start.Add(-time.Hour), []string{"2026-12-02T11:00:30Z", "2026-12-02T12:00:30Z"}, ""},
		{"rate(2 days)", "", start.Add(90 * time.Hour), []string{"2026-12-06T10:00:30Z"}, ""},
		{"cron(0 12 * * ? *)", "", start, []string{"2026-12-02T12:00:00Z", "2026-12-03T12:00:00Z"}, ""},
		{"cron(15 10 ? * 6 *)", "", start, []string{"2026-12-04T10:15:00Z", "2026-12-11T10:15:00Z"}, ""}, // 6 is Friday
		{"cron(0 9 ? * MON-FRI *)", "", start, []string{"2026-12-03T09:00:00Z", "2026-12-04T09:00:00Z", "2026-12-07T09:00:00Z"}, ""},
		{"cron(0 9 ? * 2-6 *)", "", start, []string{"2026-12-03T09:00:00Z", "2026-12-04T09:00:00Z", "2026-12-07T09:00:00Z"}, ""},
		{"cron(0/15 * * * ? *)", "", start, []string{"2026-12-02T10:15:00Z", "2026-12-02T10:30:00Z"}, ""},
		{"cron(0 0 1 JAN ? 2030)", "", start, []string{"2030-01-01T00:00:00Z"}, ""},
		{"cron(0 0 1 JUL ? 2027-2028)", "", start, []string{"2027-07-01T00:00:00Z", "2028-07-01T00:00:00Z", ""}, ""},
		{"cron(0 8 * * ? *)", "America/New_York", start, []string{"2026-12-02T13:00:00Z"}, ""},
		{"at(2026-12-02T10:05:00)", "", start, []string{"2026-12-02T10:05:00Z", ""}, ""},
		{"at(2026-12-02T10:00:00)", "", start, []string{""}, ""},
		{"at(2026-12-02T10:05:00)", "Europe/Paris", start.Add(-2 * time.Hour), []string{"2026-12-02T09:05:00Z"}, ""},
		{"rate(1 minutes)", "", start, nil, "say 1 minute"},
		{"rate(5 minute)", "", start, nil, "say 1 minute or 5 minutes"},
		{"rate(0 minutes)", "", start, nil, "positive"},
		{"rate(5 seconds)", "", start, nil, "invalid schedule expression"},
		{"cron(0 12 * * *)", "", start, nil, "6 fields"},
		{"cron(0 12 * * * *)", "", start, nil, "must be ?"},
		{"cron(0 12 ? * ? *)", "", start, nil, "must be ?"},
		{"cron(0 12 L * ? *)", "", start, nil, "not supported"},
		{"cron(0 12 ? * 8 *)", "", start, nil, "not 1-7"},
		{"cron(0 12 * * ? 1800)", "", start, nil, "year field"},
		{"cron(0 12 * * ? *)", "Mars/Olympus", start, nil, "timezone"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.tz, func(t *testing.T) {
			e, err := Parse(tt.expr, tt.tz)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after := tt.after
			for i, want := range tt.want {
				next := e.Next(start, after)
				got := ""
				if !next.IsZero() {
					got = next.UTC().Format(time.RFC3339)
				}
				if got != want {
					t.Fatalf("slot %d after %s: %q, want %q", i, after.Format(time.RFC3339), got, want)
				}
				after = next
			}
		})
	}
}
