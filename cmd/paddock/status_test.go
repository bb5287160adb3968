package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

func TestRenderCluster(t *testing.T) {
	started := time.Now().Add(-time.Minute)
	cases := []struct {
		name string
		c    lambdaapi.ClusterStatus
		want []string
	}{
		{"a leader and a silent host", lambdaapi.ClusterStatus{
			This: "http://a:9400", Leader: "http://b:9400",
			Servers: []lambdaapi.ServerStatus{{Node: "a", URL: "http://a:9400", Started: started}, {Node: "b", URL: "http://b:9400", Started: started, Leader: true}},
			Hosts: []lambdaapi.HostStatus{{ID: "h-1", Type: "m7i.xlarge", Arch: "x86_64", Provider: "static", Address: "http://10.0.0.7:9402",
				Instance: "i-1", HeartbeatAgeSecs: 0.2, EEs: 2, Routed: 2}, {ID: "h-2", HeartbeatAgeSecs: 4}},
		}, []string{"Servers: 2, leader http://b:9400", "follower (this one)", "leader *", "h-1", "0.2s ago", "2 (2)", "4.0s ago (silent)"}},
		{"an election, no hosts", lambdaapi.ClusterStatus{This: "http://a:9400",
			Servers: []lambdaapi.ServerStatus{{Node: "a", URL: "http://a:9400", Started: started}}},
			[]string{"leader none (an election is under way)", "Hosts: none joined yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			renderCluster(&b, c.c)
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("missing %q in:\n%s", w, b.String())
				}
			}
		})
	}
}
