using System.CommandLine;
using Kubefly.Cli.Documentation;

namespace Kubefly.Cli.Commands;

/// <summary>`kubefly completion bash|zsh`, and the hidden `generate-man-pages DIR` the build runs.</summary>
internal static class DocumentationCommands
{
    public static Command Completion()
    {
        var shell = new Argument<string>("SHELL") { Description = "bash or zsh" };
        var command = new Command("completion", "print a completion script for bash or zsh") { shell };
        command.SetAction(result =>
        {
            var root = (RootCommand)result.RootCommandResult.Command;
            Console.Out.Write(result.GetValue(shell) switch
            {
                "bash" => Completions.Bash(root),
                "zsh" => Completions.Zsh(root),
                var other => throw new UsageException($"no completion for shell \"{other}\": expected bash or zsh"),
            });
            return ExitCodes.Success;
        });
        return command;
    }

    public static Command GenerateManPages()
    {
        var directory = new Argument<string>("DIR") { Description = "where to write the pages" };
        var command = new Command("generate-man-pages", "write the man pages (run by make build)") { directory };
        command.Hidden = true;
        command.SetAction(result =>
        {
            var root = (RootCommand)result.RootCommandResult.Command;
            foreach (var page in ManPages.Write(root, result.GetValue(directory)!, VersionCommand.Current().Version))
            {
                Console.Out.WriteLine(page);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
