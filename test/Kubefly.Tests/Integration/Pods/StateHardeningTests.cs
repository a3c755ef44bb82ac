using System.Diagnostics;
using System.Globalization;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// Hostile local users, hostile state and racing commands against the pod side, each case named for
/// the defect it once was: a state dir made under umask 000, a relative --dir, stderr overwritten by
/// the app, uuid files that are directories, huge or full of escapes, leaked embryos and pins, image rm
/// racing run. Real binary, real pods.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StateHardeningTests : IDisposable
{
    private readonly TempDirectory dir = new("kubefly-state-it");
    private readonly string image = TestImages.Reference(TestImages.Busybox);

    private string State => dir.Combine("state");

    public void Dispose()
    {
        ProgramRunner.Run("/bin/chmod", ["-R", "u+rwX", dir.Path]);
        dir.Dispose();
    }

    [Fact]
    public void Run_notices_and_the_app_s_output_share_one_log_without_overwriting()
    {
        var log = dir.Combine("app.log");

        Shell($"{Kubefly} run --net=host {image} --exec=/bin/sh -- -c 'echo from-app' > {log} 2>&1");

        Assert.Equal("run: --net=host ignored: fly pods always use the host's network\nfrom-app\n", File.ReadAllText(log));
    }

    [Fact]
    public void Two_runs_appending_to_one_log_keep_every_line_in_order()
    {
        var log = dir.Combine("app.log");

        Shell($"for i in 1 2; do {Kubefly} run --net=host {image} --exec=/bin/sh -- -c \"echo app-$i\" >> {log} 2>&1; done");

        Assert.Equal("run: --net=host ignored: fly pods always use the host's network\napp-1\nrun: --net=host ignored: fly pods always use the host's network\napp-2\n", File.ReadAllText(log));
    }

    [Fact]
    public void A_notice_and_the_app_s_standard_error_both_reach_a_file_opened_without_append()
    {
        var log = dir.Combine("errors.log");

        Shell($"{Kubefly} run --net=host {image} --exec=/bin/sh -- -c 'echo to-stderr >&2' 2> {log}");

        Assert.Equal("run: --net=host ignored: fly pods always use the host's network\nto-stderr\n", File.ReadAllText(log));
    }

    [Theory]
    [InlineData("rel")]
    [InlineData("./x/../rel")]
    [InlineData("env:rel")]
    public void A_relative_state_dir_works_for_every_command(string spelling)
    {
        var cwd = dir.Combine("cwd");
        Directory.CreateDirectory(Path.Combine(cwd, "x"));
        var (flag, environment) = spelling.StartsWith("env:", StringComparison.Ordinal)
            ? (string.Empty, $"KUBEFLY_DIR={spelling[4..]} ")
            : ($"--dir={spelling} ", string.Empty);
        var uuidFile = dir.Combine("pod.uuid");

        var output = Shell($"""
            cd {cwd}
            {environment}{KubeflyProcess.BinaryPath} {flag}run --insecure-options=image --uuid-file-save={uuidFile} {image} --exec=/bin/sh -- -c 'echo ran'
            {environment}{KubeflyProcess.BinaryPath} {flag}status --uuid-file={uuidFile} | head -n 1
            {environment}{KubeflyProcess.BinaryPath} {flag}rm --uuid-file={uuidFile}
            """);

        Assert.Equal($"ran\nstate=exited\n\"{File.ReadAllText(uuidFile)}\"\n", output);
        Assert.True(Directory.Exists(Path.Combine(cwd, "rel", "pods", "exited-garbage")));
        Assert.DoesNotContain(Directory.EnumerateDirectories(Path.Combine(cwd, "rel", "pods"), "*", SearchOption.AllDirectories), d => Path.GetFileName(d).Length == 36);
    }

    /// <summary>The reported escalation: a state dir created under umask 000 came out world-writable.</summary>
    [Fact]
    public void A_state_dir_made_under_umask_000_is_writable_by_root_alone_and_the_app_keeps_its_umask()
    {
        var output = Shell($"umask 000; {Kubefly} run --insecure-options=image {image} --exec=/bin/sh -- -c umask");

        Assert.Equal("0000\n", output);
        foreach (var (path, mode) in new[] { (State, "755"), (Path.Combine(State, "images"), "700"), (Path.Combine(State, "pods"), "750"), (Path.Combine(State, "pods", "run"), "750") })
        {
            Assert.Equal(mode, Mode(path));
        }

        Assert.Empty(Shell($"find {State} -perm -o+w ! -type l ! -path '*/images/layers/*' ! -path '*/overlay/*'"));
        var moved = ProgramRunner.Run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/mv", Path.Combine(State, "images"), Path.Combine(State, "planted")]);
        Assert.NotEqual(0, moved.ExitCode);
        Assert.True(Directory.Exists(Path.Combine(State, "images")));
    }

    [Theory]
    [InlineData("", "chmod 0777", "it is writable by group or others (mode 0777)")]
    [InlineData("images", "chmod 0770", "it is writable by group or others (mode 0770)")]
    [InlineData("pods", "chown 65534", "it is owned by uid 65534, not by uid 0")]
    [InlineData("pods/run", "symlink", "it is a symbolic link")]
    public void A_state_dir_others_can_write_to_is_refused_with_the_fix(string inside, string change, string problem)
    {
        Shell($"{Kubefly} run --insecure-options=image {image} --exec=/bin/true");
        var path = inside.Length == 0 ? State : Path.Combine(State, inside);
        if (change == "symlink")
        {
            Shell($"mv {path} {path}.real && ln -s {path}.real {path}");
        }
        else
        {
            Shell($"{change} {path}");
        }

        var run = KubeflyProcess.Run([$"--dir={State}", "run", "--insecure-options=image", image, "--exec=/bin/true"]);
        var list = KubeflyProcess.Run([$"--dir={State}", inside == "images" ? "image" : "list", .. inside == "images" ? new[] { "list" } : []]);

        foreach (var result in new[] { run, list })
        {
            Assert.Equal(254, result.ExitCode);
            Assert.Contains($"refusing to use state directory {path}: {problem}", result.StandardError, StringComparison.Ordinal);
            Assert.Contains($"chmod go-w {path}", result.StandardError, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("stop", 1)]
    [InlineData("status", 1)]
    [InlineData("rm", 254)]
    public void A_directory_as_uuid_file_is_unreadable_with_the_contract_s_exit_code(string command, int exitCode)
    {
        var result = KubeflyProcess.Run([$"--dir={State}", command, $"--uuid-file={dir.Path}"]);

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains($"unable to resolve UUID from file: open {dir.Path}: is a directory", result.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stop", 1)]
    [InlineData("status", 1)]
    [InlineData("rm", 254)]
    public void A_huge_uuid_file_is_not_echoed(string command, int exitCode)
    {
        var file = dir.Combine("huge.uuid");
        using (var stream = File.Create(file))
        {
            stream.SetLength(50 << 20);
        }

        var result = KubeflyProcess.Run([$"--dir={State}", command, $"--uuid-file={file}"]);

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains("more than 256 bytes: not a pod UUID file", result.StandardError, StringComparison.Ordinal);
        Assert.True(result.StandardError.Length < 1000, $"{result.StandardError.Length} characters of error");
    }

    [Fact]
    public void Escape_sequences_in_a_uuid_file_never_reach_the_terminal()
    {
        var file = dir.Combine("escapes.uuid");
        File.WriteAllText(file, "\u001b]0;pwned\u0007\u001b[2J0f746094");

        foreach (var command in new[] { "stop", "status", "rm" })
        {
            var result = KubeflyProcess.Run([$"--dir={State}", command, $"--uuid-file={file}"]);

            Assert.NotEqual(0, result.ExitCode);
            Assert.DoesNotContain('\u001b', result.StandardError);
            Assert.DoesNotContain('\u0007', result.StandardError);
            Assert.Contains("not a pod UUID", result.StandardError, StringComparison.Ordinal);
        }
    }

    /// <summary>A run killed between embryo and prepare left pods/embryo/UUID, invisible and never collected.</summary>
    [Fact]
    public void Gc_collects_abandoned_embryos_and_keeps_young_ones()
    {
        Shell($"{Kubefly} gc");
        var old = Path.Combine(State, "pods", "embryo", "0f746094-3438-42bc-ab37-3cf85f132e60");
        var young = Path.Combine(State, "pods", "embryo", "1f746094-3438-42bc-ab37-3cf85f132e60");
        Shell($"mkdir -p {old}/rootfs {young} && touch -d '2 minutes ago' {old}");

        var gc = KubeflyProcess.Run([$"--dir={State}", "gc"]);

        Assert.Equal(0, gc.ExitCode);
        Assert.Contains("Garbage collecting abandoned embryo \"0f746094-3438-42bc-ab37-3cf85f132e60\"", gc.StandardOutput, StringComparison.Ordinal);
        Assert.False(Directory.Exists(old));
        Assert.True(Directory.Exists(young));
    }

    /// <summary>200 run/rm cycles left 200 pin files behind.</summary>
    [Fact]
    public void Pins_do_not_outlive_their_pods()
    {
        var uuidFile = dir.Combine("pod.uuid");
        Shell($"for i in 1 2 3 4 5; do {Kubefly} run --insecure-options=image --uuid-file-save={uuidFile} {image} --exec=/bin/true && {Kubefly} rm --uuid-file={uuidFile} >/dev/null; done");
        Assert.Empty(Pins());

        // A pin whose pod was deleted by other means, past the grace period: gc prunes it.
        Shell($"{Kubefly} run --insecure-options=image --uuid-file-save={uuidFile} {image} --exec=/bin/true");
        var uuid = File.ReadAllText(uuidFile);
        Shell($"rm -rf {State}/pods/run/{uuid}");
        var pin = Assert.Single(Pins());
        Shell($"touch -d '2 minutes ago' {pin}");
        Assert.Equal(0, KubeflyProcess.Run([$"--dir={State}", "gc"]).ExitCode);
        Assert.Empty(Pins());
        Assert.Equal(0, KubeflyProcess.Run([$"--dir={State}", "image", "rm", image]).ExitCode);
    }

    /// <summary>
    /// image rm racing run: three run loops (each pod removed right after) beside an rm-then-fetch loop. A
    /// run either works or says the image is not in the store; never a half-deleted rootfs.
    /// </summary>
    [Fact]
    public void Image_rm_racing_run_never_leaves_a_run_with_a_half_deleted_rootfs()
    {
        Shell($"{Kubefly} fetch --insecure-options=image {image} > /dev/null");
        var failures = dir.Combine("failures");
        Directory.CreateDirectory(failures);
        var loops = Enumerable.Range(0, 3).Select(i => Process.Start("/bin/bash", ["-c", $"""
            end=$((SECONDS + 8)); n=0
            while [ $SECONDS -lt $end ]; do
              n=$((n + 1))
              if ! {Kubefly} run --pull-policy=never --uuid-file-save={dir.Path}/u{i} {image} --exec=/bin/true 2> {failures}/{i}-$n; then :; else rm -f {failures}/{i}-$n; fi
              {Kubefly} rm --uuid-file={dir.Path}/u{i} > /dev/null 2>&1
            done
            echo $n > {dir.Path}/runs-{i}
            """])!).ToList();
        var remover = Process.Start("/bin/bash", ["-c", $"end=$((SECONDS + 8)); while [ $SECONDS -lt $end ]; do {Kubefly} image rm {image} > /dev/null 2>&1; {Kubefly} fetch --insecure-options=image {image} > /dev/null 2>&1; done"])!;

        foreach (var process in loops.Append(remover))
        {
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)));
            process.Dispose();
        }

        var runs = Enumerable.Range(0, 3).Sum(i => int.Parse(File.ReadAllText(dir.Combine($"runs-{i}")).Trim(), CultureInfo.InvariantCulture));
        Assert.True(runs > 3, $"only {runs} runs");
        foreach (var failure in Directory.EnumerateFiles(failures))
        {
            var text = File.ReadAllText(failure);
            Assert.True(text.Contains("is not in the store and --pull-policy=never forbids fetching it", StringComparison.Ordinal), $"{Path.GetFileName(failure)}: {text}");
        }
    }

    /// <summary>--debug was accepted and did nothing; a failure must print its stack trace with it, and only with it.</summary>
    [Theory]
    [InlineData("--debug", "run", true)]
    [InlineData("run", "--debug", true)]
    [InlineData("run", "--debug=false", false)]
    public void Debug_adds_the_stack_trace_to_a_failure_wherever_the_flag_stands(string first, string second, bool traced)
    {
        var result = KubeflyProcess.Run([$"--dir={State}", first, second, "--pull-policy=never", "docker://example.test/absent"]);

        Assert.Equal(254, result.ExitCode);
        Assert.StartsWith("run: image \"docker://example.test/absent\" is not in the store", result.StandardError, StringComparison.Ordinal);
        Assert.Equal(traced, result.StandardError.Contains("   at Kubefly.", StringComparison.Ordinal));
    }

    private string Kubefly => $"{KubeflyProcess.BinaryPath} --dir={State}";

    private IReadOnlyList<string> Pins() =>
        Directory.Exists(Path.Combine(State, "images", "pins")) ? Directory.EnumerateFiles(Path.Combine(State, "images", "pins"), "*", SearchOption.AllDirectories).ToList() : [];

    private static string Mode(string path) => ProgramRunner.Shell($"stat -c %a '{path}'").Trim();

    private static string Shell(string script) => ProgramRunner.Shell(script);
}
