package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/runtimes"
)

// managed is one managed runtime as the tests deploy it: the example of
// its family, its handlers, and what its runtime client calls things.
type managed struct {
	runtime   types.Runtime
	echo, io  string // handlers
	errorType string // of echo's {"error": ...}
	stackKey  string // the error document's stack field
}

var managedRuntimes = []managed{
	{types.RuntimeNodejs22x, "index.echo", "index.io", "Error", "trace"},
	{types.RuntimeNodejs24x, "index.echo", "index.io", "Error", "trace"},
	{types.RuntimePython313, "handler.echo", "handler.io", "ValueError", "stackTrace"},
	{types.RuntimePython314, "handler.echo", "handler.io", "ValueError", "stackTrace"},
	{types.RuntimeJava21, "example.Echo::handleRequest", "example.Io::handleRequest", "java.lang.IllegalArgumentException", "stackTrace"},
	{types.RuntimeJava25, "example.Echo::handleRequest", "example.Io::handleRequest", "java.lang.IllegalArgumentException", "stackTrace"},
}

func (m managed) family() runtimes.Family {
	r, _ := runtimes.Lookup(string(m.runtime))
	return r.Family
}

// needRuntimes skips a test where the runtime clients are not installed
// (scripts/install-runtimes.sh), or fails it where CI installed them.
func needRuntimes(t *testing.T) {
	t.Helper()
	dir := runtimes.DefaultDir()
	for _, f := range []string{"nodejs", "java"} {
		if _, err := runtimes.CheckClientDir(filepath.Join(dir, f)); err != nil {
			if os.Getenv("PADDOCK_REQUIRE_RUNTIMES") == "1" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
	}
}

// startManaged is a Paddock whose python3.13 and python3.14 run on this
// machine's python3, whatever its version, as an operator maps them.
func startManaged(t *testing.T, with ...func(*platform.Options)) *env {
	t.Helper()
	needRuntimes(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	if py, err = filepath.EvalSymlinks(py); err != nil {
		t.Fatal(err)
	}
	return startIn(t, t.TempDir(), append([]func(*platform.Options){func(o *platform.Options) {
		o.RuntimePaths = runtimes.Mapping{"python3.13": py, "python3.14": py}
	}}, with...)...)
}

var (
	managedZipsOnce sync.Once
	managedZips     map[runtimes.Family][]byte
	managedZipsErr  error
)

// managedZip is the example of m's family as a deployment zip: the
// Node.js and Python sources as they are, the Java classes compiled
// against the runtime client's aws-lambda-java-core.
func managedZip(t *testing.T, m managed) []byte {
	t.Helper()
	managedZipsOnce.Do(func() {
		root := moduleRoot(t)
		managedZips = map[runtimes.Family][]byte{}
		for _, f := range []runtimes.Family{runtimes.NodeJS, runtimes.Python} {
			files, err := readTree(filepath.Join(root, "examples", string(f)))
			if err != nil {
				managedZipsErr = err
				return
			}
			managedZips[f] = zipOf(files)
		}
		classes, err := os.MkdirTemp("", "paddock-java-example-")
		if err != nil {
			managedZipsErr = err
			return
		}
		defer os.RemoveAll(classes)
		java, _ := runtimes.Lookup("java21")
		choice, err := runtimes.Resolve(context.Background(), java, nil, runtimes.DefaultDir())
		if err != nil {
			managedZipsErr = err
			return
		}
		core, _ := filepath.Glob(filepath.Join(runtimes.ClientDir(runtimes.DefaultDir(), java, choice.Version), "lib", "aws-lambda-java-core-*.jar"))
		if len(core) == 0 {
			managedZipsErr = fmt.Errorf("no aws-lambda-java-core in the Java runtime client")
			return
		}
		srcs, _ := filepath.Glob(filepath.Join(root, "examples", "java", "src", "example", "*.java"))
		args := append([]string{"--release", "21", "-cp", core[0], "-d", classes}, srcs...)
		if out, err := exec.Command(filepath.Join(filepath.Dir(choice.Real), "javac"), args...).CombinedOutput(); err != nil {
			managedZipsErr = fmt.Errorf("javac: %v\n%s", err, out)
			return
		}
		files, err := readTree(classes)
		if err != nil {
			managedZipsErr = err
			return
		}
		managedZips[runtimes.Java] = zipOf(files)
	})
	if managedZipsErr != nil {
		t.Fatal(managedZipsErr)
	}
	return managedZips[m.family()]
}

// readTree reads every file under dir by its slash path.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "__pycache__") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	return files, err
}

// echoAnswer is what the examples' echo handlers answer.
type echoAnswer struct {
	Event       map[string]any `json:"event"`
	RequestID   string         `json:"requestId"`
	FunctionARN string         `json:"functionArn"`
	Memory      any            `json:"memoryLimitInMB"` // a string in Node.js, as on Lambda
	RemainingMs int64          `json:"remainingMs"`
	PID         int            `json:"pid"`
	Thread      any            `json:"thread"`
	Required    string         `json:"required"`
	Imported    string         `json:"imported"`
}

// errorDoc is a function error as the runtime clients send it.
type errorDoc map[string]any

func invokeJSON(t *testing.T, e *env, name, qualifier, payload string, out any) *lambda.InvokeOutput {
	t.Helper()
	res, err := e.invoke(name, qualifier, payload)
	if err != nil {
		t.Fatalf("invoke %s %s: %v", name, payload, err)
	}
	if out != nil {
		if err := json.Unmarshal(res.Payload, out); err != nil {
			t.Fatalf("invoke %s %s: %v in %s", name, payload, err, res.Payload)
		}
	}
	return res
}

// TestManagedRuntimesDefaultMode deploys each runtime's example without a
// capacity provider, as users bring their zips: the echo comes back with
// the context the runtime client built, handler errors are Lambda's error
// documents, a timeout fails its invoke alone, and a crash is replaced.
func TestManagedRuntimesDefaultMode(t *testing.T) {
	e := startManaged(t)
	for _, m := range managedRuntimes {
		t.Run(string(m.runtime), func(t *testing.T) {
			t.Parallel()
			name := "dm-" + strings.ReplaceAll(string(m.runtime), ".", "-")
			if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: m.runtime, Handler: aws.String(m.echo), Role: aws.String(roleARN),
				Code: &types.FunctionCode{ZipFile: managedZip(t, m)}, MemorySize: aws.Int32(512), Timeout: aws.Int32(3),
				LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson},
			}); err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			e.settled(name)

			var a echoAnswer
			res := invokeJSON(t, e, name, "", `{"hello":"world"}`, &a)
			if res.FunctionError != nil {
				t.Fatalf("echo failed: %s", res.Payload)
			}
			if a.Event["hello"] != "world" || fmt.Sprint(a.Memory) != "512" || !strings.HasSuffix(a.FunctionARN, ":function:"+name) ||
				a.RemainingMs <= 0 || a.RemainingMs > 3000 || a.RequestID == "" {
				t.Fatalf("echo: %+v", a)
			}

			// A handler's error is the client's error document.
			res = invokeJSON(t, e, name, "", `{"error":"boom"}`, nil)
			var doc errorDoc
			json.Unmarshal(res.Payload, &doc) //nolint:errcheck // checked below
			if aws.ToString(res.FunctionError) != "Unhandled" || doc["errorType"] != m.errorType ||
				!strings.Contains(fmt.Sprint(doc["errorMessage"]), "boom") || doc[m.stackKey] == nil {
				t.Fatalf("handler error: %s %s, want %s with %s", aws.ToString(res.FunctionError), res.Payload, m.errorType, m.stackKey)
			}

			// A timeout fails that invoke; the function goes on.
			res = invokeJSON(t, e, name, "", `{"sleepMs":6000}`, nil)
			if aws.ToString(res.FunctionError) != "Unhandled" || !strings.Contains(string(res.Payload), "Task timed out") {
				t.Fatalf("timeout: %s %s", aws.ToString(res.FunctionError), res.Payload)
			}
			// A crashed runtime fails its invoke; the next gets a new EE.
			res = invokeJSON(t, e, name, "", `{"crash":true}`, nil)
			if aws.ToString(res.FunctionError) != "Unhandled" || !strings.Contains(string(res.Payload), "Runtime.ExitError") {
				t.Fatalf("crash: %s %s", aws.ToString(res.FunctionError), res.Payload)
			}
			var b echoAnswer
			if res := invokeJSON(t, e, name, "", `{"again":true}`, &b); res.FunctionError != nil || b.PID == 0 {
				t.Fatalf("after the crash: %s", res.Payload)
			}
		})
	}
}

