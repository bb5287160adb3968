package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/scaler"
	"github.com/paddockhq/paddock/internal/simulate"
)

func simulateCommand() *cobra.Command {
	var (
		scenario, tracePath    string
		rps, durationMS, cpuMS float64
		targetPercent          float64
		allowed, excluded      []string
		every, publish         int
		asJSON                 bool
		cfg                    simulate.Config
	)
	names := make([]string, 0, len(simulate.Scenarios))
	for n := range simulate.Scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	var scenarioHelp strings.Builder
	for _, n := range names {
		fmt.Fprintf(&scenarioHelp, "  %-8s %s\n", n, simulate.Scenarios[n].Describe)
	}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Plan capacity: run the real scaler and placement against a load trace",
		Long: `Run Paddock's own autoscaler and placement on a virtual clock against a load
trace, with no server and no processes, and print per minute the execution
environments (EEs), instances, throttle rate, CPU and cost. It is how you size a
capacity provider for traffic this machine could never hold: a fleet of
thousands of instances simulates in seconds.

The function is modelled as a fluid: each second, requests/s x duration is the
concurrency asked for and requests/s x CPU per request the CPU asked for; what
the ready EEs cannot hold is throttled, as Lambda Managed Instances do.
Instances take --launch-delay to come up (EC2 takes about 40 s).

Built-in scenarios (--scenario), all relative to --rps:
` + scenarioHelp.String() + `
Or give your own trace with --trace FILE.csv: a header, then rows of
  seconds,requests_per_second,mean_duration_ms,cpu_ms_per_request
with the load changing linearly between rows.

Or, with --publish N, publish N versions of the function at once on an empty
capacity provider (as a restart brings them all back) and print each round of
placement: every version's instances launch in the first round, and all serve
one launch delay later.`,
		Example: `  paddock simulate --scenario spike
  paddock simulate --scenario diurnal --rps 2000 --duration-ms 1000 --cpu-ms 100 --max-vcpu 15000
  paddock simulate --trace peak.csv --memory 4096 --target 70 --allowed-types 'c7i.*,m7i.*'
  paddock simulate --publish 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if publish != 0 {
				cfg.AllowedTypes, cfg.ExcludedTypes = allowed, excluded
				res, err := simulate.Publish(cfg, publish)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(res)
				}
				printPublish(cmd.OutOrStdout(), res)
				return nil
			}
			var tr simulate.Trace
			switch {
			case tracePath != "":
				f, err := os.Open(tracePath)
				if err != nil {
					return err
				}
				defer f.Close()
				if tr, err = simulate.ReadCSV(f); err != nil {
					return err
				}
			default:
				sc, ok := simulate.Scenarios[scenario]
				if !ok {
					return fmt.Errorf("unknown scenario %q: choose one of %s", scenario, strings.Join(names, ", "))
				}
				tr = sc.Build(simulate.Base{RPS: rps, Duration: msDuration(durationMS), CPUPerReq: msDuration(cpuMS)})
			}
			if targetPercent < 0 || targetPercent > 100 {
				return fmt.Errorf("--target is a CPU utilization percentage (1-100), or 0 for Auto mode")
			}
			cfg.Target = targetPercent / 100
			cfg.AllowedTypes, cfg.ExcludedTypes = allowed, excluded
			started := time.Now()
			res, err := simulate.Run(cfg, tr)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					simulate.Result
					Total float64
				}{res, res.Total()})
			}
			printSimulation(cmd.OutOrStdout(), res, every, time.Since(started))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "spike", "built-in load shape: "+strings.Join(names, ", "))
	f.StringVar(&tracePath, "trace", "", "CSV load trace to replay instead of a scenario")
	f.Float64Var(&rps, "rps", 100, "base requests per second of the scenario")
	f.Float64Var(&durationMS, "duration-ms", 200, "mean request duration in milliseconds")
	f.Float64Var(&cpuMS, "cpu-ms", 20, "CPU time per request in milliseconds")
	f.IntVar(&cfg.MemoryMB, "memory", 2048, "function memory (MB): the EE's size")
	f.Float64Var(&cfg.GiBPerVCPU, "gib-per-vcpu", 2, "EE memory per vCPU (2, 4 or 8)")
	f.IntVar(&cfg.MaxConcurrency, "max-concurrency", 0, "invokes per EE (default 8 per vCPU)")
	f.IntVar(&cfg.MinEEs, "min", 3, "minimum EEs")
	f.IntVar(&cfg.MaxEEs, "max", 0, "maximum EEs (0: none)")
	f.Float64Var(&targetPercent, "target", 0, "CPU target in percent, as a Manual capacity provider (0: Auto mode, 50%)")
	f.IntVar(&cfg.MaxVCPU, "max-vcpu", 400, "the capacity provider's MaxVCpuCount")
	f.StringVar(&cfg.Arch, "arch", "x86_64", "instance architecture: x86_64 or arm64")
	f.StringSliceVar(&allowed, "allowed-types", nil, "AllowedInstanceTypes patterns, e.g. 'c7i.*,m7i.large'")
	f.StringSliceVar(&excluded, "excluded-types", nil, "ExcludedInstanceTypes patterns")
	f.DurationVar(&cfg.LaunchDelay, "launch-delay", 40*time.Second, "instance launch time")
	f.IntVar(&every, "every", 0, "print one row per N minutes (0: every minute up to an hour, else about 48 rows)")
	f.BoolVar(&asJSON, "json", false, "print the whole result as JSON")
	f.IntVar(&publish, "publish", 0, "publish N versions at once on an empty fleet and show the rounds of placement")
	return cmd
}

func printPublish(out io.Writer, res simulate.PublishResult) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "AT\tLAUNCHED\tPROMISED EES\tSTARTED EES\tVERSIONS READY\tFIRST PLAN")
	for _, r := range res.Rounds {
		fmt.Fprintf(w, "%v\t%d\t%d\t%d\t%d/%d\t%s\n", r.At, r.Launched, r.Promised, r.Started, r.Ready, res.Versions, r.Why)
	}
	w.Flush()
	if res.AllReadyAt < 0 {
		fmt.Fprintf(out, "\nnot every version got its minimum EEs (the capacity provider's --max-vcpu?); %d instances (%d vCPUs)\n", res.Instances, res.VCPUs)
		return
	}
	fmt.Fprintf(out, "\n%d versions: %d instances (%d vCPUs) launched in %d round(s); all ready at %v\n",
		res.Versions, res.Instances, res.VCPUs, res.LaunchRounds(), res.AllReadyAt)
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func printSimulation(out io.Writer, res simulate.Result, every int, took time.Duration) {
	if every <= 0 {
		every = 1
		if n := len(res.Minutes); n > 60 {
			every = (n + 47) / 48
		}
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "MIN\tREQ/S\tEES\tWANTED\tINSTANCES\tVCPUS\tTHROTTLED\tCPU\tSLOTS\tINSTANCE $\t")
	for i, m := range res.Minutes {
		if i%every != 0 && i != len(res.Minutes)-1 {
			continue
		}
		fmt.Fprintf(w, "%d\t%.0f\t%d\t%d\t%d\t%d\t%.2f%%\t%.0f%%\t%.0f%%\t%.4f\t\n",
			m.Minute, m.RPS, m.EEs, m.DesiredEEs, m.Instances, m.VCPUs, 100*m.ThrottleRate, m.CPUPercent, m.SlotsPercent, m.InstanceCost)
	}
	w.Flush()
	thr := 0.0
	if res.Requests > 0 {
		thr = 100 * res.Throttled / res.Requests
	}
	fmt.Fprintf(out, "\n%.0f requests, %.0f throttled (%.3f%%); peak %d EEs on %d instances (%d vCPUs)\n",
		res.Requests, res.Throttled, thr, res.PeakEEs, res.PeakInstance, res.PeakVCPUs)
	fmt.Fprintf(out, "cost: instances $%.2f + management fee (15%%) $%.2f + requests $%.2f = $%.2f\n",
		res.InstanceCost, res.Fee, res.RequestCost, res.Total())
	if n := len(res.Minutes); n > 0 {
		fmt.Fprintf(out, "last decision: %s\n", res.Minutes[n-1].Why)
	}
	fmt.Fprintf(out, "(simulated %d minutes in %v; autoscaler target %.0f%% unless --target; stable window %v)\n",
		len(res.Minutes), took.Round(time.Millisecond), scaler.AutoTarget*100, scaler.DefaultPolicy(0.5, 0, 0).StableWindow)
}
