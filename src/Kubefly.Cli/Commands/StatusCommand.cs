using System.CommandLine;
using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

internal static class StatusCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var wait = WaitOption("--wait", "wait for the pod to finish (true, false or a duration such as 10s)");
        var waitReady = WaitOption("--wait-ready", "wait until the pod's app has started (true, false or a duration)");
        var uuidFile = new Option<string?>("--uuid-file") { Description = "read pod UUID from file instead of argument" };
        var format = OutputFormat.CreateOption();
        var uuids = new Argument<string[]>("UUID") { Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("status", "Check the status of a pod") { wait, waitReady, uuidFile, format, uuids };
        command.SetAction(result =>
        {
            var options = globals.Read(result);
            var arguments = result.GetValue(uuids) ?? [];
            if (arguments.Length > 1)
            {
                throw new Oci.UsageException("usage: status [--wait[=DURATION]] --uuid-file=FILE | UUID");
            }

            var (targets, unreadable) = PodTargets.Select("status", arguments, result.GetValue(uuidFile), "status [--wait[=DURATION]] --uuid-file=FILE | UUID");
            if (unreadable)
            {
                return 1;
            }

            var kind = OutputFormat.Parse(result.GetValue(format));
            var waitFinished = ParseWait(result.GetValue(wait));
            var waitStarted = ParseWait(result.GetValue(waitReady));
            var store = new PodStore(options.Dir);
            Pod pod;
            try
            {
                pod = store.Get(targets[0]);
            }
            catch (PodLookupException e)
            {
                Console.Error.WriteLine($"status: problem retrieving pod: {e.Message}");
                return 254;
            }

            if (waitStarted != TimeSpan.Zero)
            {
                pod = PodWaiter.Wait(store, pod, waitStarted, p => p.State != PodState.Running || p.Pid is not null, "error waiting for pod readiness");
            }

            if (waitFinished != TimeSpan.Zero)
            {
                pod = PodWaiter.Wait(store, pod, waitFinished, p => p.State.IsAfterRun() || p.State == PodState.AbortedPrepare, "error waiting for pod to finish");
            }

            using (pod)
            {
                if (kind == OutputFormat.Kind.Table)
                {
                    foreach (var line in PodReports.StatusLines(pod))
                    {
                        Console.Out.WriteLine(line);
                    }
                }
                else
                {
                    Console.Out.WriteLine(PodReports.Json(PodReports.ToApi(pod), kind == OutputFormat.Kind.JsonPretty, ApiJsonContext.Default.ApiPod));
                }
            }

            return 0;
        });
        return command;
    }

    /// <summary>`--wait` alone means true and never takes the next word (that is the UUID), as pflag's NoOptDefVal did.</summary>
    private static Option<string?> WaitOption(string name, string description) => new(name)
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = argument =>
        {
            if (argument.Tokens.Count == 0)
            {
                return "true";
            }

            var token = argument.Tokens[0].Value;
            if (token is "true" or "false" || GoDuration.TryParse(token, out _, out _))
            {
                return token;
            }

            argument.OnlyTake(0);
            return "true";
        },
    };

    /// <summary>rkt's parseDuration: true or empty wait forever (negative), false not at all (zero), else a Go duration.</summary>
    private static TimeSpan ParseWait(string? value) => value switch
    {
        null or "false" or "0" or "f" or "F" or "FALSE" or "False" => TimeSpan.Zero,
        "" or "true" or "1" or "t" or "T" or "TRUE" or "True" => TimeSpan.FromTicks(-1),
        _ => GoDuration.Parse(value),
    };
}

/// <summary>Polls a pod until a condition holds (re-reading its state each time) or the timeout passes.</summary>
internal static class PodWaiter
{
    public static Pod Wait(PodStore store, Pod pod, TimeSpan timeout, Func<Pod, bool> done, string what)
    {
        var deadline = timeout > TimeSpan.Zero ? DateTimeOffset.UtcNow + timeout : DateTimeOffset.MaxValue;
        var uuid = pod.Uuid;
        while (!done(pod))
        {
            if (DateTimeOffset.UtcNow >= deadline)
            {
                pod.Dispose();
                throw new Oci.KubeflyException($"{what}: context deadline exceeded");
            }

            Thread.Sleep(100);
            pod.Dispose();
            pod = store.Open(uuid) ?? throw new Oci.KubeflyException($"{what}: pod \"{uuid}\" is gone");
        }

        return pod;
    }
}
