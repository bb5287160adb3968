// Package fleet describes the EC2 instance types that capacity providers may
// launch and selects among them the way AWS InstanceRequirements does.
//
// Everything here is pure data and pure functions: the catalog is built once
// from a small per-family table and never changes afterwards, so callers can
// share it freely without locking.
package fleet

import (
	"math"
	"sort"
)

// PriceSource names where PricePerHour comes from, so that a bill or a
// placement explanation can cite it next to any figure derived from it.
const PriceSource = "AWS EC2 on-demand pricing, us-east-1, Linux, as of 2025"

// Reserved resources an instance keeps for its agent and OS (SPEC: 1 vCPU and
// 1 GiB). They are subtracted once per instance, not per EE, which is why
// larger instances fit proportionally more EEs than small ones.
const (
	ReservedMilliCPU  = 1000
	ReservedMemoryMiB = 1024
)

// Architectures an instance type can have; they are the values the Lambda
// API uses for capacity provider Architectures.
const (
	ArchX86_64 = "x86_64"
	ArchARM64  = "arm64"
)

// InstanceType is one EC2 instance type that capacity providers may launch.
type InstanceType struct {
	Name         string  // "m7i.2xlarge"
	Family       string  // "m7i"
	Class        byte    // 'c', 'm' or 'r'
	Arch         string  // "x86_64" or "arm64"
	VCPU         int     // vCPUs of the whole instance
	MemoryMiB    int     // memory of the whole instance
	PricePerHour float64 // us-east-1 Linux on-demand USD per hour, see PriceSource
}

// AllocatableMilliCPU is the CPU left for EEs once the agent and OS have
// their reservation. It is never negative so that callers dividing by an EE
// size get 0 EEs rather than a negative count.
func (t InstanceType) AllocatableMilliCPU() int {
	return max(0, t.VCPU*1000-ReservedMilliCPU)
}

// AllocatableMemoryMiB is the memory left for EEs once the agent and OS have
// their reservation; never negative, for the same reason as
// AllocatableMilliCPU.
func (t InstanceType) AllocatableMemoryMiB() int {
	return max(0, t.MemoryMiB-ReservedMemoryMiB)
}

// family is one row of the source table the catalog is generated from.
// Within a family AWS prices sizes linearly in vCPU, so the price of the
// .large size (2 vCPU) determines every other size; generating the rows keeps
// the table small enough to check against the AWS price list by eye.
type family struct {
	name       string
	arch       string
	largePrice float64 // USD per hour of <name>.large
	has24x     bool    // whether the family offers a 24xlarge size
}

// families is the source of the catalog. Prices: AWS EC2 on-demand pricing,
// us-east-1, Linux, as of 2025 (see PriceSource). Graviton3 families (c7g,
// m7g, r7g) stop at 16xlarge; every other family here also has 24xlarge.
var families = []family{
	// Intel Sapphire Rapids.
	{"c7i", ArchX86_64, 0.08925, true},
	{"m7i", ArchX86_64, 0.1008, true},
	{"r7i", ArchX86_64, 0.1323, true},
	// Intel Ice Lake.
	{"c6i", ArchX86_64, 0.085, true},
	{"m6i", ArchX86_64, 0.096, true},
	{"r6i", ArchX86_64, 0.126, true},
	// AMD Genoa.
	{"c7a", ArchX86_64, 0.10264, true},
	{"m7a", ArchX86_64, 0.11592, true},
	{"r7a", ArchX86_64, 0.15216, true},
	// Graviton3.
	{"c7g", ArchARM64, 0.0725, false},
	{"m7g", ArchARM64, 0.0816, false},
	{"r7g", ArchARM64, 0.1071, false},
	// Graviton4.
	{"c8g", ArchARM64, 0.07976, true},
	{"m8g", ArchARM64, 0.08976, true},
	{"r8g", ArchARM64, 0.11782, true},
}

// sizes lists the size suffixes with their vCPU count, smallest first.
var sizes = []struct {
	suffix string
	vcpu   int
}{
	{"large", 2},
	{"xlarge", 4},
	{"2xlarge", 8},
	{"4xlarge", 16},
	{"8xlarge", 32},
	{"12xlarge", 48},
	{"16xlarge", 64},
	{"24xlarge", 96},
}

// memoryGiBPerVCPU is the memory-to-vCPU ratio of an instance class:
// compute-optimised 2 GiB, general purpose 4 GiB, memory-optimised 8 GiB.
func memoryGiBPerVCPU(class byte) int {
	switch class {
	case 'c':
		return 2
	case 'r':
		return 8
	default:
		return 4
	}
}

// catalog and byName are computed once at package initialisation and only
// read afterwards; Catalog hands out copies so no caller can change them.
var (
	catalog = buildCatalog()
	byName  = indexByName(catalog)
)

// buildCatalog expands families × sizes into instance types sorted by name.
func buildCatalog() []InstanceType {
	var out []InstanceType
	for _, f := range families {
		class := f.name[0]
		for _, s := range sizes {
			if s.suffix == "24xlarge" && !f.has24x {
				continue
			}
			out = append(out, InstanceType{
				Name:      f.name + "." + s.suffix,
				Family:    f.name,
				Class:     class,
				Arch:      f.arch,
				VCPU:      s.vcpu,
				MemoryMiB: s.vcpu * memoryGiBPerVCPU(class) * 1024,
				// Rounding to a millionth of a dollar removes float noise
				// from the multiplication (0.1008*48 is not exactly 4.8384)
				// so prices print exactly as AWS lists them.
				PricePerHour: math.Round(f.largePrice*float64(s.vcpu)/2*1e6) / 1e6,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func indexByName(types []InstanceType) map[string]InstanceType {
	m := make(map[string]InstanceType, len(types))
	for _, t := range types {
		m[t.Name] = t
	}
	return m
}

// Catalog returns every known instance type sorted by Name. The slice is a
// fresh copy, so callers may sort or filter it in place.
func Catalog() []InstanceType {
	return append([]InstanceType(nil), catalog...)
}

// LookupInstanceType returns the catalog entry for an exact, lower-case
// instance type name such as "m7i.large".
func LookupInstanceType(name string) (InstanceType, bool) {
	t, ok := byName[name]
	return t, ok
}
