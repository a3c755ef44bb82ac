using System.CommandLine;
using Kubefly.Cli;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Cli;

/// <summary>
/// The global flags mean the same whether System.CommandLine tokenized them (fetch, list, image ...) or a
/// hand-parsed grammar did (run, enter, status): both go through GlobalOptions.With.
/// </summary>
public sealed class GlobalOptionsTests
{
    public static TheoryData<string[]> FlagSets() => new()
    {
        { ["--dir=/srv/kubefly"] },
        { ["--dir", "/srv/kubefly", "--insecure-options=image"] },
        { ["--insecure-options=image", "--insecure-options=http,tls"] },
        { ["--policy=/etc/kubefly/policy.json", "--debug"] },
        { ["--trust-keys-from-https=false", "--local-config=/etc/rkt"] },
        { ["--dir=relative/state"] },
        { ["--transient-pods"] },
        { ["--transient-pods=false", "--dir=/srv/kubefly"] },
    };

    [Theory]
    [MemberData(nameof(FlagSets))]
    public void Both_parsers_give_the_same_options(string[] flags)
    {
        Assert.Equal(ThroughSystemCommandLine(flags), ThroughTheHandParser(flags));
    }

    [Theory]
    [InlineData("--dir=", "--dir: the state directory must not be empty")]
    [InlineData("--insecure-options=bogus", "unknown --insecure-options value \"bogus\"")]
    [InlineData("--policy=", "--policy: name a policy file")]
    [InlineData("--debug=maybe", "invalid value \"maybe\" for --debug: expected true or false")]
    [InlineData("--transient-pods=sometimes", "invalid value \"sometimes\" for --transient-pods: expected true or false")]
    public void A_bad_value_is_refused_the_same_way_by_both(string flag, string message)
    {
        var byHand = Assert.ThrowsAny<KubeflyException>(() => ThroughTheHandParser([flag]));
        Assert.StartsWith(message, byHand.Message, StringComparison.Ordinal);

        // System.CommandLine refuses an empty value and a non-boolean itself (a usage error too); any value
        // it lets through meets the same check.
        var set = new GlobalOptionSet();
        var root = new RootCommand();
        set.AddTo(root);
        var result = root.Parse([flag]);
        if (result.Errors.Count == 0)
        {
            Assert.Equal(byHand.Message, Assert.ThrowsAny<KubeflyException>(() => set.Read(result)).Message);
        }
    }

    [Fact]
    public void A_relative_dir_is_made_absolute_once()
    {
        var options = new GlobalOptions().With("--dir", "state");

        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "state"), options.Dir);
    }

    [Fact]
    public void A_token_that_is_not_a_global_flag_is_left_to_the_command()
    {
        var index = 0;

        Assert.Null(new GlobalOptions().TryConsume(["--exec=/bin/sh"], ref index));
        Assert.Null(new GlobalOptions().TryConsume(["busybox"], ref index));
        Assert.Equal(0, index);
    }

    private static GlobalOptions ThroughTheHandParser(string[] flags)
    {
        var options = new GlobalOptions();
        for (var index = 0; index < flags.Length; index++)
        {
            options = options.TryConsume(flags, ref index) ?? throw new InvalidOperationException($"not a global flag: {flags[index]}");
        }

        return options;
    }

    private static GlobalOptions ThroughSystemCommandLine(string[] flags)
    {
        var set = new GlobalOptionSet();
        var root = new RootCommand();
        set.AddTo(root);
        var result = root.Parse(flags);
        Assert.Empty(result.Errors);
        return set.Read(result);
    }
}
