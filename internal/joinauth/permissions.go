package joinauth

import (
	"github.com/nats-io/jwt/v2"

	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/logs"
)

// CodeStream is the object store's stream, which agents read code from.
const CodeStream = "OBJ_paddock-code"

// InboxPrefix is where the agent of host receives replies: its own, so
// that no agent may subscribe to another's (or a server's) replies. The
// agent connects with nats.CustomInboxPrefix(InboxPrefix(host)).
func InboxPrefix(host string) string { return "_INBOX_" + host }

// Permissions are all the agent of host may do on the engine: write its
// own host record and its own EEs' states, beat on its own subject,
// watch its own assignments, and read code. Everything else (other
// hosts' records, their hop tokens, the configuration, the servers'
// replies) is refused by the engine itself.
func Permissions(host string) jwt.Permissions {
	kv := func(bucket string) string { return "KV_" + bucket }
	var p jwt.Permissions
	p.Pub.Allow.Add(
		"$KV."+livestate.HostsBucket+"."+host,
		"$KV."+livestate.EEsBucket+"."+host+".*",
		livestate.BeatSubject+host,
		logs.RelaySubject+host, // its EEs' output, which the servers write for the functions it runs
		// binding the buckets reads their stream's configuration
		"$JS.API.STREAM.INFO."+kv(livestate.HostsBucket),
		"$JS.API.STREAM.INFO."+kv(livestate.EEsBucket),
		"$JS.API.STREAM.INFO."+kv(livestate.AssignBucket),
		"$JS.API.STREAM.INFO."+CodeStream,
		// a watch of its own assignments: an ordered consumer whose filter
		// the engine checks in the subject, and its flow control
		"$JS.API.CONSUMER.CREATE."+kv(livestate.AssignBucket)+".*.$KV."+livestate.AssignBucket+"."+host+".*",
		"$JS.FC."+kv(livestate.AssignBucket)+".>",
		// code: an object's info, then its chunks
		"$JS.API.STREAM.MSG.GET."+CodeStream,
		"$JS.API.DIRECT.GET."+CodeStream+".$O.paddock-code.M.*",
		"$JS.API.CONSUMER.CREATE."+CodeStream+".*.$O.paddock-code.C.*",
		"$JS.FC."+CodeStream+".>",
	)
	p.Sub.Allow.Add(InboxPrefix(host) + ".>")
	return p
}
