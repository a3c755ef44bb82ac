using System.CommandLine;
using Kubefly.Fly;
using Kubefly.Linux;
using Kubefly.Wrappers;

namespace Kubefly.Cli.Commands;

/// <summary>
/// kubelet-wrapper, etcd-wrapper, flannel-wrapper: started under those names (multi-call) or as
/// `kubefly wrapper NAME ARGS...`. Every argument after the name is the app's ("$@"), so this
/// grammar is parsed by hand; the System.CommandLine entry exists for help and for global flags
/// given before `wrapper`.
/// </summary>
internal static class WrapperCommand
{
    public const string Name = "wrapper";

    public static Command Create(GlobalOptionSet globals)
    {
        var name = new Argument<string>("name") { Description = "kubelet, etcd or flannel" };
        var command = new Command(Name, "run a CoreOS wrapper (kubelet-wrapper, etcd-wrapper, flannel-wrapper) as a drop-in replacement")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Arguments.Add(name);
        command.SetAction(result => RunNamed([result.GetValue(name)!, .. result.UnmatchedTokens]));
        return command;
    }

    /// <summary>`kubefly wrapper NAME ARGS...`.</summary>
    public static int RunNamed(IReadOnlyList<string> arguments)
    {
        var names = string.Join(", ", WrapperProfiles.All.Select(p => p.Name));
        if (arguments.Count == 0)
        {
            return EngineCommandLine.Fail("kubefly wrapper", new UsageException($"which wrapper? expected one of: {names}"));
        }

        if (arguments[0] is "--help" or "-h" or "-?")
        {
            return EngineCommandLine.Run(["wrapper", "--help"]);
        }

        if (WrapperProfiles.Find(arguments[0]) is not { } profile)
        {
            return EngineCommandLine.Fail("kubefly wrapper", new UsageException($"unknown wrapper \"{arguments[0]}\": expected one of: {names}"));
        }

        return Run(profile, arguments.Skip(1).ToList());
    }

    /// <summary>Runs the wrapper; returns only when it failed or when the in-process engine returned.</summary>
    public static int Run(WrapperProfile profile, IReadOnlyList<string> arguments)
    {
        // --help alone is the operator asking the wrapper; with any other argument it is the agent's flag.
        if (arguments is ["--help"] or ["-h"])
        {
            Console.Out.Write(WrapperHelp.Text(profile));
            return ExitCodes.Success;
        }

        // The raw fd 2 stream: plain write(2)s at the file's current offset (a FileStream would seek
        // on a log file), and none of Console's terminal set-up, which an exec would leave behind.
        using var diagnostics = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };
        try
        {
            var prepared = WrapperLauncher.Prepare(profile, ProcessEnvironment.Snapshot(), arguments, diagnostics);
            var argv = prepared.Invocation.Argv;
            if (prepared.HandOff.Kind == HandOffKind.InProcess)
            {
                foreach (var (variable, value) in prepared.Invocation.EnvironmentOverrides)
                {
                    Environment.SetEnvironmentVariable(variable, value);
                }

                Environment.SetEnvironmentVariable(InvocationName.OverrideVariable, null);
                return EngineCommandLine.Run([.. argv.Skip(1)]);
            }

            var environment = prepared.Environment
                .Where(pair => pair.Key != InvocationName.OverrideVariable)
                .Select(pair => $"{pair.Key}={pair.Value}")
                .ToList();
            FlyStage.ExecOnHost(prepared.HandOff.ExecutablePath!, argv, environment);
            return ExitCodes.Engine;
        }
        catch (WrapperConfigurationException e)
        {
            diagnostics.WriteLine(e.Message);
            return e.ExitCode;
        }
        catch (Exception e)
        {
            return EngineCommandLine.Fail(profile.ProgramName, e);
        }
    }
}
