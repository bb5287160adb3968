package e2e

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
)

// TestCostFollowsTheTraffic: invokes of a default-mode and an LMI function
// show up in GET /paddock/v1/cost with their counts, the LMI capacity
// provider's instance time, and prices computed by both formulas; and
// `paddock cost` prints them.
func TestCostFollowsTheTraffic(t *testing.T) {
	e := start(t)
	e.defaultFunction("od", "echo", 256, 3)
	e.activeFunction("lmi", fnOpts{})
	for i := 0; i < 7; i++ {
		if _, err := e.invoke("od", "", `{}`); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if _, err := e.invoke("lmi", "1", `{}`); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2500 * time.Millisecond) // a few metering periods of instance time

	bill := e.cost("1h")
	lines := map[string]billing.FunctionLine{}
	for _, f := range bill.Functions {
		lines[f.Function] = f
	}
	od, lmi := lines["od"], lines["lmi"]
	if od.Requests != 7 || od.Mode != billing.ModeDefault || od.MemoryMB != 256 || od.BilledMs < 7 {
		t.Fatalf("default-mode line %+v", od)
	}
	wantOD := 7*0.20/1e6 + float64(od.BilledMs)/1000*0.25*0.0000166667
	if math.Abs(od.Total-wantOD) > 1e-12 {
		t.Fatalf("default-mode total %v, want %v", od.Total, wantOD)
	}
	if lmi.Requests != 5 || lmi.Mode != billing.ModeLMI || lmi.CapacityProvider != "cp-lmi" {
		t.Fatalf("LMI line %+v", lmi)
	}
	if lmi.InstanceCost <= 0 || math.Abs(lmi.FeeCost-0.15*lmi.InstanceCost) > 1e-12 || lmi.OtherMode.Total <= 0 {
		t.Fatalf("LMI costs: instances %v fee %v other mode %v", lmi.InstanceCost, lmi.FeeCost, lmi.OtherMode.Total)
	}
	if len(bill.CapacityProviders) != 1 || bill.CapacityProviders[0].Name != "cp-lmi" {
		t.Fatalf("capacity providers %+v", bill.CapacityProviders)
	}

	// The CLI renders the same bill.
	bin := paddockBinary(t)
	cmd := exec.Command(bin, "cost", "--since", "1h", "--endpoint", e.p.Endpoint)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+e.p.SecretAccessKey)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("paddock cost: %v\n%s", err, out)
	}
	for _, want := range []string{"od", "lmi", "cp-lmi", "default", "LMI formula"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("paddock cost output lacks %q:\n%s", want, out)
		}
	}
}

// cost fetches the bill since a duration ago.
func (e *env) cost(since string) billing.Bill {
	e.t.Helper()
	resp := e.signedDo(http.MethodGet, "/paddock/v1/cost?since="+since, "")
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET /paddock/v1/cost: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	var b billing.Bill
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		e.t.Fatal(err)
	}
	return b
}