// TestManagedRuntimesOnLMI runs each runtime's I/O-bound example on a
// capacity provider with 4 concurrent requests per EE, and checks each
// concurrency model of Lambda Managed Instances: Node.js one process with
// concurrent async handlers, Python a process per request, Java a thread
// per request in one process.
func TestManagedRuntimesOnLMI(t *testing.T) {
	e := startManaged(t)
	cp := e.capacityProvider("cp-runtimes")
	for _, m := range managedRuntimes {
		t.Run(string(m.runtime), func(t *testing.T) {
			name := "lmi-" + strings.ReplaceAll(string(m.runtime), ".", "-")
			lmiManaged(t, e, name, cp, m, m.io)
			type ioAnswer struct {
				PID     int     `json:"pid"`
				Thread  any     `json:"thread"`
				Started float64 `json:"started"`
				Ended   float64 `json:"ended"`
			}
			answers := make([]ioAnswer, 4)
			var wg sync.WaitGroup
			for i := range answers {
				wg.Go(func() {
					res := invokeJSON(t, e, name, "1", `{"ms":1500}`, &answers[i])
					if res.FunctionError != nil {
						t.Errorf("io: %s", res.Payload)
					}
				})
			}
			wg.Wait()
			pids, threads := map[int]bool{}, map[string]bool{}
			latestStart, firstEnd := answers[0].Started, answers[0].Ended
			for _, a := range answers {
				pids[a.PID] = true
				threads[fmt.Sprint(a.Thread)] = true
				latestStart, firstEnd = max(latestStart, a.Started), min(firstEnd, a.Ended)
			}
			if latestStart >= firstEnd {
				t.Errorf("the 4 invokes did not overlap: %+v", answers)
			}
			switch m.family() {
			case runtimes.NodeJS:
				if len(pids) != 1 {
					t.Errorf("Node.js: %d processes, want 1: %+v", len(pids), answers)
				}
			case runtimes.Python:
				if len(pids) != 4 {
					t.Errorf("Python: %d processes for 4 concurrent requests, want 4: %+v", len(pids), answers)
				}
			case runtimes.Java:
				if len(pids) != 1 || len(threads) != 4 {
					t.Errorf("Java: %d processes and %d threads for 4 concurrent requests, want 1 and 4: %+v", len(pids), len(threads), answers)
				}
			}
		})
	}
}

