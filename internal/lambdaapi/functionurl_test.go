package lambdaapi

import (
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
)

// TestFunctionURLConfigRoutes drives the five function URL config
// operations over HTTP against a real control plane on an embedded
// engine: the wire shapes AWS answers (201 for Create, without
// LastModifiedTime; InvokeMode on Create and Update only once given, on
// Get and List always; FunctionArn qualified with the alias; the times in
// ISO-8601; FunctionUrl from the URL settings), and each error with its
// code, the key of its message, its Type and its text.
func TestFunctionURLConfigRoutes(t *testing.T) {
	ctx, ctl := controlWithFunctions(t, "f")
	if _, err := ctl.PublishVersion(ctx, "f", control.PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	one := "1"
	if _, err := ctl.CreateAlias(ctx, "f", control.AliasInput{Name: "live", Version: &one}); err != nil {
		t.Fatal(err)
	}
	api := New(ctl, router.New(), nil)
	srv := httptest.NewServer(api)
	defer srv.Close()
	api.UseFunctionURLs(URLSettings{Base: srv.URL})
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
		base = "/2021-10-31/functions/"
		arn  = "arn:aws:lambda:us-east-1:000000000000:function:"
	)
	urlRE := regexp.MustCompile(`^` + regexp.QuoteMeta(srv.URL) + `/lambda-url/([a-z0-9]{32})/$`)
	timeRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	ids := map[string]string{} // FunctionArn -> URL id

	// Successes and their shapes.
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string // the answer without FunctionUrl and the times
		times                    int    // CreationTime and LastModifiedTime members
	}{
		{"Create", "POST", base + "f/url", `{"AuthType":"NONE"}`, 201,
			`{"FunctionArn":"` + arn + `f","AuthType":"NONE"}`, 1},
		{"Create of an alias, with Cors and InvokeMode", "POST", base + "f/url?Qualifier=live",
			`{"AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["https://example.com"],"AllowCredentials":false,"MaxAge":60}}`, 201,
			`{"FunctionArn":"` + arn + `f:live","AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["https://example.com"],"AllowCredentials":false,"MaxAge":60}}`, 1},
		{"Get", "GET", base + "f/url", "", 200,
			`{"FunctionArn":"` + arn + `f","AuthType":"NONE","InvokeMode":"BUFFERED"}`, 2},
		{"Get of the alias named in the function name", "GET", base + "f:live/url", "", 200,
			`{"FunctionArn":"` + arn + `f:live","AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["https://example.com"],"AllowCredentials":false,"MaxAge":60}}`, 2},
		{"Update of AuthType answers no InvokeMode never given", "PUT", base + "f/url", `{"AuthType":"AWS_IAM"}`, 200,
			`{"FunctionArn":"` + arn + `f","AuthType":"AWS_IAM"}`, 2},
		{"Update of Cors keeps AuthType", "PUT", base + arn + "f/url", `{"Cors":{"AllowMethods":["GET","POST"]}}`, 200,
			`{"FunctionArn":"` + arn + `f","AuthType":"AWS_IAM","Cors":{"AllowMethods":["GET","POST"]}}`, 2},
		{"Update of nothing answers the InvokeMode given before", "PUT", base + "f/url?Qualifier=live", `{}`, 200,
			`{"FunctionArn":"` + arn + `f:live","AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["https://example.com"],"AllowCredentials":false,"MaxAge":60}}`, 2},
		{"List", "GET", base + "f/urls", "", 200,
			`{"FunctionUrlConfigs":[` +
				`{"FunctionArn":"` + arn + `f","AuthType":"AWS_IAM","InvokeMode":"BUFFERED","Cors":{"AllowMethods":["GET","POST"]}},` +
				`{"FunctionArn":"` + arn + `f:live","AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM","Cors":{"AllowOrigins":["https://example.com"],"AllowCredentials":false,"MaxAge":60}}]}`, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			status, h, body := call(tc.method, tc.path, tc.body)
			if status != tc.status || h.Get("X-Amzn-ErrorType") != "" {
				t.Fatalf("%d %s %s", status, h.Get("X-Amzn-ErrorType"), body)
			}
			var v any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			times := 0
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case map[string]any:
					if u, ok := x["FunctionUrl"]; ok {
						m := urlRE.FindStringSubmatch(u.(string))
						if m == nil {
							t.Fatalf("FunctionUrl %v", u)
						}
						a := x["FunctionArn"].(string)
						if ids[a] == "" {
							ids[a] = m[1]
						} else if ids[a] != m[1] {
							t.Fatalf("%s: URL id %s, was %s", a, m[1], ids[a])
						}
						delete(x, "FunctionUrl")
					}
					for _, k := range []string{"CreationTime", "LastModifiedTime"} {
						if s, ok := x[k]; ok {
							times++
							at, err := time.Parse(time.RFC3339Nano, s.(string))
							if !timeRE.MatchString(s.(string)) || err != nil || at.Before(start.Add(-time.Minute)) || at.After(time.Now().Add(time.Second)) {
								t.Fatalf("%s %v: want ISO-8601 with microseconds, about now", k, s)
							}
							delete(x, k)
						}
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
			if string(b) != norm(t, tc.want) {
				t.Fatalf("answer\n got %s\nwant %s (FunctionUrl and times aside)", body, tc.want)
			}
			if times != tc.times {
				t.Fatalf("answer %s has %d times, want %d", body, times, tc.times)
			}
		})
	}
	if len(ids) != 2 || ids[arn+"f"] == ids[arn+"f:live"] {
		t.Fatalf("URL ids %v: want two, distinct", ids)
	}
	if c, ok := ctl.FunctionURLByID(ids[arn+"f:live"]); !ok || c.FunctionARN != arn+"f:live" || c.InvokeMode != "RESPONSE_STREAM" {
		t.Fatalf("FunctionURLByID: %+v %v", c, ok)
	}

	// Paging: MaxItems and the NextMarker back as Marker.
	var page struct {
		FunctionUrlConfigs []struct{ FunctionArn string }
		NextMarker         string
	}
	if status, _, body := call("GET", base+"f/urls?MaxItems=1", ""); status != 200 || json.Unmarshal([]byte(body), &page) != nil ||
		len(page.FunctionUrlConfigs) != 1 || page.FunctionUrlConfigs[0].FunctionArn != arn+"f" || page.NextMarker == "" {
		t.Fatalf("List MaxItems 1: %d %s", status, body)
	}
	marker := page.NextMarker
	page.NextMarker = ""
	if status, _, body := call("GET", base+"f/urls?MaxItems=1&Marker="+marker, ""); status != 200 || json.Unmarshal([]byte(body), &page) != nil ||
		len(page.FunctionUrlConfigs) != 1 || page.FunctionUrlConfigs[0].FunctionArn != arn+"f:live" || page.NextMarker != "" {
		t.Fatalf("List after %s: %d %s", marker, status, body)
	}

	const (
		noFunction = "Function does not exist"
		noResource = "The resource you requested does not exist."
		qpattern   = `' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`
	)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, key                string // key: the body's message member
		typed                    bool
		msg                      string
	}{
		{"a second Create", "POST", base + "f/url", `{"AuthType":"NONE"}`, 409, "ResourceConflictException", "message", true,
			"Failed to create function url config for [functionArn = " + arn + "f]. Error message:  FunctionUrlConfig exists for this Lambda function"},
		{"a second Create of the alias", "POST", base + "f/url?Qualifier=live", `{"AuthType":"NONE"}`, 409, "ResourceConflictException", "message", true,
			"Failed to create function url config for [functionArn = " + arn + "f:live]. Error message:  FunctionUrlConfig exists for this Lambda function"},
		{"Create without AuthType", "POST", base + "f/url", `{}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null"},
		{"Create with an AuthType the model does not have", "POST", base + "f/url", `{"AuthType":"OPEN"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value 'OPEN' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"},
		{"Create with an InvokeMode the model does not have", "POST", base + "f/url", `{"AuthType":"NONE","InvokeMode":"UNKNOWN"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"},
		{"Create of a missing function", "POST", base + "ghost/url", `{"AuthType":"NONE"}`, 404, "ResourceNotFoundException", "Message", true, noFunction},
		{"Create of a missing function by ARN", "POST", base + arn + "ghost/url", `{"AuthType":"NONE"}`, 404, "ResourceNotFoundException", "Message", true, noFunction},
		{"Create of a missing alias", "POST", base + "f/url?Qualifier=v1", `{"AuthType":"NONE"}`, 404, "ResourceNotFoundException", "Message", true, noFunction},
		{"Create of a version", "POST", base + "f/url?Qualifier=1", `{"AuthType":"NONE"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '1" + qpattern},
		{"Create of a missing function and a version", "POST", base + "ghost/url?Qualifier=1", `{"AuthType":"NONE"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '1" + qpattern},
		{"Create of $LATEST", "POST", base + "f/url?Qualifier=%24LATEST", `{"AuthType":"NONE"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '$LATEST" + qpattern},
		{"Create of a version named in the function name", "POST", base + "f:1/url", `{"AuthType":"NONE"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '1" + qpattern},
		{"a qualifier the name contradicts", "GET", base + "f:live-doesnotmatch/url?Qualifier=live", "", 400, "InvalidParameterValueException", "message", true,
			"The derived qualifier from the function name does not match the specified qualifier."},
		{"Update of a missing function", "PUT", base + "ghost/url", `{"AuthType":"AWS_IAM"}`, 404, "ResourceNotFoundException", "Message", true, noFunction},
		{"Update of a missing alias", "PUT", base + "f/url?Qualifier=v1", `{"AuthType":"AWS_IAM"}`, 404, "ResourceNotFoundException", "Message", true, noFunction},
		{"Update of $LATEST", "PUT", base + "f/url?Qualifier=%24LATEST", `{"AuthType":"AWS_IAM"}`, 400, "ValidationException", "message", false,
			"1 validation error detected: Value '$LATEST" + qpattern},
		{"Get of a missing function", "GET", base + "ghost/url", "", 404, "ResourceNotFoundException", "Message", true, noResource},
		{"Get of a missing alias", "GET", base + "f/url?Qualifier=v1", "", 404, "ResourceNotFoundException", "Message", true, noResource},
		{"Get of a version", "GET", base + "f/url?Qualifier=2", "", 400, "ValidationException", "message", false,
			"1 validation error detected: Value '2" + qpattern},
		{"Delete of a missing function", "DELETE", base + "ghost/url", "", 404, "ResourceNotFoundException", "Message", true, noResource},
		{"Delete of a missing alias", "DELETE", base + "f/url?Qualifier=v1", "", 404, "ResourceNotFoundException", "Message", true, noResource},
		{"List of a missing function", "GET", base + "ghost/urls", "", 404, "ResourceNotFoundException", "Message", true, noFunction},
		{"List MaxItems 51", "GET", base + "f/urls?MaxItems=51", "", 400, "ValidationException", "message", false,
			"1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"},
		{"a function of another region", "GET", base + "arn:aws:lambda:us-west-2:000000000000:function:f/url", "", 404, "ResourceNotFoundException", "Message", true,
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

	// Delete: 204 and no body; the alias's config stays; then not found.
	if status, _, body := call("DELETE", base+"f/url", ""); status != http.StatusNoContent || body != "" {
		t.Fatalf("Delete: %d %q, want 204 and no body", status, body)
	}
	if status, _, body := call("GET", base+"f/url?Qualifier=live", ""); status != 200 {
		t.Fatalf("Get of the alias's after the function's Delete: %d %s", status, body)
	}
	if status, h, body := call("DELETE", base+"f/url", ""); status != 404 || h.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || !strings.Contains(body, noResource) {
		t.Fatalf("Delete again: %d %s", status, body)
	}
	if _, ok := ctl.FunctionURLByID(ids[arn+"f"]); ok {
		t.Fatal("a deleted URL is still found by its id")
	}
}
