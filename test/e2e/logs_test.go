package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/paddockhq/paddock/internal/logs"
)

// TestLogsTextLinesAndRestart: what a default-mode function prints and
// Lambda's START, END and REPORT lines reach LogType Tail and `paddock
// logs`, with each invoke's request id; --request-id keeps one invoke's
// lines; and the logs are still there after a restart.
func TestLogsTextLinesAndRestart(t *testing.T) {
	e := start(t)
	e.defaultFunction("chatter", "echo", 128, 3)
	first, tail := e.tailInvoke("chatter", "", `{"print":"hello logs"}`)
	id1 := requestID(t, first.ResultMetadata)
	for _, want := range []string{"START RequestId: " + id1, "hello logs", "END RequestId: " + id1, "REPORT RequestId: " + id1} {
		if !strings.Contains(tail, want) {
			t.Errorf("LogType Tail lacks %q:\n%s", want, tail)
		}
	}
	second, _ := e.tailInvoke("chatter", "", `{"print":"second call"}`)
	id2 := requestID(t, second.ResultMetadata)

	bin := paddockBinary(t)
	keys := []string{"AWS_ACCESS_KEY_ID=" + e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.p.SecretAccessKey}
	wantAll := []string{
		"  " + id1 + "  START RequestId: " + id1 + " Version: $LATEST",
		"  " + id1 + "  hello logs",
		"  " + id1 + "  END RequestId: " + id1,
		"  " + id1 + "  REPORT RequestId: " + id1 + "\tDuration: ",
		"\tMemory Size: 128 MB\tMax Memory Used: ",
		"\tInit Duration: ", // the first invoke was a cold start
		"  " + id2 + "  second call",
		"  " + id2 + "  REPORT RequestId: " + id2,
	}
	out := waitOutput(t, "paddock logs to show both invokes", func() (string, bool) {
		out, stderr, err := runPaddock(t, bin, keys, "logs", "chatter", "--endpoint", e.p.Endpoint)
		if err != nil {
			t.Fatalf("paddock logs: %v\n%s", err, stderr)
		}
		return out, containsAll(out, wantAll)
	})
	t.Logf("paddock logs chatter:\n%s", out)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 8 {
		t.Errorf("paddock logs printed %d lines, want 8 (4 per invoke)", len(lines))
	}

	one, stderr, err := runPaddock(t, bin, keys, "logs", "chatter", "--request-id", id1, "--endpoint", e.p.Endpoint)
	if err != nil {
		t.Fatalf("paddock logs --request-id: %v\n%s", err, stderr)
	}
	if !containsAll(one, wantAll[:6]) || strings.Contains(one, id2) || strings.Contains(one, "second call") {
		t.Errorf("paddock logs --request-id %s:\n%s", id1, one)
	}
	asJSON, stderr, err := runPaddock(t, bin, keys, "logs", "chatter", "--json", "--since", "1h", "--request-id", id2, "--endpoint", e.p.Endpoint)
	if err != nil {
		t.Fatalf("paddock logs --json: %v\n%s", err, stderr)
	}
	recs := decodeRecords(t, asJSON)
	if len(recs) != 4 || recs[1].Message != "second call" || recs[1].Stream != "stdout" || recs[0].Stream != "platform" || recs[1].EE == "" {
		t.Errorf("paddock logs --json --request-id %s:\n%s", id2, asJSON)
	}

	// Errors a user can act on.
	if _, stderr, err := runPaddock(t, bin, keys, "logs", "nosuch", "--endpoint", e.p.Endpoint); err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("logs of an unknown function: %v %s", err, stderr)
	}
	if _, stderr, err := runPaddock(t, bin, keys, "logs", "chatter:1", "--endpoint", e.p.Endpoint); err == nil || !strings.Contains(stderr, "not a function name") {
		t.Errorf("logs of a qualified name: %v %s", err, stderr)
	}
	if code, typ := e.signedCall(http.MethodGet, "/paddock/v1/logs/chatter?since=tomorrow", ""); code != http.StatusBadRequest || typ != "InvalidParameterValueException" {
		t.Errorf("bad since: %d %s", code, typ)
	}
	resp, err := http.Get(e.p.Endpoint + "/paddock/v1/logs/chatter")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned logs request: %d, want 403", resp.StatusCode)
	}

	// The logs are durable: a stop and start on the same data keeps them.
	e.p.Close()
	e2 := startIn(t, e.dataDir)
	keys = []string{"AWS_ACCESS_KEY_ID=" + e2.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e2.p.SecretAccessKey}
	after, stderr, err := runPaddock(t, bin, keys, "logs", "chatter", "--endpoint", e2.p.Endpoint)
	if err != nil {
		t.Fatalf("paddock logs after a restart: %v\n%s", err, stderr)
	}
	if !containsAll(after, wantAll) {
		t.Errorf("after a restart, paddock logs shows:\n%s", after)
	}
}

