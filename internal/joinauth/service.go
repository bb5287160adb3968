// Package joinauth decides who may connect to the engine as an instance
// agent, and what it may do there. Every server answers the engine's auth
// callout: an agent connects with its host id, a join token and a key of
// its own (an nkey it generated and keeps); the first agent to join as a
// host id binds it to its key, and gets a user whose permissions cover
// that host's records only (Permissions). Join tokens live in the store,
// as digests, and can be revoked: the agents that joined with a revoked
// token are disconnected and cannot connect again.
package joinauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/store"
)

// Bucket names.
const (
	TokensBucket = "paddock-join-tokens" // token id → Token
	AgentsBucket = "paddock-agents"      // host id → Agent
)

// Issuer is the account key that signs the callout's answers. Every node
// of a cluster must use the same (a node may hand an agent's connection
// to another server's callout), so it is derived from secrets the servers
// share and agents do not: the cluster's route secret, with the join token.
func Issuer(shared ...string) (nkeys.KeyPair, error) {
	h := sha256.New()
	h.Write([]byte("paddock auth callout issuer\n"))
	for _, s := range shared {
		h.Write([]byte(s + "\n"))
	}
	return nkeys.FromRawSeed(nkeys.PrefixByteAccount, h.Sum(nil))
}

// Service answers the callout and keeps the tokens.
type Service struct {
	// UserTTL, when set (before Run), is how long the credentials an
	// agent is admitted with last: the engine then disconnects the agent,
	// which reconnects and is asked for its token again. Where kick cannot
	// reach an agent's connection (an external cluster), it bounds how
	// long the agents of a revoked token stay connected.
	UserTTL time.Duration

	nc        *nats.Conn
	issuer    nkeys.KeyPair
	bootstrap string
	tokens    jetstream.KeyValue
	agents    jetstream.KeyValue
	kick      func(host string) int
	log       *slog.Logger

	mu     sync.RWMutex
	cached map[string]Token // by id
	bound  map[string]Agent // by host id
}

// New opens the buckets on st. bootstrap is the token the servers were
// started with; kick disconnects this node's clients admitted as a host
// id, and returns how many.
func New(ctx context.Context, st *store.Store, issuer nkeys.KeyPair, bootstrap string, kick func(host string) int) (*Service, error) {
	tokens, err := st.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: TokensBucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", TokensBucket, err)
	}
	agents, err := st.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: AgentsBucket, History: 1})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", AgentsBucket, err)
	}
	return &Service{nc: st.Conn(), issuer: issuer, bootstrap: bootstrap, tokens: tokens, agents: agents, kick: kick,
		log: slog.Default().With("role", "joinauth"), cached: map[string]Token{}, bound: map[string]Agent{}}, nil
}

// Run answers the engine's auth callout and follows the tokens and the
// bindings until ctx ends. It returns once the callout is answered and
// both are read, so agents may join when it returns. Decisions are made
// from what it follows: an agent reconnecting while the store elects a
// new raft leader (its server died) is still admitted.
func (s *Service) Run(ctx context.Context) (stop func(), err error) {
	tokens, err := s.tokens.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch join tokens: %w", err)
	}
	agents, err := s.agents.WatchAll(ctx)
	if err != nil {
		tokens.Stop() //nolint:errcheck
		return nil, fmt.Errorf("watch agents: %w", err)
	}
	stopWatches := func() {
		tokens.Stop() //nolint:errcheck
		agents.Stop() //nolint:errcheck
	}
	for _, w := range []jetstream.KeyWatcher{tokens, agents} { // what is there now
		for e := range w.Updates() {
			if e == nil {
				break
			}
			s.apply(e)
		}
	}
	// One server answers each request: answers from several would race,
	// and the first one the engine reads wins.
	sub, err := s.nc.QueueSubscribe(server.AuthCalloutSubject, "paddock-joinauth", func(m *nats.Msg) { s.answer(ctx, m) })
	if err != nil {
		stopWatches()
		return nil, err
	}
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
		sub.Unsubscribe() //nolint:errcheck
		stopWatches()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.follow(runCtx, tokens, agents)
	}()
	return func() {
		sub.Unsubscribe() //nolint:errcheck
		cancel()
		stopWatches()
		<-done
	}, nil
}

