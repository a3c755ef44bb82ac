using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kubefly.Pods;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>stop, rm, status, list and gc through the real binary, on pods made by the real pod store.</summary>
[Trait("Category", "Integration")]
public sealed class PodCommandTests : IDisposable
{
    private readonly PodFixture pods = new();

    public void Dispose() => pods.Dispose();

    [Fact]
    public void Stop_sends_sigterm_and_prints_the_uuid_then_reports_already_stopped()
    {
        var (uuid, app) = pods.Running();

        var result = pods.Kubefly("stop", uuid.Short);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"\"{uuid}\"\n", result.StandardOutput);
        app.WaitForExit();
        Assert.Equal(128 + 15, app.ExitCode);
        Assert.Equal(PodState.Exited, pods.StateOf(uuid));
        var again = pods.Kubefly("stop", uuid.Value);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal($"pod \"{uuid}\" is already stopped\n", again.StandardOutput);
    }

    [Fact]
    public void Stop_force_sends_sigkill_and_takes_the_uuid_from_a_file()
    {
        var uuidFile = Path.Combine(pods.Directory, "app.uuid");
        var (uuid, app) = pods.Running(uuidFile);

        var result = pods.Kubefly("stop", "--force", $"--uuid-file={uuidFile}");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"\"{uuid}\"\n", result.StandardOutput);
        app.WaitForExit();
        Assert.Equal(128 + 9, app.ExitCode);
    }

    [Fact]
    public void Stop_never_signals_an_unrelated_process_that_reused_the_recorded_pid()
    {
        using var unrelated = Process.Start("/bin/sleep", ["600"])!;
        try
        {
            var (uuid, app) = pods.Running(pidFileContent: unrelated.Id.ToString(CultureInfo.InvariantCulture));

            var result = pods.Kubefly("stop", "--force", uuid.Value);

            Assert.True(result.ExitCode == 0, result.ToString());
            app.WaitForExit();
            Assert.Equal(128 + 9, app.ExitCode);
            Assert.False(unrelated.HasExited, "stop killed a process outside the pod that had the recorded pid");
        }
        finally
        {
            unrelated.Kill();
            unrelated.WaitForExit();
        }
    }

    /// <summary>
    /// Namespace ids are reused: the next pod often gets the id an exited pod recorded. The exited pod
    /// must stay exited, and stopping it must not touch the pod that now has that id.
    /// </summary>
    [Fact]
    public void An_exited_pod_whose_namespace_id_another_pod_reused_stays_exited_and_stop_spares_the_other()
    {
        var (other, otherApp) = pods.Running();
        var exited = pods.Exited();
        var reused = File.ReadAllText(Path.Combine(pods.Store.PathOf(PodLocation.Run, other), PodPaths.MountNamespace));
        File.WriteAllText(Path.Combine(pods.Store.PathOf(PodLocation.Run, exited), PodPaths.MountNamespace), reused);

        Assert.StartsWith("state=exited\n", pods.Kubefly("status", exited.Value).StandardOutput, StringComparison.Ordinal);
        var stop = pods.Kubefly("stop", "--force", exited.Value);

        Assert.Equal(0, stop.ExitCode);
        Assert.Equal($"pod \"{exited}\" is already stopped\n", stop.StandardOutput);
        Assert.False(otherApp.HasExited);
        Assert.Equal(PodState.Running, pods.StateOf(other));
        Assert.Contains($"Garbage collecting pod \"{exited}\"", pods.Kubefly("gc", "--grace-period=0s").StandardOutput, StringComparison.Ordinal);
    }

    /// <summary>A daemon that closed every descriptor (the lock too) still makes the pod run: the pod is its namespace.</summary>
    [Fact]
    public void A_pod_runs_while_a_process_is_left_in_it_even_without_the_lock()
    {
        var (uuid, app) = pods.Running(app: "exec 9<&- && exec sleep 600");

        Assert.Equal(PodState.Running, pods.StateOf(uuid));
        var status = pods.Kubefly("status", uuid.Value).StandardOutput;
        Assert.Contains("state=running\n", status, StringComparison.Ordinal);
        Assert.Contains($"pids={app.Id}\n", status, StringComparison.Ordinal);
        Assert.DoesNotContain($"Moving pod \"{uuid}\"", pods.Kubefly("gc").StandardError, StringComparison.Ordinal);
        Assert.Equal(PodState.Running, pods.StateOf(uuid));
        Assert.Equal(254, pods.Kubefly("rm", uuid.Value).ExitCode);

        Assert.Equal(0, pods.Kubefly("stop", uuid.Value).ExitCode);
        app.WaitForExit();
        Assert.Equal(PodState.Exited, pods.StateOf(uuid));
    }

    [Fact]
    public void A_lock_holder_that_left_the_pod_s_namespace_is_named_and_never_signalled()
    {
        var (uuid, app) = pods.Running(app: $"exec nsenter --mount=/proc/{Environment.ProcessId}/ns/mnt sleep 600");
        Wait.Until(() => PodProcessesInNamespaceGone(app.Id), TimeSpan.FromSeconds(10), "the app to leave the pod's namespace");

        var result = pods.Kubefly("stop", "--force", uuid.Value);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"process(es) {app.Id} hold its lock from outside it and were not signalled", result.StandardError, StringComparison.Ordinal);
        Assert.False(app.HasExited);
    }

    private static bool PodProcessesInNamespaceGone(int pid) =>
        File.Exists($"/proc/{pid}/ns/mnt") && new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget == new FileInfo($"/proc/{Environment.ProcessId}/ns/mnt").LinkTarget;

    [Fact]
    public void Stop_with_an_unreadable_uuid_file_exits_1()
    {
        var result = pods.Kubefly("stop", "--uuid-file=/nonexistent/kubelet-pod.uuid");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("stop: unable to resolve UUID from file: open /nonexistent/kubelet-pod.uuid: no such file or directory\n", result.StandardError);
    }

    [Fact]
    public void Stop_of_an_unknown_pod_exits_254()
    {
        var result = pods.Kubefly("stop", "0f746094-3438-42bc-ab37-3cf85f132e60");

        Assert.Equal(254, result.ExitCode);
        Assert.Equal("stop: cannot get pod: no matches found for \"0f746094-3438-42bc-ab37-3cf85f132e60\"\nstop: failed to stop 1 pod(s)\n", result.StandardError);
    }

    [Fact]
    public void Rm_refuses_a_running_pod()
    {
        var (uuid, _) = pods.Running();

        var result = pods.Kubefly("rm", uuid.Value);

        Assert.Equal(254, result.ExitCode);
        Assert.Equal($"rm: pod \"{uuid}\" is currently running\nrm: failed to remove one or more pods\n", result.StandardError);
        Assert.Equal(PodState.Running, pods.StateOf(uuid));
    }

    [Fact]
    public void Rm_removes_exited_pods_by_prefix_and_by_uuid_file()
    {
        var uuidFile = Path.Combine(pods.Directory, "app.uuid");
        var first = pods.Exited();
        var second = pods.Exited(uuidFile);

        var byPrefix = pods.Kubefly("rm", first.Short);
        var byFile = pods.Kubefly("rm", $"--uuid-file={uuidFile}");

        Assert.Equal((0, $"\"{first}\"\n"), (byPrefix.ExitCode, byPrefix.StandardOutput));
        Assert.Equal((0, $"\"{second}\"\n"), (byFile.ExitCode, byFile.StandardOutput));
        Assert.Empty(pods.Store.List());
        foreach (var state in new[] { "run", "exited-garbage", "garbage" })
        {
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(pods.Directory, "pods", state)));
        }
    }

    [Fact]
    public void Rm_reports_empty_and_unknown_uuids_and_still_removes_the_rest()
    {
        var uuid = pods.Exited();

        var result = pods.Kubefly("rm", string.Empty, "0f746094", uuid.Value);

        Assert.Equal(254, result.ExitCode);
        Assert.Equal($"\"{uuid}\"\n", result.StandardOutput);
        Assert.Equal("rm: cannot get pod: UUID cannot be empty\nrm: cannot get pod: no matches found for \"0f746094\"\nrm: failed to remove one or more pods\n", result.StandardError);
    }

    [Fact]
    public void Rm_with_a_missing_uuid_file_fails_like_rkt()
    {
        var result = pods.Kubefly("rm", "--uuid-file=/nonexistent/x.uuid");

        Assert.Equal(254, result.ExitCode);
        Assert.Equal("rm: unable to resolve UUID from file: open /nonexistent/x.uuid: no such file or directory\nrm: failed to remove one or more pods\n", result.StandardError);
    }

    [Fact]
    public void Rm_needs_exactly_one_of_uuids_or_a_uuid_file() =>
        Assert.Equal(2, pods.Kubefly("rm").ExitCode);

    [Fact]
    public void Status_of_an_exited_pod_prints_rkt_s_lines()
    {
        var uuid = pods.Exited();

        var result = pods.Kubefly("status", uuid.Short);

        Assert.Equal(0, result.ExitCode);
        var lines = result.StandardOutput.TrimEnd('\n').Split('\n');
        Assert.Equal("state=exited", lines[0]);
        Assert.StartsWith("created=20", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("started=20", lines[2], StringComparison.Ordinal);
        Assert.Equal(["networks=", "pid=1234567", "exited=true"], lines[3..6]);
        Assert.All(lines[6..], line => Assert.Matches("^(image|image-digest|unit)=", line));
    }

    [Fact]
    public void Status_of_a_running_pod_says_so_and_json_follows_rkt_s_api()
    {
        var (uuid, app) = pods.Running();

        var text = pods.Kubefly("status", uuid.Value);
        var json = pods.Kubefly("status", "--format=json", uuid.Value);

        Assert.Contains("state=running\n", text.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"pid={app.Id}\n", text.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("\nexited=false\n", text.StandardOutput, StringComparison.Ordinal);
        Assert.Matches("\nimage-digest=sha256:[0-9a-f]{64}\n", text.StandardOutput);
        using var document = JsonDocument.Parse(json.StandardOutput);
        Assert.Equal(uuid.Value, document.RootElement.GetProperty("name").GetString());
        Assert.Equal("running", document.RootElement.GetProperty("state").GetString());
        Assert.Equal("busybox", document.RootElement.GetProperty("app_names")[0].GetString());
        Assert.Equal("running", document.RootElement.GetProperty("apps")[0].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Status_wait_returns_once_the_pod_has_exited()
    {
        var (uuid, app) = pods.Running();

        // Whether the kill lands before or after status starts waiting, status must end up reporting "exited".
        var waiting = Task.Run(() => pods.Kubefly("status", "--wait", uuid.Value));
        await Task.Delay(200);
        app.Kill();
        var result = await waiting;

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("state=exited\n", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Status_with_an_unreadable_uuid_file_exits_1() =>
        Assert.Equal(1, pods.Kubefly("status", "--uuid-file=/nonexistent/x.uuid").ExitCode);

    [Fact]
    public void List_shows_one_row_per_pod_with_rkt_s_columns()
    {
        var exited = pods.Exited();
        var (running, _) = pods.Running();

        var table = pods.Kubefly("list").StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var full = pods.Kubefly("list", "--full", "--no-legend").StandardOutput;
        var json = pods.Kubefly("list", "--format=json-pretty").StandardOutput;

        Assert.Equal(["UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"], table[0].Split('\t', StringSplitOptions.RemoveEmptyEntries));
        var rows = table[1..].Select(r => r.Split('\t', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Contains(rows, r => r[0] == exited.Short && r[1] == "busybox" && r[2] == "example.test/library/busybox:latest" && r[3] == "exited");
        Assert.Contains(rows, r => r[0] == running.Short && r[3] == "running");
        Assert.Contains(exited.Value + "\tbusybox\t", full, StringComparison.Ordinal);
        Assert.DoesNotContain("UUID", full, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json);
        Assert.Equal(2, document.RootElement.GetArrayLength());
        Assert.Contains("\n\t{\n\t\t\"name\": ", json, StringComparison.Ordinal);
    }

    /// <summary>
    /// rkt's `gc --grace-period=0s` (third-party units run it) removes in one run what it just marked.
    /// kubefly compared the mark, a coarse file time, with the run's start time and left it at random.
    /// </summary>
    [Fact]
    public void Gc_with_a_zero_grace_period_collects_in_the_same_run_the_pods_it_just_marked()
    {
        var exited = Enumerable.Range(0, 5).Select(_ => pods.Exited()).ToList();

        var gc = pods.Kubefly("gc", "--grace-period=0s");

        Assert.Equal(0, gc.ExitCode);
        foreach (var uuid in exited)
        {
            Assert.Contains($"Moving pod \"{uuid}\" to garbage", gc.StandardError, StringComparison.Ordinal);
            Assert.Contains($"Garbage collecting pod \"{uuid}\"", gc.StandardOutput, StringComparison.Ordinal);
            Assert.Null(pods.Store.Open(uuid));
        }
    }

    [Fact]
    public void Gc_marks_exited_pods_then_collects_them_after_the_grace_period()
    {
        var exited = pods.Exited();
        var (running, _) = pods.Running();

        var mark = pods.Kubefly("gc", "--mark-only");
        Assert.Equal(0, mark.ExitCode);
        Assert.Equal($"Moving pod \"{exited}\" to garbage\n", mark.StandardError);
        Assert.Equal(PodState.ExitedGarbage, pods.StateOf(exited));

        var withinGrace = pods.Kubefly("gc");
        Assert.Equal(0, withinGrace.ExitCode);
        Assert.Equal($"gc: pod \"{exited}\" not removed: still within grace period (30m0s)\n", withinGrace.StandardError);
        Assert.Equal(PodState.ExitedGarbage, pods.StateOf(exited));

        var collect = pods.Kubefly("gc", "--grace-period=0s");
        Assert.Equal(0, collect.ExitCode);
        Assert.Equal($"Garbage collecting pod \"{exited}\"\n", collect.StandardOutput);
        Assert.Null(pods.Store.Open(exited));
        Assert.Equal(PodState.Running, pods.StateOf(running));
    }

    [Fact]
    public void Gc_collects_at_once_an_exited_pod_whose_uuid_file_is_gone()
    {
        var uuidFile = Path.Combine(pods.Directory, "kubelet-pod.uuid");
        var kept = Path.Combine(pods.Directory, "etcd-pod.uuid");
        var orphan = pods.Exited(uuidFile);
        var referenced = pods.Exited(kept);
        File.Delete(uuidFile);

        var result = pods.Kubefly("gc");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"Garbage collecting pod \"{orphan}\"\n", result.StandardOutput);
        Assert.Null(pods.Store.Open(orphan));
        Assert.Equal(PodState.ExitedGarbage, pods.StateOf(referenced));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(600)]
    public void A_pod_whose_record_a_crash_emptied_or_zeroed_is_listed_and_collected(int zeroBytes)
    {
        // pod.json is not fsynced (the pod dies with the machine): after a crash ext4 may leave it empty,
        // xfs its length in zeros.
        var exited = pods.Exited();
        using (var pod = pods.Store.Open(exited)!)
        {
            File.WriteAllBytes(Path.Combine(pod.Path, PodPaths.Record), new byte[zeroBytes]);
        }

        var list = pods.Kubefly("list", "--no-legend", "--full");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains(exited.Value, list.StandardOutput, StringComparison.Ordinal);

        Assert.Equal(0, pods.Kubefly("gc", "--mark-only").ExitCode);
        var collect = pods.Kubefly("gc", "--grace-period=0s");
        Assert.Equal(0, collect.ExitCode);
        Assert.Equal($"Garbage collecting pod \"{exited}\"\n", collect.StandardOutput);
        Assert.Null(pods.Store.Open(exited));
    }

    [Fact]
    public void Gc_removes_failed_prepares()
    {
        using (var pod = pods.Store.Create())
        {
            // Dropped while preparing: the lock goes with the descriptor.
        }

        var result = pods.Kubefly("gc");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("gc: moving failed prepare", result.StandardError, StringComparison.Ordinal);
        Assert.StartsWith("Garbage collecting pod", result.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(pods.Store.List());
    }

    [Fact]
    public void Gc_rejects_a_malformed_duration()
    {
        var result = pods.Kubefly("gc", "--grace-period=30");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("time: missing unit in duration \"30\"", result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("an image is required before any app arguments", "--", "x")]
    [InlineData("only one set of app arguments allowed per image", "img", "--", "a", "---", "--", "b")]
    [InlineData("fly only supports 1 application per Pod for now", "img1", "img2")]
    [InlineData("dangling mount point \"/x\": volume \"v\" not found", "--mount=volume=v,target=/x", "img")]
    public void Run_grammar_errors_exit_2_with_rkt_s_message(string message, params string[] arguments)
    {
        var result = pods.Kubefly(["run", .. arguments]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"run: {message}\n", result.StandardError);
        Assert.Empty(pods.Store.List());
    }
}
