// Package sigv4 verifies AWS Signature Version 4 signatures on incoming HTTP
// requests.
//
// Paddock's API is called by unmodified AWS clients (the AWS SDK for Go v2,
// the AWS CLI v1 through botocore, and the other SDKs), so it must accept
// exactly the signatures they compute and reject everything else with the
// error codes AWS Lambda answers with, because those clients map the codes to
// their own error types and retry rules.
//
// The canonical request is rebuilt from the request as it arrived:
//
//   - The canonical URI is the escaped path with every byte outside the
//     RFC 3986 unreserved set (and '/') percent-encoded once more. Non-S3
//     AWS clients double-encode: a function name "fn:$LATEST" travels as
//     "fn%3A%24LATEST" and is signed as "fn%253A%2524LATEST". The Go SDK
//     signs the path as sent; botocore additionally removes "." and ".."
//     segments and empty segments before encoding, so that form is tried
//     when, and only when, it differs and the first form did not match.
//   - The canonical query string is every parameter URI-encoded per
//     RFC 3986 and sorted by encoded name then encoded value.
//   - The canonical headers are the headers named in SignedHeaders, with
//     "host" taken from r.Host, values trimmed, inner runs of blanks
//     collapsed, and repeated headers joined with ",".
//   - The payload hash is the X-Amz-Content-Sha256 header when present, else
//     the SHA-256 of the body (for presigned URLs, UNSIGNED-PAYLOAD).
//
// Verification is on the hot path of every API call, so a Verifier keeps
// pooled scratch state and caches derived signing keys: a verified request
// with a warm cache allocates almost nothing.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Error codes, as AWS Lambda returns them in the x-amzn-ErrorType header and
// the JSON error body. Exported so the HTTP layer and tests can match on them.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
)

// Messages AWS uses verbatim; clients and people search for these strings.
const (
	msgMissingToken     = "Missing Authentication Token"
	msgUnrecognized     = "The security token included in the request is invalid."
	msgSignatureInvalid = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgPayloadMismatch = "The provided 'x-amz-content-sha256' header does not match what was computed."
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	terminator      = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// amzDateLayout is the ISO 8601 basic format SigV4 uses for X-Amz-Date
	// and in the string to sign.
	amzDateLayout = "20060102T150405Z"
	// defaultMaxSkew is the clock skew AWS tolerates.
	defaultMaxSkew = 5 * time.Minute
	// maxExpires is the longest presigned URL lifetime AWS accepts (7 days).
	maxExpires = 7 * 24 * 60 * 60
	// maxCachedKeys bounds the signing-key cache. Keys are per access key,
	// day and region, so a deployment needs a handful; the bound only stops
	// growth, it is never reached in normal use.
	maxCachedKeys = 1024
	// maxPooledBuf keeps an unusually large canonical request (a huge query
	// string) from pinning its buffer in the pool forever.
	maxPooledBuf = 64 << 10
)

// Credentials looks up the secret key for an access key id.
type Credentials interface {
	SecretKey(accessKeyID string) (secret string, ok bool)
}

// StaticCredentials is a map from access key id to secret key.
type StaticCredentials map[string]string

// SecretKey implements Credentials.
func (c StaticCredentials) SecretKey(accessKeyID string) (string, bool) {
	s, ok := c[accessKeyID]
	return s, ok
}

// Verifier checks SigV4 signatures. Zero Now means time.Now; zero MaxSkew
// means 5 minutes.
//
// A Verifier is safe for concurrent use. It holds a cache of derived signing
// keys, so it must not be copied after first use.
type Verifier struct {
	Credentials Credentials
	Service     string // "lambda"
	Now         func() time.Time
	MaxSkew     time.Duration

	keys keyCache
}