// TestManagedRuntimeInitErrorFailsTheVersion publishes a Node.js and a
// Python function whose handler module is missing: the runtime client's
// init error makes the version Failed, with its reason.
func TestManagedRuntimeInitErrorFailsTheVersion(t *testing.T) {
	e := startManaged(t)
	cp := e.capacityProvider("cp-initerr")
	for _, m := range []managed{managedRuntimes[0], managedRuntimes[2]} {
		t.Run(string(m.runtime), func(t *testing.T) {
			name := "initerr-" + strings.ReplaceAll(string(m.runtime), ".", "-")
			if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: m.runtime, Handler: aws.String("missing.echo"), Role: aws.String(roleARN),
				Code: &types.FunctionCode{ZipFile: managedZip(t, m)}, MemorySize: aws.Int32(2048),
				CapacityProviderConfig: &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &types.LambdaManagedInstancesCapacityProviderConfig{
					CapacityProviderArn: aws.String(cp)}},
			}); err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			e.scale(name, "$LATEST.PUBLISHED", 1, 1)
			e.settled(name)
			out, err := e.lambda.PublishVersion(ctx(t), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			st := e.waitState(name, aws.ToString(out.Version), func(s types.State) bool { return s == types.StateFailed || s == types.StateActive })
			c, err := e.lambda.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name), Qualifier: out.Version})
			if err != nil {
				t.Fatal(err)
			}
			if st != types.StateFailed || !strings.Contains(aws.ToString(c.StateReason), "Runtime.ImportModuleError") {
				t.Fatalf("version %s: %s (%s: %s), want Failed with Runtime.ImportModuleError", aws.ToString(out.Version), st, c.StateReasonCode, aws.ToString(c.StateReason))
			}
		})
	}
}

