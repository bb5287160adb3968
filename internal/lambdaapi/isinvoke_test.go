package lambdaapi

import (
	"net/http/httptest"
	"testing"
)

// IsInvoke must pick exactly the requests the mux routes to invoke: it
// only chooses the transport, but a request it picks wrongly would be
// served without net/http's streaming support.
func TestIsInvoke(t *testing.T) {
	a := New(nil, nil, nil)
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/2015-03-31/functions/echo/invocations", true},
		{"POST", "/2015-03-31/functions/echo:1/invocations", true},
		{"POST", "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:echo/invocations", true},
		{"GET", "/2015-03-31/functions/echo/invocations", false},
		{"POST", "/2015-03-31/functions//invocations", false},
		{"POST", "/2015-03-31/functions/invocations", false},
		{"POST", "/2015-03-31/functions/a/b/invocations", false},
		{"POST", "/2015-03-31/functions/echo/invocations/", false},
		{"POST", "/2015-03-31/functions/echo", false},
		{"POST", "/2021-11-15/functions/echo/response-streaming-invocations", false},
		{"POST", "/2015-03-31/functions", false},
	}
	for _, tt := range tests {
		if got := IsInvoke(tt.method, tt.path); got != tt.want {
			t.Errorf("IsInvoke(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
		r := httptest.NewRequest(tt.method, tt.path, nil)
		_, pattern := a.mux.Handler(r)
		if routed := pattern == "POST /2015-03-31/functions/{FunctionName}/invocations"; routed != tt.want {
			t.Errorf("%s %s: IsInvoke says %v, the mux routes it to %q", tt.method, tt.path, tt.want, pattern)
		}
	}
}