// TestLogsJSONRequestIDsOfConcurrentInvokes: on a Lambda Managed Instances
// function (JSON log format), invokes running at once on the same EEs log
// JSON lines carrying the request id their runtime got; each stored line
// keeps it, so --request-id returns exactly one invoke's lines.
func TestLogsJSONRequestIDsOfConcurrentInvokes(t *testing.T) {
	e := start(t)
	cp := e.capacityProvider("cp-jl")
	in := createInput(t, "jl", cp, fnOpts{maxConcurrency: 8})
	in.Code = &types.FunctionCode{ZipFile: jsonlogZip(t)}
	if _, err := e.lambda.CreateFunction(ctx(t), in); err != nil {
		t.Fatal(err)
	}
	if v, st := e.publish("jl"); st != types.StateActive {
		t.Fatalf("version %s is %s", v, st)
	}

	const n = 16 // over 3 EEs of 8 slots: several invokes share each EE
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := e.invoke("jl", "1", fmt.Sprintf(`{"token":"t%d","sleep_ms":300}`, i))
			if err != nil || out.FunctionError != nil {
				t.Errorf("invoke %d: %v %s", i, err, out.Payload)
				return
			}
			ids[i] = requestID(t, out.ResultMetadata)
			if string(out.Payload) != `"`+ids[i]+`"` {
				t.Errorf("invoke %d: the runtime saw request id %s, the API answered %s", i, out.Payload, ids[i])
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// One more, alone on its EE: its plain line is wrapped with its id.
	solo, err := e.invoke("jl", "1", `{"token":"solo","print":"a plain line"}`)
	if err != nil {
		t.Fatal(err)
	}
	soloID := requestID(t, solo.ResultMetadata)

	type line struct{ RequestID, Message, Token string }
	var recs []logs.Record
	waitOutput(t, "every invoke's lines and platform.report", func() (string, bool) {
		recs = e.fetchLogs("jl", "since=5m")
		reports := 0
		var b strings.Builder
		for _, r := range recs {
			if strings.Contains(r.Message, `"type":"platform.report"`) {
				reports++
			}
			fmt.Fprintf(&b, "%s %s\n", r.RequestID, r.Message)
		}
		return b.String(), reports == n+1
	})
	byToken := map[string][]line{}
	for _, r := range recs {
		var l line
		if err := json.Unmarshal([]byte(r.Message), &l); err != nil {
			t.Fatalf("a stored line of an LMI function is not JSON: %s", r.Message)
		}
		if l.Token != "" {
			if l.RequestID != r.RequestID {
				t.Errorf("record %+v: requestId %q, the line says %q", r, r.RequestID, l.RequestID)
			}
			byToken[l.Token] = append(byToken[l.Token], l)
		}
	}
	for i, id := range ids {
		got := byToken[fmt.Sprintf("t%d", i)]
		if len(got) != 2 || got[0].RequestID != id || got[1].RequestID != id || got[0].Message != "hello" || got[1].Message != "bye" {
			t.Errorf("lines of invoke %d (%s): %+v", i, id, got)
		}
	}
	// Some invokes ran at the same time on the same EE: their START and
	// REPORT times overlap.
	type run struct {
		ee         string
		start, end time.Time
	}
	runs := map[string]*run{}
	for _, r := range recs {
		switch {
		case strings.Contains(r.Message, `"type":"platform.start"`):
			runs[r.RequestID] = &run{ee: r.EE, start: r.Time}
		case strings.Contains(r.Message, `"type":"platform.report"`) && runs[r.RequestID] != nil:
			runs[r.RequestID].end = r.Time
		}
	}
	overlap := false
	for a, ra := range runs {
		for b, rb := range runs {
			if a != b && ra.ee == rb.ee && ra.start.Before(rb.end) && rb.start.Before(ra.end) {
				overlap = true
			}
		}
	}
	if !overlap {
		t.Errorf("no two invokes ran at once on one EE: the test did not exercise concurrency")
	}

	var wrapped bool
	for _, r := range recs {
		if r.RequestID == soloID && strings.Contains(r.Message, `"level":"INFO","message":"a plain line","requestId":"`+soloID+`"`) {
			wrapped = true
		}
	}
	if !wrapped {
		t.Errorf("the solo invoke's plain line was not wrapped with its requestId %s", soloID)
	}

	bin := paddockBinary(t)
	keys := []string{"AWS_ACCESS_KEY_ID=" + e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.p.SecretAccessKey}
	out, stderr, err := runPaddock(t, bin, keys, "logs", "jl", "--request-id", ids[5], "--endpoint", e.p.Endpoint)
	if err != nil {
		t.Fatalf("paddock logs --request-id: %v\n%s", err, stderr)
	}
	t.Logf("paddock logs jl --request-id %s:\n%s", ids[5], out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !containsAll(out, []string{`"type":"platform.start"`, `"message":"hello","token":"t5"`, `"message":"bye","token":"t5"`, `"type":"platform.report"`, `"status":"success"`}) {
		t.Errorf("want platform.start, hello, bye and platform.report of t5 only")
	}
	for _, l := range lines {
		if !strings.Contains(l, "  "+ids[5]+"  ") {
			t.Errorf("line of another request: %s", l)
		}
	}
}

// TestLogsFollow: `paddock logs --follow` prints a line the function
// prints after it started, and keeps running until stopped.
func TestLogsFollow(t *testing.T) {
	e := start(t)
	e.defaultFunction("tailme", "echo", 128, 3)
	if _, err := e.invoke("tailme", "", `{"print":"before the follow"}`); err != nil {
		t.Fatal(err)
	}
	bin := paddockBinary(t)
	cmd := exec.Command(bin, "logs", "tailme", "--follow", "--endpoint", e.p.Endpoint)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + e.p.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.p.SecretAccessKey}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have exited
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("paddock logs --follow ended before %q: %s", want, stderr.String())
				}
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("paddock logs --follow did not print %q", want)
			}
		}
	}
	expect("before the follow")
	out, err := e.invoke("tailme", "", `{"print":"while following"}`)
	if err != nil {
		t.Fatal(err)
	}
	id := requestID(t, out.ResultMetadata)
	expect("  " + id + "  while following")
	expect("REPORT RequestId: " + id)
	select {
	case err := <-exited:
		t.Fatalf("paddock logs --follow exited (%v) instead of following: %s", err, stderr.String())
	default:
	}
	// Ctrl-C ends a follow quietly.
	cmd.Process.Signal(os.Interrupt) //nolint:errcheck
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("paddock logs --follow after Ctrl-C: %v %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("paddock logs --follow ignored Ctrl-C")
	}
}

