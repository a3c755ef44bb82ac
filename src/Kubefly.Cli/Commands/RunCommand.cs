using Kubefly.Images;
using Kubefly.Oci;
using Kubefly.Pods;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Cli.Commands;

/// <summary>
/// `run`: rkt's positional grammar (hand-parsed), then fetch, prepare and exec the app in place of
/// kubefly. Nothing here touches System.Console: on a terminal it would switch the keypad mode and
/// the exec would leave it switched, so notices go straight to fd 2.
/// </summary>
internal static class RunCommand
{
    public static int Run(GlobalOptions globals, IReadOnlyList<string> args)
    {
        var current = globals;
        var run = RunArgumentsParser.Parse(args, (IReadOnlyList<string> tokens, ref int index) =>
        {
            var updated = current.TryConsume(tokens, ref index);
            if (updated is null)
            {
                return false;
            }

            current = updated;
            return true;
        });

        foreach (var notice in run.Notices)
        {
            WriteStandardError($"run: {notice}");
        }

        run = run with { HostsEntries = PodRunner.HostsEntriesForThisHost(run.HostsEntries, out var hostsNotice) };
        if (hostsNotice is not null)
        {
            WriteStandardError($"run: {hostsNotice}");
        }

        var store = new PodStore(current.Dir, current.TransientPods);
        new PodRunner(store, CreateImageProvider(current)).RunAndExec(run, current.Insecure);
        return ExitCodes.Engine;
    }

    private static IPodImageProvider CreateImageProvider(GlobalOptions globals) => new StoreImageProvider(globals);

    /// <summary>
    /// Plain write(2) on fd 2: a FileStream over a seekable fd writes with pwrite at its own offset, so
    /// with `> log 2&gt;&amp;1` the app's output, written later at the file's offset, overwrote these lines.
    /// </summary>
    private static void WriteStandardError(string line)
    {
        using var stderr = new SafeFileHandle(2, ownsHandle: false);
        Linux.Interop.TryWriteAll(stderr, System.Text.Encoding.UTF8.GetBytes(line + "\n"));
    }

    /// <summary>The image store behind `run`: fetch per the pull policy, verify, unpack, then load the stored image.</summary>
    private sealed class StoreImageProvider(GlobalOptions globals) : IPodImageProvider
    {
        public StoredImage AcquireAndPin(string image, PullPolicy policy, InsecureOptions insecure, PodUuid pod, string podsDirectory, bool transient)
        {
            var services = new ImageServices(globals with { Insecure = insecure }, new StandardErrorProgress());
            using var shared = services.Store.LockStore(exclusive: false);
            var record = services.AcquireAsync(image, policy, CancellationToken.None).GetAwaiter().GetResult();
            var stored = services.Store.Load(record);
            services.Store.Pin(stored.ManifestDigest, pod.Value, podsDirectory, transient);
            services.Store.Touch(stored.ManifestDigest);
            return stored;
        }
    }

    /// <summary>Pull messages (trust warnings) straight to fd 2; no live layer display on the exec path.</summary>
    private sealed class StandardErrorProgress : IPullProgress
    {
        public void Message(string text) => WriteStandardError(text);

        public void LayerStarted(Digest blob, long size)
        {
        }

        public void LayerAdvanced(Digest blob, long bytesSoFar)
        {
        }

        public void LayerFinished(Digest blob, bool alreadyPresent)
        {
        }

        public void LayerFetchedPartially(Digest blob, Kubefly.Images.Chunked.PartialPullReport report)
        {
        }
    }
}