// TestManagedRuntimeLayers gives a Node.js and a Python function a layer
// of their family's layout (nodejs/node_modules, python): the handler
// loads its module from /opt.
func TestManagedRuntimeLayers(t *testing.T) {
	e := startManaged(t)
	layers := map[runtimes.Family][]byte{
		runtimes.NodeJS: zipOf(map[string][]byte{"nodejs/node_modules/greeting/index.js": []byte(`exports.hello = () => "hello from a layer";` + "\n")}),
		runtimes.Python: zipOf(map[string][]byte{"python/greeting.py": []byte("def hello():\n    return 'hello from a layer'\n")}),
	}
	for _, m := range []managed{managedRuntimes[0], managedRuntimes[2]} {
		t.Run(string(m.runtime), func(t *testing.T) {
			name := "layered-" + strings.ReplaceAll(string(m.runtime), ".", "-")
			layer := e.publishLayer("greeting-"+string(m.family()), layers[m.family()], []types.Runtime{m.runtime}, nil)
			// A second layer over the first: later layers win, as on Lambda.
			over := e.publishLayer("over-"+string(m.family()), zipOf(map[string][]byte{"README": []byte("second layer\n")}), nil, nil)
			if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: m.runtime, Handler: aws.String(m.echo), Role: aws.String(roleARN),
				Code:   &types.FunctionCode{ZipFile: managedZip(t, m)},
				Layers: []string{aws.ToString(layer.LayerVersionArn), aws.ToString(over.LayerVersionArn)},
			}); err != nil {
				t.Fatalf("CreateFunction: %v", err)
			}
			e.settled(name)
			var a echoAnswer
			res := invokeJSON(t, e, name, "", `{"require":"greeting","import":"greeting"}`, &a)
			if got := a.Required + a.Imported; res.FunctionError != nil || got != "hello from a layer" {
				t.Fatalf("layer module: %q (%s)", got, res.Payload)
			}
		})
	}
}

// TestManagedRuntimeRefusals: a runtime this machine cannot run is
// refused at CreateFunction with why; a managed runtime needs a Handler.
func TestManagedRuntimeRefusals(t *testing.T) {
	e := startIn(t, t.TempDir(), func(o *platform.Options) {
		// Nothing installed there: every managed runtime is unavailable.
		o.RuntimesDir = t.TempDir()
		o.RuntimePaths = runtimes.Mapping{"python3.13": "/nonexistent/python3"}
	})
	for _, tc := range []struct {
		runtime types.Runtime
		handler string
		code    string
		msg     string
	}{
		{types.RuntimeDotnet8, "a::b::c", "InvalidParameterValueException", "The runtime parameter of dotnet8 is not supported by this Paddock installation: it needs a .NET runtime"},
		{types.RuntimePython313, "handler.echo", "InvalidParameterValueException", "its interpreter /nonexistent/python3 (mapped by the operator) cannot be used"},
		{types.RuntimeNodejs22x, "index.echo", "InvalidParameterValueException", "no node 22 or newer on this machine"},
		{types.RuntimeNodejs20x, "index.echo", "InvalidParameterValueException", "The runtime parameter of nodejs20.x is not supported by this Paddock installation"},
	} {
		_, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
			FunctionName: aws.String("refused"), Runtime: tc.runtime, Handler: aws.String(tc.handler), Role: aws.String(roleARN),
			Code: &types.FunctionCode{ZipFile: zipOf(map[string][]byte{"index.mjs": []byte("export const echo = async e => e;\n")})},
		})
		apiError(t, err, tc.code)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q in it", tc.runtime, err, tc.msg)
		}
	}
	_, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("nohandler"), Runtime: types.RuntimeNodejs22x, Role: aws.String(roleARN),
		Code: &types.FunctionCode{ZipFile: zipOf(map[string][]byte{"index.mjs": []byte("export const echo = async e => e;\n")})},
	})
	apiError(t, err, "ValidationException")
}