// requestID is the X-Amzn-Requestid of an answer, as the SDK read it.
func requestID(t *testing.T, md middleware.Metadata) string {
	t.Helper()
	id, ok := awsmiddleware.GetRequestIDMetadata(md)
	if !ok || id == "" {
		t.Fatal("the answer has no request id")
	}
	return id
}

// waitOutput polls poll until it says done, for up to 20 s, and shows its
// last output if it never does.
func waitOutput(t *testing.T, what string, poll func() (out string, done bool)) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, done := poll()
		if done {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last seen:\n%s", what, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(s string, wants []string) bool {
	for _, w := range wants {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func decodeRecords(t *testing.T, ndjson string) []logs.Record {
	t.Helper()
	var out []logs.Record
	sc := bufio.NewScanner(strings.NewReader(ndjson))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r logs.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log record %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// fetchLogs GETs /paddock/v1/logs/FUNCTION?query, signed.
func (e *env) fetchLogs(function, query string) []logs.Record {
	e.t.Helper()
	resp := e.signedDo(http.MethodGet, "/paddock/v1/logs/"+function+"?"+query, "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		e.t.Fatalf("GET logs of %s: %d %s %s", function, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Amzn-ErrorType"))
	}
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		e.t.Fatal(err)
	}
	return decodeRecords(e.t, b.String())
}

// jsonlogZip builds test/e2e/testdata/jsonlog into a deployment zip.
func jsonlogZip(t testing.TB) []byte { return testdataZip(t, "jsonlog") }

var testdataZips sync.Map // name → func() ([]byte, error), built once

// testdataZip builds test/e2e/testdata/<name> as a bootstrap, once per
// run, and returns its deployment zip.
func testdataZip(t testing.TB, name string) []byte {
	t.Helper()
	build, _ := testdataZips.LoadOrStore(name, sync.OnceValues(func() ([]byte, error) {
		dir, err := os.MkdirTemp("", "paddock-"+name+"-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-o", bin, "./test/e2e/testdata/"+name)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", name, err, out)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		return zipOf(map[string][]byte{"bootstrap": data}), nil
	}))
	z, err := build.(func() ([]byte, error))()
	if err != nil {
		t.Fatal(err)
	}
	return z
}
