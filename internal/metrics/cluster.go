package metrics

import "github.com/prometheus/client_golang/prometheus"

// Cluster is a server of several (paddock server): its part in the
// election, the joined hosts, and the invoke hop to them.
type Cluster interface {
	Leading() bool
	LeaderChanges() uint64
	LostInstances() uint64
	HopErrors() map[string]uint64 // by kind: "unreachable" (never sent), "broken" (failed after it was sent)
	HostCounts() (beating, silent int)
}

type clusterCollector struct {
	src                                    Cluster
	leader, leaderChanges, lost, hopErrors *prometheus.Desc
	hosts                                  *prometheus.Desc
}

func newClusterCollector(src Cluster) *clusterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &clusterCollector{
		src:           src,
		leader:        d("paddock_leader", "1 while this server leads the cluster (runs the scaler and the fleet, writes the configuration), else 0."),
		leaderChanges: d("paddock_leader_changes_total", "Times this server took the lead or gave it up."),
		lost:          d("paddock_instances_lost_total", "Instances whose agent stopped beating and that were replaced, while this server led."),
		hopErrors:     d("paddock_hop_errors_total", "Invokes this server's router could not complete on an agent: unreachable (never sent; retried on another EE) or broken (failed after it was sent; the invoke failed).", "kind"),
		hosts:         d("paddock_cluster_hosts", "Joined hosts (instance agents) by whether their beats reach this server.", "state"),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.leader, c.leaderChanges, c.lost, c.hopErrors, c.hosts} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	leading := 0.0
	if c.src.Leading() {
		leading = 1
	}
	ch <- prometheus.MustNewConstMetric(c.leader, prometheus.GaugeValue, leading)
	ch <- prometheus.MustNewConstMetric(c.leaderChanges, prometheus.CounterValue, float64(c.src.LeaderChanges()))
	ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(c.src.LostInstances()))
	errs := c.src.HopErrors()
	for _, kind := range []string{"unreachable", "broken"} {
		ch <- prometheus.MustNewConstMetric(c.hopErrors, prometheus.CounterValue, float64(errs[kind]), kind)
	}
	beating, silent := c.src.HostCounts()
	ch <- prometheus.MustNewConstMetric(c.hosts, prometheus.GaugeValue, float64(beating), "beating")
	ch <- prometheus.MustNewConstMetric(c.hosts, prometheus.GaugeValue, float64(silent), "silent")
}
