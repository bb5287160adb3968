package joinauth

import (
	"github.com/nats-io/jwt/v2"

	"github.com/paddockhq/paddock/internal/coderelay"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/logs"
)

// InboxPrefix is where the agent of host receives replies: its own, so
// that no agent may subscribe to another's (or a server's) replies. The
// agent connects with nats.CustomInboxPrefix(InboxPrefix(host)).
func InboxPrefix(host string) string { return "_INBOX_" + host }

// Permissions are all the agent of host may do on the engine: write its
// own host record and its own EEs' states, beat on its own subject,
// watch its own assignments, and ask the servers for code (which they
// give only for its assignments). Everything else (other hosts' records,
// their hop tokens, the configuration, the object store, the servers'
// replies) is refused by the engine itself.
func Permissions(host string) jwt.Permissions {
	kv := func(bucket string) string { return "KV_" + bucket }
	var p jwt.Permissions
	p.Pub.Allow.Add(
		"$KV."+livestate.HostsBucket+"."+host,
		"$KV."+livestate.EEsBucket+"."+host+".*",
		livestate.BeatSubject+host,
		logs.RelaySubject+host, // its EEs' output, which the servers write for the functions it runs
		coderelay.Subject+host, // the code of its assignments, which the servers check
		// binding the buckets reads their stream's configuration
		"$JS.API.STREAM.INFO."+kv(livestate.HostsBucket),
		"$JS.API.STREAM.INFO."+kv(livestate.EEsBucket),
		"$JS.API.STREAM.INFO."+kv(livestate.AssignBucket),
		// a watch of its own assignments: an ordered consumer whose filter
		// the engine checks in the subject, and its flow control
		"$JS.API.CONSUMER.CREATE."+kv(livestate.AssignBucket)+".*.$KV."+livestate.AssignBucket+"."+host+".*",
		"$JS.FC."+kv(livestate.AssignBucket)+".>",
	)
	p.Sub.Allow.Add(InboxPrefix(host) + ".>")
	return p
}
