package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

// TestShutdownCutsInvokesWithAnError: SIGTERM to `paddock up` while
// invokes still need more than the drain window (--shutdown-timeout). Each
// caller must get an error the SDK reports as one (ServiceException, or a
// connection error), never a 200 with an empty payload (issue 12); the log
// says how many were cut; an invoke done before the signal got its answer.
func TestShutdownCutsInvokesWithAnError(t *testing.T) {
	s := startFloodServer(t, "--shutdown-timeout", "1s", "--instance-launch-delay", "100ms")
	e := &env{t: t, lambda: client(s.endpoint, floodKey, floodSecret)}
	e.defaultFunction("sleepy", "sleep", 128, 30)
	e.activeFunction("sleepy-lmi", fnOpts{example: "sleep", maxConcurrency: 8, timeout: 30})

	// Done before the signal: answered normally.
	for _, q := range []string{"", "1"} {
		out, err := e.invoke(map[string]string{"": "sleepy", "1": "sleepy-lmi"}[q], q, `{"sleep_ms":0}`)
		if err != nil || out.StatusCode != 200 || out.FunctionError != nil || string(out.Payload) != `{"slept_ms":0}` {
			t.Fatalf("fast invoke (qualifier %q): %+v, %v", q, out, err)
		}
	}

	const n = 10 // half default mode, half LMI
	type result struct {
		out *lambda.InvokeOutput
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, q := "sleepy", ""
			if i%2 == 1 {
				name, q = "sleepy-lmi", "1"
			}
			in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"sleep_ms":5000}`)}
			if q != "" {
				in.Qualifier = aws.String(q)
			}
			out, err := e.lambda.Invoke(ctx(t), in)
			results[i] = result{out, err}
		}()
	}
	time.Sleep(500 * time.Millisecond) // every invoke is in flight
	signaled := time.Now()
	if err := syscall.Kill(s.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("callers answered %v after SIGTERM", time.Since(signaled).Round(time.Millisecond))

	for i, r := range results {
		if r.err == nil {
			t.Errorf("invoke %d: no error: status %d, function error %v, payload %q", i, r.out.StatusCode, aws.ToString(r.out.FunctionError), r.out.Payload)
			continue
		}
		var ae smithy.APIError
		switch {
		case errors.As(r.err, &ae) && ae.ErrorCode() == "ServiceException":
		case errors.As(r.err, &ae):
			t.Errorf("invoke %d: API error %s (%s), want ServiceException or a connection error", i, ae.ErrorCode(), ae.ErrorMessage())
		default:
			t.Logf("invoke %d: connection error: %v", i, r.err)
		}
	}

	want := fmt.Sprintf(`msg="invokes cut by shutdown" n=%d`, n)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.logs(), "invokes cut by shutdown") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if logs := s.logs(); !strings.Contains(logs, want) {
		t.Fatalf("log has no %q:\n%s", want, logs)
	}
}
