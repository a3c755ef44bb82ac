using System.CommandLine;

namespace Kubefly.Cli.Commands;

internal static class VersionCommand
{
    public static Command Create(GlobalOptionSet globals)
    {
        var command = new Command("version", "print the kubefly version");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetName().Version;
            Console.Out.WriteLine($"kubefly Version: {version}");
            Console.Out.WriteLine("rkt Version: 1.30.0 (compatible subset)");
            Console.Out.WriteLine("Features: fly");
            return 0;
        });
        return command;
    }
}
