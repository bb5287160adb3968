package sigv4

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestBeginBeforeBody checks what Begin decides from the head alone: every
// request that cannot be authentic whatever its body (unsigned, unknown key,
// bad scope, stale date, a declared payload hash with a wrong signature) is
// refused there, with the code Verify gives; the rest are refused or
// accepted by Finish once the body has streamed through Write.
func TestBeginBeforeBody(t *testing.T) {
	const url = localBase + "/2015-03-31/functions"
	body := bytes.Repeat([]byte(`{"ZipFile":"AAAA"}`), 1000)
	hdr := http.Header{"Content-Type": {"application/json"}}
	declared := hdr.Clone()
	declared.Set("X-Amz-Content-Sha256", hexSHA256(body))
	signed := func(t *testing.T, h http.Header, creds aws.Credentials, at time.Time) *http.Request {
		return sdkSign(t, "POST", url, body, h, creds, "lambda", testRegion, at)
	}
	cases := []struct {
		name      string
		req       func(t *testing.T) *http.Request
		body      []byte // what the client then sends
		beginCode string // "" : Begin accepts
		code      string // Finish's verdict; "" : authentic
	}{
		{"signed with the body's hash", func(t *testing.T) *http.Request { return signed(t, hdr, testCreds, signTime) }, body, "", ""},
		{"signed, body altered", func(t *testing.T) *http.Request { return signed(t, hdr, testCreds, signTime) }, append(bytes.Clone(body), ' '), "", CodeInvalidSignature},
		{"declared hash", func(t *testing.T) *http.Request { return signed(t, declared, testCreds, signTime) }, body, "", ""},
		{"declared hash, body altered", func(t *testing.T) *http.Request { return signed(t, declared, testCreds, signTime) }, body[1:], "", CodeInvalidSignature},
		{"declared hash, wrong secret", func(t *testing.T) *http.Request {
			return signed(t, declared, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "nope"}, signTime)
		}, body, CodeInvalidSignature, ""},
		{"wrong secret (needs the body to tell)", func(t *testing.T) *http.Request {
			return signed(t, hdr, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "nope"}, signTime)
		}, body, "", CodeInvalidSignature},
		{"unsigned", func(t *testing.T) *http.Request {
			r, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			return r
		}, body, CodeMissingAuthenticationToken, ""},
		{"unknown key", func(t *testing.T) *http.Request {
			return signed(t, hdr, aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, signTime)
		}, body, CodeUnrecognizedClient, ""},
		{"stale date", func(t *testing.T) *http.Request { return signed(t, hdr, testCreds, signTime.Add(-time.Hour)) }, body, CodeInvalidSignature, ""},
		{"other service", func(t *testing.T) *http.Request {
			return sdkSign(t, "POST", url, body, hdr, testCreds, "s3", testRegion, signTime)
		}, body, CodeInvalidSignature, ""},
		{"garbage signature", func(t *testing.T) *http.Request {
			r := signed(t, hdr, testCreds, signTime)
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=xyz")
			return r
		}, body, CodeInvalidSignature, ""},
		{"host not signed", func(t *testing.T) *http.Request {
			r := signed(t, hdr, testCreds, signTime)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";host;", ";", 1))
			return r
		}, body, CodeIncompleteSignature, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.req(t)
			p, err := newVerifier(signTime).Begin(r)
			if c.beginCode != "" {
				checkErr(t, err, c.beginCode, "")
				if p != nil {
					t.Fatal("a Pending came back with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			for rest := c.body; len(rest) > 0; { // as a body arrives: in pieces
				n := min(len(rest), 777)
				p.Write(rest[:n]) //nolint:errcheck
				rest = rest[n:]
			}
			akid, err := p.Finish()
			checkErr(t, err, c.code, "")
			if c.code == "" && akid != testAKID {
				t.Fatalf("access key id %q", akid)
			}
		})
	}
}

// TestBeginAbort checks that an aborted Pending goes back to the pool in a
// state the next request does not inherit.
func TestBeginAbort(t *testing.T) {
	body := []byte(`{}`)
	v := newVerifier(signTime)
	for i := range 50 {
		r := sdkSign(t, "POST", localBase+"/2015-03-31/functions", body, nil, testCreds, "lambda", testRegion, signTime)
		p, err := v.Begin(r)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			p.Write([]byte("half")) //nolint:errcheck
			p.Abort()
			continue
		}
		p.Write(body) //nolint:errcheck
		if _, err := p.Finish(); err != nil {
			t.Fatalf("request %d after an abort: %v", i, err)
		}
	}
}