// follow applies changes; a revocation disconnects the agents that
// joined with the token, and again a moment later, in case one was
// being admitted as the revocation arrived.
func (s *Service) follow(ctx context.Context, tokens, agents jetstream.KeyWatcher) {
	var again <-chan time.Time
	var revoked []string
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-agents.Updates():
			if !ok {
				return
			}
			if e != nil {
				s.apply(e)
			}
		case e, ok := <-tokens.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			if id, newly := s.apply(e); newly {
				s.shutOut(id)
				revoked = append(revoked, id)
				again = time.After(time.Second)
			}
		case <-again:
			for _, id := range revoked {
				s.shutOut(id)
			}
			revoked, again = nil, nil
		}
	}
}

// apply caches one record of either bucket; for a token, newly is true
// when it is a revocation this server had not seen, and id is its id.
func (s *Service) apply(e jetstream.KeyValueEntry) (id string, newly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	put := e.Operation() == jetstream.KeyValuePut
	if e.Bucket() == AgentsBucket {
		var a Agent
		if !put || json.Unmarshal(e.Value(), &a) != nil {
			delete(s.bound, e.Key())
		} else {
			s.bound[e.Key()] = a
		}
		return "", false
	}
	old, had := s.cached[e.Key()]
	var t Token
	if !put || json.Unmarshal(e.Value(), &t) != nil {
		delete(s.cached, e.Key())
		return "", false
	}
	s.cached[t.ID] = t
	return t.ID, t.Revoked != nil && (!had || old.Revoked == nil)
}

// shutOut disconnects this node's agents that joined with the token.
func (s *Service) shutOut(tokenID string) {
	s.mu.RLock()
	var hosts []string
	for _, a := range s.bound {
		if a.TokenID == tokenID {
			hosts = append(hosts, a.Host)
		}
	}
	s.mu.RUnlock()
	for _, h := range hosts {
		if n := s.kick(h); n > 0 {
			s.log.Info("agent shut out: its join token was revoked", "host", h, "token", tokenID, "connections", n)
		}
	}
}

func (s *Service) snapshot() map[string]Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.cached)
}

// answer is the callout: the engine asks whether a connection may be
// admitted, and as whom.
func (s *Service) answer(ctx context.Context, m *nats.Msg) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
	if err != nil {
		s.log.Warn("auth callout: a request that does not decode", "err", err)
		return
	}
	o := req.ConnectOptions
	j := Join{Host: o.Username, Token: o.Password, Nkey: o.Nkey, Sig: o.SignedNonce, Nonce: req.ClientInformation.Nonce}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	userJWT, err := s.admit(actx, j, req.UserNkey)
	if err != nil {
		s.log.Warn("agent refused", "host", j.Host, "from", req.ClientInformation.Host, "why", err)
	}
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	resp.Audience = req.Server.ID
	resp.Jwt = userJWT
	if err != nil {
		resp.Error = err.Error()
	}
	token, err := resp.Encode(s.issuer)
	if err != nil {
		s.log.Error("auth callout: sign the answer", "err", err)
		return
	}
	m.Respond([]byte(token)) //nolint:errcheck
}

// admit decides, binds a new host id to the agent's key, and issues the
// agent's user: its own permissions, in the servers' account.
func (s *Service) admit(ctx context.Context, j Join, userKey string) (string, error) {
	tokens := s.snapshot()
	for attempt := 0; ; attempt++ {
		bound, err := s.binding(ctx, j.Host)
		if err != nil {
			return "", err
		}
		tokenID, err := Decide(j, s.bootstrap, tokens, bound)
		if err != nil {
			return "", err
		}
		if bound == nil {
			a := Agent{Host: j.Host, Nkey: j.Nkey, TokenID: tokenID, Joined: time.Now().UTC()}
			data, _ := json.Marshal(a)
			if _, err := s.agents.Create(ctx, j.Host, data); err != nil {
				if errors.Is(err, jetstream.ErrKeyExists) && attempt == 0 {
					continue // another agent bound it a moment ago: decide again
				}
				return "", fmt.Errorf("bind host %s: %w", j.Host, err)
			}
			s.log.Info("host id bound to a new agent key", "host", j.Host, "token", tokenID)
		} else if bound.TokenID != tokenID {
			// Rejoined with another token: revoking that one shuts it out now.
			a := *bound
			a.TokenID = tokenID
			data, _ := json.Marshal(a)
			if _, err := s.agents.Put(ctx, j.Host, data); err != nil {
				return "", fmt.Errorf("rebind host %s: %w", j.Host, err)
			}
		}
		return s.user(j, userKey)
	}
}

