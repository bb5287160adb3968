package control

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

func intp(n int) *int { return &n }

// The model's constraints, in its words: MaximumRetryAttempts 0-2,
// MaximumEventAgeInSeconds 60-21600, DestinationArn at most 350 long and
// of its pattern (the empty string included).
func TestValidateEventInvokeInput(t *testing.T) {
	const pattern = `Member must satisfy regular expression pattern: $|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`
	long := "arn:aws:sqs:us-east-1:000000000000:" + strings.Repeat("q", 320)
	for _, tc := range []struct {
		name string
		in   EventInvokeInput
		msg  string // "" for valid
	}{
		{"nothing (the rule of at least one setting is not the model's)", EventInvokeInput{}, ""},
		{"retries 0", EventInvokeInput{MaximumRetryAttempts: intp(0)}, ""},
		{"retries 2", EventInvokeInput{MaximumRetryAttempts: intp(2)}, ""},
		{"retries 3", EventInvokeInput{MaximumRetryAttempts: intp(3)},
			"1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"},
		{"retries -1", EventInvokeInput{MaximumRetryAttempts: intp(-1)},
			"1 validation error detected: Value '-1' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"age 60", EventInvokeInput{MaximumEventAgeInSeconds: intp(60)}, ""},
		{"age 21600", EventInvokeInput{MaximumEventAgeInSeconds: intp(21600)}, ""},
		{"age 59", EventInvokeInput{MaximumEventAgeInSeconds: intp(59)},
			"1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"age 21601", EventInvokeInput{MaximumEventAgeInSeconds: intp(21601)},
			"1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"},
		{"both out of range", EventInvokeInput{MaximumRetryAttempts: intp(5), MaximumEventAgeInSeconds: intp(1)},
			"2 validation errors detected: Value '5' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2; " +
				"Value '1' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"empty destinations", EventInvokeInput{Destinations: &Destinations{}}, ""},
		{"destination ARNs", EventInvokeInput{Destinations: &Destinations{OnSuccess: "arn:aws:sns:us-east-1:000000000000:t", OnFailure: "arn:aws:s3:::bucket"}}, ""},
		{"a destination that is not an ARN", EventInvokeInput{Destinations: &Destinations{OnSuccess: "invalid"}},
			"1 validation error detected: Value 'invalid' at 'destinationConfig.onSuccess.destination' failed to satisfy constraint: " + pattern},
		{"an ARN of a service name the pattern refuses", EventInvokeInput{Destinations: &Destinations{OnFailure: "arn:aws:_-/!lambda:us-east-1:000000000000:function:f"}},
			"1 validation error detected: Value 'arn:aws:_-/!lambda:us-east-1:000000000000:function:f' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: " + pattern},
		{"a destination over 350", EventInvokeInput{Destinations: &Destinations{OnFailure: long}},
			"1 validation error detected: Value '" + long + "' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must have length less than or equal to 350"},
	} {
		err := ValidateEventInvokeInput(tc.in)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: %v, want no error", tc.name, err)
		case tc.msg == "":
		case errCode(err) != "ValidationException":
			t.Errorf("%s: %v, want ValidationException", tc.name, err)
		case err.(*awserr.Error).Message != tc.msg:
			t.Errorf("%s:\n got %s\nwant %s", tc.name, err.(*awserr.Error).Message, tc.msg)
		}
	}
}

// Lambda's rules for destinations, with AWS's texts: a Lambda function
// that exists and is not the function itself, an SQS queue, an SNS topic,
// an event bus, an S3 bucket on failure only; anything else is refused
// with the whole DestinationConfig in the message.
func TestCheckDestinations(t *testing.T) {
	s := &Service{region: "us-east-1", account: "000000000000", fns: map[string]*fnState{
		"self": newFnState(Function{}), "other": newFnState(Function{}),
	}}
	const fn = "arn:aws:lambda:us-east-1:000000000000:function:"
	for _, tc := range []struct {
		name string
		d    Destinations
		msg  string // "" for accepted
	}{
		{"none", Destinations{}, ""},
		{"another function", Destinations{OnSuccess: fn + "other", OnFailure: fn + "other:1"}, ""},
		{"queue, topic, bus", Destinations{OnSuccess: "arn:aws:sqs:us-east-1:000000000000:q", OnFailure: "arn:aws:events:us-east-1:000000000000:event-bus/default"}, ""},
		{"topic", Destinations{OnSuccess: "arn:aws:sns:us-east-1:000000000000:t"}, ""},
		{"bucket on failure", Destinations{OnFailure: "arn:aws:s3:::records"}, ""},
		{"a function that does not exist", Destinations{OnSuccess: fn + "doesnotexist"}, "The destination ARN " + fn + "doesnotexist is invalid."},
		{"a function of another region", Destinations{OnSuccess: "arn:aws:lambda:us-west-2:000000000000:function:other"},
			"The destination ARN arn:aws:lambda:us-west-2:000000000000:function:other is invalid."},
		{"a Lambda ARN that is not a function's", Destinations{OnFailure: "arn:aws:lambda:us-east-1:000000000000:layer:l:1"},
			"The destination ARN arn:aws:lambda:us-east-1:000000000000:layer:l:1 is invalid."},
		{"itself", Destinations{OnSuccess: fn + "self"}, "You can't specify the function as a destination for itself."},
		{"itself, qualified", Destinations{OnFailure: fn + "self:live"}, "You can't specify the function as a destination for itself."},
		{"an IAM ARN", Destinations{OnSuccess: "arn:aws:iam:us-east-1:000000000000:function:self"},
			"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:iam:us-east-1:000000000000:function:self), onFailure=null) is invalid."},
		{"a bucket on success", Destinations{OnSuccess: "arn:aws:s3:::records", OnFailure: "arn:aws:sqs:us-east-1:000000000000:q"},
			"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:s3:::records), onFailure=OnFailure(destination=arn:aws:sqs:us-east-1:000000000000:q)) is invalid."},
		{"a Kafka topic", Destinations{OnFailure: "kafka://topic"},
			"The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=kafka://topic)) is invalid."},
		{"on failure is checked first", Destinations{OnSuccess: fn + "self", OnFailure: fn + "gone"}, "The destination ARN " + fn + "gone is invalid."},
	} {
		err := s.checkDestinations("self", tc.d)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.msg == "":
		case errCode(err) != "InvalidParameterValueException" || err.(*awserr.Error).Message != tc.msg || err.(*awserr.Error).Type != "User":
			t.Errorf("%s:\n got %v\nwant InvalidParameterValueException %s", tc.name, err, tc.msg)
		}
	}
}

