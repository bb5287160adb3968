package joinauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/coderelay"
	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/store"
)

const bootToken = "the-bootstrap-join-token"

type engine struct {
	st    *store.Store
	kv    *livestate.Buckets
	joins *joinauth.Service
	url   string
	beats sync.Map // subject → count, as the servers received them
}

// startEngine is a server's engine as `paddock server` opens it: the
// client port listening on loopback, agents admitted by the callout.
func startEngine(t *testing.T) *engine {
	t.Helper()
	ctx := t.Context()
	issuer, err := joinauth.Issuer("", bootToken)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := issuer.PublicKey()
	st, err := store.OpenEmbeddedListening(ctx, t.TempDir(), store.Listen{Addr: "127.0.0.1:0", JoinToken: bootToken, AgentIssuer: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	kv, err := livestate.Create(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	j, err := joinauth.New(ctx, st, issuer, bootToken, st.DisconnectUser)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := j.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e := &engine{st: st, kv: kv, joins: j, url: st.ClientURL()}
	// The servers relay code to the agents; here every host may have all.
	relay := &coderelay.Server{Allowed: func(context.Context, string, string) (bool, error) { return true, nil }, Get: st.GetCode}
	if err := relay.Serve(ctx, st.Conn()); err != nil {
		t.Fatal(err)
	}
	// The servers answer beats, as fleet.Static does.
	sub, err := st.Conn().Subscribe(livestate.BeatSubject+"*", func(m *nats.Msg) {
		n, _ := e.beats.LoadOrStore(m.Subject, new(int))
		*(n.(*int))++
		m.Respond(nil) //nolint:errcheck
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() }) //nolint:errcheck
	return e
}

type agentConn struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	errs   chan error // asynchronous errors: permission violations
	closed chan struct{}
}

func (e *engine) join(t *testing.T, host, token string, key nkeys.KeyPair) (*agentConn, error) {
	t.Helper()
	auth, err := joinauth.ConnectOptions(host, token, key)
	if err != nil {
		t.Fatal(err)
	}
	a := &agentConn{errs: make(chan error, 64), closed: make(chan struct{})}
	nc, err := nats.Connect(e.url, append(auth, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case a.errs <- err:
			default:
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(a.closed) }))...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	a.nc = nc
	a.js, _ = jetstream.New(nc)
	return a, nil
}

func newKey(t *testing.T) nkeys.KeyPair {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// TestAgentDoesItsJob: an agent joined with its own key writes its host
// record and its EEs' states, beats, follows its assignments and reads
// code, as internal/agentd does.
func TestAgentDoesItsJob(t *testing.T) {
	e := startEngine(t)
	ctx := t.Context()
	a, err := e.join(t, "h-1", bootToken, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := livestate.Bind(ctx, a.js)
	if err != nil {
		t.Fatalf("bind the buckets: %v", err)
	}
	if err := livestate.Put(ctx, kv.Hosts, "h-1", livestate.Host{ID: "h-1"}); err != nil {
		t.Fatalf("own host record: %v", err)
	}
	if err := livestate.Put(ctx, kv.EEs, livestate.Key("h-1", "ee-1"), livestate.EE{Key: "fn:1", State: "Ready"}); err != nil {
		t.Fatalf("own EE record: %v", err)
	}
	if err := livestate.Delete(ctx, kv.EEs, livestate.Key("h-1", "ee-1")); err != nil {
		t.Fatalf("delete own EE record: %v", err)
	}
	if _, err := a.nc.Request(livestate.BeatSubject+"h-1", []byte(`{"host":"h-1"}`), 2*time.Second); err != nil {
		t.Fatalf("beat: %v", err)
	}
	// The leader assigns an EE; the agent's watch sees it.
	w, err := kv.Assign.Watch(ctx, "h-1.*")
	if err != nil {
		t.Fatalf("watch own assignments: %v", err)
	}
	defer w.Stop() //nolint:errcheck
	spec, _ := json.Marshal(agent.Spec{ID: "ee-2"})
	if _, err := e.kv.Assign.Put(ctx, livestate.Key("h-1", "ee-2"), spec); err != nil {
		t.Fatal(err)
	}
	if got := nextPut(t, w); got != livestate.Key("h-1", "ee-2") {
		t.Fatalf("watch saw %q", got)
	}
	// Code, as the code cache fetches it: through the servers' relay.
	zip := []byte("zip bytes")
	sum := sha256.Sum256(zip)
	code := hex.EncodeToString(sum[:])
	if err := e.st.PutCode(ctx, code, zip); err != nil {
		t.Fatal(err)
	}
	if b, err := coderelay.Fetcher(a.nc, "h-1")(ctx, code); err != nil || string(b) != "zip bytes" {
		t.Fatalf("fetch code = %q, %v", b, err)
	}
	select {
	case err := <-a.errs:
		t.Fatalf("the agent's own work drew an error: %v", err)
	default:
	}
}

func nextPut(t *testing.T, w jetstream.KeyWatcher) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-w.Updates():
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				return e.Key()
			}
		case <-timeout:
			t.Fatal("no update in 5s")
		}
	}
}

