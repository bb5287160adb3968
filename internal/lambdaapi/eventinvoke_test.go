package lambdaapi

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/store"
)

// TestEventInvokeConfigRoutes drives the five event invoke config
// operations over HTTP against a real control plane on an embedded
// engine: the wire shape AWS answers (FunctionArn qualified, $LATEST
// included; LastModified a JSON number of epoch seconds with milliseconds;
// DestinationConfig with both members), and each error with its code, the
// key of its message, its Type and its text.
func TestEventInvokeConfigRoutes(t *testing.T) {
	ctx, ctl := controlWithFunctions(t, "f", "dest")
	if _, err := ctl.PublishVersion(ctx, "f", control.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	one := "1"
	if _, err := ctl.CreateAlias(ctx, "f", control.AliasInput{Name: "live", Version: &one}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(ctl, router.New(), nil))
	defer srv.Close()
	call := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	const (
		base = "/2019-09-25/functions/"
		arn  = "arn:aws:lambda:us-east-1:000000000000:function:"
	)

	// Successes and their shapes.
	for _, tc := range []struct {
		name, method, path, body string
		want                     string // the answer without LastModified
	}{
		{"Put of $LATEST", "PUT", base + "f/event-invoke-config", `{"MaximumRetryAttempts":1}`,
			`{"FunctionArn":"` + arn + `f:$LATEST","MaximumRetryAttempts":1,"DestinationConfig":{"OnSuccess":{},"OnFailure":{}}}`},
		{"Put replaces the whole config", "PUT", base + "f/event-invoke-config?Qualifier=%24LATEST", `{"MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}}}`,
			`{"FunctionArn":"` + arn + `f:$LATEST","MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}}}`},
		{"Update merges", "POST", base + "f/event-invoke-config", `{"MaximumRetryAttempts":0}`,
			`{"FunctionArn":"` + arn + `f:$LATEST","MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:q"}}}`},
		{"Update with a DestinationConfig replaces it", "POST", base + "f/event-invoke-config", `{"DestinationConfig":{"OnSuccess":{"Destination":"` + arn + `dest"}}}`,
			`{"FunctionArn":"` + arn + `f:$LATEST","MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnSuccess":{"Destination":"` + arn + `dest"},"OnFailure":{}}}`},
		{"Get", "GET", base + "f/event-invoke-config", "",
			`{"FunctionArn":"` + arn + `f:$LATEST","MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnSuccess":{"Destination":"` + arn + `dest"},"OnFailure":{}}}`},
		{"Put of a version", "PUT", base + "f/event-invoke-config?Qualifier=1", `{"MaximumRetryAttempts":2,"MaximumEventAgeInSeconds":21600}`,
			`{"FunctionArn":"` + arn + `f:1","MaximumRetryAttempts":2,"MaximumEventAgeInSeconds":21600,"DestinationConfig":{"OnSuccess":{},"OnFailure":{}}}`},
		{"Put of an alias named in the function name", "PUT", base + "f:live/event-invoke-config", `{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:s3:::records"}}}`,
			`{"FunctionArn":"` + arn + `f:live","DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:s3:::records"}}}`},
		{"Put of an alias by its ARN, the qualifier agreeing", "PUT", base + arn + "f:live/event-invoke-config?Qualifier=live", `{"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:s3:::records"}}}`,
			`{"FunctionArn":"` + arn + `f:live","DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:s3:::records"}}}`},
		{"an empty DestinationConfig is a setting", "PUT", base + "dest/event-invoke-config", `{"DestinationConfig":{}}`,
			`{"FunctionArn":"` + arn + `dest:$LATEST","DestinationConfig":{"OnSuccess":{},"OnFailure":{}}}`},
		{"List", "GET", base + "f/event-invoke-config/list", "",
			`{"FunctionEventInvokeConfigs":[` +
				`{"FunctionArn":"` + arn + `f:$LATEST","MaximumRetryAttempts":0,"MaximumEventAgeInSeconds":60,"DestinationConfig":{"OnSuccess":{"Destination":"` + arn + `dest"},"OnFailure":{}}},` +
				`{"FunctionArn":"` + arn + `f:1","MaximumRetryAttempts":2,"MaximumEventAgeInSeconds":21600,"DestinationConfig":{"OnSuccess":{},"OnFailure":{}}},` +
				`{"FunctionArn":"` + arn + `f:live","DestinationConfig":{"OnSuccess":{},"OnFailure":{"Destination":"arn:aws:s3:::records"}}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			status, h, body := call(tc.method, tc.path, tc.body)
			if status != http.StatusOK || h.Get("X-Amzn-ErrorType") != "" {
				t.Fatalf("%d %s %s", status, h.Get("X-Amzn-ErrorType"), body)
			}
			// LastModified: a JSON number, epoch seconds and milliseconds.
			rest, stamps := withoutLastModified(t, body)
			for _, n := range stamps {
				if !regexp.MustCompile(`^\d{10}\.\d{3}$`).MatchString(n.String()) {
					t.Fatalf("LastModified %s: want epoch seconds with milliseconds", n)
				}
				f, _ := n.Float64()
				if at := time.UnixMilli(int64(f * 1000)); at.Before(start.Add(-time.Minute)) || at.After(time.Now().Add(time.Second)) {
					t.Errorf("LastModified %s is %v, not about now", n, at)
				}
			}
			if rest != norm(t, tc.want) {
				t.Fatalf("answer\n got %s\nwant %s (LastModified aside)", body, tc.want)
			}
			if want := strings.Count(tc.want, `"FunctionArn"`); len(stamps) != want {
				t.Fatalf("answer %s has %d LastModified numbers, want %d", body, len(stamps), want)
			}
		})
	}

	// Paging: MaxItems and the NextMarker back as Marker.
	var page struct {
		FunctionEventInvokeConfigs []struct{ FunctionArn string }
		NextMarker                 string
	}
	if status, _, body := call("GET", base+"f/event-invoke-config/list?MaxItems=2", ""); status != 200 || json.Unmarshal([]byte(body), &page) != nil ||
		len(page.FunctionEventInvokeConfigs) != 2 || page.NextMarker == "" {
		t.Fatalf("List MaxItems 2: %d %s", status, body)
	}
	marker := page.NextMarker
	page.NextMarker = ""
	if status, _, body := call("GET", base+"f/event-invoke-config/list?MaxItems=2&Marker="+marker, ""); status != 200 || json.Unmarshal([]byte(body), &page) != nil ||
		len(page.FunctionEventInvokeConfigs) != 1 || page.FunctionEventInvokeConfigs[0].FunctionArn != arn+"f:live" || page.NextMarker != "" {
		t.Fatalf("List after %s: %d %s", marker, status, body)
	}

	if status, _, body := call("DELETE", base+"f/event-invoke-config?Qualifier=1", ""); status != http.StatusNoContent || body != "" {
		t.Fatalf("Delete: %d %q, want 204 and no body", status, body)
	}

	const pattern = `$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, key                string // key: the body's message member
		typed                    bool
		msg                      string
	}{
		{"Put with no setting", "PUT", base + "ghost/event-invoke-config", `{}`, 400, "InvalidParameterValueException", "message", true,
			"You must specify at least one of error handling or destination setting."},
		{"Put of a missing function", "PUT", base + "ghost/event-invoke-config", `{"MaximumRetryAttempts":1}`, 404, "ResourceNotFoundException", "Message", true,
			"The function doesn't exist."},
		{"Put of a missing alias", "PUT", base + "f/event-invoke-config?Qualifier=nope", `{"MaximumRetryAttempts":1}`, 404, "ResourceNotFoundException", "Message", true,
			"The function doesn't exist."},
		{"Put with a qualifier the name contradicts", "PUT", base + "f:1/event-invoke-config?Qualifier=%24LATEST", `{"MaximumRetryAttempts":1}`, 400, "InvalidParameterValueException", "message", true,
			"The derived qualifier from the function name does not match the specified qualifier."},
		{"Put with 3 retries", "PUT", base + "f/event-invoke-config", `{"MaximumRetryAttempts":3}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"},
		{"Update with an event age of 59", "POST", base + "f/event-invoke-config", `{"MaximumEventAgeInSeconds":59}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"},
		{"a destination that is not an ARN", "PUT", base + "f/event-invoke-config", `{"DestinationConfig":{"OnFailure":{"Destination":"invalid"}}}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value 'invalid' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: " + pattern},
		{"a destination function that does not exist", "PUT", base + "f/event-invoke-config", `{"DestinationConfig":{"OnSuccess":{"Destination":"` + arn + `doesnotexist"}}}`,
			400, "InvalidParameterValueException", "message", true, "The destination ARN " + arn + "doesnotexist is invalid."},
		{"the function as its own destination", "POST", base + "f/event-invoke-config", `{"DestinationConfig":{"OnSuccess":{"Destination":"` + arn + `f"}}}`,
			400, "InvalidParameterValueException", "message", true, "You can't specify the function as a destination for itself."},
		{"a destination of another service", "PUT", base + "f/event-invoke-config", `{"DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:iam:us-east-1:000000000000:function:f"}}}`,
			400, "InvalidParameterValueException", "message", true,
			"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:iam:us-east-1:000000000000:function:f), onFailure=null) is invalid."},
		{"Update of a missing function", "POST", base + "ghost/event-invoke-config", `{"MaximumRetryAttempts":0}`, 404, "ResourceNotFoundException", "Message", true,
			"The function doesn't exist."},
		{"Update of a version without a config", "POST", base + "f/event-invoke-config?Qualifier=1", `{"MaximumRetryAttempts":0}`, 404, "ResourceNotFoundException", "Message", true,
			"The function " + arn + "f:1 doesn't have an EventInvokeConfig"},
		{"Get of a deleted config", "GET", base + "f/event-invoke-config?Qualifier=1", "", 404, "ResourceNotFoundException", "Message", true,
			"The function " + arn + "f:1 doesn't have an EventInvokeConfig"},
		{"Get of a missing function", "GET", base + "ghost/event-invoke-config", "", 404, "ResourceNotFoundException", "Message", true,
			"The function " + arn + "ghost:$LATEST doesn't have an EventInvokeConfig"},
		{"Get of a missing version", "GET", base + "f/event-invoke-config?Qualifier=1221", "", 404, "ResourceNotFoundException", "Message", true,
			"The function " + arn + "f:1221 doesn't have an EventInvokeConfig"},
		{"Delete again", "DELETE", base + "f/event-invoke-config?Qualifier=1", "", 404, "ResourceNotFoundException", "Message", true,
			"The function " + arn + "f:1 doesn't have an EventInvokeConfig"},
		{"Delete of a missing function", "DELETE", base + "ghost/event-invoke-config", "", 404, "ResourceNotFoundException", "Message", true,
			"The function " + arn + "ghost:$LATEST doesn't have an EventInvokeConfig"},
		{"List of a missing function", "GET", base + "ghost/event-invoke-config/list", "", 404, "ResourceNotFoundException", "Message", true,
			"The function doesn't exist."},
		{"List MaxItems 51", "GET", base + "f/event-invoke-config/list?MaxItems=51", "", 400, "ValidationException", "message", false,
			"1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"a function of another region", "GET", base + "arn:aws:lambda:us-west-2:000000000000:function:f/event-invoke-config", "", 404, "ResourceNotFoundException", "Message", true,
			"Functions from 'us-west-2' are not reachable in this region ('us-east-1')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := call(tc.method, tc.path, tc.body)
			var e map[string]string
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("%d %s: %v", status, body, err)
			}
			other := map[string]string{"Message": "message", "message": "Message"}[tc.key]
			_, wrong := e[other]
			if status != tc.status || h.Get("X-Amzn-ErrorType") != tc.code || e[tc.key] != tc.msg || wrong || (e["Type"] == "User") != tc.typed {
				t.Fatalf("%d %s %s\nwant %d %s %s: %q (Type User: %v)", status, h.Get("X-Amzn-ErrorType"), body, tc.status, tc.code, tc.key, tc.msg, tc.typed)
			}
		})
	}
	// A refused write changed nothing.
	if status, _, body := call("GET", base+"f/event-invoke-config", ""); status != 200 || !strings.Contains(body, `"MaximumRetryAttempts":0`) || !strings.Contains(body, arn+`dest"`) {
		t.Fatalf("Get after the refusals: %d %s", status, body)
	}
}

// withoutLastModified re-encodes a JSON answer without its LastModified
// members, and returns those, which must be JSON numbers.
func withoutLastModified(t *testing.T, s string) (string, []json.Number) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	var stamps []json.Number
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if lm, ok := x["LastModified"]; ok {
				n, isNumber := lm.(json.Number)
				if !isNumber {
					t.Fatalf("LastModified %v in %s is not a JSON number", lm, s)
				}
				stamps = append(stamps, n)
				delete(x, "LastModified")
			}
			for _, m := range x {
				walk(m)
			}
		case []any:
			for _, m := range x {
				walk(m)
			}
		}
	}
	walk(v)
	b, _ := json.Marshal(v)
	return string(b), stamps
}

// norm re-encodes a JSON document so that member order does not count.
func norm(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// bootstrapZip is a deployment package with a bootstrap script.
func bootstrapZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.Create("bootstrap")
	f.Write([]byte("#!/bin/sh\n")) //nolint:errcheck
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// controlWithFunctions is a control plane on an embedded engine, settling
// in the background until the test ends, with the named functions created
// and Active.
func controlWithFunctions(t *testing.T, names ...string) (context.Context, *control.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.OpenEmbedded(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctl, err := control.Open(ctx, st, control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go ctl.Settle(ctx)
	for _, name := range names {
		if _, err := ctl.CreateFunction(ctx, control.CreateFunctionInput{Zip: bootstrapZip(t), Config: control.Config{
			FunctionName: name, Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Handler: "bootstrap"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			d, err := ctl.GetFunction(name, "")
			if err == nil && d.Config.State == control.StateActive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not settle: %+v %v", name, d, err)
			}
		}
	}
	return ctx, ctl
}
