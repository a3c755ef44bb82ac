using System.CommandLine;
using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

internal static class RmCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var uuidFile = new Option<string?>("--uuid-file") { Description = "read pod UUID from file instead of argument" };
        var uuids = new Argument<string[]>("UUID") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("rm", "Remove all files and resources associated with an exited pod") { uuidFile, uuids };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var (targets, unreadable) = PodTargets.Select("rm", result.GetValue(uuids) ?? [], result.GetValue(uuidFile), "rm --uuid-file=FILE | UUID ...");
            return new PodOperations(new PodStore(options.Dir), Console.Out, Console.Error, "rm").Remove(targets, failed: unreadable);
        });
        return command;
    }
}
