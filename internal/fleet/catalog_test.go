package fleet

import (
	"math"
	"sort"
	"strings"
	"testing"
)

func TestLookupInstanceType(t *testing.T) {
	tests := []struct {
		name  string
		ok    bool
		want  InstanceType
		alloc [2]int // allocatable milliCPU, MiB
	}{
		{"m7i.large", true, InstanceType{"m7i.large", "m7i", 'm', ArchX86_64, 2, 8192, 0.1008}, [2]int{1000, 7168}},
		{"c7i.large", true, InstanceType{"c7i.large", "c7i", 'c', ArchX86_64, 2, 4096, 0.08925}, [2]int{1000, 3072}},
		{"r7i.large", true, InstanceType{"r7i.large", "r7i", 'r', ArchX86_64, 2, 16384, 0.1323}, [2]int{1000, 15360}},
		{"m6i.large", true, InstanceType{"m6i.large", "m6i", 'm', ArchX86_64, 2, 8192, 0.096}, [2]int{1000, 7168}},
		{"c6i.large", true, InstanceType{"c6i.large", "c6i", 'c', ArchX86_64, 2, 4096, 0.085}, [2]int{1000, 3072}},
		{"r6i.large", true, InstanceType{"r6i.large", "r6i", 'r', ArchX86_64, 2, 16384, 0.126}, [2]int{1000, 15360}},
		{"m7a.large", true, InstanceType{"m7a.large", "m7a", 'm', ArchX86_64, 2, 8192, 0.11592}, [2]int{1000, 7168}},
		{"c7a.large", true, InstanceType{"c7a.large", "c7a", 'c', ArchX86_64, 2, 4096, 0.10264}, [2]int{1000, 3072}},
		{"r7a.large", true, InstanceType{"r7a.large", "r7a", 'r', ArchX86_64, 2, 16384, 0.15216}, [2]int{1000, 15360}},
		{"m7g.large", true, InstanceType{"m7g.large", "m7g", 'm', ArchARM64, 2, 8192, 0.0816}, [2]int{1000, 7168}},
		{"c7g.large", true, InstanceType{"c7g.large", "c7g", 'c', ArchARM64, 2, 4096, 0.0725}, [2]int{1000, 3072}},
		{"r7g.large", true, InstanceType{"r7g.large", "r7g", 'r', ArchARM64, 2, 16384, 0.1071}, [2]int{1000, 15360}},
		{"m8g.large", true, InstanceType{"m8g.large", "m8g", 'm', ArchARM64, 2, 8192, 0.08976}, [2]int{1000, 7168}},
		{"c8g.large", true, InstanceType{"c8g.large", "c8g", 'c', ArchARM64, 2, 4096, 0.07976}, [2]int{1000, 3072}},
		{"r8g.large", true, InstanceType{"r8g.large", "r8g", 'r', ArchARM64, 2, 16384, 0.11782}, [2]int{1000, 15360}},
		{"m7i.xlarge", true, InstanceType{"m7i.xlarge", "m7i", 'm', ArchX86_64, 4, 16384, 0.2016}, [2]int{3000, 15360}},
		{"m7i.2xlarge", true, InstanceType{"m7i.2xlarge", "m7i", 'm', ArchX86_64, 8, 32768, 0.4032}, [2]int{7000, 31744}},
		{"m7i.12xlarge", true, InstanceType{"m7i.12xlarge", "m7i", 'm', ArchX86_64, 48, 196608, 2.4192}, [2]int{47000, 195584}},
		{"m7i.24xlarge", true, InstanceType{"m7i.24xlarge", "m7i", 'm', ArchX86_64, 96, 393216, 4.8384}, [2]int{95000, 392192}},
		{"c7i.16xlarge", true, InstanceType{"c7i.16xlarge", "c7i", 'c', ArchX86_64, 64, 131072, 2.856}, [2]int{63000, 130048}},
		{"r8g.24xlarge", true, InstanceType{"r8g.24xlarge", "r8g", 'r', ArchARM64, 96, 786432, 5.65536}, [2]int{95000, 785408}},
		{"c7g.16xlarge", true, InstanceType{"c7g.16xlarge", "c7g", 'c', ArchARM64, 64, 131072, 2.32}, [2]int{63000, 130048}},
		// Graviton3 has no 24xlarge.
		{"c7g.24xlarge", false, InstanceType{}, [2]int{}},
		{"m7g.24xlarge", false, InstanceType{}, [2]int{}},
		// Not in the catalog, or not an exact name.
		{"m5.large", false, InstanceType{}, [2]int{}},
		{"m7i.*", false, InstanceType{}, [2]int{}},
		{"M7I.LARGE", false, InstanceType{}, [2]int{}},
		{"", false, InstanceType{}, [2]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := LookupInstanceType(tt.name)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if !ok {
				return
			}
			if a := [2]int{got.AllocatableMilliCPU(), got.AllocatableMemoryMiB()}; a != tt.alloc {
				t.Errorf("allocatable = %v, want %v", a, tt.alloc)
			}
		})
	}
}

