package lambdaapi

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/awsmodel"
)

// TestREADMECoverage holds the README's API coverage table to the code: one
// row per operation of the model, and "supported" exactly for the
// operations the API routes.
func TestREADMECoverage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "<!-- api-coverage:begin")
	table, _, ok2 := strings.Cut(table, "<!-- api-coverage:end -->")
	if !ok || !ok2 {
		t.Fatal("README has no api-coverage block")
	}
	row := regexp.MustCompile(`(?m)^\| (\w+) \| (supported|not yet) \|`)
	status := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		if _, dup := status[m[1]]; dup {
			t.Errorf("README lists %s twice", m[1])
		}
		status[m[1]] = m[2]
	}
	served := New(nil, nil, nil).Operations()
	for _, op := range awsmodel.Operations() {
		st, ok := status[op.Name]
		switch {
		case !ok:
			t.Errorf("README's table has no row for %s", op.Name)
		case (st == "supported") != slices.Contains(served, op.Name):
			t.Errorf("README says %s is %q; the API routes it: %v", op.Name, st, slices.Contains(served, op.Name))
		}
		delete(status, op.Name)
	}
	for name := range status {
		t.Errorf("README lists %s, which the model does not have", name)
	}
}
