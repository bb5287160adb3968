package bench

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/runtimes"
)

// TestRuntimesBenchmark measures the same echo (the event back, unchanged)
// written for three runtimes, each deployed as deployEcho does (one EE of
// 64 concurrent requests, 2 vCPUs) on one `up` platform, in the same run:
// Go on provided.al2023 (aws-lambda-go), Node.js on nodejs22.x
// (aws-lambda-ric, examples/nodejs index.handler) and Python on python3.13
// (awslambdaric, examples/python handler.handler; on this machine's
// python3, mapped). Like TestInvokeBenchmark it prints and asserts nothing.
// Run it with bench/runtimes.sh; it needs scripts/install-runtimes.sh.
func TestRuntimesBenchmark(t *testing.T) {
	if os.Getenv("PADDOCK_BENCH") != "1" {
		t.Skip("set PADDOCK_BENCH=1 (or run bench/runtimes.sh) to run the runtimes benchmark")
	}
	if _, err := runtimes.CheckClientDir(filepath.Join(runtimes.DefaultDir(), "nodejs")); err != nil {
		t.Skip(err)
	}
	duration, warmup, rounds := settings(t)
	report(t, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s; %s per cell after %s warm-up",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, duration, warmup)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	if py, err = filepath.EvalSymlinks(py); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	p, err := platform.Start(ctx, platform.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		RuntimePaths: runtimes.Mapping{"python3.13": py}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)

	goZip, err := zipBootstrap(buildEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	fns := []benchFunction{
		{name: "go", runtime: types.RuntimeProvidedal2023, handler: "bootstrap", zip: goZip},
		{name: "nodejs", runtime: types.RuntimeNodejs22x, handler: "index.handler", zip: zipDir(t, "../examples/nodejs")},
		{name: "python", runtime: types.RuntimePython313, handler: "handler.handler", zip: zipDir(t, "../examples/python")},
	}
	var targets []target
	for _, fn := range fns {
		tg, err := deployFunction(ctx, t, p, fn.name, fn)
		if err != nil {
			t.Fatalf("%s: %v", fn.name, err)
		}
		targets = append(targets, *tg)
	}
	rows := measure(t, targets, concurrencies(t, 1, 16, 64), duration, warmup, rounds)
	var sb strings.Builder
	WriteTableAgainst(&sb, rows, "go")
	report(t, "\n%s", sb.String())
}

// zipDir zips the files under dir (no __pycache__) as a deployment package.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "__pycache__") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
