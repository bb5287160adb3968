package functionurl

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEvent(t *testing.T) {
	now := time.Date(2026, 3, 12, 19, 3, 58, 390e6, time.UTC)
	base := func() EventInput {
		return EventInput{
			ID: "abc", Domain: "abc.lambda-url.us-east-1.localhost:9400", Path: "/pa2%Fth/1", Method: "POST", Proto: "HTTP/1.1",
			SourceIP: "10.0.0.7", Port: "9400", Scheme: "http", RequestID: "req-1", TraceID: "Root=1-x", Account: "anonymous", Now: now,
			Header: http.Header{"User-Agent": {"test/echo"}, "Extra-Headers": {"With WeiRd CapS"}, "Connection": {"keep-alive"}},
		}
	}
	tests := []struct {
		name  string
		edit  func(*EventInput)
		check func(t *testing.T, ev map[string]any)
	}{
		{"fields and context", func(*EventInput) {}, func(t *testing.T, ev map[string]any) {
			want := map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": "/pa2%Fth/1", "rawQueryString": "", "isBase64Encoded": false}
			for k, v := range want {
				if !reflect.DeepEqual(ev[k], v) {
					t.Errorf("%s = %v, want %v", k, ev[k], v)
				}
			}
			for _, absent := range []string{"body", "cookies", "queryStringParameters"} {
				if _, ok := ev[absent]; ok {
					t.Errorf("%s is present: %v", absent, ev[absent])
				}
			}
			rc := ev["requestContext"].(map[string]any)
			if rc["time"] != "12/Mar/2026:19:03:58 +0000" || rc["timeEpoch"] != float64(now.UnixMilli()) || rc["accountId"] != "anonymous" ||
				rc["apiId"] != "abc" || rc["domainPrefix"] != "abc" || rc["stage"] != "$default" || rc["authorizer"] != nil {
				t.Errorf("requestContext %v", rc)
			}
			h := rc["http"].(map[string]any)
			if h["method"] != "POST" || h["path"] != "/pa2%Fth/1" || h["sourceIp"] != "10.0.0.7" || h["userAgent"] != "test/echo" {
				t.Errorf("http %v", h)
			}
			hd := ev["headers"].(map[string]any)
			if hd["extra-headers"] != "With WeiRd CapS" || hd["host"] != "abc.lambda-url.us-east-1.localhost:9400" || hd["x-forwarded-for"] != "10.0.0.7" ||
				hd["x-forwarded-proto"] != "http" || hd["x-forwarded-port"] != "9400" || hd["x-amzn-trace-id"] != "Root=1-x" {
				t.Errorf("headers %v", hd)
			}
			if _, ok := hd["connection"]; ok {
				t.Error("a hop-by-hop header reached the event")
			}
		}},
		{"query joined by name, decoded", func(in *EventInput) { in.RawQuery = "q=query&multiQuery=foo&multiQuery=%2Fbar" }, func(t *testing.T, ev map[string]any) {
			if ev["rawQueryString"] != "q=query&multiQuery=foo&multiQuery=%2Fbar" {
				t.Errorf("rawQueryString %v", ev["rawQueryString"])
			}
			if want := map[string]any{"q": "query", "multiQuery": "foo,/bar"}; !reflect.DeepEqual(ev["queryStringParameters"], want) {
				t.Errorf("queryStringParameters %v", ev["queryStringParameters"])
			}
		}},
		{"cookies out of the headers", func(in *EventInput) { in.Header["Cookie"] = []string{"a=1; b=2", "c=3"} }, func(t *testing.T, ev map[string]any) {
			if !reflect.DeepEqual(ev["cookies"], []any{"a=1", "b=2", "c=3"}) {
				t.Errorf("cookies %v", ev["cookies"])
			}
			if _, ok := ev["headers"].(map[string]any)["cookie"]; ok {
				t.Error("cookie header kept")
			}
		}},
		{"repeated header joined", func(in *EventInput) { in.Header["X-Many"] = []string{"1", "2"} }, func(t *testing.T, ev map[string]any) {
			if v := ev["headers"].(map[string]any)["x-many"]; v != "1,2" {
				t.Errorf("x-many %v", v)
			}
		}},
		{"json body as text", func(in *EventInput) {
			in.Header.Set("Content-Type", "application/json")
			in.Body = []byte(`{"foo":"bar"}`)
		}, func(t *testing.T, ev map[string]any) {
			if ev["body"] != `{"foo":"bar"}` || ev["isBase64Encoded"] != false {
				t.Errorf("body %v base64 %v", ev["body"], ev["isBase64Encoded"])
			}
		}},
		{"multipart body as base64", func(in *EventInput) {
			in.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			in.Body = []byte("--x\r\n\r\nbar\r\n--x--")
		}, func(t *testing.T, ev map[string]any) {
			if ev["body"] != "LS14DQoNCmJhcg0KLS14LS0=" || ev["isBase64Encoded"] != true {
				t.Errorf("body %v base64 %v", ev["body"], ev["isBase64Encoded"])
			}
		}},
		{"text that is not UTF-8 as base64", func(in *EventInput) {
			in.Header.Set("Content-Type", "text/plain")
			in.Body = []byte{0xff, 0xfe}
		}, func(t *testing.T, ev map[string]any) {
			if ev["body"] != "//4=" || ev["isBase64Encoded"] != true {
				t.Errorf("body %v base64 %v", ev["body"], ev["isBase64Encoded"])
			}
		}},
		{"no content type as base64", func(in *EventInput) { in.Body = []byte("text") }, func(t *testing.T, ev map[string]any) {
			if ev["isBase64Encoded"] != true {
				t.Errorf("base64 %v", ev["isBase64Encoded"])
			}
		}},
		{"IAM caller", func(in *EventInput) {
			in.Account = "123456789012"
			in.IAM = &IAM{AccessKey: "AKID", AccountID: "123456789012", CallerID: "123456789012", UserARN: "arn:aws:iam::123456789012:root", UserID: "123456789012"}
		}, func(t *testing.T, ev map[string]any) {
			iam := ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)["iam"].(map[string]any)
			if iam["accessKey"] != "AKID" || iam["userArn"] != "arn:aws:iam::123456789012:root" {
				t.Errorf("iam %v", iam)
			}
			if v, ok := iam["cognitoIdentity"]; !ok || v != nil {
				t.Errorf("cognitoIdentity %v %v: want null", v, ok)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.edit(&in)
			b, err := Event(in)
			if err != nil {
				t.Fatal(err)
			}
			var ev map[string]any
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}

func TestResponse(t *testing.T) {
	tests := []struct {
		payload string
		status  int
		body    string
		header  http.Header // checked members only
		err     bool
	}{
		// AWS's recorded answers (TestLambdaURL::test_lambda_url_invocation).
		{`{"hello":"world"}`, 200, `{"hello":"world"}`, http.Header{"Content-Type": {"application/json"}}, false},
		{`{"statusCode": 200, "body": "body123"}`, 200, "body123", http.Header{"Content-Type": {"application/json"}}, false},
		{`{"statusCode": 200, "body": "{\"hello\": \"world\"}"}`, 200, `{"hello": "world"}`, nil, false},
		{`["hello",3,true]`, 200, `["hello",3,true]`, nil, false},
		{`"hello"`, 200, "hello", http.Header{"Content-Type": {"application/json"}}, false},
		{`3`, 200, "3", nil, false},
		{`3.1`, 200, "3.1", nil, false},
		{`true`, 200, "true", nil, false},
		// test_lambda_url_headers_and_status
		{`{"statusCode":201,"headers":{"Content-Type":"application/json","My-Custom-Header":"Custom Value"},"body":"{\"message\":\"hello-world\"}"}`,
			201, `{"message":"hello-world"}`, http.Header{"My-Custom-Header": {"Custom Value"}}, false},
		{`{"statusCode":"418","body":"i'm a teapot"}`, 418, "i'm a teapot", nil, false},
		// The documented rest.
		{`{"statusCode":200,"body":"aGk=","isBase64Encoded":true,"headers":{"content-type":"image/png"}}`, 200, "hi", http.Header{"Content-Type": {"image/png"}}, false},
		{`{"statusCode":302,"headers":{"Location":"/x"},"cookies":["a=1; Path=/","b=2"]}`, 302, "", http.Header{"Set-Cookie": {"a=1; Path=/", "b=2"}, "Location": {"/x"}}, false},
		{`{"body":"no status"}`, 200, `{"body":"no status"}`, nil, false},
		{`not json`, 200, "not json", nil, false},
		{``, 200, "", nil, false},
		{"{\"statusCode\":202,\"headers\":{\"X-S\":\"1\"}}\x00\x00\x00\x00\x00\x00\x00\x00streamed body", 202, "streamed body", http.Header{"X-S": {"1"}}, false},
		{`{"statusCode":"teapot"}`, 0, "", nil, true},
		{`{"statusCode":99}`, 0, "", nil, true},
		{`{"statusCode":200,"body":"%%%","isBase64Encoded":true}`, 0, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			r, err := Response([]byte(tt.payload))
			if tt.err {
				if err == nil {
					t.Fatalf("no error; got %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || string(r.Body) != tt.body {
				t.Errorf("got %d %q, want %d %q", r.Status, r.Body, tt.status, tt.body)
			}
			for k, v := range tt.header {
				if got := r.Header.Values(k); !reflect.DeepEqual(got, v) {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
		})
	}
}

func TestCors(t *testing.T) {
	site := &Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"content-type", "x-token"},
		ExposeHeaders: []string{"x-request"}, MaxAge: 300, AllowCredentials: true}
	open := &Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
	tests := []struct {
		name      string
		cors      *Cors
		preflight bool
		req       http.Header
		want      http.Header // the CORS headers, exactly
	}{
		{"preflight allowed", site, true, http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"Content-Type, X-Token"}},
			http.Header{"Access-Control-Allow-Origin": {"https://app.example"}, "Vary": {"Origin"}, "Access-Control-Allow-Credentials": {"true"},
				"Access-Control-Allow-Methods": {"GET,POST"}, "Access-Control-Allow-Headers": {"content-type,x-token"}, "Access-Control-Max-Age": {"300"}}},
		{"preflight from another origin", site, true, http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}}, http.Header{}},
		{"preflight for another method", site, true, http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"DELETE"}}, http.Header{}},
		{"preflight with a header not allowed", site, true, http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"x-other"}}, http.Header{}},
		{"preflight, all open", open, true, http.Header{"Origin": {"https://any.example"}, "Access-Control-Request-Method": {"PATCH"}, "Access-Control-Request-Headers": {"x-a,x-b"}},
			http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Methods": {"PATCH"}, "Access-Control-Allow-Headers": {"x-a,x-b"}}},
		{"request allowed", site, false, http.Header{"Origin": {"https://APP.example"}},
			http.Header{"Access-Control-Allow-Origin": {"https://APP.example"}, "Vary": {"Origin"}, "Access-Control-Allow-Credentials": {"true"}, "Access-Control-Expose-Headers": {"x-request"}}},
		{"request from another origin", site, false, http.Header{"Origin": {"https://evil.example"}}, http.Header{}},
		{"request without origin", open, false, http.Header{}, http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			if tt.preflight {
				if !IsPreflight(http.MethodOptions, tt.req) {
					t.Fatal("not seen as a preflight")
				}
				got = tt.cors.Preflight(tt.req)
			} else {
				// The function's own CORS headers are replaced.
				got = http.Header{"Access-Control-Allow-Origin": {"https://mine.example"}}
				tt.cors.Apply(tt.req, got)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
	if IsPreflight(http.MethodOptions, http.Header{"Origin": {"x"}}) || IsPreflight(http.MethodGet, http.Header{"Origin": {"x"}, "Access-Control-Request-Method": {"GET"}}) {
		t.Error("a request that is not a preflight was taken for one")
	}
}

func TestSplitPrelude(t *testing.T) {
	nul := "\x00\x00\x00\x00\x00\x00\x00\x00"
	tests := []struct {
		name   string
		in     string
		done   bool
		err    bool
		status int
		header http.Header
		body   string
	}{
		{"not yet", `{"statusCode":201`, false, false, 0, nil, ""},
		{"head and body", `{"statusCode":201,"headers":{"X-A":"1"},"cookies":["c=1"]}` + nul + "first", true, false, 201,
			http.Header{"X-A": {"1"}, "Set-Cookie": {"c=1"}, "Content-Type": {"application/octet-stream"}}, "first"},
		{"no status is 200", `{"headers":{"content-type":"text/html"}}` + nul, true, false, 200, http.Header{"Content-Type": {"text/html"}}, ""},
		{"not JSON", `nope` + nul, false, true, 0, nil, ""},
		{"bad status", `{"statusCode":"x"}` + nul, false, true, 0, nil, ""},
		{"never ends", strings.Repeat("a", maxPrelude+1), false, true, 0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, body, done, err := SplitPrelude([]byte(tt.in))
			if (err != nil) != tt.err || done != tt.done {
				t.Fatalf("done %v err %v, want done %v err %v", done, err, tt.done, tt.err)
			}
			if !done {
				return
			}
			if head.Status != tt.status || string(body) != tt.body || !reflect.DeepEqual(head.Header, tt.header) {
				t.Errorf("got %d %v %q", head.Status, head.Header, body)
			}
		})
	}
}
