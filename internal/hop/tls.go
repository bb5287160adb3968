package hop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// The hop's TLS: each agent makes a key and a self-signed certificate when
// it starts and writes the certificate's SHA-256 into its host record,
// which only it may write (its NATS permissions). The router pins that
// fingerprint: it needs no CA, and a process that took over the agent's
// address can neither read invokes nor learn the bearer token, which
// only travels inside the pinned session.

// NewServerCert makes the agent's hop certificate (ECDSA P-256, valid for
// a year; a new one at each start) and returns it with the hex SHA-256 of
// its DER, the fingerprint routers pin.
func NewServerCert() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "paddock agent hop"},
		NotBefore:    now.Add(-time.Hour), // clock skew between machines
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, hex.EncodeToString(sum[:]), nil
}

// ServerTLS is the agent's TLS configuration for its hop port.
func ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
}

// errPin: the agent's certificate is not the one its host record names.
var errPin = errors.New("the agent's certificate does not match its host record's hopCertSha256")

// pinnedTLS is the router's configuration for an agent whose certificate
// has the hex SHA-256 fingerprint. VerifyConnection runs on resumed
// sessions too, so a ticket cannot skip the pin.
func pinnedTLS(fingerprint string, sessions tls.ClientSessionCache) (*tls.Config, error) {
	want, err := hex.DecodeString(fingerprint)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("the agent's certificate fingerprint %q: want 64 hex digits", fingerprint)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is not verified against a CA: the pin below is the
		// whole check, as for ssh's known hosts.
		InsecureSkipVerify: true,
		ClientSessionCache: sessions,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errPin
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return errPin
			}
			return nil
		},
	}, nil
}

// dial connects to e's agent, with TLS when its URL is https.
func (c *Client) dial(ctx context.Context, e *EE) (net.Conn, error) {
	nc, err := c.dialer.DialContext(ctx, "tcp", e.addr)
	if err != nil || e.tls == nil {
		return nc, err
	}
	tc := tls.Client(nc, e.tls)
	hs, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hs); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return tc, nil
}