// Error is a verification failure with the AWS error code and HTTP status to
// answer with.
type Error struct {
	Code    string
	Status  int
	Message string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(code, msg string) *Error {
	return &Error{Code: code, Status: http.StatusForbidden, Message: msg}
}

func incomplete(format string, args ...any) *Error {
	return newError(CodeIncompleteSignature, fmt.Sprintf(format, args...))
}

func invalid(msg string) *Error { return newError(CodeInvalidSignature, msg) }

// authParams are the signature parameters, from either the Authorization
// header or the presigned query. All strings are decoded.
type authParams struct {
	presigned     bool
	credential    string // akid/date/region/service/aws4_request
	accessKeyID   string
	date          string // yyyymmdd from the credential scope
	region        string
	service       string
	scope         string // date/region/service/aws4_request
	signedHeaders string
	signature     string
	amzDate       string // presigned only: X-Amz-Date
	expires       string // presigned only: X-Amz-Expires, may be empty
}

// Verify checks r, whose full body the caller has already read into body (so
// the payload hash can be checked; r.Body is not read). It returns the access
// key id on success; on failure the error is an *Error. It is Begin, Write
// and Finish in one call.
func (v *Verifier) Verify(r *http.Request, body []byte) (accessKeyID string, err error) {
	p, err := v.Begin(r)
	if err != nil {
		return "", err
	}
	p.Write(body) //nolint:errcheck // never fails
	return p.Finish()
}

// Pending is a request whose signature header passed every check that can
// be made without its body: the Authorization header (or presigned query)
// parses, the access key is known, the date is within the skew and matches
// the scope, the scope names this service, the signed headers include the
// host. When the client declared its payload hash (x-amz-content-sha256)
// the signature itself is already verified too.
//
// Why: the body is what costs memory. A server that reads a body before
// it knows who sends it lets anyone make it buffer 70 MB per connection;
// with Begin first, an unsigned or unknown-key request is refused before a
// byte of its body is read, and the body of a known one is hashed as it
// streams in (Write), so it is never held twice.
//
// The body goes through Write, then Finish gives the verdict. A Pending
// must end with exactly one Finish or Abort and not be used after; it is
// pooled.
type Pending struct {
	st       state
	v        *Verifier
	r        *http.Request
	a        authParams
	secret   string
	stamp    string
	cacheKey string
	want     [32]byte
	cached   bool
	key      [32]byte
	// declared is the x-amz-content-sha256 value when it is a hash; the
	// body's hash must equal it.
	declared string
	// signed: the signature already verified without the body's hash
	// (declared hash or UNSIGNED-PAYLOAD).
	signed bool
	// hashing: the body's hash is needed (to check declared, or to sign).
	hashing bool
}

var pendingPool = sync.Pool{New: func() any {
	return &Pending{st: state{h: sha256.New(), buf: make([]byte, 0, 1024), keyBuf: make([]byte, 0, 64)}}
}}

// Begin checks everything of r's signature that does not need its body
// (see Pending). On failure the error is an *Error and no Pending is
// returned; the caller must then not read the body for this request's
// sake.
func (v *Verifier) Begin(r *http.Request) (*Pending, error) {
	p := pendingPool.Get().(*Pending)
	p.v, p.r = v, r
	if e := p.begin(); e != nil {
		p.release()
		return nil, e
	}
	return p, nil
}

func (p *Pending) begin() *Error {
	v, r, st, a := p.v, p.r, &p.st, &p.a
	st.parseQuery(r.URL.RawQuery)

	authz := r.Header["Authorization"]
	hasAuthz := len(authz) > 0 && !(len(authz) == 1 && authz[0] == "")
	presigned := st.has("X-Amz-Algorithm") || st.has("X-Amz-Credential") || st.has("X-Amz-Signature")
	switch {
	case presigned && hasAuthz:
		// Two signatures could disagree about what is authenticated.
		return incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case presigned:
		if e := st.presignedParams(a); e != nil {
			return e
		}
	case !hasAuthz:
		return newError(CodeMissingAuthenticationToken, msgMissingToken)
	case len(authz) > 1:
		return incomplete("Authorization header must be specified only once")
	default:
		if e := parseAuthorization(authz[0], a); e != nil {
			return e
		}
	}
	if e := parseCredential(a); e != nil {
		return e
	}
	if e := checkSignedHeaders(a.signedHeaders, a.presigned); e != nil {
		return e
	}
	if a.service != v.Service {
		// AWS answers a wrong service with a signature error, not an
		// incomplete one: the scope is well formed, it is just not ours.
		return invalid("Credential should be scoped to correct service: '" + v.Service + "'. ")
	}

	t, stamp, e := requestTime(r, a)
	if e != nil {
		return e
	}
	if a.date != stamp[:8] {
		return invalid(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.date, stamp[:8], stamp))
	}
	p.stamp = stamp

	if v.Credentials == nil {
		return newError(CodeUnrecognizedClient, msgUnrecognized)
	}
	secret, ok := v.Credentials.SecretKey(a.accessKeyID)
	if !ok {
		return newError(CodeUnrecognizedClient, msgUnrecognized)
	}
	p.secret = secret

	if e := v.checkTime(t, a); e != nil {
		return e
	}

	// The payload hash to sign with now, if the body is not needed for it.
	var payload string
	if hs := r.Header["X-Amz-Content-Sha256"]; len(hs) > 0 {
		if len(hs) > 1 {
			return invalid("The x-amz-content-sha256 header must be specified only once.")
		}
		switch h := hs[0]; {
		case h == unsignedPayload:
			payload = h
		case len(h) == 64:
			payload, p.declared, p.hashing = h, h, true
		default:
			// Streaming (aws-chunked) payloads are an S3 feature; Lambda
			// does not take them.
			return invalid("Unsupported x-amz-content-sha256 value: '" + truncate(h) + "'.")
		}
	} else if a.presigned {
		// A presigned URL is normally signed without its body
		// (UNSIGNED-PAYLOAD, as S3 does), but the Go SDK's PresignHTTP
		// takes any payload hash and non-S3 AWS services hash the body,
		// so accept that too (Finish tries it). Neither lets anyone do
		// more than the URL's holder already can.
		payload = unsignedPayload
	}

	if !decodeHex(p.want[:], a.signature) {
		return invalid(msgSignatureInvalid)
	}

	// The cache key is the credential scope without its terminator; it is
	// a substring of what was parsed, so the lookup allocates nothing.
	p.cacheKey = a.credential[:len(a.credential)-len("/"+terminator)]
	p.key, p.cached = v.keys.load(p.cacheKey, secret)
	if !p.cached {
		p.key = deriveKey(secret, a.date, a.region, a.service)
	}

	if payload != "" {
		p.signed = p.check(payload)
		if !p.signed && !a.presigned {
			return invalid(msgSignatureInvalid)
		}
	}
	if !p.signed {
		p.hashing = true // sign with the body's hash in Finish
	}
	if p.hashing {
		st.h.Reset()
	}
	return nil
}

