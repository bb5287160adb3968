package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/chromedp/chromedp"

	"github.com/paddockhq/paddock/internal/platform"
)

// urlReply is an answer from a function URL.
type urlReply struct {
	status int
	header http.Header
	body   []byte
}

// urlDo sends a request to a function URL at Paddock's address, with the
// URL's own host name in Host (the test has no wildcard DNS).
func (e *env) urlDo(method, functionURL, path string, header http.Header, body []byte, sign bool) urlReply {
	e.t.Helper()
	u, err := url.Parse(functionURL)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(method, e.p.Endpoint+strings.TrimSuffix(u.Path, "/")+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = u.Host
	for k, v := range header {
		req.Header[k] = v
	}
	if sign {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: e.p.AccessKeyID, SecretAccessKey: e.p.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return urlReply{resp.StatusCode, resp.Header, b}
}

const urlForbidden = `{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}`

// TestFunctionURL: a default-mode function behind a NONE function URL
// with CORS (host form, under --function-url-domain) and an AWS_IAM one on
// an alias (path form), driven by curl, by Go's client and by a
// browser-shaped preflight: AWS's refusals before the permission and for
// unknown URLs, the event's fields, the answer's mapping (status, headers,
// cookies, base64 bodies, bare JSON, function errors), CORS.
func TestFunctionURL(t *testing.T) {
	e := startIn(t, t.TempDir(), func(o *platform.Options) { o.FunctionURLDomain = "paddock.test" })
	_, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("web"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(roleARN), Code: &types.FunctionCode{ZipFile: testdataZip(t, "urlecho")}, Timeout: aws.Int32(10),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.settled("web")
	cfg, err := e.lambda.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"content-type"}, ExposeHeaders: []string{"x-custom"}, MaxAge: aws.Int32(60)},
	})
	if err != nil {
		t.Fatal(err)
	}
	fnURL := aws.ToString(cfg.FunctionUrl)
	u, _ := url.Parse(fnURL)
	id, _, _ := strings.Cut(u.Host, ".")
	if len(id) != 32 || u.Host != id+".lambda-url.us-east-1.paddock.test" || u.Path != "/" {
		t.Fatalf("FunctionUrl %s: want http://<32 characters>.lambda-url.us-east-1.paddock.test/", fnURL)
	}

	// No permission yet: AWS's 403.
	r := e.urlDo("GET", fnURL, "/echo", nil, nil, false)
	if r.status != 403 || string(r.body) != urlForbidden || r.header.Get("X-Amzn-ErrorType") != "AccessDeniedException" {
		t.Fatalf("before AddPermission: %d %s %v", r.status, r.body, r.header)
	}
	if _, err := e.lambda.AddPermission(ctx(t), &lambda.AddPermissionInput{
		FunctionName: aws.String("web"), StatementId: aws.String("url"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
	}); err != nil {
		t.Fatal(err)
	}

	// curl, as a user would (Host set: no wildcard DNS here).
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-H", "Host: "+u.Host, "-H", "Content-Type: application/json", "-H", "Cookie: a=1; b=2",
			"--data", `{"hello":"url"}`, e.p.Endpoint+"/echo/a%2Fb?x=1&x=2&y=%2F").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		var ev struct {
			Version, RawPath, RawQueryString, Body string
			IsBase64Encoded                        bool
			Cookies                                []string
			Headers, QueryStringParameters         map[string]string
			RequestContext                         struct {
				AccountID, APIID, DomainName, DomainPrefix, RequestID string
				HTTP                                                  struct{ Method, Path, SourceIP string }
			}
		}
		if err := json.Unmarshal(out, &ev); err != nil {
			t.Fatalf("curl got %s: %v", out, err)
		}
		if ev.RawPath != "/echo/a%2Fb" || ev.RawQueryString != "x=1&x=2&y=%2F" || ev.QueryStringParameters["x"] != "1,2" || ev.QueryStringParameters["y"] != "/" ||
			ev.Body != `{"hello":"url"}` || ev.IsBase64Encoded || strings.Join(ev.Cookies, " ") != "a=1 b=2" || ev.Version != "2.0" ||
			ev.Headers["content-type"] != "application/json" || ev.Headers["host"] != u.Host || ev.Headers["cookie"] != "" ||
			ev.RequestContext.AccountID != "anonymous" || ev.RequestContext.APIID != id || ev.RequestContext.DomainName != u.Host ||
			ev.RequestContext.HTTP.Method != "POST" || ev.RequestContext.HTTP.SourceIP != "127.0.0.1" || ev.RequestContext.RequestID == "" {
			t.Errorf("the event curl's request became:\n%s", out)
		}
	} else {
		t.Log("curl is not on PATH: its request is skipped")
	}

	origin := http.Header{"Origin": {"https://app.example"}}
	r = e.urlDo("GET", fnURL, "/status/418", origin, nil, false)
	if r.status != 418 || string(r.body) != "status 418" || r.header.Get("X-Custom") != "yes" || r.header.Get("Content-Type") != "text/plain" ||
		strings.Join(r.header.Values("Set-Cookie"), "|") != "a=1; Path=/|b=2" {
		t.Errorf("/status/418: %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.header.Get("Access-Control-Expose-Headers") != "x-custom" {
		t.Errorf("/status/418 from an allowed origin: CORS headers %v (the URL's settings replace the function's)", r.header)
	}
	if r.header.Get("X-Amzn-Requestid") == "" || !strings.HasPrefix(r.header.Get("X-Amzn-Trace-Id"), "Root=1-") {
		t.Errorf("/status/418: no request or trace id: %v", r.header)
	}
	r = e.urlDo("GET", fnURL, "/status/200", http.Header{"Origin": {"https://evil.example"}}, nil, false)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("from an origin not allowed: %d, Access-Control-Allow-Origin %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	r = e.urlDo("GET", fnURL, "/binary", nil, nil, false)
	if r.status != 200 || len(r.body) != 256 || r.body[255] != 255 || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("/binary: %d, %d bytes, %v", r.status, len(r.body), r.header)
	}
	r = e.urlDo("GET", fnURL, "/plain", nil, nil, false)
	if r.status != 200 || string(r.body) != "hello" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("/plain: %d %q %v", r.status, r.body, r.header)
	}
	r = e.urlDo("GET", fnURL, "/other", nil, nil, false)
	if r.status != 200 || string(r.body) != `{"path":"/other"}` {
		t.Errorf("/other: %d %q", r.status, r.body)
	}
	r = e.urlDo("POST", fnURL, "/fail", nil, []byte("x"), false)
	if r.status != 502 || string(r.body) != "Internal Server Error" {
		t.Errorf("/fail: %d %q, want 502 Internal Server Error", r.status, r.body)
	}
	// A binary request body reaches the function as base64.
	r = e.urlDo("POST", fnURL, "/echo", http.Header{"Content-Type": {"application/octet-stream"}}, []byte{0, 1, 2, 255}, false)
	var ev struct {
		Body            string
		IsBase64Encoded bool
	}
	if json.Unmarshal(r.body, &ev); ev.Body != "AAEC/w==" || !ev.IsBase64Encoded {
		t.Errorf("a binary body became %q (base64 %v)", ev.Body, ev.IsBase64Encoded)
	}

	// A browser's preflight: answered from the URL's settings; the function is not invoked.
	r = e.urlDo("OPTIONS", fnURL, "/echo", http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"content-type"}}, nil, false)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.header.Get("Access-Control-Allow-Methods") != "GET,POST" || r.header.Get("Access-Control-Allow-Headers") != "content-type" ||
		r.header.Get("Access-Control-Max-Age") != "60" {
		t.Errorf("preflight: %d %q %v", r.status, r.body, r.header)
	}

	// The path form answers too, and an unknown id is AWS's bare 403.
	pathURL := e.p.Endpoint + "/lambda-url/" + id + "/"
	if r := e.urlDo("GET", pathURL, "/other", nil, nil, false); r.status != 200 || string(r.body) != `{"path":"/other"}` {
		t.Errorf("path form: %d %q", r.status, r.body)
	}
	r = e.urlDo("GET", e.p.Endpoint+"/lambda-url/0123456789abcdefghijklmnopqrstuv/", "/", nil, nil, false)
	if r.status != 403 || string(r.body) != `{"Message":null}` || r.header.Get("X-Amzn-ErrorType") != "AccessDeniedException" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("unknown URL: %d %q %v", r.status, r.body, r.header)
	}

	// AWS_IAM on an alias: unsigned is refused, signed runs, with the caller in the event.
	v, err := e.lambda.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.CreateAlias(ctx(t), &lambda.CreateAliasInput{FunctionName: aws.String("web"), Name: aws.String("live"), FunctionVersion: v.Version}); err != nil {
		t.Fatal(err)
	}
	iamCfg, err := e.lambda.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("web"), Qualifier: aws.String("live"), AuthType: types.FunctionUrlAuthTypeAwsIam,
	})
	if err != nil {
		t.Fatal(err)
	}
	iamURL := aws.ToString(iamCfg.FunctionUrl)
	if iamURL == fnURL {
		t.Fatal("the alias's URL is the function's")
	}
	if r := e.urlDo("GET", iamURL, "/echo", nil, nil, false); r.status != 403 {
		t.Errorf("unsigned request to an AWS_IAM URL: %d %s", r.status, r.body)
	}
	r = e.urlDo("GET", iamURL, "/echo", nil, nil, true)
	var iamEv struct {
		RequestContext struct {
			AccountID  string
			Authorizer struct {
				IAM struct{ AccessKey, AccountID, UserARN string }
			}
		}
	}
	if err := json.Unmarshal(r.body, &iamEv); err != nil || r.status != 200 {
		t.Fatalf("signed request to an AWS_IAM URL: %d %s", r.status, r.body)
	}
	if iam := iamEv.RequestContext.Authorizer.IAM; iam.AccessKey != e.p.AccessKeyID || iam.AccountID != "000000000000" || iamEv.RequestContext.AccountID != "000000000000" {
		t.Errorf("the signed caller in the event: %s", r.body)
	}

	// A deleted URL answers as an unknown one.
	if _, err := e.lambda.DeleteFunctionUrlConfig(ctx(t), &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if r := e.urlDo("GET", fnURL, "/other", nil, nil, false); r.status != 403 || string(r.body) != `{"Message":null}` {
		t.Errorf("after DeleteFunctionUrlConfig: %d %q", r.status, r.body)
	}
}

