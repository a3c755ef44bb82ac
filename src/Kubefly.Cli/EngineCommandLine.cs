using System.CommandLine;
using System.CommandLine.Parsing;
using Kubefly.Oci;

namespace Kubefly.Cli;

/// <summary>The engine's command line (as `kubefly` or `rkt`).</summary>
public static class EngineCommandLine
{
    /// <summary>Commands whose grammar is positional (rkt's run: per-app flags after the image, `--`, `---`).</summary>
    private static readonly Dictionary<string, Func<GlobalOptions, IReadOnlyList<string>, int>> HandParsed = new(StringComparer.Ordinal)
    {
        ["run"] = Commands.RunCommand.Run,
        ["enter"] = Commands.EnterCommand.Run,
        ["status"] = Commands.StatusCommand.Run,
    };

    public static int Run(string[] args)
    {
        var index = 0;
        try
        {
            // Reads KUBEFLY_DIR and KUBEFLY_TRANSIENT_PODS, either of which may be refused.
            var globals = new GlobalOptions();

            // Global flags before the subcommand, so `rkt --insecure-options=image run ...` reaches run's parser.
            while (index < args.Length && globals.TryConsume(args, ref index) is { } updated)
            {
                globals = updated;
                index++;
            }

            if (index < args.Length && args[index] == "help")
            {
                // `kubefly help [COMMAND...]` is `kubefly [COMMAND...] --help`.
                return RunParsed([.. args[(index + 1)..], "--help"]);
            }

            if (index < args.Length && HandParsed.TryGetValue(args[index], out var handler))
            {
                var command = args[index];
                if (index + 1 < args.Length && args[index + 1] is "-h" or "--help" or "-?")
                {
                    return RunParsed([command, "--help"]);
                }

                return Guard(command, () => handler(globals, args[(index + 1)..]));
            }
        }
        catch (KubeflyException e)
        {
            // A global flag before the subcommand with a bad value (--dir=, --insecure-options=bogus), or a bad variable.
            return Fail("kubefly", e);
        }

        return RunParsed(args);
    }

    /// <summary>Runs an action, turning any failure into the message and exit code the contract gives.</summary>
    public static int Guard(string command, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e)
        {
            return Fail(command, e);
        }
    }

    /// <summary>Set once any parser saw --debug (global flags are parsed in more than one place).</summary>
    public static bool DebugRequested { get; set; }

    public static int Fail(string command, Exception e)
    {
        Console.Error.WriteLine($"{command}: {ExitCodes.Describe(e)}");
        if (DebugRequested || Environment.GetEnvironmentVariable("KUBEFLY_DEBUG") == "1")
        {
            Console.Error.WriteLine(e.ToString());
        }

        return ExitCodes.For(e);
    }

    private static int RunParsed(string[] args)
    {
        var options = new GlobalOptionSet();
        var root = new RootCommand("kubefly: run container images from systemd units, rkt-fly compatible");
        options.AddTo(root);
        foreach (var subcommand in CommandCatalog.Create(options))
        {
            root.Subcommands.Add(subcommand);
        }

        // System.CommandLine takes a first token whose file name is the program's own name for the program
        // itself, so `kubefly --dir=/var/lib/kubefly ...` (or `rkt --dir=/var/lib/rkt ...`) lost its first
        // flag: naming the program first leaves every user token to the grammar.
        var parsed = root.Parse([root.Name, .. args]);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                Console.Error.WriteLine($"kubefly: {error.Message}");
            }

            return ExitCodes.Usage;
        }

        var command = parsed.CommandResult.Command.Name;
        var helpRequested = parsed.Action is System.CommandLine.Help.HelpAction;
        var status = Guard(command, () => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
        if (helpRequested && Documentation.CommandDocs.Extended.TryGetValue(CommandPath(parsed.CommandResult), out var more))
        {
            Console.Out.Write($"\n{more.TrimEnd()}\n");
        }

        return status;
    }
    /// <summary>"image import" for `kubefly image import`; "" for the root.</summary>
    public static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? current = result; current is CommandResult { Command: not RootCommand } commandResult; current = commandResult.Parent)
        {
            names.Insert(0, commandResult.Command.Name);
        }

        return string.Join(' ', names);
    }
}

/// <summary>The global flags as System.CommandLine options, recursive so they work after the subcommand too.</summary>
public sealed class GlobalOptionSet
{
    public Option<string?> Dir { get; } = new("--dir") { Description = "kubefly state directory (default /var/lib/kubefly, or $KUBEFLY_DIR)", Recursive = true };

    public Option<string[]> Insecure { get; } = new("--insecure-options") { Description = "comma-separated: none,http,image,tls,pubkey,capabilities,paths,seccomp,all-fetch,all-run,all", Recursive = true, AllowMultipleArgumentsPerToken = false };

    public Option<string?> Policy { get; } = new("--policy") { Description = "trust policy file (containers-policy.json(5); default $KUBEFLY_POLICY, $HOME/.config/containers/policy.json, /etc/containers/policy.json)", Recursive = true };

    public Option<bool> Debug { get; } = new("--debug") { Description = "a failure also prints its stack trace (as KUBEFLY_DEBUG=1 does)", Recursive = true };

    public Option<bool> TrustKeysFromHttps { get; } = new("--trust-keys-from-https") { Description = "accepted for rkt compatibility", Recursive = true };

    public Option<bool> TransientPods { get; } = new("--transient-pods") { Description = "run makes its pod under /run, ended by the reboot (as KUBEFLY_TRANSIENT_PODS=true does)", Recursive = true };

    public Option<string?> LocalConfig { get; } = new("--local-config") { Description = "accepted for rkt compatibility", Recursive = true, Hidden = true };

    public Option<string?> SystemConfig { get; } = new("--system-config") { Description = "accepted for rkt compatibility", Recursive = true, Hidden = true };

    public Option<string?> UserConfig { get; } = new("--user-config") { Description = "accepted for rkt compatibility", Recursive = true, Hidden = true };

    public void AddTo(RootCommand root)
    {
        foreach (var option in new Option[] { Dir, Insecure, Policy, Debug, TrustKeysFromHttps, TransientPods, LocalConfig, SystemConfig, UserConfig })
        {
            root.Options.Add(option);
        }
    }

    /// <summary>The global flags System.CommandLine found, interpreted by <see cref="GlobalOptions.With"/>.</summary>
    public GlobalOptions Read(ParseResult result)
    {
        var globals = new GlobalOptions();
        if (result.GetValue(Dir) is { } dir)
        {
            globals = globals.With(Dir.Name, dir);
        }

        foreach (var list in result.GetValue(Insecure) ?? [])
        {
            globals = globals.With(Insecure.Name, list);
        }

        if (result.GetValue(Policy) is { } policy)
        {
            globals = globals.With(Policy.Name, policy);
        }

        if (result.GetResult(TransientPods) is not null)
        {
            globals = globals.With(TransientPods.Name, result.GetValue(TransientPods) ? "true" : "false");
        }

        return globals
            .With(Debug.Name, result.GetValue(Debug) ? "true" : "false")
            .With(TrustKeysFromHttps.Name, result.GetValue(TrustKeysFromHttps) ? "true" : "false");
    }
}
