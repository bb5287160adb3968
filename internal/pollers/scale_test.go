package pollers

import (
	"testing"
	"time"
)

func TestScaleSQS(t *testing.T) {
	s := time.Second
	cases := []struct {
		name string
		in   sqsLoad
		want int
	}{
		{"start: five pollers", sqsLoad{Max: sqsMaxPollers}, 5},
		{"start under a MaximumConcurrency of 2", sqsLoad{Max: 2}, 2},
		{"MaximumConcurrency lowered", sqsLoad{Pollers: 40, Max: 10, Elapsed: s, Backlog: 9}, 10},
		{"messages wait: 300 a minute, 5 a second", sqsLoad{Pollers: 5, Max: sqsMaxPollers, Elapsed: s, Backlog: 3}, 10},
		{"messages wait, a late tick: 300 a minute", sqsLoad{Pollers: 5, Max: sqsMaxPollers, Elapsed: 2 * s, Backlog: 3}, 15},
		{"messages wait, an early tick: one at least", sqsLoad{Pollers: 5, Max: sqsMaxPollers, Elapsed: 10 * time.Millisecond, Backlog: 1}, 6},
		{"up to MaximumConcurrency", sqsLoad{Pollers: 18, Max: 20, Elapsed: s, Backlog: 18}, 20},
		{"up to Lambda's 1,000", sqsLoad{Pollers: 998, Max: sqsMaxPollers, Elapsed: s, Backlog: 900}, 1000},
		{"receives partly filled: steady", sqsLoad{Pollers: 12, Max: sqsMaxPollers, Elapsed: s}, 12},
		{"empty receives: that many go", sqsLoad{Pollers: 30, Max: sqsMaxPollers, Elapsed: s, Empty: 4, Backlog: 2}, 26},
		{"empty receives: not below five", sqsLoad{Pollers: 8, Max: sqsMaxPollers, Elapsed: s, Empty: 8}, 5},
		{"throttles: one goes, none added", sqsLoad{Pollers: 30, Max: sqsMaxPollers, Elapsed: s, Backlog: 30, Throttled: 12}, 29},
		{"throttles: not below five", sqsLoad{Pollers: 5, Max: sqsMaxPollers, Elapsed: s, Throttled: 3}, 5},
		{"FIFO, many groups: as a standard queue", sqsLoad{Pollers: 10, Max: sqsMaxPollers, Elapsed: s, Backlog: 10, FIFO: true, Groups: 400}, 15},
		{"FIFO: not beyond the groups", sqsLoad{Pollers: 10, Max: sqsMaxPollers, Elapsed: s, Backlog: 10, FIFO: true, Groups: 12}, 12},
		{"FIFO, three groups: five", sqsLoad{Pollers: 5, Max: sqsMaxPollers, Elapsed: s, Backlog: 5, FIFO: true, Groups: 3}, 5},
		{"FIFO, fewer groups than pollers: down at the same rate", sqsLoad{Pollers: 40, Max: sqsMaxPollers, Elapsed: s, Backlog: 5, FIFO: true, Groups: 20}, 35},
		{"FIFO, fewer groups than pollers: down to them", sqsLoad{Pollers: 22, Max: sqsMaxPollers, Elapsed: s, Backlog: 5, FIFO: true, Groups: 20}, 20},
	}
	for _, c := range cases {
		d := scaleSQS(c.in)
		if d.Desired != c.want || d.Why == "" {
			t.Errorf("%s: %+v -> %d (%s), want %d", c.name, c.in, d.Desired, d.Why, c.want)
		}
	}
}
