// Package schedulerapi serves schedules in the shape of Amazon EventBridge
// Scheduler's REST API (CreateSchedule, GetSchedule, UpdateSchedule,
// DeleteSchedule, ListSchedules) on Paddock's API port, signed with
// Paddock's keys for the service "scheduler": `aws scheduler ...
// --endpoint-url`, the SDKs' scheduler clients and Terraform's
// aws_scheduler_schedule work against it. Targets are Lambda functions.
//
// Error texts: "Schedule NAME already exists.", "Schedule NAME does not
// exist." and "Schedule group NAME does not exist." are moto's (which
// follows AWS); the validation texts are Paddock's own.
package schedulerapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/schedule"
	"github.com/paddockhq/paddock/internal/sigv4"
)

// Handler serves the schedules API.
type Handler struct {
	Store           *schedule.Store
	Verifier        *sigv4.Verifier // for the service "scheduler"; nil: no authentication
	Region, Account string
	// FunctionExists says whether a target's function (and qualifier) is
	// there, so that a schedule of a function that is not is refused.
	FunctionExists func(function, qualifier string) bool
	Now            func() time.Time
}

type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(msg string) error {
	return &apiError{http.StatusBadRequest, "ValidationException", msg}
}
func notFound(msg string) error {
	return &apiError{http.StatusNotFound, "ResourceNotFoundException", msg}
}

var nameRE = regexp.MustCompile(`^[0-9a-zA-Z-_.]{1,64}$`)

// maxBody bounds a request: a schedule is a few KB (Input at most 8 KB).
const maxBody = 64 << 10

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		var e *apiError
		if !errors.As(err, &e) {
			e = &apiError{http.StatusInternalServerError, "InternalServerException", err.Error()}
		}
		w.Header().Set("X-Amzn-ErrorType", e.code)
		writeJSON(w, e.status, map[string]string{"Message": e.msg})
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	var pending *sigv4.Pending
	if h.Verifier != nil {
		var err error
		if pending, err = h.Verifier.Begin(r); err != nil {
			var se *sigv4.Error
			if errors.As(err, &se) {
				return &apiError{se.Status, se.Code, se.Message}
			}
			return &apiError{http.StatusForbidden, "InvalidSignatureException", err.Error()}
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err == nil && len(body) > maxBody {
		err = validation("the request is larger than 64 KB")
	}
	if pending != nil {
		pending.Write(body) //nolint:errcheck // never fails
		if err != nil {
			pending.Abort()
		} else if _, serr := pending.Finish(); serr != nil {
			var se *sigv4.Error
			if errors.As(serr, &se) {
				return &apiError{se.Status, se.Code, se.Message}
			}
			return &apiError{http.StatusForbidden, "InvalidSignatureException", serr.Error()}
		}
	}
	if err != nil {
		return err
	}
	name, named := strings.CutPrefix(r.URL.Path, "/schedules/")
	switch {
	case !named && r.Method == http.MethodGet:
		return h.list(w, r)
	case named && r.Method == http.MethodPost:
		return h.put(w, r, name, body, true)
	case named && r.Method == http.MethodPut:
		return h.put(w, r, name, body, false)
	case named && r.Method == http.MethodGet:
		return h.get(w, r, name)
	case named && r.Method == http.MethodDelete:
		return h.delete(w, r, name)
	}
	return &apiError{http.StatusNotFound, "UnknownOperationException", "Paddock does not implement " + r.Method + " " + r.URL.Path}
}

// scheduleInput is CreateScheduleInput and UpdateScheduleInput's body.
type scheduleInput struct {
	ActionAfterCompletion      string
	Description                *string
	EndDate                    *float64
	FlexibleTimeWindow         *schedule.FlexibleTimeWindow
	GroupName                  string
	KmsKeyArn                  string
	ScheduleExpression         string
	ScheduleExpressionTimezone string
	StartDate                  *float64
	State                      string
	Target                     *schedule.Target
}

func epoch(f *float64) *time.Time {
	if f == nil {
		return nil
	}
	t := time.Unix(0, int64(*f*1e9)).UTC()
	return &t
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request, name string, body []byte, create bool) error {
	if !nameRE.MatchString(name) {
		return validation("Name must be 1 to 64 letters, digits, hyphens, underscores and periods")
	}
	var in scheduleInput
	if err := json.Unmarshal(body, &in); err != nil {
		return validation("the request body is not valid JSON: " + err.Error())
	}
	group, err := h.group(in.GroupName)
	if err != nil {
		return err
	}
	sc, err := h.validate(name, group, in)
	if err != nil {
		return err
	}
	now := h.now().UTC().Truncate(time.Millisecond)
	sc.LastModificationDate = now
	if create {
		sc.CreationDate = now
		err = h.Store.Create(r.Context(), sc)
		if errors.Is(err, schedule.ErrExists) {
			return &apiError{http.StatusConflict, "ConflictException", "Schedule " + name + " already exists."}
		}
	} else {
		cur, gerr := h.Store.Get(r.Context(), group, name)
		if errors.Is(gerr, schedule.ErrNotFound) {
			return notFound("Schedule " + name + " does not exist.")
		}
		if gerr != nil {
			return gerr
		}
		sc.CreationDate = cur.CreationDate
		err = h.Store.Update(r.Context(), sc)
	}
	if errors.Is(err, schedule.ErrNotFound) {
		return notFound("Schedule " + name + " does not exist.")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"ScheduleArn": sc.Arn})
}

