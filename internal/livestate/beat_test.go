package livestate

import (
	"encoding/json"
	"maps"
	"testing"
)

func parseAll(t testing.TB, data []byte) (Beat, error) {
	b := Beat{EEs: map[string]EEUsage{}}
	err := ParseBeat(data, func(host string) func([]byte, EEUsage) {
		b.Host = host
		return func(id []byte, u EEUsage) { b.EEs[string(id)] = u }
	})
	return b, err
}

func TestBeatRoundTrip(t *testing.T) {
	for _, b := range []Beat{
		{Host: "h-1", EEs: map[string]EEUsage{}},
		{Host: "h-1", EEs: map[string]EEUsage{"ee-a": {CPUSeconds: 1.25, RSSBytes: 96 << 20, Completed: 7, InFlight: 3}}},
		{Host: "h_2", EEs: map[string]EEUsage{
			"ee-a": {CPUSeconds: 0, RSSBytes: 0, Completed: 0, InFlight: 0},
			"ee-b": {CPUSeconds: 123456.789, RSSBytes: 1 << 40, Completed: 1<<64 - 1, InFlight: 64},
		}},
	} {
		got, err := parseAll(t, AppendBeat(nil, b))
		if err != nil || got.Host != b.Host || !maps.Equal(got.EEs, b.EEs) {
			t.Errorf("round trip of %+v: %+v, %v", b, got, err)
		}
	}
}

func TestParseBeatJSON(t *testing.T) {
	b := Beat{Host: "h-old", EEs: map[string]EEUsage{"ee-1": {CPUSeconds: 2, RSSBytes: 5, Completed: 9, InFlight: 1}}}
	data, _ := json.Marshal(b)
	got, err := parseAll(t, data)
	if err != nil || got.Host != b.Host || !maps.Equal(got.EEs, b.EEs) {
		t.Fatalf("JSON beat: %+v, %v", got, err)
	}
}

func TestParseBeatRejects(t *testing.T) {
	good := AppendBeat(nil, Beat{Host: "h-1", EEs: map[string]EEUsage{"ee-a": {CPUSeconds: 1, Completed: 2}}})
	for name, data := range map[string][]byte{
		"empty":          nil,
		"not json":       []byte("hello"),
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"host too long":  {beatMagic, 100, 'h'},
		"too many EEs":   append([]byte{beatMagic, 1, 'h'}, 0xff, 0xff, 0x03),
	} {
		if _, err := parseAll(t, data); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzParseBeat(f *testing.F) {
	f.Add(AppendBeat(nil, Beat{Host: "h-1", EEs: map[string]EEUsage{"ee-a": {CPUSeconds: 1, RSSBytes: 2, Completed: 3, InFlight: 4}}}))
	f.Add([]byte(`{"host":"h","ees":{"e":{"cpu":1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseAll(t, data)
		if err != nil || len(data) == 0 || data[0] != beatMagic {
			return
		}
		// What parses re-encodes to something that parses the same.
		again, err := parseAll(t, AppendBeat(nil, b))
		if err != nil || again.Host != b.Host || !maps.Equal(again.EEs, b.EEs) {
			t.Fatalf("re-encoded %+v: %+v, %v", b, again, err)
		}
	})
}