// check reports whether the signature is right with payload as the
// payload hash ("" stands for the body's, in st.bodyHex), and caches the
// signing key when it is.
func (p *Pending) check(payload string) bool {
	st, a, r := &p.st, &p.a, p.r
	// The Go SDK's canonical form first; botocore's only if it differs,
	// which for Lambda's paths and lowercase hosts it never does.
	path := escapedPath(r.URL)
	for f := flavorSDK; f <= flavorBotocore; f++ {
		cp := path
		if f == flavorBotocore {
			cp = removeDotSegments(path)
			if cp == path && !hasUpper(host(r)) {
				break
			}
		}
		st.canonicalRequest(r, a, cp, payload, f)
		got := st.sign(&p.key, p.stamp, a.scope)
		if hmac.Equal(got, p.want[:]) {
			if !p.cached {
				p.v.keys.store(p.cacheKey, p.secret, p.key)
				p.cached = true
			}
			return true
		}
	}
	return false
}

// Write hashes the next bytes of the body, when the verdict needs them. It
// never fails.
func (p *Pending) Write(b []byte) (int, error) {
	if p.hashing {
		p.st.h.Write(b)
	}
	return len(b), nil
}

// Finish checks the body written so far, which must be all of it, against
// the declared payload hash or the signature, and returns the access key
// id; on failure the error is an *Error. It releases p.
func (p *Pending) Finish() (accessKeyID string, err error) {
	defer p.release()
	st := &p.st
	if p.hashing {
		hex.Encode(st.bodyHex[:], st.h.Sum(st.sum[:0]))
	}
	if p.declared != "" && p.declared != string(st.bodyHex[:]) {
		return "", invalid(msgPayloadMismatch)
	}
	if !p.signed && !p.check("") {
		return "", invalid(msgSignatureInvalid)
	}
	return p.a.accessKeyID, nil
}