// validate turns a request into the schedule it describes.
func (h *Handler) validate(name, group string, in scheduleInput) (*schedule.Schedule, error) {
	switch {
	case in.ScheduleExpression == "":
		return nil, validation("ScheduleExpression is required")
	case in.FlexibleTimeWindow == nil:
		return nil, validation("FlexibleTimeWindow is required")
	case in.FlexibleTimeWindow.Mode != "OFF" && in.FlexibleTimeWindow.Mode != "FLEXIBLE":
		return nil, validation("FlexibleTimeWindow.Mode must be OFF or FLEXIBLE")
	case in.FlexibleTimeWindow.Mode == "FLEXIBLE" && in.FlexibleTimeWindow.MaximumWindowInMinutes == nil:
		return nil, validation("FlexibleTimeWindow.MaximumWindowInMinutes is required when Mode is FLEXIBLE")
	case in.Target == nil || in.Target.Arn == "" || in.Target.RoleArn == "":
		return nil, validation("Target with its Arn and RoleArn is required")
	case in.KmsKeyArn != "":
		return nil, validation("customer managed KMS keys are not supported")
	}
	if _, err := schedule.Parse(in.ScheduleExpression, in.ScheduleExpressionTimezone); err != nil {
		return nil, validation(err.Error())
	}
	function, qualifier, ok := schedule.FunctionOf(in.Target.Arn)
	if !ok {
		return nil, validation("Paddock's schedules invoke Lambda functions: Target.Arn must be a function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])")
	}
	if h.FunctionExists != nil && !h.FunctionExists(function, qualifier) {
		return nil, validation("the target function " + in.Target.Arn + " does not exist")
	}
	if in.Target.Input != nil && (len(*in.Target.Input) > 8192 || !json.Valid([]byte(*in.Target.Input))) {
		return nil, validation("Target.Input must be well-formed JSON of at most 8192 characters for a Lambda target")
	}
	state := in.State
	switch state {
	case "":
		state = "ENABLED"
	case "ENABLED", "DISABLED":
	default:
		return nil, validation("State must be ENABLED or DISABLED")
	}
	after := in.ActionAfterCompletion
	switch after {
	case "":
		after = "NONE"
	case "NONE", "DELETE":
	default:
		return nil, validation("ActionAfterCompletion must be NONE or DELETE")
	}
	sc := &schedule.Schedule{
		Name: name, GroupName: group, Arn: "arn:aws:scheduler:" + h.Region + ":" + h.Account + ":schedule/" + group + "/" + name,
		ScheduleExpression: in.ScheduleExpression, ScheduleExpressionTimezone: in.ScheduleExpressionTimezone,
		State: state, StartDate: epoch(in.StartDate), EndDate: epoch(in.EndDate),
		FlexibleTimeWindow: *in.FlexibleTimeWindow, Target: *in.Target, ActionAfterCompletion: after,
	}
	if in.Description != nil {
		sc.Description = *in.Description
	}
	if sc.StartDate != nil && sc.EndDate != nil && !sc.EndDate.After(*sc.StartDate) {
		return nil, validation("EndDate must be after StartDate")
	}
	return sc, nil
}

