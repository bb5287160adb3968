package runtimes

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	tests := []struct {
		name    string
		family  Family
		version Version
		perVCPU int
		model   Model
	}{
		{"nodejs22.x", NodeJS, Version{22, 0}, 64, WorkerThreads},
		{"nodejs24.x", NodeJS, Version{24, 0}, 64, WorkerThreads},
		{"python3.13", Python, Version{3, 13}, 16, ForkedProcesses},
		{"python3.14", Python, Version{3, 14}, 16, ForkedProcesses},
		{"java21", Java, Version{21, 0}, 32, Threads},
		{"java25", Java, Version{25, 0}, 32, Threads},
	}
	if len(All()) != len(tests) {
		t.Fatalf("All() has %d runtimes, want %d", len(All()), len(tests))
	}
	for _, tt := range tests {
		r, ok := Lookup(tt.name)
		if !ok {
			t.Fatalf("Lookup(%q) not found", tt.name)
		}
		if r.Family != tt.family || r.Version != tt.version || r.PerVCPU != tt.perVCPU || r.Model != tt.model {
			t.Errorf("%s = %+v", tt.name, r)
		}
		if got := r.DefaultConcurrency(4); got != 4*tt.perVCPU {
			t.Errorf("%s DefaultConcurrency(4) = %d", tt.name, got)
		}
		if got := r.DefaultConcurrency(0); got != tt.perVCPU {
			t.Errorf("%s DefaultConcurrency(0) = %d", tt.name, got)
		}
		for _, c := range []int{1, 16, 64} {
			if got := r.Processes(c); got != 1 {
				t.Errorf("%s Processes(%d) = %d, want 1", tt.name, c, got)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		reason string // "" for accepted
	}{
		{"nodejs22.x", ""},
		{"java25", ""},
		{"provided.al2023", ""},
		{"provided.al2", ""},
		{"dotnet8", "needs a .NET runtime"},
		{"dotnet10", "needs a .NET runtime"},
		{"ruby3.4", "Paddock runs nodejs22.x, nodejs24.x, python3.13, python3.14, java21, java25"},
		{"python3.12", "Paddock runs"},
	}
	for _, tt := range tests {
		err := Check(tt.name)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("Check(%q) = %v", tt.name, err)
			}
			continue
		}
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Runtime != tt.name || !strings.Contains(ue.Reason, tt.reason) {
			t.Errorf("Check(%q) = %v, want a refusal with %q", tt.name, err, tt.reason)
			continue
		}
		if !strings.HasPrefix(err.Error(), "The runtime parameter of "+tt.name+" is not supported") {
			t.Errorf("Check(%q) message = %q", tt.name, err)
		}
	}
}

