package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/platform"
)

// externalNATS starts a nats-server in the test process as an operator
// would run one for Paddock: JetStream on, and the authorization that
// `paddock server --nats-url` prints pasted into its configuration file.
func externalNATS(t *testing.T, opts platform.Options, password string) *server.Server {
	t.Helper()
	snippet, err := platform.ExternalNATSConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := joinauth.Issuer(opts.ClusterSecret, opts.JoinToken)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := issuer.PublicKey()
	if !strings.Contains(snippet, "issuer: "+pub) {
		t.Fatalf("the printed configuration does not name the issuer %s:\n%s", pub, snippet)
	}
	t.Setenv("PADDOCK_NATS_PASSWORD", password) // the snippet reads it from the environment
	dir := t.TempDir()
	conf := fmt.Sprintf("listen: \"127.0.0.1:-1\"\nserver_name: external-1\njetstream {\n  store_dir: %q\n}\n%s", filepath.Join(dir, "js"), snippet)
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	so, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server refuses the printed configuration: %v\n%s", err, conf)
	}
	so.NoSigs, so.NoLog = true, os.Getenv("PADDOCK_DEBUG_NATS") == ""
	ns, err := server.NewServer(so)
	if err != nil {
		t.Fatalf("nats-server: %v\n%s", err, conf)
	}
	if !so.NoLog {
		ns.ConfigureLogger()
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready in 10s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// TestNATSURLExternalCluster: a server on an external NATS cluster
// (--nats-url) keeps its state there and serves the Lambda API, and an
// agent joins that cluster, admitted by the server's auth callout: with
// its own key and the join token it may write its own host record; with
// a wrong token it is refused. Its admission expires (here after 3 s) and
// it reconnects, shown its token again; once the token is revoked, the
// next expiry shuts it out for good.
func TestNATSURLExternalCluster(t *testing.T) {
	const ttl = 3 * time.Second
	opts := platform.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		Provider: "static", JoinToken: joinToken, ClusterSecret: "test-cluster-secret",
		NATSUser: "paddock", NATSPassword: "paddock-nats-password", NATSReplicas: 1,
		AgentCredentialTTL: ttl,
	}
	ns := externalNATS(t, opts, opts.NATSPassword)
	opts.NATSURL = ns.ClientURL()

	// Without Paddock's password the external cluster refuses Paddock.
	wrong := opts
	wrong.DataDir, wrong.NATSPassword = t.TempDir(), "not-the-password"
	if p, err := platform.Start(context.Background(), wrong); err == nil {
		p.Close()
		t.Fatal("started with a wrong NATS password")
	}

	p, err := platform.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start paddock on the external cluster: %v", err)
	}
	t.Cleanup(p.Close)
	if p.EngineURL != ns.ClientURL() {
		t.Fatalf("agents are told to join %q, not the external cluster %q", p.EngineURL, ns.ClientURL())
	}
	e := &env{t: t, p: p, dataDir: opts.DataDir, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
	waitFor(t, "the server leads", p.Leading)
	cp := e.capacityProvider("ext-cp")
	if !strings.Contains(cp, "ext-cp") {
		t.Fatalf("capacity provider ARN %q", cp)
	}
	fns, err := e.lambda.ListFunctions(ctx(t), &lambda.ListFunctionsInput{})
	if err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	if len(fns.Functions) != 0 {
		t.Fatalf("ListFunctions = %d functions", len(fns.Functions))
	}
	// The state is on the external cluster: the configuration bucket there has it.
	admin, err := nats.Connect(ns.ClientURL(), nats.UserInfo(opts.NATSUser, opts.NATSPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ajs, _ := jetstream.New(admin)
	if _, err := ajs.KeyValue(ctx(t), "paddock-config"); err != nil {
		t.Fatalf("the configuration bucket is not on the external cluster: %v", err)
	}
	// The server announces itself under a name of its own, so several
	// servers on one cluster do not share records.
	waitFor(t, "the server in the cluster status", func() bool {
		s := p.Cluster().Servers
		return len(s) == 1 && s[0].Node != ""
	})

	// An agent, as cmd/paddock/agent.go connects.
	key, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := joinauth.ConnectOptions("h-ext-1", joinToken, key)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	nc, err := nats.Connect(p.EngineURL, append(auth, nats.Name("paddock-agent h-ext-1"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.ClosedHandler(func(nc *nats.Conn) { closed <- nc.LastError() }))...)
	if err != nil {
		t.Fatalf("an agent with the join token is refused by the external cluster: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := livestate.Bind(ctx(t), js)
	if err != nil {
		t.Fatalf("agent: bind the live state: %v", err)
	}
	if err := livestate.Put(ctx(t), kv.Hosts, "h-ext-1", livestate.Host{ID: "h-ext-1"}); err != nil {
		t.Fatalf("agent: write its own host record: %v", err)
	}
	// ... and nothing beyond its own records (refused: no answer comes).
	short, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := livestate.Put(short, kv.Hosts, "h-ext-2", livestate.Host{ID: "h-ext-2"}); err == nil {
		t.Fatal("agent h-ext-1 wrote the host record of h-ext-2")
	}

	// A wrong token, and another key for a bound host id, are refused.
	auth, _ = joinauth.ConnectOptions("h-ext-3", "not-the-join-token", key)
	if bad, err := nats.Connect(p.EngineURL, auth...); err == nil {
		bad.Close()
		t.Fatal("an agent with a wrong join token joined the external cluster")
	}
	other, _ := nkeys.CreateUser()
	auth, _ = joinauth.ConnectOptions("h-ext-1", joinToken, other)
	if bad, err := nats.Connect(p.EngineURL, auth...); err == nil {
		bad.Close()
		t.Fatal("another key joined as a bound host id")
	}
	// A client without a key of its own (no nonce signature) is refused too.
	if bad, err := nats.Connect(p.EngineURL, nats.UserInfo("h-ext-4", joinToken)); err == nil {
		bad.Close()
		t.Fatal("a client without a key joined the external cluster")
	}

	// The admission expires: the agent reconnects, admitted again, and
	// writes on.
	waitForLong(t, "the agent's admission to expire and the agent to reconnect", 4*ttl, func() bool {
		return nc.Stats().Reconnects >= 1 && nc.IsConnected()
	})
	if err := livestate.Put(ctx(t), kv.Hosts, "h-ext-1", livestate.Host{ID: "h-ext-1", Type: "m7i.xlarge"}); err != nil {
		t.Fatalf("agent: write its own host record after reconnecting: %v", err)
	}
	// The server cannot disconnect the external cluster's clients: a
	// revoked token's agent is shut out at its next expiry.
	revoked := time.Now()
	if st, code := e.signedCall("DELETE", "/paddock/v1/join-tokens/"+joinauth.BootstrapID, ""); st != 200 {
		t.Fatalf("revoke the bootstrap token: %d %s", st, code)
	}
	select {
	case err := <-closed:
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("the revoked agent's connection closed with %v, want an authorization error", err)
		}
		t.Logf("revoked agent shut out %v after the revocation", time.Since(revoked).Round(time.Millisecond))
	case <-time.After(3 * ttl):
		t.Fatalf("the agent of a revoked token still connected %v after the revocation (admissions last %v)", 3*ttl, ttl)
	}
}

// TestNATSURLExcludesEmbeddedEngine: an external cluster and an embedded
// engine's client or route ports are refused together, with a message
// that says which to drop.
func TestNATSURLExcludesEmbeddedEngine(t *testing.T) {
	for _, o := range []platform.Options{
		{EngineListen: "127.0.0.1:0"},
		{ClusterListen: "127.0.0.1:0", ClusterPeers: []string{"nats://127.0.0.1:6222"}},
	} {
		o.DataDir, o.Listen, o.Provider, o.JoinToken, o.NATSURL = t.TempDir(), "127.0.0.1:0", "static", joinToken, "nats://127.0.0.1:1"
		p, err := platform.Start(context.Background(), o)
		if err == nil {
			p.Close()
			t.Fatalf("started with --nats-url and an embedded engine (%+v)", o)
		}
		if !strings.Contains(err.Error(), "external NATS cluster") || !strings.Contains(err.Error(), "drop --") {
			t.Fatalf("error does not say what to drop: %v", err)
		}
	}
}
