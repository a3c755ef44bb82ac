using Kubefly.Pods;

namespace Kubefly.Cli.Commands;

/// <summary>
/// `status [--wait[=BOOL|DURATION]] [--wait-ready[=...]] [--format=json|json-pretty] --uuid-file=FILE | UUID`.
/// Hand-parsed: `--wait` takes a value only as `--wait=VALUE` (pflag's NoOptDefVal), so `--wait UUID`
/// waits on UUID, which System.CommandLine cannot express.
/// </summary>
internal static class StatusCommand
{
    // Without the "usage: " prefix: PodTargets.Select adds it (it was printed twice).
    private const string Usage = "status [--wait[=DURATION]] [--wait-ready[=DURATION]] [--format=json|json-pretty] --uuid-file=FILE | UUID";

    public static int Run(GlobalOptions globals, IReadOnlyList<string> args)
    {
        var options = globals;
        string? wait = null;
        string? waitReady = null;
        string? uuidFile = null;
        string? format = null;
        var arguments = new List<string>();
        for (var index = 0; index < args.Count; index++)
        {
            if (options.TryConsume(args, ref index) is { } updated)
            {
                options = updated;
                continue;
            }

            var token = args[index];
            var (name, inline) = token.StartsWith("--", StringComparison.Ordinal) ? FlagTokens.Split(token) : (token, null);
            switch (name)
            {
                case "--wait":
                    wait = inline ?? "true";
                    break;
                case "--wait-ready":
                    waitReady = inline ?? "true";
                    break;
                case "--uuid-file":
                    uuidFile = FlagTokens.Value(args, ref index, name, inline);
                    break;
                case "--format":
                    format = FlagTokens.Value(args, ref index, name, inline);
                    break;
                default:
                    if (token.StartsWith('-') && token.Length > 1)
                    {
                        throw new UsageException($"unknown flag: {name}");
                    }

                    arguments.Add(token);
                    break;
            }
        }

        if (arguments.Count > 1)
        {
            throw new UsageException("usage: " + Usage);
        }

        var (targets, unreadable) = PodTargets.Select("status", [.. arguments], uuidFile, Usage);
        if (unreadable)
        {
            return 1;
        }

        var kind = OutputFormat.Parse(format);
        var waitFinished = ParseWait(wait);
        var waitStarted = ParseWait(waitReady);
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
                var images = new Kubefly.Images.Store.ImageStore(options.Dir);
                foreach (var line in PodReports.StatusLines(pod, image => TagDigest(images, image)))
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
    }

    /// <summary>rkt's parseDuration: true or empty wait forever (negative), false not at all (zero), else a Go duration.</summary>
    private static TimeSpan ParseWait(string? value) => value switch
    {
        null or "false" or "0" or "f" or "F" or "FALSE" or "False" => TimeSpan.Zero,
        "" or "true" or "1" or "t" or "T" or "TRUE" or "True" => TimeSpan.FromTicks(-1),
        _ => GoDuration.Parse(value),
    };

    /// <summary>The digest the store's tag names for a tag reference (a digest reference has no tag to move).</summary>
    private static string? TagDigest(Kubefly.Images.Store.ImageStore images, string image)
    {
        try
        {
            return Oci.ImageReference.TryParse(image, out var reference, out _) && reference.Digest is null && reference.Tag is not null
                ? images.Find(reference.ToString())?.ManifestDigest.ToString()
                : null;
        }
        catch (Exception e) when (e is Oci.KubeflyException or IOException or UnauthorizedAccessException)
        {
            // status reports the pod; a store it cannot read only loses this line.
            return null;
        }
    }
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
            store.ForgetProcesses();
            pod = store.Open(uuid) ?? throw new Oci.KubeflyException($"{what}: pod \"{uuid}\" is gone");
        }

        return pod;
    }

}
