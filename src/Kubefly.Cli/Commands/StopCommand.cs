using System.CommandLine;
using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

internal static class StopCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var force = new Option<bool>("--force") { Description = "forced stopping (SIGKILL)" };
        var uuidFile = new Option<string?>("--uuid-file") { Description = "read pod UUID from file instead of argument" };
        var uuids = new Argument<string[]>("UUID") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("stop", "Stop a pod") { force, uuidFile, uuids };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var (targets, unreadable) = PodTargets.Select("stop", result.GetValue(uuids) ?? [], result.GetValue(uuidFile), "stop [--force] --uuid-file=FILE | UUID ...");
            var operations = new PodOperations(new PodStore(options.Dir), Console.Out, Console.Error, "stop");

            // rkt: an unreadable uuid file exits 1 (ExecStop=- units after a reboot), other failures 254.
            return operations.Stop(targets, result.GetValue(force), unreadable ? 1 : 0);
        });
        return command;
    }
}
