using System.Text.Json;
using System.Text.RegularExpressions;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration;

/// <summary>
/// What a new operator finds without the source: help for every command (the hand-parsed ones and the
/// wrappers too), `help COMMAND`, the version with its commit, man pages that render, and completions
/// that complete from the store. All through the built binary and the files `make build` writes.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class HelpAndDocumentationTests : IDisposable
{
    private static readonly string[] Commands = ["enter", "fetch", "gc", "image", "list", "rm", "run", "status", "stop", "trust", "version", "doctor", "unit", "wrapper", "completion"];

    private readonly TempDirectory _state = new("kubefly-help");

    public void Dispose() => _state.Dispose();

    public static TheoryData<string> CommandNames() => [.. Commands];

    [Fact]
    public void Help_lists_every_command_including_run_status_and_enter()
    {
        var help = Succeeds("--help");
        var listed = help[help.IndexOf("Commands:", StringComparison.Ordinal)..];

        foreach (var command in Commands)
        {
            Assert.Matches(new Regex($"(?m)^  {command}\\b"), listed);
        }

        Assert.DoesNotContain("generate-man-pages", help, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Every_command_has_help_with_every_flag_described_and_help_command_says_the_same(string command)
    {
        var help = Succeeds(command, "--help");

        Assert.Contains($"kubefly {command}", help, StringComparison.Ordinal);
        foreach (Match option in OptionLine().Matches(help))
        {
            Assert.True(option.Groups["description"].Value.Trim().Length > 0, $"{command}: {option.Groups["name"].Value} has no description");
        }

        Assert.Equal(help, Succeeds("help", command));
    }

    [Theory]
    [InlineData("run", "--uuid-file-save", "kubefly run --uuid-file-save=/var/run/kubelet-pod.uuid")]
    [InlineData("status", "--wait-ready", "kubefly status --wait-ready=30s")]
    [InlineData("enter", "--app", "kubefly enter $(cat /var/run/kubelet-pod.uuid)")]
    public void The_hand_parsed_commands_describe_their_flags_with_an_example(string command, string flag, string example)
    {
        var help = Succeeds(command, "--help");

        Assert.Contains(flag, help, StringComparison.Ordinal);
        Assert.Contains(example, help, StringComparison.Ordinal);
        Assert.Equal(help, Succeeds(command, "-h"));
    }

    [Fact]
    public void Run_help_describes_every_flag_the_run_parser_knows()
    {
        var help = Succeeds("run", "--help");
        var parser = File.ReadAllText(Path.Combine(Checkout.Root, "src", "Kubefly.Cli", "RunArgumentsParser.cs"));

        foreach (Match flag in ParserFlag().Matches(parser))
        {
            var name = flag.Groups["name"].Value;
            Assert.True(help.Contains(name, StringComparison.Ordinal), $"run --help does not mention {name}, which the parser takes");
        }
    }

    [Theory]
    [InlineData("kubelet-wrapper", new[] { "KUBELET_IMAGE_TAG", "KUBELET_IMAGE_URL", "default docker://quay.io/coreos/hyperkube", "RKT_RUN_ARGS", "/var/lib/kubelet -> /var/lib/kubelet", "rshared", "KUBELET_VERSION" })]
    [InlineData("etcd-wrapper", new[] { "ETCD_IMAGE_TAG", "ETCD_USER", "ETCD_DATA_DIR", "required" })]
    [InlineData("flannel-wrapper", new[] { "FLANNEL_IMAGE_TAG", "RKT_RUN_ARGS" })]
    public void A_wrapper_alone_with_help_lists_its_variables_defaults_and_volumes(string wrapper, string[] mentions)
    {
        var result = KubeflyProcess.Run(["--help"], invokeAs: wrapper);

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var mention in mentions)
        {
            Assert.Contains(mention, result.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Version_prints_the_semantic_version_of_the_repository_and_the_commit()
    {
        var text = Succeeds("version");
        var json = JsonDocument.Parse(Succeeds("version", "--format=json")).RootElement;
        var version = File.ReadAllText(Path.Combine(Checkout.Root, "VERSION")).Trim();

        Assert.Contains($"kubefly Version: {version}\n", text, StringComparison.Ordinal);
        Assert.Matches(@"Commit: [0-9a-f]{40}\n", text);
        Assert.Contains("rkt Version: 1.30.0", text, StringComparison.Ordinal);
        Assert.Equal(version, json.GetProperty("version").GetString());
        Assert.Matches("^[0-9a-f]{40}$", json.GetProperty("commit").GetString());
        Assert.Contains("fly", json.GetProperty("features").EnumerateArray().Select(f => f.GetString()));
        Assert.Matches(@"^\d+\.\d+\.\d+", version);
    }

    [Theory]
    [InlineData("kubefly.1", "kubefly\\-run")]
    [InlineData("kubefly-run.1", "--uuid-file-save")]
    [InlineData("kubefly-image-import.1", "--name")]
    [InlineData("kubefly-status.1", "--wait-ready")]
    [InlineData("kubelet-wrapper.8", "KUBELET_IMAGE_TAG")]
    [InlineData("etcd-wrapper.8", "ETCD_DATA_DIR")]
    public void The_man_pages_make_build_wrote_render_without_warnings_but_line_breaks(string page, string mentions)
    {
        var path = Path.Combine(Checkout.Root, "artifacts", "man", page);
        Assert.True(File.Exists(path), $"{path}: make build writes the man pages");

        var rendered = ProgramRunner.Run("/usr/bin/groff", ["-man", "-Tutf8", "-ww", "-Wbreak", path]);

        Assert.True(rendered.ExitCode == 0 && rendered.StandardError.Length == 0, rendered.ToString());
        Assert.Contains(mentions.Replace("\\-", "-", StringComparison.Ordinal), StripOverstrike(rendered.StandardOutput), StringComparison.Ordinal);
    }

    [Fact]
    public void Bash_completion_completes_commands_flags_and_the_store_s_images()
    {
        var fetched = KubeflyProcess.Run(["--dir", _state.Path, "fetch", "--quiet", TestImages.Reference(TestImages.Busybox)]);
        Assert.True(fetched.ExitCode == 0, fetched.ToString());
        var script = _state.Combine("kubefly.bash");
        File.WriteAllText(script, Succeeds("completion", "bash"));

        Assert.Equal("run", Complete(script, "kubefly", "ru"));
        Assert.Contains("--uuid-file-save", Complete(script, "kubefly", "run", "--uuid"), StringComparison.Ordinal);
        Assert.Equal("import", Complete(script, "kubefly", "image", "imp"));
        Assert.Contains(TestImages.Reference(TestImages.Busybox), Complete(script, "kubefly", $"--dir={_state.Path}", "run", "oci:"), StringComparison.Ordinal);
        Assert.Contains("--insecure-options", Complete(script, "rkt", "fetch", "--ins"), StringComparison.Ordinal);
    }

    private string Complete(string script, params string[] words)
    {
        var quoted = string.Join(' ', words.Select(w => $"'{w}'"));
        var result = ProgramRunner.Run("/bin/bash", ["-c", $"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD={words.Length - 1}; _kubefly; printf '%s\\n' \"${{COMPREPLY[@]}}\""],
            new Dictionary<string, string?> { ["PATH"] = $"{Path.GetDirectoryName(KubeflyProcess.BinaryPath)}:{Environment.GetEnvironmentVariable("PATH")}" });
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.StandardOutput.Trim();
    }

    private static string Succeeds(params string[] arguments)
    {
        var result = KubeflyProcess.Run(arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.StandardOutput;
    }

    private static string StripOverstrike(string text) => Regex.Replace(text, ".\b", string.Empty);

    [GeneratedRegex(@"(?m)^  (?<name>--[a-z0-9-]+)[^\n]*?  (?<description>[^\n]*)$")]
    private static partial Regex OptionLine();

    [GeneratedRegex(@"case ""(?<name>--[a-z0-9-]+)""")]
    private static partial Regex ParserFlag();
}
