package control

import (
	"context"
	"testing"

	"github.com/paddockhq/paddock/internal/store"
)

// openWithFunctions opens a Service on an embedded engine in dir with the
// named functions created and settled (Active), for the tests of settings
// kept per function. The caller closes the store.
func openWithFunctions(t *testing.T, dir string, names ...string) (*store.Store, *Service) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, st, Options{})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	for _, name := range names {
		in := CreateFunctionInput{Config: Config{FunctionName: name, Runtime: "provided.al2023", Role: "arn:aws:iam::000000000000:role/r", Handler: "bootstrap"}, Zip: testZip(t)}
		if _, err := s.CreateFunction(ctx, in); err != nil {
			st.Close()
			t.Fatal(err)
		}
	}
	s.settleOnce(ctx)
	return st, s
}
