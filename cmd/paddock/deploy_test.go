package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeployPlanSource(t *testing.T) {
	base := t.TempDir()
	old, recent := time.Now().Add(-time.Hour), time.Now()
	// mk creates a directory holding files (name -> mode; mode 0 is 0644).
	mk := func(name string, files map[string]os.FileMode) string {
		dir := filepath.Join(base, name)
		for f, mode := range files {
			if mode == 0 {
				mode = 0o644
			}
			p := filepath.Join(dir, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil { // past the umask
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	prebuilt := mk("prebuilt", map[string]os.FileMode{"bootstrap": 0o755, "lib/data.txt": 0})
	goSrc := mk("gosrc", map[string]os.FileMode{"main.go": 0, "main_test.go": 0})
	both := mk("both", map[string]os.FileMode{"bootstrap": 0o755, "main.go": 0})
	stale := mk("stale", map[string]os.FileMode{"bootstrap": 0o755, "main.go": 0})
	if err := os.Chtimes(filepath.Join(stale, "main.go"), recent, recent); err != nil {
		t.Fatal(err)
	}
	notExec := mk("notexec", map[string]os.FileMode{"bootstrap": 0o644})
	testsOnly := mk("testsonly", map[string]os.FileMode{"x_test.go": 0})
	empty := mk("empty", nil)
	bootDir := mk("bootdir", map[string]os.FileMode{"bootstrap/x": 0})
	node := mk("node", map[string]os.FileMode{"index.mjs": 0, "node_modules/dep/index.js": 0})
	pkgJSON := mk("pkgjson", map[string]os.FileMode{"package.json": 0, "src/app.ts": 0})
	python := mk("python", map[string]os.FileMode{"lambda_function.py": 0, "requirements.txt": 0})
	zipFile := filepath.Join(mk("zips", map[string]os.FileMode{"fn.zip": 0, "notes.txt": 0}), "fn.zip")

	tests := []struct {
		name, arg string
		want      source
		wantErr   string
	}{
		{"a prebuilt bootstrap: the tree as it is", prebuilt, source{kind: sourceTree, path: prebuilt}, ""},
		{"Go source: built", goSrc, source{kind: sourceGo, path: goSrc, pkg: "."}, ""},
		{"a prebuilt bootstrap wins over Go source", both, source{kind: sourceTree, path: both}, ""},
		{"Go source newer than the bootstrap: still the bootstrap, flagged", stale, source{kind: sourceTree, path: stale, staleGo: "main.go"}, ""},
		{"an import path: built", "github.com/you/fn/cmd/handler", source{kind: sourceGo, pkg: "github.com/you/fn/cmd/handler"}, ""},
		{"a zip: uploaded as it is", zipFile, source{kind: sourceZip, path: zipFile}, ""},
		{"bootstrap not executable", notExec, source{}, "not executable"},
		{"bootstrap is a directory", bootDir, source{}, "is not a file"},
		{"a Node.js directory: zipped whole", node, source{kind: sourceNode, path: node}, ""},
		{"a package.json: Node.js", pkgJSON, source{kind: sourceNode, path: pkgJSON}, ""},
		{"a Python directory: zipped whole", python, source{kind: sourcePython, path: python}, ""},
		{"only tests", testsOnly, source{}, "no bootstrap file, Go source, Node.js or Python"},
		{"empty directory", empty, source{}, "no bootstrap file, Go source, Node.js or Python"},
		{"a missing relative path is not an import path", "./nope", source{}, "no such file or directory"},
		{"another file", filepath.Join(base, "zips", "notes.txt"), source{}, "is a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planSource(tt.arg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v (%v), want %+v (%v)", got, got.kind, tt.want, tt.want.kind)
			}
		})
	}
}

func TestDeployRuntimeFor(t *testing.T) {
	for _, tt := range []struct {
		kind                 sourceKind
		runtime, handler     string
		wantRuntime, wantHdl string
	}{
		{sourceTree, "", "", "provided.al2023", "bootstrap"},
		{sourceGo, "provided.al2", "", "provided.al2", "bootstrap"},
		{sourceNode, "", "", "nodejs22.x", "index.handler"},
		{sourceNode, "nodejs24.x", "app.main", "nodejs24.x", "app.main"},
		{sourcePython, "", "", "python3.13", "lambda_function.lambda_handler"},
		{sourceZip, "java21", "example.Echo::handleRequest", "java21", "example.Echo::handleRequest"},
	} {
		r, h := runtimeFor(source{kind: tt.kind}, tt.runtime, tt.handler)
		if r != tt.wantRuntime || h != tt.wantHdl {
			t.Errorf("%v %q %q: %s %s, want %s %s", tt.kind, tt.runtime, tt.handler, r, h, tt.wantRuntime, tt.wantHdl)
		}
	}
}

func TestDeployChooseArch(t *testing.T) {
	tests := []struct {
		name                                string
		flag, fnArch, cpArch, binArch, host string
		want, wantErr                       string
	}{
		{name: "this machine's", host: "amd64", want: "x86_64"},
		{name: "this machine's, arm", host: "arm64", want: "arm64"},
		{name: "the capacity provider's over this machine's", cpArch: "arm64", host: "amd64", want: "arm64"},
		{name: "the function's over the capacity provider's", fnArch: "x86_64", cpArch: "arm64", host: "arm64", want: "x86_64"},
		{name: "--arch over all, GOARCH spelling", flag: "amd64", fnArch: "arm64", host: "arm64", want: "x86_64"},
		{name: "a prebuilt binary's when nothing else says", binArch: "arm64", host: "amd64", want: "arm64"},
		{name: "a prebuilt binary for another arch", binArch: "arm64", cpArch: "x86_64", host: "amd64", wantErr: "built for arm64"},
		{name: "bad --arch", flag: "mips", host: "amd64", wantErr: "want x86_64 or arm64"},
		{name: "a host Lambda does not run", host: "riscv64", wantErr: "pass --arch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseArch(tt.flag, tt.fnArch, tt.cpArch, tt.binArch, tt.host)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The tree's zip keeps paths and whether files execute, and is the same
// bytes each time, so redeploying unchanged code publishes no new version.
func TestDeployZipTree(t *testing.T) {
	dir := t.TempDir()
	// .git and __pycache__ are not code: left out.
	for name, mode := range map[string]os.FileMode{"bootstrap": 0o755, "conf/app.json": 0o600, "bin/tool": 0o700,
		".git/HEAD": 0o644, "pkg/__pycache__/m.cpython-311.pyc": 0o644} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("conf/app.json", filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	first, n, err := zipTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("%d files, want 4", n)
	}
	now := time.Now()
	if err := os.Chtimes(filepath.Join(dir, "bootstrap"), now, now); err != nil {
		t.Fatal(err)
	}
	again, _, err := zipTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("zipping the same tree twice gave different bytes")
	}
	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{"bin/tool": 0o755, "bootstrap": 0o755, "conf/app.json": 0o644, "link.json": 0o644}
	for _, f := range zr.File {
		if mode, ok := want[f.Name]; !ok || f.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v (listed: %v)", f.Name, f.Mode().Perm(), mode, ok)
		}
		if f.Name == "link.json" {
			rc, _ := f.Open()
			data, _ := io.ReadAll(rc)
			rc.Close()
			if string(data) != "conf/app.json" { // the content of the file linked to
				t.Errorf("link.json holds %q", data)
			}
		}
		delete(want, f.Name)
	}
	if len(want) > 0 {
		t.Errorf("missing from the zip: %v", want)
	}
}

func TestDeployBinaryArch(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if arch, err := binaryArch(script); err != nil || arch != "" {
		t.Errorf("a script: %q, %v; want no architecture", arch, err)
	}
	macho := filepath.Join(dir, "macho")
	if err := os.WriteFile(macho, []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := binaryArch(macho); err == nil || !strings.Contains(err.Error(), "GOOS=linux") {
		t.Errorf("a Mach-O binary: %v; want an error naming GOOS=linux", err)
	}
}

func TestDeployParseEnv(t *testing.T) {
	tests := []struct {
		in      []string
		want    map[string]string
		wantErr bool
	}{
		{in: nil, want: nil},
		{in: []string{"A_B=1", "URL=http://x?a=b", "A_B=2"}, want: map[string]string{"A_B": "2", "URL": "http://x?a=b"}},
		{in: []string{""}, want: map[string]string{}},
		{in: []string{"EMPTY="}, want: map[string]string{"EMPTY": ""}},
		{in: []string{"NOVALUE"}, wantErr: true},
		{in: []string{"=v"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseEnv(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v", tt.in, err)
			continue
		}
		if tt.wantErr {
			continue
		}
		if (got == nil) != (tt.want == nil) || len(got) != len(tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestDeployInvokePayload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "event.json")
	if err := os.WriteFile(file, []byte(`{"f":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		payload, file, stdin, want string
		wantErr                    bool
	}{
		{payload: `{"a":1}`, want: `{"a":1}`},
		{payload: "-", stdin: `{"s":1}`, want: `{"s":1}`},
		{file: "-", stdin: `{"s":2}`, want: `{"s":2}`},
		{file: file, want: `{"f":1}`},
		{want: ""},
		{payload: "{}", file: file, wantErr: true},
		{file: filepath.Join(dir, "missing.json"), wantErr: true},
	}
	for _, tt := range tests {
		got, err := readPayload(tt.payload, tt.file, strings.NewReader(tt.stdin))
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("payload %q file %q: got %q, %v; want %q (error %v)", tt.payload, tt.file, got, err, tt.want, tt.wantErr)
		}
	}

	for _, tt := range []struct {
		in   string
		raw  bool
		want string
	}{
		{`{"a":1}`, false, "{\n  \"a\": 1\n}\n"},
		{`{"a":1}`, true, `{"a":1}`},
		{`not json`, false, "not json\n"},
		{``, false, ""},
	} {
		var buf bytes.Buffer
		if err := writePayload(&buf, []byte(tt.in), tt.raw); err != nil || buf.String() != tt.want {
			t.Errorf("writePayload(%q, raw %v) = %q, %v; want %q", tt.in, tt.raw, buf.String(), err, tt.want)
		}
	}
}