func (s *Service) binding(ctx context.Context, host string) (*Agent, error) {
	if !livestate.ValidID(host) {
		return nil, nil // Decide refuses it
	}
	s.mu.RLock()
	cached, ok := s.bound[host]
	s.mu.RUnlock()
	if ok {
		return &cached, nil
	}
	// Not seen here yet: bound a moment ago through another server, or new.
	e, err := s.agents.Get(ctx, host)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the binding of host %s: %w", host, err)
	}
	var a Agent
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return nil, fmt.Errorf("binding of host %s: %w", host, err)
	}
	return &a, nil
}

// user is the agent's user JWT, signed by the issuer, for the user key
// the engine made for this connection.
func (s *Service) user(j Join, userKey string) (string, error) {
	uc := jwt.NewUserClaims(userKey)
	uc.Name = j.Host
	uc.Audience = server.DEFAULT_GLOBAL_ACCOUNT // config mode: the account the user lands in
	uc.Permissions = Permissions(j.Host)
	uc.Limits.Subs = 256
	if s.UserTTL > 0 {
		uc.Expires = time.Now().Add(s.UserTTL).Unix()
	}
	return uc.Encode(s.issuer)
}

// Forget removes the binding of a host id that will not join again (an
// instance terminated: its id is never used again), so that bindings do
// not pile up with every instance ever launched.
func (s *Service) Forget(ctx context.Context, host string) error {
	if !livestate.ValidID(host) {
		return nil
	}
	if err := s.agents.Delete(ctx, host); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.bound, host) // the watch would, a moment later: a join meanwhile must not see it
	s.mu.Unlock()
	return nil
}

// Bound reports whether an agent's key is bound to host.
func (s *Service) Bound(ctx context.Context, host string) (bool, error) {
	if !livestate.ValidID(host) {
		return false, nil
	}
	a, err := s.binding(ctx, host)
	return a != nil, err
}

// Create makes a new join token; its secret is in the returned string only.
func (s *Service) Create(ctx context.Context, description string) (Token, string, error) {
	id := "jt-" + strings.ToLower(rand.Text()[:10])
	token := id + "." + rand.Text()
	sum := sha256.Sum256([]byte(token))
	t := Token{ID: id, Digest: hex.EncodeToString(sum[:]), Description: description, Created: time.Now().UTC()}
	data, _ := json.Marshal(t)
	if _, err := s.tokens.Create(ctx, id, data); err != nil {
		return Token{}, "", fmt.Errorf("store join token: %w", err)
	}
	return t, token, nil
}

// ErrNoToken: no token has that id.
var ErrNoToken = errors.New("no join token has that id")

// Revoke revokes the token id (BootstrapID for the servers' own): no
// agent may join with it any more, and those that did are disconnected.
func (s *Service) Revoke(ctx context.Context, id string) (Token, error) {
	if !livestate.ValidID(id) {
		return Token{}, ErrNoToken
	}
	for {
		e, err := s.tokens.Get(ctx, id)
		var t Token
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) && id == BootstrapID:
			t = Token{ID: BootstrapID, Description: "the servers' --join-token"}
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return Token{}, ErrNoToken
		case err != nil:
			return Token{}, err
		default:
			if err := json.Unmarshal(e.Value(), &t); err != nil {
				return Token{}, err
			}
			rev = e.Revision()
		}
		if t.Revoked != nil {
			return t, nil
		}
		now := time.Now().UTC()
		t.Revoked = &now
		data, _ := json.Marshal(t)
		if rev == 0 {
			_, err = s.tokens.Create(ctx, id, data)
		} else {
			_, err = s.tokens.Update(ctx, id, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed meanwhile: read it again
		}
		return t, err
	}
}

// List is every token, the bootstrap one first, oldest first after it.
func (s *Service) List(ctx context.Context) ([]Token, error) {
	keys, err := s.tokens.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Token
	boot := Token{ID: BootstrapID, Description: "the servers' --join-token"}
	for k := range keys.Keys() {
		e, err := s.tokens.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var t Token
		if json.Unmarshal(e.Value(), &t) != nil {
			continue
		}
		if t.ID == BootstrapID {
			boot = t
			continue
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Token) int { return a.Created.Compare(b.Created) })
	return append([]Token{boot}, out...), nil
}
