package lambdaapi

import (
	"github.com/paddockhq/paddock/internal/awsmodel"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/billing"
)

// MeterSource is what the cost API reads usage from: the scaler loop, which
// meters invokes, EE lifetimes and instance lifetimes.
type MeterSource interface {
	// Meters returns what was measured from since to now. Its Since may be
	// later than asked when the meters do not reach back that far (they
	// start with the process), so the bill states the period it covers.
	Meters(since time.Time) billing.Meters
}

// defaultCostPeriod is the period of GET /paddock/v1/cost without since:
// a day, the period people usually ask "what did this cost me" about.
const defaultCostPeriod = 24 * time.Hour

// HandleCost serves GET /paddock/v1/cost?since=<Go duration such as 1h, or
// an RFC 3339 time>: the bill (billing.Bill, as JSON) of what src measured
// since then, at prices. Prices are the server's, not the caller's, because
// the savings plan is a property of the account that runs Paddock. Like
// HandleStatus it is separate from New and must be called once.
func (a *API) HandleCost(src MeterSource, prices billing.Prices) {
	a.mux.Handle("GET /paddock/v1/cost", a.wrap(awsmodel.Operation{}, func(w http.ResponseWriter, r *http.Request, _ []byte) error {
		since, err := parseSince(r.URL.Query().Get("since"), time.Now())
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, billing.Compute(src.Meters(since), prices))
	}))
}

// parseSince reads the since parameter: empty is the default period, a Go
// duration (or a number of days, "7d", which Go's durations lack) is that
// long before now, anything else must be an RFC 3339 time in the past.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now.Add(-defaultCostPeriod), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 3660 {
			return now.AddDate(0, 0, -n), nil
		}
		return time.Time{}, awserr.InvalidParameter("since %q must be a positive number of days such as 7d", s)
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, awserr.InvalidParameter("since %q must be a positive duration such as 1h or 168h", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, awserr.InvalidParameter("since %q is neither a duration such as 1h, 168h or 7d nor an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
	}
	if !t.Before(now) {
		return time.Time{}, awserr.InvalidParameter("since %s is not in the past", s)
	}
	return t, nil
}
