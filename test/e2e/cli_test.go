package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// cliEnv is the environment the paddock binary runs with: an empty HOME so
// the developer's AWS variables and ~/.aws cannot leak in, but this
// machine's Go caches, so that deploy's go build is as warm as the test's.
func cliEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	goenv := strings.Split(strings.TrimSpace(string(out)), "\n")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"GOCACHE=" + goenv[0], "GOMODCACHE=" + goenv[1], "GOPATH=" + goenv[2],
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "GOFLAGS" || k == "GOPROXY" || k == "GOTOOLCHAIN" || k == "TMPDIR" {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the paddock binary from the repository root.
func runCLI(t *testing.T, bin string, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, bin, args...)
	cmd.Dir = moduleRoot(t)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := cliResult{stdout: o.String(), stderr: e.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("paddock %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// compactJSON is s without the indentation paddock invoke adds.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return buf.String()
}

// TestCLIDeployAndInvoke: paddock deploy builds, creates, publishes and
// waits for Active; deploying again with new settings publishes the next
// version; paddock invoke prints the payload and exits 1 on a function
// error and 2 when no invoke happened.
func TestCLIDeployAndInvoke(t *testing.T) {
	e := start(t)
	e.capacityProvider("cp")
	bin := paddockBinary(t)
	env := cliEnv(t, "AWS_ACCESS_KEY_ID="+e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+e.p.SecretAccessKey)
	endpoint := "--endpoint=" + e.p.Endpoint

	r := runCLI(t, bin, env, "", "deploy", "./examples/echo", "--name", "cli-echo", "--capacity-provider", "cp", endpoint)
	if r.code != 0 || !strings.Contains(r.stdout, "cli-echo version 1") || !strings.Contains(r.stdout, "Active") ||
		!strings.Contains(r.stdout, "paddock invoke cli-echo:1") {
		t.Fatalf("deploy: want version 1 Active and an invoke line:\n%v", r)
	}
	if !strings.Contains(r.stderr, "EEs ready") {
		t.Errorf("deploy showed no EE progress:\n%v", r)
	}
	c := ctx(t)
	v1, err := e.lambda.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("cli-echo"), Qualifier: aws.String("1")})
	if err != nil || v1.State != types.StateActive || aws.ToInt32(v1.MemorySize) != 2048 || v1.CapacityProviderConfig == nil {
		t.Fatalf("version 1: %+v, %v; want Active, 2048 MB, on the capacity provider", v1, err)
	}

	r = runCLI(t, bin, env, "", "invoke", "cli-echo:1", "--payload", `{"a":1}`, endpoint)
	if r.code != 0 || compactJSON(t, r.stdout) != `{"a":1}` || !strings.Contains(r.stderr, "executed version 1") {
		t.Fatalf("invoke: want {\"a\":1} from version 1:\n%v", r)
	}

	// Unqualified, it runs $LATEST.PUBLISHED, which deploy points at the version it published.
	r = runCLI(t, bin, env, "", "invoke", "cli-echo", "--payload", `{"u":1}`, endpoint)
	if r.code != 0 || compactJSON(t, r.stdout) != `{"u":1}` {
		t.Fatalf("unqualified invoke after deploy: want {\"u\":1}:\n%v", r)
	}

	r = runCLI(t, bin, env, "", "deploy", "./examples/echo", "--name", "cli-echo", "--memory", "4096", endpoint)
	if r.code != 0 || !strings.Contains(r.stdout, "cli-echo version 2") || !strings.Contains(r.stdout, "Active") {
		t.Fatalf("deploy with --memory 4096: want version 2 Active:\n%v", r)
	}
	v2, err := e.lambda.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("cli-echo"), Qualifier: aws.String("2")})
	if err != nil || aws.ToInt32(v2.MemorySize) != 4096 || aws.ToString(v2.CodeSha256) != aws.ToString(v1.CodeSha256) {
		t.Fatalf("version 2: %+v, %v; want 4096 MB and the same code", v2, err)
	}

	// Default mode: no capacity provider, nothing to wait for.
	r = runCLI(t, bin, env, "", "deploy", "./examples/echo", "--name", "cli-plain", endpoint)
	if r.code != 0 || !strings.Contains(r.stdout, "cli-plain version 1 (default mode): Active") {
		t.Fatalf("default-mode deploy:\n%v", r)
	}
	r = runCLI(t, bin, env, `{"b":2}`, "invoke", "cli-plain:1", "--payload", "-", "--log", endpoint)
	if r.code != 0 || compactJSON(t, r.stdout) != `{"b":2}` || !strings.Contains(r.stderr, "REPORT RequestId") {
		t.Fatalf("invoke the default-mode function with its log:\n%v", r)
	}

	r = runCLI(t, bin, env, "", "invoke", "cli-echo:1", "--payload", `{"error":"x"}`, endpoint)
	if r.code != 1 || !strings.Contains(r.stdout, `"errorMessage": "x"`) || !strings.Contains(r.stderr, "function error (Unhandled): x") {
		t.Fatalf("a function error: want exit 1, the error payload and the error:\n%v", r)
	}
	r = runCLI(t, bin, env, "", "invoke", "cli-nope", endpoint)
	if r.code != 2 || !strings.Contains(r.stderr, "ResourceNotFoundException") {
		t.Fatalf("a missing function: want exit 2 and ResourceNotFoundException:\n%v", r)
	}
}

