package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/scaler"
)

type fakeFleet struct {
	versions  []scaler.VersionStatus
	instances []scaler.InstanceStatus
}

func (f *fakeFleet) Status() []scaler.VersionStatus     { return f.versions }
func (f *fakeFleet) Instances() []scaler.InstanceStatus { return f.instances }

func newTestConsole() (*Console, *fakeFleet) {
	fleet := &fakeFleet{
		versions: []scaler.VersionStatus{{Key: "fn:1", Function: "fn", Version: 1, CapacityProvider: "cp1", State: "Active",
			Desired: 3, Live: 3, Ready: 3, Limit: 48, CPUPercent: 20, ThrottlesMinute: map[string]int{}}},
		instances: []scaler.InstanceStatus{{ID: "i-1", CapacityProvider: "cp1", Type: "c6i.large", State: "Running",
			VCPUAllocated: 1, VCPUAvailable: 1, EEs: 1}},
	}
	c := New(Config{
		AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", Token: "tok-123",
		Fleet: fleet,
		CapacityProviders: func() []control.CapacityProvider {
			return []control.CapacityProvider{{Name: "cp1", State: "Active", Architecture: "x86_64"}}
		},
	})
	return c, fleet
}

func login(t *testing.T, c *Console, form url.Values) *http.Response {
	t.Helper()
	r := httptest.NewRequest("POST", "/console/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w.Result()
}

func get(c *Console, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

func TestLoginAndSession(t *testing.T) {
	c, _ := newTestConsole()

	// Without a session: the login form, and 401 from the API.
	if w := get(c, "/console"); w.Code != 200 || !strings.Contains(w.Body.String(), `action="/console/login"`) {
		t.Fatalf("GET /console without session: %d %q", w.Code, w.Body.String())
	}
	if w := get(c, "/console/api/status"); w.Code != http.StatusUnauthorized {
		t.Fatalf("api without session: %d", w.Code)
	}
	// Assets are public.
	if w := get(c, "/console/assets/app.js"); w.Code != 200 || !strings.Contains(w.Body.String(), "/console/api/status") {
		t.Fatalf("asset: %d", w.Code)
	}

	for _, bad := range []url.Values{
		{"access_key_id": {"AKIDTEST"}, "secret_access_key": {"wrong"}},
		{"access_key_id": {"AKIDTEST"}},
		{"token": {"tok-12"}},
		{},
	} {
		res := login(t, c, bad)
		if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
			t.Fatalf("login %v: %d, cookies %v", bad, res.StatusCode, res.Cookies())
		}
	}

	for _, good := range []url.Values{
		{"access_key_id": {"AKIDTEST"}, "secret_access_key": {"secret"}},
		{"token": {"tok-123"}},
	} {
		res := login(t, c, good)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console" {
			t.Fatalf("login %v: %d", good, res.StatusCode)
		}
		cks := res.Cookies()
		if len(cks) != 1 || !cks[0].HttpOnly || cks[0].SameSite != http.SameSiteStrictMode || cks[0].Path != "/console" {
			t.Fatalf("session cookie: %+v", cks)
		}
		if w := get(c, "/console", cks[0]); !strings.Contains(w.Body.String(), `id="versions-table"`) {
			t.Fatalf("page with session is not the console: %q", w.Body.String())
		}
		w := get(c, "/console/api/status", cks[0])
		var st StatusBody
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 200 {
			t.Fatalf("status: %d %v", w.Code, err)
		}
		if len(st.Versions) != 1 || st.Versions[0].Ready != 3 || len(st.CapacityProviders) != 1 || len(st.CapacityProviders[0].Instances) != 1 {
			t.Fatalf("status body: %+v", st)
		}
		if w := get(c, "/console/api/cost", cks[0]); w.Code != 200 {
			t.Fatalf("cost: %d", w.Code)
		}
	}
}

