using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Integration.Cli;

/// <summary>
/// A first token whose last path component is the program's own name (`--dir=/var/lib/kubefly` as kubefly,
/// `--dir=/var/lib/rkt` as rkt, rkt's own default) was taken by System.CommandLine for the program itself,
/// so the flag vanished and its value became an unknown argument (exit 2). Found running the updater's
/// generated unit (`kubefly --dir=/var/lib/kubefly auto-update`).
/// </summary>
[Trait("Category", "Integration")]
public sealed class ProgramNamedValueTests : IDisposable
{
    private readonly TempDirectory _state = new("program-named");

    public void Dispose() => _state.Dispose();

    [Theory]
    [InlineData("kubefly", "kubefly")]
    [InlineData("rkt", "rkt")]
    public void A_state_directory_named_like_the_program_given_first_is_the_state_directory(string invokeAs, string directoryName)
    {
        var record = PlantCorruptRecord(directoryName);

        var result = KubeflyProcess.Run([$"--dir={_state.Combine(directoryName)}", "image", "list"], invokeAs: invokeAs);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"corrupt image record {record}", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_value_after_the_subcommand_or_as_a_token_of_its_own_is_the_state_directory_too()
    {
        var record = PlantCorruptRecord("kubefly");
        foreach (var arguments in new[] { new[] { "image", "list", $"--dir={_state.Combine("kubefly")}" }, ["--dir", _state.Combine("kubefly"), "image", "list"] })
        {
            var result = KubeflyProcess.Run(arguments);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains($"corrupt image record {record}", result.StandardError, StringComparison.Ordinal);
        }
    }

    /// <summary>A state directory whose store holds one unreadable record, which `image list` names: proof of which directory it read.</summary>
    private string PlantCorruptRecord(string directoryName)
    {
        var root = _state.Combine(directoryName);
        var records = Path.Combine(root, "images", "records");
        Directory.CreateDirectory(records);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(root, "images"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(records, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var record = Path.Combine(records, new string('a', 64) + ".json");
        File.WriteAllText(record, "{}");
        return record;
    }
}
