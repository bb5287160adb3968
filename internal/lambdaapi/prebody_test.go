package lambdaapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/paddockhq/paddock/internal/awsmodel"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/paddockhq/paddock/internal/sigv4"
)

// countingBody is a request body that counts what the handler reads of it.
type countingBody struct {
	r    io.Reader
	read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return nil }

// TestAuthBeforeBody checks wrap's order: a request whose head cannot be
// authentic is refused with its AWS code before one byte of its body is
// read; a known caller's body over its operation's limit is refused from
// its Content-Length; only then is a body read, and its signature checked.
func TestAuthBeforeBody(t *testing.T) {
	const key, secret = "AKIDPREBODY", "prebody-secret"
	v := &sigv4.Verifier{Credentials: sigv4.StaticCredentials{key: secret}, Service: "lambda"}
	a := &API{verifier: v, mux: http.NewServeMux()}
	var ran bool
	ok := func(w http.ResponseWriter, _ *http.Request, body []byte) error {
		ran = true
		return writeJSON(w, http.StatusOK, map[string]int{"len": len(body)})
	}
	for _, name := range []string{"CreateFunction", "UpdateFunctionConfiguration", "Invoke"} {
		op, _ := awsmodel.Lookup(name)
		a.mux.Handle(op.Method+" "+op.Path, a.wrap(op, ok))
	}
	big := int64(64 << 20)
	sign := func(r *http.Request, id, sec string, body []byte) {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: sec}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		method   string
		path     string
		size     int64 // body length announced and available
		sign     func(r *http.Request, body []byte)
		status   int
		code     string
		readNone bool // not a byte of the body may be read
	}{
		{"unsigned 64 MiB CreateFunction", "POST", "/2015-03-31/functions", big, nil, 403, sigv4.CodeMissingAuthenticationToken, true},
		{"unknown key", "POST", "/2015-03-31/functions", big, func(r *http.Request, b []byte) { sign(r, "AKIDNOBODY", secret, b) }, 403, sigv4.CodeUnrecognizedClient, true},
		{"garbage Authorization", "POST", "/2015-03-31/functions", big, func(r *http.Request, _ []byte) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }, 403, sigv4.CodeIncompleteSignature, true},
		{"stale date", "POST", "/2015-03-31/functions", big, func(r *http.Request, b []byte) {
			sum := sha256.Sum256(b)
			v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now().Add(-time.Hour)) //nolint:errcheck
		}, 403, sigv4.CodeInvalidSignature, true},
		{"known key, 2 MiB configuration", "PUT", "/2015-03-31/functions/f/configuration", 2 << 20, func(r *http.Request, b []byte) { sign(r, key, secret, b) }, 413, "RequestTooLargeException", true},
		{"known key, 7 MB invoke", "POST", "/2015-03-31/functions/f/invocations", 7 << 20, func(r *http.Request, b []byte) { sign(r, key, secret, b) }, 413, "RequestTooLargeException", true},
		{"known key, wrong secret", "POST", "/2015-03-31/functions", 1 << 20, func(r *http.Request, b []byte) { sign(r, key, "not-it", b) }, 403, sigv4.CodeInvalidSignature, false},
		{"signed 5 MiB CreateFunction", "POST", "/2015-03-31/functions", 5 << 20, func(r *http.Request, b []byte) { sign(r, key, secret, b) }, 200, "", false},
		{"signed invoke", "POST", "/2015-03-31/functions/f/invocations", 100, func(r *http.Request, b []byte) { sign(r, key, secret, b) }, 200, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran = false
			// The signer hashes a body it is given; give it the real one
			// only when it is small, and a body of zeros either way.
			data := make([]byte, min(c.size, 8<<20))
			r := httptest.NewRequest(c.method, "http://paddock"+c.path, nil)
			if c.sign != nil {
				c.sign(r, data)
			}
			body := &countingBody{r: io.LimitReader(zeros{}, c.size)}
			r.Body, r.ContentLength = body, c.size
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.code {
				t.Fatalf("got %d %q (%s), want %d %q", w.Code, w.Header().Get("X-Amzn-ErrorType"), w.Body, c.status, c.code)
			}
			if c.readNone && body.read != 0 {
				t.Fatalf("%d bytes of the body were read before the refusal", body.read)
			}
			if ran != (c.status == 200) {
				t.Fatalf("handler ran: %v", ran)
			}
		})
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestReadBodyStopsAtLimit checks a body of unknown length (chunked) is
// cut off at its limit instead of buffered.
func TestReadBodyStopsAtLimit(t *testing.T) {
	body := &countingBody{r: zeros{}}
	r := httptest.NewRequest("PUT", "http://paddock/x", nil)
	r.Body, r.ContentLength = body, -1
	if _, err := readBody(r, maxAPIBody, nil); err == nil {
		t.Fatal("an endless body was accepted")
	}
	if body.read > 2*maxAPIBody {
		t.Fatalf("read %d bytes of an endless body with a limit of %d", body.read, maxAPIBody)
	}
	r = httptest.NewRequest("PUT", "http://paddock/x", bytes.NewReader(make([]byte, 1000)))
	r.ContentLength = -1
	b, err := readBody(r, maxAPIBody, nil)
	if err != nil || len(b) != 1000 {
		t.Fatalf("got %d bytes, %v", len(b), err)
	}
}