func TestCommand(t *testing.T) {
	node22, _ := Lookup("nodejs22.x")
	node24, _ := Lookup("nodejs24.x")
	py313, _ := Lookup("python3.13")
	java21, _ := Lookup("java21")
	tests := []struct {
		name     string
		r        Runtime
		s        Start
		argv     []string
		env      map[string]string // must be in Env
		defaults map[string]string // must be in Defaults
		absent   []string          // keys in neither
	}{
		{
			name: "node LMI", r: node22,
			s:    Start{Handler: "index.handler", Interpreter: "/var/lang/bin/node", MaxConcurrency: 64, VCPUs: 1},
			argv: []string{"/var/lang/bin/node", "/var/runtime/node_modules/aws-lambda-ric/index.mjs"},
			env: map[string]string{
				"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x", "_HANDLER": "index.handler",
				"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime",
				"AWS_LAMBDA_NODEJS_WORKER_COUNT": "8",
			},
			defaults: map[string]string{
				"NODE_PATH":          "/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
				"PATH":               "/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin",
				"LD_LIBRARY_PATH":    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
				"UV_THREADPOOL_SIZE": "12",
			},
		},
		{
			name: "node LMI, workers capped by concurrency", r: node24,
			s:    Start{Handler: "index.handler", Interpreter: "/var/lang/bin/node", MaxConcurrency: 3, VCPUs: 2},
			argv: []string{"/var/lang/bin/node", "/var/runtime/node_modules/aws-lambda-ric/index.mjs"},
			env:  map[string]string{"AWS_LAMBDA_NODEJS_WORKER_COUNT": "3"},
			defaults: map[string]string{
				"NODE_PATH":          "/opt/nodejs/node24/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
				"UV_THREADPOOL_SIZE": "7",
			},
		},
		{
			name: "node LMI, the function's worker count kept", r: node24,
			s: Start{Handler: "index.handler", Interpreter: "/var/lang/bin/node", MaxConcurrency: 64, VCPUs: 2,
				UserEnv: map[string]string{"AWS_LAMBDA_NODEJS_WORKER_COUNT": "2"}},
			argv:     []string{"/var/lang/bin/node", "/var/runtime/node_modules/aws-lambda-ric/index.mjs"},
			defaults: map[string]string{"UV_THREADPOOL_SIZE": "6"},
			absent:   []string{"AWS_LAMBDA_NODEJS_WORKER_COUNT"},
		},
		{
			name: "node default mode", r: node22,
			s:      Start{Handler: "app.handler", Interpreter: "/var/lang/bin/node", MaxConcurrency: 1},
			argv:   []string{"/var/lang/bin/node", "/var/runtime/node_modules/aws-lambda-ric/index.mjs"},
			absent: []string{"AWS_LAMBDA_NODEJS_WORKER_COUNT", "UV_THREADPOOL_SIZE"},
		},
		{
			name: "python, host paths", r: py313,
			s: Start{Handler: "handler.handler", Interpreter: "/h/lang/bin/python3.11", RuntimeDir: "/h/rt",
				TaskDir: "/h/task", OptDir: "/h/opt", LangDir: "/h/lang", MaxConcurrency: 4},
			argv: []string{"/h/lang/bin/python3.11", "-m", "awslambdaric", "handler.handler"},
			env:  map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "LAMBDA_TASK_ROOT": "/h/task"},
			defaults: map[string]string{
				"PYTHONPATH": "/h/task:/h/opt/python/lib/python3.13/site-packages:/h/opt/python:/h/rt",
				"PATH":       "/h/lang/bin:/usr/local/bin:/usr/bin:/bin:/h/opt/bin",
			},
		},
		{
			name: "java LMI", r: java21,
			s: Start{Handler: "example.Handler::handleRequest", Interpreter: "/var/lang/bin/java", MemoryMB: 2048, MaxConcurrency: 32},
			argv: []string{"/var/lang/bin/java", "-XX:MaxHeapSize=1740m", "-Xshare:auto", "-Djava.net.preferIPv4Stack=true", "--enable-native-access=ALL-UNNAMED",
				"-Dcom.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI=/var/runtime/libaws-lambda-jni.so",
				"-classpath", "/var/runtime/lib/*", "com.amazonaws.services.lambda.runtime.api.client.AWSLambda",
				"example.Handler::handleRequest"},
			env: map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_java21"},
		},
		{
			name: "java default mode", r: java21,
			s: Start{Handler: "example.Handler", Interpreter: "/var/lang/bin/java", MaxConcurrency: 1},
			argv: []string{"/var/lang/bin/java", "-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
				"-Xshare:auto", "-Djava.net.preferIPv4Stack=true", "--enable-native-access=ALL-UNNAMED",
				"-Dcom.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI=/var/runtime/libaws-lambda-jni.so",
				"-classpath", "/var/runtime/lib/*", "com.amazonaws.services.lambda.runtime.api.client.AWSLambda",
				"example.Handler"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.r.Command(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Argv, tt.argv) {
				t.Errorf("argv\n got %q\nwant %q", c.Argv, tt.argv)
			}
			if c.Dir != or(tt.s.TaskDir, TaskDir) {
				t.Errorf("dir = %q", c.Dir)
			}
			for k, v := range tt.env {
				if c.Env[k] != v {
					t.Errorf("Env[%s] = %q, want %q", k, c.Env[k], v)
				}
			}
			for k, v := range tt.defaults {
				if c.Defaults[k] != v {
					t.Errorf("Defaults[%s] = %q, want %q", k, c.Defaults[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := c.Env[k]; ok {
					t.Errorf("Env has %s", k)
				}
				if _, ok := c.Defaults[k]; ok {
					t.Errorf("Defaults has %s", k)
				}
			}
			for k := range c.Env {
				if _, both := c.Defaults[k]; both {
					t.Errorf("%s in both Env and Defaults", k)
				}
			}
		})
	}
	if _, err := node22.Command(Start{Interpreter: "/var/lang/bin/node"}); err == nil {
		t.Error("Command without a handler succeeded")
	}
	if _, err := node22.Command(Start{Handler: "index.handler"}); err == nil {
		t.Error("Command without an interpreter succeeded")
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		in   []string
		want Mapping
		err  string
	}{
		{in: nil, want: Mapping{}},
		{in: []string{"nodejs22.x=/opt/node/bin/node"}, want: Mapping{"nodejs22.x": "/opt/node/bin/node"}},
		{in: []string{"python3.13=/usr/bin/python3, python3.14=/usr/bin/python3", "java21=/usr/lib/jvm/x/bin/../bin/java"},
			want: Mapping{"python3.13": "/usr/bin/python3", "python3.14": "/usr/bin/python3", "java21": "/usr/lib/jvm/x/bin/java"}},
		{in: []string{"nodejs22.x"}, err: "want RUNTIME=PATH"},
		{in: []string{"=/usr/bin/node"}, err: "want RUNTIME=PATH"},
		{in: []string{"nodejs22.x="}, err: "want RUNTIME=PATH"},
		{in: []string{"dotnet8=/usr/bin/dotnet"}, err: "not a managed runtime"},
		{in: []string{"provided.al2023=/bin/sh"}, err: "not a managed runtime"},
		{in: []string{"nodejs22.x=bin/node"}, err: "must be absolute"},
		{in: []string{"nodejs22.x=/a/node", "nodejs22.x=/b/node"}, err: "mapped twice"},
	}
	for _, tt := range tests {
		got, err := ParseMapping(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseMapping(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMapping(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	m := Mapping{"java21": "/j", "nodejs22.x": "/n"}
	if got := m.String(); got != "java21=/j,nodejs22.x=/n" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		f    Family
		out  string
		want Version
		exe  string
		err  bool
	}{
		{f: NodeJS, out: "v22.23.5\n", want: Version{22, 23}},
		{f: NodeJS, out: "v20.20.2\n", want: Version{20, 20}},
		{f: Python, out: "Python 3.11.7\n/root/.pyenv/versions/3.11.7/bin/python3\n", want: Version{3, 11}, exe: "/root/.pyenv/versions/3.11.7/bin/python3"},
		{f: Python, out: "Python 3.14.0rc1\n", want: Version{3, 14}},
		{f: Java, out: "openjdk version \"25.0.1\" 2025-10-21 LTS\nOpenJDK Runtime Environment Temurin-25.0.1+8 (build 25.0.1+8-LTS)\n", want: Version{25, 0}},
		{f: Java, out: "openjdk version \"17.0.15\" 2025-04-15\n", want: Version{17, 0}},
		{f: Java, out: "openjdk version \"21\" 2023-09-19\n", want: Version{21, 0}},
		{f: Java, out: "Picked up JAVA_TOOL_OPTIONS: -Xmx1g\njava version \"1.8.0_402\"\n", want: Version{8, 0}},
		{f: NodeJS, out: "bash: node: not found", err: true},
		{f: Python, out: "", err: true},
		{f: Java, out: "Error: could not find libjava.so", err: true},
	}
	for _, tt := range tests {
		v, exe, err := ParseVersion(tt.f, tt.out)
		if tt.err {
			if err == nil {
				t.Errorf("ParseVersion(%s, %q) = %v, want an error", tt.f, tt.out, v)
			}
			continue
		}
		if err != nil || v != tt.want || exe != tt.exe {
			t.Errorf("ParseVersion(%s, %q) = %v, %q, %v; want %v, %q", tt.f, tt.out, v, exe, err, tt.want, tt.exe)
		}
	}
}

func TestChoose(t *testing.T) {
	node22, _ := Lookup("nodejs22.x")
	py313, _ := Lookup("python3.13")
	java21, _ := Lookup("java21")
	missing := errors.New("no such file")
	cand := func(p string, v Version) Candidate { return Candidate{Path: p, Real: p, Version: v} }
	tests := []struct {
		name     string
		r        Runtime
		mapped   *Candidate
		found    []Candidate
		path     string // chosen; "" for refused
		warning  string // substring of the warning; "" for none
		refusal  string // substring of the refusal
		explicit bool
	}{
		{name: "cached node 22", r: node22,
			found: []Candidate{cand("/c/node22/bin/node", Version{22, 23}), cand("/usr/bin/node", Version{20, 20})},
			path:  "/c/node22/bin/node"},
		{name: "only an older node: refused, with how to map it", r: node22,
			found:   []Candidate{cand("/usr/bin/node", Version{20, 20})},
			refusal: "no node 22 or newer on this machine (found node 20.20 at /usr/bin/node: older; the operator may map it with --runtime-path nodejs22.x=PATH"},
		{name: "nothing at all", r: node22, refusal: "no node 22 or newer on this machine"},
		{name: "failed probes are skipped", r: node22,
			found:   []Candidate{{Path: "/c/node22/bin/node", Err: missing}},
			refusal: "no node 22 or newer"},
		{name: "older python mapped: runs, with a warning", r: py313,
			mapped: &Candidate{Path: "/usr/bin/python3", Real: "/root/.pyenv/versions/3.11.7/bin/python3.11", Version: Version{3, 11}},
			path:   "/usr/bin/python3", explicit: true,
			warning: "runtime python3.13 runs on python3 3.11 (/usr/bin/python3), older than the runtime's 3.13, because the operator mapped it"},
		{name: "older python found: refused", r: py313,
			found:   []Candidate{cand("/usr/bin/python3", Version{3, 11})},
			refusal: "no python3 3.13 or newer on this machine (found python3 3.11 at /usr/bin/python3"},
		{name: "mapped, missing: refused even where the host has one", r: node22,
			mapped:  &Candidate{Path: "/nope/node", Err: missing},
			found:   []Candidate{cand("/c/node22/bin/node", Version{22, 23})},
			refusal: "its interpreter /nope/node (mapped by the operator) cannot be used: no such file"},
		{name: "mapped, newer: no warning", r: java21,
			mapped: &Candidate{Path: "/j25/bin/java", Real: "/j25/bin/java", Version: Version{25, 0}},
			path:   "/j25/bin/java", explicit: true},
		{name: "java21 takes the closest JDK", r: java21,
			found: []Candidate{cand("/usr/lib/jvm/java-17/bin/java", Version{17, 0}),
				cand("/usr/lib/jvm/temurin-25/bin/java", Version{25, 0}), cand("/usr/lib/jvm/temurin-21/bin/java", Version{21, 0})},
			path: "/usr/lib/jvm/temurin-21/bin/java"},
		{name: "java21 on JDK 25", r: java21,
			found: []Candidate{cand("/usr/lib/jvm/java-17/bin/java", Version{17, 0}), cand("/usr/lib/jvm/temurin-25/bin/java", Version{25, 0})},
			path:  "/usr/lib/jvm/temurin-25/bin/java"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Choose(tt.r, tt.mapped, tt.found)
			if tt.refusal != "" {
				var ue *UnsupportedError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.refusal) {
					t.Fatalf("Choose = %+v, %v; want a refusal with %q", c, err, tt.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Path != tt.path || c.Explicit != tt.explicit {
				t.Errorf("chose %s (explicit %v), want %s (explicit %v)", c.Path, c.Explicit, tt.path, tt.explicit)
			}
			if (tt.warning == "") != (c.Warning == "") || !strings.Contains(c.Warning, tt.warning) {
				t.Errorf("warning %q, want %q", c.Warning, tt.warning)
			}
		})
	}
}

func TestChoicePathIn(t *testing.T) {
	tests := []struct {
		real, root, lang, want string
	}{
		{"/c/node24/bin/node", "/c/node24", "/var/lang", "/var/lang/bin/node"},
		{"/root/.pyenv/versions/3.11.7/bin/python3.11", "/root/.pyenv/versions/3.11.7", "/var/lang/", "/var/lang/bin/python3.11"},
		{"/usr/lib/jvm/temurin-25-jdk-amd64/bin/java", "/usr/lib/jvm/temurin-25-jdk-amd64", "/var/lang", "/var/lang/bin/java"},
	}
	for _, tt := range tests {
		c := Choice{Candidate: Candidate{Real: tt.real}, Root: rootOf(tt.real)}
		if c.Root != tt.root {
			t.Errorf("root of %s = %s, want %s", tt.real, c.Root, tt.root)
		}
		if got := c.PathIn(tt.lang); got != tt.want {
			t.Errorf("PathIn(%s) of %s = %s, want %s", tt.lang, tt.real, got, tt.want)
		}
	}
}

func TestDirs(t *testing.T) {
	t.Setenv(DirEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got := DefaultDir(); got != "/x/cache/paddock/runtimes" {
		t.Errorf("DefaultDir() = %s", got)
	}
	t.Setenv(DirEnv, "/r")
	if got := DefaultDir(); got != "/r" {
		t.Errorf("DefaultDir() with %s = %s", DirEnv, got)
	}
	py, _ := Lookup("python3.14")
	node, _ := Lookup("nodejs24.x")
	if got := ClientDir("/r", py, Version{3, 11}); got != "/r/python/3.11" {
		t.Errorf("python ClientDir = %s", got)
	}
	if got := ClientDir("/r", node, Version{24, 22}); got != "/r/nodejs" {
		t.Errorf("node ClientDir = %s", got)
	}
	dir := t.TempDir()
	if _, err := CheckClientDir(dir); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("CheckClientDir(empty) = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, stampFile), []byte("aws-lambda-ric 4.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := CheckClientDir(dir); err != nil || v != "aws-lambda-ric 4.0.2" {
		t.Errorf("CheckClientDir = %q, %v", v, err)
	}
}
