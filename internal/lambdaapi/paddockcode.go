package lambdaapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/paddockhq/paddock/internal/store"
)

// GetFunction answers Code.Location, a URL from which the function's zip
// can be downloaded for 10 minutes without credentials: on AWS a presigned
// S3 URL, on Paddock one of its own, served below. The URL names the code
// by its digest and carries an expiry and an HMAC of both under a key that
// lives only in this process, so it cannot be forged or extended, and a
// restart invalidates every URL given out (as a rotated key would).
const codeURLLifetime = 10 * time.Minute

const codePath = "/paddock/v1/code/"

func newCodeKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) //nolint:errcheck // crypto/rand does not fail on Linux
	return k
}

func (a *API) codeSignature(hexSHA string, expires int64) string {
	m := hmac.New(sha256.New, a.codeKey)
	m.Write([]byte(hexSHA + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// codeURL is the download URL of the code whose digest (base64, as in
// CodeSha256) is b64sha, on the host the caller reached.
func (a *API) codeURL(r *http.Request, b64sha string) string {
	sum, err := base64.StdEncoding.DecodeString(b64sha)
	if err != nil || a.codes == nil {
		return ""
	}
	hexSHA := hex.EncodeToString(sum)
	expires := time.Now().Add(codeURLLifetime).Unix()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := url.Values{"Expires": {strconv.FormatInt(expires, 10)}, "Signature": {a.codeSignature(hexSHA, expires)}}
	return scheme + "://" + r.Host + codePath + hexSHA + "?" + q.Encode()
}

// UseCodeStore serves Code.Location downloads from st.
func (a *API) UseCodeStore(st *store.Store) {
	a.codes = st
	a.mux.HandleFunc("GET "+codePath+"{sha}", a.serveCode)
}

// serveCode answers a download of Code.Location. It needs no SigV4 (the
// URL is the credential); a forged, altered or expired URL costs one HMAC
// and gets S3's 403 AccessDenied, before the store is asked for anything.
func (a *API) serveCode(w http.ResponseWriter, r *http.Request) {
	hexSHA := r.PathValue("sha")
	q := r.URL.Query()
	expires, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil || len(hexSHA) != 64 || time.Now().Unix() > expires ||
		!hmac.Equal([]byte(q.Get("Signature")), []byte(a.codeSignature(hexSHA, expires))) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired or its signature is not valid</Message></Error>`)) //nolint:errcheck
		return
	}
	zip, err := a.codes.GetCode(r.Context(), hexSHA)
	if errors.Is(err, store.ErrNotFound) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)) //nolint:errcheck
		return
	}
	if err != nil {
		http.Error(w, "could not read the code", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.Itoa(len(zip)))
	w.Write(zip) //nolint:errcheck // the client left
}
