// Package store keeps Paddock's durable state in NATS JetStream: configuration
// and live state in KV buckets, code zips in an Object Store keyed by their
// SHA-256. An embedded server is the default; several Paddock servers can
// each embed one node of a JetStream cluster (Listen.Cluster), and Connect
// opens the same buckets on an external NATS cluster. On 3 or more nodes the
// buckets keep 3 replicas, and a write is acknowledged once a quorum has it.
package store

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names. Config holds what users create (capacity providers,
// functions, versions, aliases); State holds what Paddock derives (instances,
// execution environments).
const (
	configBucket = "paddock-config"
	stateBucket  = "paddock-state"
	codeBucket   = "paddock-code"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a compare-and-set write loses a race.
var ErrConflict = errors.New("revision conflict")

// Store is the typed face of JetStream for the rest of Paddock.
type Store struct {
	server   *server.Server // nil when connected to an external cluster
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	Config   KV
	State    KV
	code     jetstream.ObjectStore
	node     string // this server's name on an external cluster (ConnectServer)
	sysPass  string // of sysUser; "" without a system account
}

// OpenEmbedded starts an in-process NATS server with JetStream data under
// dir and opens the buckets. The server does not listen on TCP: the process
// talks to it in memory.
func OpenEmbedded(ctx context.Context, dir string) (*Store, error) {
	return OpenEmbeddedListening(ctx, dir, Listen{})
}

// Listen opens the embedded server to other machines: Addr is its client
// address ("0.0.0.0:4222"). The server's own connection is a user of its
// own with a random password; every other client (instance agents) is
// admitted by the auth callout of AgentIssuer, which decides whom to let
// in and with what permissions (package joinauth). Cluster, when its Addr
// is set, makes this server one node of a JetStream cluster of Paddock
// servers.
type Listen struct {
	Addr      string
	JoinToken string // the default route secret derives from it
	// AgentIssuer is the public account nkey that signs the callout's
	// answers; empty: no client but the server's own may connect.
	AgentIssuer string
	// Users connect with full access, bypassing the callout (an
	// operator's tools; tests).
	Users   []*server.User
	Cluster Cluster
}

// Cluster is what one node needs to join the others: each Paddock server
// embeds one node, and the engine's buckets are replicated over them so a
// server can die without losing acknowledged writes.
type Cluster struct {
	// Addr is the route listen address ("0.0.0.0:6222"); "" means a single
	// node, as before.
	Addr string
	// Peers are the other nodes' route URLs ("nats://10.0.0.2:6222"). Listing
	// this node too is harmless: it is not counted twice.
	Peers []string
	// Name is the cluster's name, the same on every node (default "paddock").
	Name string
	// NodeName must be unique in the cluster and stable across restarts:
	// JetStream knows its peers by name. Default: the hostname plus a random
	// suffix, generated once and kept in the data dir.
	NodeName string
	// Secret is the route password every node shares. Default: derived from
	// the join token, which is simpler to deploy but lets anyone holding the
	// join token (agents) join as a node; set it to keep the two apart.
	Secret string
	// JoinTimeout bounds how long opening waits for the cluster to have a
	// JetStream leader and the buckets (default 2 minutes: servers of a new
	// cluster start one by one).
	JoinTimeout time.Duration
}

// clusterUser is the route user; only its password is secret.
const clusterUser = "paddock-route"

// nodeNameFile keeps a generated node name so a restart rejoins as the same
// JetStream peer instead of a new one that the cluster does not know.
const nodeNameFile = "node-name"

// OpenEmbeddedListening is OpenEmbedded with a client port for agents when
// l.Addr is set, and one node of a cluster when l.Cluster.Addr is set.
func OpenEmbeddedListening(ctx context.Context, dir string, l Listen) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	opts := &server.Options{
		ServerName: "paddock",
		JetStream:  true,
		StoreDir:   filepath.Join(dir, "jetstream"),
		DontListen: true,
		NoSigs:     true,
		// An acknowledged write must survive kill -9: JetStream otherwise
		// fsyncs every 2 minutes. Config writes are rare, so syncing each one
		// costs nothing that matters.
		SyncAlways: true,
		// An asynchronous invoke's payload (1 MB) with its headers.
		MaxPayload: MaxPayload,
		// PADDOCK_DEBUG_NATS=1 shows the embedded server's own log (auth
		// refusals, permission violations) on stderr.
		NoLog: os.Getenv("PADDOCK_DEBUG_NATS") == "",
	}
	// Only the in-process connection uses it, and only its own server knows
	// the password: it must not fail over to another node.
	conn := []nats.Option{nats.IgnoreDiscoveredServers(), nats.MaxReconnects(-1)}
	if l.Addr != "" {
		if l.JoinToken == "" {
			return nil, errors.New("a listening engine needs a join token")
		}
		host, port, err := splitAddr(l.Addr)
		if err != nil {
			return nil, fmt.Errorf("engine address %q: %w", l.Addr, err)
		}
		opts.DontListen = false
		opts.Host, opts.Port = host, port
		own := make([]byte, 24)
		rand.Read(own) //nolint:errcheck // never fails on Linux
		ownPassword := hex.EncodeToString(own)
		opts.Users = append([]*server.User{{Username: ownUser, Password: ownPassword}}, l.Users...)
		conn = append(conn, nats.UserInfo(ownUser, ownPassword))
	}
	replicas, joinTimeout := 1, time.Duration(0)
	var peers []string
	var sysPass string
	if c := l.Cluster; c.Addr != "" {
		var err error
		if peers, replicas, err = configureCluster(opts, dir, l.JoinToken, c); err != nil {
			return nil, err
		}
		if l.Addr != "" {
			// A user of the system account, in process only (its password is
			// this process's), to ask the meta leader to step down.
			sys := server.NewAccount(server.DEFAULT_SYSTEM_ACCOUNT)
			opts.Accounts, opts.SystemAccount = []*server.Account{sys}, sys.Name
			pw := make([]byte, 24)
			rand.Read(pw) //nolint:errcheck // never fails on Linux
			sysPass = hex.EncodeToString(pw)
			opts.Users = append(opts.Users, &server.User{Username: sysUser, Password: sysPass, Account: sys})
		}
		joinTimeout = c.JoinTimeout
		if joinTimeout <= 0 {
			joinTimeout = 2 * time.Minute
		}
	}
	if l.Addr != "" && l.AgentIssuer != "" {
		var authUsers []string // every configured user bypasses the callout
		for _, u := range opts.Users {
			authUsers = append(authUsers, u.Username)
		}
		opts.AuthCallout = &server.AuthCallout{Issuer: l.AgentIssuer, AuthUsers: authUsers}
		opts.AlwaysEnableNonce = true // agents sign it with their own key
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	if !opts.NoLog {
		ns.ConfigureLogger()
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded NATS did not become ready in 10s")
	}
	deadline := time.Now().Add(joinTimeout)
	if l.Cluster.Addr != "" {
		if err := waitMetaLeader(ctx, ns, deadline); err != nil {
			err = fmt.Errorf("join cluster %q as %q: %w%s", opts.Cluster.Name, opts.ServerName, err, peerReport(ns, peers))
			ns.Shutdown()
			return nil, err
		}
	}
	nc, err := nats.Connect("", append(conn, nats.InProcessServer(ns), nats.Name("paddock"))...)
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	s, err := open(ctx, nc, replicas, deadline)
	if err != nil {
		if len(peers) > 0 {
			err = fmt.Errorf("%w%s", err, peerReport(ns, peers))
		}
		nc.Close()
		ns.Shutdown()
		return nil, err
	}
	s.server, s.sysPass = ns, sysPass
	return s, nil
}

// ownUser is the server's own connection; sysUser the in-process user of
// the system account.
const (
	ownUser = "paddock"
	sysUser = "paddock-sys"
)

// DisconnectUser closes this node's client connections that
// authenticated as user (an agent's host id, which the auth callout
// admitted), and says how many.
func (s *Store) DisconnectUser(user string) int {
	if s.server == nil {
		return 0
	}
	cz, err := s.server.Connz(&server.ConnzOptions{Username: true, Limit: 1 << 20})
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range cz.Conns {
		if c.AuthorizedUser == user && s.server.DisconnectClientByID(c.Cid) == nil {
			n++
		}
	}
	return n
}

// LeadElsewhere moves the raft leadership of the named streams, and of
// the JetStream meta group, away from this node when it has them. The
// server that leads Paddock calls it for the lease stream: if it dies, as
// a leader may, a group it led elects a new leader only after 4 to 9 s
// (nats-server's election timeout), and the next Paddock leader would
// wait for it: the lease stream to win the lease, the meta group to
// create the watches that load the configuration (seen: 10 s to lead).
// The configuration's own streams are not moved: stepping one down
// stalled the followers' reads of it for 5 s (seen: a write missing
// through a follower); the successor retries its load instead.
//
// A group steps down only once every replica is current, one at a time.
// Moving every stream was tried: while the cluster formed, or under
// load, it left streams without a leader for a minute. Leadership may
// come back (an election under load), so it looks again every
// leadElsewhereEvery until ctx ends.
func (s *Store) LeadElsewhere(ctx context.Context, streams ...string) {
	if s.server == nil || !s.server.JetStreamIsClustered() {
		return
	}
	for {
		s.leadElsewhere(ctx, streams)
		select {
		case <-ctx.Done():
			return
		case <-time.After(leadElsewhereEvery):
		}
	}
}

// leadElsewhereEvery is how often the leader looks for raft leadership
// back on its node.
const leadElsewhereEvery = 5 * time.Second

func (s *Store) leadElsewhere(ctx context.Context, streams []string) {
	for _, name := range streams {
		if !s.server.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, name) {
			continue
		}
		if !s.untilCurrent(ctx, func(ctx context.Context) bool { return s.streamReplicasCurrent(ctx, name) }) {
			return
		}
		if err := s.server.JetStreamStepdownStream(server.DEFAULT_GLOBAL_ACCOUNT, name); err != nil {
			slog.Warn("move a stream's leadership to another node", "role", "store", "stream", name, "err", err)
			continue
		}
		slog.Info("stream led from another node", "role", "store", "stream", name)
		s.untilCurrent(ctx, func(ctx context.Context) bool { return s.streamReplicasCurrent(ctx, name) })
	}
	if !s.server.JetStreamIsLeader() || s.sysPass == "" {
		return
	}
	if !s.untilCurrent(ctx, func(context.Context) bool { return s.metaReplicasCurrent() }) {
		return
	}
	nc, err := nats.Connect("", nats.InProcessServer(s.server), nats.UserInfo(sysUser, s.sysPass), nats.Name("paddock-sys"))
	if err != nil {
		return
	}
	defer nc.Close()
	if _, err := nc.RequestWithContext(ctx, "$JS.API.META.LEADER.STEPDOWN", []byte("{}")); err != nil {
		slog.Warn("move the meta group's leadership to another node", "role", "store", "err", err)
		return
	}
	slog.Info("meta group led from another node", "role", "store")
}

// untilCurrent polls ok until it holds (true) or ctx ends (false).
func (s *Store) untilCurrent(ctx context.Context, ok func(context.Context) bool) bool {
	for {
		if ok(ctx) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// streamReplicasCurrent: the stream has a leader and every other replica
// is caught up with it.
func (s *Store) streamReplicasCurrent(ctx context.Context, name string) bool {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := s.js.Stream(ictx, name)
	if err != nil {
		return false
	}
	info := st.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) < s.replicas-1 {
		return false
	}
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline || r.Lag > 0 || r.Active > time.Second {
			return false
		}
	}
	return true
}

// metaReplicasCurrent: every other node of the meta group is caught up.
func (s *Store) metaReplicasCurrent() bool {
	jsz, err := s.server.Jsz(&server.JSzOptions{})
	if err != nil || jsz.Meta == nil || jsz.Meta.Leader == "" || len(jsz.Meta.Replicas) < jsz.Meta.Size-1 || jsz.Meta.Pending > 0 {
		return false
	}
	for _, r := range jsz.Meta.Replicas {
		if !r.Current || r.Offline || r.Active > time.Second {
			return false
		}
	}
	return true
}

// splitAddr parses host:port, port 0 meaning any free port.
func splitAddr(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, err
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

// configureCluster fills opts for one cluster node and returns the peers'
// route URLs (without this node) and the replica count for the buckets.
func configureCluster(opts *server.Options, dir, joinToken string, c Cluster) ([]string, int, error) {
	host, port, err := splitAddr(c.Addr)
	if err != nil {
		return nil, 0, fmt.Errorf("cluster address %q: %w", c.Addr, err)
	}
	secret := c.Secret
	if secret == "" {
		if joinToken == "" {
			return nil, 0, errors.New("a cluster node needs a cluster secret or a join token to derive it from")
		}
		secret = deriveSecret(joinToken)
	}
	name := c.NodeName
	if name == "" {
		if name, err = persistedNodeName(dir); err != nil {
			return nil, 0, err
		}
	}
	opts.ServerName = name
	opts.Cluster.Name = c.Name
	if opts.Cluster.Name == "" {
		opts.Cluster.Name = "paddock"
	}
	opts.Cluster.Host, opts.Cluster.Port = host, port
	opts.Cluster.Username, opts.Cluster.Password = clusterUser, secret
	var peers []string
	seen := map[string]bool{}
	for _, p := range c.Peers {
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			return nil, 0, fmt.Errorf("cluster peer %q: not a route URL (nats://host:port)", p)
		}
		if isSelf(u.Host, host, port) || seen[u.Host] {
			continue
		}
		seen[u.Host] = true
		// Configured routes authenticate with the user in their URL only.
		u.User = url.UserPassword(clusterUser, secret)
		opts.Routes = append(opts.Routes, u)
		peers = append(peers, u.Host)
	}
	if len(peers) == 0 {
		// nats-server refuses a JetStream cluster without routes (and, with
		// logging on, exits the process).
		return nil, 0, fmt.Errorf("cluster address %s set but no other node among the peers: a single node needs no cluster settings", c.Addr)
	}
	replicas := 1
	if len(peers)+1 >= 3 {
		// R3, not more: a write waits for a quorum, and 3 tolerates one dead
		// node at the cost of 2 copies to wait for.
		replicas = 3
	}
	return peers, replicas, nil
}

// deriveSecret turns the join token into a route password that is not the
// token itself, so a route password seen on one wire does not admit agents.
func deriveSecret(joinToken string) string {
	m := hmac.New(sha256.New, []byte(joinToken))
	m.Write([]byte("paddock cluster route"))
	return hex.EncodeToString(m.Sum(nil))
}

// persistedNodeName returns the node name kept in dir, creating it first.
func persistedNodeName(dir string) (string, error) {
	p := filepath.Join(dir, nodeNameFile)
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node name: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "paddock"
	}
	suffix := make([]byte, 4)
	rand.Read(suffix) //nolint:errcheck // never fails on Linux
	name := host + "-" + hex.EncodeToString(suffix)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(name+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node name: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("write node name: %w", err)
	}
	return name, nil
}

