package simulate

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Point is the load at one moment; between points the load changes linearly.
type Point struct {
	At        time.Duration // since the start
	RPS       float64       // requests per second
	Duration  time.Duration // mean duration of a request
	CPUPerReq time.Duration // CPU time one request uses
}

// Trace is a load over time, points sorted by At.
type Trace []Point

// At returns the load at t, interpolated between the surrounding points.
func (tr Trace) At(t time.Duration) Point {
	if len(tr) == 0 {
		return Point{}
	}
	i := sort.Search(len(tr), func(i int) bool { return tr[i].At > t })
	if i == 0 {
		return tr[0]
	}
	if i == len(tr) {
		return tr[len(tr)-1]
	}
	a, b := tr[i-1], tr[i]
	f := float64(t-a.At) / float64(b.At-a.At)
	lerp := func(x, y float64) float64 { return x + (y-x)*f }
	return Point{
		At:        t,
		RPS:       lerp(a.RPS, b.RPS),
		Duration:  time.Duration(lerp(float64(a.Duration), float64(b.Duration))),
		CPUPerReq: time.Duration(lerp(float64(a.CPUPerReq), float64(b.CPUPerReq))),
	}
}

// Length is the time of the last point.
func (tr Trace) Length() time.Duration {
	if len(tr) == 0 {
		return 0
	}
	return tr[len(tr)-1].At
}

// ReadCSV reads a trace: a header line, then rows of
// seconds,requests_per_second,mean_duration_ms,cpu_ms_per_request.
func ReadCSV(r io.Reader) (Trace, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	var tr Trace
	for i, row := range rows {
		if len(row) != 4 {
			return nil, fmt.Errorf("trace line %d: want 4 columns (seconds,rps,duration_ms,cpu_ms), got %d", i+1, len(row))
		}
		var nums [4]float64
		bad := false
		for j, cell := range row {
			nums[j], err = strconv.ParseFloat(strings.TrimSpace(cell), 64)
			if err != nil || nums[j] < 0 || math.IsInf(nums[j], 0) || math.IsNaN(nums[j]) {
				bad = true
			}
		}
		if bad {
			if i == 0 {
				continue // the header
			}
			return nil, fmt.Errorf("trace line %d: want four non-negative numbers, got %q", i+1, strings.Join(row, ","))
		}
		p := Point{At: secs(nums[0]), RPS: nums[1], Duration: ms(nums[2]), CPUPerReq: ms(nums[3])}
		if len(tr) > 0 && p.At <= tr[len(tr)-1].At {
			return nil, fmt.Errorf("trace line %d: time %v is not after the previous line's", i+1, p.At)
		}
		tr = append(tr, p)
	}
	if len(tr) < 2 {
		return nil, fmt.Errorf("trace has %d points; it needs at least 2", len(tr))
	}
	return tr, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
func ms(m float64) time.Duration   { return time.Duration(m * float64(time.Millisecond)) }

// Base is a scenario's starting load.
type Base struct {
	RPS       float64
	Duration  time.Duration
	CPUPerReq time.Duration
}

func (b Base) at(t time.Duration, factor float64) Point {
	return Point{At: t, RPS: b.RPS * factor, Duration: b.Duration, CPUPerReq: b.CPUPerReq}
}

// Scenarios are the built-in load shapes.
var Scenarios = map[string]struct {
	Describe string
	Build    func(Base) Trace
}{
	"steady": {"the base load for 30 minutes", func(b Base) Trace {
		return Trace{b.at(0, 1), b.at(30*time.Minute, 1)}
	}},
	"step": {"the base load, then x1.5 at once at minute 10, for 20 more minutes", func(b Base) Trace {
		return Trace{b.at(0, 1), b.at(10*time.Minute, 1), b.at(10*time.Minute+time.Second, 1.5), b.at(30*time.Minute, 1.5)}
	}},
	"ramp": {"the base load, then a ramp to x2 over 5 minutes from minute 10, held to minute 30", func(b Base) Trace {
		return Trace{b.at(0, 1), b.at(10*time.Minute, 1), b.at(15*time.Minute, 2), b.at(30*time.Minute, 2)}
	}},
	"spike": {"the base load, x10 for 3 minutes from minute 10, then back to the base until minute 30", func(b Base) Trace {
		return Trace{b.at(0, 1), b.at(10*time.Minute, 1), b.at(10*time.Minute+time.Second, 10),
			b.at(13*time.Minute, 10), b.at(13*time.Minute+time.Second, 1), b.at(30*time.Minute, 1)}
	}},
	"diurnal": {"a day in 24 hourly points: a night at 20% of the base, a peak at x2 mid-afternoon", func(b Base) Trace {
		var tr Trace
		for h := 0; h <= 24; h++ {
			f := 1.1 - 0.9*math.Cos(2*math.Pi*(float64(h)-3)/24)
			tr = append(tr, b.at(time.Duration(h)*time.Hour, f))
		}
		return tr
	}},
}
