using System.CommandLine;

namespace Kubefly.Cli;

/// <summary>Every System.CommandLine-parsed subcommand, one file each under Commands/.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> Create(GlobalOptionSet globals)
    {
        yield return Commands.VersionCommand.Create(globals);
        yield return Commands.StopCommand.Create(globals);
        yield return Commands.RmCommand.Create(globals);
        yield return Commands.ListCommand.Create(globals);
        yield return Commands.GcCommand.Create(globals);
        yield return Commands.FetchCommand.Create(globals);
        yield return Commands.ImageCommand.Create(globals);
        yield return Commands.TrustCommand.Create(globals);
        yield return Commands.DoctorCommand.Create(globals);
        yield return Commands.WrapperCommand.Create(globals);
        yield return Commands.UnitCommand.Create(globals);
    }
}
