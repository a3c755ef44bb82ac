using System.CommandLine;
using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

internal static class GcCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var grace = new Option<string>("--grace-period") { Description = "duration to wait before discarding inactive pods from garbage", DefaultValueFactory = _ => "30m0s" };
        var expire = new Option<string>("--expire-prepared") { Description = "duration to wait before expiring prepared pods", DefaultValueFactory = _ => "24h0m0s" };
        var markOnly = new Option<bool>("--mark-only") { Description = "only move exited and aborted pods to the garbage directories" };
        var command = new Command("gc", "Garbage collect pods no longer in use") { grace, expire, markOnly };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var gracePeriod = GoDuration.Parse(result.GetValue(grace)!);
            var expirePrepared = GoDuration.Parse(result.GetValue(expire)!);
            return new PodOperations(new PodStore(options.Dir), Console.Out, Console.Error, "gc")
                .Collect(gracePeriod, expirePrepared, result.GetValue(markOnly), DateTimeOffset.UtcNow);
        });
        return command;
    }
}
