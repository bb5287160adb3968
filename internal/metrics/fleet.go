package metrics

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// fleetCollector reads the scaler's last reconcile, the on-demand pool and
// the capacity providers when /metrics is scraped. The scaler already
// keeps these snapshots (for `paddock status`); polling them into gauges
// from a goroutine would only add staleness and a second copy.
type fleetCollector struct {
	src Sources

	ees, eesDesired, concurrency, concurrencyLimit, eeCPU, eeMemory, throttlesMinute             *prometheus.Desc
	cpVCPUAllocated, cpVCPUAvailable, cpMemAllocated, cpMemAvailable, cpCPU, cpMemory, cpMaxVCPU *prometheus.Desc
	instances, instanceCPU, poolEEs                                                              *prometheus.Desc
}

// throttleCauses are the causes the scaler tells apart (SPEC §4 also names
// disk, which Paddock does not measure). Every cause is reported, 0 or
// not, so that a dashboard's series do not appear only on the first throttle.
var throttleCauses = []string{"concurrency", "cpu", "memory"}

func newFleetCollector(src Sources) *fleetCollector {
	version := []string{"function", "version", "capacity_provider"}
	cpType := []string{"capacity_provider", "instance_type"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &fleetCollector{
		src: src,
		ees: d("paddock_execution_environments",
			"Execution environments of an LMI version: ready (serving) or starting (initializing); draining ones are not counted.",
			append(version, "state")...),
		eesDesired: d("paddock_execution_environments_desired",
			"Execution environments the autoscaler wants for an LMI version.", version...),
		concurrency: d("paddock_execution_environment_concurrency",
			"Invokes in flight on an LMI version's ready execution environments (ExecutionEnvironmentConcurrency).", version...),
		concurrencyLimit: d("paddock_execution_environment_concurrency_limit",
			"Slots of an LMI version's ready execution environments: EEs x PerExecutionEnvironmentMaxConcurrency (ExecutionEnvironmentConcurrencyLimit).", version...),
		eeCPU: d("paddock_execution_environment_cpu_utilization",
			"CPU used by an LMI version's ready execution environments over their vCPU allocation, 0..1, over the last second (ExecutionEnvironmentCPUUtilization).", version...),
		eeMemory: d("paddock_execution_environment_memory_utilization",
			"Resident memory of an LMI version's ready execution environments over their MemorySize, 0..1 (ExecutionEnvironmentMemoryUtilization).", version...),
		throttlesMinute: d("paddock_throttles_last_minute",
			"Invokes of an LMI version refused over the last minute, by what ran out. A window, not a counter: the cause is only known to the scaler, which judges it each second; paddock_throttles_total is the counter.",
			append(version, "cause")...),
		cpVCPUAllocated: d("paddock_capacity_provider_vcpu_allocated",
			"vCPUs of a capacity provider's instances allocated to execution environments (vCPUAllocated).", cpType...),
		cpVCPUAvailable: d("paddock_capacity_provider_vcpu_available",
			"vCPUs of a capacity provider's instances still free for execution environments (vCPUAvailable).", cpType...),
		cpMemAllocated: d("paddock_capacity_provider_memory_allocated_bytes",
			"Memory of a capacity provider's instances allocated to execution environments (MemoryAllocated).", cpType...),
		cpMemAvailable: d("paddock_capacity_provider_memory_available_bytes",
			"Memory of a capacity provider's instances still free for execution environments (MemoryAvailable).", cpType...),
		cpCPU: d("paddock_capacity_provider_cpu_utilization",
			"CPU used on a capacity provider's instances over their allocatable vCPUs, 0..1 (CPUUtilization).", cpType...),
		cpMemory: d("paddock_capacity_provider_memory_utilization",
			"Resident memory of the execution environments on a capacity provider over its instances' allocatable memory, 0..1 (MemoryUtilization). Per capacity provider only: memory is measured per version, not per instance.",
			"capacity_provider"),
		cpMaxVCPU: d("paddock_capacity_provider_max_vcpu",
			"The capacity provider's MaxVCpuCount: past it, invokes are throttled rather than new instances launched.", "capacity_provider"),
		instances: d("paddock_instances",
			"Instances of a capacity provider, by type and state (running or launching).", append(cpType, "state")...),
		instanceCPU: d("paddock_instance_cpu_utilization",
			"CPU used on one instance over its allocatable vCPUs, 0..1. The instance label is bounded by the capacity provider's MaxVCpuCount but changes as instances are replaced.",
			append(cpType, "instance")...),
		poolEEs: d("paddock_default_mode_execution_environments",
			"Default-mode (on-demand) execution environments, by state (busy or idle).", "state"),
	}
}

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.ees, c.eesDesired, c.concurrency, c.concurrencyLimit, c.eeCPU, c.eeMemory, c.throttlesMinute,
		c.cpVCPUAllocated, c.cpVCPUAvailable, c.cpMemAllocated, c.cpMemAvailable, c.cpCPU, c.cpMemory, c.cpMaxVCPU,
		c.instances, c.instanceCPU, c.poolEEs,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if p := c.src.Pool; p != nil {
		st := p.Stats()
		gauge(c.poolEEs, float64(st.EEs-st.Idle), "busy")
		gauge(c.poolEEs, float64(st.Idle), "idle")
	}
	if c.src.Scaler == nil {
		return
	}
	// Resident memory by capacity provider, from the versions on it.
	memUsedMiB := map[string]float64{}
	for _, v := range c.src.Scaler.Status() {
		ver := strconv.Itoa(v.Version)
		l := []string{v.Function, ver, v.CapacityProvider}
		gauge(c.ees, float64(v.Ready), v.Function, ver, v.CapacityProvider, "ready")
		gauge(c.ees, float64(max(0, v.Live-v.Ready)), v.Function, ver, v.CapacityProvider, "starting")
		gauge(c.eesDesired, float64(v.Desired), l...)
		gauge(c.concurrency, float64(v.InFlight), l...)
		gauge(c.concurrencyLimit, float64(v.Limit), l...)
		gauge(c.eeCPU, v.CPUPercent/100, l...)
		gauge(c.eeMemory, v.MemoryPercent/100, l...)
		for _, cause := range throttleCauses {
			gauge(c.throttlesMinute, float64(v.ThrottlesMinute[cause]), v.Function, ver, v.CapacityProvider, cause)
		}
		if c.src.Control != nil && v.Ready > 0 && v.MemoryPercent > 0 {
			if d, err := c.src.Control.GetFunction(v.Function, ver); err == nil {
				memUsedMiB[v.CapacityProvider] += v.MemoryPercent / 100 * float64(v.Ready) * float64(d.Config.MemorySize)
			}
		}
	}

	type typeKey struct{ cp, typ string }
	type typeSum struct {
		vcpuAlloc, vcpuAvail, cpuUsed float64
		memAlloc, memAvail            int
	}
	byType := map[typeKey]*typeSum{}
	count := map[[3]string]int{}
	memAllocatable := map[string]int{}
	for _, in := range c.src.Scaler.Instances() {
		k := typeKey{in.CapacityProvider, in.Type}
		s := byType[k]
		if s == nil {
			s = &typeSum{}
			byType[k] = s
		}
		allocatable := in.VCPUAllocated + in.VCPUAvailable
		s.vcpuAlloc += in.VCPUAllocated
		s.vcpuAvail += in.VCPUAvailable
		s.cpuUsed += in.CPUPercent / 100 * allocatable
		s.memAlloc += in.MemoryAllocatedMiB
		s.memAvail += in.MemoryAvailableMiB
		memAllocatable[in.CapacityProvider] += in.MemoryAllocatedMiB + in.MemoryAvailableMiB
		count[[3]string{in.CapacityProvider, in.Type, strings.ToLower(in.State)}]++
		gauge(c.instanceCPU, in.CPUPercent/100, in.CapacityProvider, in.Type, in.ID)
	}
	for k, s := range byType {
		gauge(c.cpVCPUAllocated, s.vcpuAlloc, k.cp, k.typ)
		gauge(c.cpVCPUAvailable, s.vcpuAvail, k.cp, k.typ)
		gauge(c.cpMemAllocated, float64(s.memAlloc)*(1<<20), k.cp, k.typ)
		gauge(c.cpMemAvailable, float64(s.memAvail)*(1<<20), k.cp, k.typ)
		var util float64
		if total := s.vcpuAlloc + s.vcpuAvail; total > 0 {
			util = s.cpuUsed / total
		}
		gauge(c.cpCPU, util, k.cp, k.typ)
	}
	for k, n := range count {
		gauge(c.instances, float64(n), k[0], k[1], k[2])
	}
	if c.src.Control == nil {
		return
	}
	for _, cp := range c.src.Control.CapacityProviders() {
		gauge(c.cpMaxVCPU, float64(cp.Scaling.MaxVCPU), cp.Name)
		// A capacity provider without instances has no memory to use:
		// 0, not absent, so that it still shows.
		var util float64
		if total := memAllocatable[cp.Name]; total > 0 {
			util = memUsedMiB[cp.Name] / float64(total)
		}
		gauge(c.cpMemory, util, cp.Name)
	}
}
