package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/paddockhq/paddock/internal/platform"
)

// scrape is one parsed /metrics page.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs url the way Prometheus does (no signature) and parses
// it with Prometheus' own text parser.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return mfs
}

// value is the sample of family name with these labels (among others): a
// counter's or gauge's value, a histogram's count; 0 when there is none.
func (s scrape) value(name string, labels map[string]string) float64 {
	mf := s[name]
	if mf == nil {
		return 0
	}
metric:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue metric
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// Labels a paddock_ family may have: each is bounded by what the operator
// created (functions, versions, capacity providers, instance types, the
// fleet) or is a small fixed set.
var boundedLabels = map[string]bool{
	"function": true, "version": true, "capacity_provider": true, "instance_type": true, "instance": true,
	"state": true, "reason": true, "cause": true, "error_type": true, "mode": true,
}

var uuidLike = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// checkBounded fails on a label that is not in boundedLabels, or any
// label value that looks like a request id.
func (s scrape) checkBounded(t *testing.T) {
	t.Helper()
	for name, mf := range s {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(name, "paddock_") && !boundedLabels[l.GetName()] {
					t.Errorf("%s has label %s=%q, not one of the bounded labels", name, l.GetName(), l.GetValue())
				}
				if uuidLike.MatchString(l.GetValue()) {
					t.Errorf("%s has a request-id-like label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestMetricsMoveWithInvokes(t *testing.T) {
	e := start(t)
	e.activeFunction("lmi", fnOpts{})
	e.defaultFunction("od", "echo", 128, 3)
	url := e.p.Endpoint + "/metrics"

	lmi := map[string]string{"function": "lmi", "version": "1"}
	od := map[string]string{"function": "od", "version": "$LATEST"}
	// The scaler publishes its view once a second; wait for the three EEs
	// that made version 1 Active to show.
	lmiReady := map[string]string{"function": "lmi", "version": "1", "capacity_provider": "cp-lmi", "state": "ready"}
	var before scrape
	for deadline := time.Now().Add(10 * time.Second); ; {
		before = scrapeMetrics(t, url)
		if before.value("paddock_execution_environments", lmiReady) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := before.value("paddock_execution_environments", lmiReady); got != 3 {
		t.Fatalf("paddock_execution_environments%v = %v, want 3", lmiReady, got)
	}

	for i := 0; i < 5; i++ {
		if _, err := e.invoke("lmi", "1", `{"n":1}`); err != nil {
			t.Fatalf("invoke lmi: %v", err)
		}
	}
	out, err := e.invoke("lmi", "1", `{"error":"boom"}`)
	if err != nil || aws.ToString(out.FunctionError) == "" {
		t.Fatalf("error invoke: %v %+v", err, out)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.invoke("od", "", `{"n":1}`); err != nil {
			t.Fatalf("invoke od: %v", err)
		}
	}
	if _, err := e.lambda.PutFunctionConcurrency(ctx(t), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("od"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.invoke("od", "", `{}`)
	var tm *types.TooManyRequestsException
	if !asErr(err, &tm) || tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Fatalf("invoke with reserved concurrency 0: %v, want a ReservedFunctionConcurrentInvocationLimitExceeded throttle", err)
	}

	// EE and instance time are metered on the scaler's next tick.
	var after scrape
	for deadline := time.Now().Add(10 * time.Second); ; {
		after = scrapeMetrics(t, url)
		if after.value("paddock_instance_seconds_total", map[string]string{"capacity_provider": "cp-lmi"}) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	after.checkBounded(t)
	for _, c := range []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{"paddock_invocations_total", lmi, 6},
		{"paddock_invocations_total", od, 3},
		{"paddock_invocation_duration_seconds", lmi, 6},
		{"paddock_invocation_duration_seconds", od, 3},
		{"paddock_errors_total", map[string]string{"function": "lmi", "version": "1", "error_type": "errorString"}, 1},
		{"paddock_errors_total", od, 0},
		{"paddock_throttles_total", map[string]string{"function": "od", "version": "$LATEST", "reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}, 1},
		{"paddock_throttles_total", lmi, 0},
		{"paddock_cold_starts_total", lmi, 0},
		// The meters the bill is made of: throttled invokes are not billed.
		{"paddock_billed_requests_total", map[string]string{"function": "lmi"}, 6},
		{"paddock_billed_requests_total", map[string]string{"function": "od"}, 3},
	} {
		if got := after.value(c.name, c.labels) - before.value(c.name, c.labels); got != c.delta {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.delta)
		}
	}
	cold := after.value("paddock_cold_starts_total", od)
	if cold < 1 || cold > 3 {
		t.Errorf("paddock_cold_starts_total%v = %v, want 1..3", od, cold)
	}
	if got := after.value("paddock_init_duration_seconds", od); got != cold {
		t.Errorf("paddock_init_duration_seconds count %v, want one per cold start (%v)", got, cold)
	}
	cp := map[string]string{"capacity_provider": "cp-lmi"}
	for _, name := range []string{
		"paddock_capacity_provider_vcpu_allocated", "paddock_capacity_provider_memory_allocated_bytes", "paddock_capacity_provider_max_vcpu",
		"paddock_instance_seconds_total", "paddock_execution_environment_seconds_total",
	} {
		labels := cp
		if name == "paddock_execution_environment_seconds_total" {
			labels = map[string]string{"function": "lmi"}
		}
		if got := after.value(name, labels); got <= 0 {
			t.Errorf("%s%v = %v, want > 0", name, labels, got)
		}
	}
	if got := after.value("paddock_execution_environment_concurrency_limit", lmi); got < 3 {
		t.Errorf("paddock_execution_environment_concurrency_limit%v = %v, want at least one slot per EE", lmi, got)
	}
	if got := after.value("paddock_cost_usd", map[string]string{"function": "od", "mode": "default"}); got <= 0 {
		t.Errorf("paddock_cost_usd of od = %v, want > 0", got)
	}
	// Families and their types, as a scraper and a dashboard rely on them.
	for name, typ := range map[string]dto.MetricType{
		"paddock_invocations_total":                        dto.MetricType_COUNTER,
		"paddock_errors_total":                             dto.MetricType_COUNTER,
		"paddock_throttles_total":                          dto.MetricType_COUNTER,
		"paddock_invocation_duration_seconds":              dto.MetricType_HISTOGRAM,
		"paddock_cold_starts_total":                        dto.MetricType_COUNTER,
		"paddock_init_duration_seconds":                    dto.MetricType_HISTOGRAM,
		"paddock_execution_environments":                   dto.MetricType_GAUGE,
		"paddock_execution_environments_desired":           dto.MetricType_GAUGE,
		"paddock_execution_environment_concurrency":        dto.MetricType_GAUGE,
		"paddock_execution_environment_concurrency_limit":  dto.MetricType_GAUGE,
		"paddock_execution_environment_cpu_utilization":    dto.MetricType_GAUGE,
		"paddock_execution_environment_memory_utilization": dto.MetricType_GAUGE,
		"paddock_throttles_last_minute":                    dto.MetricType_GAUGE,
		"paddock_capacity_provider_vcpu_allocated":         dto.MetricType_GAUGE,
		"paddock_capacity_provider_vcpu_available":         dto.MetricType_GAUGE,
		"paddock_capacity_provider_memory_allocated_bytes": dto.MetricType_GAUGE,
		"paddock_capacity_provider_memory_available_bytes": dto.MetricType_GAUGE,
		"paddock_capacity_provider_cpu_utilization":        dto.MetricType_GAUGE,
		"paddock_capacity_provider_memory_utilization":     dto.MetricType_GAUGE,
		"paddock_instances":                                dto.MetricType_GAUGE,
		"paddock_instance_cpu_utilization":                 dto.MetricType_GAUGE,
		"paddock_default_mode_execution_environments":      dto.MetricType_GAUGE,
		"paddock_billed_requests_total":                    dto.MetricType_COUNTER,
		"paddock_billed_duration_seconds_total":            dto.MetricType_COUNTER,
		"paddock_instance_seconds_total":                   dto.MetricType_COUNTER,
		"paddock_cost_usd":                                 dto.MetricType_GAUGE,
		"go_goroutines":                                    dto.MetricType_GAUGE,
		"process_resident_memory_bytes":                    dto.MetricType_GAUGE,
	} {
		mf := after[name]
		if mf == nil {
			t.Errorf("no family %s", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("%s is a %s, want %s", name, mf.GetType(), typ)
		}
	}
}

// freeAddr is a loopback address nothing listens on (closed right away, so
// another process could take it first: acceptable in a test).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	addr := freeAddr(t)
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", MetricsListen: addr,
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
	})
	if err != nil {
		t.Fatalf("start paddock: %v", err)
	}
	var closeOnce sync.Once
	stop := func() { closeOnce.Do(p.Close) }
	t.Cleanup(stop)
	e := &env{t: t, p: p, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	e.defaultFunction("od", "echo", 128, 3)
	if _, err := e.invoke("od", "", `{}`); err != nil {
		t.Fatal(err)
	}

	s := scrapeMetrics(t, "http://"+addr+"/metrics")
	s.checkBounded(t)
	if got := s.value("paddock_invocations_total", map[string]string{"function": "od", "version": "$LATEST"}); got != 1 {
		t.Errorf("paddock_invocations_total = %v, want 1", got)
	}
	// With its own listener, the API does not serve it as well.
	resp, err := http.Get(p.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The API authenticates whatever it does not serve unsigned, as AWS
	// does before it routes: an unsigned GET /metrics is 403 there.
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("GET /metrics on the API: %d %s, want 403 MissingAuthenticationTokenException when --metrics-listen is set", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	stop()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("the metrics listener still accepts connections after Close")
	}
}