// isSelf reports whether a peer's host:port is this node's own route
// address, so one peer list can be given to every node.
func isSelf(peer, host string, port int) bool {
	ph, pp, err := net.SplitHostPort(peer)
	if err != nil || pp != strconv.Itoa(port) {
		return false
	}
	if ph == host {
		return true
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		return false
	}
	ip := net.ParseIP(ph)
	if ip == nil {
		return false
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// waitMetaLeader waits until this node knows the JetStream meta leader and
// is current with it: before that, no stream can be created or found.
func waitMetaLeader(ctx context.Context, ns *server.Server, deadline time.Time) error {
	for !ns.JetStreamIsCurrent() {
		if time.Now().After(deadline) {
			return errors.New("no JetStream leader: a quorum of the nodes is not connected")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// peerReport names the peers this node has no route to, for an error that
// says which machine to look at. A peer is known by the server name in the
// INFO its route port greets with, since a route it opened to us shows only
// an ephemeral port.
func peerReport(ns *server.Server, peers []string) string {
	routed := map[string]bool{}
	if rz, err := ns.Routez(nil); err == nil {
		for _, r := range rz.Routes {
			routed[r.RemoteName] = true
		}
	}
	var missing []string
	for _, p := range peers {
		name, err := routeServerName(p)
		switch {
		case err != nil:
			missing = append(missing, fmt.Sprintf("%s (unreachable: %v)", p, err))
		case !routed[name]:
			missing = append(missing, fmt.Sprintf("%s (%s is up but refused or dropped our route: wrong cluster secret or name?)", p, name))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "; no route to " + strings.Join(missing, ", ")
}

// routeServerName reads the server name from the INFO a route port sends
// first.
func routeServerName(hostport string) (string, error) {
	c, err := net.DialTimeout("tcp", hostport, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second)) //nolint:errcheck // a fresh conn
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no INFO: %w", err)
	}
	var info struct {
		Name string `json:"server_name"`
	}
	if j, ok := strings.CutPrefix(line, "INFO "); !ok || json.Unmarshal([]byte(j), &info) != nil {
		return "", errors.New("not a NATS route port")
	}
	return info.Name, nil
}

// Connect opens the buckets on an existing NATS cluster instead of
// embedding one. urls is a comma-separated server list; opts carry the
// credentials (nats.UserInfo, nats.UserCredentials) and override the
// defaults here. replicas is the bucket replica count the cluster can hold.
func Connect(ctx context.Context, urls string, replicas int, opts ...nats.Option) (*Store, error) {
	if replicas < 1 {
		replicas = 1
	}
	// Reconnect forever and notice a dead server within seconds: the
	// buckets are the server's state, losing the connection for good is
	// worse than waiting.
	all := append([]nats.Option{
		nats.Name("paddock"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(2),
	}, opts...)
	nc, err := nats.Connect(urls, all...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", urls, err)
	}
	s, err := open(ctx, nc, replicas, time.Now().Add(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

// ConnectServer is Connect for a Paddock server on an external cluster
// that other Paddock servers may share: name keys the records this
// server owns (its meters, its status), as an embedded node's name does.
// An empty name is generated once and kept in dir, so a restart is the
// same server.
func ConnectServer(ctx context.Context, dir, name, urls string, replicas int, opts ...nats.Option) (*Store, error) {
	if name == "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		var err error
		if name, err = persistedNodeName(dir); err != nil {
			return nil, err
		}
	}
	s, err := Connect(ctx, urls, replicas, opts...)
	if err != nil {
		return nil, err
	}
	s.node = name
	return s, nil
}

// open creates or opens the buckets, retrying until deadline: while a new
// cluster is still forming, an R3 bucket cannot be placed yet.
func open(ctx context.Context, nc *nats.Conn, replicas int, deadline time.Time) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s := &Store{nc: nc, js: js, replicas: replicas}
	for {
		// Short attempts while a cluster forms: when the nodes create the
		// same bucket at once, none of them is answered (measured with
		// nats-server 2.15: each request times out, 5s by default), but the
		// bucket exists and the next attempt finds it.
		actx, cancel := ctx, context.CancelFunc(func() {})
		if time.Until(deadline) > 0 {
			actx, cancel = context.WithTimeout(ctx, time.Second)
		}
		err = s.openBuckets(actx)
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Store) openBuckets(ctx context.Context) error {
	cfg, err := s.keyValue(ctx, jetstream.KeyValueConfig{Bucket: configBucket, History: 1, Replicas: s.replicas})
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", configBucket, err)
	}
	st, err := s.keyValue(ctx, jetstream.KeyValueConfig{Bucket: stateBucket, History: 1, Replicas: s.replicas})
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", stateBucket, err)
	}
	s.Config, s.State = KV{cfg}, KV{st}
	if s.code, err = s.objectStore(ctx, jetstream.ObjectStoreConfig{Bucket: codeBucket, Replicas: s.replicas}); err != nil {
		return fmt.Errorf("open object store %s: %w", codeBucket, err)
	}
	return nil
}

// keyValue opens the bucket cfg names, creating it when missing, with
// every read going to its stream's leader on a cluster. By default any
// replica answers a read ("direct get"), and an R3 write is acknowledged
// once 2 of the 3 have it: the third, asked right after, answers "not
// found" (seen: a function's code missing just after it was stored, a
// new alias missing). The leader has every acknowledged write.
//
// A handle keeps the read mode its stream had when it was bound, and a
// direct-get handle stops answering once direct gets are off: so an
// existing bucket is never "created or updated" (that turns direct gets
// back on for a moment, and a server binding then kept a handle that
// timed out on every Get), only bound, and its settings aligned with
// direct gets left off.
func (s *Store) keyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if s.replicas < 2 {
		return s.js.CreateOrUpdateKeyValue(ctx, cfg)
	}
	_, err := s.js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = s.js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) { // another server made it meanwhile
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	want := func(c *jetstream.StreamConfig) {
		c.AllowDirect = false
		c.Replicas = cfg.Replicas
		c.MaxMsgsPerSubject = int64(max(cfg.History, 1))
		c.MaxAge = cfg.TTL
		if cfg.Description != "" {
			c.Description = cfg.Description
		}
	}
	if err := s.align(ctx, "KV_"+cfg.Bucket, want); err != nil {
		return nil, err
	}
	return s.js.KeyValue(ctx, cfg.Bucket)
}

// objectStore is keyValue for an object store.
func (s *Store) objectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	if s.replicas < 2 {
		return s.js.CreateOrUpdateObjectStore(ctx, cfg)
	}
	_, err := s.js.ObjectStore(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = s.js.CreateObjectStore(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.align(ctx, "OBJ_"+cfg.Bucket, func(c *jetstream.StreamConfig) { c.AllowDirect, c.Replicas = false, cfg.Replicas }); err != nil {
		return nil, err
	}
	return s.js.ObjectStore(ctx, cfg.Bucket)
}

// align updates the stream's configuration to what want makes of it,
// when that differs.
func (s *Store) align(ctx context.Context, stream string, want func(*jetstream.StreamConfig)) error {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	have := st.CachedInfo().Config
	cfg := have
	want(&cfg)
	if cfg.AllowDirect == have.AllowDirect && cfg.Replicas == have.Replicas && cfg.MaxMsgsPerSubject == have.MaxMsgsPerSubject &&
		cfg.MaxAge == have.MaxAge && cfg.Description == have.Description {
		return nil
	}
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("stream %s: update its settings: %w", stream, err)
	}
	return nil
}

// Replicas is the replica count of the engine's buckets: 3 on a cluster of
// 3 or more nodes, 1 otherwise. Packages that create their own streams and
// buckets use it so they survive the same failures.
func (s *Store) Replicas() int { return s.replicas }

// NodeName is the embedded node's name in its cluster, or this server's
// name on an external cluster (ConnectServer; "" after Connect).
func (s *Store) NodeName() string {
	if s.server == nil {
		return s.node
	}
	return s.server.Name()
}

// Clustered reports whether several servers may write the same buckets
// (the embedded engine is one node of several, or the cluster is an
// external one that servers share, ConnectServer): then records one
// server owns need its node in their keys.
func (s *Store) Clustered() bool {
	return s.node != "" || s.server != nil && s.server.JetStreamIsClustered()
}

// ClientURL is where agents reach the embedded engine ("" when it does
// not listen).
func (s *Store) ClientURL() string {
	if s.server == nil || s.server.Addr() == nil {
		return ""
	}
	return "nats://" + s.server.Addr().String()
}

// Conn is the store's NATS connection, for roles that use the engine's
// messaging beside its buckets.
func (s *Store) Conn() *nats.Conn { return s.nc }

// MaxPayload is the largest message the engine takes: an asynchronous
// invoke's payload (1 MB) with its headers. An external cluster needs it
// too (max_payload).
const MaxPayload = 2 << 20

// Close disconnects and stops the embedded server, if any.
func (s *Store) Close() {
	s.nc.Close()
	if s.server != nil {
		s.server.Shutdown()
		s.server.WaitForShutdown()
	}
}

// KV is a JetStream key-value bucket holding JSON records.
type KV struct{ kv jetstream.KeyValue }

// Get decodes the record at key into v and returns its revision.
func (b KV) Get(ctx context.Context, key string, v any) (uint64, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return e.Revision(), nil
}

// Put writes v at key unconditionally.
func (b KV) Put(ctx context.Context, key string, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := b.kv.Put(ctx, key, data)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return rev, nil
}

// Create writes v at key only if the key does not exist (ErrConflict if it does).
func (b KV) Create(ctx context.Context, key string, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := b.kv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	return rev, nil
}

// Update writes v at key only if its revision is still rev (ErrConflict if not).
func (b KV) Update(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	nrev, err := b.kv.Update(ctx, key, data, rev)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, ErrConflict
		}
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	return nrev, nil
}

// Delete removes key. Deleting a missing key is not an error.
func (b KV) Delete(ctx context.Context, key string) error {
	if err := b.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// LastSeq is the sequence of the bucket's last write: every record has a
// revision at most this.
func (b KV) LastSeq(ctx context.Context) (uint64, error) {
	st, err := b.kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, errors.New("bucket status without stream info")
	}
	return bs.StreamInfo().State.LastSeq, nil
}

// WatchUpdates follows every change made to the bucket from now on.
func (b KV) WatchUpdates(ctx context.Context) (jetstream.KeyWatcher, error) {
	return b.kv.WatchAll(ctx, jetstream.UpdatesOnly())
}

// Snapshot returns the current records under filter, like All, read
// through to the bucket's last write: on a cluster the read may be served
// by a replica that lags (a node that just restarted), so it is retried
// until it includes the last sequence the stream's leader had when it
// began. A snapshot is how a server's whole view of a bucket is loaded.
func (b KV) Snapshot(ctx context.Context, filter string) ([]Entry, error) {
	want, err := b.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	for {
		out, got, err := b.read(ctx, filter)
		if err != nil {
			return nil, err
		}
		if got >= want || filter != ">" {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("load %s: a replica behind the last write (%d of %d): %w", b.kv.Bucket(), got, want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// read is All with the highest revision seen, deletions included: when the
// reader is current, that is the bucket's last sequence.
func (b KV) read(ctx context.Context, filter string) ([]Entry, uint64, error) {
	w, err := b.kv.Watch(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("load %s: %w", filter, err)
	}
	defer w.Stop() //nolint:errcheck
	var out []Entry
	var last uint64
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return out, last, nil
			}
			last = max(last, e.Revision())
			if e.Operation() == jetstream.KeyValuePut {
				out = append(out, Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision()})
			}
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

// Entry is one record as loaded by All.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
}

// All returns the current records whose keys match a NATS subject filter
// such as "fn.>", in one pass over the bucket.
func (b KV) All(ctx context.Context, filter string) ([]Entry, error) {
	w, err := b.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", filter, err)
	}
	defer w.Stop()
	var out []Entry
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // all current values delivered
				return out, nil
			}
			out = append(out, Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision()})
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// PutCode stores a code zip under its hex SHA-256 (idempotent: the same zip
// is stored once).
func (s *Store) PutCode(ctx context.Context, hexSHA string, zip []byte) error {
	if _, err := s.code.GetInfo(ctx, hexSHA); err == nil {
		return nil
	}
	if _, err := s.code.PutBytes(ctx, hexSHA, zip); err != nil {
		return fmt.Errorf("store code %s: %w", hexSHA, err)
	}
	return nil
}

// CodeDigest returns the SHA-256 digest (raw bytes) and size recorded for
// the code stored under hexSHA, without reading the code: the object
// store's metadata, written when the whole object was stored.
func (s *Store) CodeDigest(ctx context.Context, hexSHA string) ([]byte, uint64, error) {
	info, err := s.code.GetInfo(ctx, hexSHA)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("code info %s: %w", hexSHA, err)
	}
	sum, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil {
		return nil, 0, fmt.Errorf("code info %s: %w", hexSHA, err)
	}
	return sum, info.Size, nil
}

// GetCode returns the code zip stored under hexSHA.
func (s *Store) GetCode(ctx context.Context, hexSHA string) ([]byte, error) {
	b, err := s.code.GetBytes(ctx, hexSHA)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("fetch code %s: %w", hexSHA, err)
	}
	return b, nil
}

// JetStream is the engine's JetStream handle, for roles that keep their
// own streams (function logs) beside the buckets this package types.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// metersBucket holds the usage meters, one record per minute.
const metersBucket = "paddock-meters"

// Meters opens the KV bucket of usage meters (created on first use). A
// record is dropped keep after it was last written, so the bucket stays
// bounded without anyone deleting from it.
func (s *Store) Meters(ctx context.Context, keep time.Duration) (KV, error) {
	kv, err := s.KeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      metersBucket,
		Description: "Usage meters for the bill: one record per minute",
		History:     1,
		TTL:         keep,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return KV{}, err
	}
	return KV{kv}, nil
}

// createTimeout bounds how long creating a bucket or stream retries while
// a forming cluster cannot place it yet.
const createTimeout = 30 * time.Second

// KeyValue creates (or updates) a bucket of other roles (live state,
// leases) with the engine's replica count. On a cluster whose nodes start
// together it retries in short attempts, as open does.
func (s *Store) KeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = s.replicas
	kv, err := retryCreate(ctx, func(ctx context.Context) (jetstream.KeyValue, error) { return s.keyValue(ctx, cfg) })
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Stream creates (or updates) a stream of other roles (function logs)
// with the engine's replica count, retrying as KeyValue does.
func (s *Store) Stream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = s.replicas
	st, err := retryCreate(ctx, func(ctx context.Context) (jetstream.Stream, error) { return s.js.CreateOrUpdateStream(ctx, cfg) })
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Name, err)
	}
	return st, nil
}

func retryCreate[T any](ctx context.Context, create func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(createTimeout)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := create(actx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
