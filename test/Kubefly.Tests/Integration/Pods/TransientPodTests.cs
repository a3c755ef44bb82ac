using Kubefly.Images.Store;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// `run --transient-pods` through the real binary: the pod and its image pin live under /run, where the
/// reboot ends them, and every command of the pod lifecycle finds them as it finds pods on the state disk
/// (docs/adr/0015-transient-pods.md). The reboot is played by removing the runtime directory, which is
/// what an emptied /run amounts to. Where /run is no tmpfs (a machine booted without systemd), the class
/// mounts one on /run/kubefly, as a node has, and unmounts it afterwards.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TransientPodTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly string _image = TestImages.Reference(TestImages.Busybox);
    private readonly string _runtime;
    private readonly RuntimeBaseMount _inMemory = RuntimeBaseMount.InMemory();

    public TransientPodTests()
    {
        _runtime = RuntimeDirectory.For(_state.Path);
    }

    public void Dispose()
    {
        RemoveRuntimeDirectory();
        _inMemory.Dispose();
        _state.Dispose();
    }

    [Fact]
    public void A_transient_pod_lives_in_run_and_stop_status_rm_and_gc_find_it_after_its_uuid_file_is_gone()
    {
        var id = Kubefly("fetch", "--quiet", _image).StandardOutput.Trim();
        var uuidFile = _state.Combine("pod.uuid");
        using var app = KubeflyProcess.Start(["--dir", _state.Path, "run", "--transient-pods", $"--uuid-file-save={uuidFile}", "--pull-policy=never", _image, "--exec=/bin/sleep", "--", "600"]);
        try
        {
            Wait.Until(() => File.Exists(uuidFile) || app.HasExited, TimeSpan.FromSeconds(30), "run to save the pod's uuid");
            var uuid = File.ReadAllText(uuidFile);
            Wait.Until(() => Kubefly("status", uuid).StandardOutput.StartsWith("state=running", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the pod to run");

            Assert.True(Directory.Exists(Path.Combine(_runtime, "pods", "run", uuid)), "the pod directory is in the runtime directory");
            Assert.False(Directory.Exists(_state.Combine("pods", "run", uuid)), "nothing of the pod is on the state disk");
            Assert.Equal(_state.Path + "\n", File.ReadAllText(Path.Combine(_runtime, RuntimeDirectory.IdentityFile)));
            Assert.Contains("\trunning\t", Kubefly("list", "--no-legend").StandardOutput);

            var rm = Kubefly("image", "rm", id);
            Assert.Equal(254, rm.ExitCode);
            Assert.Contains(uuid, rm.StandardError);

            File.Delete(uuidFile);
            var stop = Kubefly("stop", uuid);
            Assert.True(stop.ExitCode == 0, stop.ToString());
            Assert.True(app.WaitForExit(30_000), "the app ends when its pod is stopped");
            Assert.StartsWith("state=exited", Kubefly("status", uuid).StandardOutput, StringComparison.Ordinal);

            var gc = Kubefly("gc", "--grace-period=0s");
            Assert.True(gc.ExitCode == 0, gc.ToString());
            Assert.Contains(uuid, gc.StandardOutput + gc.StandardError);
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_runtime, "pods", "run")));
            Assert.Equal(string.Empty, Kubefly("list", "--no-legend").StandardOutput.Trim());
        }
        finally
        {
            if (!app.HasExited)
            {
                app.Kill();
                app.WaitForExit();
            }
        }

        var removed = Kubefly("image", "rm", id);
        Assert.True(removed.ExitCode == 0, removed.ToString());
    }

    [Fact]
    public void A_transient_run_creates_no_file_on_the_state_disk()
    {
        Kubefly("fetch", "--quiet", _image);
        Kubefly("run", "--pull-policy=never", _image, "--exec=/bin/true");
        var before = FilesUnder(_state.Path);

        var run = Kubefly("run", "--transient-pods", "--pull-policy=never", _image, "--exec=/bin/true");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(before, FilesUnder(_state.Path));
        Assert.Single(Directory.EnumerateDirectories(Path.Combine(_runtime, "pods", "run")));
        Assert.Single(Directory.EnumerateDirectories(Path.Combine(_runtime, "pins")));
    }

    /// <summary>Regression: a trailing slash on --dir named another runtime directory, hiding the pod from the other spelling.</summary>
    [Theory]
    [InlineData("/")]
    [InlineData("/./")]
    [InlineData("/../STATE/")]
    public void A_transient_pod_is_found_however_the_state_directory_is_spelled(string suffix)
    {
        Kubefly("fetch", "--quiet", _image);
        var spelled = _state.Path + suffix.Replace("STATE", Path.GetFileName(_state.Path), StringComparison.Ordinal);
        var uuidFile = _state.Combine("pod.uuid");
        var run = KubeflyProcess.Run(["--dir", spelled, "run", "--transient-pods", $"--uuid-file-save={uuidFile}", "--pull-policy=never", _image, "--exec=/bin/true"]);
        Assert.True(run.ExitCode == 0, run.ToString());

        Assert.Contains(File.ReadAllText(uuidFile), Kubefly("list", "--full", "--no-legend").StandardOutput);
        Assert.Equal(0, Kubefly("rm", $"--uuid-file={uuidFile}").ExitCode);
    }

    [Fact]
    public async Task Concurrent_first_transient_runs_share_one_runtime_directory_and_leave_no_scratch()
    {
        Kubefly("fetch", "--quiet", _image);

        var runs = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(_ => Task.Run(() => Kubefly("run", "--transient-pods", "--pull-policy=never", _image, "--exec=/bin/true"))));

        Assert.All(runs, run => Assert.True(run.ExitCode == 0, run.ToString()));
        Assert.Equal(8, Directory.EnumerateDirectories(Path.Combine(_runtime, "pods", "run")).Count());
        Assert.Empty(Directory.EnumerateFileSystemEntries(RuntimeDirectory.Base, $".{Path.GetFileName(_runtime)}.tmp-*"));
    }

    [Fact]
    public void The_environment_variable_makes_run_transient_and_a_bad_value_is_a_usage_error()
    {
        Kubefly("fetch", "--quiet", _image);
        var run = KubeflyProcess.Run(["--dir", _state.Path, "run", "--pull-policy=never", _image, "--exec=/bin/true"], new Dictionary<string, string?> { ["KUBEFLY_TRANSIENT_PODS"] = "true" });
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(Directory.EnumerateDirectories(Path.Combine(_runtime, "pods", "run")));

        var flagWins = KubeflyProcess.Run(["--dir", _state.Path, "run", "--transient-pods=false", "--pull-policy=never", _image, "--exec=/bin/true"], new Dictionary<string, string?> { ["KUBEFLY_TRANSIENT_PODS"] = "true" });
        Assert.True(flagWins.ExitCode == 0, flagWins.ToString());
        Assert.Single(Directory.EnumerateDirectories(_state.Combine("pods", "run")));

        var bad = KubeflyProcess.Run(["--dir", _state.Path, "list"], new Dictionary<string, string?> { ["KUBEFLY_TRANSIENT_PODS"] = "sometimes" });
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("KUBEFLY_TRANSIENT_PODS", bad.StandardError);
        Assert.Contains("sometimes", bad.StandardError);
    }

    [Fact]
    public void A_reboot_ends_transient_pods_and_their_pins_and_spares_the_pods_on_disk()
    {
        var id = Kubefly("fetch", "--quiet", _image).StandardOutput.Trim();
        var onDisk = _state.Combine("disk.uuid");
        var transient = _state.Combine("transient.uuid");
        Assert.Equal(0, Kubefly("run", $"--uuid-file-save={onDisk}", "--pull-policy=never", _image, "--exec=/bin/true").ExitCode);
        Assert.Equal(0, Kubefly("run", "--transient-pods", $"--uuid-file-save={transient}", "--pull-policy=never", _image, "--exec=/bin/true").ExitCode);

        var both = Kubefly("list", "--full", "--no-legend").StandardOutput;
        Assert.Contains(File.ReadAllText(onDisk), both);
        Assert.Contains(File.ReadAllText(transient), both);

        RemoveRuntimeDirectory();

        var after = Kubefly("list", "--full", "--no-legend").StandardOutput;
        Assert.Contains(File.ReadAllText(onDisk), after);
        Assert.DoesNotContain(File.ReadAllText(transient), after);
        var rmGone = Kubefly("rm", $"--uuid-file={transient}");
        Assert.Equal(254, rmGone.ExitCode);
        Assert.Contains("no matches found", rmGone.StandardError);
        Assert.Equal(0, Kubefly("rm", $"--uuid-file={onDisk}").ExitCode);
        var removed = Kubefly("image", "rm", id);
        Assert.True(removed.ExitCode == 0, removed.ToString());
    }

    [Theory]
    [InlineData("writable-by-others")]
    [InlineData("symlink")]
    [InlineData("names-another-state-directory")]
    [InlineData("no-identity-file")]
    [InlineData("identity-is-a-directory")]
    public void A_runtime_directory_that_is_not_safe_or_not_this_state_directorys_is_refused(string damage)
    {
        Kubefly("fetch", "--quiet", _image);
        Assert.Equal(0, Kubefly("run", "--transient-pods", "--pull-policy=never", _image, "--exec=/bin/true").ExitCode);
        var identity = Path.Combine(_runtime, RuntimeDirectory.IdentityFile);
        switch (damage)
        {
            case "writable-by-others":
                File.SetUnixFileMode(_runtime, (UnixFileMode)0b111_111_111);
                break;
            case "symlink":
                Directory.Move(_runtime, _runtime + ".moved");
                File.CreateSymbolicLink(_runtime, _runtime + ".moved");
                break;
            case "names-another-state-directory":
                File.WriteAllText(identity, "/var/lib/someone-else\n");
                break;
            case "no-identity-file":
                File.Delete(identity);
                break;
            case "identity-is-a-directory":
                File.Delete(identity);
                Directory.CreateDirectory(identity);
                break;
        }

        foreach (var command in new[] { new[] { "list" }, ["gc", "--grace-period=0s"], ["run", "--transient-pods", "--pull-policy=never", _image, "--exec=/bin/true"] })
        {
            var refused = Kubefly(command);
            Assert.True(refused.ExitCode == 254, $"{string.Join(' ', command)}: {refused}");
            Assert.Contains($"refusing to use", refused.StandardError);
            Assert.Contains(_runtime, refused.StandardError);
        }
    }

    [Fact]
    public void A_transient_run_is_refused_where_run_kubefly_is_on_a_disk_and_pods_on_the_state_disk_still_run()
    {
        Kubefly("fetch", "--quiet", _image);
        var disk = _state.Combine("not-a-tmpfs");
        Directory.CreateDirectory(disk);
        using (RuntimeBaseMount.OnDisk(disk))
        {
            var refused = Kubefly("run", "--transient-pods", "--pull-policy=never", _image, "--exec=/bin/true");
            Assert.Equal(254, refused.ExitCode);
            Assert.Contains($"transient pods need {RuntimeDirectory.Base} on a tmpfs", refused.StandardError);
            Assert.Contains("mount -t tmpfs", refused.StandardError);
            Assert.Empty(Directory.EnumerateFileSystemEntries(disk));

            Assert.Contains($"warn  transient pods: {RuntimeDirectory.Base} is on a disk", Kubefly("doctor", "--offline").StandardOutput);
            var onDisk = Kubefly("run", "--pull-policy=never", _image, "--exec=/bin/true");
            Assert.True(onDisk.ExitCode == 0, onDisk.ToString());
        }

        Assert.Contains($"ok    transient pods: {RuntimeDirectory.Base} is on a tmpfs", Kubefly("doctor", "--offline").StandardOutput);
    }

    private static string[] FilesUnder(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal)];

    private void RemoveRuntimeDirectory()
    {
        if (new FileInfo(_runtime) is { LinkTarget: not null } link)
        {
            link.Delete();
        }
        else if (Directory.Exists(_runtime))
        {
            Directory.Delete(_runtime, recursive: true);
        }

        if (Directory.Exists(_runtime + ".moved"))
        {
            Directory.Delete(_runtime + ".moved", recursive: true);
        }
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);
}