// AccessKeyID is the access key the request claims; it is authenticated
// only once Finish succeeds.
func (p *Pending) AccessKeyID() string { return p.a.accessKeyID }

// Abort releases p without a verdict, when the body could not be read.
func (p *Pending) Abort() { p.release() }

func (p *Pending) release() {
	st := &p.st
	if cap(st.buf) > maxPooledBuf || cap(st.pairs) > 1024 {
		return
	}
	clear(st.pairs) // do not keep request strings alive in the pool
	st.pairs = st.pairs[:0]
	*p = Pending{st: *st}
	pendingPool.Put(p)
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
//
// AWS accepts the parameters in any order and with or without blanks after
// the commas, so this does too.
func parseAuthorization(h string, a *authParams) *Error {
	alg, rest, _ := strings.Cut(strings.TrimLeft(h, " "), " ")
	if alg != algorithm {
		return incomplete("Authorization header requires the '%s' algorithm; got '%s'.", algorithm, truncate(alg))
	}
	var seenCred, seenSH, seenSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return incomplete("Authorization header parameter '%s' is not of the form key=value.", truncate(part))
		}
		var seen *bool
		switch k {
		case "Credential":
			a.credential, seen = val, &seenCred
		case "SignedHeaders":
			a.signedHeaders, seen = val, &seenSH
		case "Signature":
			a.signature, seen = val, &seenSig
		default:
			continue // unknown parameters are ignored, as AWS does
		}
		if *seen {
			return incomplete("Authorization header parameter '%s' is specified more than once.", k)
		}
		*seen = true
	}
	var missing []string
	for _, m := range []struct {
		ok   bool
		name string
	}{{seenCred, "Credential"}, {seenSig, "Signature"}, {seenSH, "SignedHeaders"}} {
		if !m.ok {
			missing = append(missing, "Authorization header requires '"+m.name+"' parameter.")
		}
	}
	if missing != nil {
		return incomplete("%s Authorization=%s", strings.Join(missing, " "), truncate(h))
	}
	return nil
}

// presignedParams reads the auth parameters of a presigned URL from the
// parsed query.
func (st *state) presignedParams(a *authParams) *Error {
	a.presigned = true
	var e *Error
	alg := st.required("X-Amz-Algorithm", &e)
	a.credential = st.required("X-Amz-Credential", &e)
	a.amzDate = st.required("X-Amz-Date", &e)
	a.signedHeaders = st.required("X-Amz-SignedHeaders", &e)
	a.signature = st.required("X-Amz-Signature", &e)
	if e != nil {
		return e
	}
	// X-Amz-Expires is optional; see checkTime.
	expires, n := st.param("X-Amz-Expires")
	if n > 1 {
		return incomplete("AWS query-string parameter 'X-Amz-Expires' is specified more than once.")
	}
	a.expires = expires
	if alg != algorithm {
		return incomplete("X-Amz-Algorithm only supports '%s'.", algorithm)
	}
	return nil
}

// required returns the value of the query parameter name, which must occur
// exactly once; otherwise it sets *e, unless an earlier error is there.
func (st *state) required(name string, e **Error) string {
	v, n := st.param(name)
	if *e == nil {
		switch {
		case n == 0:
			*e = incomplete("AWS query-string parameters must include '%s'.", name)
		case n > 1:
			*e = incomplete("AWS query-string parameter '%s' is specified more than once.", name)
		}
	}
	return v
}

