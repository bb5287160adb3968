// Package schedule keeps schedules that invoke functions (the shape of
// Amazon EventBridge Scheduler's) and fires each of their slots once, on
// the leading server, as an asynchronous invoke.
package schedule

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Expression is a parsed ScheduleExpression: at(...), rate(...) or cron(...).
type Expression struct {
	kind  byte // 'a'(t), 'r'(ate), 'c'(ron)
	at    time.Time
	every time.Duration
	cron  cron.Schedule
	years func(int) bool // cron's year field
	loc   *time.Location
}

var (
	atRE   = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)
	rateRE = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)
	cronRE = regexp.MustCompile(`^cron\(([^)]*)\)$`)
)

// Parse reads a ScheduleExpression in EventBridge Scheduler's syntax, its
// times in timezone (an IANA name; "" is UTC):
//   - at(yyyy-mm-ddThh:mm:ss): once;
//   - rate(N unit), unit minute(s), hour(s) or day(s): every N units,
//     from the schedule's start;
//   - cron(minutes hours day-of-month month day-of-week year): the six
//     fields of AWS's cron, day-of-week 1-7 for SUN-SAT, one of the two day
//     fields "?"; with *, lists, ranges, steps and names. L, W and # are
//     refused (not supported yet).
func Parse(expr, timezone string) (Expression, error) {
	loc := time.UTC
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return Expression{}, fmt.Errorf("invalid timezone %q", timezone)
		}
		loc = l
	}
	if m := atRE.FindStringSubmatch(expr); m != nil {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
		if err != nil {
			return Expression{}, fmt.Errorf("invalid at expression %q", expr)
		}
		return Expression{kind: 'a', at: t, loc: loc}, nil
	}
	if m := rateRE.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return Expression{}, fmt.Errorf("invalid rate expression %q: the value must be a positive whole number", expr)
		}
		if n == 1 && strings.HasSuffix(m[2], "s") || n > 1 && !strings.HasSuffix(m[2], "s") {
			return Expression{}, fmt.Errorf("invalid rate expression %q: say 1 %s or %d %ss", expr, strings.TrimSuffix(m[2], "s"), n, strings.TrimSuffix(m[2], "s"))
		}
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		return Expression{kind: 'r', every: time.Duration(n) * unit, loc: loc}, nil
	}
	if m := cronRE.FindStringSubmatch(expr); m != nil {
		return parseCron(expr, m[1], loc)
	}
	return Expression{}, fmt.Errorf("invalid schedule expression %q: use at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(minutes hours day-of-month month day-of-week year)", expr)
}

// cronParser reads the five standard fields robfig/cron knows; AWS's year
// field is kept apart and day-of-week renumbered before it gets them.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

func parseCron(expr, fields string, loc *time.Location) (Expression, error) {
	f := strings.Fields(fields)
	if len(f) != 6 {
		return Expression{}, fmt.Errorf("invalid cron expression %q: it needs 6 fields (minutes hours day-of-month month day-of-week year)", expr)
	}
	if strings.ContainsAny(fields, "LW#") && !onlyNames(fields) {
		return Expression{}, fmt.Errorf("invalid cron expression %q: L, W and # are not supported yet", expr)
	}
	if (f[2] == "?") == (f[4] == "?") {
		return Expression{}, fmt.Errorf("invalid cron expression %q: one of day-of-month and day-of-week must be ?, not both", expr)
	}
	dow, err := awsDayOfWeek(f[4])
	if err != nil {
		return Expression{}, fmt.Errorf("invalid cron expression %q: %v", expr, err)
	}
	s, err := cronParser.Parse(strings.Join([]string{f[0], f[1], f[2], f[3], dow}, " "))
	if err != nil {
		return Expression{}, fmt.Errorf("invalid cron expression %q: %v", expr, err)
	}
	years, err := yearField(f[5])
	if err != nil {
		return Expression{}, fmt.Errorf("invalid cron expression %q: %v", expr, err)
	}
	return Expression{kind: 'c', cron: s, years: years, loc: loc}, nil
}

// onlyNames says whether the letters L, W and # in fields are parts of
// month or day names (JUL, WED...), not AWS's L, W and # operators.
func onlyNames(fields string) bool {
	for _, tok := range strings.FieldsFunc(fields, func(r rune) bool { return strings.ContainsRune(" ,-/", r) }) {
		if strings.ContainsAny(tok, "LW#") && len(tok) != 3 {
			return false
		}
	}
	return true
}

// awsDayOfWeek renumbers AWS's day-of-week (1-7, SUN-SAT) as
// robfig/cron's (0-6); names and ? pass as they are.
func awsDayOfWeek(field string) (string, error) {
	var b strings.Builder
	num := ""
	flush := func() error {
		if num == "" {
			return nil
		}
		n, _ := strconv.Atoi(num)
		if n < 1 || n > 7 {
			return fmt.Errorf("day-of-week %d is not 1-7", n)
		}
		b.WriteString(strconv.Itoa(n - 1))
		num = ""
		return nil
	}
	afterSlash := false
	for _, r := range field {
		switch {
		case r >= '0' && r <= '9' && !afterSlash:
			num += string(r)
			continue
		case r >= '0' && r <= '9':
			b.WriteRune(r) // a step is a count, not a day
			continue
		}
		if err := flush(); err != nil {
			return "", err
		}
		afterSlash = r == '/'
		if r == ',' || r == '-' {
			afterSlash = false
		}
		b.WriteRune(r)
	}
	if err := flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// yearField reads cron's year field: *, a year, a range, or a list of them.
func yearField(field string) (func(int) bool, error) {
	if field == "*" {
		return func(int) bool { return true }, nil
	}
	type span struct{ lo, hi int }
	var spans []span
	for _, part := range strings.Split(field, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 1970 || b > 2199 || b < a {
			return nil, errors.New("the year field must be *, or years 1970-2199 (lists and ranges)")
		}
		spans = append(spans, span{a, b})
	}
	return func(y int) bool {
		for _, s := range spans {
			if y >= s.lo && y <= s.hi {
				return true
			}
		}
		return false
	}, nil
}

// Next is the first slot of the expression after after, for a schedule
// whose slots are counted from start (rate's); zero when there is none.
func (e Expression) Next(start, after time.Time) time.Time {
	switch e.kind {
	case 'a':
		if e.at.After(after) {
			return e.at
		}
	case 'r':
		if after.Before(start) {
			return start.Add(e.every)
		}
		k := after.Sub(start)/e.every + 1
		return start.Add(k * e.every)
	case 'c':
		t := after.In(e.loc)
		for {
			next := e.cron.Next(t)
			if next.IsZero() || next.Year() > 2199 {
				return time.Time{}
			}
			if e.years(next.Year()) {
				return next
			}
			// Skip to the eve of the next year the field allows.
			y := next.Year() + 1
			for y <= 2199 && !e.years(y) {
				y++
			}
			if y > 2199 {
				return time.Time{}
			}
			t = time.Date(y, 1, 1, 0, 0, 0, 0, e.loc).Add(-time.Second)
		}
	}
	return time.Time{}
}

// Once says whether the expression has a single slot (at()).
func (e Expression) Once() bool { return e.kind == 'a' }