func TestAllocatableNeverNegative(t *testing.T) {
	tests := []struct {
		name string
		t    InstanceType
		cpu  int
		mem  int
	}{
		{"zero", InstanceType{}, 0, 0},
		{"smaller than reservation", InstanceType{VCPU: 1, MemoryMiB: 512}, 0, 0},
		{"exactly the reservation", InstanceType{VCPU: 1, MemoryMiB: 1024}, 0, 0},
		{"one vCPU spare", InstanceType{VCPU: 2, MemoryMiB: 2048}, 1000, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.t.AllocatableMilliCPU(); got != tt.cpu {
				t.Errorf("AllocatableMilliCPU = %d, want %d", got, tt.cpu)
			}
			if got := tt.t.AllocatableMemoryMiB(); got != tt.mem {
				t.Errorf("AllocatableMemoryMiB = %d, want %d", got, tt.mem)
			}
		})
	}
}

func TestCatalogShape(t *testing.T) {
	cat := Catalog()
	if !sort.SliceIsSorted(cat, func(i, j int) bool { return cat[i].Name < cat[j].Name }) {
		t.Error("catalog is not sorted by name")
	}

	// 9 x86 families and 3 Graviton4 families with 8 sizes, 3 Graviton3
	// families without 24xlarge.
	if want := 12*8 + 3*7; len(cat) != want {
		t.Errorf("len(Catalog()) = %d, want %d", len(cat), want)
	}

	large := map[string]InstanceType{}
	seen := map[string]bool{}
	for _, it := range cat {
		if seen[it.Name] {
			t.Errorf("duplicate %s", it.Name)
		}
		seen[it.Name] = true
		fam, size, ok := strings.Cut(it.Name, ".")
		if !ok || fam != it.Family || it.Class != fam[0] {
			t.Errorf("%s: family %q class %q do not match its name", it.Name, it.Family, it.Class)
		}
		wantArch := ArchX86_64
		if strings.HasSuffix(fam, "g") {
			wantArch = ArchARM64
		}
		if it.Arch != wantArch {
			t.Errorf("%s: arch %s, want %s", it.Name, it.Arch, wantArch)
		}
		gib := map[byte]int{'c': 2, 'm': 4, 'r': 8}[it.Class]
		if gib == 0 || it.MemoryMiB != it.VCPU*gib*1024 {
			t.Errorf("%s: %d MiB for %d vCPU, want %d GiB per vCPU", it.Name, it.MemoryMiB, it.VCPU, gib)
		}
		if size == "large" {
			large[fam] = it
		}
	}

	wantFamilies := []string{"c7i", "m7i", "r7i", "c6i", "m6i", "r6i", "c7a", "m7a", "r7a", "c7g", "m7g", "r7g", "c8g", "m8g", "r8g"}
	wantSizes := map[string]int{"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64}
	for _, fam := range wantFamilies {
		base, ok := large[fam]
		if !ok {
			t.Errorf("family %s missing", fam)
			continue
		}
		for size, vcpu := range wantSizes {
			it, ok := LookupInstanceType(fam + "." + size)
			if !ok {
				t.Errorf("%s.%s missing", fam, size)
				continue
			}
			if it.VCPU != vcpu {
				t.Errorf("%s: %d vCPU, want %d", it.Name, it.VCPU, vcpu)
			}
			// AWS prices sizes of a family linearly in vCPU.
			want := base.PricePerHour * float64(vcpu) / 2
			if math.Abs(it.PricePerHour-want) > 1e-9 {
				t.Errorf("%s: price %v, want %v", it.Name, it.PricePerHour, want)
			}
		}
	}
}

func TestCatalogReturnsCopy(t *testing.T) {
	a := Catalog()
	a[0].Name = "changed"
	a[0].PricePerHour = -1
	if b := Catalog(); b[0].Name == "changed" || b[0].PricePerHour == -1 {
		t.Fatal("changing the result of Catalog changed the catalog")
	}
	if _, ok := LookupInstanceType("changed"); ok {
		t.Fatal("changing the result of Catalog changed the lookup index")
	}
}

func TestPriceSourceCited(t *testing.T) {
	for _, want := range []string{"on-demand", "us-east-1", "Linux"} {
		if !strings.Contains(PriceSource, want) {
			t.Errorf("PriceSource %q does not mention %q", PriceSource, want)
		}
	}
}
