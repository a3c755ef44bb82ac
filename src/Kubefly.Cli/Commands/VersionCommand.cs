using System.CommandLine;
using System.Reflection;
using System.Text.Json;

namespace Kubefly.Cli.Commands;

/// <summary>`kubefly version`: rkt's lines first (scripts parse "rkt Version:"), then what kubefly adds.</summary>
internal static class VersionCommand
{
    /// <summary>What this build can do, for scripts and fleet inventories (`version --format=json`).</summary>
    public static readonly IReadOnlyList<string> Features =
    [
        "fly",
        "private-mount-namespace",
        "policy-verification:signedBy",
        "policy-verification:sigstoreSigned",
        "image-import",
        "doctor",
        "wrappers:kubelet,etcd,flannel",
    ];

    public static Command Create(GlobalOptionSet globals)
    {
        var format = new Option<string?>("--format") { Description = "json or json-pretty (default: rkt's text lines)" };
        var command = new Command("version", "print the kubefly version, the commit it was built from and its features") { format };
        command.SetAction(result =>
        {
            var json = result.GetValue(format);
            var report = Current();
            if (json is not null)
            {
                var context = json is "json" or "json-pretty" ? CliJsonContext.For(json)
                    : throw new UsageException($"invalid --format \"{json}\": expected json or json-pretty");
                Console.Out.WriteLine(JsonSerializer.Serialize(report, context.VersionReport));
                return 0;
            }

            Console.Out.WriteLine($"kubefly Version: {report.Version}");
            Console.Out.WriteLine($"Commit: {report.Commit}");
            Console.Out.WriteLine($"rkt Version: {report.RktVersion} (compatible subset)");
            Console.Out.WriteLine($"Features: {string.Join(" ", report.Features)}");
            return 0;
        });
        return command;
    }

    /// <summary>The version the build stamped: VERSION's semantic version, and the commit the SDK appends after '+'.</summary>
    public static VersionReport Current()
    {
        var informational = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return new VersionReport
        {
            Version = plus < 0 ? informational : informational[..plus],
            Commit = plus < 0 ? "unknown" : informational[(plus + 1)..],
            RktVersion = "1.30.0",
            Features = Features,
        };
    }
}