// TestManagedRuntimeJSONLogs: on LMI (JSON logs) the runtime clients'
// own lines keep their request id, so each of 4 concurrent invokes on one
// EE finds its line in the function's log stream under its own id.
func TestManagedRuntimeJSONLogs(t *testing.T) {
	e := startManaged(t)
	cp := e.capacityProvider("cp-logs")
	for _, m := range []managed{managedRuntimes[0], managedRuntimes[2], managedRuntimes[4]} {
		t.Run(string(m.runtime), func(t *testing.T) {
			name := "logs-" + strings.ReplaceAll(string(m.runtime), ".", "-")
			lmiManaged(t, e, name, cp, m, m.echo)
			ids := make([]string, 4)
			var wg sync.WaitGroup
			for i := range ids {
				wg.Go(func() {
					res := invokeJSON(t, e, name, "1", fmt.Sprintf(`{"token":"tok-%d","sleepMs":300}`, i), nil)
					if res.FunctionError != nil {
						t.Errorf("echo: %s", res.Payload)
					}
					ids[i] = requestID(t, res.ResultMetadata)
				})
			}
			wg.Wait()
			waitOutput(t, "each invoke's line under its request id", func() (string, bool) {
				var all strings.Builder
				echoed := map[string]bool{}
				for _, r := range e.fetchLogs(name, "") {
					fmt.Fprintf(&all, "%s %s\n", r.RequestID, r.Message)
					// The handler's own line, which names its request too.
					if strings.Contains(r.Message, "echoed") && strings.Contains(r.Message, r.RequestID) {
						echoed[r.RequestID] = true
					}
				}
				for _, id := range ids {
					if !echoed[id] {
						return all.String(), false
					}
				}
				return all.String(), true
			})
		})
	}
}

// TestDeployManagedRuntimeDirectories: `paddock deploy` packages a
// Node.js and a Python directory as they are, on their runtimes, with the
// handler given, and `paddock invoke` runs them.
func TestDeployManagedRuntimeDirectories(t *testing.T) {
	e := startManaged(t)
	bin := paddockBinary(t)
	env := cliEnv(t, "AWS_ACCESS_KEY_ID="+e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+e.p.SecretAccessKey)
	endpoint := "--endpoint=" + e.p.Endpoint
	for _, tc := range []struct{ dir, name, handler, runtime string }{
		{"./examples/nodejs", "cli-node", "index.echo", "nodejs22.x"},
		{"./examples/python", "cli-python", "handler.echo", "python3.13"},
	} {
		r := runCLI(t, bin, env, "", "deploy", tc.dir, "--name", tc.name, "--handler", tc.handler, endpoint)
		if r.code != 0 || !strings.Contains(r.stdout, tc.name+" version 1 (default mode): Active") {
			t.Fatalf("deploy %s:\n%v", tc.dir, r)
		}
		c, err := e.lambda.GetFunctionConfiguration(ctx(t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(tc.name)})
		if err != nil || string(c.Runtime) != tc.runtime || aws.ToString(c.Handler) != tc.handler {
			t.Fatalf("%s: %+v %v, want %s with handler %s", tc.name, c, err, tc.runtime, tc.handler)
		}
		r = runCLI(t, bin, env, "", "invoke", tc.name+":1", "--payload", `{"from":"cli"}`, endpoint)
		var a echoAnswer
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &a) != nil || a.Event["from"] != "cli" {
			t.Fatalf("invoke %s:\n%v", tc.name, r)
		}
	}
}