// TestFunctionURLCORSInBrowser: headless Chromium on a page of one origin
// calls a function URL on another with a header that needs a preflight:
// the browser's own CORS rules let the allowed origin through (preflight,
// then the POST, whose answer the page reads) and stop any other one.
func TestFunctionURLCORSInBrowser(t *testing.T) {
	chrome := browserPath(t)
	e := start(t)
	if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("site-api"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(roleARN), Code: &types.FunctionCode{ZipFile: testdataZip(t, "urlecho")}, Timeout: aws.Int32(10),
	}); err != nil {
		t.Fatal(err)
	}
	e.settled("site-api")
	page := func() *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<!doctype html><title>site</title>") //nolint:errcheck
		}))
		t.Cleanup(s.Close)
		return s
	}
	allowed, other := page(), page()
	cfg, err := e.lambda.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("site-api"), AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{allowed.URL}, AllowMethods: []string{"POST"}, AllowHeaders: []string{"content-type", "x-token"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.AddPermission(ctx(t), &lambda.AddPermissionInput{
		FunctionName: aws.String("site-api"), StatementId: aws.String("url"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
	}); err != nil {
		t.Fatal(err)
	}
	c := browserContext(t, chrome)
	call := `fetch(` + strconv.Quote(aws.ToString(cfg.FunctionUrl)+"echo") + `, {method: "POST", headers: {"content-type": "application/json", "x-token": "t"}, body: '{"from":"browser"}'})
		.then(r => r.json()).then(ev => ev.requestContext.http.method + " " + ev.body + " " + ev.headers["x-token"])
		.catch(err => "blocked: " + err)`
	for _, tt := range []struct {
		origin *httptest.Server
		want   string
	}{
		{allowed, `POST {"from":"browser"} t`},
		{other, "blocked: TypeError: Failed to fetch"},
	} {
		if err := chromedp.Do(c, chromedp.Navigate(tt.origin.URL)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(c, chromedp.Evaluate[string](call, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("from %s the page got %q, want %q", tt.origin.URL, got, tt.want)
		}
	}
}
