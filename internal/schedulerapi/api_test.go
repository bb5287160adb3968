package schedulerapi

import (
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/schedule"
)

func TestValidate(t *testing.T) {
	h := &Handler{Region: "us-east-1", Account: "000000000000", FunctionExists: func(f, q string) bool { return f == "fn" && (q == "" || q == "live") }}
	str := func(s string) *string { return &s }
	target := func(arn string) *schedule.Target {
		return &schedule.Target{Arn: arn, RoleArn: "arn:aws:iam::000000000000:role/r"}
	}
	good := func() scheduleInput {
		return scheduleInput{ScheduleExpression: "rate(5 minutes)", FlexibleTimeWindow: &schedule.FlexibleTimeWindow{Mode: "OFF"},
			Target: target("arn:aws:lambda:us-east-1:000000000000:function:fn")}
	}
	start, end := 2000.0, 1000.0
	tests := []struct {
		name string
		edit func(*scheduleInput)
		err  string // "" for valid
	}{
		{"valid", func(*scheduleInput) {}, ""},
		{"an alias", func(in *scheduleInput) { in.Target = target("arn:aws:lambda:us-east-1:000000000000:function:fn:live") }, ""},
		{"no expression", func(in *scheduleInput) { in.ScheduleExpression = "" }, "ScheduleExpression is required"},
		{"bad expression", func(in *scheduleInput) { in.ScheduleExpression = "rate(1 fortnight)" }, "invalid schedule expression"},
		{"no window", func(in *scheduleInput) { in.FlexibleTimeWindow = nil }, "FlexibleTimeWindow is required"},
		{"flexible without a window", func(in *scheduleInput) { in.FlexibleTimeWindow.Mode = "FLEXIBLE" }, "MaximumWindowInMinutes"},
		{"no role", func(in *scheduleInput) { in.Target.RoleArn = "" }, "RoleArn"},
		{"not a function", func(in *scheduleInput) { in.Target = target("arn:aws:sqs:us-east-1:000000000000:q") }, "Lambda functions"},
		{"a function that is not there", func(in *scheduleInput) { in.Target = target("arn:aws:lambda:us-east-1:000000000000:function:gone") }, "does not exist"},
		{"input not JSON", func(in *scheduleInput) { in.Target.Input = str("{nope") }, "well-formed JSON"},
		{"bad state", func(in *scheduleInput) { in.State = "PAUSED" }, "ENABLED or DISABLED"},
		{"bad action", func(in *scheduleInput) { in.ActionAfterCompletion = "ARCHIVE" }, "NONE or DELETE"},
		{"end before start", func(in *scheduleInput) { in.StartDate, in.EndDate = &start, &end }, "EndDate must be after StartDate"},
		{"a KMS key", func(in *scheduleInput) { in.KmsKeyArn = "arn:aws:kms:us-east-1:000000000000:key/k" }, "KMS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			tt.edit(&in)
			sc, err := h.validate("s", schedule.DefaultGroup, in)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if sc.State != "ENABLED" || sc.ActionAfterCompletion != "NONE" || sc.Arn != "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s" {
					t.Errorf("defaults: %+v", sc)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err %v, want one with %q", err, tt.err)
			}
			if e, ok := err.(*apiError); !ok || e.code != "ValidationException" || e.status != 400 {
				t.Errorf("err %#v is not a ValidationException", err)
			}
		})
	}
}