// TestManagedRuntimeLogLevels: a function's ApplicationLogLevel reaches
// its runtime client (AWS_LAMBDA_LOG_LEVEL), which drops the handler's
// INFO line at WARN and keeps it at INFO; in Text format a line stays as
// the handler printed it.
func TestManagedRuntimeLogLevels(t *testing.T) {
	e := startManaged(t)
	for _, m := range []managed{managedRuntimes[0], managedRuntimes[2]} {
		for _, tc := range []struct {
			name    string
			logging *types.LoggingConfig
			echoed  bool
			json    bool
		}{
			{"info", &types.LoggingConfig{LogFormat: types.LogFormatJson, ApplicationLogLevel: types.ApplicationLogLevelInfo}, true, true},
			{"warn", &types.LoggingConfig{LogFormat: types.LogFormatJson, ApplicationLogLevel: types.ApplicationLogLevelWarn}, false, true},
			{"text", &types.LoggingConfig{LogFormat: types.LogFormatText}, m.family() == runtimes.NodeJS, false},
		} {
			t.Run(string(m.runtime)+"/"+tc.name, func(t *testing.T) {
				name := "lvl-" + tc.name + "-" + strings.ReplaceAll(string(m.runtime), ".", "-")
				if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
					FunctionName: aws.String(name), Runtime: m.runtime, Handler: aws.String(m.echo), Role: aws.String(roleARN),
					Code: &types.FunctionCode{ZipFile: managedZip(t, m)}, LoggingConfig: tc.logging,
				}); err != nil {
					t.Fatalf("CreateFunction: %v", err)
				}
				e.settled(name)
				out, tail := e.tailInvoke(name, "", `{"level":"test"}`)
				if out.FunctionError != nil {
					t.Fatalf("echo: %s", out.Payload)
				}
				if got := strings.Contains(tail, "echoed"); got != tc.echoed {
					t.Fatalf("the handler's INFO line in the log: %v, want %v:\n%s", got, tc.echoed, tail)
				}
				// A JSON line names its level as a field; a text one (Node.js's
				// console) between tabs.
				isJSON := strings.Contains(tail, `"level":"INFO"`) || strings.Contains(tail, `"level": "INFO"`) // Python spaces it
				if tc.echoed && isJSON != tc.json {
					t.Fatalf("JSON lines %v, want %v:\n%s", !tc.json, tc.json, tail)
				}
				if tc.echoed && !tc.json && !strings.Contains(tail, "\tINFO\t") {
					t.Fatalf("want Node.js's text line:\n%s", tail)
				}
			})
		}
	}
}

// lmiManaged creates name on capacity provider cp with m's handler, 4
// concurrent requests per EE and one EE, and publishes version 1, Active.
func lmiManaged(t *testing.T, e *env, name, cp string, m managed, handler string) {
	t.Helper()
	if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: m.runtime, Handler: aws.String(handler), Role: aws.String(roleARN),
		Code: &types.FunctionCode{ZipFile: managedZip(t, m)}, MemorySize: aws.Int32(2048), Timeout: aws.Int32(30),
		CapacityProviderConfig: &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &types.LambdaManagedInstancesCapacityProviderConfig{
			CapacityProviderArn: aws.String(cp), PerExecutionEnvironmentMaxConcurrency: aws.Int32(4)}},
	}); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	e.scale(name, "$LATEST.PUBLISHED", 1, 1)
	if v, st := e.publish(name); st != types.StateActive {
		t.Fatalf("version %s is %s", v, st)
	}
}