func wantErr(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) || e.Code != code || e.Message != msg {
		t.Fatalf("%s: got %v, want %s %q", what, err, code, msg)
	}
}

// TestEventInvokeConfigLifecycle: Put replaces, Update merges, the
// errors of missing functions, qualifiers and configs are AWS's, configs
// survive a restart, and go with their version, alias or function.
// AsyncSettings answers a config's settings, or Lambda's defaults for a
// qualifier without one (no fallback to the unqualified function's).
func TestEventInvokeConfigLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, s := openWithFunctions(t, dir, "f", "dest")
	defer func() { st.Close() }()
	var err error
	if _, err := s.PublishVersion(ctx, "f", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	v1 := "1"
	if _, err := s.CreateAlias(ctx, "f", AliasInput{Name: "live", Version: &v1}); err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:"
	defaults := AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: 6 * time.Hour}
	if got := s.AsyncSettings("f", ""); got != defaults {
		t.Fatalf("AsyncSettings without a config: %+v, want %+v", got, defaults)
	}

	_, err = s.PutFunctionEventInvokeConfig(ctx, "ghost", "", EventInvokeInput{})
	wantErr(t, "Put with no setting", err, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting.")
	_, err = s.PutFunctionEventInvokeConfig(ctx, "ghost", "", EventInvokeInput{MaximumRetryAttempts: intp(1)})
	wantErr(t, "Put of a missing function", err, "ResourceNotFoundException", "The function doesn't exist.")
	_, err = s.PutFunctionEventInvokeConfig(ctx, "f", "nope", EventInvokeInput{MaximumRetryAttempts: intp(1)})
	wantErr(t, "Put of a missing alias", err, "ResourceNotFoundException", "The function doesn't exist.")
	_, err = s.PutFunctionEventInvokeConfig(ctx, "f", "9", EventInvokeInput{MaximumRetryAttempts: intp(1)})
	wantErr(t, "Put of a missing version", err, "ResourceNotFoundException", "The function doesn't exist.")
	_, err = s.PutFunctionEventInvokeConfig(ctx, "f", "", EventInvokeInput{MaximumRetryAttempts: intp(3)})
	wantErr(t, "Put out of range", err, "ValidationException", "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2")
	_, err = s.GetFunctionEventInvokeConfig("f", "")
	wantErr(t, "Get with none", err, "ResourceNotFoundException", "The function "+arn+"f:$LATEST doesn't have an EventInvokeConfig")
	_, err = s.GetFunctionEventInvokeConfig("ghost", "")
	wantErr(t, "Get of a missing function", err, "ResourceNotFoundException", "The function "+arn+"ghost:$LATEST doesn't have an EventInvokeConfig")
	_, err = s.GetFunctionEventInvokeConfig("f", "1221")
	wantErr(t, "Get of a missing version", err, "ResourceNotFoundException", "The function "+arn+"f:1221 doesn't have an EventInvokeConfig")
	err = s.DeleteFunctionEventInvokeConfig(ctx, "f", "live")
	wantErr(t, "Delete with none", err, "ResourceNotFoundException", "The function "+arn+"f:live doesn't have an EventInvokeConfig")
	_, err = s.UpdateFunctionEventInvokeConfig(ctx, "f", "", EventInvokeInput{MaximumRetryAttempts: intp(0)})
	wantErr(t, "Update with none", err, "ResourceNotFoundException", "The function "+arn+"f:$LATEST doesn't have an EventInvokeConfig")
	_, err = s.UpdateFunctionEventInvokeConfig(ctx, "ghost", "", EventInvokeInput{MaximumRetryAttempts: intp(0)})
	wantErr(t, "Update of a missing function", err, "ResourceNotFoundException", "The function doesn't exist.")
	_, _, err = s.ListFunctionEventInvokeConfigs("ghost", "", 0)
	wantErr(t, "List of a missing function", err, "ResourceNotFoundException", "The function doesn't exist.")

	before := time.Now().Add(-time.Second)
	c, err := s.PutFunctionEventInvokeConfig(ctx, "f", "", EventInvokeInput{MaximumRetryAttempts: intp(2), MaximumEventAgeInSeconds: intp(60),
		Destinations: &Destinations{OnFailure: "arn:aws:sqs:us-east-1:000000000000:dlq"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Qualifier != Latest || c.LastModified.Before(before) || c.LastModified.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("Put: %+v; want qualifier $LATEST, LastModified now, in milliseconds", c)
	}
	// Put replaces the whole config: what it does not name is gone.
	if c, err = s.PutFunctionEventInvokeConfig(ctx, "f", Latest, EventInvokeInput{MaximumRetryAttempts: intp(0)}); err != nil {
		t.Fatal(err)
	}
	if c.MaximumEventAgeInSeconds != nil || c.OnFailure != "" || *c.MaximumRetryAttempts != 0 {
		t.Fatalf("second Put: %+v; want only the retries", c)
	}
	// Update merges what it names.
	if c, err = s.UpdateFunctionEventInvokeConfig(ctx, "f", "", EventInvokeInput{MaximumEventAgeInSeconds: intp(120),
		Destinations: &Destinations{OnSuccess: arn + "dest"}}); err != nil {
		t.Fatal(err)
	}
	if *c.MaximumRetryAttempts != 0 || *c.MaximumEventAgeInSeconds != 120 || c.OnSuccess != arn+"dest" {
		t.Fatalf("Update: %+v; want retries 0 kept, age 120, on success dest", c)
	}
	if got, want := s.AsyncSettings("f", ""), (AsyncSettings{MaximumRetryAttempts: 0, MaximumEventAge: 2 * time.Minute, OnSuccess: arn + "dest"}); got != want {
		t.Fatalf("AsyncSettings: %+v, want %+v", got, want)
	}
	if got := s.AsyncSettings("f", Latest); got != s.AsyncSettings("f", "") {
		t.Fatalf("AsyncSettings of $LATEST %+v differs from the unqualified function's", got)
	}
	// A version or alias without a config of its own takes the defaults.
	for _, q := range []string{"1", "live"} {
		if got := s.AsyncSettings("f", q); got != defaults {
			t.Fatalf("AsyncSettings(f, %s) without a config: %+v, want the defaults %+v", q, got, defaults)
		}
	}
	if _, err := s.PutFunctionEventInvokeConfig(ctx, "f", "1", EventInvokeInput{MaximumEventAgeInSeconds: intp(3600)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFunctionEventInvokeConfig(ctx, "f", "live", EventInvokeInput{Destinations: &Destinations{OnFailure: "arn:aws:s3:::records"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.AsyncSettings("f", "1"), (AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: time.Hour}); got != want {
		t.Fatalf("AsyncSettings(f, 1): %+v, want %+v", got, want)
	}
	if got, want := s.AsyncSettings("f", "live"), (AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: 6 * time.Hour, OnFailure: "arn:aws:s3:::records"}); got != want {
		t.Fatalf("AsyncSettings(f, live): %+v, want %+v", got, want)
	}

	qualifiers := func(cs []EventInvokeConfig) string {
		var qs []string
		for _, c := range cs {
			qs = append(qs, c.Qualifier)
		}
		return strings.Join(qs, ",")
	}
	all, next, err := s.ListFunctionEventInvokeConfigs("f", "", 0)
	if err != nil || next != "" || qualifiers(all) != "$LATEST,1,live" {
		t.Fatalf("List: %s next %q %v; want $LATEST,1,live in one page", qualifiers(all), next, err)
	}
	first, next, err := s.ListFunctionEventInvokeConfigs("f", "", 2)
	if err != nil || qualifiers(first) != "$LATEST,1" || next == "" {
		t.Fatalf("List of 2: %s next %q %v", qualifiers(first), next, err)
	}
	rest, next2, err := s.ListFunctionEventInvokeConfigs("f", next, 2)
	if err != nil || qualifiers(rest) != "live" || next2 != "" {
		t.Fatalf("List after %q: %s next %q %v", next, qualifiers(rest), next2, err)
	}

	// Durable: a new Service on the same store has them all.
	st.Close()
	if st, err = store.OpenEmbedded(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, st, Options{}); err != nil {
		t.Fatal(err)
	}
	if all2, _, err := s.ListFunctionEventInvokeConfigs("f", "", 0); err != nil || qualifiers(all2) != "$LATEST,1,live" {
		t.Fatalf("List after a restart: %s %v", qualifiers(all2), err)
	}
	if got, err := s.GetFunctionEventInvokeConfig("f", ""); err != nil || *got.MaximumEventAgeInSeconds != 120 || !got.LastModified.Equal(all[0].LastModified) {
		t.Fatalf("Get after a restart: %+v %v; want %+v", got, err, all[0])
	}
	if got := s.AsyncSettings("f", "live"); got.OnFailure != "arn:aws:s3:::records" {
		t.Fatalf("AsyncSettings after a restart: %+v", got)
	}

	// Deleting the alias deletes its config: a new alias of the name has none.
	if err := s.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(ctx, "f", AliasInput{Name: "live", Version: &v1}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetFunctionEventInvokeConfig("f", "live")
	wantErr(t, "Get of a re-created alias", err, "ResourceNotFoundException", "The function "+arn+"f:live doesn't have an EventInvokeConfig")
	if got := s.AsyncSettings("f", "live"); got != defaults {
		t.Fatalf("AsyncSettings of a re-created alias: %+v", got)
	}
	if err := s.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	// Deleting the version deletes its config.
	if _, err := s.DeleteFunction(ctx, "f", "1"); err != nil {
		t.Fatal(err)
	}
	if got := s.AsyncSettings("f", "1"); got != defaults {
		t.Fatalf("AsyncSettings of a deleted version: %+v", got)
	}
	if cs, _, _ := s.ListFunctionEventInvokeConfigs("f", "", 0); qualifiers(cs) != "$LATEST" {
		t.Fatalf("List after the version went: %s", qualifiers(cs))
	}
	// DeleteFunctionEventInvokeConfig, then again.
	if err := s.DeleteFunctionEventInvokeConfig(ctx, "f", Latest); err != nil {
		t.Fatal(err)
	}
	err = s.DeleteFunctionEventInvokeConfig(ctx, "f", "")
	wantErr(t, "second Delete", err, "ResourceNotFoundException", "The function "+arn+"f:$LATEST doesn't have an EventInvokeConfig")
	if got := s.AsyncSettings("f", ""); got != defaults {
		t.Fatalf("AsyncSettings after Delete: %+v", got)
	}
	// Deleting the function deletes its configs, in the store too.
	if _, err := s.PutFunctionEventInvokeConfig(ctx, "f", "", EventInvokeInput{MaximumRetryAttempts: intp(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteFunction(ctx, "f", ""); err != nil {
		t.Fatal(err)
	}
	entries, err := st.Config.Snapshot(ctx, ">")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Key, "eic.") {
			t.Errorf("record %s left after its function was deleted", e.Key)
		}
	}
	if got := s.AsyncSettings("f", ""); got != defaults {
		t.Fatalf("AsyncSettings of a deleted function: %+v", got)
	}
}