// parseCredential splits a.credential into its scope parts.
func parseCredential(a *authParams) *Error {
	if strings.Count(a.credential, "/") != 4 {
		return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", truncate(a.credential))
	}
	var parts [5]string
	rest := a.credential
	for i := range 4 {
		parts[i], rest, _ = strings.Cut(rest, "/")
	}
	parts[4] = rest
	a.accessKeyID, a.date, a.region, a.service = parts[0], parts[1], parts[2], parts[3]
	a.scope = a.credential[len(a.accessKeyID)+1:]
	switch {
	case a.accessKeyID == "":
		return incomplete("Credential must name an access key id.")
	case !isDigits(a.date, 8):
		return incomplete("Credential date must be in the format yyyyMMdd, got '%s'.", truncate(a.date))
	case a.region == "":
		return incomplete("Credential must name a region.")
	case a.service == "":
		return incomplete("Credential must name a service.")
	case parts[4] != terminator:
		return incomplete("Credential should be scoped with a valid terminator: '%s', not '%s'.", terminator, truncate(parts[4]))
	}
	return nil
}

// checkSignedHeaders rejects a SignedHeaders list that could not have come
// from a conforming signer. Requiring "host" matters for security: without it
// a signature would be valid against any deployment sharing the key.
func checkSignedHeaders(sh string, presigned bool) *Error {
	hasHost := false
	for rest := sh; ; {
		name, more, found := strings.Cut(rest, ";")
		if name == "" || !isToken(name) {
			return incomplete("SignedHeaders must be a ';'-separated list of header names, got '%s'.", truncate(sh))
		}
		if strings.EqualFold(name, "host") {
			hasHost = true
		}
		if !found {
			break
		}
		rest = more
	}
	if !hasHost {
		if presigned {
			return incomplete("'Host' must be a 'SignedHeader' in the X-Amz-SignedHeaders.")
		}
		return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return nil
}

// requestTime returns the signing time and its ISO 8601 basic form as used in
// the string to sign.
func requestTime(r *http.Request, a *authParams) (time.Time, string, *Error) {
	if a.presigned {
		t, err := time.Parse(amzDateLayout, a.amzDate)
		if err != nil {
			return time.Time{}, "", incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got '%s'.", truncate(a.amzDate))
		}
		return t, a.amzDate, nil
	}
	if ds := r.Header["X-Amz-Date"]; len(ds) > 0 {
		t, err := time.Parse(amzDateLayout, ds[0])
		if err != nil {
			return time.Time{}, "", incomplete("Date must be in ISO-8601 'basic format'. Got '%s'.", truncate(ds[0]))
		}
		return t, ds[0], nil
	}
	if ds := r.Header["Date"]; len(ds) > 0 {
		// botocore signs with a Date header instead of X-Amz-Date when the
		// request has one, formatted by email.utils.formatdate as
		// "Mon, 02 Jan 2006 15:04:05 -0000", which http.ParseTime lacks.
		t, err := http.ParseTime(ds[0])
		if err != nil {
			t, err = time.Parse(time.RFC1123Z, ds[0])
		}
		if err != nil {
			return time.Time{}, "", incomplete("Date header must be an HTTP date, got '%s'.", truncate(ds[0]))
		}
		t = t.UTC()
		return t, t.Format(amzDateLayout), nil
	}
	return time.Time{}, "", incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// checkTime enforces the clock skew window (and a presigned URL's lifetime),
// which is what stops a captured request from being replayed later.
func (v *Verifier) checkTime(t time.Time, a *authParams) *Error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	if t.After(n.Add(skew)) {
		return invalid(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s)",
			t.Format(amzDateLayout), n.Add(skew).Format(amzDateLayout), n.Format(amzDateLayout), fmtSkew(skew)))
	}
	if a.presigned && a.expires != "" {
		secs, err := strconv.Atoi(a.expires)
		if err != nil || secs < 1 || secs > maxExpires {
			return incomplete("X-Amz-Expires must be a whole number of seconds from 1 to %d, got '%s'.", maxExpires, truncate(a.expires))
		}
		if end := t.Add(time.Duration(secs) * time.Second); n.After(end) {
			return invalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s + %ds)",
				end.Format(amzDateLayout), n.Format(amzDateLayout), t.Format(amzDateLayout), secs))
		}
		return nil
	}
	// A presigned URL without X-Amz-Expires gets the same window as a
	// signed header, rather than living forever.
	if t.Before(n.Add(-skew)) {
		return invalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s)",
			t.Format(amzDateLayout), n.Add(-skew).Format(amzDateLayout), n.Format(amzDateLayout), fmtSkew(skew)))
	}
	return nil
}

func fmtSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String()
}

// flavor selects a client's way of building the canonical request where
// clients disagree.
type flavor uint8

const (
	// flavorSDK is what the AWS SDK for Go v2 (and the other current SDKs)
	// do: the path and host exactly as sent.
	flavorSDK flavor = iota
	// flavorBotocore is botocore's (AWS CLI v1, boto3): dot segments and
	// empty segments removed from the path, and the host lowercased.
	flavorBotocore
)

// state is the per-call scratch space, pooled so a verification does not
// allocate hashers and buffers each time.
type state struct {
	h       hash.Hash
	buf     []byte // canonical request, then string to sign
	pairs   []queryPair
	keyBuf  []byte // canonical MIME form of a header name
	pad     [64]byte
	inner   [32]byte
	sum     [32]byte
	sig     [32]byte
	bodyHex [64]byte
}

// queryPair is one query parameter, name and value each in canonical
// (RFC 3986) encoding.
type queryPair struct{ key, value string }

var statePool = sync.Pool{New: func() any {
	return &state{h: sha256.New(), buf: make([]byte, 0, 1024), keyBuf: make([]byte, 0, 64)}
}}

func getState() *state { return statePool.Get().(*state) }

func putState(st *state) {
	if cap(st.buf) > maxPooledBuf || cap(st.pairs) > 1024 {
		return
	}
	clear(st.pairs) // do not keep request strings alive in the pool
	st.pairs = st.pairs[:0]
	statePool.Put(st)
}

// parseQuery fills st.pairs with the canonical, sorted query parameters.
//
// It mirrors url.ParseQuery, which the Go SDK's signer uses: '+' is a space,
// segments with a ';' or a bad escape are dropped. Parameters already in
// canonical form (the usual case) are used as substrings of raw, without
// allocating.
func (st *state) parseQuery(raw string) {
	st.pairs = st.pairs[:0]
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" || strings.IndexByte(seg, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		ck, ok := canonicalQueryComponent(k)
		if !ok {
			continue
		}
		cv, ok := canonicalQueryComponent(v)
		if !ok {
			continue
		}
		st.pairs = append(st.pairs, queryPair{ck, cv})
	}
	// SigV4 sorts after encoding, by name and then by value.
	slices.SortFunc(st.pairs, func(x, y queryPair) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		return strings.Compare(x.value, y.value)
	})
}

// has reports whether the query has a parameter named name, which must be its
// own canonical encoding.
func (st *state) has(name string) bool {
	_, n := st.param(name)
	return n > 0
}

// param returns the decoded value of parameter name and how many times it
// occurs.
func (st *state) param(name string) (string, int) {
	i, found := slices.BinarySearchFunc(st.pairs, name, func(p queryPair, k string) int {
		return strings.Compare(p.key, k)
	})
	if !found {
		return "", 0
	}
	n := 1
	for i+n < len(st.pairs) && st.pairs[i+n].key == name {
		n++
	}
	v, err := url.PathUnescape(st.pairs[i].value) // canonical form has no '+'
	if err != nil {
		return "", n
	}
	return v, n
}

// canonicalQueryComponent returns s (a raw query name or value) in SigV4's
// canonical encoding, or false if s does not decode.
func canonicalQueryComponent(s string) (string, bool) {
	if isCanonical(s) {
		return s, true
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return "", false
	}
	// url.QueryEscape encodes exactly the non-unreserved bytes with
	// uppercase hex, except that it writes a space as '+'; a literal '+'
	// is "%2B", so every '+' left is a space.
	return strings.ReplaceAll(url.QueryEscape(d), "+", "%20"), true
}

