using System.Diagnostics;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// `stop` signals exactly the pod's processes, found by the pod's mount namespace: the daemons an app
/// left in new sessions and process groups die with it, and nothing outside the pod is ever signalled,
/// not the shell that started `run` nor a process that reused a recorded pid. Real pods, real binary.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PodStopTests : IDisposable
{
    private readonly TempDirectory dir = new("kubefly-stop-it");
    private readonly List<Process> started = [];
    private readonly string image = TestImages.Reference(TestImages.Busybox);

    public void Dispose()
    {
        foreach (var process in started)
        {
            // The launcher's whole session (its own group: setsid). "--" is needed: procps kill reads
            // "-KILL -PGID" as kill(-1), every process there is.
            ProgramRunner.Run("/bin/kill", ["-s", "KILL", "--", $"-{process.Id}"]);
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit();
            process.Dispose();
        }

        foreach (var uuid in Kubefly("list", "--no-legend", "--full").StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t', ' ')[0]))
        {
            Kubefly("stop", "--force", uuid);
        }

        dir.Dispose();
    }

    /// <summary>
    /// The reported case: a script starts the pod; the app leaves a daemon in a session of its own and
    /// exits. stop --force must kill the daemon only; the launching script and its other child live on.
    /// </summary>
    [Theory]
    [InlineData("(setsid sleep 400 </dev/null >/dev/null 2>&1 &)")]
    [InlineData("set -m; (sleep 400 </dev/null >/dev/null 2>&1 &)")]
    [InlineData("{ sleep 400 </dev/null >/dev/null 2>&1 & }")]
    public void Stop_force_kills_a_daemon_the_app_left_and_spares_the_launcher_and_its_children(string daemon)
    {
        var uuidFile = Path.Combine(dir.Path, "pod.uuid");
        var marker = Path.Combine(dir.Path, "launcher-went-on");
        var launcher = Launch($"sleep 401 & echo $! > {dir.Path}/sibling.pid; {Command(uuidFile)} --exec=/bin/sh -- -c '{daemon}; exit 4'; touch {marker}; sleep 402");
        Wait.Until(() => File.Exists(marker), TimeSpan.FromSeconds(60), "the app to exit and the launcher to go on");
        var uuid = File.ReadAllText(uuidFile);
        var status = Kubefly("status", uuid).StandardOutput;
        Assert.Contains("state=running\n", status, StringComparison.Ordinal);
        var daemonPids = Pids(status);
        Assert.Single(daemonPids);
        Assert.Equal("sleep 400", CommandLine(daemonPids[0]));

        var stop = Kubefly("stop", "--force", $"--uuid-file={uuidFile}");

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal($"\"{uuid}\"\n", stop.StandardOutput);
        Wait.Until(() => Kubefly("status", uuid).StandardOutput.StartsWith("state=exited\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the pod to be exited");
        // SIGKILL ends a process asynchronously: it leaves its mount namespace (so the pod reads as
        // exited) a moment before /proc shows it gone or a zombie.
        Wait.Until(() => !Alive(daemonPids[0]), TimeSpan.FromSeconds(10), "the daemon to die after stop --force");
        Assert.False(launcher.HasExited, "stop killed the script that started the pod");
        Assert.True(Alive(int.Parse(File.ReadAllText(Path.Combine(dir.Path, "sibling.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture)), "stop killed the launcher's other child");
        Assert.Equal(0, Kubefly("rm", uuid).ExitCode);
    }

    [Fact]
    public void Plain_stop_terms_every_process_in_the_pod_and_an_app_that_ignores_it_needs_force()
    {
        var uuidFile = Path.Combine(dir.Path, "pod.uuid");
        var ready = Path.Combine(dir.Path, "ready");
        Launch($"{Command(uuidFile, OutVolume)} --exec=/bin/sh -- -c \"(trap - TERM; exec setsid sleep 400 </dev/null >/dev/null 2>&1) & trap '' TERM; touch /out/ready; while :; do sleep 1; done\"");
        Wait.Until(() => File.Exists(ready) && File.Exists(uuidFile), TimeSpan.FromSeconds(60), "the pod to start");
        var uuid = File.ReadAllText(uuidFile);
        var before = Pids(Kubefly("status", uuid).StandardOutput);
        Assert.True(before.Count >= 2, $"expected the app, its loop and the daemon: {string.Join(',', before)}");
        var daemon = before.Single(pid => CommandLine(pid) == "sleep 400");

        var stop = Kubefly("stop", uuid);

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Wait.Until(() => !Alive(daemon), TimeSpan.FromSeconds(30), "SIGTERM to end the daemon");
        var status = Kubefly("status", uuid).StandardOutput;
        Assert.Contains("state=running\n", status, StringComparison.Ordinal);
        Assert.DoesNotContain(daemon, Pids(status));

        Assert.Equal(0, Kubefly("stop", "--force", uuid).ExitCode);
        Wait.Until(() => Kubefly("status", uuid).StandardOutput.StartsWith("state=exited\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the pod to be exited");
        Assert.DoesNotContain(before, Alive);
    }

    /// <summary>
    /// A pod started from an interactive shell keeps the terminal's job control: Ctrl-C on the terminal
    /// reaches the app (kubefly forces no process group of its own on it).
    /// </summary>
    [Fact]
    public void Ctrl_c_on_the_terminal_that_started_the_pod_reaches_the_app()
    {
        var transcript = Path.Combine(dir.Path, "transcript");
        var ready = Path.Combine(dir.Path, "ready");
        // exec: script(1) runs the command under $SHELL, else dash, which would stay in the foreground
        // group as kubefly's parent and die of the same Ctrl-C before the app's exit status reaches script.
        var command = $"exec {Command(Path.Combine(dir.Path, "pod.uuid"), OutVolume)} --exec=/bin/sh -- -c \"trap 'echo got-sigint; exit 7' INT; touch /out/ready; while :; do sleep 0.1; done\"";
        var info = new ProcessStartInfo("script", ["--quiet", "--return", "--flush", "--command", command, transcript])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var script = Process.Start(info)!;
        started.Add(script);
        _ = script.StandardOutput.ReadToEndAsync();
        Wait.Until(() => File.Exists(ready), TimeSpan.FromSeconds(60), "the pod to start on the terminal");

        script.StandardInput.Write('\u0003');
        script.StandardInput.Flush();

        Assert.True(script.WaitForExit(30_000), "Ctrl-C did not end the app");
        Assert.Equal(7, script.ExitCode);
        Assert.Contains("got-sigint", File.ReadAllText(transcript), StringComparison.Ordinal);
    }

    /// <summary>The test's directory at /out in the pod, for ready markers.</summary>
    private string OutVolume => $"--volume=out,kind=host,source={dir.Path} --mount=volume=out,target=/out";

    private string Command(string uuidFile, string podFlags = "") =>
        $"{KubeflyProcess.BinaryPath} --dir={dir.Path}/data run --insecure-options=image --uuid-file-save={uuidFile} {podFlags} {image}";

    private Process Launch(string script)
    {
        var process = Process.Start("/usr/bin/setsid", ["/bin/bash", "-c", script])!;
        started.Add(process);
        return process;
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run([$"--dir={dir.Path}/data", .. arguments]);

    private static List<string> PidsText(string status) =>
        status.Split('\n').FirstOrDefault(l => l.StartsWith("pids=", StringComparison.Ordinal))?["pids=".Length..].Split(',', StringSplitOptions.RemoveEmptyEntries).ToList() ?? [];

    private static List<int> Pids(string status) => PidsText(status).ConvertAll(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture));

    private static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private static string CommandLine(int pid) => File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
}
