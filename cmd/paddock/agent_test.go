package main

import (
	"net"
	"testing"
)

func TestHopURL(t *testing.T) {
	on := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 9402}
	every := &net.TCPAddr{IP: net.IPv4zero, Port: 9402}
	for _, tc := range []struct {
		advertise string
		listening net.Addr
		tls       bool
		want      string // "" for an error
	}{
		{"", on, true, "https://10.0.0.7:9402"},
		{"", on, false, "http://10.0.0.7:9402"},
		{"", every, true, ""},
		{"10.0.0.8:9402", every, true, "https://10.0.0.8:9402"},
		{"10.0.0.8:9402", every, false, "http://10.0.0.8:9402"},
		{"https://agent-7.internal:9402/", every, true, "https://agent-7.internal:9402"},
		{"http://10.0.0.8:9402", every, false, "http://10.0.0.8:9402"},
		{"http://10.0.0.8:9402", every, true, ""},   // the scheme says no TLS
		{"https://10.0.0.8:9402", every, false, ""}, // and here TLS
		{"10.0.0.8", every, true, ""},               // no port
		{"https://10.0.0.8:9402/hop", every, true, ""},
	} {
		got, err := hopURL(tc.advertise, tc.listening, tc.tls)
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("hopURL(%q, %v, tls %v) = %q, %v; want %q", tc.advertise, tc.listening, tc.tls, got, err, tc.want)
		}
	}
}
