using System.CommandLine;

namespace Kubefly.Cli;

/// <summary>
/// Every subcommand, one file each under Commands/: the System.CommandLine-parsed ones, and the
/// hand-parsed ones (run, status, enter) as descriptions for help, man pages and completion.
/// </summary>
internal static class CommandCatalog
{
    /// <summary>rkt's commands in rkt's (alphabetical) order, then kubefly's own.</summary>
    public static IEnumerable<Command> Create(GlobalOptionSet globals)
    {
        var handParsed = Commands.HandParsedCommands.Create().ToDictionary(c => c.Name, StringComparer.Ordinal);
        yield return handParsed["enter"];
        yield return Commands.FetchCommand.Create(globals);
        yield return Commands.GcCommand.Create(globals);
        yield return Commands.ImageCommand.Create(globals);
        yield return Commands.ListCommand.Create(globals);
        yield return Commands.RmCommand.Create(globals);
        yield return handParsed["run"];
        yield return handParsed["status"];
        yield return Commands.StopCommand.Create(globals);
        yield return Commands.TrustCommand.Create(globals);
        yield return Commands.VersionCommand.Create(globals);
        yield return Commands.AutoUpdateCommand.Create(globals);
        yield return Commands.DoctorCommand.Create(globals);
        yield return Commands.UnitCommand.Create(globals);
        yield return Commands.WrapperCommand.Create(globals);
        yield return Commands.DocumentationCommands.Completion();
        yield return Commands.DocumentationCommands.GenerateManPages();
    }
}
