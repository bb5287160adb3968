package lambdaapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/scaler"
	"github.com/paddockhq/paddock/internal/sigv4"
)

func TestBuildStatusGroupsAndSums(t *testing.T) {
	cps := []control.CapacityProvider{
		{Name: "zeta", ARN: "arn:z", State: "Active", Architecture: "arm64",
			Scaling: control.CPScaling{MaxVCPU: 400, Mode: "Manual", Policies: []control.ScalingPolicy{{Metric: "cpu", Target: 60}}}},
		{Name: "alpha", ARN: "arn:a", State: "Active", Architecture: "x86_64",
			Scaling: control.CPScaling{MaxVCPU: 400, Mode: "Auto"}},
	}
	insts := []scaler.InstanceStatus{
		{ID: "i-2", CapacityProvider: "alpha", VCPUAllocated: 2, VCPUAvailable: 1.5, MemoryAllocatedMiB: 4096, MemoryAvailableMiB: 1000},
		{ID: "i-1", CapacityProvider: "alpha", VCPUAllocated: 1, VCPUAvailable: 2.5, MemoryAllocatedMiB: 2048, MemoryAvailableMiB: 3000},
		{ID: "i-9", CapacityProvider: "gone", VCPUAvailable: 4},
	}
	versions := []scaler.VersionStatus{
		{Key: "fn:10", Function: "fn", Version: 10},
		{Key: "fn:9", Function: "fn", Version: 9},
		{Key: "a:1", Function: "a", Version: 1},
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	got := buildStatus(cps, insts, versions, now)

	if got.Time != "2026-01-02T02:04:05Z" {
		t.Errorf("time %q", got.Time)
	}
	var names []string
	for _, cp := range got.CapacityProviders {
		names = append(names, cp.Name+"/"+cp.State)
	}
	if want := "[alpha/Active gone/Deleted zeta/Active]"; fmt.Sprint(names) != want {
		t.Fatalf("capacity providers %v, want %s", names, want)
	}
	alpha, gone, zeta := got.CapacityProviders[0], got.CapacityProviders[1], got.CapacityProviders[2]
	if len(alpha.Instances) != 2 || alpha.Instances[0].ID != "i-1" {
		t.Errorf("alpha instances %+v, want i-1 then i-2", alpha.Instances)
	}
	if alpha.VCPUAllocated != 3 || alpha.VCPUAvailable != 4 || alpha.MemoryAllocatedMiB != 6144 || alpha.MemoryAvailableMiB != 4000 {
		t.Errorf("alpha totals %+v", alpha)
	}
	if alpha.TargetPercent != 0 || alpha.ScalingMode != "Auto" || zeta.TargetPercent != 60 || zeta.ScalingMode != "Manual" {
		t.Errorf("scaling: alpha %s %v, zeta %s %v", alpha.ScalingMode, alpha.TargetPercent, zeta.ScalingMode, zeta.TargetPercent)
	}
	if len(gone.Instances) != 1 || gone.VCPUAvailable != 4 {
		t.Errorf("instances of a deleted capacity provider: %+v", gone)
	}
	if zeta.Instances == nil {
		t.Error("a capacity provider without instances must have an empty array, not null")
	}
	var keys []string
	for _, v := range got.Versions {
		keys = append(keys, v.Key)
	}
	if want := "[a:1 fn:9 fn:10]"; fmt.Sprint(keys) != want {
		t.Errorf("versions %v, want %s", keys, want)
	}
}

type fakeSource struct{}

func (fakeSource) Status() []scaler.VersionStatus {
	return []scaler.VersionStatus{{Key: "fn:1", Function: "fn", Version: 1, Ready: 3, Limit: 24}}
}
func (fakeSource) Instances() []scaler.InstanceStatus { return nil }

func TestStatusRouteIsSigned(t *testing.T) {
	verifier := &sigv4.Verifier{Credentials: sigv4.StaticCredentials{"AKID": "secret"}, Service: "lambda"}
	a := New(&control.Service{}, nil, verifier)
	a.HandleStatus(fakeSource{})
	srv := httptest.NewServer(a)
	defer srv.Close()

	call := func(secret string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/paddock/v1/status", nil)
		if secret != "" {
			sum := sha256.Sum256(nil)
			creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := call("secret")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("signed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var body StatusResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Versions) != 1 || body.Versions[0].Limit != 24 || body.CapacityProviders == nil {
		t.Errorf("body %+v", body)
	}

	for secret, code := range map[string]string{"": "MissingAuthenticationTokenException", "wrong": "InvalidSignatureException"} {
		resp := call(secret)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != code {
			t.Errorf("secret %q: %d %s, want 403 %s", secret, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), code)
		}
	}
}

func TestQueryValueIsParseQueryGet(t *testing.T) {
	for _, raw := range []string{
		"", "Qualifier=1", "Qualifier=prod&x=y", "x=y&Qualifier=%24LATEST", "Qualifier=a&Qualifier=b",
		"Qualifier", "Qualifier=", "Qualifier=a;b", "Qual%69fier=2", "Qualifier=%zz&Qualifier=3",
		"Qualifier=a+b", "&&Qualifier=4&", "qualifier=5",
	} {
		want := ""
		if v, err := url.ParseQuery(raw); err == nil || v != nil {
			want = v.Get("Qualifier")
		}
		if got := queryValue(raw, "Qualifier"); got != want {
			t.Errorf("queryValue(%q) = %q, ParseQuery gives %q", raw, got, want)
		}
	}
}
