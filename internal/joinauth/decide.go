package joinauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/paddockhq/paddock/internal/livestate"
)

// Token is a join token as the store keeps it: never the secret, only
// its digest.
type Token struct {
	ID          string     `json:"id"`
	Digest      string     `json:"digest,omitempty"` // hex SHA-256 of the whole token; empty for the bootstrap token
	Description string     `json:"description,omitempty"`
	Created     time.Time  `json:"created"`
	Revoked     *time.Time `json:"revoked,omitempty"`
}

// Agent binds a host id to the key of the agent that first joined as it,
// and to the token it joined with: revoking that token shuts the agent out.
type Agent struct {
	Host    string    `json:"host"`
	Nkey    string    `json:"nkey"` // public user nkey, "U..."
	TokenID string    `json:"tokenId"`
	Joined  time.Time `json:"joined"`
}

// BootstrapID names the token the servers were started with
// (--join-token): it needs no record, but may be revoked like the others.
const BootstrapID = "bootstrap"

// Join is what an agent presents when it connects: its host id as the
// user, the join token as the password, and its own key, proven by a
// signature of the server's nonce.
type Join struct {
	Host, Token      string
	Nkey, Sig, Nonce string
}

// Refusal is why an agent may not join; its text reaches the server's log
// and the agent's error.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// Decide checks a join against the tokens (by id) and the host's binding
// (nil when the host id is new). It returns the token's id, which a new
// binding records.
func Decide(j Join, bootstrap string, tokens map[string]Token, bound *Agent) (string, error) {
	if !livestate.ValidID(j.Host) {
		return "", refuse("host id %q: use letters, digits, '-' and '_'", j.Host)
	}
	if err := verifyKey(j.Nkey, j.Sig, j.Nonce); err != nil {
		return "", err
	}
	id, ok := tokenID(j.Token, bootstrap, tokens)
	if !ok {
		return "", refuse("the join token is not valid")
	}
	if t, ok := tokens[id]; ok && t.Revoked != nil {
		return "", refuse("the join token %s was revoked", id)
	}
	if bound != nil {
		if bound.Nkey != j.Nkey {
			return "", refuse("host id %s belongs to another agent (another key); give this one an id of its own", j.Host)
		}
		if t, ok := tokens[bound.TokenID]; ok && t.Revoked != nil {
			return "", refuse("host %s joined with the join token %s, which was revoked", j.Host, bound.TokenID)
		}
	}
	return id, nil
}

// tokenID finds which token was presented: a created one ("id.secret",
// matched by digest) or the bootstrap one. Comparisons take constant time.
func tokenID(token, bootstrap string, tokens map[string]Token) (string, bool) {
	if id, _, ok := strings.Cut(token, "."); ok {
		if t, ok := tokens[id]; ok && t.Digest != "" {
			sum := sha256.Sum256([]byte(token))
			if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(t.Digest)) == 1 {
				return id, true
			}
			return "", false
		}
	}
	if bootstrap != "" && subtle.ConstantTimeCompare([]byte(token), []byte(bootstrap)) == 1 {
		return BootstrapID, true
	}
	return "", false
}

// verifyKey checks that the agent holds the private half of nkey: it
// signed the nonce this connection was given.
func verifyKey(nkey, sig, nonce string) error {
	if nkey == "" || sig == "" || nonce == "" {
		return refuse("an agent connects with a key of its own (an nkey) and signs the server's nonce")
	}
	if !nkeys.IsValidPublicUserKey(nkey) {
		return refuse("%q is not a public user nkey", nkey)
	}
	kp, err := nkeys.FromPublicKey(nkey)
	if err != nil {
		return refuse("%q is not a public user nkey", nkey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return refuse("the nonce's signature is not base64")
		}
	}
	if kp.Verify([]byte(nonce), raw) != nil {
		return refuse("the nonce's signature does not match the key")
	}
	return nil
}
