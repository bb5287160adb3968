package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

// TestStatusAPIAndCommand reads the fleet through GET /paddock/v1/status,
// signed and unsigned, and through the `paddock status` binary with right,
// wrong and no Paddock to talk to.
func TestStatusAPIAndCommand(t *testing.T) {
	e := start(t)
	e.activeFunction("st", fnOpts{})

	// The scaler's snapshot is taken as it reconciles, before it marks the
	// version Active: it shows Active from its next pass on.
	var st lambdaapi.StatusResponse
	waitFor(t, "status to show st:1 Active with 3 ready EEs", func() bool {
		st = e.fetchStatus()
		return len(st.Versions) == 1 && st.Versions[0].Ready == 3 && st.Versions[0].State == "Active"
	})
	if len(st.CapacityProviders) != 1 {
		t.Fatalf("capacity providers %+v, want only cp-st", st.CapacityProviders)
	}
	cp := st.CapacityProviders[0]
	if cp.Name != "cp-st" || cp.State != "Active" || cp.ScalingMode != "Auto" || cp.Architecture != "x86_64" || cp.MaxVCPUCount != 400 {
		t.Errorf("capacity provider %+v", cp)
	}
	// Three EEs are spread over three instances.
	if len(cp.Instances) != 3 {
		t.Fatalf("cp-st has %d instances, want 3: %+v", len(cp.Instances), cp.Instances)
	}
	var vcpu float64
	for _, in := range cp.Instances {
		if in.CapacityProvider != "cp-st" || in.EEs != 1 || in.Type == "" || in.State != "Running" {
			t.Errorf("instance %+v", in)
		}
		vcpu += in.VCPUAllocated
	}
	if cp.VCPUAllocated != vcpu || vcpu != 3 {
		t.Errorf("vCPU allocated: %v in total, %v summed over instances; want 3 (1 vCPU per 2048 MB EE)", cp.VCPUAllocated, vcpu)
	}
	v := st.Versions[0]
	if v.Key != "st:1" || v.CapacityProvider != "cp-st" || v.State != "Active" || v.Desired != 3 || v.Limit != 3*8 || v.Why == "" {
		t.Errorf("version %+v, want st:1 Active with 3 desired, limit 24 and a reason", v)
	}
	if _, err := time.Parse(time.RFC3339, st.Time); err != nil {
		t.Errorf("time %q: %v", st.Time, err)
	}

	// Unsigned: refused like every other route.
	resp, err := http.Get(e.p.Endpoint + "/paddock/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %d %s, want 403 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if code, typ := e.signedCall(http.MethodPost, "/paddock/v1/status", ""); code != http.StatusNotFound {
		t.Errorf("POST: %d %s, want 404", code, typ)
	}

	bin := paddockBinary(t)
	keys := []string{"AWS_ACCESS_KEY_ID=" + e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.p.SecretAccessKey}

	out, stderr, err := runPaddock(t, bin, keys, "status", "--endpoint", e.p.Endpoint, "--json")
	if err != nil {
		t.Fatalf("paddock status --json: %v\n%s", err, stderr)
	}
	var fromCLI lambdaapi.StatusResponse
	if err := json.Unmarshal([]byte(out), &fromCLI); err != nil || !strings.Contains(out, `"st:1"`) || !strings.Contains(out, "\n  ") {
		t.Errorf("paddock status --json printed (%v):\n%s", err, out)
	}

	// PADDOCK_ENDPOINT stands in for --endpoint.
	out, stderr, err = runPaddock(t, bin, append(keys, "PADDOCK_ENDPOINT="+e.p.Endpoint), "status")
	if err != nil {
		t.Fatalf("paddock status: %v\n%s", err, stderr)
	}
	for _, want := range []string{"Capacity provider cp-st", "st:1", "FUNCTION:VERSION", "3/3", "/24", "] ", "desired 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("paddock status lacks %q:\n%s", want, out)
		}
	}
	t.Logf("paddock status:\n%s", out)

	wrong := []string{"AWS_ACCESS_KEY_ID=" + e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=not-the-secret"}
	_, stderr, err = runPaddock(t, bin, wrong, "status", "--endpoint", e.p.Endpoint)
	if err == nil || !strings.Contains(stderr, "InvalidSignatureException") || !strings.Contains(stderr, "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("wrong secret: err %v, stderr %q; want a failure naming InvalidSignatureException and the variables", err, stderr)
	}
	unknown := []string{"AWS_ACCESS_KEY_ID=AKIDSOMEONEELSE", "AWS_SECRET_ACCESS_KEY=whatever"}
	_, stderr, err = runPaddock(t, bin, unknown, "status", "--endpoint", e.p.Endpoint)
	if err == nil || !strings.Contains(stderr, "UnrecognizedClientException") {
		t.Errorf("unknown key: err %v, stderr %q; want a failure naming UnrecognizedClientException", err, stderr)
	}

	// Nothing listening: say so, and how to fix it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, stderr, err = runPaddock(t, bin, keys, "status", "--endpoint", closed)
	if err == nil || !strings.Contains(stderr, "no Paddock at "+closed) || !strings.Contains(stderr, "paddock up") {
		t.Errorf("no Paddock: err %v, stderr %q", err, stderr)
	}
}

// fetchStatus GETs /paddock/v1/status signed with the platform's keys.
func (e *env) fetchStatus() lambdaapi.StatusResponse {
	e.t.Helper()
	resp := e.signedDo(http.MethodGet, "/paddock/v1/status", "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		e.t.Fatalf("GET /paddock/v1/status: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Amzn-ErrorType"))
	}
	var st lambdaapi.StatusResponse
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		e.t.Fatalf("decode status: %v", err)
	}
	return st
}

// runPaddock runs the binary with only env, PATH and an empty HOME, so
// the developer's own AWS variables and ~/.aws files cannot leak in.
func runPaddock(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, err error) {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}
