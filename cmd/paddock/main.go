// Command paddock runs a self-hosted AWS Lambda with Lambda Managed
// Instances, and talks to one.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:   "paddock",
		Short: "A self-hosted AWS Lambda with Lambda Managed Instances",
		Long: `Paddock runs your Lambda functions, unchanged, on a fleet of instances it manages:
many requests per execution environment, no cold starts on a capacity provider,
and the AWS Lambda API so the AWS CLI and SDKs work as they are.

Start it with 'paddock up', then point the AWS CLI at it:
  aws --endpoint-url http://127.0.0.1:9400 lambda list-functions`,
		SilenceUsage: true,
	}
	root.AddCommand(upCommand(), serverCommand(), agentCommand(), simulateCommand())
	root.AddCommand(statusCommand(), tokenCommand(), hostCommand())
	root.AddCommand(costCommand())
	root.AddCommand(deployCommand(), invokeCommand())
	root.AddCommand(logsCommand(), scheduleCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "paddock:", err)
		os.Exit(1)
	}
}