func TestEmptyTokenNeverLogsIn(t *testing.T) {
	c := New(Config{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"})
	if res := login(t, c, url.Values{"token": {""}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("empty token: %d", res.StatusCode)
	}
	if c.credentialsOK("", "", "anything") {
		t.Fatal("a token logged in while none is configured")
	}
}

func TestHistoryRates(t *testing.T) {
	h := NewHistory()
	fleet := &fakeFleet{versions: []scaler.VersionStatus{
		{Ready: 1, CPUPercent: 10}, {Ready: 3, CPUPercent: 50}, {Ready: 0, CPUPercent: 99},
	}}
	t0 := time.Unix(1000, 0)
	h.Tick(t0, fleet)
	for i := 1; i <= 100; i++ {
		h.ObserveInvoke(lambdaapi.InvokeRecord{Duration: time.Duration(i) * time.Millisecond, Invocation: &runtimeapi.Invocation{}})
	}
	h.ObserveInvoke(lambdaapi.InvokeRecord{Duration: time.Millisecond, Invocation: &runtimeapi.Invocation{FunctionError: "Unhandled"}})
	for range 10 {
		h.ObserveInvoke(lambdaapi.InvokeRecord{Throttled: "ConcurrentInvocationLimitExceeded"})
	}
	h.Tick(t0.Add(5*time.Second), fleet)
	s := h.Snapshot().Samples
	if len(s) != 1 {
		t.Fatalf("samples: %d", len(s))
	}
	got := s[0]
	if got.Invocations != 101.0/5 || got.Throttles != 2 || got.Errors != 0.2 || got.P99Ms != 99 || got.CPUPercent != 40 {
		t.Fatalf("sample: %+v", got)
	}
	// The next interval starts from zero.
	h.Tick(t0.Add(10*time.Second), fleet)
	if s := h.Snapshot().Samples; len(s) != 2 || s[1].Invocations != 0 || s[1].P99Ms != 0 {
		t.Fatalf("second sample: %+v", s)
	}
	// The window keeps 15 minutes.
	for i := range 2 * historyLen {
		h.Tick(t0.Add(time.Duration(15+5*i)*time.Second), fleet)
	}
	if n := len(h.Snapshot().Samples); n != historyLen {
		t.Fatalf("window: %d samples, want %d", n, historyLen)
	}
}

type fixedCluster lambdaapi.ClusterStatus

func (f fixedCluster) Cluster() lambdaapi.ClusterStatus { return lambdaapi.ClusterStatus(f) }

func TestStatusShowsTheCluster(t *testing.T) {
	cases := []struct {
		name    string
		cluster lambdaapi.ClusterSource
		hosts   int // -1: no cluster section
	}{
		{"a single Paddock", nil, -1},
		{"a server of several", fixedCluster{This: "http://a:9400", Leader: "http://a:9400",
			Servers: []lambdaapi.ServerStatus{{Node: "a", URL: "http://a:9400", Leader: true}},
			Hosts:   []lambdaapi.HostStatus{{ID: "h-1", Type: "m7i.xlarge", EEs: 2, Routed: 2}}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Config{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret", Cluster: tc.cluster})
			res := login(t, c, url.Values{"access_key_id": {"AKIDTEST"}, "secret_access_key": {"secret"}})
			w := get(c, "/console/api/status", res.Cookies()...)
			var st StatusBody
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 200 {
				t.Fatalf("status: %d %v", w.Code, err)
			}
			switch {
			case tc.hosts < 0 && st.Cluster != nil:
				t.Fatalf("a single Paddock shows a cluster: %+v", st.Cluster)
			case tc.hosts >= 0 && (st.Cluster == nil || len(st.Cluster.Hosts) != tc.hosts || !st.Cluster.Servers[0].Leader):
				t.Fatalf("cluster: %+v", st.Cluster)
			}
		})
	}
	if page := get(New(Config{}), "/console/assets/app.js"); !strings.Contains(page.Body.String(), "renderCluster") {
		t.Fatal("the app does not draw the cluster")
	}
}
