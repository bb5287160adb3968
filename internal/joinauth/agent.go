package joinauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ConnectOptions are how the agent of host connects to the engine: the
// host id and the join token as user and password, its own key (which
// signs the server's nonce), and an inbox of its own, the only subjects
// it may subscribe to.
func ConnectOptions(host, token string, key nkeys.KeyPair) ([]nats.Option, error) {
	pub, err := key.PublicKey()
	if err != nil {
		return nil, err
	}
	return []nats.Option{
		nats.UserInfo(host, token),
		nats.Nkey(pub, key.Sign),
		nats.CustomInboxPrefix(InboxPrefix(host)),
	}, nil
}

// LoadKey reads the agent's key (an nkey seed) from path, generating and
// keeping one the first time: the key binds the host id, so an agent
// that restarts on the same data dir is the same agent.
func LoadKey(path string) (nkeys.KeyPair, error) {
	seed, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, err
		}
		seed, _ := kp.Seed()
		if err := os.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("keep the agent's key: %w", err)
		}
		return kp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the agent's key: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return nil, fmt.Errorf("the agent's key in %s: %w", path, err)
	}
	return kp, nil
}