// TestCLIWriteAWSProfile: paddock up --write-aws-profile writes a profile
// the AWS CLI and paddock's own verbs use with no endpoint or keys given.
func TestCLIWriteAWSProfile(t *testing.T) {
	bin := paddockBinary(t)
	dir := t.TempDir()
	configPath, credsPath := filepath.Join(dir, "aws", "config"), filepath.Join(dir, "aws", "credentials")
	// Another profile already there must survive.
	if err := os.MkdirAll(filepath.Dir(configPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath, []byte("# mine\n[profile work]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsFiles := []string{"AWS_CONFIG_FILE=" + configPath, "AWS_SHARED_CREDENTIALS_FILE=" + credsPath}

	cmd := exec.Command(bin, "up", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--write-aws-profile")
	cmd.Env = cliEnv(t, append(awsFiles, "PADDOCK_ACCESS_KEY_ID=AKIDPROFILETEST", "PADDOCK_SECRET_ACCESS_KEY=profile-test-secret")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // the exit is checked through exited
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var endpoint, seen string
	for wrote := false; !wrote; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("paddock up ended before writing the profile:\n%s\n%s", seen, stderr.String())
			}
			seen += line + "\n"
			if i := strings.Index(line, "listens on "); i >= 0 {
				endpoint = strings.Fields(line[i+len("listens on "):])[0]
			}
			wrote = strings.HasPrefix(line, "wrote AWS profile 'paddock': aws --profile paddock lambda list-functions")
		case <-time.After(60 * time.Second):
			t.Fatalf("no profile written after 60s:\n%s\n%s", seen, stderr.String())
		}
	}

	config, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	want := "# mine\n[profile work]\nregion = eu-west-1\n\n[profile paddock]\nendpoint_url = " + endpoint + "\nregion = us-east-1\n"
	if string(config) != want {
		t.Errorf("config:\n%s\nwant\n%s", config, want)
	}
	creds, err := os.ReadFile(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[paddock]\naws_access_key_id = AKIDPROFILETEST\naws_secret_access_key = profile-test-secret\n"; string(creds) != want {
		t.Errorf("credentials:\n%s\nwant\n%s", creds, want)
	}
	if fi, err := os.Stat(credsPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode: %v, %v; want 0600", fi.Mode(), err)
	}

	// paddock's own verbs take the endpoint from the profile too.
	env := cliEnv(t, awsFiles...)
	r := runCLI(t, bin, env, "", "deploy", "./examples/echo", "--name", "via-profile", "--profile", "paddock")
	if r.code != 0 || !strings.Contains(r.stdout, "via-profile version 1") {
		t.Fatalf("deploy --profile paddock:\n%v", r)
	}

	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Log("no aws command: skipping aws --profile paddock")
		return
	}
	list := exec.Command(awsCLI, "--profile", "paddock", "lambda", "list-functions", "--output", "json")
	list.Env = append(env, "AWS_PAGER=")
	out, err := list.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"FunctionName": "via-profile"`) {
		t.Fatalf("aws --profile paddock lambda list-functions: %v\n%s", err, out)
	}
}
