package placement

import (
	"slices"
	"testing"
)

func TestScaleIn(t *testing.T) {
	tests := []struct {
		name   string
		insts  []Instance
		count  int
		spread int
		want   []string
	}{
		{
			name:   "empties the instance with the fewest EEs first",
			insts:  []Instance{{ID: "a", VersionEEs: 3}, {ID: "b", VersionEEs: 1}, {ID: "c", VersionEEs: 2}, {ID: "d", VersionEEs: 2}},
			count:  2,
			spread: 3,
			want:   []string{"b", "c"},
		},
		{
			name:   "keeps three instances while it can",
			insts:  []Instance{{ID: "a", VersionEEs: 3}, {ID: "b", VersionEEs: 1}, {ID: "c", VersionEEs: 1}},
			count:  2,
			spread: 3,
			want:   []string{"a", "a"},
		},
		{
			name:   "gives up spread only when nothing else is left",
			insts:  []Instance{{ID: "a", VersionEEs: 1}, {ID: "b", VersionEEs: 1}, {ID: "c", VersionEEs: 1}},
			count:  1,
			spread: 3,
			want:   []string{"a"},
		},
		{
			name:   "prefers the emptier instance among equals",
			insts:  []Instance{{ID: "a", VersionEEs: 2, FreeMilliCPU: 1000}, {ID: "b", VersionEEs: 2, FreeMilliCPU: 5000}, {ID: "c", VersionEEs: 2}, {ID: "d", VersionEEs: 2}},
			count:  2,
			spread: 3,
			want:   []string{"b", "b"},
		},
		{
			name:   "asks for more than exist",
			insts:  []Instance{{ID: "a", VersionEEs: 1}},
			count:  3,
			spread: 3,
			want:   []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScaleIn(tt.insts, tt.count, tt.spread)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ScaleIn = %v, want %v", got, tt.want)
			}
		})
	}
}
