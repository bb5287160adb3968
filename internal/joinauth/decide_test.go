package joinauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

func TestDecide(t *testing.T) {
	key, _ := nkeys.CreateUser()
	pub, _ := key.PublicKey()
	other, _ := nkeys.CreateUser()
	otherPub, _ := other.PublicKey()
	const nonce = "bm9uY2U"
	sig := func(kp nkeys.KeyPair) string {
		s, _ := kp.Sign([]byte(nonce))
		return base64.RawURLEncoding.EncodeToString(s)
	}
	created := "jt-abc.s3cret"
	sum := sha256.Sum256([]byte(created))
	now := time.Now()
	tokens := map[string]Token{
		"jt-abc": {ID: "jt-abc", Digest: hex.EncodeToString(sum[:])},
		"jt-old": {ID: "jt-old", Digest: "00", Revoked: &now},
	}
	revokedBoot := map[string]Token{BootstrapID: {ID: BootstrapID, Revoked: &now}}
	good := Join{Host: "h-1", Token: "boot", Nkey: pub, Sig: sig(key), Nonce: nonce}
	with := func(f func(*Join)) Join { j := good; f(&j); return j }

	cases := []struct {
		name    string
		join    Join
		tokens  map[string]Token
		bound   *Agent
		wantID  string
		refused bool
	}{
		{name: "bootstrap token, new host", join: good, tokens: tokens, wantID: BootstrapID},
		{name: "created token", join: with(func(j *Join) { j.Token = created }), tokens: tokens, wantID: "jt-abc"},
		{name: "created token, wrong secret", join: with(func(j *Join) { j.Token = "jt-abc.guess" }), tokens: tokens, refused: true},
		{name: "unknown token", join: with(func(j *Join) { j.Token = "nope" }), tokens: tokens, refused: true},
		{name: "empty token", join: with(func(j *Join) { j.Token = "" }), tokens: tokens, refused: true},
		{name: "revoked bootstrap", join: good, tokens: revokedBoot, refused: true},
		{name: "bound to this key", join: good, tokens: tokens, bound: &Agent{Host: "h-1", Nkey: pub, TokenID: BootstrapID}, wantID: BootstrapID},
		{name: "bound to another key", join: good, tokens: tokens, bound: &Agent{Host: "h-1", Nkey: otherPub, TokenID: BootstrapID}, refused: true},
		{name: "bound with a token since revoked", join: good, tokens: tokens, bound: &Agent{Host: "h-1", Nkey: pub, TokenID: "jt-old"}, refused: true},
		{name: "no key", join: with(func(j *Join) { j.Nkey, j.Sig = "", "" }), tokens: tokens, refused: true},
		{name: "signature by another key", join: with(func(j *Join) { j.Sig = sig(other) }), tokens: tokens, refused: true},
		{name: "signature of another nonce", join: with(func(j *Join) { j.Nonce = "other" }), tokens: tokens, refused: true},
		{name: "not a user key", join: with(func(j *Join) { j.Nkey = "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA" }), tokens: tokens, refused: true},
		{name: "host id with a dot", join: with(func(j *Join) { j.Host = "h.1" }), tokens: tokens, refused: true},
		{name: "host id wildcard", join: with(func(j *Join) { j.Host = ">" }), tokens: tokens, refused: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := Decide(c.join, "boot", c.tokens, c.bound)
			var r *Refusal
			if c.refused {
				if !errors.As(err, &r) {
					t.Fatalf("Decide = %q, %v; want a refusal", id, err)
				}
				return
			}
			if err != nil || id != c.wantID {
				t.Fatalf("Decide = %q, %v; want %q", id, err, c.wantID)
			}
		})
	}
}
