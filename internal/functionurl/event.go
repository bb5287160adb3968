// Package functionurl turns HTTP requests to a function URL into the
// events Lambda gives the function (payload format 2.0), the function's
// answers back into HTTP responses, and applies a URL's CORS settings.
// It decides; it does no I/O: lambdaapi serves the URLs.
//
// AWS's behaviour, where this package follows it, is taken from AWS's
// documentation ("Invoking Lambda function URLs", request and response
// payloads) and from AWS's answers as LocalStack's snapshot tests recorded
// them (tests/aws/services/lambda_/test_lambda.snapshot.json, TestLambdaURL,
// recorded 2025-11-24).
package functionurl

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Request is the event a function URL's request becomes (payload 2.0).
type Request struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        RequestContext    `json:"requestContext"`
	Body                  *string           `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

// RequestContext is the event's requestContext.
type RequestContext struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	Authorizer   *Authorizer `json:"authorizer,omitempty"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         HTTP        `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

// Authorizer names the caller of an AWS_IAM URL.
type Authorizer struct {
	IAM *IAM `json:"iam"`
}

// IAM is the signing identity of an AWS_IAM URL's request.
type IAM struct {
	AccessKey       string  `json:"accessKey"`
	AccountID       string  `json:"accountId"`
	CallerID        string  `json:"callerId"`
	CognitoIdentity *string `json:"cognitoIdentity"`
	PrincipalOrgID  *string `json:"principalOrgId"`
	UserARN         string  `json:"userArn"`
	UserID          string  `json:"userId"`
}

// HTTP is the event's requestContext.http.
type HTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// EventInput is what an event is made of.
type EventInput struct {
	ID        string      // the URL's id
	Domain    string      // the host the request named
	Path      string      // the request's path below the URL, escaped as sent ("/" at least)
	RawQuery  string      // the query, as sent
	Header    http.Header // the request's headers
	Method    string
	Proto     string
	SourceIP  string
	Port      string // the port the request came in on (x-forwarded-port)
	Scheme    string // "http" or "https" (x-forwarded-proto)
	Body      []byte
	RequestID string
	TraceID   string // x-amzn-trace-id
	Account   string // "anonymous" for an AuthType NONE URL, else the caller's account
	IAM       *IAM   // the caller of an AWS_IAM URL; nil for NONE
	Now       time.Time
}

// Event is the payload a request to a function URL gives the function.
//
// As Lambda does: header names are lowercased and repeated headers joined
// with commas; the Cookie headers become cookies (split at "; "); repeated
// query parameters are joined with commas, their values decoded; the body
// is passed as text when its Content-Type is textual (text, json, xml,
// javascript, form-urlencoded) and it is valid UTF-8, else base64 with
// isBase64Encoded; an empty body is left out.
func Event(in EventInput) ([]byte, error) {
	headers := map[string]string{}
	var cookies []string
	for name, values := range in.Header {
		lower := strings.ToLower(name)
		switch lower {
		case "cookie":
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection":
			continue // hop-by-hop: not the function's
		}
		headers[lower] = strings.Join(values, ",")
	}
	headers["host"] = in.Domain
	headers["x-amzn-trace-id"] = in.TraceID
	headers["x-forwarded-for"] = in.SourceIP
	headers["x-forwarded-port"] = in.Port
	headers["x-forwarded-proto"] = in.Scheme

	ev := Request{
		Version: "2.0", RouteKey: "$default",
		RawPath: in.Path, RawQueryString: in.RawQuery,
		Cookies: cookies, Headers: headers,
		QueryStringParameters: queryParameters(in.RawQuery),
		RequestContext: RequestContext{
			AccountID: in.Account, APIID: in.ID, DomainName: in.Domain, DomainPrefix: in.ID,
			HTTP:      HTTP{Method: in.Method, Path: in.Path, Protocol: in.Proto, SourceIP: in.SourceIP, UserAgent: in.Header.Get("User-Agent")},
			RequestID: in.RequestID, RouteKey: "$default", Stage: "$default",
			Time: in.Now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: in.Now.UnixMilli(),
		},
	}
	if in.IAM != nil {
		ev.RequestContext.Authorizer = &Authorizer{IAM: in.IAM}
	}
	if len(in.Body) > 0 {
		var body string
		if isText(in.Header.Get("Content-Type")) && utf8.Valid(in.Body) {
			body = string(in.Body)
		} else {
			body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(in.Body), true
		}
		ev.Body = &body
	}
	return json.Marshal(ev)
}

// queryParameters is the query as the event's queryStringParameters: each
// name once, its values decoded and joined with commas; nil when empty.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	values, _ := url.ParseQuery(raw) // what parses is kept, as a lenient server would
	if len(values) == 0 {
		return nil
	}
	out := make(map[string]string, len(values))
	for k, v := range values {
		out[k] = strings.Join(v, ",")
	}
	return out
}

// isText says whether a body of this Content-Type is passed as text.
func isText(contentType string) bool {
	ct := strings.ToLower(contentType)
	for _, t := range textTypes {
		if strings.Contains(ct, t) {
			return true
		}
	}
	return false
}

var textTypes = []string{"text/", "json", "xml", "javascript", "x-www-form-urlencoded"}
