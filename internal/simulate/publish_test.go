package simulate

import (
	"testing"
	"time"
)

// TestPublishBurst: 20 versions published at once (or brought back by a
// restart) get every instance they need in one round, and all serve one
// launch delay and one EE init later, whatever their number.
func TestPublishBurst(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		versions int
	}{
		{"20 versions, min 3 EEs of 1 vCPU", Config{LaunchDelay: launchDelay}, 20},
		{"20 versions, min 1 EE each", Config{LaunchDelay: launchDelay, MinEEs: 1}, 20},
		{"1 version", Config{LaunchDelay: launchDelay}, 1},
		{"60 versions, 2 s launches", Config{LaunchDelay: 2 * time.Second}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Publish(tt.cfg, tt.versions)
			if err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			cfg.Defaults()
			if n := r.LaunchRounds(); n != 1 {
				t.Fatalf("instances launched in %d rounds, want 1: %+v", n, r.Rounds)
			}
			if want := cfg.LaunchDelay + cfg.EEInitDelay; r.AllReadyAt < 0 || r.AllReadyAt > want {
				t.Fatalf("all %d versions ready at %v, want by %v", tt.versions, r.AllReadyAt, want)
			}
			first := r.Rounds[0]
			if first.At != 0 || first.Promised != tt.versions*cfg.MinEEs {
				t.Fatalf("first round %+v: want every EE promised at 0s", first)
			}
			t.Logf("%d versions: %d instances (%d vCPU) launched at %v, all ready at %v; %s",
				tt.versions, first.Launched, r.VCPUs, first.At, r.AllReadyAt, first.Why)
		})
	}
}

func TestPublishRejectsNoVersions(t *testing.T) {
	if _, err := Publish(Config{}, 0); err == nil {
		t.Fatal("0 versions accepted")
	}
}
