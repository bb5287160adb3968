package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProfileSetINISection(t *testing.T) {
	keys := [][2]string{{"endpoint_url", "http://127.0.0.1:9400"}, {"region", "us-east-1"}}
	tests := []struct {
		name, src, want string
	}{
		{
			name: "empty file",
			src:  "",
			want: "[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
		},
		{
			name: "appended after other sections, a blank line between",
			src:  "# mine\n[default]\nregion = eu-west-1",
			want: "# mine\n[default]\nregion = eu-west-1\n\n[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
		},
		{
			name: "replaced in place, other sections and every comment kept",
			src: "# my config\n[default]\nregion = eu-west-1\n\n" +
				"[profile paddock]\n# written by paddock up\nendpoint_url = http://old:1\nregion = us-west-2\noutput = json\n\n" +
				"# work account\n[profile work]\nregion = eu-central-1\n",
			want: "# my config\n[default]\nregion = eu-west-1\n\n" +
				"[profile paddock]\n# written by paddock up\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n\n" +
				"# work account\n[profile work]\nregion = eu-central-1\n",
		},
		{
			name: "stale keys and their nested lines go",
			src:  "[profile paddock]\nrole_arn = arn:aws:iam::1:role/x\ns3 =\n  max_concurrent_requests = 10\n; note\nsource_profile = base\n[profile base]\nregion = x\n",
			want: "[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n; note\n[profile base]\nregion = x\n",
		},
		{
			name: "a section without keys gets them under its header",
			src:  "[profile paddock]\n# empty\n[profile b]\n",
			want: "[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n# empty\n[profile b]\n",
		},
		{
			name: "header spacing as botocore reads it",
			src:  "[ profile   paddock ]\nregion = x\n",
			want: "[ profile   paddock ]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
		},
		{
			name: "a similar name is another profile",
			src:  "[profile paddock2]\nregion = x\n",
			want: "[profile paddock2]\nregion = x\n\n[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
		},
		{
			name: "CRLF files stay CRLF",
			src:  "[default]\r\nregion = x\r\n",
			want: "[default]\r\nregion = x\r\n\r\n[profile paddock]\r\nendpoint_url = http://127.0.0.1:9400\r\nregion = us-east-1\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := setINISection(tt.src, "profile paddock", keys); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestWriteAWSProfile(t *testing.T) {
	tests := []struct {
		name string
		// config and creds are the files' contents before, nil for none.
		config, creds          *string
		wantConfig, wantCreds  string
		wantConfigMode         os.FileMode
		configEnv, credentials bool // point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE elsewhere
	}{
		{
			name:           "new files, 0600 in a 0700 directory",
			wantConfig:     "[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
			wantCreds:      "[paddock]\naws_access_key_id = AKID\naws_secret_access_key = s3cret\n",
			wantConfigMode: 0o600,
		},
		{
			name:           "existing paddock sections replaced, others kept, mode kept",
			config:         profileText("[default]\nregion = eu-west-1\n\n[profile paddock]\nendpoint_url = http://old:1\nregion = x\n"),
			creds:          profileText("# keys\n[default]\naws_access_key_id = MINE\naws_secret_access_key = mine\n\n[paddock]\naws_access_key_id = OLD\naws_secret_access_key = old\naws_session_token = stale\n"),
			wantConfig:     "[default]\nregion = eu-west-1\n\n[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
			wantCreds:      "# keys\n[default]\naws_access_key_id = MINE\naws_secret_access_key = mine\n\n[paddock]\naws_access_key_id = AKID\naws_secret_access_key = s3cret\n",
			wantConfigMode: 0o644,
		},
		{
			name:           "AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE win",
			configEnv:      true,
			credentials:    true,
			wantConfig:     "[profile paddock]\nendpoint_url = http://127.0.0.1:9400\nregion = us-east-1\n",
			wantCreds:      "[paddock]\naws_access_key_id = AKID\naws_secret_access_key = s3cret\n",
			wantConfigMode: 0o600,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "home", ".aws")
			configPath, credsPath := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
			t.Setenv("AWS_CONFIG_FILE", "")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
			if tt.configEnv {
				configPath = filepath.Join(base, "elsewhere", "cfg")
				t.Setenv("AWS_CONFIG_FILE", configPath)
			}
			if tt.credentials {
				credsPath = filepath.Join(base, "elsewhere", "creds")
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsPath)
			}
			if tt.config != nil {
				writeProfileFile(t, configPath, *tt.config, 0o644)
			}
			if tt.creds != nil {
				writeProfileFile(t, credsPath, *tt.creds, 0o600)
			}
			if err := writeAWSProfile(dir, "paddock", "http://127.0.0.1:9400", "us-east-1", "AKID", "s3cret"); err != nil {
				t.Fatal(err)
			}
			checkProfileFile(t, configPath, tt.wantConfig, tt.wantConfigMode)
			checkProfileFile(t, credsPath, tt.wantCreds, 0o600)
			if tt.config == nil {
				if fi, err := os.Stat(filepath.Dir(configPath)); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("directory %s: %v, %v; want mode 0700", filepath.Dir(configPath), fi.Mode(), err)
				}
			}
			if _, err := os.Stat(dir); tt.configEnv && tt.credentials && err == nil {
				t.Errorf("%s was created, though both files are elsewhere", dir)
			}
		})
	}
}

// A dotfile manager's link stays a link: the file it points to is written.
func TestWriteAWSProfileThroughSymlink(t *testing.T) {
	base := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
	real := filepath.Join(base, "dotfiles", "aws-config")
	writeProfileFile(t, real, "[default]\nregion = x\n", 0o644)
	dir := filepath.Join(base, ".aws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "config")); err != nil {
		t.Fatal(err)
	}
	if err := writeAWSProfile(dir, "paddock", "http://e", "r", "k", "s"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "config")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("config is no longer a link: %v %v", fi.Mode(), err)
	}
	checkProfileFile(t, real, "[default]\nregion = x\n\n[profile paddock]\nendpoint_url = http://e\nregion = r\n", 0o644)
}

func profileText(s string) *string { return &s }

func writeProfileFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func checkProfileFile(t *testing.T, path, want string, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s:\n%s\nwant\n%s", filepath.Base(path), got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), fi.Mode().Perm(), mode)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.paddock-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