// TestAgentCannotReachOthers: everything beyond its own host is refused
// by the engine: other hosts' records (and their hop tokens), the
// configuration, other agents' assignments, the servers' replies, and
// beating as another host.
func TestAgentCannotReachOthers(t *testing.T) {
	e := startEngine(t)
	ctx := t.Context()
	// Another host's record, with the token its hop requires.
	if err := livestate.Put(ctx, e.kv.Hosts, "h-2", livestate.Host{ID: "h-2", HopToken: "secret-of-h-2"}); err != nil {
		t.Fatal(err)
	}
	a, err := e.join(t, "h-1", bootToken, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := livestate.Bind(ctx, a.js)
	if err != nil {
		t.Fatal(err)
	}
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	if err := livestate.Put(short(), kv.Hosts, "h-2", livestate.Host{ID: "h-2", HopURL: "http://attacker"}); err == nil {
		t.Error("an agent overwrote another host's record")
	}
	if err := livestate.Put(short(), kv.EEs, livestate.Key("h-2", "ee-1"), livestate.EE{State: "Ready"}); err == nil {
		t.Error("an agent wrote another host's EE state")
	}
	if _, err := kv.Hosts.Get(short(), "h-2"); err == nil {
		t.Error("an agent read another host's record (and its hop token)")
	}
	if w, err := kv.Assign.Watch(short(), "h-2.*"); err == nil {
		select {
		case u := <-w.Updates():
			if u != nil {
				t.Errorf("an agent watched another host's assignments: %q", u.Key())
			}
		case <-time.After(500 * time.Millisecond):
		}
		w.Stop() //nolint:errcheck
	}
	if _, err := a.js.KeyValue(short(), "paddock-config"); err == nil {
		t.Error("an agent bound the configuration bucket")
	}
	// Code only through the relay, as itself: not the object store, whose
	// stream could be read message by message, nor as another host.
	if _, err := a.js.ObjectStore(short(), "paddock-code"); err == nil {
		t.Error("an agent bound the code object store")
	}
	if _, err := a.nc.Request("$JS.API.STREAM.MSG.GET.OBJ_paddock-code", []byte(`{"seq":1}`), 300*time.Millisecond); err == nil {
		t.Error("an agent read the code stream by sequence")
	}
	if _, err := a.nc.Request(coderelay.Subject+"h-2", nil, 300*time.Millisecond); err == nil {
		t.Error("an agent asked for code as another host")
	}
	// Other inboxes: the servers' replies, and every other agent's.
	sub, err := a.nc.SubscribeSync("_INBOX.>")
	if err == nil {
		a.nc.Flush() //nolint:errcheck
		if _, err := sub.NextMsg(300 * time.Millisecond); err == nil {
			t.Error("an agent received a message on the servers' inboxes")
		}
	}
	if _, err := a.nc.Request(livestate.BeatSubject+"h-2", []byte(`{"host":"h-2"}`), 300*time.Millisecond); err == nil {
		t.Error("an agent beat as another host")
	}
	if _, ok := e.beats.Load(livestate.BeatSubject + "h-2"); ok {
		t.Error("the servers received a beat for h-2 from h-1's agent")
	}
	// The engine said so each time.
	violations := 0
	for done := false; !done; {
		select {
		case err := <-a.errs:
			if strings.Contains(err.Error(), "Permissions Violation") {
				violations++
			}
		case <-time.After(200 * time.Millisecond):
			done = true
		}
	}
	if violations < 3 {
		t.Errorf("%d permission violations reported, want several", violations)
	}
	// And the agent still works for itself.
	if err := livestate.Put(ctx, kv.Hosts, "h-1", livestate.Host{ID: "h-1"}); err != nil {
		t.Fatalf("own host record after the refusals: %v", err)
	}
}

// TestJoinRefusals: a wrong token, no key of its own, another agent's
// host id, an invalid host id.
func TestJoinRefusals(t *testing.T) {
	e := startEngine(t)
	key := newKey(t)
	if _, err := e.join(t, "h-1", bootToken, key); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, host, token string
		key               nkeys.KeyPair
	}{
		{"wrong token", "h-9", "guess", newKey(t)},
		{"another agent's host id", "h-1", bootToken, newKey(t)},
		{"invalid host id", "h.1", bootToken, newKey(t)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.join(t, c.host, c.token, c.key); !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("join = %v, want an authorization violation", err)
			}
		})
	}
	t.Run("no key", func(t *testing.T) {
		nc, err := nats.Connect(e.url, nats.UserInfo("h-8", bootToken))
		if err == nil {
			nc.Close()
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("join without a key = %v, want an authorization violation", err)
		}
	})
	t.Run("same agent again", func(t *testing.T) {
		if _, err := e.join(t, "h-1", bootToken, key); err != nil {
			t.Fatalf("the agent that holds h-1 rejoining: %v", err)
		}
	})
	t.Run("another key once the id is forgotten", func(t *testing.T) {
		if err := e.joins.Forget(t.Context(), "h-1"); err != nil {
			t.Fatal(err)
		}
		var err error
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, err = e.join(t, "h-1", bootToken, newKey(t)); err == nil {
				return // the server's view of the bindings has caught up
			}
		}
		t.Fatalf("a forgotten host id is still bound: %v", err)
	})
}