func (h *Handler) group(g string) (string, error) {
	if g == "" || g == schedule.DefaultGroup {
		return schedule.DefaultGroup, nil
	}
	return "", notFound("Schedule group " + g + " does not exist.")
}

// wireSchedule is GetScheduleOutput: dates in epoch seconds, as rest-json sends them.
type wireSchedule struct {
	ActionAfterCompletion      string
	Arn                        string
	CreationDate               float64
	Description                string   `json:",omitempty"`
	EndDate                    *float64 `json:",omitempty"`
	FlexibleTimeWindow         schedule.FlexibleTimeWindow
	GroupName                  string
	LastModificationDate       float64
	Name                       string
	ScheduleExpression         string
	ScheduleExpressionTimezone string   `json:",omitempty"`
	StartDate                  *float64 `json:",omitempty"`
	State                      string
	Target                     schedule.Target
}

func seconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func secondsOf(t *time.Time) *float64 {
	if t == nil {
		return nil
	}
	s := seconds(*t)
	return &s
}

func wire(sc *schedule.Schedule) wireSchedule {
	return wireSchedule{
		ActionAfterCompletion: sc.ActionAfterCompletion, Arn: sc.Arn, CreationDate: seconds(sc.CreationDate), Description: sc.Description,
		EndDate: secondsOf(sc.EndDate), FlexibleTimeWindow: sc.FlexibleTimeWindow, GroupName: sc.GroupName,
		LastModificationDate: seconds(sc.LastModificationDate), Name: sc.Name, ScheduleExpression: sc.ScheduleExpression,
		ScheduleExpressionTimezone: sc.ScheduleExpressionTimezone, StartDate: secondsOf(sc.StartDate), State: sc.State, Target: sc.Target,
	}
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, name string) error {
	group, err := h.group(r.URL.Query().Get("groupName"))
	if err != nil {
		return err
	}
	sc, err := h.Store.Get(r.Context(), group, name)
	if errors.Is(err, schedule.ErrNotFound) {
		return notFound("Schedule " + name + " does not exist.")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire(sc))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, name string) error {
	group, err := h.group(r.URL.Query().Get("groupName"))
	if err != nil {
		return err
	}
	err = h.Store.Delete(r.Context(), group, name)
	if errors.Is(err, schedule.ErrNotFound) {
		return notFound("Schedule " + name + " does not exist.")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	group := q.Get("ScheduleGroup")
	if group != "" {
		if _, err := h.group(group); err != nil {
			return err
		}
	}
	limit := 100
	if v := q.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return validation("MaxResults must be 1 to 100")
		}
		limit = n
	}
	all, err := h.Store.List(r.Context())
	if err != nil {
		return err
	}
	type summary struct {
		Arn                  string
		CreationDate         float64
		GroupName            string
		LastModificationDate float64
		Name                 string
		State                string
		Target               struct{ Arn string }
	}
	out := struct {
		NextToken string `json:",omitempty"`
		Schedules []summary
	}{Schedules: []summary{}}
	token := q.Get("NextToken")
	for _, sc := range all {
		if prefix := q.Get("NamePrefix"); !strings.HasPrefix(sc.Name, prefix) || q.Get("State") != "" && q.Get("State") != sc.State {
			continue
		}
		if token != "" && sc.Name <= token {
			continue
		}
		if len(out.Schedules) == limit {
			out.NextToken = out.Schedules[limit-1].Name
			break
		}
		s := summary{Arn: sc.Arn, CreationDate: seconds(sc.CreationDate), GroupName: sc.GroupName,
			LastModificationDate: seconds(sc.LastModificationDate), Name: sc.Name, State: sc.State}
		s.Target.Arn = sc.Target.Arn
		out.Schedules = append(out.Schedules, s)
	}
	return writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}