// isCanonical reports whether s is already its own canonical encoding:
// only unreserved bytes and uppercase %XX escapes of reserved bytes.
func isCanonical(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			continue
		}
		if c != '%' || i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) ||
			unreserved[unhex(s[i+1])<<4|unhex(s[i+2])] {
			return false
		}
		i += 2
	}
	return true
}

// canonicalRequest writes r's canonical request into st.buf. path is the
// escaped path, payloadHash "" means st.bodyHex.
func (st *state) canonicalRequest(r *http.Request, a *authParams, path, payloadHash string, f flavor) {
	b := st.buf[:0]

	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	b = append(b, method...)
	b = append(b, '\n')

	b = appendURIEncoded(b, path)
	b = append(b, '\n')

	first := true
	for _, p := range st.pairs {
		if a.presigned && p.key == "X-Amz-Signature" {
			continue
		}
		if !first {
			b = append(b, '&')
		}
		first = false
		b = append(b, p.key...)
		b = append(b, '=')
		b = append(b, p.value...)
	}
	b = append(b, '\n')

	for rest := a.signedHeaders; ; {
		name, more, found := strings.Cut(rest, ";")
		b = appendLower(b, name)
		b = append(b, ':')
		b = st.appendHeaderValue(b, r, name, f)
		b = append(b, '\n')
		if !found {
			break
		}
		rest = more
	}
	b = append(b, '\n')
	b = appendLower(b, a.signedHeaders)
	b = append(b, '\n')
	if payloadHash == "" {
		b = append(b, st.bodyHex[:]...)
	} else {
		b = append(b, payloadHash...)
	}
	st.buf = b
}

