package lambdaapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/store"
)

// FuzzAPIRequests sends arbitrary bodies, paths and query strings to the
// API's operations: whatever arrives, the answer is a well-formed AWS error
// or success, never a 500 and never a panic.
func FuzzAPIRequests(f *testing.F) {
	st, err := store.OpenEmbedded(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(st.Close)
	ctl, err := control.Open(context.Background(), st, control.Options{})
	if err != nil {
		f.Fatal(err)
	}
	api := New(ctl, router.New(), nil)
	// The default mode as the platform wires it: an invoke of a function
	// without a capacity provider starts a real EE (here one whose zip has no
	// bootstrap, so it answers with the function error Lambda gives).
	cache := agent.NewCodeCache(filepath.Join(f.TempDir(), "code"), st.GetCode)
	pool := ondemand.New(ctl, func(notify func(agent.Event)) *agent.Agent { return agent.New("i-fuzz", cache, notify) })
	poolCtx, stopPool := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pool.Run(poolCtx) }()
	f.Cleanup(func() { stopPool(); <-done })
	api.UseOnDemand(pool)
	seeds := []struct{ method, path, body string }{
		{"POST", "/2015-03-31/functions", `{"FunctionName":"f","Runtime":"provided.al2023","Role":"arn:aws:iam::000000000000:role/r","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}`},
		{"POST", "/2025-11-30/capacity-providers", `{"CapacityProviderName":"cp","VpcConfig":{"SubnetIds":["s"],"SecurityGroupIds":[]},"PermissionsConfig":{"CapacityProviderOperatorRoleArn":"arn:aws:iam::000000000000:role/o"}}`},
		{"PUT", "/2015-03-31/functions/f/configuration", `{"MemorySize":99999,"Timeout":0}`},
		{"POST", "/2015-03-31/functions/f:1/invocations?Qualifier=2", `{}`},
		{"PUT", "/2025-11-30/functions/f/function-scaling-config?Qualifier=1", `{"FunctionScalingConfig":{"MinExecutionEnvironments":-1}}`},
		{"GET", "/2025-11-30/capacity-providers?MaxItems=0&Marker=%00", ``},
		{"POST", "/2015-03-31/functions/f/aliases", `{"Name":"1","FunctionVersion":"$LATEST"}`},
		{"PUT", "/2017-10-31/functions/f/concurrency", `{"ReservedConcurrentExecutions":-5}`},
		{"POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f", `{"Tags":{"aws:x":"y"}}`},
		{"DELETE", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Acapacity-provider%3Acp?tagKeys=a&tagKeys=", ``},
		{"POST", "/2015-03-31/functions/f/policy?Qualifier=$LATEST", `{"StatementId":"a b","Action":"lambda:*","Principal":"*","RevisionId":"x"}`},
		{"DELETE", "/2015-03-31/functions/f/policy/s.1?RevisionId=%zz", ``},
		{"POST", "/2015-03-31/functions", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		req, err := http.NewRequest(method, "http://paddock"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Header().Get("X-Amzn-ErrorType") == "" && rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: error %d without X-Amzn-ErrorType", method, path, rec.Code)
		}
	})
}
