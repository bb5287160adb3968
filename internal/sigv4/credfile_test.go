package sigv4

import (
	"strings"
	"testing"
)

func TestReadCredentialsFile(t *testing.T) {
	tests := []struct {
		name, in string
		keys     int
		err      string
	}{
		{"two users", "[alice]\naws_access_key_id = AK1\naws_secret_access_key = s1\n\n# bob\n[bob]\naws_access_key_id=AK2\naws_secret_access_key=s2\nregion = x\n", 2, ""},
		{"missing secret", "[alice]\naws_access_key_id = AK1\n", 0, "needs aws_access_key_id and aws_secret_access_key"},
		{"duplicate key", "[a]\naws_access_key_id=AK\naws_secret_access_key=s\n[b]\naws_access_key_id=AK\naws_secret_access_key=t\n", 0, "appears twice"},
		{"key outside a section", "aws_access_key_id=AK\n", 0, "inside a [section]"},
		{"empty", "\n# nothing\n", 0, "no credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := ReadCredentialsFile(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(creds) != tt.keys {
				t.Fatalf("%d keys, err %v", len(creds), err)
			}
			if s, ok := creds.SecretKey("AK2"); tt.keys == 2 && (!ok || s != "s2") {
				t.Fatalf("AK2 secret %q %v", s, ok)
			}
		})
	}
}
