package scaler

import "testing"

func TestDesire(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want int
	}{
		{"pending version gets its minimum", Input{"Pending", 3, -1}, 3},
		{"active version keeps its minimum", Input{"Active", 5, -1}, 5},
		{"max bounds the minimum", Input{"Active", 5, 4}, 4},
		{"deactivating stops all", Input{"Deactivating", 0, 0}, 0},
		{"deactivated stays empty", Input{"Deactivated", 3, -1}, 0},
		{"failed version runs nothing", Input{"Failed", 3, -1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desire(tt.in)
			if got.Desired != tt.want {
				t.Errorf("Desire(%+v) = %d (%s), want %d", tt.in, got.Desired, got.Why, tt.want)
			}
			if got.Why == "" {
				t.Errorf("Desire(%+v) gave no reason", tt.in)
			}
		})
	}
}
