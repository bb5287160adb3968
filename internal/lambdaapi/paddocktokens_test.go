package lambdaapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/store"
)

// TestJoinTokenRoutes drives /paddock/v1/join-tokens against the real
// token keeper on an embedded engine: shapes, and each error with its
// code and text.
func TestJoinTokenRoutes(t *testing.T) {
	st, err := store.OpenEmbedded(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	issuer, _ := joinauth.Issuer("", "boot")
	tokens, err := joinauth.New(t.Context(), st, issuer, "boot", func(string) int { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	a := New(nil, nil, nil)
	a.HandleJoinTokens(tokens)
	srv := httptest.NewServer(a)
	defer srv.Close()
	call := func(method, path, body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(b)
	}

	code, typ, body := call("POST", "/paddock/v1/join-tokens", `{"description":"rack 7"}`)
	var made JoinTokenInfo
	if code != http.StatusCreated || typ != "" || json.Unmarshal([]byte(body), &made) != nil ||
		!strings.HasPrefix(made.Token, made.ID+".") || made.Description != "rack 7" || made.Created == "" || made.Revoked != "" {
		t.Fatalf("create: %d %q %s", code, typ, body)
	}
	code, _, body = call("POST", "/paddock/v1/join-tokens", "")
	if code != http.StatusCreated {
		t.Fatalf("create without a body: %d %s", code, body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		errorType, message       string
	}{
		{"description too long", "POST", "/paddock/v1/join-tokens", `{"description":"` + strings.Repeat("x", 257) + `"}`, 400, "ValidationException",
			"1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"not JSON", "POST", "/paddock/v1/join-tokens", `{`, 400, "ValidationException", "The request body is not a JSON object"},
		{"unknown token", "DELETE", "/paddock/v1/join-tokens/jt-nosuch", "", 404, "ResourceNotFoundException", "Join token not found: jt-nosuch"},
		{"not a token id", "DELETE", "/paddock/v1/join-tokens/a.b", "", 404, "ResourceNotFoundException", "Join token not found: a.b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, typ, body := call(tc.method, tc.path, tc.body)
			var e struct {
				Message string `json:"message"`
			}
			json.Unmarshal([]byte(body), &e) //nolint:errcheck // checked below
			if code != tc.status || typ != tc.errorType || !strings.HasPrefix(e.Message, tc.message) {
				t.Fatalf("%d %q %q, want %d %q %q", code, typ, e.Message, tc.status, tc.errorType, tc.message)
			}
		})
	}

	code, _, body = call("DELETE", "/paddock/v1/join-tokens/"+made.ID, "")
	var revoked JoinTokenInfo
	if code != http.StatusOK || json.Unmarshal([]byte(body), &revoked) != nil || revoked.ID != made.ID || revoked.Revoked == "" || revoked.Token != "" {
		t.Fatalf("revoke: %d %s", code, body)
	}
	code, _, body = call("GET", "/paddock/v1/join-tokens", "")
	var list JoinTokenList
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.JoinTokens) != 3 ||
		list.JoinTokens[0].ID != joinauth.BootstrapID || list.JoinTokens[1].ID != made.ID || list.JoinTokens[1].Revoked == "" {
		t.Fatalf("list: %d %s", code, body)
	}
	if strings.Contains(body, made.Token) || strings.Contains(body, `"token"`) {
		t.Fatalf("the list shows a secret: %s", body)
	}
}
