using Kubefly.Fly;
using Kubefly.Oci;
using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

/// <summary>`enter [--app=NAME] UUID [CMD [ARGS...]]`: hand-parsed, since CMD's own flags must pass through untouched.</summary>
internal static class EnterCommand
{
    public const string DefaultCommand = "/bin/sh";

    public static int Run(GlobalOptions globals, IReadOnlyList<string> args)
    {
        var current = globals;
        string? appName = null;
        var index = 0;
        for (; index < args.Count; index++)
        {
            if (current.TryConsume(args, ref index) is { } updated)
            {
                current = updated;
                continue;
            }

            var token = args[index];
            if (token == "--")
            {
                index++;
                break;
            }

            if (FlagTokens.Split(token) is ("--app", var inline))
            {
                appName = FlagTokens.Value(args, ref index, "--app", inline);
            }
            else if (token.StartsWith('-') && token != "-")
            {
                throw new UsageException($"unknown flag: {token}");
            }
            else
            {
                break;
            }
        }

        if (index >= args.Count)
        {
            throw new UsageException("usage: enter [--app=APPNAME] UUID [CMD [ARGS ...]]");
        }

        var store = new PodStore(current.Dir);
        Pod pod;
        try
        {
            pod = store.Get(args[index]);
        }
        catch (PodLookupException e)
        {
            throw new KubeflyException($"problem retrieving pod: {e.Message}", e);
        }

        if (pod.State != PodState.Running)
        {
            throw new KubeflyException($"pod \"{pod.Uuid}\" isn't currently running");
        }

        pod = PodWaiter.Wait(store, pod, TimeSpan.FromTicks(-1), p => p.Pid is not null || p.State != PodState.Running, $"unable to determine the pid for pod \"{pod.Uuid}\"");
        using (pod)
        {
            var record = pod.Record ?? throw new KubeflyException($"pod \"{pod.Uuid}\" has no record");
            if (pod.Pid is not { } pid)
            {
                throw new KubeflyException($"pod \"{pod.Uuid}\" isn't currently running");
            }

            if (appName is not null && appName != record.AppName)
            {
                throw new KubeflyException($"pod \"{pod.Uuid}\" has no app \"{appName}\" (its app is \"{record.AppName}\")");
            }

            IReadOnlyList<string> argv = args.Skip(index + 1).ToList();
            if (argv.Count == 0)
            {
                Console.Error.WriteLine($"enter: no command specified, assuming \"{DefaultCommand}\"");
                argv = [DefaultCommand];
            }

            // The fly app chroots into the pod's rootfs: its own root ("/") is where the command must run.
            FlyStage.Enter(pid, "/", argv, record.Environment);
        }

        return ExitCodes.Engine;
    }
}
