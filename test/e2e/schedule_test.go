package e2e

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	stypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/smithy-go"
)

func schedulerClient(e *env) *scheduler.Client {
	return scheduler.New(scheduler.Options{
		BaseEndpoint: aws.String(e.p.Endpoint), Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(e.p.AccessKeyID, e.p.SecretAccessKey, ""),
	})
}

// firings are the events the scheduled function printed, by their "n".
func (e *env) firings(function string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, r := range e.fetchLogs(function, "") {
		rest, ok := strings.CutPrefix(r.Message, "fired ")
		if !ok {
			continue
		}
		var ev map[string]any
		if json.Unmarshal([]byte(rest), &ev) != nil {
			continue
		}
		key, _ := ev["n"].(string)
		if key == "" {
			key = "default"
		}
		out[key] = append(out[key], ev)
	}
	return out
}

// TestSchedules drives Paddock's EventBridge Scheduler-shaped API with the
// AWS SDK's scheduler client: one-time schedules fire their function once
// each (with the target's Input, or Scheduler's default notification),
// also across a restart of Paddock between the schedule and its slot, and
// never again after it; Get, List, Update and Delete answer as Scheduler
// does, with its errors.
func TestSchedules(t *testing.T) {
	dir := t.TempDir()
	e := startIn(t, dir)
	if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("cronjob"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(roleARN), Code: &types.FunctionCode{ZipFile: testdataZip(t, "scheduled")},
	}); err != nil {
		t.Fatal(err)
	}
	e.settled("cronjob")
	sch := schedulerClient(e)
	fn := "arn:aws:lambda:us-east-1:000000000000:function:cronjob"
	at := func(d time.Duration) string {
		return "at(" + time.Now().UTC().Add(d).Format("2006-01-02T15:04:05") + ")"
	}
	create := func(name, expr string, input *string) error {
		_, err := sch.CreateSchedule(ctx(t), &scheduler.CreateScheduleInput{
			Name: aws.String(name), ScheduleExpression: aws.String(expr),
			FlexibleTimeWindow: &stypes.FlexibleTimeWindow{Mode: stypes.FlexibleTimeWindowModeOff},
			Target:             &stypes.Target{Arn: aws.String(fn), RoleArn: aws.String(roleARN), Input: input},
		})
		return err
	}
	if err := create("with-input", at(3*time.Second), aws.String(`{"n":"one"}`)); err != nil {
		t.Fatalf("CreateSchedule: %v", err)
	}
	if err := create("default-input", at(3*time.Second), nil); err != nil {
		t.Fatal(err)
	}
	if err := create("after-restart", at(12*time.Second), aws.String(`{"n":"restart"}`)); err != nil {
		t.Fatal(err)
	}
	if err := create("hourly", "rate(1 hour)", aws.String(`{"n":"hourly"}`)); err != nil {
		t.Fatal(err)
	}

	// The API's answers and errors.
	wantCode := func(err error, code string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Errorf("got %v, want %s", err, code)
		}
	}
	wantCode(create("with-input", "rate(5 minutes)", nil), "ConflictException")
	wantCode(create("bad-expr", "rate(5 seconds)", nil), "ValidationException")
	_, err := sch.CreateSchedule(ctx(t), &scheduler.CreateScheduleInput{Name: aws.String("to-sqs"), ScheduleExpression: aws.String("rate(5 minutes)"),
		FlexibleTimeWindow: &stypes.FlexibleTimeWindow{Mode: stypes.FlexibleTimeWindowModeOff},
		Target:             &stypes.Target{Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), RoleArn: aws.String(roleARN)}})
	wantCode(err, "ValidationException")
	_, err = sch.GetSchedule(ctx(t), &scheduler.GetScheduleInput{Name: aws.String("nope")})
	wantCode(err, "ResourceNotFoundException")
	g, err := sch.GetSchedule(ctx(t), &scheduler.GetScheduleInput{Name: aws.String("hourly")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(g.Arn) != "arn:aws:scheduler:us-east-1:000000000000:schedule/default/hourly" || g.State != stypes.ScheduleStateEnabled ||
		aws.ToString(g.GroupName) != "default" || aws.ToString(g.Target.Arn) != fn || g.CreationDate == nil || time.Since(*g.CreationDate) > time.Minute {
		t.Errorf("GetSchedule: %+v", g)
	}
	if _, err := sch.UpdateSchedule(ctx(t), &scheduler.UpdateScheduleInput{Name: aws.String("hourly"), ScheduleExpression: aws.String("rate(2 hours)"),
		FlexibleTimeWindow: &stypes.FlexibleTimeWindow{Mode: stypes.FlexibleTimeWindowModeOff}, State: stypes.ScheduleStateDisabled,
		Target: &stypes.Target{Arn: aws.String(fn), RoleArn: aws.String(roleARN)}}); err != nil {
		t.Fatal(err)
	}
	l, err := sch.ListSchedules(ctx(t), &scheduler.ListSchedulesInput{State: stypes.ScheduleStateDisabled})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Schedules) != 1 || aws.ToString(l.Schedules[0].Name) != "hourly" {
		t.Errorf("ListSchedules of the disabled ones: %+v", l.Schedules)
	}
	// The paddock schedule verb speaks the same API.
	bin := paddockBinary(t)
	cli := cliEnv(t, "AWS_ACCESS_KEY_ID="+e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+e.p.SecretAccessKey)
	endpoint := "--endpoint=" + e.p.Endpoint
	if r := runCLI(t, bin, cli, "", "schedule", "create", "cli-made", "--function", "cronjob", "--expression", "cron(0 3 * * ? *)", "--disabled", endpoint); r.code != 0 ||
		strings.TrimSpace(r.stdout) != "arn:aws:scheduler:us-east-1:000000000000:schedule/default/cli-made" {
		t.Errorf("paddock schedule create: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, bin, cli, "", "schedule", "list", endpoint); r.code != 0 || !strings.Contains(r.stdout, "cli-made") || !strings.Contains(r.stdout, "cron(0 3 * * ? *)") {
		t.Errorf("paddock schedule list: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, bin, cli, "", "schedule", "delete", "cli-made", endpoint); r.code != 0 {
		t.Errorf("paddock schedule delete: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, bin, cli, "", "schedule", "create", "bad", "--function", "cronjob", "--expression", "every minute", endpoint); r.code == 0 || !strings.Contains(r.stderr, "ValidationException") {
		t.Errorf("paddock schedule create with a bad expression: %d %q", r.code, r.stderr)
	}
	if _, err := sch.DeleteSchedule(ctx(t), &scheduler.DeleteScheduleInput{Name: aws.String("hourly")}); err != nil {
		t.Fatal(err)
	}
	_, err = sch.DeleteSchedule(ctx(t), &scheduler.DeleteScheduleInput{Name: aws.String("hourly")})
	wantCode(err, "ResourceNotFoundException")

	waitForLong(t, "the two schedules due in 3 s to fire", 30*time.Second, func() bool {
		f := e.firings("cronjob")
		return len(f["one"]) > 0 && len(f["default"]) > 0
	})
	ev := e.firings("cronjob")["default"][0]
	if ev["detail-type"] != "Scheduled Event" || ev["source"] != "aws.scheduler" ||
		!strings.Contains(strings.Join(anyStrings(ev["resources"]), ","), "schedule/default/default-input") {
		t.Errorf("the default notification: %v", ev)
	}

	// A restart between a schedule and its slot: it fires after, once; the
	// ones that fired before do not fire again.
	e.p.Close()
	e = startIn(t, dir)
	waitForLong(t, "the schedule due during the restart to fire", 40*time.Second, func() bool {
		return len(e.firings("cronjob")["restart"]) > 0
	})
	time.Sleep(3 * time.Second) // room for a second firing, were there one
	f := e.firings("cronjob")
	for _, n := range []string{"one", "default", "restart"} {
		if len(f[n]) != 1 {
			t.Errorf("schedule %q fired %d times, want once", n, len(f[n]))
		}
	}
	if len(f["hourly"]) != 0 {
		t.Errorf("the deleted rate schedule fired %d times", len(f["hourly"]))
	}
}

func anyStrings(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, x := range list {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}