/// <summary>
/// Puts /run/kubefly on the filesystem a test needs for as long as it lives: a tmpfs where it is not in
/// memory already (a node's /run is; this machine's may not be), or a disk directory bound over it.
/// </summary>
internal sealed class RuntimeBaseMount : IDisposable
{
    private readonly bool _mounted;
    private readonly bool _createdBase;

    private RuntimeBaseMount(string[]? mountArguments)
    {
        _createdBase = !Directory.Exists(RuntimeDirectory.Base);
        Directory.CreateDirectory(RuntimeDirectory.Base, (UnixFileMode)0b111_101_101);
        if (mountArguments is null)
        {
            return;
        }

        var mount = ProgramRunner.Run("mount", [.. mountArguments, RuntimeDirectory.Base]);
        Assert.True(mount.ExitCode == 0, mount.ToString());
        _mounted = true;
    }

    public static RuntimeBaseMount InMemory()
    {
        var existing = RuntimeDirectory.Base;
        while (!Directory.Exists(existing))
        {
            existing = Path.GetDirectoryName(existing)!;
        }

        return new RuntimeBaseMount(Linux.Interop.IsInMemoryFileSystem(existing) ? null : ["-t", "tmpfs", "-o", "mode=0755,size=64m", "kubefly-test-run"]);
    }

    public static RuntimeBaseMount OnDisk(string directory) => new(["--bind", directory]);

    public void Dispose()
    {
        if (_mounted)
        {
            var umount = ProgramRunner.Run("umount", [RuntimeDirectory.Base]);
            Assert.True(umount.ExitCode == 0, umount.ToString());
        }

        if (_createdBase)
        {
            Directory.Delete(RuntimeDirectory.Base);
        }
    }
}