// TestRevokedTokenShutsAgentsOut: agents joined with a token are
// disconnected when it is revoked and cannot connect again; agents of
// other tokens carry on.
func TestRevokedTokenShutsAgentsOut(t *testing.T) {
	e := startEngine(t)
	ctx := t.Context()
	tok, secret, err := e.joins.Create(ctx, "rack 7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, tok.ID+".") {
		t.Fatalf("token %q does not start with its id %q", secret, tok.ID)
	}
	key := newKey(t)
	doomed, err := e.join(t, "h-rack7", secret, key)
	if err != nil {
		t.Fatalf("join with a created token: %v", err)
	}
	other, err := e.join(t, "h-other", bootToken, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := e.joins.Revoke(ctx, tok.ID)
	if err != nil || revoked.Revoked == nil {
		t.Fatalf("Revoke = %+v, %v", revoked, err)
	}
	// Disconnected: with the same refusal twice nats.go gives up.
	select {
	case <-doomed.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent of a revoked token still connected after 5s")
	}
	if _, err := e.join(t, "h-rack7", secret, key); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("rejoin with a revoked token = %v, want an authorization violation", err)
	}
	if _, err := e.join(t, "h-rack7", bootToken, key); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("rejoin of a host bound by a revoked token, with another token = %v, want refused", err)
	}
	if _, err := other.nc.Request(livestate.BeatSubject+"h-other", nil, 2*time.Second); err != nil {
		t.Fatalf("an agent of another token: %v", err)
	}
	list, err := e.joins.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != joinauth.BootstrapID || list[1].ID != tok.ID || list[1].Revoked == nil {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if _, err := e.joins.Revoke(ctx, "jt-nosuch"); !errors.Is(err, joinauth.ErrNoToken) {
		t.Fatalf("Revoke of an unknown token = %v", err)
	}
	// The bootstrap token, too.
	if _, err := e.joins.Revoke(ctx, joinauth.BootstrapID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-other.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent of the revoked bootstrap token still connected after 5s")
	}
	if _, err := e.join(t, "h-new", bootToken, newKey(t)); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("join with the revoked bootstrap token = %v", err)
	}
}
