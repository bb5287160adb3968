package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	stypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/spf13/cobra"
)

// scheduleCommand is `paddock schedule`: schedules that invoke functions,
// through Paddock's EventBridge Scheduler-shaped API (what `aws scheduler
// --endpoint-url` also speaks).
func scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Invoke functions on a schedule (rate, cron or at expressions)",
		Long: `Schedules invoke a function asynchronously at each of their slots, once per
slot even with several servers; they are kept by the engine and survive
restarts. The expressions are EventBridge Scheduler's:

  rate(5 minutes)          every 5 minutes from the schedule's creation
  cron(0 12 ? * MON-FRI *) minutes hours day-of-month month day-of-week year
  at(2027-01-01T09:00:00)  once

The same API answers aws scheduler create-schedule / get-schedule /
list-schedules / update-schedule / delete-schedule with --endpoint-url.`,
	}
	client := addClientFlags(cmd)

	var fn, expr, input, tz, role string
	var disabled bool
	create := &cobra.Command{
		Use:     "create NAME --function FN --expression EXPR",
		Short:   "Create a schedule",
		Example: "  paddock schedule create nightly --function report --expression 'cron(0 3 * * ? *)' --input '{\"full\":true}'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, api, err := client.lambdaSDKConfig(cmd.Context())
			if err != nil {
				return err
			}
			target := fn
			if !strings.HasPrefix(target, "arn:") {
				target = "arn:aws:lambda:" + api.region + ":000000000000:function:" + fn
			}
			in := &scheduler.CreateScheduleInput{
				Name: aws.String(args[0]), ScheduleExpression: aws.String(expr),
				FlexibleTimeWindow: &stypes.FlexibleTimeWindow{Mode: stypes.FlexibleTimeWindowModeOff},
				Target:             &stypes.Target{Arn: aws.String(target), RoleArn: aws.String(role)},
			}
			if input != "" {
				in.Target.Input = aws.String(input)
			}
			if tz != "" {
				in.ScheduleExpressionTimezone = aws.String(tz)
			}
			if disabled {
				in.State = stypes.ScheduleStateDisabled
			}
			out, err := scheduler.NewFromConfig(cfg).CreateSchedule(cmd.Context(), in)
			if err != nil {
				return sdkError(api, "CreateSchedule", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), aws.ToString(out.ScheduleArn))
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&fn, "function", "", "the function to invoke: NAME, NAME:QUALIFIER or its ARN")
	f.StringVar(&expr, "expression", "", "rate(...), cron(...) or at(...)")
	f.StringVar(&input, "input", "", "the event, as JSON (default: Scheduler's notification)")
	f.StringVar(&tz, "timezone", "", "IANA time zone of cron and at expressions (default UTC)")
	f.StringVar(&role, "role", "arn:aws:iam::000000000000:role/paddock-scheduler", "the target's RoleArn (Scheduler requires one; Paddock does not use it)")
	f.BoolVar(&disabled, "disabled", false, "create it DISABLED")
	create.MarkFlagRequired("function")   //nolint:errcheck // the flag exists
	create.MarkFlagRequired("expression") //nolint:errcheck

	list := &cobra.Command{
		Use:   "list",
		Short: "List the schedules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, api, err := client.lambdaSDKConfig(cmd.Context())
			if err != nil {
				return err
			}
			sc := scheduler.NewFromConfig(cfg)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tEXPRESSION\tTARGET")
			p := scheduler.NewListSchedulesPaginator(sc, &scheduler.ListSchedulesInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return sdkError(api, "ListSchedules", err)
				}
				for _, s := range page.Schedules {
					g, err := sc.GetSchedule(cmd.Context(), &scheduler.GetScheduleInput{Name: s.Name})
					if err != nil {
						return sdkError(api, "GetSchedule", err)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", aws.ToString(s.Name), s.State, aws.ToString(g.ScheduleExpression), aws.ToString(s.Target.Arn))
				}
			}
			return tw.Flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, api, err := client.lambdaSDKConfig(cmd.Context())
			if err != nil {
				return err
			}
			if _, err := scheduler.NewFromConfig(cfg).DeleteSchedule(cmd.Context(), &scheduler.DeleteScheduleInput{Name: aws.String(args[0])}); err != nil {
				return sdkError(api, "DeleteSchedule", err)
			}
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
