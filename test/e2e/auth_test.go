package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/paddockhq/paddock/internal/platform"
)

// TestCredentialsFileAddsUsers: keys from a credentials file sign requests
// as well as the main pair; unknown keys are still refused.
func TestCredentialsFileAddsUsers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte("[alice]\naws_access_key_id = AKIDALICE\naws_secret_access_key = alice-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := platform.Start(context.Background(), platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret", CredentialsFile: file})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	for _, k := range [][2]string{{"AKIDPADDOCKTEST", "paddock-test-secret"}, {"AKIDALICE", "alice-secret"}} {
		if _, err := client(p.Endpoint, k[0], k[1]).ListFunctions(ctx(t), &lambda.ListFunctionsInput{}); err != nil {
			t.Fatalf("%s: %v", k[0], err)
		}
	}
	_, err = client(p.Endpoint, "AKIDMALLORY", "x").ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	apiError(t, err, "UnrecognizedClientException")
}

func TestNoAuthAcceptsUnsignedRequests(t *testing.T) {
	p, err := platform.Start(context.Background(), platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0", NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	resp, err := http.Get(p.Endpoint + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("unsigned request with --no-auth: %d", resp.StatusCode)
	}
}
