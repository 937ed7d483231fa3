// Command tollgate gets the most work through Amazon Bedrock without being throttled.
//
// See "tollgate --help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitUsage is the exit code for bad flags or configuration; exitInterrupted for a
// command stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it); exitFailure
// for anything else.
const (
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// errInterrupted is what a command returns when its context ended before its work did.
var errInterrupted = errors.New("interrupted")

// usageError marks an error caused by the user's input (flags, configuration files).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tollgate",
		Short: "Get the most work through Amazon Bedrock without being throttled",
		Long: `Tollgate admits each Bedrock call only when every quota (requests, tokens per minute,
tokens per day) has room, queues the rest by priority, settles each reservation against
the usage Bedrock reports, and learns the real limits from throttles.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %q)", err, c.CommandPath()+" --help")}
	})
	// Each command lives in its own file and is registered here.
	root.AddCommand(commands()...)
	return root
}

// commands lists the subcommands; each file adds its constructor to registered in init.
func commands() []*cobra.Command {
	var cmds []*cobra.Command
	for _, f := range registered {
		cmds = append(cmds, f())
	}
	return cmds
}

// registered holds the constructors of the subcommands, added by each command's file.
var registered []func() *cobra.Command

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	// The context, not the command's error, says whether a signal came: a command
	// interrupted while it was reading or planning returns whatever error that gave. A
	// command that ends cleanly on the signal (the emulator, stopped) exits 0.
	interrupted := ctx.Err() != nil
	stop()
	if err != nil && (interrupted || errors.Is(err, errInterrupted)) {
		fmt.Fprintln(os.Stderr, "tollgate:", errInterrupted)
		os.Exit(exitInterrupted)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tollgate:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(exitUsage)
		}
		os.Exit(exitFailure)
	}
}