// escapedPath is the path as the client sent it, the way the Go SDK's signer
// reads it from a URL.
func escapedPath(u *url.URL) string {
	if u.Opaque != "" {
		// "//host/path" or "scheme://host/path" form; keep the path.
		o, _, _ := strings.Cut(u.Opaque, "?")
		o = strings.TrimPrefix(o, "//")
		if i := strings.IndexByte(o, '/'); i >= 0 {
			return o[i:]
		}
		return "/"
	}
	if p := u.RawPath; p != "" && rawPathIsPath(p, u.Path) {
		return p
	}
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// rawPathIsPath reports whether raw, when it contains only bytes that
// url.URL.EscapedPath accepts, decodes to path, in which case EscapedPath
// returns raw. It saves the string EscapedPath allocates to find that out
// for every path with an escape in it, which is every Invoke of a
// qualified function. Anything it is unsure of falls back to EscapedPath.
func rawPathIsPath(raw, path string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		} else if !unreserved[c] && strings.IndexByte("/!$&'()*+,;=:@", c) < 0 {
			return false
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}

// appendHeaderValue appends the canonical value of the signed header name.
func (st *state) appendHeaderValue(b []byte, r *http.Request, name string, f flavor) []byte {
	if strings.EqualFold(name, "host") {
		h := host(r)
		if f == flavorBotocore {
			h = strings.ToLower(h)
		}
		return appendTrimmed(b, h)
	}
	vs := st.header(r.Header, name)
	if vs == nil && strings.EqualFold(name, "content-length") && r.ContentLength >= 0 {
		// Requests built by a client (as in tests, or behind a proxy that
		// rebuilt them) carry the length in ContentLength, not the header.
		return strconv.AppendInt(b, r.ContentLength, 10)
	}
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

func host(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return r.URL.Host
}

// header returns the values of header name. It looks the canonical key up
// without allocating, and falls back to a case-insensitive scan for header
// maps filled without canonical keys.
func (st *state) header(h http.Header, name string) []string {
	k := st.keyBuf[:0]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k = append(k, c)
		upper = c == '-'
	}
	st.keyBuf = k
	if vs, ok := h[string(k)]; ok {
		return vs
	}
	for hk, vs := range h {
		if strings.EqualFold(hk, name) {
			return vs
		}
	}
	return nil
}

// sign returns the hex-decoded signature of st.buf (the canonical request)
// under key, reusing st.buf for the string to sign.
func (st *state) sign(key *[32]byte, stamp, scope string) []byte {
	var crHex [64]byte
	st.h.Reset()
	st.h.Write(st.buf)
	hex.Encode(crHex[:], st.h.Sum(st.sum[:0]))

	b := st.buf[:0]
	b = append(b, algorithm+"\n"...)
	b = append(b, stamp...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = append(b, crHex[:]...)
	st.buf = b
	return st.hmac(key[:], b, st.sig[:0])
}

// hmac appends HMAC-SHA256(key, msg) to out using the pooled hasher;
// crypto/hmac would allocate two hashers and two pads per call. key must
// not be longer than the SHA-256 block (64 bytes); signing keys are 32.
func (st *state) hmac(key, msg, out []byte) []byte {
	for i := range st.pad {
		st.pad[i] = 0x36
	}
	for i, c := range key {
		st.pad[i] ^= c
	}
	st.h.Reset()
	st.h.Write(st.pad[:])
	st.h.Write(msg)
	inner := st.h.Sum(st.inner[:0])
	for i := range st.pad {
		st.pad[i] ^= 0x36 ^ 0x5c
	}
	st.h.Reset()
	st.h.Write(st.pad[:])
	st.h.Write(inner)
	return st.h.Sum(out)
}

// deriveKey computes the SigV4 signing key. It runs only on a cache miss, so
// it uses crypto/hmac for clarity.
func deriveKey(secret, date, region, service string) [32]byte {
	k := []byte("AWS4" + secret)
	for _, s := range [...]string{date, region, service, terminator} {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		k = m.Sum(nil)
	}
	return [32]byte(k)
}

// keyCache caches derived signing keys by access key id, date, region and
// service, since deriving one costs four HMACs and it changes once a day.
// Entries remember the secret they were derived from, so a rotated secret
// is never served a stale key.
type keyCache struct {
	m sync.Map // string -> *cachedKey
	n atomic.Int64
}

type cachedKey struct {
	secret string
	key    [32]byte
}

func (c *keyCache) load(scope, secret string) ([32]byte, bool) {
	if e, ok := c.m.Load(scope); ok {
		if ck := e.(*cachedKey); ck.secret == secret {
			return ck.key, true
		}
	}
	return [32]byte{}, false
}

// store is called only after a signature verified, so only holders of a
// secret can add entries (any region is accepted, so caching before
// verification would let anyone knowing an access key id grow the cache).
func (c *keyCache) store(scope, secret string, key [32]byte) {
	if c.n.Add(1) > maxCachedKeys {
		// Crude but bounded: start over. Normal deployments never get here.
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(strings.Clone(scope), &cachedKey{secret: secret, key: key})
}

// unreserved marks RFC 3986 unreserved bytes, the only ones SigV4 leaves
// unencoded (the same set as the Go SDK's httpbinding.EscapePath and
// Python's urllib.parse.quote).
var unreserved = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// appendURIEncoded encodes every byte of p except unreserved ones and '/',
// which double-encodes an already escaped path as AWS's non-S3 signers do.
func appendURIEncoded(b []byte, p string) []byte {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved[c] || c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return b
}

// removeDotSegments is botocore's normalize_url_path: RFC 3986 dot-segment
// removal that also drops empty segments.
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	first, last := "", ""
	if p[0] == '/' {
		first = "/"
	}
	if p[len(p)-1] == '/' && len(out) > 0 {
		last = "/"
	}
	return first + strings.Join(out, "/") + last
}

// appendTrimmed appends v with leading and trailing blanks removed and inner
// runs of blanks collapsed to one space (SigV4's Trimall).
func appendTrimmed(b []byte, v string) []byte {
	space := false
	wrote := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space && wrote {
			b = append(b, ' ')
		}
		space = false
		wrote = true
		b = append(b, c)
	}
	return b
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// decodeHex decodes the 64-character signature into dst without allocating.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, lo := s[2*i], s[2*i+1]
		if !isHex(hi) || !isHex(lo) {
			return false
		}
		dst[i] = unhex(hi)<<4 | unhex(lo)
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// isToken reports whether s is an HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(unreserved[c] || strings.IndexByte("!#$%&'*+^`|", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// truncate keeps attacker-supplied text in error messages short.
func truncate(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
