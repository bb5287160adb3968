package placement

import (
	"cmp"
	"slices"
)

// ScaleIn picks the instances to take count EEs of one version off, one
// ID per EE (an ID repeats when several come off one instance). It empties
// instances rather than thinning all of them, so whole instances can be
// terminated: the instance with the fewest of the version's EEs goes first,
// and among equals the one with the most free capacity (the least else on
// it). It never takes the version below spreadTarget distinct instances
// while another choice exists, so availability outlives the scale-in.
// Instances' FreeMilliCPU is read as given; VersionEEs says how many EEs of
// the version each holds.
func ScaleIn(instances []Instance, count, spreadTarget int) []string {
	insts := slices.Clone(instances)
	var out []string
	for range count {
		distinct := 0
		for _, in := range insts {
			if in.VersionEEs > 0 {
				distinct++
			}
		}
		best := -1
		for i, in := range insts {
			if in.VersionEEs == 0 {
				continue
			}
			// Taking the last EE off an instance loses spread.
			losesSpread := in.VersionEEs == 1 && distinct <= spreadTarget
			if best >= 0 {
				b := insts[best]
				bLoses := b.VersionEEs == 1 && distinct <= spreadTarget
				if losesSpread != bLoses {
					if losesSpread {
						continue
					}
				} else if c := cmp.Or(cmp.Compare(in.VersionEEs, b.VersionEEs),
					-cmp.Compare(in.FreeMilliCPU, b.FreeMilliCPU), cmp.Compare(in.ID, b.ID)); c >= 0 {
					continue
				}
			}
			best = i
		}
		if best < 0 {
			break
		}
		insts[best].VersionEEs--
		out = append(out, insts[best].ID)
	}
	return out
}
